//! Fuzz the Lantern rule-file loader (schema validation, regex compilation, example checks).
#![no_main]

use lantern_secrets::RuleSet;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut set = RuleSet::new();
    let _ = set.add_rule_file_text(text, "fuzz.toml", true);
});
