//! Durability under SIGKILL: a child process appends from several threads and prints each
//! acknowledged index; the parent kills it mid-load and checks that every acknowledged record is
//! in the reopened log, at its index, and that the log still verifies.

use lantern_audit::{store, verify, LocalLog, LogOptions, Signer};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CHILD_ENV: &str = "LANTERN_AUDIT_CRASH_CHILD";

/// Runs only inside the child process spawned by `acknowledged_records_survive_sigkill`.
#[test]
fn crash_child_writer() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let (dir, rest) = spec
        .split_once('|')
        .unwrap_or_else(|| panic!("bad child spec"));
    let (round, key) = rest
        .split_once('|')
        .unwrap_or_else(|| panic!("bad child spec"));
    let signer = Signer::parse(key).unwrap_or_else(|e| panic!("{e}"));
    let opts = LogOptions {
        checkpoint_every: 50,
        ..LogOptions::default()
    };
    let log = std::sync::Arc::new(
        LocalLog::open(std::path::Path::new(dir), signer, opts).unwrap_or_else(|e| panic!("{e}")),
    );
    let mut threads = Vec::new();
    for t in 0..4 {
        let log = log.clone();
        let round = round.to_string();
        threads.push(std::thread::spawn(move || {
            for i in 0u64.. {
                let payload = format!("{{\"round\":{round},\"thread\":{t},\"i\":{i}}}");
                let idx = log
                    .append_blocking(payload.clone().into_bytes())
                    .unwrap_or_else(|e| panic!("{e}"));
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "ack {idx} {payload}");
                let _ = out.flush();
            }
        }));
    }
    for t in threads {
        let _ = t.join();
    }
}

#[test]
fn acknowledged_records_survive_sigkill() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let signer = Signer::generate("crash.test/audit").unwrap_or_else(|e| panic!("{e}"));
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("{e}"));
    let mut acked: Vec<(u64, String)> = Vec::new();
    for round in 0..4 {
        let spec = format!(
            "{}|{round}|{}",
            dir.path().display(),
            signer.to_private_string()
        );
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "crash_child_writer",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, spec)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("spawning child: {e}"));
        let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
        let mut lines = BufReader::new(stdout).lines();
        let start = Instant::now();
        let before = acked.len();
        // kill after a varying number of acknowledgements, while the writers are busy
        let target = 80 + round * 37;
        while let Some(Ok(line)) = lines.next() {
            if let Some(rest) = line.strip_prefix("ack ") {
                if let Some((i, p)) = rest.split_once(' ') {
                    acked.push((i.parse().unwrap_or(u64::MAX), p.to_string()));
                }
            }
            if acked.len() - before >= target || start.elapsed() > Duration::from_secs(10) {
                break;
            }
        }
        child.kill().unwrap_or_else(|e| panic!("SIGKILL: {e}"));
        let _ = child.wait();
        // acknowledgements printed after the kill decision still count: drain them
        for line in lines.map_while(Result::ok) {
            if let Some((i, p)) = line.strip_prefix("ack ").and_then(|r| r.split_once(' ')) {
                acked.push((i.parse().unwrap_or(u64::MAX), p.to_string()));
            }
        }
        assert!(
            acked.len() - before >= 50,
            "round {round}: child acknowledged only {} records",
            acked.len() - before
        );
    }
    // reopening recovers any torn tail; every acknowledged record must be at its index
    {
        let log = LocalLog::open(
            dir.path(),
            Signer::parse(&signer.to_private_string()).unwrap_or_else(|e| panic!("{e}")),
            LogOptions::default(),
        )
        .unwrap_or_else(|e| panic!("reopen: {e}"));
        assert!(log.size_at_open() >= acked.len() as u64);
        log.checkpoint().unwrap_or_else(|e| panic!("{e}"));
    }
    let records = store::read_records(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    for (idx, payload) in &acked {
        let rec = records
            .get(*idx as usize)
            .unwrap_or_else(|| panic!("acknowledged record {idx} lost"));
        assert_eq!(String::from_utf8_lossy(rec), *payload, "record {idx}");
    }
    let rep = verify(dir.path(), &signer.verifier(), &[]).unwrap_or_else(|e| panic!("{e}"));
    assert!(rep.ok(), "{rep:?}");
    assert_eq!(rep.sealed, rep.records);
}
