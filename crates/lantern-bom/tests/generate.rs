//! End-to-end tests of BOM generation on fixture projects built in a temp dir: a Python
//! fine-tuning project (requirements with includes, pyproject, a Hugging Face model directory
//! with card, config and safetensors, a data folder), a Node app with package-lock, and serving
//! configs. Every document is validated against the vendored CycloneDX 1.6 JSON schema.

#![allow(clippy::unwrap_used)]

use lantern_bom::component::{Kind, License, Scope};
use lantern_bom::{cyclonedx, spdx, Stamp};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

const BOM_SCHEMA: &str = include_str!("schema/bom-1.6.schema.json");
const SPDX_SCHEMA: &str = include_str!("schema/spdx.schema.json");
const JSF_SCHEMA: &str = include_str!("schema/jsf-0.82.schema.json");

/// Validate a CycloneDX document against the official 1.6 schema, resolving its `$ref`s to the
/// vendored copies (no network).
fn assert_valid_cyclonedx(doc: &str) {
    let parse = |s: &str| serde_json::from_str::<Value>(s).unwrap();
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft7)
        .with_resource(
            "http://cyclonedx.org/schema/spdx.schema.json",
            jsonschema::Draft::Draft7.create_resource(parse(SPDX_SCHEMA)),
        )
        .with_resource(
            "http://cyclonedx.org/schema/jsf-0.82.schema.json",
            jsonschema::Draft::Draft7.create_resource(parse(JSF_SCHEMA)),
        )
        .build(&parse(BOM_SCHEMA))
        .unwrap();
    let instance = parse(doc);
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "BOM does not validate against CycloneDX 1.6:\n{}",
        errors.join("\n")
    );
}

fn write(root: &Path, rel: &str, bytes: impl AsRef<[u8]>) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, bytes).unwrap();
}

/// A safetensors file with the given tensors (name, dtype, shape), zero-filled.
fn safetensors(tensors: &[(&str, &str, &[u64])]) -> Vec<u8> {
    let mut header = serde_json::Map::new();
    header.insert("__metadata__".into(), serde_json::json!({"format": "pt"}));
    let mut off = 0u64;
    for (name, dtype, shape) in tensors {
        let size = match *dtype {
            "F32" => 4,
            "F16" | "BF16" => 2,
            _ => 1,
        };
        let n: u64 = shape.iter().product::<u64>() * size;
        header.insert(
            (*name).into(),
            serde_json::json!({"dtype": dtype, "shape": shape, "data_offsets": [off, off + n]}),
        );
        off += n;
    }
    let h = serde_json::to_vec(&header).unwrap();
    let mut out = (h.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&h);
    out.resize(out.len() + off as usize, 0);
    out
}

/// PNG signature plus a distinguishing byte: enough for extension-based image detection.
fn png(tag: u8) -> Vec<u8> {
    let mut v = b"\x89PNG\r\n\x1a\n".to_vec();
    v.push(tag);
    v
}

