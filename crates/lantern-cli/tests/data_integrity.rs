//! `lantern data` integrity through the real binary: a signed manifest must not verify a
//! tampered dataset, and `data diff` must see the change, for every way of hiding an edit
//! found by fault testing (issue 26): unreadable rows (ragged CSV, invalid or non-object JSON
//! Lines, over-long rows), integers wider than 64 bits, bytes that are not UTF-8. Malformed
//! Parquet is refused (exit 2) without a backtrace.

#![allow(clippy::unwrap_used)]

use assert_cmd::Command;
use std::path::Path;

fn lantern() -> Command {
    Command::cargo_bin("lantern").unwrap()
}

/// A key pair `k.pem` / `k.pub` in `dir`.
fn keygen(dir: &Path) {
    lantern()
        .current_dir(dir)
        .args(["keygen", "--type", "ed25519", "--out", "k"])
        .assert()
        .success();
}

/// Sign a manifest of `name` (in `dir`) as `name.manifest.json`, with extra arguments.
fn sign(dir: &Path, name: &str, extra: &[&str]) {
    let m = format!("{name}.manifest.json");
    lantern()
        .current_dir(dir)
        .args(["data", "manifest", name, "-o", &m, "--sign-key", "k.pem"])
        .args(extra)
        .assert()
        .success();
}

