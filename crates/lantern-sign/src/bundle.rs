//! Sigstore bundle v0.3 JSON holding a DSSE envelope, as model-signing writes and reads it for
//! key- and certificate-based signing; DSSE pre-authentication encoding (PAE).

use crate::error::{Error, Result};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::{json, Value};
use std::path::Path;

/// Bundle media type written by model-signing 1.x.
pub const BUNDLE_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
/// Other bundle media types accepted on read.
const ACCEPTED_MEDIA_TYPES: [&str; 2] = [
    BUNDLE_MEDIA_TYPE,
    "application/vnd.dev.sigstore.bundle+json;version=0.3",
];
/// DSSE payload type of in-toto statements.
pub const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
/// Largest bundle file read: 16 MiB holds the digests of about 100,000 files or shards
/// (a model of 100 TB in 1 GB shards); anything larger is refused before it is parsed.
pub const MAX_BUNDLE_BYTES: u64 = 16 << 20;

/// The bytes of `path` when it holds at most `max` bytes, `None` when it holds more. Reads at
/// most `max + 1` bytes whatever the file claims (it may grow); a path that is not a regular
/// file (a FIFO, a device) is an error, never opened.
pub(crate) fn read_capped(path: &Path, max: u64) -> Result<Option<Vec<u8>>> {
    use std::io::Read;
    let meta = std::fs::metadata(path).map_err(|e| Error::io("reading", path, e))?;
    if !meta.is_file() {
        // A FIFO or device would block or never end: never opened.
        return Err(Error::NotFileOrDir(path.to_path_buf()));
    }
    if meta.len() > max {
        return Ok(None);
    }
    let f = std::fs::File::open(path).map_err(|e| Error::io("opening", path, e))?;
    let mut bytes = Vec::new();
    f.take(max.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io("reading", path, e))?;
    Ok((bytes.len() as u64 <= max).then_some(bytes))
}

/// DSSE v1 pre-authentication encoding of a payload.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let head = format!(
        "DSSEv1 {} {} {} ",
        payload_type.len(),
        payload_type,
        payload.len()
    );
    let mut out = Vec::with_capacity(head.len() + payload.len());
    out.extend_from_slice(head.as_bytes());
    out.extend_from_slice(payload);
    out
}

/// How the verifier learns the signer's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Material {
    /// A public key given out of band; `hint` is the hex SHA-256 of its SPKI PEM.
    PublicKey {
        /// Key hint (absent in bundles from model-signing before 1.0).
        hint: Option<String>,
    },
    /// DER certificates, signing certificate first, then the rest of the chain.
    Certificates(Vec<Vec<u8>>),
}

/// A DSSE envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// Raw payload bytes (the in-toto statement JSON).
    pub payload: Vec<u8>,
    /// Payload type.
    pub payload_type: String,
    /// Signatures (model-signing writes and checks exactly one).
    pub signatures: Vec<Vec<u8>>,
}

/// A Sigstore bundle carrying a DSSE envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    /// Verification material.
    pub material: Material,
    /// The signed envelope.
    pub envelope: Envelope,
}

impl Bundle {
    /// Serializes to the JSON model-signing writes (compact).
    pub fn to_json(&self) -> String {
        let material = match &self.material {
            Material::PublicKey { hint } => json!({
                "publicKey": { "hint": hint.clone().unwrap_or_default() },
                "tlogEntries": [],
            }),
            Material::Certificates(certs) => json!({
                "x509CertificateChain": {
                    "certificates": certs.iter().map(|c| json!({"rawBytes": B64.encode(c)})).collect::<Vec<_>>(),
                },
                "tlogEntries": [],
            }),
        };
        json!({
            "mediaType": BUNDLE_MEDIA_TYPE,
            "verificationMaterial": material,
            "dsseEnvelope": {
                "payload": B64.encode(&self.envelope.payload),
                "payloadType": self.envelope.payload_type,
                "signatures": self.envelope.signatures.iter()
                    .map(|s| json!({"sig": B64.encode(s), "keyid": ""})).collect::<Vec<_>>(),
            },
        })
        .to_string()
    }

