//! OpenSSF Model Signing v1.0: the in-toto statement over a manifest, signing it into a bundle,
//! and verifying a bundle against the model on disk.

use crate::bundle::{pae, Bundle, Envelope, Material, IN_TOTO_PAYLOAD_TYPE};
use crate::error::{Error, Result};
use crate::keys::{SigningKey, VerifyingKey};
use crate::manifest::{
    diff, HashOptions, ItemDigest, ItemKey, Manifest, ManifestDiff, Method, Plan, Serialization,
};
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// in-toto Statement v1 type.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// Predicate type of OMS v1.0 signatures.
pub const PREDICATE_TYPE: &str = "https://model_signing/signature/v1.0";
/// Predicate type of model-signing 0.2 signatures (digests listed as subjects), accepted on read.
pub const PREDICATE_TYPE_COMPAT: &str = "https://model_signing/Digests/v0.1";

#[derive(Serialize)]
struct Subject<'a> {
    name: &'a str,
    digest: BTreeMap<&'static str, String>,
}

#[derive(Serialize)]
struct Resource {
    name: String,
    algorithm: String,
    digest: String,
}

#[derive(Serialize)]
struct OmsPredicate {
    serialization: Value,
    resources: Vec<Resource>,
}

/// An in-toto Statement v1 with a typed predicate, serialized with fields in spec order.
#[derive(Serialize)]
pub(crate) struct Statement<'a, P: Serialize> {
    #[serde(rename = "_type")]
    pub(crate) ty: &'static str,
    pub(crate) subject: Vec<Value>,
    #[serde(rename = "predicateType")]
    pub(crate) predicate_type: &'a str,
    pub(crate) predicate: P,
}

/// The statement JSON (the DSSE payload) for a manifest.
pub fn statement_json(m: &Manifest) -> Result<Vec<u8>> {
    let subject = Subject {
        name: &m.model_name,
        digest: BTreeMap::from([("sha256", hex::encode(m.root_digest()))]),
    };
    let st = Statement {
        ty: STATEMENT_TYPE,
        subject: vec![serde_json::to_value(subject).map_err(|e| Error::Invalid(e.to_string()))?],
        predicate_type: PREDICATE_TYPE,
        predicate: OmsPredicate {
            serialization: m.serialization.to_json(),
            resources: m
                .items
                .iter()
                .map(|(k, d)| Resource {
                    name: k.identifier(),
                    algorithm: d.algorithm.clone(),
                    digest: hex::encode(&d.value),
                })
                .collect(),
        },
    };
    serde_json::to_vec_pretty(&st).map_err(|e| Error::Invalid(e.to_string()))
}

/// Signs an in-toto statement payload into a bundle with the key's hint as verification material.
pub fn sign_payload(payload: Vec<u8>, key: &SigningKey) -> Result<Bundle> {
    let sig = key.sign(&pae(IN_TOTO_PAYLOAD_TYPE, &payload));
    Ok(Bundle {
        material: Material::PublicKey {
            hint: Some(key.verifying_key().hint()?),
        },
        envelope: Envelope {
            payload,
            payload_type: IN_TOTO_PAYLOAD_TYPE.into(),
            signatures: vec![sig],
        },
    })
}

/// Signs a manifest.
pub fn sign_manifest(m: &Manifest, key: &SigningKey) -> Result<Bundle> {
    sign_payload(statement_json(m)?, key)
}

