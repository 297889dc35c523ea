//! Keys issued by the guard: stored only as SHA-256 hashes of high-entropy tokens, with owner,
//! scopes (models, endpoints), expiry, revocation and per-key limits; checked in constant time.
//!
//! Store format: one JSON file (`keys_file`), rewritten atomically (temp file + rename) by the
//! `lantern guard keys` commands; the running guard reloads it when it changes. Last-use times are
//! kept by the guard in `<keys_file>.usage.json` so the CLI and the server never write the same file.

use crate::Error;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use subtle::ConstantTimeEq;

/// Prefix of every issued token.
pub const TOKEN_PREFIX: &str = "lg-";
/// Default lifetime of a new key: short-lived keys are the default.
pub const DEFAULT_TTL_SECS: u64 = 7 * 24 * 3600;

/// Current Unix time, seconds.
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// RFC 3339 text of a Unix time (`-` for none).
pub fn format_time(t: Option<u64>) -> String {
    match t {
        None => "-".into(),
        Some(t) => time::OffsetDateTime::from_unix_timestamp(t as i64)
            .ok()
            .and_then(|d| {
                d.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
            .unwrap_or_else(|| t.to_string()),
    }
}

/// What a key may do.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Scopes {
    /// Allowed models (empty = all). A trailing `*` matches a prefix.
    #[serde(default)]
    pub models: Vec<String>,
    /// Allowed endpoint paths (empty = all), e.g. `/v1/chat/completions`.
    #[serde(default)]
    pub endpoints: Vec<String>,
}

impl Scopes {
    /// True when the model is allowed.
    pub fn allows_model(&self, model: &str) -> bool {
        self.models.is_empty()
            || self.models.iter().any(|m| match m.strip_suffix('*') {
                Some(p) => model.starts_with(p),
                None => m == model,
            })
    }

    /// True when the endpoint path is allowed.
    pub fn allows_endpoint(&self, path: &str) -> bool {
        self.endpoints.is_empty() || self.endpoints.iter().any(|e| e == path)
    }
}

/// One issued key as stored (never the token itself).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct KeyRecord {
    /// Public key id (also embedded in the token).
    pub id: String,
    /// Hex SHA-256 of the whole token.
    pub hash: String,
    /// Owner label (person, team, contractor).
    pub owner: String,
    /// Scopes.
    #[serde(default)]
    pub scopes: Scopes,
    /// Creation time, Unix seconds.
    pub created: u64,
    /// Expiry, Unix seconds (`None` = never; not the default).
    pub expires: Option<u64>,
    /// Revocation time, if revoked.
    #[serde(default)]
    pub revoked: Option<u64>,
    /// Key this one replaced (`keys rotate`).
    #[serde(default)]
    pub rotated_from: Option<String>,
    /// Per-key requests/minute overriding the default.
    #[serde(default)]
    pub requests_per_minute: Option<u64>,
    /// Per-key tokens/minute overriding the default.
    #[serde(default)]
    pub tokens_per_minute: Option<u64>,
}

impl KeyRecord {
    /// Why the key cannot be used at `now`, if so.
    pub fn unusable(&self, now: u64) -> Option<&'static str> {
        if self.revoked.is_some() {
            Some("revoked")
        } else if self.expires.is_some_and(|e| now >= e) {
            Some("expired")
        } else {
            None
        }
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct KeyFile {
    keys: Vec<KeyRecord>,
}

/// The key store.
#[derive(Debug, Default)]
pub struct KeyStore {
    path: PathBuf,
    keys: Vec<KeyRecord>,
    by_id: HashMap<String, usize>,
}

/// Parameters of a new key.
#[derive(Debug, Clone, Default)]
pub struct NewKey {
    /// Owner label.
    pub owner: String,
    /// Scopes.
    pub scopes: Scopes,
    /// Lifetime in seconds (`None` = [`DEFAULT_TTL_SECS`], `Some(0)` = no expiry).
    pub ttl_secs: Option<u64>,
    /// Per-key requests/minute.
    pub requests_per_minute: Option<u64>,
    /// Per-key tokens/minute.
    pub tokens_per_minute: Option<u64>,
}

fn random_bytes<const N: usize>() -> Result<[u8; N], Error> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|e| Error::Key(format!("random source: {e}")))?;
    Ok(b)
}

fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl KeyStore {
    /// Loads the store (a missing file is an empty store).
    pub fn load(path: &Path) -> Result<Self, Error> {
        let io = |e| Error::Io(lantern_core::IoError::new(path.display(), e));
        let file: KeyFile = match std::fs::read(path) {
            Ok(b) => serde_json::from_slice(&b)
                .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => KeyFile::default(),
            Err(e) => return Err(io(e)),
        };
        let mut s = Self {
            path: path.to_path_buf(),
            keys: file.keys,
            by_id: HashMap::new(),
        };
        s.reindex();
        Ok(s)
    }

    fn reindex(&mut self) {
        self.by_id = self
            .keys
            .iter()
            .enumerate()
            .map(|(i, k)| (k.id.clone(), i))
            .collect();
    }

    /// Writes the store atomically (temp file, fsync, rename), mode 0600.
    pub fn save(&self) -> Result<(), Error> {
        let io = |e| Error::Io(lantern_core::IoError::new(self.path.display(), e));
        let json = serde_json::to_vec_pretty(&KeyFile {
            keys: self.keys.clone(),
        })
        .map_err(|e| Error::Config(e.to_string()))?;
        crate::write_atomic(&self.path, &json, true).map_err(io)
    }

    /// All keys.
    pub fn keys(&self) -> &[KeyRecord] {
        &self.keys
    }

    /// Looks a key up by id.
    pub fn get(&self, id: &str) -> Option<&KeyRecord> {
        self.by_id.get(id).and_then(|&i| self.keys.get(i))
    }

    /// Issues a key; returns the token (shown once) and its record.
    pub fn create(&mut self, new: NewKey, now: u64) -> Result<(String, KeyRecord), Error> {
        let mut id = hex::encode(random_bytes::<6>()?);
        while self.by_id.contains_key(&id) {
            id = hex::encode(random_bytes::<6>()?);
        }
        let token = format!(
            "{TOKEN_PREFIX}{id}-{}",
            B64URL.encode(random_bytes::<32>()?)
        );
        let expires = match new.ttl_secs {
            Some(0) => None,
            Some(t) => Some(now.saturating_add(t)),
            None => Some(now + DEFAULT_TTL_SECS),
        };
        let rec = KeyRecord {
            id: id.clone(),
            hash: hex::encode(token_hash(&token)),
            owner: new.owner,
            scopes: new.scopes,
            created: now,
            expires,
            revoked: None,
            rotated_from: None,
            requests_per_minute: new.requests_per_minute,
            tokens_per_minute: new.tokens_per_minute,
        };
        self.keys.push(rec.clone());
        self.reindex();
        Ok((token, rec))
    }

    /// Revokes a key now.
    pub fn revoke(&mut self, id: &str, now: u64) -> Result<(), Error> {
        let i = *self
            .by_id
            .get(id)
            .ok_or_else(|| Error::Key(format!("no key {id}")))?;
        if let Some(k) = self.keys.get_mut(i) {
            k.revoked.get_or_insert(now);
        }
        Ok(())
    }

    /// Issues a successor with the same owner, scopes and limits; the old key expires after
    /// `grace_secs`. Returns the new token and record.
    pub fn rotate(
        &mut self,
        id: &str,
        grace_secs: u64,
        ttl_secs: Option<u64>,
        now: u64,
    ) -> Result<(String, KeyRecord), Error> {
        let old = self
            .get(id)
            .cloned()
            .ok_or_else(|| Error::Key(format!("no key {id}")))?;
        if let Some(why) = old.unusable(now) {
            return Err(Error::Key(format!("key {id} is {why}")));
        }
        let ttl = ttl_secs.or_else(|| old.expires.map(|e| e.saturating_sub(old.created)));
        let (token, mut rec) = self.create(
            NewKey {
                owner: old.owner.clone(),
                scopes: old.scopes.clone(),
                ttl_secs: Some(ttl.unwrap_or(0)),
                requests_per_minute: old.requests_per_minute,
                tokens_per_minute: old.tokens_per_minute,
            },
            now,
        )?;
        rec.rotated_from = Some(id.to_string());
        let new_id = rec.id.clone();
        for k in &mut self.keys {
            if k.id == new_id {
                k.rotated_from = Some(id.to_string());
            }
            if k.id == id {
                let until = now.saturating_add(grace_secs);
                k.expires = Some(k.expires.map_or(until, |e| e.min(until)));
            }
        }
        Ok((token, rec))
    }

    /// Authenticates a bearer token: the id selects the record, the SHA-256 of the whole token is
    /// compared in constant time. Unknown ids still cost one hash and one comparison.
    pub fn authenticate(&self, token: &str, now: u64) -> Result<&KeyRecord, AuthError> {
        self.authenticate_index(token, now).map(|i| &self.keys[i])
    }

    /// As [`KeyStore::authenticate`], returning a handle that shares the store instead of a
    /// borrow (what the gateway keeps for a request: cloning it copies no strings).
    pub fn authenticate_shared(
        store: &std::sync::Arc<KeyStore>,
        token: &str,
        now: u64,
    ) -> Result<KeyRef, AuthError> {
        store.authenticate_index(token, now).map(|index| KeyRef {
            store: store.clone(),
            index,
        })
    }

    fn authenticate_index(&self, token: &str, now: u64) -> Result<usize, AuthError> {
        let presented = token_hash(token);
        let id = token
            .strip_prefix(TOKEN_PREFIX)
            .and_then(|r| r.split_once('-'))
            .map(|(id, _)| id);
        let index = id.and_then(|id| self.by_id.get(id).copied());
        let rec = index.and_then(|i| self.keys.get(i));
        let mut stored = [0u8; 32];
        let known = match rec.map(|r| hex::decode_to_slice(&r.hash, &mut stored)) {
            Some(Ok(())) => 1u8,
            _ => 0u8,
        };
        let equal = presented.ct_eq(&stored).unwrap_u8() & known;
        match (equal, rec) {
            (1, Some(r)) => match r.unusable(now) {
                Some("revoked") => Err(AuthError::Revoked),
                Some(_) => Err(AuthError::Expired),
                None => index.ok_or(AuthError::Invalid),
            },
            _ => Err(AuthError::Invalid),
        }
    }
}

