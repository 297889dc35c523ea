//! Fuzzes the reader of the on-disk log: arbitrary bytes as records.log and checkpoints.log are
//! verified, proved against and reopened for appending; nothing may panic, and a log reopened
//! and appended to reads back with the new record last.
#![no_main]

use lantern_audit::{store, LocalLog, LogOptions, Signer};
use libfuzzer_sys::fuzz_target;

const KEY: &str = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";

fuzz_target!(|data: &[u8]| {
    let Ok(dir) = tempfile::tempdir() else { return };
    let split = data.first().map(|b| *b as usize * data.len() / 256).unwrap_or(0).min(data.len());
    let (records, checkpoints) = data.split_at(split);
    let _ = std::fs::write(dir.path().join(store::RECORDS_FILE), records);
    let _ = std::fs::write(dir.path().join(store::CHECKPOINTS_FILE), checkpoints);
    let Ok(signer) = Signer::parse(KEY) else { return };
    let v = signer.verifier();
    let _ = lantern_audit::verify(dir.path(), &v, &[]);
    let _ = lantern_audit::prove(dir.path(), &v, 0);
    let _ = store::latest_checkpoint(dir.path(), &v);
    if let Ok(log) = LocalLog::open(dir.path(), signer, LogOptions::default()) {
        let appended = log.append_blocking(b"after fuzz".to_vec()).is_ok();
        drop(log);
        // a log the writer accepted reads back whole, with the new record last
        if appended {
            let recs = store::read_records(dir.path()).expect("reopened log unreadable");
            assert_eq!(recs.last().map(Vec::as_slice), Some(&b"after fuzz"[..]));
        }
    }
});
