//! Baselines: fingerprints of accepted findings, written by `--write-baseline` and applied by
//! `--baseline`. Fingerprints hash rule, secret and path, not line numbers, so they survive edits
//! that move lines.

use crate::finding::Report;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::path::Path;

/// A set of accepted finding fingerprints.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Baseline {
    /// Format version.
    pub version: u32,
    /// Fingerprints (sha256 hex).
    pub fingerprints: BTreeSet<String>,
}

impl Baseline {
    /// A baseline holding every occurrence in `report`.
    pub fn from_report(report: &Report) -> Self {
        let fingerprints = report
            .findings
            .iter()
            .flat_map(|f| f.locations.iter().map(move |l| f.fingerprint_at(l)))
            .collect();
        Baseline {
            version: 1,
            fingerprints,
        }
    }

    /// Read a baseline file.
    pub fn load(path: &Path) -> crate::Result<Self> {
        let text = std::fs::read_to_string(path).map_err(crate::IoError::at(path))?;
        serde_json::from_str(&text).map_err(|e| crate::Error::Baseline {
            path: path.display().to_string(),
            message: e.to_string(),
        })
    }

    /// Write a baseline file (pretty JSON, sorted, so it diffs well).
    pub fn save(&self, path: &Path) -> crate::Result<()> {
        let mut text = serde_json::to_string_pretty(self).map_err(|e| crate::Error::Baseline {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        text.push('\n');
        std::fs::write(path, text).map_err(crate::IoError::at(path))?;
        Ok(())
    }

    /// Drop from `report` every occurrence whose fingerprint is in the baseline.
    pub fn apply(&self, report: &mut Report) -> u64 {
        report.retain_locations(|f, l| !self.fingerprints.contains(&f.fingerprint_at(l)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::*;

    #[test]
    fn baseline_survives_line_moves_and_catches_new_ones() {
        let mk = |secret: &str, line| {
            Finding::new(
                "r",
                "t",
                Category::Secret,
                Severity::High,
                Location::path("a.py").at(line, 1, 0),
            )
            .with_secret(secret)
        };
        let mut old = Report::new();
        old.push(mk("s1", 3));
        let b = Baseline::from_report(&old);
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("b.json");
        b.save(&p).unwrap();
        let b = Baseline::load(&p).unwrap();
        let mut new = Report::new();
        new.push(mk("s1", 40));
        new.push(mk("s2", 41));
        assert_eq!(b.apply(&mut new), 1);
        assert_eq!(new.findings.len(), 1);
        assert_eq!(new.findings[0].secret.as_deref(), Some("s2"));
    }
}
