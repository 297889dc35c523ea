//! Signing keys: generation, PEM (PKCS#8, SEC1, SPKI) parsing and writing, signing and verifying
//! for ECDSA P-256/P-384 (DER signatures, as model-signing) and Ed25519.

use crate::error::{Error, Result};
use p256::pkcs8::{
    DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding,
};
use rand_core::OsRng;
use sha2::Digest as _;
use std::path::Path;

/// Supported key types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// ECDSA over NIST P-256 with SHA-256 (interoperable with model-signing).
    P256,
    /// ECDSA over NIST P-384 with SHA-384 (interoperable with model-signing).
    P384,
    /// Ed25519 (Lantern only: model-signing 1.x accepts elliptic-curve ECDSA keys only).
    Ed25519,
}

impl KeyKind {
    /// Parses `p256` / `ecdsa-p256`, `p384`, `ed25519`.
    pub fn from_name(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "p256" | "p-256" | "ecdsa" | "ecdsa-p256" | "secp256r1" | "prime256v1" => {
                Ok(KeyKind::P256)
            }
            "p384" | "p-384" | "ecdsa-p384" | "secp384r1" => Ok(KeyKind::P384),
            "ed25519" => Ok(KeyKind::Ed25519),
            other => Err(Error::Unsupported {
                what: "key type",
                value: other.to_string(),
            }),
        }
    }

    /// Human name.
    pub fn name(self) -> &'static str {
        match self {
            KeyKind::P256 => "ecdsa-p256",
            KeyKind::P384 => "ecdsa-p384",
            KeyKind::Ed25519 => "ed25519",
        }
    }
}

/// A private key able to sign.
pub enum SigningKey {
    /// ECDSA P-256.
    P256(p256::ecdsa::SigningKey),
    /// ECDSA P-384.
    P384(p384::ecdsa::SigningKey),
    /// Ed25519.
    Ed25519(Box<ed25519_dalek::SigningKey>),
}

/// A public key able to verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyingKey {
    /// ECDSA P-256.
    P256(p256::ecdsa::VerifyingKey),
    /// ECDSA P-384.
    P384(p384::ecdsa::VerifyingKey),
    /// Ed25519.
    Ed25519(ed25519_dalek::VerifyingKey),
}

fn key_err(src: &str, reason: impl Into<String>) -> Error {
    Error::Key {
        path: src.to_string(),
        reason: reason.into(),
    }
}

impl SigningKey {
    /// Generates a fresh key.
    pub fn generate(kind: KeyKind) -> Self {
        match kind {
            KeyKind::P256 => SigningKey::P256(p256::ecdsa::SigningKey::random(&mut OsRng)),
            KeyKind::P384 => SigningKey::P384(p384::ecdsa::SigningKey::random(&mut OsRng)),
            KeyKind::Ed25519 => {
                SigningKey::Ed25519(Box::new(ed25519_dalek::SigningKey::generate(&mut OsRng)))
            }
        }
    }

    /// Parses a PEM private key: PKCS#8 (`PRIVATE KEY`) of any supported type or SEC1 (`EC PRIVATE KEY`).
    pub fn from_pem(pem: &str, src: &str) -> Result<Self> {
        Self::from_pem_with_password(pem, src, None)
    }

