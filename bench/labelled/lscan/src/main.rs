//! Benchmark helper for `bench/labelled/run.sh`: scans the files named on stdin (one path per
//! line) with Lantern's bundled secret rules and prints one JSON object per finding location:
//! `{"path", "line", "rule", "secret", "severity"}`. Used while `lantern scan` is not available
//! and to measure the rule set alone, without the walker.

use std::io::{BufRead, Write};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rules = lantern_secrets::RuleSet::builtin()?;
    eprintln!("{} rules", rules.len());
    let scanner = lantern_secrets::Scanner::new(rules, &[])?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for path in std::io::stdin().lock().lines() {
        let path = path?;
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("{path}: {e}");
                continue;
            }
        };
        let found = scanner.scan(&bytes, &lantern_core::Location::path(path.as_str()));
        for f in found.findings {
            for loc in &f.locations {
                let row = serde_json::json!({
                    "path": loc.path,
                    "line": loc.line,
                    "rule": f.rule_id,
                    "secret": f.secret,
                    "severity": format!("{:?}", f.severity).to_lowercase(),
                });
                writeln!(out, "{row}")?;
            }
        }
    }
    Ok(())
}