fn python_project(root: &Path) {
    write(root, "requirements.txt", "# training stack\n-r requirements-base.txt\ntransformers==4.44.2\npeft>=0.11  # adapters\naccelerate==0.33.0 \\\n    --hash=sha256:0123abcd0123abcd0123abcd0123abcd0123abcd0123abcd0123abcd0123abcd\n");
    write(
        root,
        "requirements-base.txt",
        "torch==2.4.0 ; platform_system != 'Darwin'\ndatasets==2.21.0\n",
    );
    write(
        root,
        "pyproject.toml",
        "[project]\nname = \"tuner\"\nversion = \"0.1.0\"\ndependencies = [\"transformers==4.44.2\", \"safetensors>=0.4\"]\n\n[dependency-groups]\ndev = [\"pytest>=8\"]\n",
    );
    write(
        root,
        "train.py",
        "from transformers import AutoModelForCausalLM, AutoTokenizer, pipeline\nfrom datasets import load_dataset\n\nbase = AutoModelForCausalLM.from_pretrained(\"meta-llama/Llama-3.1-8B\", revision=\"d04e592bb4f6aa9cfee91e2e20afa771667e1d4b\")\ntok = AutoTokenizer.from_pretrained(\"./models/tiny-llama\")\nds = load_dataset(\"tatsu-lab/alpaca\", split=\"train\")\nclf = pipeline(\"text-classification\", model=\"distilbert/distilbert-base-uncased-finetuned-sst-2-english\")\n",
    );
    write(
        root,
        "models/tiny-llama/README.md",
        "---\nlicense: apache-2.0\nbase_model: meta-llama/Llama-3.1-8B\ndatasets:\n- tatsu-lab/alpaca\npipeline_tag: text-generation\nlanguage:\n- en\nlibrary_name: transformers\n---\n\n# Tiny Llama SFT\n\nA test model.\n",
    );
    write(
        root,
        "models/tiny-llama/config.json",
        r#"{"architectures": ["LlamaForCausalLM"], "model_type": "llama", "torch_dtype": "float16", "hidden_size": 8}"#,
    );
    write(
        root,
        "models/tiny-llama/model.safetensors",
        safetensors(&[
            ("model.embed_tokens.weight", "F16", &[32, 8]),
            ("model.layers.0.mlp.up_proj.weight", "F16", &[16, 8]),
            ("lm_head.weight", "F32", &[32, 8]),
        ]),
    );
    write(
        root,
        "models/tiny-llama/tokenizer.json",
        r#"{"version": "1.0", "model": {"type": "BPE"}}"#,
    );
    write(
        root,
        "models/legacy.pt",
        b"PK\x03\x04legacy-torch-zip-checkpoint",
    );
    write(
        root,
        "data/train.csv",
        "text,label\ngood movie,1\nbad movie,0\n",
    );
    write(
        root,
        "data/eval.jsonl",
        "{\"text\": \"fine\", \"label\": 1}\n",
    );
    write(root, "data/images/cat/1.png", png(1));
    write(root, "data/images/cat/2.png", png(2));
    write(root, "data/images/dog/1.png", png(3));
    write(
        root,
        "serve/Modelfile",
        "FROM llama3.2:3b\nPARAMETER temperature 0.1\n",
    );
    write(
        root,
        "serve/vllm.yaml",
        "model: Qwen/Qwen2.5-7B-Instruct\ntensor-parallel-size: 1\n",
    );
}

fn node_project(root: &Path) {
    write(
        root,
        "web/package.json",
        r#"{"name": "web", "version": "1.0.0", "dependencies": {"@xenova/transformers": "^2.17.0"}, "devDependencies": {"jest": "^29.7.0"}}"#,
    );
    write(
        root,
        "web/package-lock.json",
        r#"{
  "name": "web",
  "version": "1.0.0",
  "lockfileVersion": 3,
  "requires": true,
  "packages": {
    "": {"name": "web", "version": "1.0.0", "dependencies": {"@xenova/transformers": "^2.17.0"}, "devDependencies": {"jest": "^29.7.0"}},
    "node_modules/@xenova/transformers": {"version": "2.17.2", "resolved": "https://registry.npmjs.org/@xenova/transformers/-/transformers-2.17.2.tgz", "integrity": "sha512-lZmHqzrVIkSvZdKZEx7IYY51TK0WDaC8eKLkTCvnlmBNrwkgPYDr/qsgaIn1rRkVxvmzWK+MAgMqDdTlu2bt9g==", "dependencies": {"onnxruntime-web": "1.14.0"}},
    "node_modules/onnxruntime-web": {"version": "1.14.0", "integrity": "sha512-Kcqf43UMfW8mCydVGcX9OMXI2VN17c0p6XvR7IPSZzBf/6lteBzXHvcEVWDPmCKuGombl997HgLqj91F11DzXw=="},
    "node_modules/jest": {"version": "29.7.0", "dev": true}
  }
}"#,
    );
    write(
        root,
        "web/app.js",
        "import { pipeline } from '@xenova/transformers';\nconst classifier = await pipeline('sentiment-analysis', 'Xenova/distilbert-base-uncased-finetuned-sst-2-english');\n",
    );
}

