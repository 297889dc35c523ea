//! Runs the fixture generator (`gen_fixtures.py`, stdlib only) into a temp dir and checks that
//! every malicious sample is caught at the expected severity and rule, and no benign one is
//! reported above info.

use lantern_core::{Location, Severity};
use lantern_models::{scan_bytes, scan_path, Policy};
use std::path::{Path, PathBuf};
use std::process::Command;

fn python() -> String {
    std::env::var("LANTERN_TEST_PYTHON").unwrap_or_else(|_| "python3".into())
}

fn generate() -> (tempfile::TempDir, Vec<serde_json::Value>) {
    generate_with("tests/gen_fixtures.py")
}

fn generate_with(script: &str) -> (tempfile::TempDir, Vec<serde_json::Value>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join(script);
    let out = Command::new(python())
        .arg(&script)
        .arg(dir.path())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {} (set LANTERN_TEST_PYTHON): {e}", python()));
    assert!(
        out.status.success(),
        "fixture generator failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let manifest = std::fs::read_to_string(dir.path().join("manifest.json")).expect("manifest");
    let entries: Vec<serde_json::Value> = serde_json::from_str(&manifest).expect("manifest json");
    (dir, entries)
}

fn expected(e: &serde_json::Value) -> Option<Severity> {
    match e["expect"].as_str().unwrap_or("") {
        "clean" => None,
        s => Some(s.parse().expect("severity in manifest")),
    }
}

#[test]
fn every_fixture_has_the_expected_outcome() {
    let (dir, entries) = generate();
    assert!(
        entries.len() > 60,
        "generator wrote {} fixtures",
        entries.len()
    );
    check_all(dir.path(), &entries);
}

/// Files written by numpy, joblib and h5py themselves (`.ci/requirements-models.txt`).
#[test]
fn real_library_fixtures_have_the_expected_outcome() {
    let (dir, entries) = generate_with("tests/gen_real_fixtures.py");
    assert!(
        entries.len() >= 14,
        "generator wrote {} fixtures",
        entries.len()
    );
    check_all(dir.path(), &entries);
}

fn check_all(root: &Path, entries: &[serde_json::Value]) {
    let mut failures = Vec::new();
    for e in entries {
        let file = e["file"].as_str().expect("file");
        let path: PathBuf = root.join(file);
        // Both entry points must agree: on disk with seeks, and in memory.
        let data = std::fs::read(&path).expect("read fixture");
        for (how, rep) in [
            (
                "scan_path",
                scan_path(&path, &Location::path(file), &Policy::default()),
            ),
            (
                "scan_bytes",
                scan_bytes(&data, &Location::path(file), &Policy::default()),
            ),
        ] {
            let max = rep.findings.iter().map(|f| f.severity).max();
            let want = expected(e);
            let summary: Vec<String> = rep
                .findings
                .iter()
                .map(|f| format!("{} {} {:?}", f.severity, f.rule_id, f.detail))
                .collect();
            match want {
                None => {
                    if max.is_some_and(|m| m > Severity::Info) {
                        failures.push(format!("{how} {file}: expected clean, got {summary:?}"));
                    }
                }
                Some(sev) => {
                    if max != Some(sev) {
                        failures.push(format!(
                            "{how} {file}: expected max {sev}, got {max:?}: {summary:?}"
                        ));
                        continue;
                    }
                    if let Some(rule) = e["rule"].as_str() {
                        let hit = rep
                            .findings
                            .iter()
                            .find(|f| f.rule_id == rule && f.severity == sev);
                        match hit {
                            None => failures
                                .push(format!("{how} {file}: no {rule} at {sev}: {summary:?}")),
                            Some(_) => {
                                if let Some(d) = e["detail"].as_str() {
                                    let ok = rep.findings.iter().any(|f| {
                                        f.rule_id == rule
                                            && f.detail.as_deref().is_some_and(|x| x.contains(d))
                                    });
                                    if !ok {
                                        failures.push(format!(
                                            "{how} {file}: no detail containing {d:?}: {summary:?}"
                                        ));
                                    }
                                }
                            }
                        }
                    }
                    // Every finding names the file (or a member inside it).
                    for f in &rep.findings {
                        assert!(f.locations[0].path.starts_with(file), "{:?}", f.locations);
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn member_locations_name_the_pickle_inside_the_zip() {
    let (dir, _) = generate();
    let file = "malicious/torch_zip.pt";
    let rep = scan_path(
        &dir.path().join(file),
        &Location::path(file),
        &Policy::default(),
    );
    let f = rep
        .findings
        .iter()
        .find(|f| f.rule_id == "pickle.dangerous-call")
        .expect("finding");
    assert_eq!(
        f.locations[0].path,
        "malicious/torch_zip.pt!archive/data.pkl"
    );
    assert!(f.locations[0].offset.is_some());
    assert_eq!(f.properties["family"], "process");
}

#[test]
fn user_allowlist_silences_a_known_custom_class() {
    let (dir, _) = generate();
    let file = "malicious/unknown_global.pkl";
    let policy = Policy {
        extra_allowed_globals: vec!["mymodels.net.build".into()],
    };
    let rep = scan_path(&dir.path().join(file), &Location::path(file), &policy);
    assert!(rep.findings.is_empty(), "{:?}", rep.findings);
}
