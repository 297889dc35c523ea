//! Model-file scans for `lantern.protect()`: one file or one byte string, through
//! `lantern-models` (the same analysis as `lantern scan --only models`).

use lantern_core::Location;
use lantern_models::{ModelReport, Policy};
use std::path::Path;

/// Scan a file on disk (seeking: tensor data is never read).
pub fn scan_file(path: &Path, allow_globals: Vec<String>) -> serde_json::Result<String> {
    let loc = Location::path(path.display().to_string());
    let r = lantern_models::scan_path(path, &loc, &policy(allow_globals));
    to_json(&r)
}

/// Scan bytes handed to `pickle.loads` (or read from a stream for `pickle.load`). Bytes that
/// no detector recognises are still analysed as a pickle: they are about to be unpickled.
pub fn scan_bytes(
    data: &[u8],
    name: &str,
    allow_globals: Vec<String>,
) -> serde_json::Result<String> {
    let loc = Location::path(name);
    let policy = policy(allow_globals);
    let known = lantern_models::detect_source(&lantern_models::source::Mem(data), data, name);
    let r = match known {
        Some(_) => lantern_models::scan_bytes(data, &loc, &policy),
        None => {
            let mut rep = ModelReport::default();
            let a = lantern_models::pickle::analyse(data);
            lantern_models::pickle_findings(&a, &loc, &policy, &mut rep);
            rep
        }
    };
    to_json(&r)
}

fn policy(allow_globals: Vec<String>) -> Policy {
    Policy {
        extra_allowed_globals: allow_globals,
    }
}

fn to_json(r: &ModelReport) -> serde_json::Result<String> {
    serde_json::to_string(&serde_json::json!({
        "findings": r.findings,
        "warnings": r.warnings,
    }))
}
