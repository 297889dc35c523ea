//! Signed checkpoints in the C2SP `tlog-checkpoint` text format, signed as C2SP signed notes
//! with Ed25519 (`— <name> <base64(key id || signature)>` lines; Go `sumdb/note` compatible keys).

use crate::merkle::Hash;
use crate::Error;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use sha2::{Digest, Sha256};

/// Signature algorithm byte of Ed25519 in signed notes.
const ALG_ED25519: u8 = 0x01;
/// Upper bound on the size of a checkpoint note we agree to parse.
pub const MAX_NOTE_BYTES: usize = 64 * 1024;

/// An unsigned checkpoint: the log's origin, tree size and root hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's origin line (a schema-less URL-like name, e.g. `lantern.example/guard`).
    pub origin: String,
    /// Number of records covered.
    pub size: u64,
    /// RFC 9162 root hash of the first `size` records.
    pub root: Hash,
}

impl Checkpoint {
    /// The checkpoint body (`origin\nsize\nbase64(root)\n`), the text that is signed.
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root)
        )
    }

    /// Parses a checkpoint body (extension lines after the root are ignored).
    pub fn parse_body(text: &str) -> Result<Self, Error> {
        let bad = |m: &str| Error::Checkpoint(m.to_string());
        let mut lines = text.split('\n');
        let origin = lines
            .next()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| bad("missing origin line"))?;
        let size = lines
            .next()
            .and_then(|s| {
                if s.len() > 1 && s.starts_with('0') {
                    None
                } else {
                    s.parse::<u64>().ok()
                }
            })
            .ok_or_else(|| bad("invalid tree size line"))?;
        let root_b64 = lines.next().ok_or_else(|| bad("missing root hash line"))?;
        let root: Hash = B64
            .decode(root_b64)
            .ok()
            .and_then(|v| v.try_into().ok())
            .ok_or_else(|| bad("root hash is not 32 bytes of base64"))?;
        Ok(Self {
            origin: origin.to_string(),
            size,
            root,
        })
    }
}

/// The 4-byte key id of an Ed25519 note key: `SHA-256(name || '\n' || 0x01 || pubkey)[..4]`.
fn key_id(name: &str, public: &[u8; 32]) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([ALG_ED25519]);
    h.update(public);
    let d = h.finalize();
    [d[0], d[1], d[2], d[3]]
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name.contains('+')
        && !name.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// An Ed25519 checkpoint signer with its note key name.
pub struct Signer {
    name: String,
    key: SigningKey,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// A fresh key from the operating system's random source.
    pub fn generate(name: &str) -> Result<Self, Error> {
        if !valid_name(name) {
            return Err(Error::Key(format!("invalid key name {name:?}")));
        }
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| Error::Key(format!("random source: {e}")))?;
        Ok(Self {
            name: name.to_string(),
            key: SigningKey::from_bytes(&seed),
        })
    }

    /// Parses `PRIVATE+KEY+<name>+<hex id>+<base64(0x01 || seed)>` (Go `note` private key format).
    pub fn parse(text: &str) -> Result<Self, Error> {
        let bad = |m: &str| Error::Key(m.to_string());
        let rest = text
            .trim()
            .strip_prefix("PRIVATE+KEY+")
            .ok_or_else(|| bad("not a PRIVATE+KEY note signer key"))?;
        let mut parts = rest.splitn(3, '+');
        let (Some(name), Some(id), Some(b64)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad("signer key needs name+id+key"));
        };
        let raw = B64
            .decode(b64)
            .map_err(|_| bad("signer key is not base64"))?;
        let [alg, seed @ ..] = raw.as_slice() else {
            return Err(bad("empty signer key"));
        };
        if *alg != ALG_ED25519 {
            return Err(bad("signer key is not ed25519"));
        }
        let seed: [u8; 32] = seed
            .try_into()
            .map_err(|_| bad("ed25519 seed must be 32 bytes"))?;
        let s = Self {
            name: name.to_string(),
            key: SigningKey::from_bytes(&seed),
        };
        if !valid_name(name) || hex::encode(s.id()) != id {
            return Err(bad("signer key id does not match its name and key"));
        }
        Ok(s)
    }

    /// The private key in `PRIVATE+KEY+...` text form (keep secret).
    pub fn to_private_string(&self) -> String {
        let mut raw = vec![ALG_ED25519];
        raw.extend_from_slice(&self.key.to_bytes());
        format!(
            "PRIVATE+KEY+{}+{}+{}",
            self.name,
            hex::encode(self.id()),
            B64.encode(raw)
        )
    }

    fn id(&self) -> [u8; 4] {
        key_id(&self.name, &self.key.verifying_key().to_bytes())
    }

    /// The matching verifier.
    pub fn verifier(&self) -> NoteVerifier {
        NoteVerifier {
            name: self.name.clone(),
            key: self.key.verifying_key(),
        }
    }

    /// Signs a checkpoint, returning the full signed note text.
    pub fn sign(&self, cp: &Checkpoint) -> String {
        self.sign_note(&cp.body())
    }

    /// Signs arbitrary note text (which must end with a newline), returning the signed note.
    pub fn sign_note(&self, body: &str) -> String {
        let sig = self.key.sign(body.as_bytes());
        let mut blob = self.id().to_vec();
        blob.extend_from_slice(&sig.to_bytes());
        format!("{body}\n\u{2014} {} {}\n", self.name, B64.encode(blob))
    }
}

