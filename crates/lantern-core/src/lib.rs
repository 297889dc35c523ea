//! Shared vocabulary of Lantern: [`Finding`], [`Severity`], [`Location`], [`Report`],
//! the output formats (human, JSON, SARIF 2.1.0), `lantern.toml` configuration and baselines.
//!
//! Analysers produce findings; the CLI renders reports. Nothing here reads the files being scanned.

pub mod analyser;
pub mod baseline;
pub mod config;
pub mod finding;
pub mod merkle;
pub mod output;
pub mod pii;
pub mod readme;
pub mod term;

pub use baseline::Baseline;
pub use config::Config;
pub use finding::{
    Category, CommitInfo, Finding, Location, Report, ScanRule, Severity, Warning, INCOMPLETE_RULE,
};

/// An I/O operation on a file, directory, socket or thread failed: the one error type every
/// Lantern crate wraps (`#[error(transparent)] Io(#[from] IoError)`), shown as `path: cause`.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {source}")]
pub struct IoError {
    /// The file (or address, or thread) involved.
    pub path: String,
    /// The underlying error.
    pub source: std::io::Error,
}

impl IoError {
    /// The error of an operation on `path`.
    pub fn new(path: impl std::fmt::Display, source: std::io::Error) -> Self {
        IoError {
            path: path.to_string(),
            source,
        }
    }

    /// A `map_err` adapter for an operation on the file at `path` (shown with `display()`).
    pub fn at(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Self + '_ {
        move |source| IoError::new(path.display(), source)
    }

    /// The kind of the underlying error.
    pub fn kind(&self) -> std::io::ErrorKind {
        self.source.kind()
    }
}

/// Errors raised by the core crate (configuration and baseline I/O).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read or written.
    #[error(transparent)]
    Io(#[from] IoError),
    /// A configuration file is not valid TOML or has unknown keys.
    #[error("{path}: invalid configuration: {message}")]
    Config {
        /// The file involved.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A baseline file is not valid.
    #[error("{path}: invalid baseline: {message}")]
    Baseline {
        /// The file involved.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A value given on the command line or in config is not understood.
    #[error("invalid value: {0}")]
    Invalid(String),
}

/// Result alias for the core crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
