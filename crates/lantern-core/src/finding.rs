//! Findings and where they were found: the one data model every analyser emits.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// How serious a finding is. Ordered: `Info < Low < Medium < High < Critical`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing, not a problem by itself.
    Info,
    /// Minor issue.
    Low,
    /// Should be looked at.
    #[default]
    Medium,
    /// Likely a real exposure.
    High,
    /// Exploitable as is (live credential, code execution on load).
    Critical,
}

impl Severity {
    /// All severities, lowest first.
    pub const ALL: [Severity; 5] = [
        Severity::Info,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    /// Lower-case name as used in config files and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// SARIF `level` for this severity.
    pub fn sarif_level(self) -> &'static str {
        match self {
            Severity::Info => "note",
            Severity::Low | Severity::Medium => "warning",
            Severity::High | Severity::Critical => "error",
        }
    }

    /// GitHub code scanning `security-severity` score for this severity.
    pub fn security_score(self) -> &'static str {
        match self {
            Severity::Info => "0.0",
            Severity::Low => "3.0",
            Severity::Medium => "5.5",
            Severity::High => "8.0",
            Severity::Critical => "9.5",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = crate::Error;
    fn from_str(s: &str) -> crate::Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "info" | "note" => Ok(Severity::Info),
            "low" => Ok(Severity::Low),
            "medium" | "warning" => Ok(Severity::Medium),
            "high" | "error" => Ok(Severity::High),
            "critical" => Ok(Severity::Critical),
            other => Err(crate::Error::Invalid(format!(
                "unknown severity `{other}` (expected info, low, medium, high or critical)"
            ))),
        }
    }
}

/// Which pillar produced a finding.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    /// A credential matched by a secret rule.
    #[default]
    Secret,
    /// A release-artifact leak: source maps with sources, env files, codenames.
    Leak,
    /// Unsafe serialized code or a malformed model file.
    Model,
    /// Exposed AI infrastructure in infrastructure code (public buckets, open ML services).
    Infra,
    /// Anything else (data, signing).
    Other,
}

/// The git commit a blob was found in.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct CommitInfo {
    /// Full hex object id.
    pub id: String,
    /// `Name <email>` of the author.
    pub author: String,
    /// Author date, RFC 3339.
    pub date: String,
}

/// Where something was found. `path` is the display path; nested archive members are joined
/// with `!`, as in `pkg.tgz!package/dist/cli.js.map`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default)]
pub struct Location {
    /// Display path, archive members joined with `!`.
    pub path: String,
    /// 1-based line, when the finding is in text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// 1-based column (in bytes), when the finding is in text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
    /// Byte offset in the blob.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// Notebook cell index (0-based), and whether the hit is in an output.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cell: Option<u32>,
    /// `source` or `output` for notebook cells.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cell_part: Option<String>,
    /// The commit the blob was seen in, for git history scans.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<CommitInfo>,
}

impl Location {
    /// A location naming only a path.
    pub fn path(p: impl Into<String>) -> Self {
        Location {
            path: p.into(),
            ..Default::default()
        }
    }

    /// The location of a member inside this one (an archive entry): `outer!inner`.
    pub fn child(&self, member: &str) -> Self {
        Location {
            path: format!("{}!{}", self.path, member),
            commit: self.commit.clone(),
            ..Default::default()
        }
    }

    /// The same location with a line/column/offset set.
    pub fn at(&self, line: u32, column: u32, offset: u64) -> Self {
        Location {
            line: Some(line),
            column: Some(column),
            offset: Some(offset),
            ..self.clone()
        }
    }

    /// Path of the outermost file on disk (before any `!`).
    pub fn outer_path(&self) -> &str {
        self.path.split('!').next().unwrap_or(&self.path)
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path)?;
        if let Some(cell) = self.cell {
            write!(f, " [cell {cell}")?;
            if let Some(part) = &self.cell_part {
                write!(f, " {part}")?;
            }
            f.write_str("]")?;
        }
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(col) = self.column {
                write!(f, ":{col}")?;
            }
        }
        if let Some(c) = &self.commit {
            let short = c.id.get(..12).unwrap_or(&c.id);
            write!(f, " @ {short} ({}, {})", c.author, c.date)?;
        }
        Ok(())
    }
}

/// One problem found by an analyser. Findings with the same rule and secret are merged by
/// [`Report::push`], keeping every location.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Rule identifier, e.g. `openai.project-key` or `pickle.dangerous-global`.
    pub rule_id: String,
    /// Short human title of the rule.
    pub title: String,
    /// Which pillar produced it.
    pub category: Category,
    /// How serious it is.
    pub severity: Severity,
    /// The matched secret (redacted on output unless asked otherwise). Empty when not a secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// Extra human detail: a reconstructed call, how many sources a map exposes, ...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Whether a validator (checksum) confirmed the secret's structure.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub validated: bool,
    /// Every place it was found.
    pub locations: Vec<Location>,
    /// Free-form key/value facts (for JSON consumers).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub properties: BTreeMap<String, serde_json::Value>,
}