    /// Parses a PEM private key as [`SigningKey::from_pem`] does, and also an encrypted PKCS#8 key
    /// (`ENCRYPTED PRIVATE KEY`, PBES2 with PBKDF2 or scrypt and AES-CBC, as written by
    /// `openssl pkcs8 -topk8` or Python's `cryptography`) given its `password`.
    pub fn from_pem_with_password(pem: &str, src: &str, password: Option<&[u8]>) -> Result<Self> {
        if pem.contains("Proc-Type: 4,ENCRYPTED") {
            return Err(key_err(
                src,
                "legacy OpenSSL-encrypted keys are not supported; convert it to encrypted PKCS#8 \
                 (openssl pkcs8 -topk8 -v2 aes-256-cbc -in KEY -out NEW.pem)",
            ));
        }
        if pem.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") {
            let Some(password) = password else {
                return Err(key_err(
                    src,
                    "the private key is encrypted: give its password (LANTERN_KEY_PASSWORD or \
                     --password-file)",
                ));
            };
            let (label, doc) = pkcs8::Document::from_pem(pem)
                .map_err(|e| key_err(src, format!("malformed encrypted private key: {e}")))?;
            if label != "ENCRYPTED PRIVATE KEY" {
                return Err(key_err(src, format!("unexpected PEM block {label:?}")));
            }
            let info = pkcs8::EncryptedPrivateKeyInfo::try_from(doc.as_bytes())
                .map_err(|e| key_err(src, format!("malformed encrypted private key: {e}")))?;
            check_kdf_cost(&info.encryption_algorithm).map_err(|m| key_err(src, m))?;
            let plain = info.decrypt(password).map_err(|e| {
                key_err(
                    src,
                    format!("cannot decrypt the private key (wrong password?): {e}"),
                )
            })?;
            return Self::from_pkcs8_der(plain.as_bytes(), src);
        }
        if pem.contains("-----BEGIN EC PRIVATE KEY-----") {
            if let Ok(k) = p256::SecretKey::from_sec1_pem(pem) {
                return Ok(SigningKey::P256(k.into()));
            }
            if let Ok(k) = p384::SecretKey::from_sec1_pem(pem) {
                return Ok(SigningKey::P384(k.into()));
            }
            return Err(key_err(
                src,
                "EC private key is not on a supported curve (P-256, P-384)",
            ));
        }
        if pem.contains("-----BEGIN PRIVATE KEY-----") {
            let (_, doc) = pkcs8::SecretDocument::from_pem(pem)
                .map_err(|e| key_err(src, format!("malformed private key: {e}")))?;
            return Self::from_pkcs8_der(doc.as_bytes(), src);
        }
        if pem.contains("PUBLIC KEY-----") {
            return Err(key_err(
                src,
                "this is a public key; signing needs the private key",
            ));
        }
        Err(key_err(src, "not a PEM private key"))
    }

    /// Parses an unencrypted PKCS#8 `PrivateKeyInfo` (DER) of any supported type.
    fn from_pkcs8_der(der: &[u8], src: &str) -> Result<Self> {
        if let Ok(k) = p256::ecdsa::SigningKey::from_pkcs8_der(der) {
            return Ok(SigningKey::P256(k));
        }
        if let Ok(k) = p384::ecdsa::SigningKey::from_pkcs8_der(der) {
            return Ok(SigningKey::P384(k));
        }
        if let Ok(k) = ed25519_dalek::SigningKey::from_pkcs8_der(der) {
            return Ok(SigningKey::Ed25519(Box::new(k)));
        }
        Err(key_err(
            src,
            "unsupported private key type (expected ECDSA P-256, P-384 or Ed25519)",
        ))
    }

    /// Reads a PEM private key from a file, decrypting it with `password` when it is encrypted.
    pub fn from_file_with_password(path: &Path, password: Option<&[u8]>) -> Result<Self> {
        let text = read_pem(path)?;
        Self::from_pem_with_password(&text, &path.display().to_string(), password)
    }

    /// Reads a PEM private key from a file.
    pub fn from_file(path: &Path) -> Result<Self> {
        Self::from_file_with_password(path, None)
    }

    /// Key type.
    pub fn kind(&self) -> KeyKind {
        match self {
            SigningKey::P256(_) => KeyKind::P256,
            SigningKey::P384(_) => KeyKind::P384,
            SigningKey::Ed25519(_) => KeyKind::Ed25519,
        }
    }

    /// The matching public key.
    pub fn verifying_key(&self) -> VerifyingKey {
        match self {
            SigningKey::P256(k) => VerifyingKey::P256(*k.verifying_key()),
            SigningKey::P384(k) => VerifyingKey::P384(*k.verifying_key()),
            SigningKey::Ed25519(k) => VerifyingKey::Ed25519(k.verifying_key()),
        }
    }

    /// Signs a message: ECDSA (SHA-256 / SHA-384, DER-encoded) or Ed25519 (64 raw bytes).
    pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
        use signature_traits::Signer as _;
        match self {
            SigningKey::P256(k) => {
                let s: p256::ecdsa::Signature = k.sign(msg);
                s.to_der().as_bytes().to_vec()
            }
            SigningKey::P384(k) => {
                let s: p384::ecdsa::Signature = k.sign(msg);
                s.to_der().as_bytes().to_vec()
            }
            SigningKey::Ed25519(k) => k.sign(msg).to_bytes().to_vec(),
        }
    }

    /// PKCS#8 PEM encoding.
    pub fn to_pem(&self) -> Result<String> {
        let r = match self {
            SigningKey::P256(k) => k.to_pkcs8_pem(LineEnding::LF),
            SigningKey::P384(k) => k.to_pkcs8_pem(LineEnding::LF),
            SigningKey::Ed25519(k) => k.to_pkcs8_pem(LineEnding::LF),
        };
        r.map(|z| z.to_string())
            .map_err(|e| key_err("private key", format!("encoding failed: {e}")))
    }

    /// Encrypted PKCS#8 PEM (`ENCRYPTED PRIVATE KEY`: PBES2 with scrypt and AES-256-CBC, which
    /// OpenSSL, Python's `cryptography` and so model_signing's `--password` read).
    pub fn to_encrypted_pem(&self, password: &[u8]) -> Result<String> {
        let err =
            |e: &dyn std::fmt::Display| key_err("private key", format!("encryption failed: {e}"));
        let der = match self {
            SigningKey::P256(k) => k.to_pkcs8_der(),
            SigningKey::P384(k) => k.to_pkcs8_der(),
            SigningKey::Ed25519(k) => k.to_pkcs8_der(),
        }
        .map_err(|e| err(&e))?;
        let info = pkcs8::PrivateKeyInfo::try_from(der.as_bytes()).map_err(|e| err(&e))?;
        let enc = info.encrypt(OsRng, password).map_err(|e| err(&e))?;
        enc.to_pem("ENCRYPTED PRIVATE KEY", LineEnding::LF)
            .map(|z| z.to_string())
            .map_err(|e| err(&e))
    }
}

