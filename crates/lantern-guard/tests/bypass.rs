//! Attempts to walk around the guard's checks, through the real HTTP path: path variants that a
//! lenient upstream (one that percent-decodes, collapses slashes and ignores case, as FastAPI or
//! aiohttp servers behind proxies often do) routes to an inference endpoint, requests without a
//! string `model`, secrets in every text-bearing field of plain and streamed answers (`n = 2`,
//! tool calls, reasoning, logprobs, Responses API), and two gateways on one audit directory.

use lantern_guard::config::{Action, GuardConfig, UnknownPaths};
use lantern_guard::keys::{KeyStore, NewKey, Scopes};
use lantern_guard::Gateway;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const SECRET: &str = "ghp_aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5";

/// What the lenient upstream saw and what it answers.
#[derive(Default)]
struct Upstream {
    /// Request paths as they arrived on the wire.
    paths: Vec<String>,
    /// The last request body.
    body: Option<Value>,
    /// Content type and body of the next answers.
    reply: (String, String),
    /// Extra header lines of the next answers.
    extra: String,
    /// The last request head.
    head: String,
}

/// A lenient upstream: answers every path with the scripted reply (or, for a path that decodes
/// to one ending in `/models`, a list of three models).
async fn lenient(l: TcpListener, up: Arc<Mutex<Upstream>>) {
    loop {
        let Ok((mut s, _)) = l.accept().await else {
            continue;
        };
        let up = up.clone();
        tokio::spawn(async move {
            let mut buf = Vec::new();
            let mut tmp = [0u8; 8192];
            let (head_end, len) = loop {
                let Ok(n) = s.read(&mut tmp).await else {
                    return;
                };
                if n == 0 {
                    return;
                }
                buf.extend_from_slice(&tmp[..n]);
                if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&buf[..i]).to_ascii_lowercase();
                    let len = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    break (i + 4, len);
                }
            };
            while buf.len() < head_end + len {
                let Ok(n) = s.read(&mut tmp).await else {
                    return;
                };
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&tmp[..n]);
            }
            let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
            let path = head.split(' ').nth(1).unwrap_or_default().to_string();
            let body = serde_json::from_slice(&buf[head_end..]).ok();
            let (ctype, reply, extra) = {
                let mut u = up.lock().unwrap_or_else(|p| p.into_inner());
                u.paths.push(path.clone());
                u.body = body;
                u.head = head.clone();
                if path
                    .to_ascii_lowercase()
                    .trim_end_matches('/')
                    .ends_with("/models")
                {
                    (
                        "application/json".to_string(),
                        json!({"object":"list","data":[{"id":"small-1"},{"id":"big-1"},{"id":"small-2"}]}).to_string(),
                        String::new(),
                    )
                } else {
                    (u.reply.0.clone(), u.reply.1.clone(), u.extra.clone())
                }
            };
            let resp = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: {ctype}\r\n{extra}content-length: {}\r\nconnection: close\r\n\r\n{reply}",
                reply.len()
            );
            let _ = s.write_all(resp.as_bytes()).await;
            let _ = s.shutdown().await;
        });
    }
}

struct Harness {
    addr: SocketAddr,
    up: Arc<Mutex<Upstream>>,
    /// alice: no scope; bob: `small-*` models only.
    tokens: Vec<String>,
    dir: tempfile::TempDir,
    _gw: Arc<Gateway>,
}

impl Harness {
    fn reply(&self, ctype: &str, body: String) {
        self.up.lock().unwrap_or_else(|p| p.into_inner()).reply = (ctype.into(), body);
    }

    fn paths(&self) -> Vec<String> {
        self.up
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .paths
            .clone()
    }

    fn body(&self) -> Option<Value> {
        self.up
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .body
            .clone()
    }
}