/// What a bundle's signature is checked against.
pub enum Trust<'a> {
    /// A public key (`verify key`).
    Key(&'a VerifyingKey),
    /// Trusted CA certificates for certificate-chain bundles (`verify certificate`).
    Roots(&'a crate::cert::TrustStore),
}

/// Checks the bundle's signature and returns the verified in-toto payload.
pub fn verify_envelope(bundle: &Bundle, trust: &Trust<'_>, src: &str) -> Result<Vec<u8>> {
    let env = &bundle.envelope;
    if env.payload_type != IN_TOTO_PAYLOAD_TYPE {
        return Err(Error::malformed(
            src,
            "bundle",
            format!(
                "payload type {:?}, expected {IN_TOTO_PAYLOAD_TYPE:?}",
                env.payload_type
            ),
        ));
    }
    let cert_key;
    let key: &VerifyingKey = match (trust, &bundle.material) {
        (Trust::Key(k), Material::PublicKey { hint }) => {
            if let Some(h) = hint {
                let actual = k.hint()?;
                if !h.eq_ignore_ascii_case(&actual) {
                    return Err(Error::KeyMismatch {
                        path: src.into(),
                        hint: h.clone(),
                        actual,
                    });
                }
            }
            k
        }
        (Trust::Key(_), Material::Certificates(_)) => {
            return Err(Error::Invalid(format!(
                "{src}: signed with a certificate chain; verify it with --certificate-chain CA.pem"
            )))
        }
        (Trust::Roots(store), Material::Certificates(chain)) => {
            cert_key = store.verify_chain(chain, src)?;
            &cert_key
        }
        (Trust::Roots(_), Material::PublicKey { .. }) => {
            return Err(Error::Invalid(format!(
                "{src}: signed with a bare key, not a certificate; verify it with --key PUBLIC.pem"
            )))
        }
    };
    let msg = pae(IN_TOTO_PAYLOAD_TYPE, &env.payload);
    // model-signing signs and checks the first signature only.
    match env.signatures.first() {
        Some(sig) if key.verify(&msg, sig) => Ok(env.payload.clone()),
        _ => Err(Error::BadSignature(src.into())),
    }
}

/// Parses a verified OMS statement into the manifest it signs, checking the subject's root digest.
pub fn manifest_from_statement(payload: &[u8], src: &str) -> Result<Manifest> {
    let bad = |r: String| Error::malformed(src, "statement", r);
    let v: Value =
        serde_json::from_slice(payload).map_err(|e| bad(format!("payload is not JSON: {e}")))?;
    let ty = v.get("_type").and_then(Value::as_str).unwrap_or("");
    if ty != STATEMENT_TYPE {
        return Err(bad(format!("_type {ty:?}, expected {STATEMENT_TYPE:?}")));
    }
    let subjects = v
        .get("subject")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("missing subject".into()))?;
    let hexdigest = |d: Option<&Value>, what: &str| -> Result<Vec<u8>> {
        let s = d
            .and_then(Value::as_str)
            .ok_or_else(|| bad(format!("{what}: missing digest")))?;
        hex::decode(s).map_err(|_| bad(format!("{what}: digest is not hex")))
    };
    match v.get("predicateType").and_then(Value::as_str) {
        Some(PREDICATE_TYPE) => {}
        Some(PREDICATE_TYPE_COMPAT) => {
            let serialization = Serialization {
                method: Method::Files,
                hash: crate::hash::HashAlgo::Sha256,
                allow_symlinks: false,
                ignore_paths: Vec::new(),
            };
            let mut items = BTreeMap::new();
            for s in subjects {
                let name = s
                    .get("name")
                    .and_then(Value::as_str)
                    .ok_or_else(|| bad("subject without name".into()))?;
                let key = ItemKey::parse(name, Method::Files, src)?;
                let value = hexdigest(s.pointer("/digest/sha256"), name)?;
                items.insert(
                    key,
                    ItemDigest {
                        algorithm: "sha256".into(),
                        value,
                    },
                );
            }
            return Ok(Manifest {
                model_name: "compat-undefined-not-present".into(),
                items,
                serialization,
            });
        }
        other => {
            return Err(bad(format!(
                "predicateType {other:?}, expected {PREDICATE_TYPE:?}"
            )))
        }
    }
    let [subject] = subjects.as_slice() else {
        return Err(bad(format!("expected one subject, got {}", subjects.len())));
    };
    let model_name = subject
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let root = hexdigest(subject.pointer("/digest/sha256"), "subject")?;
    let pred = v
        .get("predicate")
        .ok_or_else(|| bad("missing predicate".into()))?;
    let serialization =
        Serialization::from_json(pred.get("serialization").unwrap_or(&Value::Null), src)?;
    let resources = pred
        .get("resources")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("missing resources".into()))?;
    let mut items = BTreeMap::new();
    use sha2::Digest as _;
    let mut h = sha2::Sha256::new();
    for r in resources {
        let name = r
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("resource without name".into()))?;
        let algorithm = r
            .get("algorithm")
            .and_then(Value::as_str)
            .ok_or_else(|| bad(format!("resource {name:?} without algorithm")))?;
        let value = hexdigest(r.get("digest"), name)?;
        h.update(&value);
        let key = ItemKey::parse(name, serialization.method, src)?;
        if items
            .insert(
                key,
                ItemDigest {
                    algorithm: algorithm.into(),
                    value,
                },
            )
            .is_some()
        {
            return Err(bad(format!("resource {name:?} listed twice")));
        }
    }
    let computed: [u8; 32] = h.finalize().into();
    if computed.as_slice() != root.as_slice() {
        return Err(bad(format!(
            "inconsistent manifest: subject digest is {}, resources hash to {}",
            hex::encode(&root),
            hex::encode(computed)
        )));
    }
    Ok(Manifest {
        model_name,
        items,
        serialization,
    })
}

