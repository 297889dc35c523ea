//! Fuzzes the n-gram index file parser and the verbatim search over arbitrary text.
#![no_main]

use lantern_guard::ngram::NgramIndex;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(idx) = NgramIndex::from_bytes(data) {
        let _ = idx.find("the quick brown fox jumps over the lazy dog again and again");
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let mut idx = NgramIndex::new(3);
        idx.add_text(text);
        idx.finish();
        for (s, e) in idx.find(text) {
            assert!(s <= e && e <= text.len() && text.is_char_boundary(s) && text.is_char_boundary(e));
        }
    }
});
