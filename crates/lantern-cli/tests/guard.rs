//! `lantern guard` and `lantern audit` end to end: key administration, the gateway in front of
//! the mock upstream as real processes, audit verification, proofs, tamper detection, graceful
//! shutdown (SIGTERM) and recovery after SIGKILL under load.

use assert_cmd::Command;
use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

fn lantern() -> Command {
    Command::cargo_bin("lantern").unwrap_or_else(|e| panic!("{e}"))
}

fn bin() -> std::path::PathBuf {
    assert_cmd::cargo::cargo_bin("lantern")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("{e}"))
}

/// The mock OpenAI-compatible upstream, in this test process (it is not part of the binary).
fn mock_upstream(port: u16) {
    let addr = format!("127.0.0.1:{port}");
    std::thread::spawn(move || lantern_guard::mock::serve_blocking(&addr, 1));
}

fn wait_port(port: u16) {
    let t = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            t.elapsed() < Duration::from_secs(15),
            "nothing listening on {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One HTTP/1.1 request with `Connection: close`; returns (status, body).
fn http(port: u16, method: &str, path: &str, token: Option<&str>, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap_or_else(|e| panic!("{e}"));
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap_or(());
    let auth = token
        .map(|t| format!("authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nhost: x\r\n{auth}content-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes())
        .unwrap_or_else(|e| panic!("{e}"));
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    let status = out.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(args: &[&str], env: &[(&str, &str)]) -> Proc {
    let mut c = std::process::Command::new(bin());
    c.args(args).stdout(Stdio::null()).stderr(Stdio::null());
    for (k, v) in env {
        c.env(k, v);
    }
    Proc(
        c.spawn()
            .unwrap_or_else(|e| panic!("spawning lantern {args:?}: {e}")),
    )
}

fn create_key(keys: &Path, owner: &str, extra: &[&str]) -> (String, String) {
    let mut args = vec![
        "guard",
        "keys",
        "create",
        "--keys",
        keys.to_str().unwrap_or(""),
        "--owner",
        owner,
        "--json",
    ];
    args.extend_from_slice(extra);
    let out = lantern()
        .args(&args)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    (
        v["token"].as_str().unwrap_or("").to_string(),
        v["key"]["id"].as_str().unwrap_or("").to_string(),
    )
}

#[test]
fn keys_lifecycle_and_access_audit() {
    let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let keys = d.path().join("keys.json");
    let k = keys.to_str().unwrap_or("");
    let (tok, id) = create_key(
        &keys,
        "contractor-a",
        &["--model", "gpt-4o*", "--ttl", "12h"],
    );
    assert!(tok.starts_with("lg-"));
    let stored = std::fs::read_to_string(&keys).unwrap_or_default();
    assert!(!stored.contains(&tok) && stored.contains(&id));
    let out = lantern()
        .args(["guard", "keys", "list", "--keys", k, "--json"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let list: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    assert_eq!(list[0]["owner"], "contractor-a");
    assert_eq!(list[0]["status"], "active");
    assert!(list[0].get("hash").is_none());
    // never used -> the access audit flags it (exit 1)
    let out = lantern()
        .args(["guard", "keys", "audit", "--keys", k, "--json"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(1));
    let found: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    assert_eq!(found[0]["status"], "never-used");
    // rotate, then revoke the successor
    let out = lantern()
        .args([
            "guard", "keys", "rotate", "--keys", k, &id, "--grace", "0", "--json",
        ])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(out.status.success());
    let rot: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let new_id = rot["key"]["id"].as_str().unwrap_or("").to_string();
    assert_eq!(rot["key"]["rotated_from"], Value::String(id.clone()));
    lantern()
        .args(["guard", "keys", "revoke", "--keys", k, &new_id])
        .assert()
        .success();
    let out = lantern()
        .args(["guard", "keys", "list", "--keys", k, "--json"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let list: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let status: Vec<&str> = list
        .as_array()
        .map(|a| {
            a.iter()
                .map(|x| x["status"].as_str().unwrap_or(""))
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(status, vec!["expired", "revoked"]);
    lantern()
        .args(["guard", "keys", "revoke", "--keys", k, "nosuchkey"])
        .assert()
        .code(2);
}

fn write_config(dir: &Path, port: u16, up: u16) -> std::path::PathBuf {
    let cfg = dir.join("guard.toml");
    std::fs::write(
        &cfg,
        format!(
            "listen = \"127.0.0.1:{port}\"\nkeys_file = \"keys.json\"\n[upstream]\nurl = \"http://127.0.0.1:{up}\"\napi_key_env = \"LANTERN_CLI_TEST_UPSTREAM\"\n\
             [limits]\nrequests_per_minute = 100000\nburst = 100000\n[monitor]\naction = \"redact\"\n[audit]\ndir = \"audit\"\nsigning_key = \"audit.key\"\ncheckpoint_interval_ms = 100\n"
        ),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    cfg
}

#[test]
fn serve_audit_verify_prove_and_detect_tampering() {
    let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (port, up) = (free_port(), free_port());
    mock_upstream(up);
    let cfg = write_config(d.path(), port, up);
    let (tok, _) = create_key(&d.path().join("keys.json"), "ci", &[]);
    wait_port(up);
    let mut guard = spawn(
        &["guard", "serve", "--config", cfg.to_str().unwrap_or("")],
        &[("LANTERN_CLI_TEST_UPSTREAM", "sk-up")],
    );
    wait_port(port);
    // a second gateway on the same audit directory refuses to start, naming the holder
    let second = lantern()
        .args([
            "guard",
            "serve",
            "--config",
            cfg.to_str().unwrap_or(""),
            "--listen",
            &format!("127.0.0.1:{}", free_port()),
        ])
        .env("LANTERN_CLI_TEST_UPSTREAM", "sk-up")
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let err = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(2), "{err}");
    assert!(
        err.contains("in use by another lantern guard")
            && err.contains(&format!("pid {}", guard.0.id())),
        "{err}"
    );
    let body =
        r#"{"model":"m","messages":[{"role":"user","content":"my card 4111 1111 1111 1111"}]}"#;
    let (s, b) = http(port, "POST", "/v1/chat/completions", Some(&tok), body);
    assert_eq!(s, 200, "{b}");
    assert!(
        b.contains("[REDACTED:pii.payment-card]") && !b.contains("4111 1111"),
        "{b}"
    );
    assert_eq!(
        http(port, "POST", "/v1/chat/completions", None, body).0,
        401
    );
    assert_eq!(
        http(port, "POST", "/v1/chat/completions", Some(&tok), "{oops").0,
        400
    );
    // graceful shutdown seals the log
    let pid = guard.0.id().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .map(|s| s.success())
        .unwrap_or(false));
    let t = Instant::now();
    while guard.0.try_wait().ok().flatten().is_none() {
        assert!(
            t.elapsed() < Duration::from_secs(15),
            "guard did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = d.path().join("audit");
    let l = log.to_str().unwrap_or("");
    let key = lantern()
        .args([
            "audit",
            "keygen",
            "--name",
            "unused",
            "--out",
            d.path().join("other.key").to_str().unwrap_or(""),
        ])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(key.status.success());
    let pinned = std::fs::read_to_string(log.join("log.pub")).unwrap_or_default();
    let out = lantern()
        .args([
            "audit",
            "verify",
            "--log",
            l,
            "--key",
            pinned.trim(),
            "--json",
        ])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let rep: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    assert_eq!(
        (rep["records"].as_u64(), rep["sealed"].as_u64()),
        (Some(3), Some(3))
    );
    // a key other than the log's own does not verify it
    let other = String::from_utf8_lossy(&key.stdout).trim().to_string();
    lantern()
        .args(["audit", "verify", "--log", l, "--key", &other])
        .assert()
        .code(1);
    // inclusion proof of record 0, checked independently
    let out = lantern()
        .args(["audit", "prove", "--log", l, "0", "--key", pinned.trim()])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(out.status.success());
    let proof: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let rec: Value =
        serde_json::from_str(proof["record"].as_str().unwrap_or("")).unwrap_or_default();
    assert_eq!(rec["decision"], "redacted");
    assert_eq!(rec["hits"][0], "pii.payment-card");
    let pf = d.path().join("proof.json");
    std::fs::write(&pf, &out.stdout).unwrap_or_else(|e| panic!("{e}"));
    lantern()
        .args([
            "audit",
            "check-proof",
            pf.to_str().unwrap_or(""),
            "--key",
            pinned.trim(),
        ])
        .assert()
        .success();
    let mut forged = proof.clone();
    forged["index"] = Value::from(1);
    std::fs::write(&pf, forged.to_string()).unwrap_or_else(|e| panic!("{e}"));
    lantern()
        .args([
            "audit",
            "check-proof",
            pf.to_str().unwrap_or(""),
            "--key",
            pinned.trim(),
        ])
        .assert()
        .code(1);
    // export a checkpoint, then tamper: flip one byte inside the first record
    let cp = lantern()
        .args(["audit", "checkpoint", "--log", l, "--key", pinned.trim()])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(String::from_utf8_lossy(&cp.stdout).contains("\n3\n"));
    let rp = log.join("records.log");
    let mut bytes = std::fs::read(&rp).unwrap_or_default();
    bytes[20] ^= 1;
    std::fs::write(&rp, &bytes).unwrap_or_else(|e| panic!("{e}"));
    let out = lantern()
        .args(["audit", "verify", "--log", l, "--key", pinned.trim()])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("TAMPERED"));
    bytes[20] ^= 1;
    // truncation: drop the last record
    let last_len = {
        let mut off = 0usize;
        let mut last = 0usize;
        while off + 8 <= bytes.len() {
            let n = u32::from_le_bytes([bytes[off], bytes[off + 1], bytes[off + 2], bytes[off + 3]])
                as usize;
            if n == 0 {
                // the zeroed room the writer keeps after the records
                break;
            }
            last = off;
            off += 8 + n;
        }
        last
    };
    std::fs::write(&rp, &bytes[..last_len]).unwrap_or_else(|e| panic!("{e}"));
    let out = lantern()
        .args(["audit", "verify", "--log", l, "--key", pinned.trim()])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("covers 3 records but the log holds only 2"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn sigkill_under_load_leaves_a_verifiable_log() {
    let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (port, up) = (free_port(), free_port());
    mock_upstream(up);
    let cfg = write_config(d.path(), port, up);
    let (tok, _) = create_key(&d.path().join("keys.json"), "load", &[]);
    wait_port(up);
    let c = cfg.to_str().unwrap_or("").to_string();
    let mut guard = spawn(
        &["guard", "serve", "--config", &c],
        &[("LANTERN_CLI_TEST_UPSTREAM", "sk-up")],
    );
    wait_port(port);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let ok = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut load = Vec::new();
    for _ in 0..4 {
        let (stop, ok, tok) = (stop.clone(), ok.clone(), tok.clone());
        load.push(std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let body = r#"{"model":"m","messages":[{"role":"user","content":"hello"}]}"#;
                let mut s = match TcpStream::connect(("127.0.0.1", port)) {
                    Ok(s) => s,
                    Err(_) => break,
                };
                let req = format!("POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {tok}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
                let _ = s.write_all(req.as_bytes());
                let mut out = String::new();
                let _ = s.read_to_string(&mut out);
                if out.starts_with("HTTP/1.1 200") {
                    ok.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
        }));
    }
    // at least 300 answered requests and half a second of load (five checkpoint intervals: a
    // kill before the first checkpoint leaves nothing sealed, which verify rightly reports)
    let t = Instant::now();
    while (ok.load(std::sync::atomic::Ordering::Relaxed) < 300
        || t.elapsed() < Duration::from_millis(500))
        && t.elapsed() < Duration::from_secs(15)
    {
        std::thread::sleep(Duration::from_millis(10));
    }
    guard.0.kill().unwrap_or_else(|e| panic!("{e}"));
    let _ = guard.0.wait();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for h in load {
        let _ = h.join();
    }
    assert!(
        ok.load(std::sync::atomic::Ordering::Relaxed) >= 100,
        "too little load before the kill"
    );
    let log = d.path().join("audit");
    let l = log.to_str().unwrap_or("");
    let pinned = std::fs::read_to_string(log.join("log.pub")).unwrap_or_default();
    let out = lantern()
        .args([
            "audit",
            "verify",
            "--log",
            l,
            "--key",
            pinned.trim(),
            "--json",
        ])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let before: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    assert!(before["records"].as_u64().unwrap_or(0) >= 100, "{before}");
    // restart on the same log: the torn tail (if any) is cut, appends continue, the log seals;
    // on one thread (the current-thread runtime), which must shut down as gracefully
    let mut guard = spawn(
        &["guard", "serve", "--config", &c, "--threads", "1"],
        &[("LANTERN_CLI_TEST_UPSTREAM", "sk-up")],
    );
    wait_port(port);
    assert_eq!(
        http(
            port,
            "POST",
            "/v1/chat/completions",
            Some(&tok),
            r#"{"model":"m","messages":[]}"#
        )
        .0,
        200
    );
    let pid = guard.0.id().to_string();
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status();
    let _ = guard.0.wait();
    let out = lantern()
        .args([
            "audit",
            "verify",
            "--log",
            l,
            "--key",
            pinned.trim(),
            "--json",
        ])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let after: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    assert_eq!(
        after["records"].as_u64(),
        before["records"].as_u64().map(|n| n + 1)
    );
    assert_eq!(after["sealed"], after["records"]);
}

#[test]
fn serve_with_a_bad_tls_certificate_fails_naming_the_file() {
    let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let cfg = write_config(d.path(), free_port(), free_port());
    let mut text = std::fs::read_to_string(&cfg).unwrap_or_else(|e| panic!("{e}"));
    text.push_str("[server]\ntls_cert = \"server-cert.pem\"\ntls_key = \"server-key.pem\"\n");
    std::fs::write(&cfg, text).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(d.path().join("server-cert.pem"), "not a certificate\n")
        .unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(d.path().join("server-key.pem"), "not a key\n")
        .unwrap_or_else(|e| panic!("{e}"));
    lantern()
        .args(["guard", "serve", "--config", cfg.to_str().unwrap_or("")])
        .env("LANTERN_CLI_TEST_UPSTREAM", "sk-up")
        .timeout(std::time::Duration::from_secs(20))
        .assert()
        .code(2)
        .stderr(predicates::str::contains("server-cert.pem"))
        .stderr(predicates::str::contains("no PEM certificate"));
}