fn fixture() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("tuner");
    python_project(&root);
    node_project(&root);
    (tmp, root)
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[test]
fn python_and_node_project_inventory() {
    let (_tmp, root) = fixture();
    let (inv, warnings) = lantern_bom::generate(&root, None).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(inv.project, "tuner");

    // The model directory: card, config, safetensors parameter count, relations.
    let m = inv.get("model:models/tiny-llama/").unwrap();
    assert_eq!(m.kind, Kind::Model);
    assert_eq!(m.name, "tiny-llama");
    assert_eq!(m.licenses, [License::Spdx("Apache-2.0".into())]);
    assert_eq!(m.description.as_deref(), Some("Tiny Llama SFT"));
    assert_eq!(m.property("lantern:parameters"), Some("640"));
    assert_eq!(m.property("lantern:format"), Some("safetensors"));
    let card = m.model_card.as_ref().unwrap();
    assert_eq!(card.task.as_deref(), Some("text-generation"));
    assert_eq!(card.architecture_family.as_deref(), Some("llama"));
    assert_eq!(card.model_architecture.as_deref(), Some("LlamaForCausalLM"));
    let alpaca = "pkg:huggingface/tatsu-lab/alpaca?repository_url=https://huggingface.co/datasets";
    assert_eq!(card.datasets, [alpaca]);
    assert!(m
        .depends_on
        .contains(&"pkg:huggingface/meta-llama/Llama-3.1-8B".to_string()));
    assert!(m.depends_on.contains(&alpaca.to_string()));
    assert_eq!(m.children.len(), 4);
    let weights = m
        .children
        .iter()
        .find(|c| c.name == "model.safetensors")
        .unwrap();
    let bytes = std::fs::read(root.join("models/tiny-llama/model.safetensors")).unwrap();
    assert_eq!(weights.hashes[0].content, sha256(&bytes));

    // A lone checkpoint.
    let legacy = inv.get("model:models/legacy.pt").unwrap();
    assert_eq!(legacy.property("lantern:format"), Some("pytorch"));
    assert_eq!(
        legacy.hashes[0].content,
        sha256(b"PK\x03\x04legacy-torch-zip-checkpoint")
    );

    // Referenced models: code, configs, Modelfile; the pinned revision becomes the version.
    let pinned = inv
        .get("pkg:huggingface/meta-llama/Llama-3.1-8B@d04e592bb4f6aa9cfee91e2e20afa771667e1d4b")
        .unwrap();
    assert_eq!(pinned.occurrences[0].location, "train.py");
    assert_eq!(pinned.occurrences[0].line, Some(4));
    assert!(inv
        .get("pkg:huggingface/Qwen/Qwen2.5-7B-Instruct")
        .is_some());
    assert!(inv
        .get("pkg:huggingface/Xenova/distilbert-base-uncased-finetuned-sst-2-english")
        .is_some());
    let ollama = inv
        .get("pkg:generic/llama3.2@3b?repository_url=https://registry.ollama.ai")
        .unwrap();
    assert_eq!(ollama.occurrences[0].location, "serve/Modelfile");
    // The card's dataset and the code's load_dataset are the same component, seen twice.
    let ds = inv.get(alpaca).unwrap();
    assert_eq!(ds.kind, Kind::Data);
    let locs: Vec<&str> = ds.occurrences.iter().map(|o| o.location.as_str()).collect();
    assert_eq!(locs, ["models/tiny-llama/README.md", "train.py"]);
    // A local path in from_pretrained is not a hub reference.
    assert!(inv
        .components
        .iter()
        .all(|c| !c.bom_ref.contains("tiny-llama") || c.bom_ref.starts_with("model:")));

    // Datasets on disk.
    let csv = inv.get("data:data/train.csv").unwrap();
    assert_eq!(
        csv.hashes[0].content,
        sha256(b"text,label\ngood movie,1\nbad movie,0\n")
    );
    assert!(inv.get("data:data/eval.jsonl").is_some());
    let images = inv.get("data:data/images/").unwrap();
    assert_eq!(images.property("lantern:files"), Some("3"));
    assert_eq!(images.property("lantern:classes"), Some("cat,dog"));

    // Libraries: includes, pins, constraints, hashes, direct/transitive, dev scope.
    let torch = inv.get("pkg:pypi/torch@2.4.0").unwrap();
    assert_eq!(torch.property("lantern:dependency"), Some("direct"));
    assert_eq!(torch.occurrences[0].location, "requirements-base.txt");
    let peft = inv.get("pkg:pypi/peft").unwrap();
    assert_eq!(peft.property("lantern:version-constraint"), Some(">=0.11"));
    let acc = inv.get("pkg:pypi/accelerate@0.33.0").unwrap();
    assert_eq!(acc.hashes[0].content, "0123abcd".repeat(8));
    assert_eq!(acc.occurrences[0].line, Some(5));
    let tf = inv.get("pkg:pypi/transformers@4.44.2").unwrap();
    let tf_locs: Vec<&str> = tf.occurrences.iter().map(|o| o.location.as_str()).collect();
    assert_eq!(tf_locs, ["pyproject.toml", "requirements.txt"]);
    assert_eq!(
        inv.get("pkg:pypi/pytest").unwrap().scope,
        Some(Scope::Excluded)
    );
    let xenova = inv.get("pkg:npm/%40xenova/transformers@2.17.2").unwrap();
    assert_eq!(xenova.group.as_deref(), Some("@xenova"));
    assert_eq!(xenova.property("lantern:dependency"), Some("direct"));
    assert_eq!(xenova.hashes[0].alg, "SHA-512");
    let ort = inv.get("pkg:npm/onnxruntime-web@1.14.0").unwrap();
    assert_eq!(ort.property("lantern:dependency"), Some("transitive"));
    assert_eq!(
        inv.get("pkg:npm/jest@29.7.0").unwrap().scope,
        Some(Scope::Excluded)
    );
    assert_eq!(
        inv.package_edges["pkg:npm/%40xenova/transformers@2.17.2"],
        ["pkg:npm/onnxruntime-web@1.14.0"]
    );

    // The project depends on direct libraries, local models/data and references — not on
    // transitive packages.
    assert!(inv.direct.contains(&"pkg:pypi/torch@2.4.0".to_string()));
    assert!(inv.direct.contains(&"model:models/tiny-llama/".to_string()));
    assert!(!inv
        .direct
        .contains(&"pkg:npm/onnxruntime-web@1.14.0".to_string()));

    assert_eq!(
        inv.count(Kind::Library),
        10,
        "{:#?}",
        inv.components
            .iter()
            .filter(|c| c.kind == Kind::Library)
            .map(|c| &c.bom_ref)
            .collect::<Vec<_>>()
    );
}

