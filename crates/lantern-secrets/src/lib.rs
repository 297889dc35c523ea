//! Secret detection for Lantern: rules as TOML data (bundled `rules/*.toml`, `lantern.toml`
//! `[[rules]]`, gitleaks rule files), an Aho-Corasick keyword prefilter, regexes run only on
//! windows around keyword hits, entropy floors, allowlists and checksum validators.
//!
//! ```no_run
//! use lantern_secrets::{RuleSet, Scanner};
//! let rules = RuleSet::builtin()?;
//! let scanner = Scanner::new(rules, &[])?;
//! let out = scanner.scan(b"token = ghp_...", &lantern_core::Location::path("a.py"));
//! # Ok::<(), lantern_secrets::Error>(())
//! ```

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod allow;
pub mod gitleaks;
pub mod keywords;
pub mod rule;
pub mod samples;
pub mod scanner;
pub mod shape;
mod tight;
pub mod validate;

pub use allow::{Allowlist, RegexTarget};
pub use rule::{Confidence, Pair, Rule, RuleRegex, RuleSet, SecretGroup};
pub use scanner::{Profile, RuleProfile, ScanOutput, Scanner, MAX_MATCH_SPAN};
pub use validate::Validator;

/// Errors raised while loading rules or building a scanner.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A rule is invalid: bad regex, duplicate id, missing keywords, failing example, ...
    #[error("{source_file}: rule `{id}`: {message}")]
    Rule {
        /// The file (or `lantern.toml`, or bundled `rules/x.toml`) the rule comes from.
        source_file: String,
        /// The rule id (or `<unknown>` when the id itself is missing).
        id: String,
        /// What is wrong.
        message: String,
    },
    /// A rule file is not valid TOML or has keys outside the schema.
    #[error("{source_file}: {message}")]
    File {
        /// The file involved.
        source_file: String,
        /// What is wrong.
        message: String,
    },
    /// A rule file could not be read.
    #[error(transparent)]
    Io(#[from] lantern_core::IoError),
    /// An allowlist regex (from `lantern.toml` `[allowlist] secrets`) is invalid.
    #[error("invalid allowlist regex `{pattern}`: {message}")]
    Allowlist {
        /// The offending pattern.
        pattern: String,
        /// What is wrong.
        message: String,
    },
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Shannon entropy of `data` in bits per byte (0 for empty input, at most 8).
pub fn shannon_entropy(data: &[u8]) -> f64 {
    if data.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &b in data {
        counts[b as usize] += 1;
    }
    let n = data.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entropy_of_known_strings() {
        assert_eq!(shannon_entropy(b""), 0.0);
        assert_eq!(shannon_entropy(b"aaaa"), 0.0);
        assert!((shannon_entropy(b"ab") - 1.0).abs() < 1e-9);
        assert!((shannon_entropy(b"abcd") - 2.0).abs() < 1e-9);
        let all: Vec<u8> = (0..=255u8).collect();
        assert!((shannon_entropy(&all) - 8.0).abs() < 1e-9);
    }
}
