//! Integration tests of `lantern bom` and `lantern bom diff` on fixture projects built in a temp
//! dir. Every CycloneDX document the binary writes is checked with the official CycloneDX
//! Python library's strict 1.6 JSON validator, and compared with what `cyclonedx-py` (the
//! CycloneDX Python generator) finds on the same requirements file. Needs the packages of
//! `.ci/requirements-bom.txt` in `$LANTERN_TEST_PYTHON` (or `python3`).

#![allow(clippy::unwrap_used)]

use assert_cmd::Command;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn python() -> String {
    std::env::var("LANTERN_TEST_PYTHON").unwrap_or_else(|_| "python3".into())
}

/// Validate files with `cyclonedx.validation.json.JsonStrictValidator(SchemaVersion.V1_6)`, in
/// one Python process (its start-up dominates the cost).
fn assert_valid_cyclonedx(files: &[&Path]) {
    let script = "import sys\nfrom cyclonedx.schema import SchemaVersion\nfrom cyclonedx.validation.json import JsonStrictValidator\nv = JsonStrictValidator(SchemaVersion.V1_6)\nbad = 0\nfor f in sys.argv[1:]:\n    err = v.validate_str(open(f).read())\n    if err:\n        print(f, err)\n        bad += 1\nsys.exit(3 if bad else 0)\n";
    let out = std::process::Command::new(python())
        .args(["-c", script])
        .args(files)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {}: {e}; set LANTERN_TEST_PYTHON (see .ci/requirements-bom.txt)",
                python()
            )
        });
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("ModuleNotFoundError"),
        "cyclonedx-python-lib[json-validation] is missing from {} (install .ci/requirements-bom.txt): {stderr}",
        python()
    );
    assert!(
        out.status.success(),
        "not valid CycloneDX 1.6: {}{stderr}",
        String::from_utf8_lossy(&out.stdout)
    );
}

fn write(root: &Path, rel: &str, bytes: impl AsRef<[u8]>) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, bytes).unwrap();
}

fn safetensors() -> Vec<u8> {
    let header = br#"{"w":{"dtype":"F32","shape":[4,4],"data_offsets":[0,64]},"b":{"dtype":"F32","shape":[4],"data_offsets":[64,80]}}"#;
    let mut v = (header.len() as u64).to_le_bytes().to_vec();
    v.extend_from_slice(header);
    v.resize(v.len() + 80, 0);
    v
}

/// A pickle that calls `os.system("id")` on load (protocol 2).
fn malicious_pickle() -> Vec<u8> {
    let mut v = vec![0x80, 0x02];
    v.extend_from_slice(b"cposix\nsystem\nq\x00X\x02\x00\x00\x00idq\x01\x85q\x02Rq\x03.");
    v
}

fn project() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("finetune");
    write(
        &root,
        "requirements.txt",
        "torch==2.4.0\ntransformers==4.44.2\ndatasets==2.21.0\npeft==0.12.0\n",
    );
    write(&root, "train.py", "from transformers import AutoModelForCausalLM\nm = AutoModelForCausalLM.from_pretrained(\"Qwen/Qwen2.5-0.5B\")\nfrom datasets import load_dataset\nd = load_dataset(\"HuggingFaceH4/ultrachat_200k\")\n");
    write(&root, "out/adapter/README.md", "---\nlicense: mit\nbase_model: Qwen/Qwen2.5-0.5B\ndatasets: [HuggingFaceH4/ultrachat_200k]\npipeline_tag: text-generation\n---\n# Adapter\n");
    write(
        &root,
        "out/adapter/config.json",
        r#"{"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2"}"#,
    );
    write(&root, "out/adapter/model.safetensors", safetensors());
    write(&root, "checkpoints/step100.pkl", malicious_pickle());
    write(
        &root,
        "data/train.jsonl",
        "{\"prompt\": \"hi\", \"completion\": \"hello\"}\n",
    );
    write(
        &root,
        "web/package-lock.json",
        r#"{"name": "web", "lockfileVersion": 2, "packages": {"": {"dependencies": {"openai": "^4.52.0"}}, "node_modules/openai": {"version": "4.52.0"}, "node_modules/node-fetch": {"version": "2.7.0"}}}"#,
    );
    (tmp, root)
}

fn lantern() -> Command {
    let mut c = Command::cargo_bin("lantern").unwrap();
    c.env_remove("SOURCE_DATE_EPOCH");
    c
}

/// Run `lantern bom ROOT -o OUT EXTRA...` and parse the output (callers validate the files).
fn run_bom(root: &Path, out: &Path, extra: &[&str]) -> Value {
    let mut c = lantern();
    c.arg("bom").arg(root).arg("-o").arg(out).args(extra);
    c.assert().success();
    serde_json::from_str(&std::fs::read_to_string(out).unwrap()).unwrap()
}