async fn start(tweak: impl FnOnce(&mut GuardConfig)) -> Harness {
    let ul = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let up_addr = ul.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let up = Arc::new(Mutex::new(Upstream::default()));
    tokio::spawn(lenient(ul, up.clone()));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let keys_file = dir.path().join("keys.json");
    let mut store = KeyStore::load(&keys_file).unwrap_or_else(|e| panic!("{e}"));
    let now = lantern_guard::keys::now_secs();
    let mut tokens = Vec::new();
    for (owner, models) in [("alice", vec![]), ("bob", vec!["small-*".to_string()])] {
        let (t, _) = store
            .create(
                NewKey {
                    owner: owner.into(),
                    scopes: Scopes {
                        models,
                        endpoints: vec![],
                    },
                    ..NewKey::default()
                },
                now,
            )
            .unwrap_or_else(|e| panic!("{e}"));
        tokens.push(t);
    }
    store.save().unwrap_or_else(|e| panic!("{e}"));
    let mut cfg = GuardConfig {
        keys_file,
        ..GuardConfig::default()
    };
    cfg.upstream.url = format!("http://{up_addr}");
    cfg.upstream.timeout_secs = 5;
    cfg.monitor.action = Action::Redact;
    cfg.monitor.secret_rules = lantern_guard::config::SecretRules::Builtin;
    cfg.audit.dir = Some(dir.path().join("audit"));
    tweak(&mut cfg);
    let gw = Arc::new(Gateway::new(cfg).unwrap_or_else(|e| panic!("{e}")));
    let l = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = l.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let g2 = gw.clone();
    tokio::spawn(async move {
        let _ = lantern_guard::run(g2, l, std::future::pending::<()>()).await;
    });
    Harness {
        addr,
        up,
        tokens,
        dir,
        _gw: gw,
    }
}

/// Sends one request with the path exactly as given (`curl --path-as-is`); returns the status,
/// the head and the body.
async fn raw(
    addr: SocketAddr,
    method: &str,
    path: &str,
    auth: Option<&str>,
    body: &str,
) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let auth = auth
        .map(|a| format!("authorization: {a}\r\n"))
        .unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nhost: x\r\n{auth}content-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out)).await;
    let text = String::from_utf8_lossy(&out).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    (status, head.to_string(), body)
}

fn dechunk(mut b: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = b.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        b = rest[n..].strip_prefix("\r\n").unwrap_or(&rest[n..]);
    }
    out
}

fn bearer(t: &str) -> String {
    format!("Bearer {t}")
}