#[test]
fn cyclonedx_output_validates_and_is_deterministic() {
    let (_tmp, root) = fixture();
    let (inv, _) = lantern_bom::generate(&root, None).unwrap();
    let a = cyclonedx::to_json(&inv, &Stamp::deterministic(None));
    let b = cyclonedx::to_json(
        &lantern_bom::generate(&root, None).unwrap().0,
        &Stamp::deterministic(None),
    );
    assert_eq!(a, b);
    assert_valid_cyclonedx(&a);
    let doc: Value = serde_json::from_str(&a).unwrap();
    assert!(doc["serialNumber"]
        .as_str()
        .unwrap()
        .starts_with("urn:uuid:"));
    assert!(doc["metadata"].get("timestamp").is_none());
    let model = doc["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["bom-ref"] == "model:models/tiny-llama/")
        .unwrap();
    assert_eq!(model["type"], "machine-learning-model");
    assert_eq!(
        model["modelCard"]["modelParameters"]["modelArchitecture"],
        "LlamaForCausalLM"
    );
    assert_eq!(model["licenses"][0]["license"]["id"], "Apache-2.0");
    insta::assert_snapshot!("tuner_cyclonedx", a);

    let fresh = cyclonedx::to_json(&inv, &Stamp::now());
    assert_valid_cyclonedx(&fresh);
    let f: Value = serde_json::from_str(&fresh).unwrap();
    assert_ne!(f["serialNumber"], doc["serialNumber"]);
    assert!(f["metadata"]["timestamp"].as_str().unwrap().ends_with('Z'));

    let epoch = cyclonedx::to_json(&inv, &Stamp::deterministic(Some(1_700_000_000)));
    assert_valid_cyclonedx(&epoch);
    let e: Value = serde_json::from_str(&epoch).unwrap();
    assert_eq!(e["metadata"]["timestamp"], "2023-11-14T22:13:20Z");
}

#[test]
fn spdx_output_lists_every_component() {
    let (_tmp, root) = fixture();
    let (inv, _) = lantern_bom::generate(&root, None).unwrap();
    let doc: Value =
        serde_json::from_str(&spdx::to_json(&inv, "2024-01-01T00:00:00Z", "fixed")).unwrap();
    assert_eq!(doc["spdxVersion"], "SPDX-2.3");
    let packages = doc["packages"].as_array().unwrap();
    assert_eq!(packages.len(), inv.components.len() + 1);
    let torch = packages.iter().find(|p| p["name"] == "torch").unwrap();
    assert_eq!(torch["versionInfo"], "2.4.0");
    assert_eq!(
        torch["externalRefs"][0]["referenceLocator"],
        "pkg:pypi/torch@2.4.0"
    );
    let model = packages.iter().find(|p| p["name"] == "tiny-llama").unwrap();
    assert_eq!(model["licenseDeclared"], "Apache-2.0");
    let rels = doc["relationships"].as_array().unwrap();
    assert!(rels.iter().any(|r| r["relationshipType"] == "DESCRIBES"));
    let model_id = model["SPDXID"].as_str().unwrap();
    assert!(rels
        .iter()
        .any(|r| r["spdxElementId"] == model_id && r["relationshipType"] == "DEPENDS_ON"));
}

#[test]
fn malformed_inputs_are_warnings() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("broken");
    write(
        &root,
        "web/package-lock.json",
        "{\"lockfileVersion\": 3, \"packages\": {",
    );
    write(&root, "uv.lock", "[[package]\nname=");
    write(&root, "m/model.safetensors", {
        let mut v = 1000u64.to_le_bytes().to_vec();
        v.extend_from_slice(b"{\"a\":1}");
        v
    });
    write(&root, "m/config.json", "not json");
    write(&root, "m/README.md", "---\nlicense: [oops\n---\n");
    write(&root, "requirements.txt", "-r missing.txt\nnumpy==2.0.0\n");
    let (inv, warnings) = lantern_bom::generate(&root, None).unwrap();
    let paths: Vec<&str> = warnings.iter().map(|w| w.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "m/README.md",
            "m/config.json",
            "m/model.safetensors",
            "requirements.txt",
            "uv.lock",
            "web/package-lock.json"
        ],
        "{warnings:#?}"
    );
    assert!(warnings.iter().any(|w| w.message.contains("missing.txt")));
    assert!(warnings
        .iter()
        .any(|w| w.path == "m/model.safetensors" && w.message.contains("exceeds the file size")));
    // Everything else is still there.
    assert!(inv.get("pkg:pypi/numpy@2.0.0").is_some());
    assert!(inv.get("model:m/").is_some());
    assert_valid_cyclonedx(&cyclonedx::to_json(&inv, &Stamp::deterministic(None)));
}

