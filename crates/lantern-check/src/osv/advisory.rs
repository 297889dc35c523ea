//! One OSV advisory (the OSV schema, the fields `check` needs) and the question it answers:
//! is this version of this package affected? Ranges follow the OSV evaluation algorithm:
//! events sorted by version, `introduced` opens, `fixed`/`limit` close at the version,
//! `last_affected` closes after it; `versions` lists match exactly; `GIT` ranges are ignored
//! (commit ranges need the repository).

use super::version::{Scheme, Version};
use lantern_core::Severity;
use serde::Deserialize;
use std::cmp::Ordering;

/// An OSV record.
#[derive(Debug, Clone, Deserialize)]
pub struct Advisory {
    /// `GHSA-…`, `PYSEC-…`, `MAL-…`, `RUSTSEC-…`.
    pub id: String,
    /// Other ids of the same advisory.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// One-line summary.
    #[serde(default)]
    pub summary: Option<String>,
    /// Set when the advisory was withdrawn: such records are ignored.
    #[serde(default)]
    pub withdrawn: Option<String>,
    /// Affected packages.
    #[serde(default)]
    pub affected: Vec<Affected>,
    /// `database_specific.severity` (GitHub: LOW, MODERATE, HIGH, CRITICAL).
    #[serde(default)]
    pub database_specific: Option<serde_json::Value>,
}

/// One affected package of an advisory.
#[derive(Debug, Clone, Deserialize)]
pub struct Affected {
    /// The package.
    pub package: Option<Package>,
    /// Version ranges.
    #[serde(default)]
    pub ranges: Vec<Range>,
    /// Explicitly listed versions.
    #[serde(default)]
    pub versions: Vec<String>,
}

/// Package identity in OSV.
#[derive(Debug, Clone, Deserialize)]
pub struct Package {
    /// `PyPI`, `npm`, `crates.io`, `Go`, `Maven`, ...
    pub ecosystem: String,
    /// Name as the ecosystem writes it.
    pub name: String,
}

/// One range of an affected package.
#[derive(Debug, Clone, Deserialize)]
pub struct Range {
    /// `ECOSYSTEM`, `SEMVER` or `GIT`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Events.
    #[serde(default)]
    pub events: Vec<Event>,
}

/// One event of a range; exactly one field is set.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Event {
    /// Start of an affected interval (`0` = from the beginning).
    pub introduced: Option<String>,
    /// First unaffected version.
    pub fixed: Option<String>,
    /// Last affected version.
    pub last_affected: Option<String>,
    /// Upper limit (exclusive).
    pub limit: Option<String>,
}

/// The answer for one (package, version).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The version is affected.
    Affected,
    /// The version is not affected.
    Clear,
    /// Some range could not be evaluated (a bound or the version does not parse).
    Unknown,
}

impl Advisory {
    /// Whether this is a malicious-package report.
    pub fn is_malicious(&self) -> bool {
        self.id.starts_with("MAL-") || self.aliases.iter().any(|a| a.starts_with("MAL-"))
    }

    /// The severity the database gives, if it is one of the GitHub words.
    pub fn severity(&self) -> Option<Severity> {
        let s = self.database_specific.as_ref()?.get("severity")?.as_str()?;
        match s.to_ascii_uppercase().as_str() {
            "LOW" => Some(Severity::Low),
            "MODERATE" | "MEDIUM" => Some(Severity::Medium),
            "HIGH" => Some(Severity::High),
            "CRITICAL" => Some(Severity::Critical),
            _ => None,
        }
    }

    /// The affected entries naming this package (`key` is the normalised name).
    pub fn entries_for<'a>(
        &'a self,
        ecosystem: &'a str,
        key: &'a str,
    ) -> impl Iterator<Item = &'a Affected> + 'a {
        self.affected.iter().filter(move |a| {
            a.package.as_ref().is_some_and(|p| {
                p.ecosystem == ecosystem && super::normalize(ecosystem, &p.name) == key
            })
        })
    }

    /// Verdict for `version` of the package `key` in `ecosystem`.
    pub fn verdict(&self, ecosystem: &str, key: &str, version: &str) -> Verdict {
        let mut unknown = false;
        for a in self.entries_for(ecosystem, key) {
            match a.verdict(ecosystem, version) {
                Verdict::Affected => return Verdict::Affected,
                Verdict::Unknown => unknown = true,
                Verdict::Clear => {}
            }
        }
        if unknown {
            Verdict::Unknown
        } else {
            Verdict::Clear
        }
    }

    /// Whether every version of the package is affected (introduced 0, never closed): true of
    /// most malicious-package reports, so an unpinned dependency is still flagged.
    pub fn affects_all_versions(&self, ecosystem: &str, key: &str) -> bool {
        self.entries_for(ecosystem, key).any(|a| {
            a.ranges.iter().any(|r| {
                r.kind != "GIT"
                    && r.events
                        .iter()
                        .any(|e| e.introduced.as_deref() == Some("0"))
                    && r.events.iter().all(|e| e.introduced.is_some())
            }) || (a.ranges.is_empty() && a.versions.is_empty())
        })
    }
}

impl Affected {
    fn verdict(&self, ecosystem: &str, version: &str) -> Verdict {
        let Some(scheme) = Scheme::of_ecosystem(ecosystem) else {
            return Verdict::Unknown;
        };
        let parsed = scheme.parse(version);
        if self.versions.iter().any(|v| {
            v == version
                || matches!((&parsed, scheme.parse(v)), (Some(a), Some(b)) if a.compare(&b) == Some(Ordering::Equal))
        }) {
            return Verdict::Affected;
        }
        let mut unknown = false;
        for r in &self.ranges {
            let scheme = match r.kind.as_str() {
                "SEMVER" => Scheme::Semver,
                "ECOSYSTEM" => scheme,
                _ => continue,
            };
            match scheme.parse(version) {
                Some(v) => match in_range(scheme, &r.events, &v) {
                    Some(true) => return Verdict::Affected,
                    Some(false) => {}
                    None => unknown = true,
                },
                None => unknown = true,
            }
        }
        if unknown {
            Verdict::Unknown
        } else {
            Verdict::Clear
        }
    }
}

/// The OSV range algorithm; `None` when a bound does not parse.
fn in_range(scheme: Scheme, events: &[Event], v: &Version) -> Option<bool> {
    // (bound, kind) with bound None = "0".
    let mut evs: Vec<(Option<Version>, &Event)> = Vec::with_capacity(events.len());
    for e in events {
        let raw = e
            .introduced
            .as_deref()
            .or(e.fixed.as_deref())
            .or(e.last_affected.as_deref())
            .or(e.limit.as_deref())?;
        let bound = if e.introduced.as_deref() == Some("0") {
            None
        } else {
            Some(scheme.parse(raw)?)
        };
        evs.push((bound, e));
    }
    evs.sort_by(|a, b| match (&a.0, &b.0) {
        (None, None) => Ordering::Equal,
        (None, _) => Ordering::Less,
        (_, None) => Ordering::Greater,
        (Some(x), Some(y)) => x.compare(y).unwrap_or(Ordering::Equal),
    });
    let mut affected = false;
    for (bound, e) in &evs {
        let cmp = match bound {
            None => Ordering::Greater,
            Some(b) => v.compare(b)?,
        };
        if e.introduced.is_some() {
            if cmp != Ordering::Less {
                affected = true;
            }
        } else if e.fixed.is_some() || e.limit.is_some() {
            if cmp != Ordering::Less {
                affected = false;
            }
        } else if cmp == Ordering::Greater {
            affected = false;
        }
    }
    Some(affected)
}
