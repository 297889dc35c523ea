//! End-to-end tests of `lantern scan` on fixtures built here: git history, npm tarballs with
//! source maps, wheels, notebooks, nested archives, zip bombs, stdin, SARIF, baselines.
#![allow(clippy::unwrap_used)]

use assert_cmd::Command;
use serde_json::Value;
use std::io::Write;
use std::path::Path;

mod common;
use common::github_token;

fn lantern() -> Command {
    let mut c = Command::cargo_bin("lantern").unwrap();
    c.env("NO_COLOR", "1");
    c
}

fn scan_json(args: &[&str], dir: &Path) -> (i32, Value) {
    common::scan_json_in(lantern(), args, dir)
}

fn findings_with<'a>(v: &'a Value, rule_prefix: &str) -> Vec<&'a Value> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule_id"].as_str().unwrap().starts_with(rule_prefix))
        .collect()
}

fn all_paths(v: &Value) -> Vec<String> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| f["locations"].as_array().unwrap().iter())
        .map(|l| l["path"].as_str().unwrap().to_string())
        .collect()
}

fn git(dir: &Path, args: &[&str], date: &str) {
    let st = std::process::Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "Mallory Dev")
        .env("GIT_AUTHOR_EMAIL", "mallory@example.com")
        .env("GIT_COMMITTER_NAME", "Mallory Dev")
        .env("GIT_COMMITTER_EMAIL", "mallory@example.com")
        .env("GIT_AUTHOR_DATE", date)
        .env("GIT_COMMITTER_DATE", date)
        .status()
        .unwrap();
    assert!(st.success(), "git {args:?}");
}