#[test]
fn other_lockfiles_in_one_tree() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("mono");
    write(
        &root,
        "svc/pyproject.toml",
        "[tool.poetry.dependencies]\npython = \"^3.11\"\nfastapi = \"^0.110\"\n",
    );
    write(
        &root,
        "svc/poetry.lock",
        "[[package]]\nname = \"fastapi\"\nversion = \"0.110.3\"\nfiles = [{file = \"fastapi-0.110.3.whl\", hash = \"sha256:fdfdfdfdfdfdfdfdfdfdfdfdfdfdfdfdfdfdfdfdfdfdfdfdfdfdfdfdfdfdfdfd\"}]\n\n[package.dependencies]\nstarlette = \">=0.37\"\n\n[[package]]\nname = \"starlette\"\nversion = \"0.37.2\"\n",
    );
    write(&root, "ui/pnpm-lock.yaml", "lockfileVersion: '6.0'\ndependencies:\n  openai:\n    specifier: ^4.0.0\n    version: 4.52.0\npackages:\n  /openai@4.52.0:\n    resolution: {integrity: sha512-AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+Pw==}\n    dependencies:\n      node-fetch: 2.7.0\n    dev: false\n  /node-fetch@2.7.0:\n    resolution: {integrity: sha512-AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+Pw==}\n    dev: false\n");
    write(&root, "rs/Cargo.lock", "version = 3\n\n[[package]]\nname = \"infer\"\nversion = \"0.1.0\"\ndependencies = [\"candle-core\"]\n\n[[package]]\nname = \"candle-core\"\nversion = \"0.6.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"\n");
    write(
        &root,
        "Pipfile.lock",
        r#"{"_meta": {"hash": {"sha256": "x"}}, "default": {"requests": {"version": "==2.32.3", "hashes": ["sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"]}}, "develop": {}}"#,
    );
    write(
        &root,
        "target-ci/CACHEDIR.TAG",
        "Signature: 8a477f597d28d172789f06886806bc55\n",
    );
    write(&root, "target-ci/debug/cached.csv", "a,b\n");
    write(&root, "py311/pyvenv.cfg", "home = /usr/bin\n");
    write(&root, "py311/lib/site/data.jsonl", "{}\n");
    let (inv, warnings) = lantern_bom::generate(&root, None).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(
        inv.count(Kind::Data),
        0,
        "cache and venv directories are skipped"
    );
    let fastapi = inv.get("pkg:pypi/fastapi@0.110.3").unwrap();
    assert_eq!(fastapi.property("lantern:dependency"), Some("direct"));
    assert_eq!(
        fastapi.property("lantern:version-constraint"),
        Some("^0.110")
    );
    assert_eq!(
        inv.get("pkg:pypi/starlette@0.37.2")
            .unwrap()
            .property("lantern:dependency"),
        Some("transitive")
    );
    assert_eq!(
        inv.package_edges["pkg:pypi/fastapi@0.110.3"],
        ["pkg:pypi/starlette@0.37.2"]
    );
    assert_eq!(
        inv.get("pkg:npm/openai@4.52.0")
            .unwrap()
            .property("lantern:dependency"),
        Some("direct")
    );
    assert_eq!(
        inv.get("pkg:npm/node-fetch@2.7.0")
            .unwrap()
            .property("lantern:dependency"),
        Some("transitive")
    );
    assert_eq!(
        inv.get("pkg:cargo/candle-core@0.6.0")
            .unwrap()
            .property("lantern:dependency"),
        Some("direct")
    );
    // Pipfile.lock alone cannot tell direct from transitive: no claim is made.
    assert_eq!(
        inv.get("pkg:pypi/requests@2.32.3")
            .unwrap()
            .property("lantern:dependency"),
        None
    );
    assert_valid_cyclonedx(&cyclonedx::to_json(&inv, &Stamp::deterministic(None)));
}

