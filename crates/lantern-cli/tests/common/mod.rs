//! Helpers shared by the end-to-end tests of `lantern scan`: running the binary for its JSON
//! report, and test secrets built from a seed. Each test file uses some of them.
#![allow(dead_code)]

use assert_cmd::Command;

const B62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A GitHub classic token with a valid CRC32 checksum, built from a seed.
pub fn github_token(seed: u64) -> String {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let body: String = (0..30)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            B62[(x % 62) as usize] as char
        })
        .collect();
    let mut crc = crc32fast::hash(body.as_bytes()) as u64;
    let mut sum = Vec::new();
    while crc > 0 {
        sum.push(B62[(crc % 62) as usize]);
        crc /= 62;
    }
    while sum.len() < 6 {
        sum.push(b'0');
    }
    sum.reverse();
    let sum: String = sum.into_iter().map(char::from).collect();
    format!("ghp_{body}{sum}")
}

/// Runs `cmd` (a `lantern scan --format json` command) and returns its exit code and report;
/// output that is not JSON fails the test with both streams shown.
pub fn json_report(cmd: &mut Command) -> (i32, serde_json::Value) {
    let out = cmd.output().expect("run lantern");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "bad JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), v)
}

/// Runs `cmd` as `lantern scan --format json --show-secrets --no-progress ARGS` in `dir`; exit
/// code and report.
pub fn scan_json_in(
    mut cmd: Command,
    args: &[&str],
    dir: &std::path::Path,
) -> (i32, serde_json::Value) {
    let fixed = [
        "scan",
        "--format",
        "json",
        "--show-secrets",
        "--no-progress",
    ];
    json_report(cmd.current_dir(dir).args(fixed).args(args))
}
