//! The crate's single error type: every failure names the file, key or field involved.

use std::path::PathBuf;

/// Errors raised while hashing, signing or verifying.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An I/O operation on a path failed.
    #[error("{op} {source}")]
    Io {
        /// What was being done ("reading", "opening", ...).
        op: &'static str,
        /// The path involved and the underlying error.
        source: lantern_core::IoError,
    },
    /// A path in the model is a symlink while symlinks are not allowed.
    #[error("{0}: is a symlink; pass --allow-symlinks to hash the file it points to")]
    SymlinkNotAllowed(PathBuf),
    /// A path is neither a regular file nor a directory (special file, broken or looping symlink).
    #[error("{0}: not a regular file or directory (special file, broken symlink or symlink loop)")]
    NotFileOrDir(PathBuf),
    /// A symlink inside the model points to a directory. model_signing neither hashes nor
    /// records such links, so a signature could not protect what they point to: refused.
    #[error("{0}: symlink to a directory; signatures cannot cover it (model_signing neither hashes nor records directory links): replace it with a copy of the directory or remove it")]
    DirectorySymlink(PathBuf),
    /// A file changed (size or modification time) between the walk and the end of hashing:
    /// the digest may match neither version, so nothing is signed or verified.
    #[error(
        "{path}: file changed while it was being hashed ({what}); re-run when the files are stable"
    )]
    Changed {
        /// The file.
        path: PathBuf,
        /// What differs, e.g. `size 1000 -> 500 bytes`.
        what: String,
    },
    /// A symlink resolves to a location outside the model directory.
    #[error("{path}: symlink escapes the model directory (points to {target})")]
    EscapingSymlink {
        /// The symlink.
        path: PathBuf,
        /// Where it resolves to.
        target: PathBuf,
    },
    /// A path name is not valid UTF-8 and cannot be recorded in a signature.
    #[error("{0}: path is not valid UTF-8")]
    NonUtf8Path(PathBuf),
    /// The model directory is nested deeper than the walker allows.
    #[error("{0}: directory nesting deeper than {max} levels", max = crate::manifest::MAX_DEPTH)]
    TooDeep(PathBuf),
    /// A file changed size while it was being hashed.
    #[error("{path}: file shrank while hashing (expected {expected} bytes from offset {offset})")]
    ShortRead {
        /// The file.
        path: PathBuf,
        /// Start of the range.
        offset: u64,
        /// Bytes expected.
        expected: u64,
    },
    /// A key file could not be parsed or is of an unsupported type.
    #[error("{path}: {reason}")]
    Key {
        /// The key file (or a description of the key source).
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// A signature bundle or statement is malformed.
    #[error("{path}: malformed {what}: {reason}")]
    Malformed {
        /// The bundle or statement file.
        path: String,
        /// Which document ("bundle", "statement", ...).
        what: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The cryptographic signature does not verify with the given key.
    #[error("{0}: signature does not verify with the given key")]
    BadSignature(String),
    /// The bundle names a different public key than the one given.
    #[error("{path}: key mismatch: the bundle's public key hint {hint} does not match the given key ({actual})")]
    KeyMismatch {
        /// The bundle.
        path: String,
        /// Hint recorded in the bundle.
        hint: String,
        /// Hint of the key given.
        actual: String,
    },
    /// A certificate chain did not validate.
    #[error("{path}: certificate chain rejected: {reason}")]
    Certificate {
        /// The bundle or certificate file.
        path: String,
        /// Why the chain was rejected.
        reason: String,
    },
    /// An unsupported option or value (hash algorithm, serialization method, ...).
    #[error("unsupported {what}: {value}")]
    Unsupported {
        /// What kind of value.
        what: &'static str,
        /// The value.
        value: String,
    },
    /// An argument given by the caller is invalid.
    #[error("{0}")]
    Invalid(String),
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Wraps an I/O error with the operation and path.
    pub fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            op,
            source: lantern_core::IoError::new(path.into().display(), source),
        }
    }

    /// A malformed-document error.
    pub fn malformed(
        path: impl Into<String>,
        what: &'static str,
        reason: impl Into<String>,
    ) -> Self {
        Error::Malformed {
            path: path.into(),
            what,
            reason: reason.into(),
        }
    }
}
