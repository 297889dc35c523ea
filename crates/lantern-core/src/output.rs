//! Rendering reports: human (grouped by file, colour optional), JSON and SARIF 2.1.0.

use crate::finding::{Finding, Report, Severity};
use crate::term::escape;
use owo_colors::OwoColorize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Output format selected with `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Human-readable, grouped by file.
    Human,
    /// The report as JSON.
    Json,
    /// SARIF 2.1.0.
    Sarif,
}

impl std::str::FromStr for Format {
    type Err = crate::Error;
    fn from_str(s: &str) -> crate::Result<Self> {
        match s {
            "human" | "text" => Ok(Format::Human),
            "json" => Ok(Format::Json),
            "sarif" => Ok(Format::Sarif),
            o => Err(crate::Error::Invalid(format!(
                "unknown format `{o}` (expected human, json or sarif)"
            ))),
        }
    }
}

/// Rendering options.
#[derive(Debug, Clone, Copy, Default)]
pub struct RenderOptions {
    /// Print secrets in full instead of a short prefix.
    pub show_secrets: bool,
    /// Use ANSI colours (human format only).
    pub color: bool,
}

/// Render a report in the given format.
pub fn render(report: &Report, format: Format, opts: RenderOptions) -> String {
    match format {
        Format::Human => human(report, opts),
        Format::Json => {
            let mut s = serde_json::to_string_pretty(&json_value(report, opts)).unwrap_or_default();
            s.push('\n');
            s
        }
        Format::Sarif => {
            let mut s = serde_json::to_string_pretty(&sarif(report, opts)).unwrap_or_default();
            s.push('\n');
            s
        }
    }
}

fn shown_secret(f: &Finding, opts: RenderOptions) -> Option<String> {
    if opts.show_secrets {
        f.secret.clone()
    } else {
        f.redacted_secret()
    }
}

fn paint_sev(s: Severity, color: bool) -> String {
    let label = format!("{:<8}", s.as_str().to_uppercase());
    if !color {
        return label;
    }
    match s {
        Severity::Critical => label.red().bold().to_string(),
        Severity::High => label.red().to_string(),
        Severity::Medium => label.yellow().to_string(),
        Severity::Low => label.cyan().to_string(),
        Severity::Info => label.dimmed().to_string(),
    }
}

/// Human output: findings grouped by the outer file, then a summary line. Every name and
/// message is escaped ([`escape`]); JSON and SARIF keep them exact.
pub fn human(report: &Report, opts: RenderOptions) -> String {
    let mut out = String::new();
    let mut by_file: BTreeMap<&str, Vec<(&Finding, usize)>> = BTreeMap::new();
    for f in &report.findings {
        for (i, l) in f.locations.iter().enumerate() {
            by_file.entry(l.outer_path()).or_default().push((f, i));
        }
    }
    for (file, items) in &by_file {
        let file = escape(file);
        if opts.color {
            let _ = writeln!(out, "{}", file.bold().underline());
        } else {
            let _ = writeln!(out, "{file}");
        }
        for (f, i) in items {
            let loc = &f.locations[*i];
            let _ = write!(
                out,
                "  {} {}  {}",
                paint_sev(f.severity, opts.color),
                escape(&f.rule_id),
                escape(&f.title)
            );
            if f.validated {
                out.push_str(" [checksum valid]");
            }
            out.push('\n');
            let _ = writeln!(out, "           at {}", escape(&loc.to_string()));
            if let Some(s) = shown_secret(f, opts) {
                let _ = writeln!(out, "           secret: {}", escape(&s));
            }
            if let Some(d) = &f.detail {
                let _ = writeln!(out, "           {}", escape(d));
            }
            // Analysers that know the remedy (iac) carry it as a `fix` property.
            if let Some(fix) = f.properties.get("fix").and_then(|v| v.as_str()) {
                let _ = writeln!(out, "           fix: {fix}");
            }
        }
        out.push('\n');
    }
    if !report.warnings.is_empty() {
        let _ = writeln!(out, "warnings:");
        for w in &report.warnings {
            let _ = writeln!(out, "  {}: {}", escape(&w.path), escape(&w.message));
        }
        out.push('\n');
    }
    let mut counts: BTreeMap<Severity, usize> = BTreeMap::new();
    for f in &report.findings {
        *counts.entry(f.severity).or_default() += 1;
    }
    let summary: Vec<String> = counts
        .iter()
        .rev()
        .map(|(s, n)| format!("{n} {s}"))
        .collect();
    let s = &report.stats;
    let incomplete: usize = report
        .findings
        .iter()
        .filter(|f| f.is_incomplete())
        .map(|f| f.locations.len())
        .sum();
    let _ = writeln!(
        out,
        "{} finding(s){}; {} blob(s), {:.1} MB scanned in {:.2}s; {} skipped, {} not fully checked, {} suppressed, {} warning(s)",
        report.findings.len(),
        if summary.is_empty() {
            String::new()
        } else {
            format!(" ({})", summary.join(", "))
        },
        s.blobs,
        s.bytes as f64 / 1e6,
        s.elapsed_ms as f64 / 1e3,
        s.skipped,
        incomplete,
        s.suppressed,
        report.warnings.len()
    );
    out
}

/// The report as a JSON value (secrets redacted unless `show_secrets`).
pub fn json_value(report: &Report, opts: RenderOptions) -> Value {
    let findings: Vec<Value> = report
        .findings
        .iter()
        .map(|f| {
            let mut v = serde_json::to_value(f).unwrap_or(Value::Null);
            if let Value::Object(m) = &mut v {
                match shown_secret(f, opts) {
                    Some(s) => {
                        m.insert("secret".into(), Value::String(s));
                    }
                    None => {
                        m.remove("secret");
                    }
                }
                let fps: Vec<Value> = f
                    .locations
                    .iter()
                    .map(|l| Value::String(f.fingerprint_at(l)))
                    .collect();
                m.insert("fingerprints".into(), Value::Array(fps));
            }
            v
        })
        .collect();
    json!({
        "version": 1,
        "tool": {"name": "lantern", "version": env!("CARGO_PKG_VERSION")},
        "findings": findings,
        "warnings": report.warnings,
        "stats": report.stats,
    })
}

/// The report as a SARIF 2.1.0 log, suitable for GitHub code scanning.
pub fn sarif(report: &Report, opts: RenderOptions) -> Value {
    let mut rules: BTreeMap<&str, &Finding> = BTreeMap::new();
    for f in &report.findings {
        rules
            .entry(f.rule_id.as_str())
            .and_modify(|e| {
                if f.severity > e.severity {
                    *e = f
                }
            })
            .or_insert(f);
    }
    let rule_index: BTreeMap<&str, usize> =
        rules.keys().enumerate().map(|(i, k)| (*k, i)).collect();
    let rules_json: Vec<Value> = rules
        .values()
        .map(|f| {
            json!({
                "id": f.rule_id,
                "name": f.rule_id.replace(['.', '-'], "_"),
                "shortDescription": {"text": f.title},
                "fullDescription": {"text": f.title},
                "defaultConfiguration": {"level": f.severity.sarif_level()},
                "properties": {
                    "security-severity": f.severity.security_score(),
                    "tags": ["security", format!("{:?}", f.category).to_lowercase()],
                }
            })
        })
        .collect();
    let mut results = Vec::new();
    for f in &report.findings {
        for l in &f.locations {
            let mut msg = f.title.clone();
            if let Some(s) = shown_secret(f, opts) {
                let _ = write!(msg, ": {s}");
            }
            if let Some(d) = &f.detail {
                let _ = write!(msg, " ({d})");
            }
            if let Some(c) = &l.commit {
                let _ = write!(msg, " in commit {} by {} on {}", c.id, c.author, c.date);
            }
            // SARIF artifact URIs cannot contain '!' members meaningfully; use the outer file
            // and keep the full nested path in the message and properties.
            let uri = l.outer_path().trim_start_matches("./").to_string();
            let mut region = serde_json::Map::new();
            if let Some(line) = l.line {
                if l.path == l.outer_path() {
                    region.insert("startLine".into(), json!(line));
                    if let Some(c) = l.column {
                        region.insert("startColumn".into(), json!(c));
                    }
                }
            }
            let mut phys = json!({"artifactLocation": {"uri": uri}});
            if !region.is_empty() {
                phys["region"] = Value::Object(region);
            }
            let mut props = json!({"severity": f.severity.as_str(), "path": l.path});
            if let Some(c) = &l.commit {
                props["commit"] = json!(c);
            }
            if let Some(cell) = l.cell {
                props["cell"] = json!(cell);
            }
            results.push(json!({
                "ruleId": f.rule_id,
                "ruleIndex": rule_index.get(f.rule_id.as_str()).copied().unwrap_or(0),
                "level": f.severity.sarif_level(),
                "message": {"text": msg},
                "locations": [{"physicalLocation": phys}],
                "partialFingerprints": {"lantern/v1": f.fingerprint_at(l)},
                "properties": props,
            }));
        }
    }
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "lantern",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://github.com/lantern-sec/lantern",
                "rules": rules_json,
            }},
            "results": results,
            "invocations": [{
                "executionSuccessful": true,
                "toolExecutionNotifications": report.warnings.iter().map(|w| json!({
                    "level": "warning",
                    "message": {"text": format!("{}: {}", w.path, w.message)},
                })).collect::<Vec<_>>(),
            }],
        }]
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::*;

    fn report() -> Report {
        let mut r = Report::new();
        r.push(
            Finding::new(
                "openai.project-key",
                "OpenAI project API key",
                Category::Secret,
                Severity::Critical,
                Location::path("src/a.py").at(3, 9, 40),
            )
            .with_secret("sk-proj-ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"),
        );
        r.warn(Warning::new(
            "bad.zip",
            "corrupt archive: bad central directory",
        ));
        r
    }

    #[test]
    fn human_redacts_by_default() {
        let s = human(&report(), RenderOptions::default());
        assert!(s.contains("src/a.py:3:9"), "{s}");
        assert!(!s.contains("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"), "{s}");
        assert!(s.contains("sk-proj-…(44 chars)"), "{s}");
        assert!(s.contains("bad.zip: corrupt archive"), "{s}");
    }

    #[test]
    fn json_shows_secret_when_asked() {
        let v = json_value(
            &report(),
            RenderOptions {
                show_secrets: true,
                color: false,
            },
        );
        assert_eq!(
            v["findings"][0]["secret"],
            "sk-proj-ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
        );
        assert_eq!(v["findings"][0]["locations"][0]["line"], 3);
    }

    #[test]
    fn sarif_has_rules_results_and_regions() {
        let v = sarif(&report(), RenderOptions::default());
        assert_eq!(v["version"], "2.1.0");
        let run = &v["runs"][0];
        assert_eq!(
            run["tool"]["driver"]["rules"][0]["id"],
            "openai.project-key"
        );
        assert_eq!(run["results"][0]["level"], "error");
        assert_eq!(
            run["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"],
            3
        );
    }
}
