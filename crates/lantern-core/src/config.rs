//! `lantern.toml`: project configuration, discovered upward from the scanned path.
//! Every key is documented in the README; unknown keys are an error so typos do not pass silently.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Name of the configuration file looked for.
pub const FILE_NAME: &str = "lantern.toml";

/// Whole `lantern.toml`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `[scan]`: what to scan and how.
    #[serde(default)]
    pub scan: ScanConfig,
    /// `[leaks]`: declared internal names that must not ship.
    #[serde(default)]
    pub leaks: LeaksConfig,
    /// `[allowlist]`: suppressions.
    #[serde(default)]
    pub allowlist: AllowlistConfig,
    /// `[models]`: model scanner policy.
    #[serde(default)]
    pub models: ModelsConfig,
    /// `[iac]`: infrastructure-code exposure checks.
    #[serde(default)]
    pub iac: IacConfig,
    /// `[[rules]]`: extra secret rules, same schema as the bundled `rules/*.toml`.
    #[serde(default)]
    pub rules: Vec<toml::Value>,
    /// Where this config was loaded from (not a key of the file).
    #[serde(skip)]
    pub source: Option<PathBuf>,
}

/// `[scan]` section.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScanConfig {
    /// At most this many bytes of text are scanned per file; the rest is reported as
    /// `scan.incomplete` (`lantern scan` default 128 MiB).
    pub max_file_size: Option<u64>,
    /// Glob patterns of paths never scanned (relative to the scan root).
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Lowest severity that makes the exit code 1 (default `low`).
    pub fail_on: Option<String>,
    /// Maximum archive nesting depth (default 4).
    pub max_archive_depth: Option<u32>,
    /// Maximum total bytes decompressed from one archive (default 1 GiB).
    pub max_archive_bytes: Option<u64>,
    /// Maximum entries expanded from one archive, all levels together (default 100000).
    pub max_archive_entries: Option<u64>,
    /// Severity of `scan.incomplete` findings: content not fully checked because of a limit,
    /// an unreadable input, an unsupported encoding or a shallow history (default `medium`).
    pub incomplete_severity: Option<String>,
}

/// `[leaks]` section.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeaksConfig {
    /// Internal codenames that must not appear in artifacts (matched case-insensitively as words).
    #[serde(default)]
    pub codenames: Vec<String>,
    /// Internal feature-flag names that must not appear in artifacts (matched exactly).
    #[serde(default)]
    pub feature_flags: Vec<String>,
    /// Path fragments that mark internal-only files (e.g. `internal/`, `.claude/`).
    #[serde(default)]
    pub internal_paths: Vec<String>,
    /// Where codenames and feature flags are looked for: `artifacts` (default: archive members,
    /// source-map contents and files whose scan root is an archive) or `everywhere`.
    pub scope: Option<String>,
}

/// `[allowlist]` section.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowlistConfig {
    /// Rule ids that are disabled.
    #[serde(default)]
    pub rules: Vec<String>,
    /// Regexes; a secret matching one is not reported.
    #[serde(default)]
    pub secrets: Vec<String>,
    /// Glob patterns of paths whose findings are not reported.
    #[serde(default)]
    pub paths: Vec<String>,
}

/// `[models]` section.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelsConfig {
    /// Extra `module.name` globals allowed in pickles (added to the built-in allowlist).
    #[serde(default)]
    pub allow_globals: Vec<String>,
}

/// `[iac]` section.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IacConfig {
    /// Rule ids of the `iac` analyser that are not reported (unknown ids are an error).
    #[serde(default)]
    pub disabled_rules: Vec<String>,
    /// Extra glob patterns (case-insensitive) of bucket names that hold models or datasets,
    /// added to the built-in ones (`*model*`, `*dataset*`, `*checkpoint*`, ...).
    #[serde(default)]
    pub model_bucket_patterns: Vec<String>,
    /// Glob patterns of bucket names that are public on purpose: not reported as exposed.
    #[serde(default)]
    pub allowed_public_buckets: Vec<String>,
}

impl Config {
    /// Parse a configuration from text; `path` is used in error messages.
    pub fn parse(text: &str, path: &Path) -> crate::Result<Self> {
        let mut c: Config = toml::from_str(text).map_err(|e| crate::Error::Config {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        c.source = Some(path.to_path_buf());
        Ok(c)
    }

    /// Load a configuration file.
    pub fn load(path: &Path) -> crate::Result<Self> {
        let text = std::fs::read_to_string(path).map_err(crate::IoError::at(path))?;
        Self::parse(&text, path)
    }

    /// Find `lantern.toml` in `start` or its ancestors and load it; default config when none.
    pub fn discover(start: &Path) -> crate::Result<Self> {
        let abs = std::fs::canonicalize(start).unwrap_or_else(|_| start.to_path_buf());
        let mut dir = if abs.is_dir() {
            Some(abs.as_path())
        } else {
            abs.parent()
        };
        while let Some(d) = dir {
            let candidate = d.join(FILE_NAME);
            if candidate.is_file() {
                return Self::load(&candidate);
            }
            dir = d.parent();
        }
        Ok(Config::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_all_sections() {
        let c = Config::parse(
            r#"
[scan]
max_file_size = 1000
exclude = ["vendor/**"]
fail_on = "high"
[leaks]
codenames = ["Tengu"]
feature_flags = ["ENABLE_KAIROS"]
[iac]
disabled_rules = ["iac.aws.sagemaker-notebook-root"]
model_bucket_patterns = ["acme-ml-*"]
allowed_public_buckets = ["acme-website"]
[allowlist]
rules = ["generic.password"]
secrets = ["^AKIAIOSFODNN7EXAMPLE$"]
[[rules]]
id = "acme.token"
description = "Acme token"
regex = "acme_[a-z0-9]{32}"
keywords = ["acme_"]
"#,
            Path::new("lantern.toml"),
        )
        .unwrap();
        assert_eq!(c.scan.max_file_size, Some(1000));
        assert_eq!(c.leaks.codenames, vec!["Tengu"]);
        assert_eq!(c.rules.len(), 1);
        assert_eq!(c.iac.model_bucket_patterns, vec!["acme-ml-*"]);
        assert_eq!(c.iac.allowed_public_buckets, vec!["acme-website"]);
    }

    #[test]
    fn unknown_iac_key_is_an_error() {
        let e = Config::parse(
            "[iac]
public_buckets = []\n",
            Path::new("l.toml"),
        )
        .unwrap_err();
        assert!(e.to_string().contains("public_buckets"), "{e}");
    }

    #[test]
    fn unknown_key_is_an_error_naming_the_file() {
        let e = Config::parse("[scan]\nbogus = 1\n", Path::new("/x/lantern.toml")).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("/x/lantern.toml"), "{msg}");
        assert!(msg.contains("bogus"), "{msg}");
    }

    #[test]
    fn discovers_upward() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join(FILE_NAME), "[leaks]\ncodenames=[\"X\"]\n").unwrap();
        let sub = d.path().join("a/b");
        std::fs::create_dir_all(&sub).unwrap();
        let c = Config::discover(&sub).unwrap();
        assert_eq!(c.leaks.codenames, vec!["X"]);
    }
}
