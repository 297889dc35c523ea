//! Fuzzes OMS statement parsing (predicate, serialization, resource names, root digest).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = lantern_sign::oms::manifest_from_statement(data, "fuzz") {
        // Whatever parses must re-serialize into a statement that parses to the same items.
        if m.model_name != "compat-undefined-not-present" {
            let st = lantern_sign::oms::statement_json(&m).expect("serialize");
            let back = lantern_sign::oms::manifest_from_statement(&st, "fuzz").expect("reparse");
            assert_eq!(back.items, m.items);
        }
    }
});
