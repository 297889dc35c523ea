//! `lantern scan` on protocol 0/1 pickles (no PROTO header) whose first value is longer than
//! the 64 KiB sniff head: they must be recognised and their payload reported, whatever the
//! extension; random `.bin` files, also ones starting like such a value, must stay clean.

use assert_cmd::Command;
use std::path::Path;

mod common;
use common::json_report;

/// The payload after the long first value: POP it, then `os.system("id")`.
const TAIL: &[u8] = b"0cos\nsystem\n(S'id'\ntR.";

fn python() -> String {
    std::env::var("LANTERN_TEST_PYTHON").unwrap_or_else(|_| "python3".into())
}

/// `(op, 4-byte little-endian length, body)` then [`TAIL`].
fn len_prefixed(op: u8, body: &[u8]) -> Vec<u8> {
    let mut b = vec![op];
    b.extend_from_slice(&(body.len() as u32).to_le_bytes());
    b.extend_from_slice(body);
    b.extend_from_slice(TAIL);
    b
}

/// The payload shapes: (name, bytes, opcodes `pickletools` must list).
fn payloads() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    let mut string = b"(S'".to_vec();
    string.extend(std::iter::repeat_n(b'A', 70_000));
    string.extend_from_slice(b"'\np0\n");
    string.extend_from_slice(TAIL);
    let mut unicode = b"V".to_vec();
    unicode.extend(std::iter::repeat_n(b'A', 70_000));
    unicode.push(b'\n');
    unicode.extend_from_slice(TAIL);
    // Number lines Python reads at any length: 0.000…01 and 000…01.
    let number = |op: &[u8]| {
        let mut b = op.to_vec();
        b.extend(std::iter::repeat_n(b'0', 70_000));
        b.extend_from_slice(b"1\n");
        b.extend_from_slice(TAIL);
        b
    };
    let a = vec![b'A'; 100_000];
    let raw: Vec<u8> = (0..100_000u32).map(|i| (i * 7 + 3) as u8).collect();
    vec![
        ("string", string, "MARK STRING PUT POP GLOBAL"),
        ("unicode", unicode, "UNICODE POP GLOBAL"),
        ("float", number(b"F0."), "FLOAT POP GLOBAL"),
        ("int", number(b"I"), "INT POP GLOBAL"),
        (
            "binunicode",
            len_prefixed(b'X', &a),
            "BINUNICODE POP GLOBAL",
        ),
        ("binbytes", len_prefixed(b'B', &raw), "BINBYTES POP GLOBAL"),
        ("binstring", len_prefixed(b'T', &a), "BINSTRING POP GLOBAL"),
    ]
}

fn scan(dir: &Path, target: &str) -> (i32, serde_json::Value) {
    json_report(
        Command::cargo_bin("lantern")
            .expect("binary")
            .current_dir(dir)
            .args(["scan", "--format", "json", "--no-progress", target]),
    )
}

#[test]
fn payloads_are_real_pickles() {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, bytes, ops) in payloads() {
        let p = dir.path().join(name);
        std::fs::write(&p, &bytes).expect("write");
        // pickletools reads INT in Python, under the digit limit that pickle's C reader
        // does not apply to leading zeros: lift it (Python 3.11+) to list the opcodes.
        let script = "import io,pickletools,sys\n\
                      getattr(sys,'set_int_max_str_digits',lambda n:0)(0)\n\
                      d=open(sys.argv[1],'rb').read()\n\
                      print(' '.join(o.name for o,a,p in pickletools.genops(io.BytesIO(d))))";
        let out = std::process::Command::new(python())
            .args(["-c", script])
            .arg(&p)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {} (set LANTERN_TEST_PYTHON): {e}", python()));
        let listed = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{name}: {listed}");
        assert!(
            listed.trim().starts_with(ops) && listed.trim().ends_with("TUPLE REDUCE STOP"),
            "{name}: {listed}"
        );
    }
}

