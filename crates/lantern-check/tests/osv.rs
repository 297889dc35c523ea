//! OSV matching on the fixture database: range edge cases per ecosystem, withdrawn records,
//! malicious packages, unpinned declarations, zip exports and the index cache.

#![allow(clippy::unwrap_used)]

use lantern_check::osv::Database;
use lantern_check::subject::{Site, Subject, SubjectKind};
use lantern_check::{libraries, CheckId, Policy};
use lantern_core::Severity;
use std::io::Write;
use std::path::{Path, PathBuf};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/osv")
}

fn lib(ty: &str, name: &str, version: Option<&str>) -> Subject {
    Subject {
        kind: SubjectKind::Library,
        name: name.into(),
        purl_type: Some(ty.into()),
        publisher: None,
        version: version.map(str::to_string),
        constraint: version.is_none().then(|| ">=1".to_string()),
        purl: Some(format!("pkg:{ty}/{name}")),
        licenses: Vec::new(),
        sites: vec![Site {
            file: "requirements.txt".into(),
            line: Some(3),
        }],
        dev_only: false,
        local_path: None,
        format: None,
        properties: Vec::new(),
    }
}

/// (check id, advisory) of every finding for one library.
fn run(db: &Database, s: Subject) -> Vec<(CheckId, Option<String>, Severity)> {
    let (f, _) = libraries::check(&[&s], Some(db), &Policy::default()).unwrap();
    f.into_iter()
        .map(|f| (f.check, f.advisory, f.severity))
        .collect()
}

fn ids(db: &Database, ty: &str, name: &str, v: &str) -> Vec<String> {
    run(db, lib(ty, name, Some(v)))
        .into_iter()
        .filter_map(|(_, a, _)| a)
        .collect()
}

fn open() -> (Database, tempfile::TempDir) {
    let cache = tempfile::tempdir().unwrap();
    (
        Database::open(&fixture(), Some(cache.path())).unwrap(),
        cache,
    )
}

#[test]
fn pypi_ranges_epochs_prereleases_and_lists() {
    let (db, _c) = open();
    assert_eq!(ids(&db, "pypi", "torch", "2.5.1"), ["GHSA-53q9-r3pm-6pq6"]);
    assert!(ids(&db, "pypi", "torch", "2.6.0").is_empty());
    assert_eq!(
        ids(&db, "pypi", "torch", "2.6.0rc1"),
        ["GHSA-53q9-r3pm-6pq6"]
    );
    // Name normalisation (PEP 503) and epochs: 2.0 (epoch 0) < 1!1.0.
    assert_eq!(ids(&db, "pypi", "epoch.pkg", "2.0"), ["LANTERN-TEST-EPOCH"]);
    assert!(ids(&db, "pypi", "epoch-pkg", "1!1.0").is_empty());
    // Pre-releases: introduced 1.0, fixed 2.0.0rc2.
    assert_eq!(ids(&db, "pypi", "prepkg", "2.0.0rc1"), ["LANTERN-TEST-PRE"]);
    assert!(ids(&db, "pypi", "prepkg", "2.0.0").is_empty());
    assert!(ids(&db, "pypi", "prepkg", "0.9").is_empty());
    // last_affected is inclusive.
    assert_eq!(ids(&db, "pypi", "lastpkg", "1.5"), ["LANTERN-TEST-LAST"]);
    assert!(ids(&db, "pypi", "lastpkg", "1.5.post1").is_empty());
    // A yanked release listed only in `versions`, in PEP 440 spelling variants.
    assert_eq!(
        ids(&db, "pypi", "yankedpkg", "0.9.1"),
        ["LANTERN-TEST-YANKED"]
    );
    assert_eq!(
        ids(&db, "pypi", "yankedpkg", "0.9.1.0"),
        ["LANTERN-TEST-YANKED"]
    );
    assert!(ids(&db, "pypi", "yankedpkg", "0.9.2").is_empty());
}

#[test]
fn withdrawn_records_are_ignored_and_severity_comes_from_the_advisory() {
    let (db, _c) = open();
    let r = run(&db, lib("pypi", "requests", Some("2.31.0")));
    assert_eq!(
        r,
        [(
            CheckId::Vulnerable,
            Some("GHSA-9wx4-h78v-vm56".into()),
            Severity::Medium
        )]
    );
}

