//! False-positive regression: `lantern scan --fail-on low` on every file of the benign corpus
//! (`crates/lantern-models/tests/benign/`, written by real torch, scikit-learn, joblib, numpy and
//! onnx through `gen_benign_corpus.py`) must exit 0 with no finding above info and no warning.

use assert_cmd::Command;
use std::path::{Path, PathBuf};

mod common;
use common::json_report;

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../lantern-models/tests/benign")
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("benign corpus directory")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            files(&p, out);
        } else if p.file_name().and_then(|n| n.to_str()) != Some("MANIFEST.txt") {
            out.push(p);
        }
    }
}

/// Exit code and the findings/warnings of `lantern scan` on one file.
fn scan(path: &Path) -> (i32, serde_json::Value) {
    json_report(
        Command::cargo_bin("lantern")
            .expect("binary")
            .args([
                "scan",
                "--format",
                "json",
                "--no-progress",
                "--only",
                "models",
            ])
            .args(["--fail-on", "low"])
            .arg(path),
    )
}

#[test]
fn every_benign_file_is_clean_at_fail_on_low() {
    let mut all = Vec::new();
    files(&corpus(), &mut all);
    assert!(all.len() >= 35, "benign corpus has {} files", all.len());
    let mut flagged = Vec::new();
    for p in &all {
        let (code, v) = scan(p);
        let above_info: Vec<&serde_json::Value> = v["findings"]
            .as_array()
            .map(|a| a.iter().filter(|f| f["severity"] != "info").collect())
            .unwrap_or_default();
        let warnings = v["warnings"].as_array().map(Vec::len).unwrap_or(0);
        if code != 0 || !above_info.is_empty() || warnings > 0 {
            flagged.push(format!(
                "{} (exit {code}): {:?} warnings {}",
                p.display(),
                above_info
                    .iter()
                    .map(|f| format!("{} {} {}", f["rule_id"], f["severity"], f["detail"]))
                    .collect::<Vec<_>>(),
                v["warnings"]
            ));
        }
    }
    assert!(
        flagged.is_empty(),
        "{} of {} benign files flagged:\n{}",
        flagged.len(),
        all.len(),
        flagged.join("\n")
    );
}

#[test]
fn the_corpus_really_holds_the_formats_it_claims() {
    // A file that is not recognised at all would pass the test above trivially: these binary
    // files must be analysed as models (a binary file that is not a model is skipped, not
    // counted in `blobs`).
    for name in [
        "torch/state_dict.pt",
        "sklearn/pipeline.sav",
        "sklearn/pipeline.joblib.bz2",
        "numpy/default_rng.pkl",
        "numpy/seed_sequence.pkl",
    ] {
        let (code, v) = scan(&corpus().join(name));
        assert_eq!(code, 0, "{name}: {v}");
        assert!(
            v["stats"]["blobs"].as_u64().unwrap_or(0) >= 1,
            "{name} was not scanned as a model: {v}"
        );
    }
}

/// joblib's own test data (pickles of every joblib version since 0.8, compressed with zlib,
/// gzip, bz2, xz, lzma, legacy `ZF` `.npy.z` chunks and NDArrayWrapper companions), found in
/// the joblib package of `LANTERN_TEST_PYTHON`: data the detector was not written for.
#[test]
fn joblib_own_test_data_is_clean_at_fail_on_low() {
    let python = std::env::var("LANTERN_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let out = std::process::Command::new(&python)
        .args([
            "-c",
            "import joblib, os; print(os.path.join(os.path.dirname(joblib.__file__), 'test', 'data'))",
        ])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python} (set LANTERN_TEST_PYTHON): {e}"));
    assert!(out.status.success(), "joblib is not installed for {python}");
    let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    let (code, v) = scan(&dir);
    let above_info: Vec<&serde_json::Value> = v["findings"]
        .as_array()
        .map(|a| a.iter().filter(|f| f["severity"] != "info").collect())
        .unwrap_or_default();
    assert_eq!(code, 0, "{above_info:?}");
    assert!(above_info.is_empty(), "{above_info:?}");
    assert_eq!(v["warnings"], serde_json::json!([]), "{v}");
    assert!(
        v["stats"]["blobs"].as_u64().unwrap_or(0) >= 60,
        "{}",
        v["stats"]
    );
}