#[test]
fn diff_between_two_generations() {
    let (_tmp, root) = fixture();
    let (before, _) = lantern_bom::generate(&root, None).unwrap();
    let old = cyclonedx::to_json(&before, &Stamp::deterministic(None));
    write(
        &root,
        "requirements-base.txt",
        "torch==2.5.1\ndatasets==2.21.0\n",
    );
    write(
        &root,
        "data/train.csv",
        "text,label\ngood movie,1\nbad movie,1\n",
    );
    write(&root, "data/extra.parquet", b"PAR1\x15\x04extra");
    write(
        &root,
        "models/tiny-llama/README.md",
        "---\nlicense: llama3.1\nbase_model: meta-llama/Llama-3.1-8B\n---\n",
    );
    std::fs::remove_file(root.join("models/legacy.pt")).unwrap();
    let (after, _) = lantern_bom::generate(&root, None).unwrap();
    let new = cyclonedx::to_json(&after, &Stamp::deterministic(None));
    let d = lantern_bom::diff_json("old.json", &old, "new.json", &new).unwrap();
    let added: Vec<&str> = d.added.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(added, ["extra.parquet"]);
    let removed: Vec<&str> = d.removed.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(removed, ["legacy.pt"]);
    let torch = d.changed.iter().find(|c| c.name == "torch").unwrap();
    assert_eq!(
        torch.version,
        Some((Some("2.4.0".into()), Some("2.5.1".into())))
    );
    let csv = d.changed.iter().find(|c| c.name == "train.csv").unwrap();
    assert!(csv.hashes.is_some() && csv.version.is_none());
    let model = d.changed.iter().find(|c| c.name == "tiny-llama").unwrap();
    assert_eq!(
        model.licenses,
        Some((vec!["Apache-2.0".into()], vec!["llama3.1".into()]))
    );
    assert!(
        model.hashes.is_some(),
        "README change alters the manifest digest"
    );
    assert!(lantern_bom::diff_json("old.json", &old, "new.json", &old)
        .unwrap()
        .is_empty());
    let err = lantern_bom::diff_json("old.json", "{}", "new.json", &new).unwrap_err();
    assert!(err.to_string().starts_with("old.json:"), "{err}");
}

