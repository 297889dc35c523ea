//! Integration tests of `lantern check`: the real binary on `examples/check-project` (copied to a
//! temp dir) with the fixture OSV database, in every output format, with policy ignores and
//! their expiry, `--bom` input and `--bom-out` (validated with the CycloneDX Python library's
//! strict 1.6 validator from `$LANTERN_TEST_PYTHON`).

#![allow(clippy::unwrap_used)]

use assert_cmd::Command;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn osv_db() -> PathBuf {
    repo().join("crates/lantern-check/tests/fixtures/osv")
}

/// A copy of the example project in a temp dir.
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let src = repo().join("examples/check-project");
    for rel in ["requirements.txt", "lantern.toml", "src/app/model.py"] {
        let to = dir.path().join(rel);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(src.join(rel), to).unwrap();
    }
    dir
}

fn check(dir: &Path, extra: &[&str]) -> (i32, String, String) {
    let cache = dir.join(".osv-cache");
    let out = Command::cargo_bin("lantern")
        .unwrap()
        .arg("check")
        .arg(dir)
        .arg("--osv-db")
        .arg(osv_db())
        .arg("--osv-cache")
        .arg(&cache)
        .args(extra)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn json_findings(dir: &Path, extra: &[&str]) -> (i32, Value) {
    let mut args = vec!["--format", "json"];
    args.extend_from_slice(extra);
    let (code, out, err) = check(dir, &args);
    (
        code,
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out} {err}")),
    )
}

fn has(v: &Value, check: &str, component: &str, file: &str, line: Option<u64>, sev: &str) -> bool {
    v["findings"].as_array().unwrap().iter().any(|f| {
        f["check"] == check
            && f["component"] == component
            && f["file"] == file
            && (line.is_none() || f["line"].as_u64() == line)
            && f["severity"] == sev
    })
}

#[test]
fn example_project_findings_with_locations() {
    let dir = project();
    let (code, v) = json_findings(dir.path(), &[]);
    assert_eq!(code, 1, "{v}");
    let req = "requirements.txt";
    assert!(
        has(&v, "osv.vulnerable", "torch", req, Some(2), "critical"),
        "{v:#}"
    );
    assert!(has(
        &v,
        "osv.vulnerable",
        "transformers",
        req,
        Some(3),
        "high"
    ));
    assert!(has(
        &v,
        "osv.malicious",
        "transfomers",
        req,
        Some(7),
        "critical"
    ));
    assert!(has(
        &v,
        "provenance.typosquat",
        "transfomers",
        req,
        Some(7),
        "high"
    ));
    assert!(has(&v, "osv.unpinned", "numpy", req, Some(9), "medium"));
    let py = "src/app/model.py";
    assert!(has(&v, "code.trust-remote-code", py, py, Some(15), "high"));
    assert!(has(
        &v,
        "code.unpinned-revision",
        py,
        py,
        Some(14),
        "medium"
    ));
    assert!(has(&v, "code.pickle-load", py, py, Some(36), "high"));
    assert!(has(&v, "code.torch-load-unsafe", py, py, Some(40), "high"));
    // The pinned bert load and the pinned hf_hub_download are not reported.
    let lines: Vec<u64> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["check"] == "code.unpinned-revision")
        .filter_map(|f| f["line"].as_u64())
        .collect();
    assert_eq!(lines, [14, 15]);
    // requests' advisory is accepted by the policy, with its reason.
    let ignored = v["ignored"].as_array().unwrap();
    assert_eq!(ignored.len(), 1);
    assert_eq!(ignored[0]["finding"]["advisory"], "GHSA-9wx4-h78v-vm56");
    assert_eq!(
        ignored[0]["reason"],
        "we never disable certificate verification"
    );
}

#[test]
fn human_output_groups_by_component_and_fail_on_sets_the_exit_code() {
    let dir = project();
    let (code, out, _) = check(dir.path(), &[]);
    assert_eq!(code, 1);
    let torch = out
        .find("torch 2.5.1\n  pulled in by requirements.txt:2\n")
        .unwrap();
    assert!(out[torch..].contains("CRITICAL osv.vulnerable"), "{out}");
    assert!(out.contains("1 ignored by policy"), "{out}");
    // Nothing is critical+ once the critical checks are downgraded by the policy.
    let policy = dir.path().join("lantern.toml");
    let text = std::fs::read_to_string(&policy).unwrap().replace(
        "[policy.severity]\n",
        "[policy.severity]\n\"osv.malicious\" = \"high\"\n\"osv.vulnerable\" = \"high\"\n",
    );
    std::fs::write(&policy, text).unwrap();
    let (code, _, _) = check(dir.path(), &["--fail-on", "critical"]);
    assert_eq!(code, 0);
}

#[test]
fn expired_ignore_reports_again() {
    let dir = project();
    let policy = dir.path().join("lantern.toml");
    let text = std::fs::read_to_string(&policy)
        .unwrap()
        .replace("until = \"2099-01-01\"", "until = \"2020-01-01\"");
    std::fs::write(&policy, text).unwrap();
    let (_, v) = json_findings(dir.path(), &[]);
    assert!(
        has(
            &v,
            "osv.vulnerable",
            "requests",
            "requirements.txt",
            Some(4),
            "medium"
        ),
        "{v:#}"
    );
    assert!(v["findings"].as_array().unwrap().iter().any(|f| f["check"]
        == "policy.ignore-expired"
        && f["message"]
            .as_str()
            .unwrap()
            .contains("GHSA-9wx4-h78v-vm56")));
    assert!(v["ignored"].as_array().unwrap().is_empty());
}

