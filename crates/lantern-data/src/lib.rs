//! Dataset provenance and poisoning signals for `lantern data`.
//!
//! * [`record`] reads datasets record by record, streaming: CSV/TSV, JSON Lines (also gzip),
//!   Parquet (row groups one at a time) and folders of text or image files, in one canonical
//!   record form. Rows that cannot be parsed are counted and digested as raw bytes, never
//!   dropped; [`jsontext`] keeps JSON values exactly (numbers as written).
//! * [`manifest`] writes a content-addressed manifest: one digest per record, a Merkle root
//!   over them (RFC 9162 hashing, [`merkle`]), schema, counts and label distribution.
//! * [`diff`] compares two versions (manifests or the data itself) record by record, names the
//!   changed fields and attributes changes to git commits.
//! * [`audit`] ranks suspicious records: label-correlated trigger n-grams (G-test with
//!   Bonferroni correction and a content-disagreement check), exact and near duplicates with
//!   conflicting labels (MinHash + LSH), label disagreement with the rest of the data, label
//!   distribution shift against a baseline, length/character outliers, PII ([`pii`]).

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod audit;
mod csvread;
pub mod diff;
pub mod git;
pub mod jsontext;
pub mod manifest;
pub mod merkle;
pub mod pii;
mod pq;
pub mod record;
pub mod show;
pub mod sign;
pub mod stats;
pub mod text;

pub use audit::{audit, AuditOptions, AuditResult};
pub use diff::{diff, DiffOptions, DiffResult};
pub use manifest::{build_manifest, Manifest, ManifestOptions};
pub use record::{DatasetKind, ReadOptions, ReadSummary, Record};

/// Errors of the data crate. Malformed records are not errors (they are counted and warned
/// about); these are failures to open or understand a whole input.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be opened, read or written.
    #[error(transparent)]
    Io(#[from] lantern_core::IoError),
    /// The input format is not recognised or the file is not of that format at all.
    #[error("{path}: {message}")]
    Format {
        /// The file involved.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A manifest could not be parsed.
    #[error("{path}: invalid manifest: {message}")]
    Manifest {
        /// The file involved.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// An option names something that does not exist (a column, a git revision).
    #[error("{0}")]
    Invalid(String),
}

impl Error {
    pub(crate) fn io(path: impl std::fmt::Display, source: std::io::Error) -> Self {
        Error::Io(lantern_core::IoError::new(&path, source))
    }
    pub(crate) fn format(path: impl std::fmt::Display, message: impl Into<String>) -> Self {
        Error::Format {
            path: path.to_string(),
            message: message.into(),
        }
    }
}

/// Result alias for the data crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