#[test]
fn deleted_key_is_found_only_in_history() {
    let d = tempfile::tempdir().unwrap();
    let repo = d.path();
    git(repo, &["init", "-q", "-b", "main"], "2024-01-01T00:00:00Z");
    let tok = github_token(1);
    std::fs::write(repo.join("deploy.py"), format!("TOKEN = \"{tok}\"\n")).unwrap();
    git(repo, &["add", "."], "2024-01-02T10:00:00Z");
    git(
        repo,
        &["commit", "-q", "-m", "add deploy"],
        "2024-01-02T10:00:00Z",
    );
    std::fs::write(repo.join("deploy.py"), "TOKEN = os.environ['TOKEN']\n").unwrap();
    git(
        repo,
        &["commit", "-q", "-am", "remove key"],
        "2024-01-03T10:00:00Z",
    );
    let first = String::from_utf8(
        std::process::Command::new("git")
            .current_dir(repo)
            .args(["rev-list", "--max-parents=0", "HEAD"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .trim()
    .to_string();

    let (code, v) = scan_json(&["."], repo);
    assert_eq!(code, 0, "working tree is clean: {v}");
    assert!(findings_with(&v, "github").is_empty());

    let (code, v) = scan_json(&["--git", "."], repo);
    assert_eq!(code, 1, "{v}");
    let gh = findings_with(&v, "github");
    assert_eq!(gh.len(), 1, "{v}");
    assert_eq!(gh[0]["secret"], tok.as_str());
    let loc = &gh[0]["locations"][0];
    assert_eq!(loc["path"], "deploy.py");
    assert_eq!(loc["line"], 1);
    assert_eq!(loc["commit"]["id"], first.as_str());
    assert!(loc["commit"]["author"]
        .as_str()
        .unwrap()
        .contains("mallory@example.com"));
    assert!(loc["commit"]["date"]
        .as_str()
        .unwrap()
        .starts_with("2024-01-02"));
}

fn tgz(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut b = tar::Builder::new(enc);
    for (name, data) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, *data).unwrap();
    }
    b.into_inner().unwrap().finish().unwrap()
}

fn zip_bytes(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, data) in entries {
        w.start_file(
            *name,
            zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated),
        )
        .unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

#[test]
fn npm_tarball_source_map_with_sources_is_reported_and_its_sources_scanned() {
    let d = tempfile::tempdir().unwrap();
    let tok = github_token(2);
    let src = format!("export const t = \"{tok}\";\nexport function main() {{}}\n");
    let map = serde_json::json!({
        "version": 3, "file": "cli.js",
        "sources": ["../src/main.ts", "../src/util.ts"],
        "sourcesContent": [src, "export const x = 1;\n"],
        "mappings": "AAAA"
    })
    .to_string();
    let pkg = tgz(&[
        (
            "package/package.json",
            br#"{"name":"agent","version":"1.0.0"}"#,
        ),
        (
            "package/dist/cli.js",
            b"console.log(1);\n//# sourceMappingURL=cli.js.map\n",
        ),
        ("package/dist/cli.js.map", map.as_bytes()),
    ]);
    std::fs::write(d.path().join("agent-1.0.0.tgz"), pkg).unwrap();
    let (code, v) = scan_json(&["agent-1.0.0.tgz"], d.path());
    assert_eq!(code, 1);
    let sm = findings_with(&v, "leak.sourcemap-sources");
    assert_eq!(sm.len(), 1, "{v}");
    assert_eq!(
        sm[0]["locations"][0]["path"],
        "agent-1.0.0.tgz!package/dist/cli.js.map"
    );
    assert_eq!(sm[0]["severity"], "high");
    assert_eq!(sm[0]["properties"]["embedded_sources"], 2);
    let gh = findings_with(&v, "github");
    assert_eq!(gh.len(), 1, "{v}");
    // Found in the embedded source (with its own line numbers), as well as in the raw map JSON.
    let nested = gh[0]["locations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["path"] == "agent-1.0.0.tgz!package/dist/cli.js.map!../src/main.ts")
        .unwrap_or_else(|| panic!("no nested location in {v}"));
    assert_eq!(nested["line"], 1);
    assert_eq!(nested["column"], 19);
}

#[test]
fn wheel_with_env_file_and_nested_archive() {
    let d = tempfile::tempdir().unwrap();
    let tok = github_token(3);
    let inner = tgz(&[("package/config.js", format!("const k='{tok}'\n").as_bytes())]);
    let whl = zip_bytes(&[
        ("mypkg/__init__.py", b"VERSION = '1.0'\n"),
        ("mypkg/.env", b"OPENAI_API_KEY=abc123\nDEBUG=\n"),
        ("mypkg/vendor/inner.tgz", &inner),
    ]);
    std::fs::write(d.path().join("mypkg-1.0-py3-none-any.whl"), whl).unwrap();
    let (code, v) = scan_json(&["."], d.path());
    assert_eq!(code, 1);
    let env = findings_with(&v, "leak.env-file");
    assert_eq!(env.len(), 1, "{v}");
    assert_eq!(
        env[0]["locations"][0]["path"],
        "mypkg-1.0-py3-none-any.whl!mypkg/.env"
    );
    assert_eq!(env[0]["severity"], "high");
    let gh = findings_with(&v, "github");
    assert_eq!(
        gh[0]["locations"][0]["path"],
        "mypkg-1.0-py3-none-any.whl!mypkg/vendor/inner.tgz!package/config.js"
    );
}

#[test]
fn notebook_output_key_reports_cell() {
    let d = tempfile::tempdir().unwrap();
    let tok = github_token(4);
    let nb = serde_json::json!({
        "nbformat": 4, "nbformat_minor": 5, "metadata": {},
        "cells": [
            {"cell_type": "markdown", "metadata": {}, "source": ["# title"]},
            {"cell_type": "code", "metadata": {}, "execution_count": 1,
             "source": ["import os\n", "print(os.environ['GH'])"],
             "outputs": [{"output_type": "stream", "name": "stdout", "text": ["hello\n", format!("{tok}\n")]}]}
        ]
    });
    std::fs::write(d.path().join("explore.ipynb"), nb.to_string()).unwrap();
    let (code, v) = scan_json(&["explore.ipynb"], d.path());
    assert_eq!(code, 1);
    let gh = findings_with(&v, "github");
    assert_eq!(gh.len(), 1, "{v}");
    let loc = &gh[0]["locations"][0];
    assert_eq!(loc["cell"], 1);
    assert_eq!(loc["cell_part"], "output");
    assert_eq!(loc["line"], 2);
}

#[test]
fn zip_bomb_is_a_warning_and_the_scan_goes_on() {
    let d = tempfile::tempdir().unwrap();
    let zeros = vec![0u8; 300 << 20];
    let bomb = zip_bytes(&[("zeros.bin", &zeros)]);
    drop(zeros);
    std::fs::write(d.path().join("bomb.zip"), bomb).unwrap();
    let tok = github_token(5);
    std::fs::write(d.path().join("app.py"), format!("T='{tok}'\n")).unwrap();
    let (code, v) = scan_json(&["."], d.path());
    assert_eq!(code, 1, "{v}");
    assert_eq!(findings_with(&v, "github").len(), 1);
    // Declared larger than --max-file-size: only its (binary) head is decompressed, skipped like
    // any binary file; the bomb never expands. With the limit raised it trips the ratio check.
    assert!(findings_with(&v, "scan.incomplete").is_empty(), "{v}");
    let (code, v) = scan_json(&["--max-file-size", "400000000", "."], d.path());
    assert_eq!(code, 1, "{v}");
    let inc = findings_with(&v, "scan.incomplete");
    assert!(
        inc.iter()
            .any(|f| f["locations"][0]["path"] == "bomb.zip!zeros.bin"
                && f["detail"].as_str().unwrap().contains("zip bomb")),
        "{v}"
    );
}

#[test]
fn corrupt_archive_and_invalid_utf8_do_not_abort() {
    let d = tempfile::tempdir().unwrap();
    let mut z = zip_bytes(&[("a.txt", b"hello world hello world hello world")]);
    z.truncate(z.len() / 2);
    std::fs::write(d.path().join("broken.zip"), z).unwrap();
    let tok = github_token(6);
    let mut bytes = b"\xff\xfe\xfd garbage ".to_vec();
    bytes.extend_from_slice(tok.as_bytes());
    bytes.extend_from_slice(b" \xc3\x28\n");
    std::fs::write(d.path().join("weird.txt"), bytes).unwrap();
    let (code, v) = scan_json(&["."], d.path());
    assert_eq!(code, 1, "{v}");
    assert_eq!(findings_with(&v, "github").len(), 1);
}

#[test]
fn stdin_is_scanned() {
    let tok = github_token(7);
    let out = lantern()
        .args(["scan", "--format", "json", "-"])
        .write_stdin(format!("export GH={tok}\n"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let gh = findings_with(&v, "github");
    assert_eq!(gh[0]["locations"][0]["path"], "<stdin>");
    // Redacted by default.
    assert!(!String::from_utf8_lossy(&out.stdout).contains(&tok));
}

#[test]
fn sarif_output_validates_against_the_schema() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("a.py"), format!("T='{}'\n", github_token(8))).unwrap();
    let out = lantern()
        .current_dir(d.path())
        .args(["scan", "--format", "sarif", "."])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let schema: Value = serde_json::from_str(include_str!("data/sarif-2.1.0.schema.json")).unwrap();
    let validator = jsonschema::draft4::new(&schema).unwrap();
    let errors: Vec<String> = validator.iter_errors(&v).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(
        v["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"],
        1
    );
}

#[test]
fn baseline_survives_line_moves_and_reports_new_secrets() {
    let d = tempfile::tempdir().unwrap();
    let t1 = github_token(9);
    let t2 = github_token(10);
    std::fs::write(d.path().join("a.py"), format!("T='{t1}'\n")).unwrap();
    lantern()
        .current_dir(d.path())
        .args(["scan", "--write-baseline", "base.json", "a.py"])
        .assert()
        .code(0);
    std::fs::write(
        d.path().join("a.py"),
        format!("import os\n\n\nT='{t1}'\nU='{t2}'\n"),
    )
    .unwrap();
    let (code, v) = scan_json(&["--baseline", "base.json", "a.py"], d.path());
    assert_eq!(code, 1);
    let gh = findings_with(&v, "github");
    assert_eq!(gh.len(), 1, "{v}");
    assert_eq!(gh[0]["secret"], t2.as_str());
    assert_eq!(v["stats"]["suppressed"], 1);
}

#[test]
fn inline_allow_and_fail_on_threshold() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(
        d.path().join("a.py"),
        format!("T='{}'  # lantern:allow\n", github_token(11)),
    )
    .unwrap();
    let (code, v) = scan_json(&["a.py"], d.path());
    assert_eq!(code, 0, "{v}");
    assert!(findings_with(&v, "github").is_empty());
    // A medium finding does not fail a critical threshold.
    std::fs::write(d.path().join(".env"), "DEBUG=1\n").unwrap();
    let (code, v) = scan_json(&["--fail-on", "critical", "."], d.path());
    assert_eq!(findings_with(&v, "leak.env-file").len(), 1, "{v}");
    assert_eq!(code, 0);
}

#[test]
fn errors_exit_2_and_name_the_problem() {
    let d = tempfile::tempdir().unwrap();
    let out = lantern()
        .current_dir(d.path())
        .args(["scan", "does-not-exist"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does-not-exist"));
    std::fs::write(d.path().join("lantern.toml"), "[scan]\nnope = 1\n").unwrap();
    let out = lantern()
        .current_dir(d.path())
        .args(["scan", "."])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("lantern.toml") && err.contains("nope"),
        "{err}"
    );
    let out = lantern()
        .args(["scan", "--format", "xml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn custom_rules_from_lantern_toml_and_gitleaks_file() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(
        d.path().join("lantern.toml"),
        r#"
[[rules]]
id = "acme.token"
description = "Acme internal token"
regex = '''\b(acme_[a-z0-9]{32})\b'''
keywords = ["acme_"]
severity = "high"
examples = ["ACME=acme_0123456789abcdef0123456789abcdef"]
"#,
    )
    .unwrap();
    std::fs::write(
        d.path().join("gitleaks.toml"),
        r#"
title = "custom"
[[rules]]
id = "widget-key"
description = "Widget API key"
regex = '''widget[_-]?key\s*[:=]\s*['"]?(wk_[A-Za-z0-9]{24})'''
secretGroup = 1
keywords = ["widget"]
"#,
    )
    .unwrap();
    std::fs::write(
        d.path().join("app.cfg"),
        "token = acme_aaaabbbbccccddddeeeeffff00001111\nwidget_key = wk_AbCdEfGhIjKlMnOpQrStUvWx\n",
    )
    .unwrap();
    let (code, v) = scan_json(&["--rules", "gitleaks.toml", "app.cfg"], d.path());
    assert_eq!(code, 1);
    assert_eq!(findings_with(&v, "acme.token").len(), 1, "{v}");
    let w = findings_with(&v, "widget-key");
    assert_eq!(w.len(), 1, "{v}");
    assert_eq!(w[0]["secret"], "wk_AbCdEfGhIjKlMnOpQrStUvWx");
}

#[test]
fn gitignore_is_honoured_unless_no_ignore() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join(".gitignore"), "secrets/\n").unwrap();
    std::fs::create_dir(d.path().join("secrets")).unwrap();
    std::fs::write(
        d.path().join("secrets/k.txt"),
        format!("{}\n", github_token(12)),
    )
    .unwrap();
    let (code, _) = scan_json(&["."], d.path());
    assert_eq!(code, 0);
    let (code, v) = scan_json(&["--no-ignore", "."], d.path());
    assert_eq!(code, 1);
    assert!(all_paths(&v).contains(&"secrets/k.txt".to_string()), "{v}");
}

#[test]
fn bundled_example_finds_every_planted_problem() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/leaky-project");
    let (code, v) = scan_json(&["."], &root);
    assert_eq!(code, 1);
    for prefix in [
        "github",
        "openai",
        "huggingface",
        "anthropic",
        "aws",
        "leak.sourcemap-sources",
        "leak.env-file",
        "leak.codename",
        "leak.feature-flag",
        "pickle.dangerous-call",
    ] {
        assert!(
            !findings_with(&v, prefix).is_empty(),
            "no {prefix} finding in {v}"
        );
    }
    let anth = findings_with(&v, "anthropic");
    assert_eq!(anth[0]["locations"][0]["cell"], 1);
    let pickle = findings_with(&v, "pickle.dangerous-call");
    assert_eq!(pickle[0]["severity"], "critical");
    assert!(pickle[0]["detail"]
        .as_str()
        .unwrap()
        .contains("os.system(\"curl"));
}

