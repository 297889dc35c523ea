//! Shared vocabulary of Lantern: [`Finding`], [`Severity`], [`Location`], [`Report`],
//! the output formats (human, JSON, SARIF 2.1.0), `lantern.toml` configuration and baselines.
//!
//! Analysers produce findings; the CLI renders reports. Nothing here reads the files being scanned.

pub mod baseline;
pub mod config;
pub mod finding;
pub mod output;
pub mod term;

pub use baseline::Baseline;
pub use config::Config;
pub use finding::{
    Category, CommitInfo, Finding, Location, Report, Severity, Warning, INCOMPLETE_RULE,
};

/// Errors raised by the core crate (configuration and baseline I/O).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file involved.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
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