fn component<'a>(doc: &'a Value, bom_ref: &str) -> &'a Value {
    doc["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["bom-ref"] == bom_ref)
        .unwrap_or_else(|| panic!("no component {bom_ref}"))
}

fn property<'a>(c: &'a Value, name: &str) -> Vec<&'a str> {
    c["properties"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["name"] == name)
        .filter_map(|p| p["value"].as_str())
        .collect()
}

#[test]
fn generates_a_valid_ml_bom() {
    let (tmp, root) = project();
    let out = tmp.path().join("bom.json");
    let doc = run_bom(&root, &out, &[]);
    assert_eq!(doc["specVersion"], "1.6");
    assert!(doc["metadata"]["timestamp"].is_string());
    let adapter = component(&doc, "model:out/adapter/");
    assert_eq!(adapter["type"], "machine-learning-model");
    assert_eq!(adapter["licenses"][0]["license"]["id"], "MIT");
    assert_eq!(property(adapter, "lantern:parameters"), ["20"]);
    assert_eq!(
        adapter["modelCard"]["modelParameters"]["task"],
        "text-generation"
    );
    let base = component(&doc, "pkg:huggingface/Qwen/Qwen2.5-0.5B");
    assert_eq!(
        base["evidence"]["occurrences"][0]["location"],
        "out/adapter/README.md"
    );
    let deps = doc["dependencies"].as_array().unwrap();
    let adapter_deps = deps
        .iter()
        .find(|d| d["ref"] == "model:out/adapter/")
        .unwrap();
    assert!(adapter_deps["dependsOn"]
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d == "pkg:huggingface/Qwen/Qwen2.5-0.5B"));
    assert_eq!(component(&doc, "data:data/train.jsonl")["type"], "data");
    assert_eq!(
        property(
            component(&doc, "pkg:npm/node-fetch@2.7.0"),
            "lantern:dependency"
        ),
        ["transitive"]
    );
    assert_valid_cyclonedx(&[&out]);
}

#[test]
fn deterministic_output_is_byte_identical_and_honours_source_date_epoch() {
    let (tmp, root) = project();
    let a = tmp.path().join("a.json");
    let b = tmp.path().join("b.json");
    run_bom(&root, &a, &["--deterministic"]);
    run_bom(&root, &b, &["--deterministic"]);
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    let c = tmp.path().join("c.json");
    let mut cmd = lantern();
    cmd.env("SOURCE_DATE_EPOCH", "1700000000")
        .args(["bom", "--deterministic", "-o"])
        .arg(&c)
        .arg(&root);
    cmd.assert().success();
    assert_valid_cyclonedx(&[&a, &c]);
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&c).unwrap()).unwrap();
    assert_eq!(doc["metadata"]["timestamp"], "2023-11-14T22:13:20Z");
}

#[test]
fn stdout_and_spdx() {
    let (_tmp, root) = project();
    let out = lantern()
        .arg("bom")
        .arg(&root)
        .arg("--deterministic")
        .assert()
        .success();
    let doc: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(doc["bomFormat"], "CycloneDX");
    let stdout_file = root.join("stdout.cdx.json");
    std::fs::write(&stdout_file, &out.get_output().stdout).unwrap();
    assert_valid_cyclonedx(&[&stdout_file]);
    let out = lantern()
        .arg("bom")
        .arg(&root)
        .args(["--format", "spdx-json", "--deterministic"])
        .assert()
        .success();
    let spdx: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(spdx["spdxVersion"], "SPDX-2.3");
    assert_eq!(spdx["creationInfo"]["created"], "1970-01-01T00:00:00Z");
    assert!(spdx["packages"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["name"] == "peft" && p["versionInfo"] == "0.12.0"));
}

#[test]
fn with_scan_records_model_findings() {
    let (tmp, root) = project();
    let out = tmp.path().join("scan.json");
    let doc = run_bom(&root, &out, &["--with-scan", "--deterministic"]);
    let pkl = component(&doc, "model:checkpoints/step100.pkl");
    assert_eq!(property(pkl, "lantern:format"), ["pickle"]);
    let n: usize = property(pkl, "lantern:scan:findings")[0].parse().unwrap();
    assert!(n >= 1, "{pkl:#}");
    assert_eq!(
        property(pkl, "lantern:scan:max-severity"),
        ["critical"],
        "{pkl:#}"
    );
    assert!(property(pkl, "lantern:scan:finding")
        .iter()
        .any(|f| f.contains("checkpoints/step100.pkl")));
    let adapter = component(&doc, "model:out/adapter/");
    assert_eq!(
        property(adapter, "lantern:scan:findings"),
        ["0"],
        "{adapter:#}"
    );
    // Data and libraries are not model-scanned.
    assert!(property(
        component(&doc, "data:data/train.jsonl"),
        "lantern:scan:findings"
    )
    .is_empty());
    assert_valid_cyclonedx(&[&out]);
}

