//! Fuzzes Sigstore bundle parsing and, when it parses, the statement inside it.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(b) = lantern_sign::bundle::Bundle::from_json(data, "fuzz") {
        let _ = lantern_sign::oms::manifest_from_statement(&b.envelope.payload, "fuzz");
        let again = lantern_sign::bundle::Bundle::from_json(b.to_json().as_bytes(), "fuzz");
        assert_eq!(again.ok().as_ref(), Some(&b), "bundle must round-trip");
    }
});
