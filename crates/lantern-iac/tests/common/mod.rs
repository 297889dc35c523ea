//! Helpers shared by the `iac` check tests: run the scanner on files written here and list
//! what it reports as (rule, severity, line).

#![allow(dead_code)]

use lantern_core::config::IacConfig;
use lantern_core::Location;
use lantern_iac::{IacOutput, IacScanner};

/// (rule id, severity, line) of every finding.
pub type Hits = Vec<(String, String, u32)>;

/// Scan files (path, text) as one run with the given configuration.
pub fn run_with(cfg: &IacConfig, files: &[(&str, &str)]) -> IacOutput {
    let s = IacScanner::new(cfg).expect("config");
    let mut out = IacOutput::default();
    for (p, t) in files {
        let o = s.scan(t.as_bytes(), &Location::path(*p));
        out.findings.extend(o.findings);
        out.warnings.extend(o.warnings);
        out.suppressed += o.suppressed;
    }
    let o = s.finish();
    out.findings.extend(o.findings);
    out.warnings.extend(o.warnings);
    out.suppressed += o.suppressed;
    out
}

/// Scan files with the default configuration and list the hits.
pub fn hits(files: &[(&str, &str)]) -> Hits {
    hits_of(&run_with(&IacConfig::default(), files))
}

/// The hits of an output, sorted.
pub fn hits_of(o: &IacOutput) -> Hits {
    let mut v: Hits = o
        .findings
        .iter()
        .map(|f| {
            (
                f.rule_id.clone(),
                f.severity.to_string(),
                f.locations[0].line.unwrap_or(0),
            )
        })
        .collect();
    v.sort();
    v
}

/// Scan one file.
pub fn one(path: &str, text: &str) -> Hits {
    hits(&[(path, text)])
}

/// Assert that exactly these (rule, severity, line) are reported.
#[track_caller]
pub fn expect(got: Hits, want: &[(&str, &str, u32)]) {
    let mut want: Hits = want
        .iter()
        .map(|(r, s, l)| (r.to_string(), s.to_string(), *l))
        .collect();
    want.sort();
    assert_eq!(got, want);
}
