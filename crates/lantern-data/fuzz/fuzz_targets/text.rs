//! Fuzz the text features and small parsers: tokenizer spans, n-gram text, MinHash, personal
//! data patterns with their checksums, and the `git blame --porcelain` parser.
#![no_main]

use lantern_data::{git, pii, text};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    let mut toks = Vec::new();
    text::tokenize(&s, &mut toks);
    for t in &toks {
        assert!(t.start < t.end && t.end <= s.len());
        assert!(s.is_char_boundary(t.start) && s.is_char_boundary(t.end));
    }
    for w in toks.windows(3) {
        let _ = text::ngram_text(&s, w);
        let _ = text::ngram_hash(w);
    }
    if let Some(sig) = text::minhash(&toks) {
        assert_eq!(text::similarity(&sig, &sig), 1.0);
    }
    for m in pii::find(&s) {
        assert!(s.get(m.offset..m.offset + m.value.len()) == Some(m.value.as_str()));
    }
    let _ = git::parse_porcelain(data);
});
