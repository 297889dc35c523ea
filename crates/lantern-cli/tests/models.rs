//! `lantern scan` on model files: the fixture generator of lantern-models writes benign and
//! malicious checkpoints into a temp dir; the binary must report the payloads (exit 1) with the
//! reconstructed call and the member location, and stay quiet (exit 0) on benign checkpoints.

use assert_cmd::Command;
use std::path::Path;

mod common;
use common::json_report;

fn python() -> String {
    std::env::var("LANTERN_TEST_PYTHON").unwrap_or_else(|_| "python3".into())
}

fn fixtures() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../lantern-models/tests/gen_fixtures.py");
    let out = std::process::Command::new(python())
        .arg(&script)
        .arg(dir.path())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {} (set LANTERN_TEST_PYTHON): {e}", python()));
    assert!(
        out.status.success(),
        "fixture generator failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir
}

fn scan_json(dir: &Path, target: &str) -> (i32, serde_json::Value) {
    scan_json_with(dir, &[target])
}

/// `lantern scan --only models` in JSON with `args` (options, then targets) in `dir`.
fn scan_json_with(dir: &Path, args: &[&str]) -> (i32, serde_json::Value) {
    json_report(
        Command::cargo_bin("lantern")
            .expect("binary")
            .current_dir(dir)
            .args([
                "scan",
                "--format",
                "json",
                "--no-progress",
                "--only",
                "models",
            ])
            .args(args),
    )
}

fn findings(v: &serde_json::Value) -> Vec<&serde_json::Value> {
    v["findings"]
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default()
}

#[test]
fn malicious_torch_checkpoint_fails_the_scan_with_the_reconstructed_call() {
    let dir = fixtures();
    let (code, v) = scan_json(dir.path(), "malicious/torch_zip.pt");
    assert_eq!(code, 1, "{v}");
    let f = findings(&v)
        .into_iter()
        .find(|f| f["rule_id"] == "pickle.dangerous-call")
        .unwrap_or_else(|| panic!("no dangerous-call finding: {v}"));
    assert_eq!(f["severity"], "critical");
    assert_eq!(f["detail"], "os.system(\"id\")");
    let paths: Vec<&str> = f["locations"]
        .as_array()
        .expect("locations")
        .iter()
        .filter_map(|l| l["path"].as_str())
        .collect();
    assert!(
        paths
            .iter()
            .any(|p| p.ends_with("torch_zip.pt!archive/data.pkl")),
        "{paths:?}"
    );
}

#[test]
fn benign_checkpoints_pass() {
    let dir = fixtures();
    let (code, v) = scan_json(dir.path(), "benign");
    let above_info: Vec<_> = findings(&v)
        .into_iter()
        .filter(|f| f["severity"] != "info")
        .collect();
    assert!(above_info.is_empty(), "{above_info:?}");
    assert_eq!(code, 0, "{v}");
}

#[test]
fn every_malicious_family_is_reported_from_a_directory_scan() {
    let dir = fixtures();
    let (code, v) = scan_json(dir.path(), "malicious");
    assert_eq!(code, 1);
    let rules: std::collections::BTreeSet<&str> = findings(&v)
        .iter()
        .filter_map(|f| f["rule_id"].as_str())
        .collect();
    for want in [
        "pickle.dangerous-call",
        "pickle.unknown-global",
        "pickle.unresolved-global",
        "pickle.extension-code",
        "gguf.template-injection",
        "onnx.external-data-escape",
        "tf.py-func",
        "keras.lambda-layer",
        "safetensors.inconsistent",
    ] {
        assert!(rules.contains(want), "{want} missing from {rules:?}");
    }
}