fn code(body: &str) -> String {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| {
            v.pointer("/error/code")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_default()
}

fn chat_answer(message: Value) -> String {
    json!({"id":"c","object":"chat.completion","model":"small-1","choices":[{"index":0,"message":message,"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":5,"total_tokens":8}}).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn path_variants_reach_the_checks_and_the_normal_path_is_forwarded() {
    let h = start(|_| {}).await;
    h.reply(
        "application/json",
        chat_answer(json!({"role":"assistant","content":format!("here {SECRET}")})),
    );
    let bob = bearer(&h.tokens[1]);
    let variants = [
        "/v1/chat/%63ompletions",
        "//v1/chat/completions",
        "/v1//chat/completions",
        "/v1/chat/completions/",
        "/V1/chat/completions",
        "/v1/./chat/completions",
        "/v1/x/../chat/completions",
        "/chat/completions",
    ];
    let out_of_scope =
        json!({"model":"gpt-3.5-turbo","messages":[{"role":"user","content":"hi"}]}).to_string();
    for p in variants {
        let (s, _, b) = raw(h.addr, "POST", p, Some(&bob), &out_of_scope).await;
        assert_eq!(
            (s, code(&b).as_str()),
            (403, "model_not_allowed"),
            "{p}: {b}"
        );
    }
    assert!(h.paths().is_empty(), "{:?}", h.paths());
    let hardened = json!({"model":"small-1","messages":[{"role":"user","content":"hi"}],"logit_bias":{"50256":100},"n":9}).to_string();
    for p in variants {
        let (s, _, b) = raw(h.addr, "POST", p, Some(&bob), &hardened).await;
        assert_eq!(s, 200, "{p}: {b}");
        assert!(
            !b.contains(SECRET) && b.contains("[REDACTED:secret.github-token]"),
            "{p}: {b}"
        );
        let sent = h.body().unwrap_or_default();
        assert!(sent.get("logit_bias").is_none(), "{p}: {sent}");
        assert_eq!(sent.get("n").and_then(Value::as_u64), Some(4), "{p}");
    }
    let paths = h.paths();
    assert_eq!(paths.len(), variants.len());
    assert!(
        paths[..7].iter().all(|p| p == "/v1/chat/completions") && paths[7] == "/chat/completions",
        "{paths:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_and_ambiguous_paths_are_refused_unless_forwarding_is_chosen() {
    let h = start(|_| {}).await;
    h.reply("application/json", chat_answer(json!({"content":"ok"})));
    let alice = bearer(&h.tokens[0]);
    let body = json!({"model":"m","messages":[]}).to_string();
    for p in [
        "/v1/chat/completionz",
        "/v1/Chat/completions",
        "/v2/chat/completions",
        "/v1/chat/completions;x",
    ] {
        let (s, _, b) = raw(h.addr, "POST", p, Some(&alice), &body).await;
        assert_eq!((s, code(&b).as_str()), (404, "unknown_path"), "{p}: {b}");
    }
    for p in [
        "/v1/chat%2Fcompletions",
        "/v1/chat/completions%00",
        "/v1/%2e%2e%2fchat/completions",
    ] {
        let (s, _, b) = raw(h.addr, "POST", p, Some(&alice), &body).await;
        assert_eq!((s, code(&b).as_str()), (400, "invalid_path"), "{p}: {b}");
    }
    // a backslash is refused (by the HTTP parser or the gateway)
    let (s, _, _) = raw(h.addr, "POST", "/v1\\chat/completions", Some(&alice), &body).await;
    assert_eq!(s, 400);
    assert!(h.paths().is_empty(), "{:?}", h.paths());
    // GET on an inference path is not the inspected endpoint
    let (s, _, _) = raw(h.addr, "GET", "/v1/chat/completions", Some(&alice), "").await;
    assert_eq!(s, 404);
    let f = start(|c| c.server.unknown_paths = UnknownPaths::Forward).await;
    f.reply("application/json", "{}".into());
    let (s, _, _) = raw(
        f.addr,
        "POST",
        "/v1/files",
        Some(&bearer(&f.tokens[0])),
        "{}",
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(f.paths(), vec!["/v1/files".to_string()]);
    let (s, _, _) = raw(f.addr, "POST", "/v1/files", None, "{}").await;
    assert_eq!(s, 401, "forwarded paths still need a key");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scoped_key_must_name_its_model_as_a_string() {
    let h = start(|_| {}).await;
    h.reply("application/json", chat_answer(json!({"content":"ok"})));
    let bob = bearer(&h.tokens[1]);
    for (body, want) in [
        (
            json!({"messages":[{"role":"user","content":"hi"}]}),
            "model_required",
        ),
        (json!({"model":null,"messages":[]}), "model_required"),
        (json!({"model":["small-1"],"messages":[]}), "invalid_model"),
        (
            json!({"model":{"id":"small-1"},"messages":[]}),
            "invalid_model",
        ),
        (json!({"model":7,"input":"x"}), "invalid_model"),
    ] {
        for p in [
            "/v1/chat/completions",
            "/v1/responses",
            "/v1/embeddings",
            "/v1/moderations",
        ] {
            let (s, _, b) = raw(h.addr, "POST", p, Some(&bob), &body.to_string()).await;
            assert_eq!((s, code(&b).as_str()), (400, want), "{p} {body}: {b}");
        }
    }
    assert!(h.paths().is_empty(), "{:?}", h.paths());
    // a key without a model scope keeps today's behaviour
    let (s, _, _) = raw(
        h.addr,
        "POST",
        "/v1/chat/completions",
        Some(&bearer(&h.tokens[0])),
        &json!({"messages":[]}).to_string(),
    )
    .await;
    assert_eq!(s, 200);
    // the scheme is case-insensitive (RFC 7235)
    let ok = json!({"model":"small-1","messages":[]}).to_string();
    for scheme in ["BEARER", "bearer", "BeArEr"] {
        let (s, _, b) = raw(
            h.addr,
            "POST",
            "/v1/chat/completions",
            Some(&format!("{scheme} {}", h.tokens[1])),
            &ok,
        )
        .await;
        assert_eq!(s, 200, "{scheme}: {b}");
    }
    // models: the list is filtered by scope, a single model is scope-checked
    let (s, _, b) = raw(h.addr, "GET", "/v1/models", Some(&bob), "").await;
    assert_eq!(s, 200);
    let ids: Vec<String> = serde_json::from_str::<Value>(&b)
        .ok()
        .and_then(|v| v.get("data").cloned())
        .and_then(|d| serde_json::from_value(d).ok())
        .map(|d: Vec<Value>| {
            d.iter()
                .filter_map(|m| m.get("id").and_then(Value::as_str).map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(ids, vec!["small-1", "small-2"]);
    for p in ["/v1/models/big-1", "/models/big-1", "/v1/models/big-1/"] {
        let (s, _, b) = raw(h.addr, "GET", p, Some(&bob), "").await;
        assert_eq!((s, code(&b).as_str()), (403, "model_not_allowed"), "{p}");
        assert!(b.contains("model big-1"), "{p}: {b}");
    }
    let (s, _, _) = raw(h.addr, "GET", "/models/small-1", Some(&bob), "").await;
    assert_eq!(s, 200);
    // multipart: the form's model field
    let form = "--B\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nbig-1\r\n--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n\r\nRIFF\r\n--B--\r\n";
    let mut s = TcpStream::connect(h.addr)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let req = format!("POST /v1/audio/transcriptions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {}\r\ncontent-type: multipart/form-data; boundary=B\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{form}", h.tokens[1], form.len());
    s.write_all(req.as_bytes())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut out = String::new();
    let _ = s.read_to_string(&mut out).await;
    assert!(
        out.starts_with("HTTP/1.1 403") && out.contains("model_not_allowed"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_in_every_plain_field_are_redacted() {
    let h = start(|_| {}).await;
    let alice = bearer(&h.tokens[0]);
    let half = SECRET.len() / 2;
    h.reply(
        "application/json",
        json!({"id":"c","object":"chat.completion","model":"m","choices":[
            {"index":0,"message":{"role":"assistant","content":null,"refusal":format!("no {SECRET}"),
              "reasoning_content":format!("think {SECRET}"),
              "tool_calls":[{"id":"t","type":"function","function":{"name":"f","arguments":format!("{{\"k\":\"{SECRET}\"}}")}}]},
             "logprobs":{"content":[{"token":&SECRET[..half],"logprob":-0.1},{"token":&SECRET[half..],"logprob":-0.1}]},
             "finish_reason":"tool_calls"},
            {"index":1,"message":{"role":"assistant","content":format!("two {SECRET}")},"finish_reason":"stop"}]}).to_string(),
    );
    let (s, _, b) = raw(
        h.addr,
        "POST",
        "/v1/chat/completions",
        Some(&alice),
        &json!({"model":"m","messages":[],"n":2}).to_string(),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert!(
        !b.contains(&SECRET[4..20]) && !b.contains(&SECRET[20..]),
        "{b}"
    );
    let v: Value = serde_json::from_str(&b).unwrap_or_default();
    assert_eq!(v.pointer("/choices/0/logprobs"), Some(&Value::Null), "{b}");
    assert_eq!(
        v.pointer("/choices/0/message/refusal")
            .and_then(Value::as_str),
        Some("no [REDACTED:secret.github-token]")
    );
    assert_eq!(
        v.pointer("/choices/1/message/content")
            .and_then(Value::as_str),
        Some("two [REDACTED:secret.github-token]")
    );
    // the Responses API
    h.reply(
        "application/json",
        json!({"id":"r","object":"response","output":[
            {"type":"reasoning","summary":[{"type":"summary_text","text":SECRET}]},
            {"type":"message","role":"assistant","content":[{"type":"output_text","text":format!("a {SECRET}"),"annotations":[]}]},
            {"type":"function_call","name":"f","call_id":"x","arguments":format!("{{\"k\":\"{SECRET}\"}}")}],
            "usage":{"input_tokens":3,"output_tokens":5}}).to_string(),
    );
    let (s, _, b) = raw(
        h.addr,
        "POST",
        "/v1/responses",
        Some(&alice),
        &json!({"model":"m","input":"hi"}).to_string(),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert!(
        !b.contains(&SECRET[4..20]) && b.matches("[REDACTED:secret.github-token]").count() == 3,
        "{b}"
    );
}

/// Streamed events, each `data:` line, as one body.
fn sse(events: &[Value]) -> String {
    let mut s: String = events.iter().map(|e| format!("data: {e}\n\n")).collect();
    s.push_str("data: [DONE]\n\n");
    s
}

/// Splits a secret into pieces of `n` characters.
fn split(s: &str, n: usize) -> Vec<String> {
    s.as_bytes()
        .chunks(n)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_in_every_streamed_field_and_choice_are_redacted() {
    let h = start(|_| {}).await;
    let alice = bearer(&h.tokens[0]);
    let mut events = Vec::new();
    // two choices interleaved, each with the secret; a tool call, reasoning and logprobs
    for p in &split(&format!("one {SECRET} end"), 5) {
        events.push(json!({"choices":[{"index":0,"delta":{"content":p}}]}));
        events.push(json!({"choices":[{"index":1,"delta":{"content":p}}]}));
        events.push(json!({"choices":[{"index":0,"delta":{"reasoning_content":p}}]}));
        events.push(json!({"choices":[{"index":1,"delta":{"tool_calls":[{"index":0,"function":{"arguments":p}}]}}]}));
        events.push(json!({"choices":[{"index":0,"delta":{"content":""},"logprobs":{"content":[{"token":p,"logprob":-0.1}]}}]}));
    }
    h.reply("text/event-stream", sse(&events));
    let req = json!({"model":"m","stream":true,"n":2,"messages":[]}).to_string();
    let (s, _, b) = raw(h.addr, "POST", "/v1/chat/completions", Some(&alice), &req).await;
    assert_eq!(s, 200, "{b}");
    assert!(
        !b.contains("aB3dE5fG7hI9") && !b.contains("M3nO5pQ7rS9t"),
        "{b}"
    );
    assert!(
        b.matches("[REDACTED:secret.github-token]").count() >= 4,
        "{b}"
    );
    assert!(b.contains("\"logprobs\":null"), "{b}");
    // the Responses API stream: output text and function-call argument deltas, done events
    let mut events = Vec::new();
    for p in split(&format!("x {SECRET} y"), 6) {
        events.push(json!({"type":"response.output_text.delta","output_index":0,"content_index":0,"delta":p}));
        events.push(
            json!({"type":"response.function_call_arguments.delta","output_index":1,"delta":p}),
        );
    }
    events.push(json!({"type":"response.output_text.done","output_index":0,"content_index":0,"text":format!("x {SECRET} y")}));
    events.push(json!({"type":"response.completed","response":{"output":[{"type":"message","content":[{"type":"output_text","text":format!("x {SECRET} y")}]}],"usage":{"input_tokens":1,"output_tokens":2}}}));
    let body: String = events
        .iter()
        .map(|e| {
            format!(
                "event: {}\ndata: {e}\n\n",
                e.get("type").and_then(Value::as_str).unwrap_or_default()
            )
        })
        .collect();
    h.reply("text/event-stream", body);
    let (s, _, b) = raw(
        h.addr,
        "POST",
        "/v1/responses",
        Some(&alice),
        &json!({"model":"m","stream":true,"input":"hi"}).to_string(),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert!(
        !b.contains("aB3dE5fG7hI9") && !b.contains("M3nO5pQ7rS9t"),
        "{b}"
    );
    assert_eq!(
        b.matches("[REDACTED:secret.github-token]").count(),
        4,
        "{b}"
    );
    assert!(
        b.contains("event: response.completed\n"),
        "event names are kept: {b}"
    );
    assert!(
        h.body().is_some_and(|v| v.get("stream_options").is_none()),
        "no include_usage for the Responses API"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_gateway_on_one_audit_dir_is_refused() {
    let h = start(|_| {}).await;
    let mut cfg = GuardConfig {
        keys_file: h.dir.path().join("keys.json"),
        ..GuardConfig::default()
    };
    cfg.audit.dir = Some(h.dir.path().join("audit"));
    let e = Gateway::new(cfg).map(|_| ()).unwrap_err().to_string();
    assert!(
        e.contains("in use by another lantern guard")
            && e.contains(&format!("pid {}", std::process::id())),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_can_require_a_key() {
    let h = start(|c| c.server.metrics_need_key = true).await;
    let (s, _, _) = raw(h.addr, "GET", "/metrics", None, "").await;
    assert_eq!(s, 401);
    let (s, _, _) = raw(h.addr, "GET", "/metrics", Some("Bearer lg_nonsense"), "").await;
    assert_eq!(s, 401);
    let (s, _, b) = raw(h.addr, "GET", "/metrics", Some(&bearer(&h.tokens[1])), "").await;
    assert!(
        s == 200 && b.contains("# TYPE lantern_guard_request_duration_seconds histogram"),
        "{b}"
    );
    let open = start(|_| {}).await;
    assert_eq!(raw(open.addr, "GET", "/metrics", None, "").await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compressed_answers_are_not_asked_for_nor_forwarded_unread() {
    let h = start(|_| {}).await;
    h.reply("application/json", chat_answer(json!({"content":"ok"})));
    let alice = bearer(&h.tokens[0]);
    let body = json!({"model":"m","messages":[]}).to_string();
    let mut s = TcpStream::connect(h.addr)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let req = format!("POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: {alice}\r\naccept-encoding: gzip, br\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
    s.write_all(req.as_bytes())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut out = String::new();
    let _ = s.read_to_string(&mut out).await;
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    let head =
        h.up.lock()
            .map(|u| u.head.to_ascii_lowercase())
            .unwrap_or_default();
    assert!(
        head.contains("/v1/chat/completions") && !head.contains("accept-encoding"),
        "{head}"
    );
    // an upstream that compresses anyway: the body is not read, so it is not forwarded
    h.up.lock().unwrap_or_else(|p| p.into_inner()).extra = "content-encoding: gzip\r\n".into();
    let (s, _, b) = raw(h.addr, "POST", "/v1/chat/completions", Some(&alice), &body).await;
    assert_eq!((s, code(&b).as_str()), (502, "upstream_encoding"), "{b}");
}
