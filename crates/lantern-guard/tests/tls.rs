//! TLS end to end with certificates made by the test (rcgen): client → guard over HTTPS → mock
//! upstream over HTTPS signed by a private CA (`[upstream] ca_file`); an upstream the configured
//! CA did not sign answers 502 with an OpenAI-style error; plain HTTP keeps working; bad
//! certificate and key files are errors naming the file; mutual TLS on both hops
//! (`[server] client_ca`, `[upstream] client_cert`/`client_key`).

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, StatusCode};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use lantern_guard::config::{GuardConfig, ServerConfig, UpstreamConfig};
use lantern_guard::keys::{KeyStore, NewKey};
use lantern_guard::{mock, tls, Gateway};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;

/// A CA and a `localhost`/`127.0.0.1` server certificate it signed, as PEM files in `dir`.
struct Pki {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

fn make_pki(dir: &Path, name: &str) -> Pki {
    let ca_key = KeyPair::generate().unwrap_or_else(|e| panic!("{e}"));
    let mut ca_params =
        CertificateParams::new(Vec::<String>::new()).unwrap_or_else(|e| panic!("{e}"));
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, format!("{name} test CA"));
    let ca = ca_params
        .self_signed(&ca_key)
        .unwrap_or_else(|e| panic!("{e}"));
    let key = KeyPair::generate().unwrap_or_else(|e| panic!("{e}"));
    let params = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
        .unwrap_or_else(|e| panic!("{e}"));
    let cert = params
        .signed_by(&key, &ca, &ca_key)
        .unwrap_or_else(|e| panic!("{e}"));
    let write = |file: &str, text: String| {
        let p = dir.join(format!("{name}-{file}"));
        std::fs::write(&p, text).unwrap_or_else(|e| panic!("{e}"));
        p
    };
    Pki {
        ca: write("ca.pem", ca.pem()),
        cert: write("cert.pem", cert.pem()),
        key: write("key.pem", key.serialize_pem()),
    }
}

fn server_tls(p: &Pki) -> ServerConfig {
    ServerConfig {
        tls_cert: Some(p.cert.clone()),
        tls_key: Some(p.key.clone()),
        client_ca: None,
        ..ServerConfig::default()
    }
}

struct Guard {
    addr: SocketAddr,
    token: String,
    seen: Arc<Mutex<mock::Seen>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), lantern_guard::Error>>>,
    _dir: tempfile::TempDir,
}

