//! Memory bombs stay under the scanner's memory budget (256 MiB peak RSS for the whole test
//! process) and end in a finding, not a crash or a silent stop: a zlib stream (joblib's
//! format) expanding to 1 GiB of MARK opcodes, and a 400 MB plain pickle of MARKs.
//! One test function: the peak RSS (VmHWM) is process-wide.

use lantern_core::{Location, Severity};
use lantern_models::{scan_path, Policy};
use std::io::Write;

const BUDGET_KIB: u64 = 256 * 1024;

/// Peak resident set of this process, from /proc (None elsewhere).
fn peak_rss_kib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let l = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    l.split_whitespace().nth(1)?.parse().ok()
}

/// LSB-first bit writer for a hand-made deflate stream.
struct Bits {
    out: Vec<u8>,
    acc: u64,
    n: u32,
}

impl Bits {
    fn put(&mut self, value: u64, bits: u32) {
        self.acc |= value << self.n;
        self.n += bits;
        while self.n >= 8 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.n -= 8;
        }
    }
    /// A Huffman code, written most significant bit first.
    fn code(&mut self, code: u64, bits: u32) {
        let mut rev = 0;
        for i in 0..bits {
            rev |= ((code >> i) & 1) << (bits - 1 - i);
        }
        self.put(rev, bits);
    }
}

/// A zlib stream of `1 + 258 * k` bytes of `(`: one literal, then k copies of length 258 at
/// distance 1 (fixed Huffman codes: 13 bits per 258 bytes).
fn zlib_of_marks(k: u64) -> (Vec<u8>, u64) {
    let mut b = Bits {
        out: vec![0x78, 0x01],
        acc: 0,
        n: 0,
    };
    b.put(1, 1); // BFINAL
    b.put(1, 2); // fixed Huffman
    b.code(0x30 + u64::from(b'('), 8);
    for _ in 0..k {
        b.code(0xC0 + 5, 8); // length code 285 = 258
        b.code(0, 5); // distance code 0 = 1
    }
    b.code(0, 7); // end of block
    if b.n > 0 {
        b.put(0, 8 - b.n);
    }
    let n = 1 + 258 * k;
    // Adler-32 of n bytes of 40, in closed form.
    let m = 65521u128;
    let n128 = u128::from(n);
    let a = (1 + 40 * n128) % m;
    let bsum = (n128 + 40 * n128 * (n128 + 1) / 2) % m;
    let adler = ((bsum << 16) | a) as u32;
    b.out.extend_from_slice(&adler.to_be_bytes());
    (b.out, n)
}

fn assert_mark_limit(r: &lantern_models::ModelReport, what: &str) {
    let f = r
        .findings
        .iter()
        .find(|f| f.rule_id == "pickle.malformed")
        .unwrap_or_else(|| panic!("{what}: no finding: {r:?}"));
    assert_eq!(f.severity, Severity::Medium, "{what}");
    assert!(
        f.detail
            .as_deref()
            .unwrap_or("")
            .contains("mark limit reached"),
        "{what}: {f:?}"
    );
}

#[test]
fn bombs_end_in_a_finding_within_the_memory_budget() {
    let dir = tempfile::tempdir().expect("temp dir");
    let policy = Policy::default();

    // 1 GiB of `(` as a zlib joblib file, named as a scikit-learn model.
    let (z, expanded) = zlib_of_marks(4_161_790);
    assert!(expanded > 1 << 29 && z.len() < 8 << 20);
    let p = dir.path().join("model.sav");
    std::fs::write(&p, &z).expect("write");
    drop(z);
    let r = scan_path(&p, &Location::path("model.sav"), &policy);
    assert_mark_limit(&r, "zlib bomb");

    // 400 MB plain pickle of `(`.
    let p = dir.path().join("big.pkl");
    let mut f = std::fs::File::create(&p).expect("create");
    let chunk = vec![b'('; 1 << 20];
    for _ in 0..400 {
        f.write_all(&chunk).expect("write");
    }
    drop(f);
    let r = scan_path(&p, &Location::path("big.pkl"), &policy);
    assert_mark_limit(&r, "plain bomb");

    if let Some(peak) = peak_rss_kib() {
        eprintln!("peak RSS {peak} KiB");
        assert!(peak < BUDGET_KIB, "peak RSS {peak} KiB");
    }
}