mod signature_traits {
    pub use p256::ecdsa::signature::{Signer, Verifier};
}

impl VerifyingKey {
    /// Parses a PEM `PUBLIC KEY` (SubjectPublicKeyInfo).
    pub fn from_pem(pem: &str, src: &str) -> Result<Self> {
        if !pem.contains("-----BEGIN PUBLIC KEY-----") {
            if pem.contains("PRIVATE KEY-----") {
                return Err(key_err(
                    src,
                    "this is a private key; verification needs the public key",
                ));
            }
            if pem.contains("CERTIFICATE-----") {
                return Err(key_err(src, "this is a certificate; pass it with --certificate-chain, or give the public key"));
            }
            return Err(key_err(src, "not a PEM public key"));
        }
        if let Ok(k) = p256::ecdsa::VerifyingKey::from_public_key_pem(pem) {
            return Ok(VerifyingKey::P256(k));
        }
        if let Ok(k) = p384::ecdsa::VerifyingKey::from_public_key_pem(pem) {
            return Ok(VerifyingKey::P384(k));
        }
        if let Ok(k) = ed25519_dalek::VerifyingKey::from_public_key_pem(pem) {
            return Ok(VerifyingKey::Ed25519(k));
        }
        Err(key_err(
            src,
            "unsupported public key type (expected ECDSA P-256, P-384 or Ed25519)",
        ))
    }

    /// Parses a DER SubjectPublicKeyInfo.
    pub fn from_spki_der(der: &[u8], src: &str) -> Result<Self> {
        if let Ok(k) = p256::ecdsa::VerifyingKey::from_public_key_der(der) {
            return Ok(VerifyingKey::P256(k));
        }
        if let Ok(k) = p384::ecdsa::VerifyingKey::from_public_key_der(der) {
            return Ok(VerifyingKey::P384(k));
        }
        if let Ok(k) = ed25519_dalek::VerifyingKey::from_public_key_der(der) {
            return Ok(VerifyingKey::Ed25519(k));
        }
        Err(key_err(
            src,
            "unsupported public key type (expected ECDSA P-256, P-384 or Ed25519)",
        ))
    }

