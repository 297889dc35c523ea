//! The audit store's failure policy against a real PostgreSQL server this test initialises in a
//! temp dir (as root the server runs as the `postgres` user): with `on_store_error = "refuse"`,
//! requests get 503 once the store stops writing and are served again when it is back; with
//! `"serve"` they are served and the lost records counted.

use lantern_guard::config::{AuditStoreError, GuardConfig};
use lantern_guard::keys::{KeyStore, NewKey};
use lantern_guard::{mock, Gateway};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[path = "../../lantern-audit/tests/support/pg_server.rs"]
mod pg_server;
use pg_server::Server;

async fn gateway(url: &str, dir: &std::path::Path, policy: AuditStoreError) -> SocketAddr {
    let up = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let up_addr = up.local_addr().unwrap_or_else(|e| panic!("{e}"));
    mock::spawn(up);
    let keys_file = dir.join("keys.json");
    let mut cfg = GuardConfig {
        keys_file,
        ..GuardConfig::default()
    };
    cfg.upstream.url = format!("http://{up_addr}");
    cfg.audit.postgres = Some(url.to_string());
    cfg.audit.signing_key = Some(dir.join("audit.key"));
    cfg.audit.checkpoint_interval_ms = 100;
    cfg.audit.on_store_error = policy;
    // the PostgreSQL client blocks: open it off the runtime, as `serve` does
    let gw = std::thread::spawn(move || Gateway::new(cfg))
        .join()
        .unwrap_or_else(|_| panic!("gateway thread panicked"))
        .map(Arc::new)
        .unwrap_or_else(|e| panic!("{e}"));
    let l = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = l.local_addr().unwrap_or_else(|e| panic!("{e}"));
    tokio::spawn(async move {
        let _ = lantern_guard::run(gw, l, std::future::pending()).await;
    });
    addr
}

/// One request; returns the status and the body.
async fn request(addr: SocketAddr, method: &str, path: &str, token: &str) -> (u16, String) {
    let body = r#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#;
    let Ok(mut s) = tokio::net::TcpStream::connect(addr).await else {
        return (0, String::new());
    };
    let req = format!(
        "{method} {path} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {token}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = s.write_all(req.as_bytes()).await;
    let mut out = String::new();
    let _ = tokio::time::timeout(Duration::from_secs(20), s.read_to_string(&mut out)).await;
    let status = out
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, out)
}

/// Sends requests until one gets `want` (within `secs`); returns how many it took.
async fn until(addr: SocketAddr, token: &str, want: u16, secs: u64) -> usize {
    let t = Instant::now();
    let mut n = 0;
    loop {
        n += 1;
        let (s, b) = request(addr, "POST", "/v1/chat/completions", token).await;
        if s == want {
            return n;
        }
        assert!(
            t.elapsed() < Duration::from_secs(secs),
            "no {want} after {n} requests; last: {b}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_store_loss_follows_the_policy() {
    let srv = Server::start();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut store = KeyStore::load(&dir.path().join("keys.json")).unwrap_or_else(|e| panic!("{e}"));
    let (token, _) = store
        .create(NewKey::default(), lantern_guard::keys::now_secs())
        .unwrap_or_else(|e| panic!("{e}"));
    store.save().unwrap_or_else(|e| panic!("{e}"));
    let refuse = gateway(&srv.url(), dir.path(), AuditStoreError::Refuse).await;
    let serve = gateway(&srv.url(), dir.path(), AuditStoreError::Serve).await;
    for g in [refuse, serve] {
        assert_eq!(
            request(g, "POST", "/v1/chat/completions", &token).await.0,
            200
        );
    }
    srv.down();
    // refuse: once a record fails, requests get 503 until the store writes again
    until(refuse, &token, 503, 30).await;
    let (s, b) = request(refuse, "POST", "/v1/chat/completions", &token).await;
    assert!(s == 503 && b.contains("audit_unavailable"), "{b}");
    let (_, m) = request(refuse, "GET", "/metrics", &token).await;
    assert!(
        m.contains("lantern_guard_store_up{store=\"audit\"} 0"),
        "{m}"
    );
    // serve: requests are served, the lost records counted
    for _ in 0..3 {
        assert_eq!(
            request(serve, "POST", "/v1/chat/completions", &token)
                .await
                .0,
            200
        );
    }
    srv.up();
    until(refuse, &token, 200, 60).await;
    let (_, m) = request(refuse, "GET", "/metrics", &token).await;
    assert!(
        m.contains("lantern_guard_store_up{store=\"audit\"} 1"),
        "{m}"
    );
    let (_, m) = request(serve, "GET", "/metrics", &token).await;
    let lost: u64 = m
        .lines()
        .find_map(|l| l.strip_prefix("lantern_guard_audit_failures_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    assert!(lost >= 1, "{m}");
}
