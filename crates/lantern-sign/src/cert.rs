//! X.509 certificate chains for certificate-based model signing: load trusted CA certificates,
//! validate a bundle's chain to them (signatures, CA constraints, validity at signing time, key usage)
//! and return the signing key.

use crate::error::{Error, Result};
use crate::keys::VerifyingKey;
use der::{Decode, Encode};
use std::path::{Path, PathBuf};
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages};
use x509_cert::Certificate;

/// Longest chain followed from the signing certificate to a root.
const MAX_CHAIN: usize = 8;
const OID_ECDSA_SHA256: &str = "1.2.840.10045.4.3.2";
const OID_ECDSA_SHA384: &str = "1.2.840.10045.4.3.3";
const OID_ED25519: &str = "1.3.101.112";
const OID_RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";
const OID_RSA_SHA256: &str = "1.2.840.113549.1.1.11";
const OID_RSA_SHA384: &str = "1.2.840.113549.1.1.12";
const OID_RSA_SHA512: &str = "1.2.840.113549.1.1.13";
/// Smallest RSA modulus accepted for a CA key (NIST SP 800-131A).
const MIN_RSA_BITS: usize = 2048;
const OID_CODE_SIGNING: &str = "1.3.6.1.5.5.7.3.3";

/// Trusted root certificates.
pub struct TrustStore {
    roots: Vec<Certificate>,
}

fn cert_err(src: &str, reason: impl Into<String>) -> Error {
    Error::Certificate {
        path: src.to_string(),
        reason: reason.into(),
    }
}

/// Parses every certificate of a PEM file.
pub fn load_pem_certificates(path: &Path) -> Result<Vec<Certificate>> {
    let Some(bytes) = crate::bundle::read_capped(path, 16 << 20)? else {
        return Err(cert_err(
            &path.display().to_string(),
            "certificate file larger than 16 MiB",
        ));
    };
    parse_pem_certificates(&bytes, &path.display().to_string())
}

/// Parses every certificate of PEM text; `src` names it in errors.
pub fn parse_pem_certificates(bytes: &[u8], src: &str) -> Result<Vec<Certificate>> {
    // x509-cert 0.2.5's chain loader underflows on input that is empty once its trailing line
    // breaks are stripped (found by the cert_chain fuzz target): answer that case here.
    if bytes.iter().all(|b| matches!(b, b'\r' | b'\n')) {
        return Err(cert_err(src, "no certificate found (empty file)"));
    }
    let certs = Certificate::load_pem_chain(bytes)
        .map_err(|e| cert_err(src, format!("not a PEM certificate file: {e}")))?;
    if certs.is_empty() {
        return Err(cert_err(src, "no certificate found"));
    }
    Ok(certs)
}

impl TrustStore {
    /// Builds a store from already parsed root certificates.
    pub fn from_certificates(roots: Vec<Certificate>) -> Self {
        TrustStore { roots }
    }

    /// Loads roots from PEM files (each may hold several certificates).
    pub fn from_pem_files(paths: &[PathBuf]) -> Result<Self> {
        let mut roots = Vec::new();
        for p in paths {
            roots.extend(load_pem_certificates(p)?);
        }
        if roots.is_empty() {
            return Err(Error::Invalid("no trusted certificate given".into()));
        }
        Ok(TrustStore { roots })
    }

    /// Validates `chain` (DER, signing certificate first) up to one of the roots, at the signing
    /// certificate's notBefore time as model-signing does, and returns the signing public key.
    pub fn verify_chain(&self, chain: &[Vec<u8>], src: &str) -> Result<VerifyingKey> {
        let certs = chain
            .iter()
            .enumerate()
            .map(|(i, d)| {
                Certificate::from_der(d)
                    .map_err(|e| cert_err(src, format!("certificate {i} is not valid DER: {e}")))
            })
            .collect::<Result<Vec<_>>>()?;
        let Some(leaf) = certs.first() else {
            return Err(cert_err(src, "empty certificate chain"));
        };
        let at = leaf.tbs_certificate.validity.not_before.to_unix_duration();
        check_validity(leaf, at, src, "signing certificate")?;
        check_signing_usage(leaf, src)?;
        let mut current = leaf;
        let mut anchored = self.roots.iter().any(|r| r == leaf);
        let mut depth = 0;
        while !anchored {
            depth += 1;
            if depth > MAX_CHAIN {
                return Err(cert_err(
                    src,
                    format!("no path to a trusted root within {MAX_CHAIN} certificates"),
                ));
            }
            if let Some(root) = self.roots.iter().find(|r| issued_by(current, r)) {
                check_validity(root, at, src, "root certificate")?;
                anchored = true;
                continue;
            }
            let Some(next) = certs
                .iter()
                .skip(1)
                .find(|c| *c != current && issued_by(current, c))
            else {
                return Err(cert_err(
                    src,
                    format!(
                        "{} is not issued by a trusted root or by a certificate in the chain",
                        current.tbs_certificate.subject
                    ),
                ));
            };
            check_validity(next, at, src, "intermediate certificate")?;
            if !is_ca(next) {
                return Err(cert_err(
                    src,
                    format!("{} is not a CA certificate", next.tbs_certificate.subject),
                ));
            }
            current = next;
        }
        let spki = leaf
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .map_err(|e| cert_err(src, format!("signing certificate key: {e}")))?;
        VerifyingKey::from_spki_der(&spki, src)
    }
}

