//! Signed SLSA Provenance v1 for training and fine-tuning runs: subjects are the output model's
//! file digests, resolved dependencies the datasets, base models, configs and code commit used.

use crate::bundle::Bundle;
use crate::error::{Error, Result};
use crate::manifest::{
    diff, hash_model, HashOptions, ItemDigest, ItemKey, Manifest, ManifestDiff, Method,
    Serialization,
};
use crate::oms::{verify_envelope, Statement, Trust, STATEMENT_TYPE};
use crate::HashAlgo;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// SLSA Provenance v1 predicate type.
pub const SLSA_PROVENANCE_V1: &str = "https://slsa.dev/provenance/v1";
/// Build type Lantern records for a training or fine-tuning run.
pub const TRAINING_BUILD_TYPE: &str =
    "https://github.com/lantern-sec/lantern/attest/training-run/v1";
/// Builder id recorded when none is given.
pub const DEFAULT_BUILDER_ID: &str = "https://github.com/lantern-sec/lantern";

/// What an input of the run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputRole {
    /// Training data, or a dataset manifest pinning it.
    Dataset,
    /// The model that was fine-tuned.
    BaseModel,
    /// Training configuration.
    Config,
}

impl InputRole {
    /// Annotation value.
    pub fn name(self) -> &'static str {
        match self {
            InputRole::Dataset => "dataset",
            InputRole::BaseModel => "base-model",
            InputRole::Config => "config",
        }
    }
}

/// Everything recorded about a run besides the output model.
#[derive(Debug, Clone, Default)]
pub struct RunInfo {
    /// Input files or directories with their role (directories contribute one entry per file).
    pub inputs: Vec<(InputRole, PathBuf)>,
    /// Source commit of the training code (hex SHA-1 or SHA-256).
    pub code_commit: Option<String>,
    /// Repository of the training code (e.g. `https://github.com/org/repo`).
    pub code_repo: Option<String>,
    /// Builder id (URI of the system that ran the training); Lantern's when `None`.
    pub builder_id: Option<String>,
    /// Invocation id (e.g. CI run URL).
    pub invocation_id: Option<String>,
    /// RFC 3339 start time.
    pub started_on: Option<String>,
    /// RFC 3339 end time.
    pub finished_on: Option<String>,
    /// Free-form external parameters (`key=value`).
    pub parameters: BTreeMap<String, String>,
    /// Paths inside the model to leave out of the subjects.
    pub ignore_paths: Vec<String>,
}

fn file_digests(path: &Path) -> Result<Manifest> {
    hash_model(
        path,
        &HashOptions {
            ignore_git_paths: true,
            ..HashOptions::default()
        },
    )
}

/// Display name of a manifest item of `root`: relative path, or the file name for a single file.
fn item_name(root: &Path, m: &Manifest, k: &ItemKey) -> String {
    if k.path.is_empty() {
        root.file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| m.model_name.clone())
    } else {
        k.path_str()
    }
}

fn check_time(t: &Option<String>, what: &str) -> Result<()> {
    if let Some(t) = t {
        time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
            .map_err(|_| Error::Invalid(format!("{what} {t:?} is not an RFC 3339 timestamp")))?;
    }
    Ok(())
}

/// Builds the provenance statement JSON for `model` and the run.
pub fn statement_json(model: &Path, run: &RunInfo) -> Result<Vec<u8>> {
    check_time(&run.started_on, "start time")?;
    check_time(&run.finished_on, "finish time")?;
    let m = hash_model(
        model,
        &HashOptions {
            ignore_paths: run.ignore_paths.clone(),
            ..HashOptions::default()
        },
    )?;
    let subject: Vec<Value> = m
        .items
        .iter()
        .map(|(k, d)| json!({"name": item_name(model, &m, k), "digest": {"sha256": hex::encode(&d.value)}}))
        .collect();
    let mut deps = Vec::new();
    for (role, path) in &run.inputs {
        let im = file_digests(path)?;
        for (k, d) in &im.items {
            let name = if k.path.is_empty() {
                path.display().to_string()
            } else {
                format!("{}/{}", path.display(), k.path_str())
            };
            deps.push(json!({"name": name, "digest": {"sha256": hex::encode(&d.value)}, "annotations": {"role": role.name()}}));
        }
    }
    if let Some(c) = &run.code_commit {
        let ok = (c.len() == 40 || c.len() == 64) && c.bytes().all(|b| b.is_ascii_hexdigit());
        if !ok {
            return Err(Error::Invalid(format!(
                "code commit {c:?} is not a 40- or 64-digit hex git object id"
            )));
        }
        let mut d = Map::new();
        d.insert(
            "digest".into(),
            json!({"gitCommit": c.to_ascii_lowercase()}),
        );
        d.insert("annotations".into(), json!({"role": "code"}));
        match &run.code_repo {
            Some(r) => d.insert(
                "uri".into(),
                json!(format!("git+{r}@{}", c.to_ascii_lowercase())),
            ),
            None => d.insert("name".into(), json!("code")),
        };
        deps.push(Value::Object(d));
    }
    let mut ext = Map::new();
    ext.insert("model".into(), json!(m.model_name));
    if !run.parameters.is_empty() {
        ext.insert("parameters".into(), json!(run.parameters));
    }
    let mut metadata = Map::new();
    for (k, v) in [
        ("invocationId", &run.invocation_id),
        ("startedOn", &run.started_on),
        ("finishedOn", &run.finished_on),
    ] {
        if let Some(v) = v {
            metadata.insert(k.into(), json!(v));
        }
    }
    let predicate = json!({
        "buildDefinition": {
            "buildType": TRAINING_BUILD_TYPE,
            "externalParameters": ext,
            "resolvedDependencies": deps,
        },
        "runDetails": {
            "builder": {"id": run.builder_id.clone().unwrap_or_else(|| DEFAULT_BUILDER_ID.into())},
            "metadata": metadata,
        },
    });
    let st = Statement {
        ty: STATEMENT_TYPE,
        subject,
        predicate_type: SLSA_PROVENANCE_V1,
        predicate,
    };
    serde_json::to_vec_pretty(&st).map_err(|e| Error::Invalid(e.to_string()))
}

