//! Fuzz the gitleaks configuration loader on arbitrary text; when it loads, scan a few
//! inputs with the result. Errors are fine, panics are not.
#![no_main]

use lantern_core::Location;
use lantern_secrets::{RuleSet, Scanner};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut set = RuleSet::new();
    if set.add_gitleaks_text(text, "fuzz.toml").is_err() {
        return;
    }
    if let Ok(s) = Scanner::new(set, &[]) {
        let _ = s.scan(data, &Location::path("a.env"));
        let _ = s.scan(
            b"password = \"Zx9kQ2mW7pL4vR8t\"\nghp_0123456789",
            &Location::path("x.p12"),
        );
    }
});