#[test]
fn with_signatures_reports_absent_unverified_verified_and_tampered() {
    let (tmp, root) = project();
    let key = tmp.path().join("k");
    lantern()
        .args(["keygen", "--out"])
        .arg(&key)
        .assert()
        .success();
    let model = root.join("out/adapter");
    let sig = root.join("out/adapter.sig");
    lantern()
        .arg("sign")
        .arg(&model)
        .args(["--key"])
        .arg(key.with_extension("pem"))
        .arg("--signature")
        .arg(&sig)
        .assert()
        .success();
    let out = tmp.path().join("sig.json");
    let doc = run_bom(&root, &out, &["--with-signatures"]);
    assert_eq!(
        property(component(&doc, "model:out/adapter/"), "lantern:signature"),
        ["unverified"]
    );
    assert_eq!(
        property(
            component(&doc, "model:checkpoints/step100.pkl"),
            "lantern:signature"
        ),
        ["absent"]
    );

    let pubkey = key.with_extension("pub");
    let pubkey = pubkey.to_str().unwrap();
    let verified = tmp.path().join("verified.json");
    let doc = run_bom(
        &root,
        &verified,
        &["--with-signatures", "--trust-key", pubkey],
    );
    assert_eq!(
        property(component(&doc, "model:out/adapter/"), "lantern:signature"),
        ["verified"]
    );

    write(
        &root,
        "out/adapter/config.json",
        r#"{"architectures": ["Evil"], "model_type": "qwen2"}"#,
    );
    let doc = run_bom(&root, &out, &["--with-signatures", "--trust-key", pubkey]);
    let adapter = component(&doc, "model:out/adapter/");
    assert_eq!(property(adapter, "lantern:signature"), ["failed"]);
    assert!(
        property(adapter, "lantern:signature:detail")[0].contains("config.json"),
        "{adapter:#}"
    );
    assert_valid_cyclonedx(&[&out, &verified]);
}

#[test]
fn diff_reports_changes_with_exit_code() {
    let (tmp, root) = project();
    let old = tmp.path().join("old.json");
    let new = tmp.path().join("new.json");
    run_bom(&root, &old, &["--deterministic"]);
    write(
        &root,
        "requirements.txt",
        "torch==2.5.1\ntransformers==4.44.2\ndatasets==2.21.0\n",
    );
    write(
        &root,
        "data/train.jsonl",
        "{\"prompt\": \"hi\", \"completion\": \"poisoned\"}\n",
    );
    run_bom(&root, &new, &["--deterministic"]);
    assert_valid_cyclonedx(&[&old, &new]);

    let out = lantern()
        .args(["bom", "diff"])
        .arg(&old)
        .arg(&new)
        .assert()
        .code(1);
    let text = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(text.contains("- library peft 0.12.0"), "{text}");
    assert!(
        text.contains("~ library torch version 2.4.0 -> 2.5.1"),
        "{text}"
    );
    assert!(text.contains("~ data train.jsonl hash SHA-256:"), "{text}");
    assert!(text.ends_with("0 added, 1 removed, 2 changed\n"), "{text}");

    let out = lantern()
        .args(["bom", "diff", "--format", "json"])
        .arg(&old)
        .arg(&new)
        .assert()
        .code(1);
    let j: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(j["removed"][0]["key"], "pkg:pypi/peft");
    assert_eq!(j["changed"].as_array().unwrap().len(), 2);

    lantern()
        .args(["bom", "diff"])
        .arg(&new)
        .arg(&new)
        .assert()
        .code(0);
    let bad = tmp.path().join("bad.json");
    std::fs::write(&bad, "{\"spdxVersion\": \"SPDX-2.3\"}").unwrap();
    let out = lantern()
        .args(["bom", "diff"])
        .arg(&bad)
        .arg(&new)
        .assert()
        .code(2);
    assert!(String::from_utf8_lossy(&out.get_output().stderr).contains("bad.json"));
}

#[test]
fn malformed_lockfile_is_a_warning_not_an_error() {
    let (tmp, root) = project();
    write(&root, "web/package-lock.json", "{ not json");
    let out_file = tmp.path().join("w.json");
    let out = lantern()
        .arg("bom")
        .arg(&root)
        .arg("-o")
        .arg(&out_file)
        .assert()
        .success();
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(
        stderr.contains("warning: web/package-lock.json: invalid JSON"),
        "{stderr}"
    );
    assert_valid_cyclonedx(&[&out_file]);
    lantern()
        .args(["bom", "/nonexistent/lantern-bom-test"])
        .assert()
        .code(2);
}