fn check_validity(c: &Certificate, at: std::time::Duration, src: &str, what: &str) -> Result<()> {
    let v = &c.tbs_certificate.validity;
    if at < v.not_before.to_unix_duration() || at > v.not_after.to_unix_duration() {
        return Err(cert_err(
            src,
            format!(
                "{what} {} is not valid at signing time",
                c.tbs_certificate.subject
            ),
        ));
    }
    Ok(())
}

fn extension<T: for<'a> Decode<'a> + der::oid::AssociatedOid>(c: &Certificate) -> Option<T> {
    c.tbs_certificate
        .extensions
        .as_ref()?
        .iter()
        .find(|e| e.extn_id == T::OID)
        .and_then(|e| T::from_der(e.extn_value.as_bytes()).ok())
}

fn is_ca(c: &Certificate) -> bool {
    extension::<BasicConstraints>(c).is_some_and(|b| b.ca)
}

fn check_signing_usage(c: &Certificate, src: &str) -> Result<()> {
    let ku = extension::<KeyUsage>(c).is_some_and(|k| k.0.contains(KeyUsages::DigitalSignature));
    let eku = extension::<ExtendedKeyUsage>(c)
        .is_some_and(|e| e.0.iter().any(|o| o.to_string() == OID_CODE_SIGNING));
    if ku || eku {
        Ok(())
    } else {
        Err(cert_err(src, "signing certificate cannot be used for signing (no digitalSignature key usage or codeSigning extended key usage)"))
    }
}

/// True when `issuer`'s subject is `child`'s issuer and `issuer`'s key verifies `child`'s signature.
fn issued_by(child: &Certificate, issuer: &Certificate) -> bool {
    if child.tbs_certificate.issuer != issuer.tbs_certificate.subject {
        return false;
    }
    let (Ok(tbs), Ok(spki)) = (
        child.tbs_certificate.to_der(),
        issuer.tbs_certificate.subject_public_key_info.to_der(),
    ) else {
        return false;
    };
    let Some(sig) = child.signature.as_bytes() else {
        return false;
    };
    let alg = child.signature_algorithm.oid.to_string();
    let issuer_alg = issuer
        .tbs_certificate
        .subject_public_key_info
        .algorithm
        .oid
        .to_string();
    if issuer_alg == OID_RSA_ENCRYPTION {
        return verify_rsa(&spki, &alg, &tbs, sig);
    }
    let Ok(key) = VerifyingKey::from_spki_der(&spki, "issuer") else {
        return false;
    };
    verify_with_algorithm(&key, &alg, &tbs, sig)
}

/// Checks an RSA issuer's PKCS#1 v1.5 signature (SHA-256/384/512) over `msg`: the common form
/// of enterprise CAs above an ECDSA signing certificate. RSASSA-PSS and keys under
/// [`MIN_RSA_BITS`] are refused.
fn verify_rsa(spki: &[u8], alg: &str, msg: &[u8], sig: &[u8]) -> bool {
    use rsa::pkcs1v15::{Signature, VerifyingKey as RsaKey};
    use rsa::pkcs8::DecodePublicKey as _;
    use rsa::signature::Verifier as _;
    use rsa::traits::PublicKeyParts as _;
    let Ok(key) = rsa::RsaPublicKey::from_public_key_der(spki) else {
        return false;
    };
    if key.n().bits() < MIN_RSA_BITS {
        return false;
    }
    let Ok(sig) = Signature::try_from(sig) else {
        return false;
    };
    match alg {
        OID_RSA_SHA256 => RsaKey::<sha2::Sha256>::new(key).verify(msg, &sig).is_ok(),
        OID_RSA_SHA384 => RsaKey::<sha2::Sha384>::new(key).verify(msg, &sig).is_ok(),
        OID_RSA_SHA512 => RsaKey::<sha2::Sha512>::new(key).verify(msg, &sig).is_ok(),
        _ => false,
    }
}

fn verify_with_algorithm(key: &VerifyingKey, alg: &str, msg: &[u8], sig: &[u8]) -> bool {
    use p256::ecdsa::signature::hazmat::PrehashVerifier;
    use sha2::Digest as _;
    let digest = match alg {
        OID_ECDSA_SHA256 => sha2::Sha256::digest(msg).to_vec(),
        OID_ECDSA_SHA384 => sha2::Sha384::digest(msg).to_vec(),
        OID_ED25519 => return matches!(key, VerifyingKey::Ed25519(_)) && key.verify(msg, sig),
        _ => return false,
    };
    match key {
        VerifyingKey::P256(k) => p256::ecdsa::Signature::from_der(sig)
            .is_ok_and(|s| k.verify_prehash(&digest, &s).is_ok()),
        VerifyingKey::P384(k) => p384::ecdsa::Signature::from_der(sig)
            .is_ok_and(|s| k.verify_prehash(&digest, &s).is_ok()),
        VerifyingKey::Ed25519(_) => false,
    }
}

