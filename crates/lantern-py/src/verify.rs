//! Signature checks for `lantern.verify` and `lantern.protect(require_signature=...)`.

use lantern_sign::oms::{relative_to_model, verify_model, Trust, VerifyOptions};
use lantern_sign::{Error, VerifyingKey};
use std::path::Path;

/// Verify `model` against the bundle at `signature` with the public key at `key`.
/// Returns `(0 verified | 1 not verified | 2 error, JSON details)`.
pub fn verify(model: &Path, signature: &Path, key: &Path, ignore_unsigned: bool) -> (i32, String) {
    let key = match VerifyingKey::from_file(key) {
        Ok(k) => k,
        Err(e) => return (2, error_json(&e.to_string())),
    };
    let opts = VerifyOptions {
        ignore_paths: relative_to_model(model, signature).into_iter().collect(),
        ignore_git_paths: true,
        allow_symlinks: None,
        ignore_unsigned_files: ignore_unsigned,
    };
    match verify_model(model, signature, &Trust::Key(&key), &opts) {
        Ok(v) => {
            let ok = v.diff.is_empty();
            let details = serde_json::json!({
                "model": model.display().to_string(),
                "verified": ok,
                "files": v.expected.file_count(),
                "changed": v.diff.changed,
                "added": v.diff.added,
                "missing": v.diff.missing,
                "reason": if ok { None } else { Some("files differ from the signed manifest") },
            });
            (i32::from(!ok), details.to_string())
        }
        Err(
            e @ (Error::BadSignature(_) | Error::KeyMismatch { .. } | Error::Certificate { .. }),
        ) => {
            let details = serde_json::json!({
                "model": model.display().to_string(),
                "verified": false,
                "reason": e.to_string(),
            });
            (1, details.to_string())
        }
        Err(e) => (2, error_json(&e.to_string())),
    }
}

fn error_json(message: &str) -> String {
    serde_json::json!({ "error": message }).to_string()
}