/// Exit code and stdout of `--verify` of `name` against its signed manifest.
fn verify(dir: &Path, name: &str) -> (i32, String) {
    let m = format!("{name}.manifest.json");
    let out = lantern()
        .current_dir(dir)
        .args([
            "data", "manifest", name, "--verify", &m, "--pubkey", "k.pub",
        ])
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// Write `before`, sign it, check it verifies; write `after` in its place: verify must fail
/// (exit 1), and `data diff` between the two versions must exit 1.
fn tamper_is_caught(name: &str, before: &[u8], after: &[u8], extra: &[&str]) {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    keygen(p);
    std::fs::write(p.join(name), before).unwrap();
    sign(p, name, extra);
    let (code, out) = verify(p, name);
    assert_eq!(code, 0, "{name}: the untouched data must verify: {out}");
    let old = format!("old-{name}");
    std::fs::write(p.join(&old), before).unwrap();
    std::fs::write(p.join(name), after).unwrap();
    let (code, out) = verify(p, name);
    assert_eq!(code, 1, "{name}: a tampered dataset verified: {out}");
    assert!(out.contains("does not match the signed manifest"), "{out}");
    let out = lantern()
        .current_dir(p)
        .args(["data", "diff", &old, name, "--no-git"])
        .args(extra)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{name}: diff saw no change: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn an_edited_ragged_csv_row_fails_verify_and_diff() {
    let base = "id,text,label\n1,good,pos\n2,ragged\n3,bad,neg\n";
    tamper_is_caught(
        "t.csv",
        base.as_bytes(),
        base.replace("2,ragged", "2,RAGGED").as_bytes(),
        &[],
    );
}

#[test]
fn an_added_ragged_csv_row_fails_verify_and_diff() {
    let base = "id,text,label\n1,good,pos\n3,bad,neg\n";
    let after = format!("{base}4,extra,field,here\n");
    tamper_is_caught("t.csv", base.as_bytes(), after.as_bytes(), &[]);
}

#[test]
fn a_header_edit_over_unreadable_rows_fails_verify_and_diff() {
    // Every data row is ragged, so only the header says how they are read.
    tamper_is_caught(
        "t.csv",
        b"a,b\n1,2,3\n4,5,6\n",
        b"a,b,c,d\n1,2,3\n4,5,6\n",
        &[],
    );
}

#[test]
fn a_header_edit_with_no_rows_under_it_fails_verify_and_diff() {
    tamper_is_caught("t.csv", b"text,label\n", b"text,class\n", &[]);
}

#[test]
fn an_edited_invalid_json_line_fails_verify_and_diff() {
    let base = "{\"id\":1,\"t\":\"a\"}\n{\"id\":2,\"t\":\"b\"\n{\"id\":3,\"t\":\"c\"}\n";
    tamper_is_caught(
        "t.jsonl",
        base.as_bytes(),
        base.replace("\"b\"\n", "\"B\"\n").as_bytes(),
        &[],
    );
}

#[test]
fn an_added_non_object_json_line_fails_verify_and_diff() {
    let base = "{\"id\":1,\"t\":\"a\"}\n";
    tamper_is_caught(
        "t.jsonl",
        base.as_bytes(),
        format!("{base}[\"poison\",1]\n").as_bytes(),
        &[],
    );
}

#[test]
fn an_edited_over_long_row_fails_verify_and_diff() {
    let long = "x".repeat(300);
    let base = format!("text,label\nshort,1\n{long},0\n");
    let after = base.replace(&format!("{long},0"), &format!("{long},1"));
    tamper_is_caught(
        "t.csv",
        base.as_bytes(),
        after.as_bytes(),
        &["--max-record-bytes", "100"],
    );
}

#[test]
fn integers_wider_than_64_bits_do_not_collide() {
    tamper_is_caught(
        "t.jsonl",
        b"{\"id\":12345678901234567890123,\"t\":\"a\"}\n",
        b"{\"id\":12345678901234567890124,\"t\":\"a\"}\n",
        &[],
    );
}

#[test]
fn bytes_that_are_not_utf8_do_not_collide_with_their_latin1_reading() {
    // ff fe in a CSV cell against the UTF-8 text "ÿþ" (what a Latin-1 fallback reads).
    tamper_is_caught(
        "t.csv",
        b"text,label\n\xff\xfe,1\n",
        "text,label\n\u{ff}\u{fe},1\n".as_bytes(),
        &[],
    );
    tamper_is_caught(
        "t.jsonl",
        b"{\"t\":\"\xff\xfe\"}\n",
        "{\"t\":\"\u{ff}\u{fe}\"}\n".as_bytes(),
        &[],
    );
}

#[test]
fn unreadable_rows_are_counted_and_listed_in_the_manifest() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("t.jsonl");
    std::fs::write(&p, "{\"a\":1}\nnot json\n[1]\n{\"a\":2}\n").unwrap();
    let out = lantern()
        .args(["data", "manifest"])
        .arg(&p)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let m: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(m["counts"]["records"], 2);
    assert_eq!(m["counts"]["bad_records"], 2);
    let lines: Vec<u64> = m["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [1, 2, 3, 4]);
    assert!(m["records"][1]["unreadable"].is_string());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("line 2"), "{stderr}");
}

/// A Parquet file written by parquet-rs 53.4.1 with one corrupted byte in a data page (a
/// fuzz find that made that version panic).
const CORRUPT_PARQUET: &str =
    include_str!("../../lantern-data/tests/data/corrupt-levels.parquet.hex");

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn malformed_parquet_is_refused_naming_the_file_without_a_backtrace() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("bad.parquet");
    std::fs::write(&p, unhex(CORRUPT_PARQUET.trim())).unwrap();
    for cmd in ["manifest", "audit"] {
        let out = lantern()
            .env("RUST_BACKTRACE", "1")
            .args(["data", cmd])
            .arg(&p)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{cmd}: {stderr}");
        assert!(stderr.contains("bad.parquet"), "{stderr}");
        assert!(stderr.contains("row 1"), "{stderr}");
        assert!(
            !stderr.contains("panicked") && !stderr.contains("stack backtrace"),
            "{stderr}"
        );
    }
}

#[test]
fn human_diff_shows_where_long_values_differ_and_escapes_homoglyphs() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    let long = "x".repeat(100);
    std::fs::write(
        p.join("a.jsonl"),
        format!("{{\"id\":1,\"text\":\"{long} cat {long}\"}}\n{{\"id\":2,\"text\":\"pay paypal now\"}}\n"),
    )
    .unwrap();
    std::fs::write(
        p.join("b.jsonl"),
        format!("{{\"id\":1,\"text\":\"{long} hat {long}\"}}\n{{\"id\":2,\"text\":\"pay p\u{430}ypal\u{200b} now\"}}\n"),
    )
    .unwrap();
    let out = lantern()
        .current_dir(p)
        .args([
            "data", "diff", "a.jsonl", "b.jsonl", "--key", "id", "--no-git",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    let line = text
        .lines()
        .find(|l| l.contains(" cat "))
        .unwrap_or_default();
    assert!(line.contains(" hat "), "{text}");
    assert!(
        text.contains("\"pay paypal now\" \u{2192} \"pay p\\u{430}ypal\\u{200b} now\""),
        "{text}"
    );
}