/// Outcome of checking a provenance statement against a model and input files.
#[derive(Debug)]
pub struct ProvenanceCheck {
    /// Subjects vs model files on disk.
    pub diff: ManifestDiff,
    /// Given input files whose digest is not among the statement's resolved dependencies.
    pub unmatched_inputs: Vec<String>,
    /// Number of subjects.
    pub subjects: usize,
    /// Number of resolved dependencies.
    pub dependencies: usize,
}

impl ProvenanceCheck {
    /// True when the model matches the subjects and every input is listed.
    pub fn is_ok(&self) -> bool {
        self.diff.is_empty() && self.unmatched_inputs.is_empty()
    }
}

/// Verifies a signed provenance bundle: signature, subjects against `model`, `inputs` against
/// the resolved dependencies.
pub fn verify(
    model: &Path,
    bundle_path: &Path,
    trust: &Trust<'_>,
    inputs: &[PathBuf],
    ignore_paths: &[String],
) -> Result<ProvenanceCheck> {
    let src = bundle_path.display().to_string();
    let bundle = Bundle::from_file(bundle_path)?;
    let payload = verify_envelope(&bundle, trust, &src)?;
    let bad = |r: String| Error::malformed(src.clone(), "statement", r);
    let v: Value =
        serde_json::from_slice(&payload).map_err(|e| bad(format!("payload is not JSON: {e}")))?;
    if v.get("_type").and_then(Value::as_str) != Some(STATEMENT_TYPE) {
        return Err(bad(format!("_type is not {STATEMENT_TYPE:?}")));
    }
    let pt = v.get("predicateType").and_then(Value::as_str).unwrap_or("");
    if pt != SLSA_PROVENANCE_V1 {
        return Err(bad(format!("predicateType {pt:?}, expected {SLSA_PROVENANCE_V1:?} (use plain verify for model signatures)")));
    }
    let subjects = v
        .get("subject")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("missing subject".into()))?;
    let actual = hash_model(
        model,
        &HashOptions {
            ignore_paths: ignore_paths.to_vec(),
            ..HashOptions::default()
        },
    )?;
    // Re-key the model on disk by subject name so a single-file model matches its file name.
    let mut on_disk = BTreeMap::new();
    for (k, d) in &actual.items {
        on_disk.insert(
            ItemKey {
                path: vec![item_name(model, &actual, k)],
                range: None,
            },
            d.clone(),
        );
    }
    let mut expected = BTreeMap::new();
    for s in subjects {
        let name = s
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("subject without name".into()))?;
        let digest = s
            .pointer("/digest/sha256")
            .and_then(Value::as_str)
            .ok_or_else(|| bad(format!("subject {name:?} has no sha256")))?;
        let value =
            hex::decode(digest).map_err(|_| bad(format!("subject {name:?}: digest is not hex")))?;
        crate::manifest::normalize_rel(name)
            .ok_or_else(|| bad(format!("subject {name:?} escapes the model directory")))?;
        expected.insert(
            ItemKey {
                path: vec![name.to_string()],
                range: None,
            },
            ItemDigest {
                algorithm: "sha256".into(),
                value,
            },
        );
    }
    let ser = Serialization {
        method: Method::Files,
        hash: HashAlgo::Sha256,
        allow_symlinks: false,
        ignore_paths: Vec::new(),
    };
    let mk = |items| Manifest {
        model_name: actual.model_name.clone(),
        items,
        serialization: ser.clone(),
    };
    let subjects_n = expected.len();
    let d = diff(&mk(expected), &mk(on_disk));
    let deps = v
        .pointer("/predicate/buildDefinition/resolvedDependencies")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let listed: BTreeSet<String> = deps
        .iter()
        .filter_map(|d| d.pointer("/digest/sha256").and_then(Value::as_str))
        .map(str::to_ascii_lowercase)
        .collect();
    let mut unmatched = Vec::new();
    for input in inputs {
        let im = file_digests(input)?;
        for (k, dg) in &im.items {
            if !listed.contains(&hex::encode(&dg.value)) {
                unmatched.push(if k.path.is_empty() {
                    input.display().to_string()
                } else {
                    format!("{}/{}", input.display(), k.path_str())
                });
            }
        }
    }
    Ok(ProvenanceCheck {
        diff: d,
        unmatched_inputs: unmatched,
        subjects: subjects_n,
        dependencies: deps.len(),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::keys::{KeyKind, SigningKey};
    use crate::oms::sign_payload;

    #[test]
    fn attest_then_verify_subjects_and_inputs() {
        let d = tempfile::tempdir().unwrap();
        let model = d.path().join("out");
        std::fs::create_dir(&model).unwrap();
        std::fs::write(model.join("weights.safetensors"), b"weights").unwrap();
        std::fs::write(model.join("config.json"), b"{}").unwrap();
        let data = d.path().join("train.jsonl");
        std::fs::write(&data, b"{\"x\":1}\n").unwrap();
        let cfg = d.path().join("train.yaml");
        std::fs::write(&cfg, b"lr: 0.1\n").unwrap();
        let run = RunInfo {
            inputs: vec![
                (InputRole::Dataset, data.clone()),
                (InputRole::Config, cfg.clone()),
            ],
            code_commit: Some("0123456789abcdef0123456789abcdef01234567".into()),
            code_repo: Some("https://github.com/org/train".into()),
            started_on: Some("2026-01-02T03:04:05Z".into()),
            ..RunInfo::default()
        };
        let st = statement_json(&model, &run).unwrap();
        let v: Value = serde_json::from_slice(&st).unwrap();
        assert_eq!(v["predicateType"], SLSA_PROVENANCE_V1);
        assert_eq!(v["subject"][1]["name"], "weights.safetensors");
        assert_eq!(
            v["subject"][1]["digest"]["sha256"],
            hex::encode(HashAlgo::Sha256.digest(b"weights"))
        );
        let deps = v["predicate"]["buildDefinition"]["resolvedDependencies"]
            .as_array()
            .unwrap();
        assert_eq!(deps.len(), 3);
        assert_eq!(
            deps[2]["uri"],
            "git+https://github.com/org/train@0123456789abcdef0123456789abcdef01234567"
        );

        let k = SigningKey::generate(KeyKind::P256);
        let b = sign_payload(st, &k).unwrap();
        let bp = d.path().join("prov.sig");
        b.write(&bp).unwrap();
        let vk = k.verifying_key();
        let ok = verify(
            &model,
            &bp,
            &Trust::Key(&vk),
            &[data.clone(), cfg.clone()],
            &[],
        )
        .unwrap();
        assert!(ok.is_ok(), "{ok:?}");
        assert_eq!((ok.subjects, ok.dependencies), (2, 3));

        std::fs::write(&data, b"poisoned\n").unwrap();
        std::fs::write(model.join("weights.safetensors"), b"weightz").unwrap();
        let bad = verify(
            &model,
            &bp,
            &Trust::Key(&vk),
            std::slice::from_ref(&data),
            &[],
        )
        .unwrap();
        assert_eq!(bad.diff.changed, ["weights.safetensors"]);
        assert_eq!(bad.unmatched_inputs, [data.display().to_string()]);
    }

    #[test]
    fn rejects_bad_commit_and_time() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("m.bin");
        std::fs::write(&f, b"m").unwrap();
        let run = RunInfo {
            code_commit: Some("xyz".into()),
            ..RunInfo::default()
        };
        assert!(statement_json(&f, &run)
            .unwrap_err()
            .to_string()
            .contains("code commit"));
        let run = RunInfo {
            started_on: Some("yesterday".into()),
            ..RunInfo::default()
        };
        assert!(statement_json(&f, &run)
            .unwrap_err()
            .to_string()
            .contains("RFC 3339"));
        let st: Value =
            serde_json::from_slice(&statement_json(&f, &RunInfo::default()).unwrap()).unwrap();
        assert_eq!(st["subject"][0]["name"], "m.bin");
    }
}
