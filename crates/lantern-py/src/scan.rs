//! `lantern.scan`: the `lantern scan` pipeline (`lantern_scan::scan`) with the options of the
//! Python call, and the report as `lantern scan --format json` writes it.

use lantern_core::output::{json_value, RenderOptions};
use lantern_core::Severity;
use lantern_scan::{Enabled, ScanOptions};
use std::path::PathBuf;

/// The arguments of `lantern.scan` (each as the `lantern scan` flag of the same name).
pub struct Request {
    /// Files, directories or archives; `-` is standard input.
    pub paths: Vec<PathBuf>,
    /// `--only`: analysers to run (all when `None`).
    pub only: Option<Vec<String>>,
    /// `--fail-on`.
    pub fail_on: Option<String>,
    /// `--config`.
    pub config: Option<PathBuf>,
    /// `--git`.
    pub git: bool,
    /// `--no-ignore`.
    pub no_ignore: bool,
    /// `--min-severity`.
    pub min_severity: Option<String>,
    /// `--baseline`.
    pub baseline: Option<PathBuf>,
}

/// Run the scan: `(report JSON, whether it fails the threshold)`, or the error message.
pub fn scan(r: Request) -> Result<(String, bool), String> {
    let config = lantern_scan::load_config(r.config.as_deref(), &r.paths).map_err(message)?;
    let fail_on: Severity = (r.fail_on.as_deref())
        .or(config.scan.fail_on.as_deref())
        .unwrap_or("low")
        .parse()
        .map_err(message)?;
    let min_severity: Severity = (r.min_severity.as_deref().unwrap_or("info"))
        .parse()
        .map_err(message)?;
    let opts = ScanOptions {
        config,
        git: r.git,
        no_ignore: r.no_ignore,
        enabled: enabled(r.only.as_deref())?,
        min_severity,
        baseline: r.baseline,
        ..ScanOptions::default()
    };
    let report = lantern_scan::scan(&opts, &r.paths).map_err(message)?;
    let shown = RenderOptions {
        show_secrets: false,
        color: false,
    };
    Ok((
        json_value(&report, shown).to_string(),
        report.fails(fail_on),
    ))
}

/// `--only` names to the analyser switches; unknown names are an error, as on the command line.
fn enabled(only: Option<&[String]>) -> Result<Enabled, String> {
    let Some(names) = only else {
        return Ok(Enabled::default());
    };
    const KNOWN: [&str; 4] = ["secrets", "leaks", "models", "iac"];
    if let Some(bad) = names.iter().find(|n| !KNOWN.contains(&n.as_str())) {
        return Err(format!(
            "unknown analyser `{bad}` (expected secrets, leaks, models or iac)"
        ));
    }
    let want = |a: &str| names.iter().any(|n| n == a);
    Ok(Enabled {
        secrets: want("secrets"),
        leaks: want("leaks"),
        models: want("models"),
        iac: want("iac"),
    })
}

/// An error with its causes (`error: cause: cause`), control characters escaped like every
/// printed name.
fn message<E: std::error::Error>(e: E) -> String {
    let mut s = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cause = c.source();
    }
    lantern_core::term::escape(&s).into_owned()
}
