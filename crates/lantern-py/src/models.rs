//! Model-file scans for `lantern.protect()`: one file or one byte string, through
//! `lantern-models` (the same analysis as `lantern scan --only models`).
//!
//! What a pickle-based loader (pickle, joblib, torch, numpy with pickles) is about to read is
//! analysed as a pickle even when no detector recognises it: a file that hides its pickle from
//! the sniffers must not pass as "not a model".

use lantern_core::{Location, Warning};
use lantern_models::{ModelReport, Policy};
use std::io::Read;
use std::path::Path;

/// Largest unrecognised file read whole to be analysed as a pickle; larger ones are reported
/// as not fully checked.
const MAX_UNRECOGNISED: u64 = 256 << 20;

/// Scan a file on disk (seeking: tensor data is never read). With `as_pickle`, a file of no
/// recognised format is analysed as a pickle.
pub fn scan_file(
    path: &Path,
    allow_globals: Vec<String>,
    as_pickle: bool,
) -> serde_json::Result<String> {
    let name = path.display().to_string();
    let loc = Location::path(name.clone());
    let policy = policy(allow_globals);
    let r = match head(path) {
        Err(e) => warned(&name, format!("cannot read: {e}")),
        Ok(h) if !as_pickle || lantern_models::detect_path(path, &h, &name).is_some() => {
            lantern_models::scan_path(path, &loc, &policy)
        }
        Ok(_) => unrecognised_file(path, &loc, &policy),
    };
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
        None => as_pickle(data, &loc, &policy),
    };
    to_json(&r)
}

fn head(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut h = Vec::with_capacity(lantern_models::HEAD_LEN);
    std::fs::File::open(path)?
        .take(lantern_models::HEAD_LEN as u64)
        .read_to_end(&mut h)?;
    Ok(h)
}

fn unrecognised_file(path: &Path, loc: &Location, policy: &Policy) -> ModelReport {
    let read = std::fs::metadata(path).and_then(|m| {
        if m.len() > MAX_UNRECOGNISED {
            return Err(std::io::Error::other(format!(
                "no recognised model format and {} bytes (over {MAX_UNRECOGNISED}): not analysed",
                m.len()
            )));
        }
        std::fs::read(path)
    });
    match read {
        Ok(data) => as_pickle(&data, loc, policy),
        Err(e) => warned(&loc.path, e.to_string()),
    }
}

fn as_pickle(data: &[u8], loc: &Location, policy: &Policy) -> ModelReport {
    let mut rep = ModelReport::default();
    let a = lantern_models::pickle::analyse(data);
    lantern_models::pickle_findings(&a, loc, policy, &mut rep);
    rep
}

fn warned(path: &str, message: String) -> ModelReport {
    let mut rep = ModelReport::default();
    rep.warnings.push(Warning::new(path, message));
    rep
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