/// A project full of things that look like secrets but are not (placeholders in docs, code
/// identifiers, attribute references, env lookups, a font in a data URI, example hosts) exits 0
/// at the default threshold; weak generic matches are reported at info and fail only when asked
/// (`--fail-on info`); a real token in the same tree fails the run.
#[test]
fn benign_project_passes_the_default_threshold() {
    let dir = tempfile::tempdir().unwrap();
    let w = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    w(
        "README.md",
        "```\ncurl https://api.crewai.com/v1/kickoff \\\n  -H 'Authorization: Bearer YOUR_CREW_TOKEN'\n```\n",
    );
    w(
        "src/client.py",
        "class Client:\n    def __init__(self, aws_session_token=None):\n        self.aws_session_token = aws_session_token\n        self.kwargs = dict(aws_session_token=self.aws_session_token)\n\n_type: SecretType = SecretType.TOKEN\nMONGO = f\"mongodb+srv://{user}:{mongo_atlas_password}@{cluster}/\"\n",
    );
    w(
        "src/__init__.py",
        "from .roboflow import (\n    RoboflowProviderConfig,\n    RoboflowProviderSpec,\n)\n",
    );
    w(
        "config.yaml",
        "model_list:\n  - litellm_params:\n      api_key: os.environ/OPENAI_API_KEY\n      password: os.environ/REDIS_PASSWORD\n",
    );
    w(
        "tests/test_x509.py",
        "certificate_secret = \"certificate-subject-never-visible\"\nURL = \"https://user:Zq3Lr8VbN1xY@gw.example/api\"\n",
    );
    let (code, v) = scan_json(&["."], dir.path());
    assert_eq!(code, 0, "{v:#}");
    let findings = v["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{v:#}");
    assert_eq!(findings[0]["rule_id"], "generic.secret");
    assert_eq!(findings[0]["severity"], "info");
    let (code, _) = scan_json(&["--fail-on", "info", "."], dir.path());
    assert_eq!(code, 1);
    w(
        "deploy.env",
        &format!("GITHUB_TOKEN={}\n", github_token(21)),
    );
    let (code, v) = scan_json(&["."], dir.path());
    assert_eq!(code, 1, "{v:#}");
}