/// Every library `cyclonedx-py requirements` finds is in Lantern's BOM, with the same purl;
/// Lantern also lists the models and datasets it does not.
#[test]
fn finds_everything_cyclonedx_py_finds() {
    let (tmp, root) = project();
    let peer = tmp.path().join("peer.json");
    let status = std::process::Command::new(python())
        .args([
            "-m",
            "cyclonedx_py",
            "requirements",
            "--sv",
            "1.6",
            "--of",
            "JSON",
            "-o",
        ])
        .arg(&peer)
        .arg(root.join("requirements.txt"))
        .status()
        .unwrap();
    assert!(
        status.success(),
        "cyclonedx-py failed (is cyclonedx-bom from .ci/requirements-bom.txt installed in {}?)",
        python()
    );
    let peer_doc: Value = serde_json::from_str(&std::fs::read_to_string(&peer).unwrap()).unwrap();
    let purls = |d: &Value| -> BTreeSet<String> {
        d["components"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["purl"].as_str().map(str::to_string))
            .collect()
    };
    let theirs = purls(&peer_doc);
    assert_eq!(theirs.len(), 4, "{theirs:?}");
    let ours_file = tmp.path().join("ours.json");
    let ours = run_bom(&root, &ours_file, &[]);
    let mine = purls(&ours);
    let missing: Vec<_> = theirs.difference(&mine).collect();
    assert!(missing.is_empty(), "lantern misses {missing:?}");
    let models = ours["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["type"] == "machine-learning-model")
        .count();
    assert!(
        models >= 3,
        "local adapter, pickle checkpoint and the Qwen reference"
    );
    assert_valid_cyclonedx(&[&ours_file, &peer]);
}

/// A library-shaped project (setup.py, an lm-eval task template, a hosted-model client, tests and
/// docstring examples): typing comes from the call or key, scope from where it is named, and the
/// document stays valid CycloneDX 1.6.
#[test]
fn types_and_scopes_components_by_where_they_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("lib");
    write(
        &root,
        "setup.py",
        "DEPS = [\"torch>=2.1\", \"numpy\"]\nsetup(name=\"lib\", install_requires=DEPS, extras_require={\"dev\": [\"pytest\"]})\n",
    );
    write(
        &root,
        "lib/tasks/gsm8k/_template_yaml",
        "dataset_path: openai/gsm8k\noutput_type: generate_until\n",
    );
    write(
        &root,
        "lib/app.py",
        "r = client.chat.completions.create(model=\"gpt-4o-mini\", messages=m)\nw = pipeline(\"automatic-speech-recognition\", model=\"openai/whisper-large-v2\")\ndef f():\n    \"\"\"\n    >>> AutoModel.from_pretrained(\"google-bert/bert-base-cased\")\n    \"\"\"\n",
    );
    write(
        &root,
        "tests/test_app.py",
        "m = AutoModel.from_pretrained(\"hf-internal-testing/tiny-random-gpt2\")\nu = AutoModel.from_pretrained(\"username/my-awesome-model\")\n",
    );
    let out = tmp.path().join("bom.cdx.json");
    let doc = run_bom(&root, &out, &["-q"]);
    assert_valid_cyclonedx(&[&out]);
    let gsm = component(
        &doc,
        "pkg:huggingface/openai/gsm8k?repository_url=https://huggingface.co/datasets",
    );
    assert_eq!(gsm["type"], "data");
    assert_eq!(
        property(gsm, "lantern:source"),
        ["lib/tasks/gsm8k/_template_yaml:1"]
    );
    let whisper = component(&doc, "pkg:huggingface/openai/whisper-large-v2");
    assert_eq!(whisper["type"], "machine-learning-model");
    assert_eq!(property(whisper, "lantern:scope"), ["runtime"]);
    let api = component(&doc, "api:openai/gpt-4o-mini");
    assert_eq!(property(api, "lantern:origin"), ["api"]);
    let bert = component(&doc, "pkg:huggingface/google-bert/bert-base-cased");
    assert_eq!(property(bert, "lantern:scope"), ["docs"]);
    assert_eq!(bert["scope"], "excluded");
    let tiny = component(&doc, "pkg:huggingface/hf-internal-testing/tiny-random-gpt2");
    assert_eq!(property(tiny, "lantern:scope"), ["test"]);
    assert_eq!(tiny["scope"], "excluded");
    let torch = component(&doc, "pkg:pypi/torch");
    assert_eq!(property(torch, "lantern:source"), ["setup.py:1"]);
    assert_eq!(property(torch, "lantern:version-constraint"), [">=2.1"]);
    assert_eq!(component(&doc, "pkg:pypi/pytest")["scope"], "optional");
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(!text.contains("my-awesome-model"), "placeholder listed");
    assert!(
        !text.contains("api:openai/gsm8k"),
        "dataset typed as API model"
    );
}