/// An Ed25519 note verifier key (`<name>+<hex id>+<base64(0x01 || pubkey)>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    key: VerifyingKey,
}

impl NoteVerifier {
    /// Parses the verifier key text form.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let bad = |m: &str| Error::Key(m.to_string());
        let mut parts = text.trim().splitn(3, '+');
        let (Some(name), Some(id), Some(b64)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad("verifier key needs name+id+key"));
        };
        let raw = B64
            .decode(b64)
            .map_err(|_| bad("verifier key is not base64"))?;
        let [alg, pk @ ..] = raw.as_slice() else {
            return Err(bad("empty verifier key"));
        };
        if *alg != ALG_ED25519 {
            return Err(bad("verifier key is not ed25519"));
        }
        let pk: [u8; 32] = pk
            .try_into()
            .map_err(|_| bad("ed25519 public key must be 32 bytes"))?;
        let key = VerifyingKey::from_bytes(&pk).map_err(|_| bad("invalid ed25519 public key"))?;
        if !valid_name(name) || hex::encode(key_id(name, &pk)) != id {
            return Err(bad("verifier key id does not match its name and key"));
        }
        Ok(Self {
            name: name.to_string(),
            key,
        })
    }

    /// The text form.
    pub fn to_string_form(&self) -> String {
        let pk = self.key.to_bytes();
        let mut raw = vec![ALG_ED25519];
        raw.extend_from_slice(&pk);
        format!(
            "{}+{}+{}",
            self.name,
            hex::encode(key_id(&self.name, &pk)),
            B64.encode(raw)
        )
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Opens a signed note: checks that one signature line by this key verifies over the body,
    /// then parses the checkpoint. Signatures by other keys (e.g. witnesses) are ignored.
    pub fn open(&self, note: &str) -> Result<Checkpoint, Error> {
        Checkpoint::parse_body(self.verify_note(note)?)
    }

    /// Checks that one signature line by this key verifies over the note text; returns the text.
    pub fn verify_note<'a>(&self, note: &'a str) -> Result<&'a str, Error> {
        let bad = |m: &str| Error::Checkpoint(m.to_string());
        if note.len() > MAX_NOTE_BYTES {
            return Err(bad("note too large"));
        }
        let split = note
            .rfind("\n\n")
            .ok_or_else(|| bad("note has no signature block"))?;
        let (body, sigs) = (&note[..split + 1], &note[split + 2..]);
        let id = key_id(&self.name, &self.key.to_bytes());
        let mut found = false;
        for line in sigs.lines() {
            let Some(rest) = line.strip_prefix("\u{2014} ") else {
                return Err(bad("malformed signature line"));
            };
            let Some((name, b64)) = rest.split_once(' ') else {
                return Err(bad("malformed signature line"));
            };
            if name != self.name {
                continue;
            }
            let Ok(blob) = B64.decode(b64) else { continue };
            if blob.len() != 68 || blob[..4] != id {
                continue;
            }
            let Ok(sig) = Signature::from_slice(&blob[4..]) else {
                continue;
            };
            if self.key.verify(body.as_bytes(), &sig).is_ok() {
                found = true;
                break;
            }
        }
        if !found {
            return Err(Error::Signature(format!(
                "no valid signature by {} on checkpoint",
                self.name
            )));
        }
        Ok(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_open_roundtrip_and_tamper() {
        let s = Signer::generate("lantern.test/audit").unwrap_or_else(|e| panic!("{e}"));
        let v = s.verifier();
        let cp = Checkpoint {
            origin: "lantern.test/audit".into(),
            size: 42,
            root: [7u8; 32],
        };
        let note = s.sign(&cp);
        assert!(note.starts_with("lantern.test/audit\n42\nBwcH"));
        assert_eq!(v.open(&note).ok(), Some(cp.clone()));
        let forged = note.replace("\n42\n", "\n43\n");
        assert!(matches!(v.open(&forged), Err(Error::Signature(_))));
        // keys survive their text forms
        let s2 = Signer::parse(&s.to_private_string()).unwrap_or_else(|e| panic!("{e}"));
        let v2 = NoteVerifier::parse(&v.to_string_form()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(v2.open(&s2.sign(&cp)).ok(), Some(cp));
        // another key's signature is not accepted
        let other = Signer::generate("lantern.test/audit").unwrap_or_else(|e| panic!("{e}"));
        assert!(v
            .open(&other.sign(&Checkpoint {
                origin: "x".into(),
                size: 1,
                root: [0; 32]
            }))
            .is_err());
    }

    #[test]
    fn go_note_vector() {
        // Known-answer test from golang.org/x/mod/sumdb/note (note_test.go, TestSign):
        // key "PeterNeumann", text "If you think cryptography is the answer to your problem,\n...".
        let skey = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
        let s = Signer::parse(skey).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            s.verifier().to_string_form(),
            "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
        );
        let text = "If you think cryptography is the answer to your problem,\n\
                    then you don't know what your problem is.\n";
        let note = s.sign_note(text);
        assert_eq!(
            note,
            format!("{text}\n\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n")
        );
        assert_eq!(s.verifier().verify_note(&note).ok(), Some(text));
    }
}
