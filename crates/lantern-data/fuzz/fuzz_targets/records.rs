//! Fuzz the dataset readers: arbitrary bytes as JSON Lines, CSV, TSV or Parquet (chosen by the
//! first byte) through `read_reader`, checking the bookkeeping of good and bad rows.
#![no_main]

use lantern_data::record::{read_reader, DatasetKind, ReadOptions};
use libfuzzer_sys::fuzz_target;

/// Panics raised inside calls into the parquet crate (and the crates it calls) are caught at
/// lantern-data's boundary and reported as unreadable data; only those are silenced. Any
/// other panic aborts as usual.
fn quiet_parquet_panics() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if lantern_data::record::in_guarded_parquet_call() {
            return;
        }
        default_hook(info);
        std::process::abort();
    }));
}

fuzz_target!(init: quiet_parquet_panics(), |data: &[u8]| {
    let Some((&sel, body)) = data.split_first() else {
        return;
    };
    let kind = match sel % 4 {
        0 => DatasetKind::Jsonl,
        1 => DatasetKind::Csv,
        2 => DatasetKind::Tsv,
        _ => DatasetKind::Parquet,
    };
    let opts = ReadOptions {
        kind: Some(kind),
        max_record_bytes: 4096,
        ..ReadOptions::default()
    };
    let mut seen = 0u64;
    let mut last_line = 0u64;
    let res = read_reader("fuzz", kind, body, &opts, &mut |r| {
        assert_eq!(r.index, seen);
        assert!(r.line >= last_line, "lines go backwards");
        last_line = r.line;
        let _ = r.digest();
        seen += 1;
        Ok(())
    });
    if let Ok(s) = res {
        // Unreadable rows are given to the caller too, in place.
        assert_eq!(s.records + s.bad_records, seen);
        assert!(s.bad_rows.len() as u64 <= s.bad_records.max(s.bad_rows.len() as u64));
    }
});
