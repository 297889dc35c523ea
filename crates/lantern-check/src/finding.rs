//! What a check reports: the check id, severity, the component, the file/line that introduced
//! it, and for OSV the advisory. [`Outcome`] collects them with the ignore list applied.

use crate::ids::CheckId;
use crate::subject::{Site, Subject};
use lantern_core::Severity;
use serde::Serialize;

/// One violation.
#[derive(Debug, Clone, Serialize)]
pub struct CheckFinding {
    /// Stable check id.
    pub check: CheckId,
    /// Severity after policy overrides.
    pub severity: Severity,
    /// Component display name (`torch`, `meta-llama/Llama-2-7b`), or a file for code checks.
    pub component: String,
    /// Component purl, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purl: Option<String>,
    /// Version concerned, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Advisory id for OSV findings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advisory: Option<String>,
    /// Aliases of the advisory.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// What is wrong, one line.
    pub message: String,
    /// Where it was introduced.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// 1-based line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
}

impl Serialize for CheckId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl CheckFinding {
    /// A finding about a component, located at its first declaration site.
    pub fn about(check: CheckId, severity: Severity, s: &Subject, message: String) -> Self {
        let site = s.first_site();
        CheckFinding {
            check,
            severity,
            component: s.name.clone(),
            purl: s.purl.clone(),
            version: s.version.clone(),
            advisory: None,
            aliases: Vec::new(),
            message,
            file: site.map(|x| x.file.clone()),
            line: site.and_then(|x| x.line),
        }
    }

    /// A finding at a place in a file (code checks).
    pub fn at(
        check: CheckId,
        severity: Severity,
        component: &str,
        site: Site,
        msg: String,
    ) -> Self {
        CheckFinding {
            check,
            severity,
            component: component.to_string(),
            purl: None,
            version: None,
            advisory: None,
            aliases: Vec::new(),
            message: msg,
            file: Some(site.file),
            line: site.line,
        }
    }

    /// `file:line` for display.
    pub fn location(&self) -> Option<String> {
        let f = self.file.as_deref()?;
        Some(match self.line {
            Some(l) => format!("{f}:{l}"),
            None => f.to_string(),
        })
    }
}

/// Everything one run found.
#[derive(Debug, Default, Serialize)]
pub struct Outcome {
    /// Violations, sorted by component then check.
    pub findings: Vec<CheckFinding>,
    /// Findings suppressed by the ignore list: (finding, reason).
    pub ignored: Vec<(CheckFinding, String)>,
    /// Inputs that could not be fully checked (no false green: also shown to the user).
    pub warnings: Vec<String>,
    /// Counters.
    pub stats: Stats,
}

/// Counters for the summary line.
#[derive(Debug, Default, Serialize)]
pub struct Stats {
    /// Components evaluated.
    pub components: usize,
    /// Libraries matched against OSV.
    pub libraries_checked: usize,
    /// Python files parsed.
    pub python_files: usize,
}

impl Outcome {
    /// Whether any finding is at or above `threshold`.
    pub fn fails(&self, threshold: Severity) -> bool {
        self.findings.iter().any(|f| f.severity >= threshold)
    }
}
