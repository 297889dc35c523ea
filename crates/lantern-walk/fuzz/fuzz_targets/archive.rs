//! Fuzz archive expansion: arbitrary bytes through `expand_bytes` (zip, tar, gzip, nesting).
#![no_main]

use lantern_core::{Location, Warning};
use lantern_walk::{expand_bytes, Blob, Visitor, WalkOptions};
use libfuzzer_sys::fuzz_target;

struct Sink;

impl Visitor for Sink {
    fn blob(&self, b: Blob) {
        assert!(b.data.len() as u64 <= b.size.max(64 * 1024));
    }
    fn warning(&self, _w: Warning) {}
}

fuzz_target!(|data: &[u8]| {
    let opts = WalkOptions {
        max_file_size: 1 << 20,
        max_archive_bytes: 8 << 20,
        ..Default::default()
    };
    expand_bytes(&Location::path("fuzz.bin"), data, &opts, &Sink);
});
