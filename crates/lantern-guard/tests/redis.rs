//! Shared rate limits through a real `redis-server` started on a free loopback port: two gateway
//! replicas enforce one limit together (atomically, under concurrency), and keep serving with
//! in-process limits when Redis goes away mid-run.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use lantern_guard::config::{GuardConfig, LimitStoreError};
use lantern_guard::keys::{KeyStore, NewKey};
use lantern_guard::{mock, Gateway};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;

struct Redis(Child, #[allow(dead_code)] tempfile::TempDir);

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn redis_binary() -> String {
    for p in ["/usr/bin/redis-server", "/usr/local/bin/redis-server"] {
        if std::path::Path::new(p).exists() {
            return p.into();
        }
    }
    match Command::new("redis-server").arg("--version").output() {
        Ok(o) if o.status.success() => "redis-server".into(),
        _ => panic!("redis-server not found: install it (CI runs .ci/setup-services; locally `apt-get install -y redis-server`)"),
    }
}

fn start_redis() -> (Redis, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let child = Command::new(redis_binary())
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
        ])
        .arg("--dir")
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("starting redis-server: {e}"));
    let t = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "redis-server did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    (Redis(child, dir), port)
}

async fn replica(cfg: GuardConfig) -> (SocketAddr, Arc<Gateway>) {
    let gw = Arc::new(Gateway::new(cfg).unwrap_or_else(|e| panic!("{e}")));
    let l = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = l.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let g = gw.clone();
    tokio::spawn(async move {
        let _ = lantern_guard::run(g, l, std::future::pending()).await;
    });
    (addr, gw)
}

async fn post(addr: SocketAddr, token: &str) -> u16 {
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let req = Request::builder()
        .method("POST")
        .uri(format!("http://{addr}/v1/chat/completions"))
        .header("authorization", format!("Bearer {token}"))
        .body(Full::new(Bytes::from_static(
            br#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#,
        )))
        .unwrap_or_else(|e| panic!("{e}"));
    let r = client.request(req).await.unwrap_or_else(|e| panic!("{e}"));
    let s = r.status().as_u16();
    let _ = r.into_body().collect().await;
    s
}