#[test]
fn without_a_database_libraries_are_reported_not_checked() {
    let dir = project();
    let out = Command::cargo_bin("lantern")
        .unwrap()
        .args(["check", "--format", "json", "--fail-on", "medium"])
        .arg(dir.path())
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let f = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["check"] == "osv.not-checked")
        .unwrap();
    assert!(
        f["message"]
            .as_str()
            .unwrap()
            .contains("6 libraries not checked"),
        "{f}"
    );
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn invalid_policy_is_an_error() {
    let dir = project();
    std::fs::write(
        dir.path().join("lantern.toml"),
        "[policy]\ndeny_publisher = [\"x\"]\n",
    )
    .unwrap();
    let (code, _, err) = check(dir.path(), &[]);
    assert_eq!(code, 2);
    assert!(err.contains("deny_publisher"), "{err}");
}

#[test]
fn sarif_has_rules_results_and_locations() {
    let dir = project();
    let (_, out, _) = check(dir.path(), &["--format", "sarif"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["version"], "2.1.0");
    let results = v["runs"][0]["results"].as_array().unwrap();
    let r = results
        .iter()
        .find(|r| r["ruleId"] == "code.trust-remote-code")
        .unwrap();
    let phys = &r["locations"][0]["physicalLocation"];
    assert_eq!(phys["artifactLocation"]["uri"], "src/app/model.py");
    assert_eq!(phys["region"]["startLine"], 15);
    assert_eq!(r["level"], "error");
    let rules = v["runs"][0]["tool"]["driver"]["rules"].as_array().unwrap();
    assert!(rules.iter().any(|x| x["id"] == "osv.malicious"));
}

fn python() -> String {
    std::env::var("LANTERN_TEST_PYTHON").unwrap_or_else(|_| "python3".into())
}

#[test]
fn bom_in_and_bom_out_with_vex() {
    let dir = project();
    let bom_out = dir.path().join("out.cdx.json");
    let (code, _, err) = check(dir.path(), &["--bom-out", bom_out.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&bom_out).unwrap()).unwrap();
    let vulns = doc["vulnerabilities"].as_array().unwrap();
    let torch = vulns
        .iter()
        .find(|x| x["id"] == "GHSA-53q9-r3pm-6pq6")
        .unwrap();
    assert_eq!(torch["affects"][0]["ref"], "pkg:pypi/torch@2.5.1");
    assert_eq!(torch["analysis"]["state"], "exploitable");
    let requests = vulns
        .iter()
        .find(|x| x["id"] == "GHSA-9wx4-h78v-vm56")
        .unwrap();
    assert_eq!(requests["analysis"]["state"], "not_affected");
    let script = "import sys\nfrom cyclonedx.schema import SchemaVersion\nfrom cyclonedx.validation.json import JsonStrictValidator\nerr = JsonStrictValidator(SchemaVersion.V1_6).validate_str(open(sys.argv[1]).read())\nprint(err or '')\nsys.exit(3 if err else 0)\n";
    let out = std::process::Command::new(python())
        .args(["-c", script])
        .arg(&bom_out)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The written BOM as input: same library verdicts, no code checks without PATH.
    let out = Command::cargo_bin("lantern")
        .unwrap()
        .args(["check", "--format", "json", "--bom"])
        .arg(&bom_out)
        .arg("--osv-db")
        .arg(osv_db())
        .arg("--osv-cache")
        .arg(dir.path().join(".c2"))
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let checks: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["check"].as_str().unwrap())
        .collect();
    assert!(checks.contains(&"osv.malicious"), "{v:#}");
    assert!(checks.contains(&"osv.vulnerable"));
    assert!(!checks.iter().any(|c| c.starts_with("code.")));
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn provenance_policy_on_local_models_and_hub_publishers() {
    let dir = tempfile::tempdir().unwrap();
    // A pickle whose only global is posix.system: protocol 2, `cposix\nsystem\n` + args + REDUCE.
    let pickle = b"\x80\x02cposix\nsystem\nq\x00X\x07\x00\x00\x00echo hiq\x01\x85q\x02Rq\x03.";
    std::fs::write(dir.path().join("model.pkl"), pickle).unwrap();
    let rev = "0123456789abcdef0123456789abcdef01234567";
    std::fs::write(
        dir.path().join("app.py"),
        format!("from transformers import AutoModel\nAutoModel.from_pretrained(\"evil-corp/llm\", revision=\"{rev}\")\nAutoModel.from_pretrained(\"meta-lama/Llama-3-8B\", revision=\"{rev}\")\n"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("lantern.toml"),
        "[policy]\nrequire_scan = true\ndeny_formats = [\"pickle\"]\ndeny_publishers = [\"evil-corp\"]\nrequire_signature = true\n",
    )
    .unwrap();
    let (code, v) = json_findings(dir.path(), &[]);
    assert_eq!(code, 1);
    let find = |check: &str, comp: &str| {
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["check"] == check && f["component"] == comp)
            .cloned()
            .unwrap_or_else(|| panic!("no {check} on {comp}: {v:#}"))
    };
    let scan = find("model.scan", "model.pkl");
    assert!(
        scan["message"].as_str().unwrap().contains("system"),
        "{scan}"
    );
    assert_eq!(
        find("model.denied-format", "model.pkl")["severity"],
        "medium"
    );
    assert_eq!(find("model.unsigned", "model.pkl")["severity"], "medium");
    let denied = find("provenance.denied-publisher", "evil-corp/llm");
    assert_eq!(
        (denied["file"].as_str(), denied["line"].as_u64()),
        (Some("app.py"), Some(2))
    );
    let squat = find("provenance.typosquat", "meta-lama/Llama-3-8B");
    assert!(squat["message"].as_str().unwrap().contains("meta-llama"));
}