/// Reads a signing certificate and checks it carries the public half of `key`; returns its DER.
pub fn signing_certificate_der(path: &Path, key: &VerifyingKey) -> Result<Vec<u8>> {
    let certs = load_pem_certificates(path)?;
    let src = path.display().to_string();
    let leaf = certs
        .first()
        .ok_or_else(|| cert_err(&src, "no certificate found"))?;
    let spki = leaf
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .map_err(|e| cert_err(&src, e.to_string()))?;
    if VerifyingKey::from_spki_der(&spki, &src)? != *key {
        return Err(cert_err(
            &src,
            "the certificate's public key does not match the private key",
        ));
    }
    leaf.to_der().map_err(|e| cert_err(&src, e.to_string()))
}

/// DER encodings of every certificate in PEM files (the rest of a signing chain).
pub fn chain_der(paths: &[PathBuf]) -> Result<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    for p in paths {
        for c in load_pem_certificates(p)? {
            out.push(
                c.to_der()
                    .map_err(|e| cert_err(&p.display().to_string(), e.to_string()))?,
            );
        }
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn der(pem: &str) -> Vec<u8> {
        parse_pem_certificates(pem.as_bytes(), "t").unwrap()[0]
            .to_der()
            .unwrap()
    }

    const ROOT: &str = include_str!("../tests/data/cert_root.pem");
    const INTER: &str = include_str!("../tests/data/cert_intermediate.pem");
    const LEAF: &str = include_str!("../tests/data/cert_leaf.pem");
    const NOSIGN: &str = include_str!("../tests/data/cert_leaf_nosign.pem");

    fn store(pem: &str) -> TrustStore {
        TrustStore::from_certificates(parse_pem_certificates(pem.as_bytes(), "t").unwrap())
    }

    #[test]
    fn empty_and_blank_certificate_files_are_errors() {
        for input in [&b""[..], b"\n", b"\r\n\n"] {
            let e = parse_pem_certificates(input, "ca.pem")
                .unwrap_err()
                .to_string();
            assert!(e.contains("ca.pem") && e.contains("no certificate"), "{e}");
        }
    }

    #[test]
    fn chain_through_intermediate_to_root() {
        let key = store(ROOT)
            .verify_chain(&[der(LEAF), der(INTER)], "b")
            .unwrap();
        assert_eq!(key.kind(), crate::KeyKind::P256);
        // Intermediate trusted directly also anchors the chain.
        assert!(store(INTER).verify_chain(&[der(LEAF)], "b").is_ok());
    }

    #[test]
    fn rejects_missing_link_wrong_root_and_non_signing_leaf() {
        let e = store(ROOT)
            .verify_chain(&[der(LEAF)], "b")
            .unwrap_err()
            .to_string();
        assert!(e.contains("not issued by a trusted root"), "{e}");
        let e = store(LEAF)
            .verify_chain(&[der(INTER)], "b")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("cannot be used for signing") || e.contains("not issued"),
            "{e}"
        );
        let e = store(ROOT)
            .verify_chain(&[der(NOSIGN), der(INTER)], "b")
            .unwrap_err()
            .to_string();
        assert!(e.contains("cannot be used for signing"), "{e}");
        let e = store(ROOT)
            .verify_chain(&[vec![0x30, 0x03, 0x02, 0x01, 0x00]], "b")
            .unwrap_err()
            .to_string();
        assert!(e.contains("not valid DER"), "{e}");
    }

    #[test]
    fn verifies_model_signing_certificate_bundle() {
        use crate::oms::{verify_model, Trust, VerifyOptions};
        let d = tempfile::tempdir().unwrap();
        let m = d.path().join("model");
        std::fs::create_dir(&m).unwrap();
        std::fs::write(m.join("w.bin"), b"weights\n").unwrap();
        let sig = d.path().join("cert.sig");
        std::fs::write(
            &sig,
            include_str!("../tests/data/model_signing_1.1.1_cert.sig"),
        )
        .unwrap();
        let st = store(ROOT);
        let v = verify_model(&m, &sig, &Trust::Roots(&st), &VerifyOptions::default()).unwrap();
        assert!(v.diff.is_empty(), "{:?}", v.diff);
        let rogue = store(NOSIGN);
        let e =
            verify_model(&m, &sig, &Trust::Roots(&rogue), &VerifyOptions::default()).unwrap_err();
        assert!(matches!(e, Error::Certificate { .. }), "{e}");
    }
}