/// Extra local settings for verification, on top of what the signature records.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// More paths to ignore (relative to the model root), e.g. the signature file itself.
    pub ignore_paths: Vec<String>,
    /// Also ignore git paths (model-signing's default).
    pub ignore_git_paths: bool,
    /// Override the recorded symlink policy (model-signing's CLI passes its own flag).
    pub allow_symlinks: Option<bool>,
    /// Hash only the files the signature covers, so unsigned extra files are not reported.
    pub ignore_unsigned_files: bool,
}

/// Result of checking a model against a verified signature.
#[derive(Debug)]
pub struct Verification {
    /// The manifest the signature covers.
    pub expected: Manifest,
    /// Differences found on disk (empty when verified).
    pub diff: ManifestDiff,
}

/// Verifies the signature of `bundle_path`, then prepares the local hashing plan that must match it.
pub fn prepare_verification(
    model: &Path,
    bundle_path: &Path,
    trust: &Trust<'_>,
    opts: &VerifyOptions,
) -> Result<(Manifest, Plan)> {
    let src = bundle_path.display().to_string();
    let bundle = Bundle::from_file(bundle_path)?;
    let payload = verify_envelope(&bundle, trust, &src)?;
    let expected = manifest_from_statement(&payload, &src)?;
    let s = &expected.serialization;
    let mut ignore_paths = s.ignore_paths.clone();
    ignore_paths.extend(opts.ignore_paths.iter().cloned());
    let only = opts.ignore_unsigned_files.then(|| {
        expected
            .items
            .keys()
            .map(|k| k.path.clone())
            .collect::<BTreeSet<_>>()
    });
    let hopts = HashOptions {
        method: s.method,
        hash: s.hash,
        allow_symlinks: opts.allow_symlinks.unwrap_or(s.allow_symlinks),
        ignore_paths,
        ignore_git_paths: opts.ignore_git_paths,
        only,
    };
    let plan = Plan::new(model, &hopts)?;
    Ok((expected, plan))
}

/// Verifies a model against a signature bundle in one call (no progress reporting).
pub fn verify_model(
    model: &Path,
    bundle_path: &Path,
    trust: &Trust<'_>,
    opts: &VerifyOptions,
) -> Result<Verification> {
    let (expected, plan) = prepare_verification(model, bundle_path, trust, opts)?;
    let actual = plan.hash(&|_| {})?;
    let d = diff(&expected, &actual);
    Ok(Verification { expected, diff: d })
}