#[test]
fn bad_crc_member_is_scanned_without_a_misleading_size_warning() {
    let dir = fixtures();
    let (code, v) = scan_json(dir.path(), "malicious/torch_zip_bad_crc.pt");
    assert_eq!(code, 1, "{v}");
    let hit = findings(&v)
        .into_iter()
        .any(|f| f["rule_id"] == "pickle.dangerous-call" && f["detail"] == "os.system(\"id\")");
    assert!(hit, "{v}");
    // What the walker could not check is a warning or a `scan.incomplete` finding: never the
    // misleading size message, and the checksum error itself is still reported.
    let mut notes: Vec<String> = v["warnings"]
        .as_array()
        .expect("warnings")
        .iter()
        .map(|w| w["message"].as_str().unwrap_or("").to_string())
        .collect();
    notes.extend(
        findings(&v)
            .into_iter()
            .filter(|f| f["rule_id"] == "scan.incomplete")
            .map(|f| f["detail"].as_str().unwrap_or("").to_string()),
    );
    let size_note = |m: &String| m.contains("max-file-size") || m.contains("max_file_size");
    assert!(!notes.iter().any(size_note), "{v}");
    assert!(notes.iter().any(|m| m.contains("checksum")), "{v}");
}

/// `os.system("id")` pickled with protocol 2.
const PAYLOAD: &[u8] = b"\x80\x02cos\nsystem\nX\x02\x00\x00\x00id\x85R.";

fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(data).expect("gzip");
    gz.finish().expect("gzip")
}

fn paths_of(v: &serde_json::Value, rule: &str) -> Vec<String> {
    findings(v)
        .into_iter()
        .filter(|f| f["rule_id"] == rule)
        .flat_map(|f| f["locations"].as_array().cloned().unwrap_or_default())
        .filter_map(|l| l["path"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn a_gzipped_pickle_is_reported_once_at_its_member() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("model.pkl.gz"), gzip(PAYLOAD)).expect("write");
    let (code, v) = scan_json(dir.path(), "model.pkl.gz");
    assert_eq!(code, 1, "{v}");
    assert_eq!(
        paths_of(&v, "pickle.dangerous-call"),
        vec!["model.pkl.gz!model.pkl".to_string()],
        "{v}"
    );
    // Without archive expansion the stream itself is scanned (joblib.load reads it as is).
    let (code, v) = scan_json_with(dir.path(), &["--no-archives", "model.pkl.gz"]);
    assert_eq!(code, 1, "{v}");
    assert_eq!(
        paths_of(&v, "pickle.dangerous-call"),
        vec!["model.pkl.gz".to_string()],
        "{v}"
    );
}

/// MARK then POP: CPython's unpicklers drop the mark and run what follows, so the file must be
/// recognised as a pickle and its call reported, whatever its name.
#[test]
fn a_pickle_behind_mark_pop_is_still_analysed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut data = b"(0".to_vec();
    data.extend_from_slice(b"cos\nsystem\n(S'id'\ntR.");
    std::fs::write(dir.path().join("weights.bin"), &data).expect("write");
    let (code, v) = scan_json(dir.path(), "weights.bin");
    assert_eq!(code, 1, "{v}");
    assert_eq!(
        paths_of(&v, "pickle.dangerous-call"),
        vec!["weights.bin".to_string()],
        "{v}"
    );
}

/// An `.npz` whose float member is larger than `--max-file-size`: the walker hands the models
/// analyser only the member's head, which is a full check for numbers (no `scan.incomplete`,
/// exit 0), while an object member's pickle is still found by the scan of the whole file.
#[test]
fn a_large_numeric_npz_member_is_not_reported_as_unchecked() {
    let dir = tempfile::tempdir().expect("temp dir");
    let script = "import os, sys, numpy as np\n\
        class P:\n    def __reduce__(self): return (os.system, ('id',))\n\
        np.savez(sys.argv[1] + '/clean.npz', w=np.arange(400000, dtype=np.float32))\n\
        np.savez(sys.argv[1] + '/bad.npz', w=np.arange(400000, dtype=np.float32),\n\
                 o=np.array([P()], dtype=object))\n";
    let out = std::process::Command::new(python())
        .args(["-c", script])
        .arg(dir.path())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {} (set LANTERN_TEST_PYTHON): {e}", python()));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let scan = |name: &str| scan_json_with(dir.path(), &["--max-file-size", "100000", name]);
    let (code, v) = scan("clean.npz");
    assert_eq!(code, 0, "{v}");
    assert!(findings(&v).is_empty(), "{v}");
    let (code, v) = scan("bad.npz");
    assert_eq!(code, 1, "{v}");
    assert!(
        findings(&v)
            .iter()
            .any(|f| f["rule_id"] == "numpy.object-array"),
        "{v}"
    );
}