    /// Reads a PEM public key from a file.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = read_pem(path)?;
        Self::from_pem(&text, &path.display().to_string())
    }

    /// Key type.
    pub fn kind(&self) -> KeyKind {
        match self {
            VerifyingKey::P256(_) => KeyKind::P256,
            VerifyingKey::P384(_) => KeyKind::P384,
            VerifyingKey::Ed25519(_) => KeyKind::Ed25519,
        }
    }

    /// SPKI PEM exactly as OpenSSL / Python `cryptography` writes it (64-column base64, LF).
    pub fn to_pem(&self) -> Result<String> {
        let r = match self {
            VerifyingKey::P256(k) => k.to_public_key_pem(LineEnding::LF),
            VerifyingKey::P384(k) => k.to_public_key_pem(LineEnding::LF),
            VerifyingKey::Ed25519(k) => k.to_public_key_pem(LineEnding::LF),
        };
        r.map_err(|e| key_err("public key", format!("encoding failed: {e}")))
    }

    /// The `verificationMaterial.publicKey.hint` model-signing records: hex SHA-256 of the SPKI PEM.
    pub fn hint(&self) -> Result<String> {
        Ok(hex::encode(sha2::Sha256::digest(self.to_pem()?.as_bytes())))
    }

    /// Checks a signature over `msg`; `false` for a bad or malformed signature.
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        use signature_traits::Verifier as _;
        match self {
            VerifyingKey::P256(k) => p256::ecdsa::Signature::from_der(sig)
                .map(|s| k.verify(msg, &s).is_ok())
                .unwrap_or(false),
            VerifyingKey::P384(k) => p384::ecdsa::Signature::from_der(sig)
                .map(|s| k.verify(msg, &s).is_ok())
                .unwrap_or(false),
            VerifyingKey::Ed25519(k) => ed25519_dalek::Signature::from_slice(sig)
                .map(|s| k.verify_strict(msg, &s).is_ok())
                .unwrap_or(false),
        }
    }
}

/// Most PBKDF2 iterations accepted when decrypting a key (OWASP recommends 600,000 for
/// HMAC-SHA-256; 10 million takes seconds).
const MAX_PBKDF2_ITERATIONS: u32 = 10_000_000;
/// Most scrypt memory accepted when decrypting a key (128 · r · N bytes): 1 GiB.
const MAX_SCRYPT_BYTES: u128 = 1 << 30;

/// Refuses key-derivation parameters that would take minutes or exhaust memory before the
/// password could even be checked (a key file is read before anything else is trusted).
fn check_kdf_cost(scheme: &pkcs8::pkcs5::EncryptionScheme<'_>) -> std::result::Result<(), String> {
    use pkcs8::pkcs5::pbes2::Kdf;
    let pkcs8::pkcs5::EncryptionScheme::Pbes2(params) = scheme else {
        return Err("PBES1 key encryption (DES/RC2) is obsolete and not supported; re-encrypt the key with PBES2 (openssl pkcs8 -topk8 -v2 aes-256-cbc)".into());
    };
    match &params.kdf {
        Kdf::Pbkdf2(p) if p.iteration_count > MAX_PBKDF2_ITERATIONS => Err(format!(
            "key encryption asks for {} PBKDF2 iterations (at most {MAX_PBKDF2_ITERATIONS} accepted)",
            p.iteration_count
        )),
        Kdf::Scrypt(p) => {
            let bytes = 128u128
                * u128::from(p.block_size)
                * u128::from(p.cost_parameter)
                * u128::from(p.parallelization.max(1));
            if bytes > MAX_SCRYPT_BYTES {
                Err(format!(
                    "key encryption asks for scrypt N={} r={} p={} ({} MiB; at most 1024 MiB accepted)",
                    p.cost_parameter,
                    p.block_size,
                    p.parallelization,
                    bytes >> 20
                ))
            } else {
                Ok(())
            }
        }
        _ => Ok(()),
    }
}

/// Largest key or certificate file read.
const MAX_PEM: u64 = 1 << 20;

fn read_pem(path: &Path) -> Result<String> {
    let Some(bytes) = crate::bundle::read_capped(path, MAX_PEM)? else {
        return Err(key_err(
            &path.display().to_string(),
            "file too large for a PEM key",
        ));
    };
    String::from_utf8(bytes).map_err(|_| {
        key_err(
            &path.display().to_string(),
            "not a PEM file (not UTF-8 text)",
        )
    })
}