#[test]
fn annotator_adds_properties_to_local_components() {
    let (_tmp, root) = fixture();
    let hook = |c: &lantern_bom::Component, p: &Path| -> Vec<(String, String)> {
        assert!(p.exists(), "{p:?}");
        vec![("lantern:test:kind".into(), format!("{:?}", c.kind))]
    };
    let (inv, _) = lantern_bom::generate(&root, Some(&hook)).unwrap();
    assert_eq!(
        inv.get("model:models/tiny-llama/")
            .unwrap()
            .property("lantern:test:kind"),
        Some("Model")
    );
    assert_eq!(
        inv.get("data:data/train.csv")
            .unwrap()
            .property("lantern:test:kind"),
        Some("Data")
    );
    assert_eq!(
        inv.get("pkg:pypi/torch@2.4.0")
            .unwrap()
            .property("lantern:test:kind"),
        None
    );
}

/// A library-shaped project: runtime code, tests, docs, examples, README figures, an lm-eval
/// style `_template_yaml` and whisper-style checkpoint URLs.
fn scoped_project(root: &Path) {
    write(
        root,
        "src/app.py",
        "m = AutoModel.from_pretrained(\"meta-llama/Llama-3.1-8B\")\n\ndef f():\n    \"\"\"Example:\n\n    >>> AutoModel.from_pretrained(\"google-bert/bert-base-cased\")\n    \"\"\"\n",
    );
    write(
        root,
        "tests/test_app.py",
        "m = AutoModel.from_pretrained(\"meta-llama/Llama-3.1-8B\")\nt = AutoModel.from_pretrained(\"hf-internal-testing/tiny-random-gpt2\")\nu = AutoModel.from_pretrained(\"username/my-awesome-model\")\n",
    );
    write(
        root,
        "docs/source/quick.py",
        "ds = load_dataset(\"stanfordnlp/imdb\")\n",
    );
    write(
        root,
        "examples/run.py",
        "m = AutoModel.from_pretrained(\"google/gemma-2-2b\")\n",
    );
    write(root, "tests/fixtures/model.pkl", [0x80, 4, 0x95, 0, b'.']);
    write(root, "assets/fig1.png", png(1));
    write(root, "assets/fig2.png", png(2));
    write(root, "data/photos/a.png", png(3));
    write(root, "data/photos/b.png", png(4));
    write(
        root,
        "tasks/gsm8k/_template_yaml",
        "# shared\ndataset_path: openai/gsm8k\noutput_type: generate_until\n",
    );
    write(
        root,
        "tasks/mmlu/openai_mmlu",
        "dataset_path: openai/MMMLU\n",
    );
    write(
        root,
        "PKG-INFO",
        "Metadata-Version: 2.1\nmodel: not/a-reference\n",
    );
    write(
        root,
        "whisper/__init__.py",
        "_MODELS = {\n    \"tiny\": \"https://openaipublic.azureedge.net/main/whisper/models/65147644a518d12f04e32d6f3b26facc3f8dd46e5390956a9424a650c0ce22b9/tiny.pt\",\n}\n",
    );
}

