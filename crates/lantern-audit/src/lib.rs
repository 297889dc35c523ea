//! Tamper-evident audit log: an RFC 9162 Merkle tree over appended records, Ed25519-signed
//! checkpoints in the C2SP `tlog-checkpoint` / signed-note format, inclusion and consistency
//! proofs, and a local append-only store with group-commit fsync.
//!
//! Durability policy of [`LocalLog`]: appends are queued to one writer thread, which writes a
//! batch of frames, calls `fdatasync` on the record file and only then acknowledges each record
//! of the batch (a batch is what queued up meanwhile, plus whatever arrives within the optional
//! group-commit window `LogOptions::commit_delay`). An acknowledged record therefore survives a
//! crash (SIGKILL, power loss on a disk that honours flushes). A crash mid-batch leaves at most a
//! torn, unacknowledged tail, which is cut off when the log is reopened. The record file is kept
//! longer than its records, with zeros written and synced ahead of them (64 KiB, growing to 4 MiB
//! at a time): a sync that does not change the file's size skips the inode write, which halves
//! the CPU and the time of each `fdatasync` on ext4. The log ends at the first all-zero frame
//! header with only zeros after it (no record is empty); a damaged frame with anything but zeros
//! after it is reported as corruption and nothing is cut. Checkpoints are signed
//! after the records they cover are durable, every `checkpoint_every` records or
//! `checkpoint_interval`, whichever comes first. What a caller does while a record is not yet
//! durable is its own policy: the guard answers the client without waiting (see
//! `lantern_guard::proxy`), so a crash can lose the records of requests answered during the last
//! unsynced batch, never an acknowledged one. Such callers use `LocalLog::append_deferred`, whose
//! record is copied into a buffer the writer thread takes into its next batch (same `fdatasync`,
//! no callback).

pub mod checkpoint;
pub use lantern_core::merkle;
pub mod pg;
pub mod store;

pub use checkpoint::{Checkpoint, NoteVerifier, Signer};
pub use merkle::{Hash, Tree};
pub use pg::{latest_checkpoint_pg, prove_pg, verify_pg, PgLog};
pub use store::{prove, verify, InclusionProof, LocalLog, LogOptions, VerifyReport};

/// Errors of the audit crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read or written.
    #[error(transparent)]
    Io(#[from] lantern_core::IoError),
    /// A frame of a log file is damaged in a way a crash cannot explain.
    #[error("{path}: corrupt frame at offset {offset}: {message}")]
    Corrupt {
        /// The file involved.
        path: String,
        /// Byte offset of the frame.
        offset: u64,
        /// What is wrong.
        message: String,
    },
    /// A checkpoint note is malformed.
    #[error("invalid checkpoint: {0}")]
    Checkpoint(String),
    /// A checkpoint signature does not verify.
    #[error("bad signature: {0}")]
    Signature(String),
    /// A key is malformed.
    #[error("invalid key: {0}")]
    Key(String),
    /// The stored log disagrees with its own signed checkpoints.
    #[error("{path}: log does not match its signed checkpoint: {message}")]
    Tampered {
        /// The log directory.
        path: String,
        /// What disagrees.
        message: String,
    },
    /// A requested record or proof does not exist.
    #[error("{0}")]
    NotFound(String),
    /// A record was rejected (too large) or the writer has stopped after an I/O failure.
    #[error("append failed: {0}")]
    Append(String),
}

/// Result alias of the audit crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
