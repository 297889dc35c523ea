//! The `[policy]` section of `lantern.toml`: severities, publisher and licence lists, the
//! requirements on local models and datasets, and the ignore list (each entry with a reason and
//! an optional `until` expiry date). Unknown keys are refused so a typo cannot switch a check off.

use crate::ids::CheckId;
use crate::Error;
use lantern_core::Severity;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// The whole file: only `[policy]` is read here, other sections belong to other commands.
#[derive(Debug, Default, Deserialize)]
struct File {
    #[serde(default)]
    policy: Option<Policy>,
}

/// The policy `lantern check` evaluates the inventory against.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Default `--fail-on` threshold for `lantern check` (default high).
    #[serde(default)]
    pub fail_on: Option<Severity>,
    /// Per-check severity overrides, keyed by check id (`"osv.unpinned" = "low"`).
    #[serde(default)]
    pub severity: BTreeMap<String, Severity>,
    /// When non-empty, hub models and datasets must come from one of these organisations.
    #[serde(default)]
    pub allow_publishers: Vec<String>,
    /// Hub organisations that are never accepted.
    #[serde(default)]
    pub deny_publishers: Vec<String>,
    /// When non-empty, every component's licence must satisfy one of these SPDX ids.
    #[serde(default)]
    pub allow_licenses: Vec<String>,
    /// Local model files must scan clean (no finding at or above `scan_threshold`).
    #[serde(default)]
    pub require_scan: bool,
    /// Threshold for `require_scan` (default high).
    #[serde(default)]
    pub scan_threshold: Option<Severity>,
    /// Local models must carry a signature that verifies.
    #[serde(default)]
    pub require_signature: bool,
    /// Local datasets must have a manifest that matches.
    #[serde(default)]
    pub require_manifest: bool,
    /// Formats refused for local models and datasets (`pickle`, `pytorch`, ...).
    #[serde(default)]
    pub deny_formats: Vec<String>,
    /// Check test, docs and example code and components too (default: runtime only).
    #[serde(default)]
    pub include_dev: bool,
    /// Accepted findings.
    #[serde(default)]
    pub ignore: Vec<Ignore>,
}

/// One accepted finding: an advisory id (`GHSA-…`, `PYSEC-…`) or a check id, optionally
/// restricted to one component, with the reason and an optional expiry date.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ignore {
    /// Advisory id or check id.
    pub id: String,
    /// Component name or purl the entry is limited to.
    #[serde(default)]
    pub component: Option<String>,
    /// Why it is accepted (required).
    pub reason: String,
    /// `YYYY-MM-DD`: after this day the entry no longer applies.
    #[serde(default)]
    pub until: Option<String>,
}

impl Policy {
    /// Parse the `[policy]` section of a TOML document; an absent section is the default policy.
    pub fn parse(text: &str, path: &Path) -> Result<Policy, Error> {
        let file: File = toml::from_str(text).map_err(|e| Error::Policy {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        let policy = file.policy.unwrap_or_default();
        policy.validate().map_err(|message| Error::Policy {
            path: path.display().to_string(),
            message,
        })?;
        Ok(policy)
    }

    /// Read and parse a policy file.
    pub fn load(path: &Path) -> Result<Policy, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.display().to_string(),
            source,
        })?;
        Policy::parse(&text, path)
    }

    fn validate(&self) -> Result<(), String> {
        for id in self.severity.keys() {
            if CheckId::parse(id).is_none() {
                return Err(format!("[policy.severity]: unknown check id `{id}`"));
            }
        }
        for l in &self.allow_licenses {
            if spdx::Expression::parse(l).is_err() {
                return Err(format!("allow_licenses: `{l}` is not an SPDX expression"));
            }
        }
        for i in &self.ignore {
            if i.reason.trim().is_empty() {
                return Err(format!("ignore `{}`: a reason is required", i.id));
            }
            if let Some(u) = &i.until {
                parse_date(u).ok_or_else(|| {
                    format!("ignore `{}`: until `{u}` is not a YYYY-MM-DD date", i.id)
                })?;
            }
        }
        Ok(())
    }

    /// Severity of a check under this policy.
    pub fn severity_of(&self, id: CheckId) -> Severity {
        self.severity
            .get(id.as_str())
            .copied()
            .unwrap_or_else(|| id.default_severity())
    }
}

/// Parse `YYYY-MM-DD`.
pub fn parse_date(s: &str) -> Option<time::Date> {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(s.trim(), fmt).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_full_policy_and_refuses_typos() {
        let text = r#"
[scan]
max_file_size = 10
[policy]
allow_publishers = ["meta-llama"]
deny_publishers = ["evil"]
allow_licenses = ["MIT", "Apache-2.0"]
require_scan = true
deny_formats = ["pickle"]
[policy.severity]
"osv.unpinned" = "low"
[[policy.ignore]]
id = "GHSA-aaaa-bbbb-cccc"
reason = "not reachable"
until = "2027-01-01"
"#;
        let p = Policy::parse(text, Path::new("lantern.toml")).unwrap();
        assert_eq!(p.severity_of(CheckId::Unpinned), Severity::Low);
        assert_eq!(p.severity_of(CheckId::Malicious), Severity::Critical);
        assert_eq!(p.ignore.len(), 1);
        let bad = "[policy]\nallow_publisher = [\"x\"]\n";
        let e = Policy::parse(bad, Path::new("p.toml")).unwrap_err();
        assert!(e.to_string().contains("allow_publisher"), "{e}");
        let no_reason = "[[policy.ignore]]\nid = \"X\"\nreason = \" \"\n";
        assert!(Policy::parse(no_reason, Path::new("p")).is_err());
        let bad_date = "[[policy.ignore]]\nid = \"X\"\nreason = \"r\"\nuntil = \"soon\"\n";
        assert!(Policy::parse(bad_date, Path::new("p")).is_err());
        let bad_sev = "[policy.severity]\n\"osv.nope\" = \"low\"\n";
        assert!(Policy::parse(bad_sev, Path::new("p")).is_err());
    }
}
