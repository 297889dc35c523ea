//! Streaming digests of whole files and of byte ranges, with one fixed-size read buffer per
//! thread so memory stays bounded whatever the model size.

use crate::error::{Error, Result};
use sha2::Digest as _;
use std::cell::RefCell;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// Size of the per-thread read buffer.
pub const READ_BUFFER: usize = 4 << 20;

/// A content hash algorithm, named as the OpenSSF Model Signing format names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashAlgo {
    /// SHA-256 (`"sha256"`), the default.
    Sha256,
    /// BLAKE2b-512 (`"blake2b"`; model-signing's configuration calls it `"blake2"`).
    Blake2b,
    /// BLAKE3 (`"blake3"`).
    Blake3,
}

impl HashAlgo {
    /// Name recorded in manifests (`hash_type` and resource `algorithm`).
    pub fn name(self) -> &'static str {
        match self {
            HashAlgo::Sha256 => "sha256",
            HashAlgo::Blake2b => "blake2b",
            HashAlgo::Blake3 => "blake3",
        }
    }

    /// Parses a `hash_type` / algorithm name.
    pub fn from_name(name: &str) -> Result<Self> {
        match name {
            "sha256" => Ok(HashAlgo::Sha256),
            "blake2" | "blake2b" => Ok(HashAlgo::Blake2b),
            "blake3" => Ok(HashAlgo::Blake3),
            other => Err(Error::Unsupported {
                what: "hash algorithm",
                value: other.to_string(),
            }),
        }
    }

    /// A fresh streaming hasher.
    pub fn hasher(self) -> Hasher {
        match self {
            HashAlgo::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
            HashAlgo::Blake2b => Hasher::Blake2b(blake2::Blake2b512::new()),
            HashAlgo::Blake3 => Hasher::Blake3(Box::new(blake3::Hasher::new())),
        }
    }

    /// One-shot digest of a byte slice.
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        let mut h = self.hasher();
        h.update(data);
        h.finish()
    }
}

/// A streaming hasher for one of the supported algorithms.
pub enum Hasher {
    /// SHA-256 state.
    Sha256(sha2::Sha256),
    /// BLAKE2b state.
    Blake2b(blake2::Blake2b512),
    /// BLAKE3 state.
    Blake3(Box<blake3::Hasher>),
}

impl Hasher {
    /// Absorbs bytes.
    pub fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(data),
            Hasher::Blake2b(h) => h.update(data),
            Hasher::Blake3(h) => {
                h.update(data);
            }
        }
    }

    /// Returns the digest.
    pub fn finish(self) -> Vec<u8> {
        match self {
            Hasher::Sha256(h) => h.finalize().to_vec(),
            Hasher::Blake2b(h) => h.finalize().to_vec(),
            Hasher::Blake3(h) => h.finalize().as_bytes().to_vec(),
        }
    }
}

thread_local! {
    static BUFFER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Hashes `len` bytes of `path` from `offset`, or the whole file to its end when `len` is `None`.
/// `progress` is called with the number of bytes consumed after each read.
pub fn hash_file_range(
    path: &Path,
    algo: HashAlgo,
    offset: u64,
    len: Option<u64>,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Vec<u8>> {
    let mut file = File::open(path).map_err(|e| Error::io("opening", path, e))?;
    if offset > 0 {
        file.seek(SeekFrom::Start(offset))
            .map_err(|e| Error::io("seeking in", path, e))?;
    }
    let mut hasher = algo.hasher();
    BUFFER.with(|cell| -> Result<()> {
        let mut buf = cell.borrow_mut();
        if buf.len() < READ_BUFFER {
            buf.resize(READ_BUFFER, 0);
        }
        let mut remaining = len;
        loop {
            let want = match remaining {
                Some(0) => break,
                Some(r) => usize::try_from(r).unwrap_or(usize::MAX).min(buf.len()),
                None => buf.len(),
            };
            let Some(slice) = buf.get_mut(..want) else {
                break;
            };
            let n = match file.read(slice) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::io("reading", path, e)),
            };
            if n == 0 {
                if let (Some(_), Some(expected)) = (remaining, len) {
                    return Err(Error::ShortRead {
                        path: path.to_path_buf(),
                        offset,
                        expected,
                    });
                }
                break;
            }
            if let Some(chunk) = slice.get(..n) {
                hasher.update(chunk);
            }
            progress(n as u64);
            if let Some(r) = remaining.as_mut() {
                *r -= n as u64;
            }
        }
        Ok(())
    })?;
    Ok(hasher.finish())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn known_sha256_of_file_and_range() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::File::create(&p)
            .unwrap()
            .write_all(b"0123abcd")
            .unwrap();
        // Values from model-signing's own doc examples.
        let whole = hash_file_range(&p, HashAlgo::Sha256, 4, Some(4), &|_| {}).unwrap();
        assert_eq!(
            hex::encode(whole),
            "88d4266fd4e6338d13b845fcf289579d209c897823b9217da3e161936f031589"
        );
        let all = hash_file_range(&p, HashAlgo::Sha256, 0, None, &|_| {}).unwrap();
        assert_eq!(all, HashAlgo::Sha256.digest(b"0123abcd"));
    }

    #[test]
    fn short_read_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"abc").unwrap();
        let err = hash_file_range(&p, HashAlgo::Sha256, 1, Some(10), &|_| {}).unwrap_err();
        assert!(
            matches!(err, Error::ShortRead { expected: 10, .. }),
            "{err}"
        );
    }

    #[test]
    fn progress_counts_every_byte_across_buffer_boundaries() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        let data = vec![7u8; READ_BUFFER + 123];
        std::fs::write(&p, &data).unwrap();
        let seen = std::sync::atomic::AtomicU64::new(0);
        let d = hash_file_range(&p, HashAlgo::Blake3, 0, None, &|n| {
            seen.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        })
        .unwrap();
        assert_eq!(seen.into_inner(), data.len() as u64);
        assert_eq!(d, blake3::hash(&data).as_bytes().to_vec());
    }

    #[test]
    fn algorithm_names_round_trip() {
        for a in [HashAlgo::Sha256, HashAlgo::Blake2b, HashAlgo::Blake3] {
            assert_eq!(HashAlgo::from_name(a.name()).unwrap(), a);
        }
        assert_eq!(HashAlgo::from_name("blake2").unwrap(), HashAlgo::Blake2b);
        assert!(HashAlgo::from_name("md5").is_err());
    }
}