/// An authenticated key: the record inside the key store it was checked against (which stays
/// alive while the handle does, even when the store is reloaded meanwhile).
#[derive(Debug, Clone)]
pub struct KeyRef {
    store: std::sync::Arc<KeyStore>,
    index: usize,
}

impl std::ops::Deref for KeyRef {
    type Target = KeyRecord;
    fn deref(&self) -> &KeyRecord {
        &self.store.keys[self.index]
    }
}

/// Why authentication failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthError {
    /// No bearer token was sent.
    Missing,
    /// Unknown or wrong token.
    Invalid,
    /// The key has expired.
    Expired,
    /// The key was revoked.
    Revoked,
}

impl AuthError {
    /// Message for the client.
    pub fn message(self) -> &'static str {
        match self {
            Self::Missing => "missing API key: send Authorization: Bearer <key>",
            Self::Invalid => "invalid API key",
            Self::Expired => "API key has expired",
            Self::Revoked => "API key has been revoked",
        }
    }
}

/// Last-use times by key id (`<keys_file>.usage.json`).
pub type Usage = BTreeMap<String, u64>;

/// Path of the usage file next to a key store.
pub fn usage_path(keys_file: &Path) -> PathBuf {
    let mut s = keys_file.as_os_str().to_owned();
    s.push(".usage.json");
    PathBuf::from(s)
}

/// Reads the usage file (missing = empty).
pub fn load_usage(keys_file: &Path) -> Usage {
    std::fs::read(usage_path(keys_file))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

/// Writes the usage file atomically.
pub fn save_usage(keys_file: &Path, usage: &Usage) -> Result<(), Error> {
    let p = usage_path(keys_file);
    let bytes = serde_json::to_vec(usage).map_err(|e| Error::Config(e.to_string()))?;
    // like the key store: a temporary file, synced, renamed over the old one (a crash leaves the
    // old file or the new one, never a torn one), readable by the owner only
    crate::write_atomic(&p, &bytes, true)
        .map_err(|e| Error::Io(lantern_core::IoError::new(p.display(), e)))
}

/// One line of the access audit.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct AuditFinding {
    /// Key id.
    pub id: String,
    /// Owner.
    pub owner: String,
    /// `expired`, `never-used` or `unused` (not used for the given number of days).
    pub status: String,
    /// Last use, Unix seconds.
    pub last_used: Option<u64>,
}

