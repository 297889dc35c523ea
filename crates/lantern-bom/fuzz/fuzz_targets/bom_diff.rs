//! Fuzz `bom diff` with two arbitrary documents split at the first NUL byte.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (a, b) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, data),
    };
    let a = String::from_utf8_lossy(a);
    let b = String::from_utf8_lossy(b);
    if let Ok(d) = lantern_bom::diff_json("a", &a, "b", &b) {
        let _ = d.to_human();
    }
});
