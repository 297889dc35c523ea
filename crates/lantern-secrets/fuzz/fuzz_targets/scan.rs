//! Fuzz `Scanner::scan` with every bundled rule on arbitrary bytes: no panic, and every
//! finding's offset/line/column agree with the input.
#![no_main]

use lantern_core::Location;
use lantern_secrets::{RuleSet, Scanner};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn scanner() -> &'static Scanner {
    static S: OnceLock<Scanner> = OnceLock::new();
    S.get_or_init(|| {
        let rules = RuleSet::builtin().expect("bundled rules load");
        Scanner::new(rules, &[]).expect("scanner builds")
    })
}

fuzz_target!(|data: &[u8]| {
    let out = scanner().scan(data, &Location::path("fuzz.txt"));
    for f in &out.findings {
        let l = &f.locations[0];
        let off = l.offset.expect("offset") as usize;
        assert!(off < data.len());
        let line = data[..off].iter().filter(|&&b| b == b'\n').count() + 1;
        assert_eq!(l.line, Some(line as u32));
        let start = data[..off]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        assert_eq!(l.column, Some((off - start + 1) as u32));
    }
});