async fn get(addr: SocketAddr, path: &str) -> String {
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let req = Request::builder()
        .uri(format!("http://{addr}{path}"))
        .body(Full::new(Bytes::new()))
        .unwrap_or_else(|e| panic!("{e}"));
    let r = client.request(req).await.unwrap_or_else(|e| panic!("{e}"));
    String::from_utf8_lossy(
        &r.into_body()
            .collect()
            .await
            .map(|c| c.to_bytes())
            .unwrap_or_default(),
    )
    .into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_one_limit_and_survive_redis_loss() {
    let (redis, rport) = start_redis();
    let up = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let up_addr = up.local_addr().unwrap_or_else(|e| panic!("{e}"));
    mock::spawn(up);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let keys_file = dir.path().join("keys.json");
    let mut store = KeyStore::load(&keys_file).unwrap_or_else(|e| panic!("{e}"));
    let now = lantern_guard::keys::now_secs();
    let (t1, _) = store
        .create(
            NewKey {
                owner: "a".into(),
                ..NewKey::default()
            },
            now,
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let (t2, _) = store
        .create(
            NewKey {
                owner: "b".into(),
                ..NewKey::default()
            },
            now,
        )
        .unwrap_or_else(|e| panic!("{e}"));
    store.save().unwrap_or_else(|e| panic!("{e}"));
    let mut cfg = GuardConfig {
        keys_file,
        ..GuardConfig::default()
    };
    cfg.upstream.url = format!("http://{up_addr}");
    cfg.limits.requests_per_minute = 10;
    cfg.limits.burst = 10;
    cfg.limits.redis = Some(format!("redis://127.0.0.1:{rport}/0"));
    // generous here, where sharing is tested on a loaded machine; short below
    cfg.limits.redis_timeout_ms = 2000;
    let closed_cfg = GuardConfig {
        limits: lantern_guard::config::LimitsConfig {
            on_store_error: LimitStoreError::FailClosed,
            ..cfg.limits.clone()
        },
        ..cfg.clone()
    };
    let (a, _ga) = replica(cfg.clone()).await;
    let (b, gb) = replica(cfg.clone()).await;
    let (c, _gc) = replica(closed_cfg).await;
    // 40 concurrent requests spread over both replicas: exactly the burst of 10 is admitted
    let mut tasks = Vec::new();
    for i in 0..40 {
        let t = t1.clone();
        let addr = if i % 2 == 0 { a } else { b };
        tasks.push(tokio::spawn(async move { post(addr, &t).await }));
    }
    let mut ok = 0;
    let mut limited = 0;
    for t in tasks {
        match t.await.unwrap_or(0) {
            200 => ok += 1,
            429 => limited += 1,
            s => panic!("unexpected status {s}"),
        }
    }
    assert_eq!(
        (ok, limited),
        (10, 30),
        "limit not shared atomically across replicas"
    );
    assert_eq!(post(c, &t2).await, 200);
    // Redis goes away: fail_open replicas still serve (in-process limits), errors are counted;
    // the fail_closed one refuses
    drop(redis);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(post(b, &t2).await, 200);
    assert_eq!(post(a, &t2).await, 200);
    assert_eq!(post(c, &t2).await, 503);
    let m = get(c, "/metrics").await;
    assert!(
        m.contains("lantern_guard_store_up{store=\"redis\"} 0"),
        "{m}"
    );
    assert!(gb
        .metrics
        .render(0, None)
        .contains("lantern_guard_requests_total"));
    let m = get(b, "/metrics").await;
    let errors: u64 = m
        .lines()
        .find_map(|l| l.strip_prefix("lantern_guard_redis_errors_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    assert!(errors >= 1, "{m}");
}

/// A Redis that accepts connections and never answers (a hung server, a black-holed route):
/// each operation waits `redis_timeout_ms` at most (50 ms by default), then the failure policy
/// decides, and while the store is down requests do not wait for it at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_redis_costs_at_most_its_timeout_under_either_policy() {
    let hung = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let hung_addr = hung.local_addr().unwrap_or_else(|e| panic!("{e}"));
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = hung.accept().await {
            held.push(s);
        }
    });
    let up = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let up_addr = up.local_addr().unwrap_or_else(|e| panic!("{e}"));
    mock::spawn(up);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let keys_file = dir.path().join("keys.json");
    let mut store = KeyStore::load(&keys_file).unwrap_or_else(|e| panic!("{e}"));
    let (t, _) = store
        .create(NewKey::default(), lantern_guard::keys::now_secs())
        .unwrap_or_else(|e| panic!("{e}"));
    store.save().unwrap_or_else(|e| panic!("{e}"));
    for (policy, want) in [
        (LimitStoreError::FailOpen, 200),
        (LimitStoreError::FailClosed, 503),
    ] {
        let mut cfg = GuardConfig {
            keys_file: keys_file.clone(),
            ..GuardConfig::default()
        };
        cfg.upstream.url = format!("http://{up_addr}");
        cfg.limits.redis = Some(format!("redis://{hung_addr}"));
        cfg.limits.on_store_error = policy;
        assert_eq!(cfg.limits.redis_timeout_ms, 50);
        let (g, _gw) = replica(cfg).await;
        for i in 0..5 {
            let t0 = Instant::now();
            assert_eq!(post(g, &t).await, want, "{policy:?} request {i}");
            // one timeout at most (the first request), with room for a loaded machine
            assert!(
                t0.elapsed() < Duration::from_millis(800),
                "{policy:?} request {i} took {:?}",
                t0.elapsed()
            );
        }
        let m = get(g, "/metrics").await;
        assert!(
            m.contains("lantern_guard_store_up{store=\"redis\"} 0"),
            "{m}"
        );
    }
}