impl Finding {
    /// A finding with one location.
    pub fn new(
        rule_id: impl Into<String>,
        title: impl Into<String>,
        category: Category,
        severity: Severity,
        location: Location,
    ) -> Self {
        Finding {
            rule_id: rule_id.into(),
            title: title.into(),
            category,
            severity,
            secret: None,
            detail: None,
            validated: false,
            locations: vec![location],
            properties: BTreeMap::new(),
        }
    }

    /// Set the secret value.
    pub fn with_secret(mut self, s: impl Into<String>) -> Self {
        self.secret = Some(s.into());
        self
    }

    /// Set the detail text.
    pub fn with_detail(mut self, d: impl Into<String>) -> Self {
        self.detail = Some(d.into());
        self
    }

    /// Deduplication key: rule and secret, or rule, detail and outer path when there is no secret.
    pub fn dedup_key(&self) -> (String, String) {
        match &self.secret {
            Some(s) => (self.rule_id.clone(), s.clone()),
            None => (
                self.rule_id.clone(),
                format!(
                    "{}\u{0}{}",
                    self.locations
                        .first()
                        .map(|l| l.path.as_str())
                        .unwrap_or(""),
                    self.detail.as_deref().unwrap_or("")
                ),
            ),
        }
    }

    /// Fingerprint of one occurrence that survives line moves: sha256 of rule, secret (or detail)
    /// and the path, without line numbers or commits.
    pub fn fingerprint_at(&self, loc: &Location) -> String {
        let mut h = Sha256::new();
        h.update(self.rule_id.as_bytes());
        h.update([0]);
        h.update(
            self.secret
                .as_deref()
                .or(self.detail.as_deref())
                .unwrap_or("")
                .as_bytes(),
        );
        h.update([0]);
        h.update(loc.path.as_bytes());
        hex::encode(h.finalize())
    }

    /// The secret shortened to a prefix for display: `sk-proj-AB…(51 chars)`.
    pub fn redacted_secret(&self) -> Option<String> {
        self.secret.as_deref().map(redact)
    }
}

/// Rule ids the scan pipeline itself reports (not one analyser's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScanRule {
    /// Content was not fully checked.
    Incomplete,
}

impl ScanRule {
    /// Every scan-level rule.
    pub const ALL: [ScanRule; 1] = [ScanRule::Incomplete];

    /// The rule id findings carry.
    pub const fn id(self) -> &'static str {
        match self {
            ScanRule::Incomplete => "scan.incomplete",
        }
    }

    /// What the rule reports.
    pub fn description(self) -> &'static str {
        match self {
            ScanRule::Incomplete => {
                "content not fully checked: a size, depth, count or expansion limit, an \
                 unreadable input, an unsupported encoding or compression, missing history"
            }
        }
    }
}

/// Rule id of the finding that says content was not fully checked (a size, depth, count or
/// expansion limit, an unreadable input, an unsupported encoding or compression, missing history).
pub const INCOMPLETE_RULE: &str = ScanRule::Incomplete.id();

impl Finding {
    /// A [`INCOMPLETE_RULE`] finding: the content at `location` was not (fully) inspected, for
    /// `reason`. Its severity decides, like any finding's, whether the run fails.
    pub fn incomplete(location: Location, reason: impl Into<String>, severity: Severity) -> Self {
        Finding::new(
            INCOMPLETE_RULE,
            "content not fully checked",
            Category::Other,
            severity,
            location,
        )
        .with_detail(reason)
    }

    /// Whether this is a [`INCOMPLETE_RULE`] finding.
    pub fn is_incomplete(&self) -> bool {
        self.rule_id == INCOMPLETE_RULE
    }
}

/// Shorten a secret to a short prefix plus its length, never revealing more than a quarter of it.
pub fn redact(s: &str) -> String {
    let n = s.chars().count();
    let keep = (n / 4).clamp(0, 8);
    let prefix: String = s.chars().take(keep).collect();
    format!("{prefix}…({n} chars)")
}

/// A non-fatal problem with an input: unreadable file, corrupt archive, bomb, limit reached.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Warning {
    /// The file (display path) involved.
    pub path: String,
    /// What went wrong, lower case.
    pub message: String,
}

impl Warning {
    /// A warning for a path.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Warning {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// Counters for a run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// Blobs (files, archive members, commit blobs) scanned.
    pub blobs: u64,
    /// Bytes scanned.
    pub bytes: u64,
    /// Files skipped (binary, too large, ignored).
    pub skipped: u64,
    /// Findings suppressed by inline comments, allowlists or baseline.
    pub suppressed: u64,
    /// Wall time in milliseconds.
    pub elapsed_ms: u64,
}

/// All findings and warnings of a run, deduplicated.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Report {
    /// Findings, merged by (rule, secret).
    pub findings: Vec<Finding>,
    /// Inputs that could not be fully scanned.
    pub warnings: Vec<Warning>,
    /// Counters.
    pub stats: Stats,
    #[serde(skip)]
    index: std::collections::HashMap<(String, String), usize>,
}