/// The path of `p` relative to the model root if `p` lies inside it (resolving `..`, symlinks and a
/// not-yet-existing final component), as model-signing's CLI does for `--signature` and `--ignore-paths`.
pub fn relative_to_model(model: &Path, p: &Path) -> Option<String> {
    let root = std::fs::canonicalize(model).ok()?;
    let abs = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir().ok()?.join(p)
    };
    let resolved = std::fs::canonicalize(&abs).ok().or_else(|| {
        let parent = std::fs::canonicalize(abs.parent()?).ok()?;
        Some(parent.join(abs.file_name()?))
    })?;
    let rel = resolved.strip_prefix(&root).ok()?;
    let parts: Option<Vec<&str>> = rel.components().map(|c| c.as_os_str().to_str()).collect();
    let s = parts?.join("/");
    Some(if s.is_empty() { ".".into() } else { s })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::keys::KeyKind;
    use crate::manifest::hash_model;

    fn py_model(dir: &Path) -> std::path::PathBuf {
        let m = dir.join("m");
        std::fs::create_dir_all(m.join("sub")).unwrap();
        std::fs::write(m.join("a.txt"), b"hello\n").unwrap();
        std::fs::write(m.join("sub/b.bin"), b"x\n").unwrap();
        std::fs::write(m.join("a.b"), b"y\n").unwrap();
        m
    }

    #[test]
    fn verifies_a_model_signing_bundle_and_detects_tampering() {
        let d = tempfile::tempdir().unwrap();
        let m = py_model(d.path());
        let sig = d.path().join("model.sig");
        std::fs::write(&sig, include_str!("../tests/data/model_signing_1.1.1.sig")).unwrap();
        let key =
            VerifyingKey::from_pem(include_str!("../tests/data/model_signing_1.1.1.pub"), "k")
                .unwrap();
        let opts = VerifyOptions {
            ignore_git_paths: true,
            ..Default::default()
        };
        let v = verify_model(&m, &sig, &Trust::Key(&key), &opts).unwrap();
        assert!(v.diff.is_empty(), "{:?}", v.diff);
        assert_eq!(v.expected.items.len(), 3);
        assert_eq!(v.expected.model_name, "m");

        std::fs::write(m.join("a.txt"), b"hellO\n").unwrap();
        std::fs::write(m.join("new"), b"").unwrap();
        std::fs::remove_file(m.join("sub/b.bin")).unwrap();
        let v = verify_model(&m, &sig, &Trust::Key(&key), &opts).unwrap();
        assert_eq!(v.diff.changed, ["a.txt"]);
        assert_eq!(v.diff.added, ["new"]);
        assert_eq!(v.diff.missing, ["sub/b.bin"]);
        let only = VerifyOptions {
            ignore_unsigned_files: true,
            ..opts.clone()
        };
        assert!(verify_model(&m, &sig, &Trust::Key(&key), &only)
            .unwrap()
            .diff
            .added
            .is_empty());

        let other = SigningKey::generate(KeyKind::P256).verifying_key();
        let e = verify_model(&m, &sig, &Trust::Key(&other), &opts).unwrap_err();
        assert!(matches!(e, Error::KeyMismatch { .. }), "{e}");
    }

    #[test]
    fn our_statement_reproduces_model_signing_root_digest() {
        let d = tempfile::tempdir().unwrap();
        let m = py_model(d.path());
        let man = hash_model(
            &m,
            &HashOptions {
                ignore_paths: vec!["model.sig".into()],
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(
            hex::encode(man.root_digest()),
            "4dc29c5368489f9809d77a3245832450f2735c259b72854028884d1ebb46ce35"
        );
        let back = manifest_from_statement(&statement_json(&man).unwrap(), "s").unwrap();
        assert_eq!(back.items, man.items);
        assert_eq!(back.serialization, man.serialization);
    }

    #[test]
    fn signature_and_payload_tampering_rejected() {
        let d = tempfile::tempdir().unwrap();
        let m = py_model(d.path());
        for kind in [KeyKind::P256, KeyKind::P384, KeyKind::Ed25519] {
            let k = SigningKey::generate(kind);
            let man = hash_model(&m, &HashOptions::default()).unwrap();
            let b = sign_manifest(&man, &k).unwrap();
            let vk = k.verifying_key();
            assert!(verify_envelope(&b, &Trust::Key(&vk), "b").is_ok());
            let mut t = b.clone();
            if let Some(x) = t.envelope.payload.iter_mut().find(|c| **c == b'a') {
                *x = b'b';
            }
            assert!(matches!(
                verify_envelope(&t, &Trust::Key(&vk), "b"),
                Err(Error::BadSignature(_))
            ));
            let mut t = b.clone();
            t.envelope.signatures[0][10] ^= 0x40;
            assert!(matches!(
                verify_envelope(&t, &Trust::Key(&vk), "b"),
                Err(Error::BadSignature(_))
            ));
        }
    }

    #[test]
    fn inconsistent_root_digest_and_escaping_names_are_malformed() {
        let d = tempfile::tempdir().unwrap();
        let m = py_model(d.path());
        let man = hash_model(&m, &HashOptions::default()).unwrap();
        let mut v: Value = serde_json::from_slice(&statement_json(&man).unwrap()).unwrap();
        v["subject"][0]["digest"]["sha256"] = Value::String("00".repeat(32));
        let e = manifest_from_statement(v.to_string().as_bytes(), "s")
            .unwrap_err()
            .to_string();
        assert!(e.contains("inconsistent manifest"), "{e}");
        let mut v: Value = serde_json::from_slice(&statement_json(&man).unwrap()).unwrap();
        v["predicate"]["resources"][0]["name"] = Value::String("../../etc/passwd".into());
        let e = manifest_from_statement(v.to_string().as_bytes(), "s")
            .unwrap_err()
            .to_string();
        assert!(e.contains("escapes"), "{e}");
    }

    #[test]
    fn relative_paths_resolve_against_the_model_root() {
        let d = tempfile::tempdir().unwrap();
        let m = py_model(d.path());
        assert_eq!(
            relative_to_model(&m, &m.join("model.sig")).as_deref(),
            Some("model.sig")
        );
        assert_eq!(
            relative_to_model(&m, &m.join("sub/../a.b")).as_deref(),
            Some("a.b")
        );
        assert_eq!(relative_to_model(&m, &d.path().join("model.sig")), None);
    }
}
