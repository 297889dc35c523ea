//! Fuzz notebook splitting: arbitrary bytes as an `.ipynb` through `expand_bytes`.
#![no_main]

use lantern_core::{Location, Warning};
use lantern_walk::{expand_bytes, Blob, BlobKind, Visitor, WalkOptions};
use libfuzzer_sys::fuzz_target;

struct Sink;

impl Visitor for Sink {
    fn blob(&self, b: Blob) {
        assert_eq!(b.kind, BlobKind::NotebookCell);
        assert!(b.location.cell.is_some());
    }
    fn warning(&self, _w: Warning) {}
}

fuzz_target!(|data: &[u8]| {
    expand_bytes(&Location::path("fuzz.ipynb"), data, &WalkOptions::default(), &Sink);
});
