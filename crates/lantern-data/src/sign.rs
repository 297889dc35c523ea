//! Signing and verifying data manifests with `lantern-sign` keys: a DSSE envelope over an
//! in-toto Statement v1 whose subjects are the dataset (by its Merkle root) and the manifest
//! file (by its sha256), so neither can be swapped without breaking the signature.

use crate::manifest::Manifest;
use crate::{Error, Result};
use lantern_sign::oms::{sign_payload, verify_envelope, Trust};
use lantern_sign::{Bundle, SigningKey, VerifyingKey};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::path::Path;

/// in-toto predicate type of a signed data manifest.
pub const PREDICATE_TYPE: &str = "https://lantern.dev/attestations/data-manifest/v1";
const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";

/// What a verified signature vouches for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The dataset path recorded when signing.
    pub source: String,
    /// The signed Merkle root of the dataset's records (hex).
    pub merkle_root: String,
    /// The signed record count.
    pub records: u64,
    /// The signed count of rows that could not be parsed (digested as raw bytes).
    pub bad_records: u64,
    /// The dataset's layout as signed.
    pub kind: crate::record::DatasetKind,
    /// The record cap the dataset was read with (rows longer are digested raw).
    pub max_record_bytes: u64,
    /// The CSV/TSV header as signed.
    pub header: Option<Vec<String>>,
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

fn sha256_file(path: &Path) -> Result<String> {
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path.display(), e))?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h).map_err(|e| Error::io(path.display(), e))?;
    Ok(hex::encode(h.finalize()))
}

/// The in-toto statement signed for the manifest file at `path`.
pub fn statement(path: &Path) -> Result<Vec<u8>> {
    let m = Manifest::load(path)?;
    let st = json!({
        "_type": STATEMENT_TYPE,
        "subject": [
            {"name": m.source, "digest": {"sha256": m.merkle_root}},
            {"name": file_name(path), "digest": {"sha256": sha256_file(path)?}},
        ],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "format": m.format,
            "kind": m.kind.as_str(),
            "record_digest": m.record_digest,
            "merkle_root": m.merkle_root,
            "records": m.counts.records,
            "bad_records": m.counts.bad_records,
            "key": m.key,
        },
    });
    serde_json::to_vec_pretty(&st).map_err(|e| Error::format(path.display(), e.to_string()))
}

/// Sign the manifest file at `path`.
pub fn sign(path: &Path, key: &SigningKey) -> Result<Bundle> {
    sign_payload(statement(path)?, key).map_err(|e| Error::Invalid(e.to_string()))
}

/// Verify `bundle` over the manifest file at `path` with `key`: the signature, the predicate
/// type, and the manifest file's digest and Merkle root against the signed subjects.
pub fn verify(path: &Path, bundle: &Bundle, key: &VerifyingKey) -> Result<Verified> {
    let src = path.display().to_string();
    let payload = verify_envelope(bundle, &Trust::Key(key), &src)
        .map_err(|e| Error::Invalid(e.to_string()))?;
    let st: Value = serde_json::from_slice(&payload)
        .map_err(|e| Error::format(&src, format!("signed statement is not json: {e}")))?;
    if st["predicateType"] != PREDICATE_TYPE {
        return Err(Error::Invalid(format!(
            "{src}: signature is not over a data manifest (predicate type {})",
            st["predicateType"]
        )));
    }
    let subjects = st["subject"].as_array().cloned().unwrap_or_default();
    let name = file_name(path);
    let want = subjects
        .iter()
        .find(|s| s["name"] == name.as_str())
        .and_then(|s| s["digest"]["sha256"].as_str())
        .ok_or_else(|| Error::Invalid(format!("{src}: the signature names no file `{name}`")))?;
    if !want.eq_ignore_ascii_case(&sha256_file(path)?) {
        return Err(Error::Invalid(format!(
            "{src}: manifest file modified after signing (sha256 differs)"
        )));
    }
    let m = Manifest::load(path)?;
    let root = st["predicate"]["merkle_root"].as_str().unwrap_or("");
    if root != m.merkle_root {
        return Err(Error::Invalid(format!(
            "{src}: signed merkle root {root} differs from the manifest's {}",
            m.merkle_root
        )));
    }
    Ok(Verified {
        source: m.source,
        merkle_root: m.merkle_root,
        records: st["predicate"]["records"].as_u64().unwrap_or(0),
        bad_records: st["predicate"]["bad_records"].as_u64().unwrap_or(0),
        kind: m.kind,
        max_record_bytes: m.max_record_bytes,
        header: m.counts.header,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{write_manifest, ManifestOptions};
    use lantern_sign::KeyKind;

    #[test]
    fn sign_verify_and_detect_tampering() {
        let d = tempfile::tempdir().unwrap();
        let data = d.path().join("d.jsonl");
        std::fs::write(&data, "{\"t\":\"a\"}\n{\"t\":\"b\"}\n").unwrap();
        let mp = d.path().join("m.json");
        let mut out = Vec::new();
        write_manifest(
            &data,
            &ManifestOptions {
                include_records: true,
                ..Default::default()
            },
            &mut out,
        )
        .unwrap();
        std::fs::write(&mp, &out).unwrap();
        let key = SigningKey::generate(KeyKind::Ed25519);
        let b = sign(&mp, &key).unwrap();
        let v = verify(&mp, &b, &key.verifying_key()).unwrap();
        assert_eq!(v.records, 2);
        // Another key fails.
        let other = SigningKey::generate(KeyKind::Ed25519);
        assert!(verify(&mp, &b, &other.verifying_key()).is_err());
        // An edited manifest fails even with the right key.
        let text = String::from_utf8(out)
            .unwrap()
            .replace("\"bad_records\": 0", "\"bad_records\": 1");
        std::fs::write(&mp, text).unwrap();
        let e = verify(&mp, &b, &key.verifying_key())
            .unwrap_err()
            .to_string();
        assert!(e.contains("modified after signing"), "{e}");
    }
}