impl Report {
    /// An empty report.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add a finding, merging it into an existing one with the same (rule, secret).
    /// Severity becomes the higher of the two; locations are appended without duplicates.
    pub fn push(&mut self, f: Finding) {
        let key = f.dedup_key();
        if let Some(&i) = self.index.get(&key) {
            let existing = &mut self.findings[i];
            existing.severity = existing.severity.max(f.severity);
            existing.validated |= f.validated;
            for loc in f.locations {
                if !existing.locations.contains(&loc) {
                    existing.locations.push(loc);
                }
            }
        } else {
            self.index.insert(key, self.findings.len());
            self.findings.push(f);
        }
    }

    /// Add a warning.
    pub fn warn(&mut self, w: Warning) {
        self.warnings.push(w);
    }

    /// Merge another report into this one.
    pub fn merge(&mut self, other: Report) {
        for f in other.findings {
            self.push(f);
        }
        self.warnings.extend(other.warnings);
        self.stats.blobs += other.stats.blobs;
        self.stats.bytes += other.stats.bytes;
        self.stats.skipped += other.stats.skipped;
        self.stats.suppressed += other.stats.suppressed;
    }

    /// Sort findings (by first location, then rule) and warnings, for stable output.
    pub fn sort(&mut self) {
        for f in &mut self.findings {
            f.locations.sort();
        }
        self.findings.sort_by(|a, b| {
            a.locations
                .first()
                .cmp(&b.locations.first())
                .then_with(|| a.rule_id.cmp(&b.rule_id))
                .then_with(|| a.secret.cmp(&b.secret))
        });
        self.index.clear();
        for (i, f) in self.findings.iter().enumerate() {
            self.index.insert(f.dedup_key(), i);
        }
        self.warnings.sort();
        self.warnings.dedup();
    }

    /// Highest severity among findings, if any.
    pub fn max_severity(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }

    /// Whether any finding is at or above `threshold`.
    pub fn fails(&self, threshold: Severity) -> bool {
        self.findings.iter().any(|f| f.severity >= threshold)
    }

    /// Remove findings whose every location is suppressed by `keep`; locations for which `keep`
    /// returns false are dropped. Returns the number of occurrences removed.
    pub fn retain_locations(&mut self, mut keep: impl FnMut(&Finding, &Location) -> bool) -> u64 {
        let mut removed = 0;
        for f in &mut self.findings {
            let snapshot = f.clone();
            let before = f.locations.len();
            f.locations.retain(|l| keep(&snapshot, l));
            removed += (before - f.locations.len()) as u64;
        }
        self.findings.retain(|f| !f.locations.is_empty());
        self.index.clear();
        for (i, f) in self.findings.iter().enumerate() {
            self.index.insert(f.dedup_key(), i);
        }
        self.stats.suppressed += removed;
        removed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(rule: &str, secret: &str, path: &str, line: u32) -> Finding {
        Finding::new(
            rule,
            "t",
            Category::Secret,
            Severity::High,
            Location::path(path).at(line, 1, 0),
        )
        .with_secret(secret)
    }

    #[test]
    fn dedup_merges_locations_by_rule_and_secret() {
        let mut r = Report::new();
        r.push(f("a", "s1", "x.txt", 1));
        r.push(f("a", "s1", "y.txt", 3));
        r.push(f("a", "s2", "x.txt", 1));
        r.push(f("b", "s1", "x.txt", 1));
        r.push(f("a", "s1", "x.txt", 1));
        assert_eq!(r.findings.len(), 3);
        assert_eq!(r.findings[0].locations.len(), 2);
    }

    #[test]
    fn fingerprint_ignores_line() {
        let a = f("a", "s", "p", 1);
        let b = f("a", "s", "p", 90);
        assert_eq!(
            a.fingerprint_at(&a.locations[0]),
            b.fingerprint_at(&b.locations[0])
        );
        let c = f("a", "s", "q", 1);
        assert_ne!(
            a.fingerprint_at(&a.locations[0]),
            c.fingerprint_at(&c.locations[0])
        );
    }

    #[test]
    fn redaction_keeps_at_most_a_quarter() {
        assert_eq!(redact("abcdefghijklmnop"), "abcd…(16 chars)");
        assert_eq!(redact("abc"), "…(3 chars)");
        let long = "x".repeat(100);
        assert!(redact(&long).starts_with("xxxxxxxx…"));
    }

    #[test]
    fn severity_parses_and_orders() {
        assert!("critical".parse::<Severity>().unwrap() > Severity::High);
        assert!("bogus".parse::<Severity>().is_err());
    }

    #[test]
    fn location_display_and_child() {
        let l = Location::path("pkg.tgz")
            .child("package/a.map")
            .at(3, 5, 10);
        assert_eq!(l.to_string(), "pkg.tgz!package/a.map:3:5");
        assert_eq!(l.outer_path(), "pkg.tgz");
    }
}