    /// Parses bundle JSON; `src` names the file in errors.
    pub fn from_json(bytes: &[u8], src: &str) -> Result<Self> {
        let bad = |r: String| Error::malformed(src, "bundle", r);
        let v: Value = serde_json::from_slice(bytes).map_err(|e| bad(format!("not JSON: {e}")))?;
        let media = v
            .get("mediaType")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("missing mediaType".into()))?;
        if !ACCEPTED_MEDIA_TYPES.contains(&media) {
            return Err(bad(format!(
                "media type {media:?}, expected {BUNDLE_MEDIA_TYPE:?}"
            )));
        }
        let vm = v
            .get("verificationMaterial")
            .and_then(Value::as_object)
            .ok_or_else(|| bad("missing verificationMaterial".into()))?;
        let b64 = |val: Option<&Value>, what: &str| -> Result<Vec<u8>> {
            let s = val
                .and_then(Value::as_str)
                .ok_or_else(|| bad(format!("missing {what}")))?;
            B64.decode(s.trim())
                .map_err(|e| bad(format!("{what} is not base64: {e}")))
        };
        let material = if let Some(pk) = vm.get("publicKey") {
            let hint = match pk.get("hint") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) if s.is_empty() => None,
                Some(Value::String(s)) => Some(s.clone()),
                Some(_) => return Err(bad("publicKey.hint is not a string".into())),
            };
            Material::PublicKey { hint }
        } else if let Some(chain) = vm.get("x509CertificateChain") {
            let certs = chain
                .get("certificates")
                .and_then(Value::as_array)
                .ok_or_else(|| bad("x509CertificateChain without certificates".into()))?;
            if certs.is_empty() {
                return Err(bad("empty certificate chain".into()));
            }
            Material::Certificates(
                certs
                    .iter()
                    .map(|c| b64(c.get("rawBytes"), "certificate rawBytes"))
                    .collect::<Result<_>>()?,
            )
        } else if let Some(cert) = vm.get("certificate") {
            Material::Certificates(vec![b64(cert.get("rawBytes"), "certificate rawBytes")?])
        } else {
            return Err(bad(
                "verificationMaterial has no publicKey or certificate".into()
            ));
        };
        let env = v.get("dsseEnvelope").ok_or_else(|| {
            bad("no dsseEnvelope (message-signature bundles are not model signatures)".into())
        })?;
        let payload = b64(env.get("payload"), "dsseEnvelope.payload")?;
        let payload_type = env
            .get("payloadType")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("missing dsseEnvelope.payloadType".into()))?
            .to_string();
        let sigs = env
            .get("signatures")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("missing dsseEnvelope.signatures".into()))?;
        if sigs.is_empty() {
            return Err(bad("dsseEnvelope has no signature".into()));
        }
        let signatures = sigs
            .iter()
            .map(|s| b64(s.get("sig"), "signature"))
            .collect::<Result<Vec<_>>>()?;
        Ok(Bundle {
            material,
            envelope: Envelope {
                payload,
                payload_type,
                signatures,
            },
        })
    }

    /// Reads and parses a bundle file.
    pub fn from_file(path: &Path) -> Result<Self> {
        let Some(bytes) = read_capped(path, MAX_BUNDLE_BYTES)? else {
            return Err(Error::malformed(
                path.display().to_string(),
                "bundle",
                format!(
                    "signature file larger than {} MiB: refused",
                    MAX_BUNDLE_BYTES >> 20
                ),
            ));
        };
        Self::from_json(&bytes, &path.display().to_string())
    }

    /// Writes the bundle to a file.
    pub fn write(&self, path: &Path) -> Result<()> {
        std::fs::write(path, self.to_json()).map_err(|e| Error::io("writing", path, e))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A real bundle written by `model_signing sign key` 1.1.1 (model of three small files).
    pub(crate) const PY_BUNDLE: &str = include_str!("../tests/data/model_signing_1.1.1.sig");

    #[test]
    fn pae_matches_dsse_spec_example() {
        // From the DSSE protocol document.
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
    }

    #[test]
    fn parses_model_signing_bundle_and_round_trips() {
        let b = Bundle::from_json(PY_BUNDLE.as_bytes(), "py.sig").unwrap();
        assert_eq!(b.envelope.payload_type, IN_TOTO_PAYLOAD_TYPE);
        assert_eq!(
            b.material,
            Material::PublicKey {
                hint: Some(
                    "c8b3752f7c49600998a85648d4c7776f6a427e34664f4425898937de4ee19333".into()
                )
            }
        );
        assert_eq!(b.envelope.signatures.len(), 1);
        let again = Bundle::from_json(b.to_json().as_bytes(), "x").unwrap();
        assert_eq!(again, b);
    }

    #[test]
    fn malformed_bundles_name_the_problem() {
        for (doc, needle) in [
            ("not json", "not JSON"),
            ("{}", "mediaType"),
            (r#"{"mediaType":"x"}"#, "media type"),
            (
                r#"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{}}"#,
                "no publicKey",
            ),
            (
                r#"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"publicKey":{}}}"#,
                "dsseEnvelope",
            ),
            (
                r#"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"publicKey":{}},"dsseEnvelope":{"payload":"!!","payloadType":"a","signatures":[]}}"#,
                "base64",
            ),
            (
                r#"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"publicKey":{}},"dsseEnvelope":{"payload":"","payloadType":"a","signatures":[]}}"#,
                "no signature",
            ),
        ] {
            let e = Bundle::from_json(doc.as_bytes(), "b.sig")
                .unwrap_err()
                .to_string();
            assert!(e.contains(needle) && e.starts_with("b.sig"), "{doc} -> {e}");
        }
    }
}
