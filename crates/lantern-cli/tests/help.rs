//! `lantern --help` speaks to users: what the tool does, not how the crate is wired.

use assert_cmd::Command;

#[test]
fn help_starts_with_what_lantern_does() {
    let out = Command::cargo_bin("lantern")
        .expect("binary")
        .arg("--help")
        .output()
        .expect("runs");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let first = text.lines().next().unwrap_or_default();
    assert!(first.starts_with("Shine a light"), "first line: {first}");
    assert!(
        !text.contains("wiring"),
        "crate description leaked into --help:\n{text}"
    );
    for cmd in ["scan", "sign", "verify", "bom", "data", "guard", "audit"] {
        assert!(
            text.contains(&format!("  {cmd}")),
            "--help lists {cmd}:\n{text}"
        );
    }
}
