//! Offline OSV matching speed: a synthetic PyPI export of 20,000 records over 5,000 packages
//! (all.zip), index built once; each iteration opens the database from its cached index and
//! checks 500 pinned libraries. The issue's target is under 1 s per run.

#![allow(clippy::unwrap_used)]

use criterion::{criterion_group, criterion_main, Criterion};
use lantern_check::osv::Database;
use lantern_check::subject::{Site, Subject, SubjectKind};
use lantern_check::{libraries, Policy};
use std::io::Write;
use std::path::Path;

const PACKAGES: usize = 5_000;
const PER_PACKAGE: usize = 4;

fn export(dir: &Path) {
    std::fs::create_dir_all(dir.join("PyPI")).unwrap();
    let f = std::fs::File::create(dir.join("PyPI/all.zip")).unwrap();
    let mut z = zip::ZipWriter::new(f);
    let opts = zip::write::SimpleFileOptions::default();
    for p in 0..PACKAGES {
        for k in 0..PER_PACKAGE {
            let id = format!("PYSEC-2099-{p}-{k}");
            let versions: Vec<String> = (0..40).map(|i| format!("\"{k}.{i}.0\"")).collect();
            let rec = format!(
                r#"{{"id":"{id}","summary":"synthetic","affected":[{{"package":{{"ecosystem":"PyPI","name":"pkg-{p}"}},"ranges":[{{"type":"ECOSYSTEM","events":[{{"introduced":"{k}.0"}},{{"fixed":"{k}.5.1"}}]}}],"versions":[{}]}}],"database_specific":{{"severity":"HIGH"}}}}"#,
                versions.join(",")
            );
            z.start_file(format!("{id}.json"), opts).unwrap();
            z.write_all(rec.as_bytes()).unwrap();
        }
    }
    z.finish().unwrap();
}

fn subjects() -> Vec<Subject> {
    (0..500)
        .map(|i| Subject {
            kind: SubjectKind::Library,
            name: format!("PKG_{}", i * 7 % (PACKAGES + 500)),
            purl_type: Some("pypi".into()),
            publisher: None,
            version: Some(format!("{}.{}.0", i % 5, i % 9)),
            constraint: None,
            purl: None,
            licenses: Vec::new(),
            sites: vec![Site {
                file: "requirements.txt".into(),
                line: Some(i as u32 + 1),
            }],
            dev_only: false,
            local_path: None,
            format: None,
            properties: Vec::new(),
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    export(dir.path());
    let t = std::time::Instant::now();
    let db = Database::open(dir.path(), None).unwrap();
    eprintln!(
        "index built in {:.2?} ({} packages)",
        t.elapsed(),
        db.package_count()
    );
    let subjects = subjects();
    let refs: Vec<&Subject> = subjects.iter().collect();
    let policy = Policy::default();
    let mut g = c.benchmark_group("osv");
    g.sample_size(10);
    g.bench_function("open cached index + check 500 pinned libraries", |b| {
        b.iter(|| {
            let db = Database::open(dir.path(), None).unwrap();
            assert!(!db.cache.1);
            let (f, n) = libraries::check(&refs, Some(&db), &policy).unwrap();
            assert_eq!(n, 500);
            f.len()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