#[test]
fn semver_npm_and_go() {
    let (db, _c) = open();
    assert_eq!(
        ids(&db, "npm", "lodash", "4.17.20"),
        ["GHSA-35jh-r3h4-6jhm"]
    );
    assert!(ids(&db, "npm", "lodash", "4.17.21").is_empty());
    assert_eq!(
        ids(&db, "npm", "@scope/semverpkg", "1.0.0-beta.2"),
        ["LANTERN-TEST-SEMVER"]
    );
    assert!(ids(&db, "npm", "@scope/semverpkg", "1.0.0").is_empty());
    assert_eq!(
        ids(&db, "golang", "github.com/gin-gonic/gin", "v1.9.0"),
        ["GHSA-2c4m-59x9-fr2g"]
    );
}

#[test]
fn malicious_unpinned_and_unparseable() {
    let (db, _c) = open();
    let pinned = run(&db, lib("pypi", "transfomers", Some("4.40.0")));
    assert_eq!(pinned[0].0, CheckId::Malicious);
    assert_eq!(pinned[0].2, Severity::Critical);
    // Unpinned: malicious for every version still reported, plus "not checked: unpinned".
    let unpinned = run(&db, lib("pypi", "transfomers", None));
    let checks: Vec<CheckId> = unpinned.iter().map(|x| x.0).collect();
    assert_eq!(checks, [CheckId::Malicious, CheckId::Unpinned]);
    let torch = run(&db, lib("pypi", "torch", None));
    assert_eq!(
        torch.iter().map(|x| x.0).collect::<Vec<_>>(),
        [CheckId::Unpinned]
    );
    // A version that is not PEP 440 cannot be compared: reported, not passed.
    let odd = run(&db, lib("pypi", "torch", Some("latest-nightly")));
    assert_eq!(odd[0].0, CheckId::NotChecked);
    // No crates.io data in the fixture: not checked.
    let cargo = run(&db, lib("cargo", "serde", Some("1.0.0")));
    assert_eq!(cargo[0].0, CheckId::NotChecked);
}

fn zip_with(path: &Path, name: &str, body: &str) {
    let f = std::fs::File::create(path).unwrap();
    let mut z = zip::ZipWriter::new(f);
    z.start_file(name, zip::write::SimpleFileOptions::default())
        .unwrap();
    z.write_all(body.as_bytes()).unwrap();
    z.finish().unwrap();
}

#[test]
fn zip_exports_and_cache_invalidation() {
    let dir = tempfile::tempdir().unwrap();
    let eco = dir.path().join("crates.io");
    std::fs::create_dir_all(&eco).unwrap();
    let rec = r#"{"id":"RUSTSEC-2099-0001","summary":"test","affected":[{"package":{"ecosystem":"crates.io","name":"tokio"},"ranges":[{"type":"SEMVER","events":[{"introduced":"1.0.0"},{"fixed":"1.2.0"}]}]}]}"#;
    zip_with(&eco.join("all.zip"), "RUSTSEC-2099-0001.json", rec);
    std::fs::write(dir.path().join("broken.json"), "{not json").unwrap();
    let db = Database::open(dir.path(), None).unwrap();
    assert!(db.cache.1, "first open builds the index");
    assert_eq!(db.skipped().len(), 1, "the broken record is reported");
    assert_eq!(ids(&db, "cargo", "tokio", "1.1.0"), ["RUSTSEC-2099-0001"]);
    let again = Database::open(dir.path(), None).unwrap();
    assert!(!again.cache.1, "second open reuses the cache");
    // A changed export invalidates the cache.
    let rec2 = rec.replace("1.2.0", "1.1.0");
    std::thread::sleep(std::time::Duration::from_millis(20));
    zip_with(
        &eco.join("all.zip"),
        "RUSTSEC-2099-0001.json",
        &format!("{rec2}  "),
    );
    let third = Database::open(dir.path(), None).unwrap();
    assert!(third.cache.1, "changed data rebuilds the index");
    assert!(ids(&third, "cargo", "tokio", "1.1.0").is_empty());
}