impl Guard {
    async fn stop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

/// A mock upstream (over TLS with `upstream_tls`) and a guard in front of it.
async fn start(
    dir: tempfile::TempDir,
    upstream_tls: Option<&Pki>,
    tweak: impl FnOnce(&mut GuardConfig),
) -> Guard {
    start_with(dir, upstream_tls, None, tweak).await
}

/// As [`start`]; with `upstream_client_ca`, the mock upstream asks for a client certificate
/// that CA signed.
async fn start_with(
    dir: tempfile::TempDir,
    upstream_tls: Option<&Pki>,
    upstream_client_ca: Option<&Path>,
    tweak: impl FnOnce(&mut GuardConfig),
) -> Guard {
    std::env::set_var("LANTERN_TLS_TEST_UPSTREAM_KEY", "sk-upstream-tls");
    let up = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let up_addr = up.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let (seen, scheme) = match upstream_tls {
        Some(p) => {
            let acc = tls::acceptor(&ServerConfig {
                client_ca: upstream_client_ca.map(Path::to_path_buf),
                ..server_tls(p)
            })
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("tls configured"));
            (mock::spawn_tls(up, acc), "https")
        }
        None => (mock::spawn(up), "http"),
    };
    let keys_file = dir.path().join("keys.json");
    let mut store = KeyStore::load(&keys_file).unwrap_or_else(|e| panic!("{e}"));
    let (token, _) = store
        .create(
            NewKey {
                owner: "alice".into(),
                ..NewKey::default()
            },
            lantern_guard::keys::now_secs(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    store.save().unwrap_or_else(|e| panic!("{e}"));
    let mut cfg = GuardConfig {
        keys_file,
        ..GuardConfig::default()
    };
    cfg.upstream = UpstreamConfig {
        url: format!("{scheme}://localhost:{}", up_addr.port()),
        api_key_env: Some("LANTERN_TLS_TEST_UPSTREAM_KEY".into()),
        timeout_secs: 5,
        ..UpstreamConfig::default()
    };
    tweak(&mut cfg);
    cfg.validate().unwrap_or_else(|e| panic!("{e}"));
    let gw = Arc::new(Gateway::new(cfg).unwrap_or_else(|e| panic!("{e}")));
    let l = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = l.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(lantern_guard::run(gw, l, async {
        let _ = rx.await;
    }));
    Guard {
        addr,
        token,
        seen,
        stop: Some(tx),
        task: Some(task),
        _dir: dir,
    }
}

/// POSTs a chat completion to `url`, trusting `ca` for `https://`.
async fn chat(url: &str, ca: Option<&Path>, token: &str, text: &str) -> (StatusCode, Value) {
    try_chat(url, ca, None, token, text)
        .await
        .unwrap_or_else(|e| panic!("request to {url} failed: {e}"))
}

/// As [`chat`], presenting the certificate of `client` (mutual TLS) when given; `Err` when the
/// request got no HTTP answer.
async fn try_chat(
    url: &str,
    ca: Option<&Path>,
    client: Option<&Pki>,
    token: &str,
    text: &str,
) -> Result<(StatusCode, Value), String> {
    let mut http = HttpConnector::new();
    http.set_connect_timeout(Some(Duration::from_secs(5)));
    let conn = tls::upstream_connector(
        http,
        &UpstreamConfig {
            ca_file: ca.map(Path::to_path_buf),
            client_cert: client.map(|c| c.cert.clone()),
            client_key: client.map(|c| c.key.clone()),
            ..UpstreamConfig::default()
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build(conn);
    let body = json!({"model":"m","messages":[{"role":"user","content":text}]}).to_string();
    let req = Request::post(url)
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {token}"))
        .body(Full::new(Bytes::from(body)))
        .unwrap_or_else(|e| panic!("{e}"));
    let resp = tokio::time::timeout(Duration::from_secs(10), client.request(req))
        .await
        .map_err(|_| "no answer in 10 s".to_string())?
        .map_err(|e| format!("{e:?}"))?;
    let status = resp.status();
    let bytes = resp
        .into_body()
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    let v = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&bytes)));
    Ok((status, v))
}

/// The error `tls::server_config` gives for `c`.
fn server_config_err(c: &ServerConfig) -> String {
    match tls::server_config(c) {
        Ok(_) => panic!("accepted: {c:?}"),
        Err(e) => e.to_string(),
    }
}

fn content(v: &Value) -> Option<&str> {
    v.pointer("/choices/0/message/content")
        .and_then(Value::as_str)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_client_to_guard_to_https_upstream_with_a_private_ca() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let front = make_pki(dir.path(), "front");
    let back = make_pki(dir.path(), "back");
    let (front_ca, back_ca) = (front.ca.clone(), back.ca.clone());
    let server = server_tls(&front);
    let mut g = start(dir, Some(&back), |c| {
        c.server = server;
        c.upstream.ca_file = Some(back_ca);
    })
    .await;
    let url = format!("https://localhost:{}/v1/chat/completions", g.addr.port());
    let (s, v) = chat(&url, Some(&front_ca), &g.token, "hello over tls").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(content(&v), Some("You said: hello over tls"));
    // the guard injected its upstream credential over the TLS hop
    let auth = g.seen.lock().ok().and_then(|s| s.authorization.clone());
    assert_eq!(auth.as_deref(), Some("Bearer sk-upstream-tls"));
    // by IP address too (the certificate carries 127.0.0.1)
    let url = format!("https://127.0.0.1:{}/v1/chat/completions", g.addr.port());
    assert_eq!(
        chat(&url, Some(&front_ca), &g.token, "ip").await.0,
        StatusCode::OK
    );
    g.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_signed_by_another_ca_is_a_502_with_an_openai_error() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let back = make_pki(dir.path(), "back");
    let other = make_pki(dir.path(), "other");
    let other_ca = other.ca.clone();
    let mut g = start(dir, Some(&back), |c| c.upstream.ca_file = Some(other_ca)).await;
    let url = format!("http://127.0.0.1:{}/v1/chat/completions", g.addr.port());
    let (s, v) = chat(&url, None, &g.token, "hi").await;
    assert_eq!(s, StatusCode::BAD_GATEWAY, "{v}");
    assert_eq!(
        v.pointer("/error/code").and_then(Value::as_str),
        Some("upstream_error")
    );
    assert_eq!(
        v.pointer("/error/type").and_then(Value::as_str),
        Some("api_error")
    );
    assert!(v.pointer("/error/message").is_some_and(Value::is_string));
    // nothing reached the upstream's handler
    assert_eq!(g.seen.lock().map(|s| s.count).unwrap_or(99), 0);
    g.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_on_both_sides_still_works_and_a_tls_guard_refuses_plain_clients() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut g = start(dir, None, |_| {}).await;
    let url = format!("http://127.0.0.1:{}/v1/chat/completions", g.addr.port());
    let (s, v) = chat(&url, None, &g.token, "plain").await;
    assert_eq!((s, content(&v)), (StatusCode::OK, Some("You said: plain")));
    g.stop().await;

    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let front = make_pki(dir.path(), "front");
    let server = server_tls(&front);
    let mut g = start(dir, None, |c| c.server = server).await;
    // a plain-HTTP request to the TLS listener gets no HTTP answer
    let mut http = HttpConnector::new();
    http.set_connect_timeout(Some(Duration::from_secs(5)));
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build(http);
    let req = Request::post(format!("http://127.0.0.1:{}/v1/models", g.addr.port()))
        .body(Full::new(Bytes::new()))
        .unwrap_or_else(|e| panic!("{e}"));
    let r = tokio::time::timeout(Duration::from_secs(10), client.request(req))
        .await
        .unwrap_or_else(|_| panic!("the TLS listener neither answered nor closed"));
    assert!(r.is_err(), "{r:?}");
    // while TLS clients are served
    let url = format!("https://localhost:{}/v1/chat/completions", g.addr.port());
    let (s, v) = chat(&url, Some(&front.ca), &g.token, "mixed").await;
    assert_eq!((s, content(&v)), (StatusCode::OK, Some("You said: mixed")));
    g.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_certificate_or_key_files_are_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let a = make_pki(dir.path(), "a");
    let b = make_pki(dir.path(), "b");
    // a key that does not belong to the certificate
    let mismatched = ServerConfig {
        tls_cert: Some(a.cert.clone()),
        tls_key: Some(b.key.clone()),
        client_ca: None,
        ..ServerConfig::default()
    };
    let e = server_config_err(&mismatched);
    assert!(e.contains("a-cert.pem") && e.contains("b-key.pem"), "{e}");
    // a key file holding a certificate
    let swapped = ServerConfig {
        tls_cert: Some(a.cert.clone()),
        tls_key: Some(a.cert.clone()),
        client_ca: None,
        ..ServerConfig::default()
    };
    let e = server_config_err(&swapped);
    assert!(
        e.contains("a-cert.pem") && e.contains("no PEM private key"),
        "{e}"
    );
    // run() refuses to serve with it
    let mut cfg = GuardConfig {
        keys_file: dir.path().join("keys.json"),
        server: swapped,
        ..GuardConfig::default()
    };
    cfg.upstream.url = "http://127.0.0.1:9".into();
    let gw = Arc::new(Gateway::new(cfg).unwrap_or_else(|e| panic!("{e}")));
    let l = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let r = lantern_guard::run(gw, l, std::future::pending()).await;
    assert!(r.is_err_and(|e| e.to_string().contains("a-cert.pem")));
    // an unreadable CA file for the upstream fails at start-up
    let mut cfg = GuardConfig {
        keys_file: dir.path().join("keys.json"),
        ..GuardConfig::default()
    };
    cfg.upstream.url = "https://localhost:9".into();
    cfg.upstream.ca_file = Some(dir.path().join("missing-ca.pem"));
    let e = Gateway::new(cfg).map(|_| ()).unwrap_err().to_string();
    assert!(e.contains("missing-ca.pem"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_clients_need_a_certificate_of_the_client_ca_which_the_audit_record_names() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let front = make_pki(dir.path(), "front");
    let clients = make_pki(dir.path(), "clients");
    let back = make_pki(dir.path(), "back");
    let guard_id = make_pki(dir.path(), "guard-id");
    let server = ServerConfig {
        client_ca: Some(clients.ca.clone()),
        ..server_tls(&front)
    };
    let (back_ca, gc, gk) = (back.ca.clone(), guard_id.cert.clone(), guard_id.key.clone());
    let audit = dir.path().join("audit");
    let audit_dir = audit.clone();
    let mut g = start_with(dir, Some(&back), Some(&guard_id.ca), |c| {
        c.server = server;
        c.upstream.ca_file = Some(back_ca);
        c.upstream.client_cert = Some(gc);
        c.upstream.client_key = Some(gk);
        c.audit.dir = Some(audit_dir);
    })
    .await;
    let url = format!("https://localhost:{}/v1/chat/completions", g.addr.port());
    // a client with a certificate the client CA signed is served, over an upstream hop on which
    // the mock asked for and checked the guard's certificate
    let (s, v) = try_chat(&url, Some(&front.ca), Some(&clients), &g.token, "mtls")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((s, content(&v)), (StatusCode::OK, Some("You said: mtls")));
    // without a certificate, or with one another CA signed, there is no HTTP answer
    let none = try_chat(&url, Some(&front.ca), None, &g.token, "no cert").await;
    assert!(none.is_err(), "{none:?}");
    let wrong = try_chat(&url, Some(&front.ca), Some(&back), &g.token, "other CA").await;
    assert!(wrong.is_err(), "{wrong:?}");
    assert_eq!(g.seen.lock().map(|s| s.count).unwrap_or(99), 1);
    g.stop().await;
    // the audit record of the request names the client's certificate by its SHA-256
    let rec: Value = serde_json::from_slice(
        &lantern_audit::store::read_record(&audit, 0).unwrap_or_else(|e| panic!("{e}")),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let want = {
        use sha2::Digest;
        let der = tls::load_certs(&clients.cert).unwrap_or_else(|e| panic!("{e}"));
        hex::encode(sha2::Sha256::digest(der[0].as_ref()))
    };
    assert_eq!(
        rec["client_cert_sha256"].as_str(),
        Some(want.as_str()),
        "{rec}"
    );
    assert_eq!(rec["decision"].as_str(), Some("allowed"), "{rec}");

    // a guard without its client certificate is refused by that upstream: 502, nothing served
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let back = make_pki(dir.path(), "back");
    let guard_id = make_pki(dir.path(), "guard-id");
    let back_ca = back.ca.clone();
    let mut g = start_with(dir, Some(&back), Some(&guard_id.ca), |c| {
        c.upstream.ca_file = Some(back_ca);
    })
    .await;
    let url = format!("http://127.0.0.1:{}/v1/chat/completions", g.addr.port());
    let (s, v) = chat(&url, None, &g.token, "hi").await;
    assert_eq!(s, StatusCode::BAD_GATEWAY, "{v}");
    assert_eq!(g.seen.lock().map(|s| s.count).unwrap_or(99), 0);
    g.stop().await;
}

#[test]
fn mutual_tls_settings_are_checked() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let a = make_pki(dir.path(), "a");
    // a client CA without TLS on the listener
    let mut cfg = GuardConfig::default();
    cfg.server.client_ca = Some(a.ca.clone());
    let e = cfg.validate().map(|_| ()).unwrap_err().to_string();
    assert!(e.contains("server.client_ca needs TLS"), "{e}");
    // a client certificate without its key
    let mut cfg = GuardConfig::default();
    cfg.upstream.client_cert = Some(a.cert.clone());
    let e = cfg.validate().map(|_| ()).unwrap_err().to_string();
    assert!(
        e.contains("upstream.client_cert and upstream.client_key"),
        "{e}"
    );
    // a client CA file that holds no certificate names the file
    let bad = ServerConfig {
        client_ca: Some(a.key.clone()),
        ..server_tls(&a)
    };
    let e = server_config_err(&bad);
    assert!(
        e.contains("a-key.pem") && e.contains("no PEM certificate"),
        "{e}"
    );
    // a client certificate and a key that do not belong together name both files
    let b = make_pki(dir.path(), "b");
    let up = UpstreamConfig {
        client_cert: Some(a.cert.clone()),
        client_key: Some(b.key.clone()),
        ..UpstreamConfig::default()
    };
    let e = tls::client_config(&up).map(|_| ()).unwrap_err().to_string();
    assert!(e.contains("a-cert.pem") && e.contains("b-key.pem"), "{e}");
}