#[test]
fn scope_source_and_typing_from_where_components_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("lib");
    scoped_project(&root);
    let (inv, warnings) = lantern_bom::generate(&root, None).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let get = |r: &str| {
        inv.get(r)
            .unwrap_or_else(|| panic!("{r} missing: {:?}", refs(&inv)))
    };
    // Named by runtime code and a test: runtime, sourced from the runtime file.
    let llama = get("pkg:huggingface/meta-llama/Llama-3.1-8B");
    assert_eq!(llama.usage, lantern_bom::component::Usage::Runtime);
    assert_eq!(llama.scope, None);
    assert_eq!(llama.property("lantern:scope"), Some("runtime"));
    assert_eq!(llama.property("lantern:source"), Some("src/app.py:1"));
    assert_eq!(llama.occurrences.len(), 2);
    let tiny = get("pkg:huggingface/hf-internal-testing/tiny-random-gpt2");
    assert_eq!(tiny.property("lantern:scope"), Some("test"));
    assert_eq!(tiny.scope, Some(lantern_bom::component::Scope::Excluded));
    assert_eq!(tiny.property("lantern:source"), Some("tests/test_app.py:2"));
    let imdb =
        get("pkg:huggingface/stanfordnlp/imdb?repository_url=https://huggingface.co/datasets");
    assert_eq!(imdb.kind, Kind::Data);
    assert_eq!(imdb.property("lantern:scope"), Some("docs"));
    // A docstring example in runtime code is documentation.
    let bert = get("pkg:huggingface/google-bert/bert-base-cased");
    assert_eq!(bert.property("lantern:scope"), Some("docs"));
    assert_eq!(bert.property("lantern:source"), Some("src/app.py:6"));
    assert_eq!(bert.scope, Some(lantern_bom::component::Scope::Excluded));
    let gemma = get("pkg:huggingface/google/gemma-2-2b");
    assert_eq!(gemma.property("lantern:scope"), Some("example"));
    assert_eq!(gemma.scope, Some(lantern_bom::component::Scope::Optional));
    let pickle = get("model:tests/fixtures/model.pkl");
    assert_eq!(pickle.property("lantern:scope"), Some("test"));
    assert_eq!(
        pickle.property("lantern:source"),
        Some("tests/fixtures/model.pkl")
    );
    // lm-eval's template, YAML by content: a dataset, not a hosted API model.
    let gsm = get("pkg:huggingface/openai/gsm8k?repository_url=https://huggingface.co/datasets");
    get("pkg:huggingface/openai/MMMLU?repository_url=https://huggingface.co/datasets");
    assert_eq!(
        gsm.property("lantern:source"),
        Some("tasks/gsm8k/_template_yaml:2")
    );
    // whisper's checkpoint URL: a model with the SHA-256 its path carries.
    let url = "https://openaipublic.azureedge.net/main/whisper/models/65147644a518d12f04e32d6f3b26facc3f8dd46e5390956a9424a650c0ce22b9/tiny.pt";
    let tiny_pt = get(&format!("url:{url}"));
    assert_eq!(tiny_pt.kind, Kind::Model);
    assert_eq!(tiny_pt.name, "tiny.pt");
    assert_eq!(
        tiny_pt.hashes,
        [lantern_bom::component::Hash::sha256(
            "65147644a518d12f04e32d6f3b26facc3f8dd46e5390956a9424a650c0ce22b9"
        )]
    );
    // Placeholders, README figures and PKG-INFO (headers, not YAML) are not components.
    let all = refs(&inv);
    assert!(!all.iter().any(|r| r.contains("username")), "{all:?}");
    assert!(!all.iter().any(|r| r.contains("assets")), "{all:?}");
    assert!(
        !all.iter().any(|r| r.contains("not/a-reference")),
        "{all:?}"
    );
    assert!(all.contains(&"data:data/photos/".to_string()), "{all:?}");
    assert!(!all.iter().any(|r| r.starts_with("api:")), "{all:?}");
    assert_eq!(all.len(), 10, "{all:?}");
    // CycloneDX carries the scope and the properties.
    let doc: serde_json::Value =
        serde_json::from_str(&cyclonedx::to_json(&inv, &Stamp::deterministic(None))).unwrap();
    let comps = doc["components"].as_array().unwrap();
    let tiny_json = comps
        .iter()
        .find(|c| c["bom-ref"] == "pkg:huggingface/hf-internal-testing/tiny-random-gpt2")
        .unwrap();
    assert_eq!(tiny_json["scope"], "excluded");
    assert!(tiny_json["properties"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["name"] == "lantern:scope" && p["value"] == "test"));
}

fn refs(inv: &lantern_bom::Inventory) -> Vec<String> {
    inv.components.iter().map(|c| c.bom_ref.clone()).collect()
}