/// Writes a new key pair: the private key created with mode 0600 (never world-readable, even
/// briefly), the public key with 0644. Refuses to overwrite unless `force`. With a `password` the
/// private key is written encrypted ([`SigningKey::to_encrypted_pem`]).
pub fn write_key_pair(
    key: &SigningKey,
    private: &Path,
    public: &Path,
    force: bool,
    password: Option<&[u8]>,
) -> Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true);
    if force {
        opts.create(true).truncate(true);
    } else {
        opts.create_new(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let pem = match password {
        Some(p) => key.to_encrypted_pem(p)?,
        None => key.to_pem()?,
    };
    let mut f = opts
        .open(private)
        .map_err(|e| Error::io("creating", private, e))?;
    #[cfg(unix)]
    {
        // A pre-existing file overwritten with --force keeps its old mode: tighten it.
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(|e| Error::io("setting permissions on", private, e))?;
    }
    f.write_all(pem.as_bytes())
        .map_err(|e| Error::io("writing", private, e))?;
    let pub_pem = key.verifying_key().to_pem()?;
    let mut popts = std::fs::OpenOptions::new();
    popts.write(true);
    if force {
        popts.create(true).truncate(true);
    } else {
        popts.create_new(true);
    }
    let mut pf = popts
        .open(public)
        .map_err(|e| Error::io("creating", public, e))?;
    pf.write_all(pub_pem.as_bytes())
        .map_err(|e| Error::io("writing", public, e))?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_each_kind_and_reject_tampering() {
        for kind in [KeyKind::P256, KeyKind::P384, KeyKind::Ed25519] {
            let k = SigningKey::generate(kind);
            let sig = k.sign(b"payload");
            let v = k.verifying_key();
            assert!(v.verify(b"payload", &sig), "{kind:?}");
            assert!(!v.verify(b"payloaD", &sig), "{kind:?}");
            let mut bad = sig.clone();
            if let Some(b) = bad.last_mut() {
                *b ^= 1;
            }
            assert!(!v.verify(b"payload", &bad), "{kind:?}");
            // PEM round trips.
            let k2 = SigningKey::from_pem(&k.to_pem().unwrap(), "t").unwrap();
            assert_eq!(k2.verifying_key(), v);
            let v2 = VerifyingKey::from_pem(&v.to_pem().unwrap(), "t").unwrap();
            assert_eq!(v2, v);
            assert_eq!(v2.kind(), kind);
        }
    }

    #[test]
    fn hint_matches_model_signing_for_a_known_key() {
        // Public key and hint produced by `openssl ec -pubout` + model_signing 1.1.1.
        let pem = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEUxZr9KielbuTI+lyH7dfyTYzPIRz\nQsCKKfABGfII/VN8vSwSxDDdjnm2qV++rV5deiX+wcA3aJOqvybItt7L/g==\n-----END PUBLIC KEY-----\n";
        let v = VerifyingKey::from_pem(pem, "t").unwrap();
        assert_eq!(v.to_pem().unwrap(), pem);
        assert_eq!(
            v.hint().unwrap(),
            "c8b3752f7c49600998a85648d4c7776f6a427e34664f4425898937de4ee19333"
        );
    }

    #[test]
    fn wrong_material_gives_clear_errors() {
        let k = SigningKey::generate(KeyKind::P256);
        let pubpem = k.verifying_key().to_pem().unwrap();
        let e = SigningKey::from_pem(&pubpem, "pub.pem")
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("public key"), "{e}");
        let e = VerifyingKey::from_pem(&k.to_pem().unwrap(), "k.pem")
            .unwrap_err()
            .to_string();
        assert!(e.contains("private key"), "{e}");
        let e = SigningKey::from_pem("-----BEGIN ENCRYPTED PRIVATE KEY-----\n", "e")
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("encrypted") && e.contains("password"), "{e}");
        let e = SigningKey::from_pem_with_password(
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
            "e.pem",
            Some(b"pw"),
        )
        .err()
        .unwrap()
        .to_string();
        assert!(e.contains("e.pem") && e.contains("malformed"), "{e}");
        assert!(VerifyingKey::from_pem("garbage", "g").is_err());
    }

    #[test]
    fn encrypted_keys_round_trip_and_reject_a_wrong_password() {
        for kind in [KeyKind::P256, KeyKind::P384, KeyKind::Ed25519] {
            let k = SigningKey::generate(kind);
            let pem = k.to_encrypted_pem(b"correct horse").unwrap();
            assert!(
                pem.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"),
                "{pem}"
            );
            let back =
                SigningKey::from_pem_with_password(&pem, "k.pem", Some(b"correct horse")).unwrap();
            assert_eq!(back.verifying_key(), k.verifying_key(), "{kind:?}");
            let e = SigningKey::from_pem_with_password(&pem, "k.pem", Some(b"wrong"))
                .err()
                .unwrap()
                .to_string();
            assert!(e.contains("k.pem") && e.contains("wrong password"), "{e}");
        }
        // Written by `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 |
        // openssl pkcs8 -topk8 -v2 aes-256-cbc -v2prf hmacWithSHA256 -passout pass:lantern`
        // (PBES2 with PBKDF2, the other common scheme).
        let pem = "-----BEGIN ENCRYPTED PRIVATE KEY-----
MIHsMFcGCSqGSIb3DQEFDTBKMCkGCSqGSIb3DQEFDDAcBAiMuu94X6OZBwICCAAw
DAYIKoZIhvcNAgkFADAdBglghkgBZQMEASoEEAnd1+aF95qbSrHbVjAQVbAEgZBd
mrgx6vbK7odbNBF3efFvFcXTqc7OckDeRdRYqoqKy/MIRSaDCGLzfwdFgP/dyycw
Qk9MsfPqhNSWLJq2ELoICIhda1r3mc7+goTynbN2ve1Pou6e+fT58vfMzfy+83K5
WGaH7ITbUmOMqRbq69Wf38FWf5ir37X92qQYoWsvhhxDfZcQ3xFPqQ8ykK7NUUQ=
-----END ENCRYPTED PRIVATE KEY-----
";
        let k = SigningKey::from_pem_with_password(pem, "openssl.pem", Some(b"lantern")).unwrap();
        assert_eq!(
            k.verifying_key().to_pem().unwrap(),
            "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEzUER2SY7oQ2Vc0Yt+SjtFN6Kc5hM
54nFHxV76vzedAhrXgM0WW9NDmRJ0gtYbg9AzLNpwbgredlV03Aq+xADMw==
-----END PUBLIC KEY-----
"
        );
    }

    /// An encrypted key whose KDF parameters are `params`, with junk ciphertext (nothing is
    /// derived while encoding).
    fn forged_encrypted_pem(params: pkcs8::pkcs5::pbes2::Parameters<'_>) -> String {
        use pkcs8::der::Encode as _;
        let info = pkcs8::EncryptedPrivateKeyInfo {
            encryption_algorithm: pkcs8::pkcs5::EncryptionScheme::Pbes2(params),
            encrypted_data: &[0u8; 64],
        };
        let der = info.to_der().unwrap();
        pkcs8::der::pem::encode_string("ENCRYPTED PRIVATE KEY", LineEnding::LF, &der).unwrap()
    }

    #[test]
    fn costly_key_derivation_is_refused_before_it_runs() {
        let iv = [7u8; 16];
        // scrypt N=2^26, r=8: 64 GiB of memory.
        let heavy = pkcs8::pkcs5::scrypt::Params::new(26, 8, 1, 32).unwrap();
        let pem = forged_encrypted_pem(
            pkcs8::pkcs5::pbes2::Parameters::scrypt_aes256cbc(heavy, b"saltsalt", &iv).unwrap(),
        );
        let e = SigningKey::from_pem_with_password(&pem, "big.pem", Some(b"pw"))
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("big.pem") && e.contains("scrypt N=67108864"),
            "{e}"
        );
        let pem = forged_encrypted_pem(
            pkcs8::pkcs5::pbes2::Parameters::pbkdf2_sha256_aes256cbc(50_000_000, b"saltsalt", &iv)
                .unwrap(),
        );
        let e = SigningKey::from_pem_with_password(&pem, "slow.pem", Some(b"pw"))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("PBKDF2 iterations"), "{e}");
        // Affordable parameters get as far as decryption (which fails on the junk).
        let light = pkcs8::pkcs5::scrypt::Params::new(10, 8, 1, 32).unwrap();
        let pem = forged_encrypted_pem(
            pkcs8::pkcs5::pbes2::Parameters::scrypt_aes256cbc(light, b"saltsalt", &iv).unwrap(),
        );
        let e = SigningKey::from_pem_with_password(&pem, "ok.pem", Some(b"pw"))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("cannot decrypt"), "{e}");
    }

    #[cfg(unix)]
    #[test]
    fn private_key_is_created_0600() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let (sk, pk) = (d.path().join("k.pem"), d.path().join("k.pub"));
        write_key_pair(
            &SigningKey::generate(KeyKind::Ed25519),
            &sk,
            &pk,
            false,
            None,
        )
        .unwrap();
        assert_eq!(
            std::fs::metadata(&sk).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert!(
            write_key_pair(&SigningKey::generate(KeyKind::P256), &sk, &pk, false, None).is_err()
        );
        let k = SigningKey::from_file(&sk).unwrap();
        assert_eq!(k.kind(), KeyKind::Ed25519);
        assert_eq!(VerifyingKey::from_file(&pk).unwrap(), k.verifying_key());
    }
}
