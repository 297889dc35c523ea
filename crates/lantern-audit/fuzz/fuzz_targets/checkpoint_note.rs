//! Fuzzes the parsers of untrusted checkpoint text: signed notes, checkpoint bodies, note keys
//! and inclusion-proof JSON.
#![no_main]

use lantern_audit::{Checkpoint, InclusionProof, NoteVerifier, Signer};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn keys() -> &'static (Signer, NoteVerifier) {
    static K: OnceLock<(Signer, NoteVerifier)> = OnceLock::new();
    K.get_or_init(|| {
        let s = Signer::parse("PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz")
            .unwrap_or_else(|e| panic!("{e}"));
        let v = s.verifier();
        (s, v)
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (signer, verifier) = keys();
    let _ = Checkpoint::parse_body(text);
    let _ = NoteVerifier::parse(text);
    let _ = Signer::parse(text);
    let _ = verifier.open(text);
    // a note we signed over fuzzed text must open to the same body
    if text.ends_with('\n') && !text.contains("\n\n") && text.len() < 4096 {
        let note = signer.sign_note(text);
        assert_eq!(verifier.verify_note(&note).ok(), Some(text));
    }
    if let Ok(p) = serde_json::from_str::<InclusionProof>(text) {
        let _ = p.verify(verifier);
    }
});