/// `keys audit`: keys that are expired but not revoked, never used, or unused for `unused_days`.
pub fn access_audit(
    store: &KeyStore,
    usage: &Usage,
    unused_days: u64,
    now: u64,
) -> Vec<AuditFinding> {
    let mut out = Vec::new();
    for k in store.keys() {
        if k.revoked.is_some() {
            continue;
        }
        let last = usage.get(&k.id).copied();
        let status = if k.expires.is_some_and(|e| now >= e) {
            "expired"
        } else if last.is_none() {
            "never-used"
        } else if last.is_some_and(|l| now.saturating_sub(l) >= unused_days * 86_400) {
            "unused"
        } else {
            continue;
        };
        out.push(AuditFinding {
            id: k.id.clone(),
            owner: k.owner.clone(),
            status: status.into(),
            last_used: last,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_is_saved_whole_and_private() {
        let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let keys = d.path().join("keys.json");
        let mut u = Usage::new();
        u.insert("k1".into(), 1_700_000_000);
        save_usage(&keys, &u).unwrap_or_else(|e| panic!("{e}"));
        u.insert("k2".into(), 1_700_000_060);
        save_usage(&keys, &u).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(load_usage(&keys), u);
        let names: Vec<_> = std::fs::read_dir(d.path())
            .unwrap_or_else(|e| panic!("{e}"))
            .map(|e| e.map(|e| e.file_name()).unwrap_or_default())
            .collect();
        assert_eq!(
            names,
            vec![std::ffi::OsString::from("keys.json.usage.json")]
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(usage_path(&keys))
                .unwrap_or_else(|e| panic!("{e}"))
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn create_authenticate_rotate_revoke() {
        let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = d.path().join("keys.json");
        let mut s = KeyStore::load(&path).unwrap_or_else(|e| panic!("{e}"));
        let (tok, rec) = s
            .create(
                NewKey {
                    owner: "alice".into(),
                    ..NewKey::default()
                },
                1000,
            )
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(tok.starts_with("lg-") && tok.len() > 50);
        assert_eq!(rec.expires, Some(1000 + DEFAULT_TTL_SECS));
        assert!(!serde_json::to_string(&rec)
            .unwrap_or_default()
            .contains(&tok[15..]));
        s.save().unwrap_or_else(|e| panic!("{e}"));
        let s = KeyStore::load(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            s.authenticate(&tok, 2000).map(|r| r.owner.clone()),
            Ok("alice".into())
        );
        let mut wrong = tok.clone();
        wrong.push('x');
        assert_eq!(s.authenticate(&wrong, 2000).err(), Some(AuthError::Invalid));
        assert_eq!(
            s.authenticate("lg-000000000000-zzz", 2000).err(),
            Some(AuthError::Invalid)
        );
        assert_eq!(
            s.authenticate(&tok, 1000 + DEFAULT_TTL_SECS).err(),
            Some(AuthError::Expired)
        );
        let mut s = s;
        let (tok2, rec2) = s
            .rotate(&rec.id, 60, None, 3000)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(rec2.rotated_from.as_deref(), Some(rec.id.as_str()));
        assert!(s.authenticate(&tok, 3059).is_ok());
        assert_eq!(s.authenticate(&tok, 3060).err(), Some(AuthError::Expired));
        assert!(s.authenticate(&tok2, 3060).is_ok());
        s.revoke(&rec2.id, 4000).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.authenticate(&tok2, 4001).err(), Some(AuthError::Revoked));
    }

    #[test]
    fn scopes_and_access_audit() {
        let sc = Scopes {
            models: vec!["gpt-4o*".into(), "llama".into()],
            endpoints: vec!["/v1/chat/completions".into()],
        };
        assert!(
            sc.allows_model("gpt-4o-mini")
                && sc.allows_model("llama")
                && !sc.allows_model("llama2")
        );
        assert!(
            sc.allows_endpoint("/v1/chat/completions") && !sc.allows_endpoint("/v1/embeddings")
        );
        let mut s = KeyStore::default();
        let day = 86_400;
        let (_, a) = s
            .create(
                NewKey {
                    owner: "used".into(),
                    ..NewKey::default()
                },
                0,
            )
            .unwrap_or_else(|e| panic!("{e}"));
        let (_, b) = s
            .create(
                NewKey {
                    owner: "stale".into(),
                    ttl_secs: Some(0),
                    ..NewKey::default()
                },
                0,
            )
            .unwrap_or_else(|e| panic!("{e}"));
        let (_, c) = s
            .create(
                NewKey {
                    owner: "never".into(),
                    ttl_secs: Some(0),
                    ..NewKey::default()
                },
                0,
            )
            .unwrap_or_else(|e| panic!("{e}"));
        let (_, e) = s
            .create(
                NewKey {
                    owner: "gone".into(),
                    ttl_secs: Some(day),
                    ..NewKey::default()
                },
                0,
            )
            .unwrap_or_else(|e| panic!("{e}"));
        let usage: Usage = [
            (a.id.clone(), 5 * day),
            (b.id.clone(), day),
            (e.id.clone(), day / 2),
        ]
        .into_iter()
        .collect();
        let got = access_audit(&s, &usage, 3, 6 * day);
        let st: Vec<(&str, &str)> = got
            .iter()
            .map(|f| (f.owner.as_str(), f.status.as_str()))
            .collect();
        assert_eq!(
            st,
            vec![
                ("stale", "unused"),
                ("never", "never-used"),
                ("gone", "expired")
            ]
        );
        let _ = c;
    }
}
