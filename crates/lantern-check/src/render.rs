//! Output of a check run: human text grouped by component (with the file/line that pulled it
//! in), JSON, and SARIF 2.1.0 through the shared renderer of `lantern-core`.

use crate::finding::{CheckFinding, Outcome};
use lantern_core::finding::{Category, Finding, Location, Report};
use lantern_core::output::{self, RenderOptions};
use lantern_core::term::escape;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Human report: one block per component, findings sorted by severity.
pub fn human(o: &Outcome) -> String {
    let mut s = String::new();
    let mut groups: BTreeMap<&str, Vec<&CheckFinding>> = BTreeMap::new();
    for f in &o.findings {
        groups.entry(f.component.as_str()).or_default().push(f);
    }
    for (component, mut fs) in groups {
        fs.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.check.cmp(&b.check)));
        let version = fs.iter().find_map(|f| f.version.as_deref());
        let _ = match version {
            Some(v) => writeln!(s, "{} {}", escape(component), escape(v)),
            None => writeln!(s, "{}", escape(component)),
        };
        let mut sites: Vec<String> = fs.iter().filter_map(|f| f.location()).collect();
        sites.dedup();
        if fs
            .iter()
            .any(|f| f.component != f.file.clone().unwrap_or_default())
        {
            if let Some(first) = sites.first() {
                let _ = writeln!(s, "  pulled in by {}", escape(first));
            }
        }
        for f in fs {
            let _ = write!(
                s,
                "  {:<8} {:<28} {}",
                f.severity.as_str().to_uppercase(),
                f.check.as_str(),
                escape(&f.message)
            );
            if f.file.as_deref() == Some(component) {
                if let Some(l) = f.line {
                    let _ = write!(s, " (line {l})");
                }
            }
            s.push('\n');
        }
        s.push('\n');
    }
    for w in &o.warnings {
        let _ = writeln!(s, "warning: {}", escape(w));
    }
    let _ = writeln!(
        s,
        "{} findings in {} components ({} libraries matched against OSV, {} Python files parsed, {} ignored by policy)",
        o.findings.len(),
        o.stats.components,
        o.stats.libraries_checked,
        o.stats.python_files,
        o.ignored.len()
    );
    s
}

/// JSON report.
pub fn json(o: &Outcome) -> String {
    let ignored: Vec<serde_json::Value> = o
        .ignored
        .iter()
        .map(|(f, reason)| serde_json::json!({"finding": f, "reason": reason}))
        .collect();
    let v = serde_json::json!({
        "findings": o.findings,
        "ignored": ignored,
        "warnings": o.warnings,
        "stats": o.stats,
    });
    let mut s = serde_json::to_string_pretty(&v).unwrap_or_default();
    s.push('\n');
    s
}

/// SARIF 2.1.0 report (GitHub code scanning), via the shared core renderer.
pub fn sarif(o: &Outcome) -> String {
    let mut report = Report::new();
    for f in &o.findings {
        let mut loc = Location::path(f.file.clone().unwrap_or_else(|| f.component.clone()));
        loc.line = f.line;
        let title = format!("{}: {}", f.check.as_str(), f.check.description());
        let mut finding = Finding::new(f.check.as_str(), title, Category::Other, f.severity, loc)
            .with_detail(format!("{}: {}", f.component, f.message));
        finding
            .properties
            .insert("component".into(), serde_json::json!(f.component));
        if let Some(a) = &f.advisory {
            finding
                .properties
                .insert("advisory".into(), serde_json::json!(a));
        }
        report.push(finding);
    }
    for w in &o.warnings {
        report
            .warnings
            .push(lantern_core::Warning::new("", w.clone()));
    }
    output::render(&report, output::Format::Sarif, RenderOptions::default())
}