#[test]
fn long_first_value_pickles_are_scanned_with_any_extension() {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, bytes, _) in payloads() {
        for ext in ["", ".pkl", ".bin", ".pt"] {
            let file = format!("{name}{ext}");
            std::fs::write(dir.path().join(&file), &bytes).expect("write");
            let (code, v) = scan(dir.path(), &file);
            assert_eq!(code, 1, "{file}: {v}");
            let f = &v["findings"][0];
            assert_eq!(f["rule_id"], "pickle.dangerous-call", "{file}: {v}");
            assert_eq!(f["severity"], "critical", "{file}: {v}");
            let at = &f["locations"][0];
            assert_eq!(at["path"], file.as_str(), "{file}: {v}");
            // The import (`cos\nsystem`) right after the POP of the long value.
            let global = (bytes.len() - TAIL.len() + 1) as u64;
            assert_eq!(at["offset"].as_u64(), Some(global), "{file}: {v}");
            assert!(
                f["detail"].as_str().unwrap_or("").contains("os.system"),
                "{file}: {v}"
            );
        }
    }
}

#[test]
fn long_first_value_pickle_over_max_file_size_is_scanned() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (_, bytes, _) = payloads().remove(2);
    std::fs::write(dir.path().join("w.bin"), &bytes).expect("write");
    let out = Command::cargo_bin("lantern")
        .expect("binary")
        .current_dir(dir.path())
        .args(["scan", "--no-progress", "--max-file-size", "1000", "w.bin"])
        .output()
        .expect("run lantern");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("pickle.dangerous-call") && text.contains("os.system"),
        "{text}"
    );
}

/// splitmix64: a fixed-seed stream of random bytes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn fill(&mut self, n: usize) -> Vec<u8> {
        (0..n.div_ceil(8))
            .flat_map(|_| self.next().to_le_bytes())
            .take(n)
            .collect()
    }
}

#[test]
fn random_bin_files_stay_clean() {
    const MB: usize = 1024 * 1024;
    let dir = tempfile::tempdir().expect("temp dir");
    let mut rng = Rng(20);
    for i in 0..200 {
        let mut b = rng.fill(MB);
        // One in four starts like a long first value that fits in the file.
        let len = (70_000 + rng.next() % 900_000) as u32;
        match i % 8 {
            0 => b[0] = b'X',
            2 => b[0] = b'B',
            4 => b[..3].copy_from_slice(b"(S'"),
            6 => b[0] = b'T',
            _ => {}
        }
        if matches!(i % 8, 0 | 2 | 6) {
            b[1..5].copy_from_slice(&len.to_le_bytes());
        }
        std::fs::write(dir.path().join(format!("w{i}.bin")), &b).expect("write");
    }
    let (code, v) = scan(dir.path(), ".");
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["findings"].as_array().map(Vec::len), Some(0), "{v}");
    assert_eq!(v["warnings"].as_array().map(Vec::len), Some(0), "{v}");
}

#[test]
fn long_first_value_member_over_max_file_size_is_reported_not_scanned() {
    use std::io::Write;
    let dir = tempfile::tempdir().expect("temp dir");
    let (_, bytes, _) = payloads().remove(2);
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    z.start_file("w.bin", zip::write::SimpleFileOptions::default())
        .expect("zip entry");
    z.write_all(&bytes).expect("zip write");
    let z = z.finish().expect("zip finish").into_inner();
    std::fs::write(dir.path().join("a.zip"), z).expect("write");
    let out = Command::cargo_bin("lantern")
        .expect("binary")
        .current_dir(dir.path())
        .args(["scan", "--format", "json", "--no-progress"])
        .args(["--max-file-size", "1000", "a.zip"])
        .output()
        .expect("run lantern");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    // A warning, or (once incomplete scans are findings) a `scan.incomplete` finding.
    let warned = v["warnings"].as_array().into_iter().flatten().any(|w| {
        w["path"] == "a.zip!w.bin" && w["message"].as_str().unwrap_or("").contains("not scanned")
    });
    let found = v["findings"].as_array().into_iter().flatten().any(|f| {
        f["rule_id"] == "scan.incomplete"
            && f["locations"][0]["path"] == "a.zip!w.bin"
            && f["detail"].as_str().unwrap_or("").contains("not scanned")
    });
    assert!(warned || found, "{v}");
}
