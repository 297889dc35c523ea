//! The gateway service: authentication, body limits, hardening, detectors, rate limits,
//! forwarding to the upstream with injected credentials, output monitoring (buffered and SSE),
//! drift, metrics and one audit record per request.
//!
//! Audit records and responses: a request's record is queued to the audit log when its outcome
//! is known (for a buffered response just before the response is handed to the client; for a
//! stream once the stream has ended). The response does not wait for the record to be durable:
//! the log's policy (`lantern_audit`) is that a record survives a crash once the group commit's
//! `fdatasync` of its batch has returned. A crash can therefore lose the
//! records of requests answered during the last, not yet synced batch (the writer gathers a
//! batch for 1 ms before syncing it); records that could not be made durable are counted in
//! `lantern_guard_audit_failures_total`.

use crate::config::{Action, GuardConfig, UnknownPaths};
use crate::detect::Detectors;
use crate::keys::{self, AuthError, KeyRecord, KeyRef, KeyStore};
use crate::metrics::Metrics;
use crate::monitor::Monitor;
use crate::ratelimit::{Decision, Dim, Limit, Limiter};
use crate::route::Endpoint;
use crate::sse::SseFilter;
use crate::Error;
use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Frame, Incoming};
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Request, Response, StatusCode, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioIo, TokioTimer};
use lantern_audit::LocalLog;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime};
use tokio::net::TcpListener;

/// Response body type of the gateway.
pub type Body = BoxBody<Bytes, Infallible>;

fn full(b: impl Into<Bytes>) -> Body {
    Full::new(b.into()).boxed()
}

/// An OpenAI-style error response.
pub fn error_response(status: StatusCode, message: &str, kind: &str, code: &str) -> Response<Body> {
    let body = json!({"error": {"message": message, "type": kind, "param": null, "code": code}});
    let mut r = Response::new(full(body.to_string()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

fn output_blocked() -> Response<Body> {
    error_response(
        StatusCode::FORBIDDEN,
        "response blocked by the gateway's output policy",
        "permission_error",
        "output_blocked",
    )
}

/// The answer while the shared rate-limit store does not answer and the policy fails closed.
fn store_unavailable(o: &mut Outcome) -> Response<Body> {
    o.decision = "store_unavailable";
    error_response(
        StatusCode::SERVICE_UNAVAILABLE,
        "the rate-limit store is unavailable; retry shortly",
        "api_error",
        "rate_limit_store_unavailable",
    )
}

fn extraction_refused() -> Response<Body> {
    error_response(
        StatusCode::FORBIDDEN,
        "request refused: it matches a model-extraction pattern",
        "permission_error",
        "extraction_suspected",
    )
}

/// Headers never passed between client and upstream: hop-by-hop ones, and credentials (the
/// guard's keys stay with the guard, the upstream's with the upstream). Header names, so that
/// removing them from a map does not parse a name per call.
const NOT_FORWARDED: [header::HeaderName; 11] = [
    header::HeaderName::from_static("connection"),
    header::HeaderName::from_static("keep-alive"),
    header::HeaderName::from_static("proxy-authenticate"),
    header::HeaderName::from_static("proxy-authorization"),
    header::HeaderName::from_static("te"),
    header::HeaderName::from_static("trailer"),
    header::HeaderName::from_static("transfer-encoding"),
    header::HeaderName::from_static("upgrade"),
    header::HeaderName::from_static("host"),
    header::HeaderName::from_static("authorization"),
    header::HeaderName::from_static("x-api-key"),
];

/// Whether a header (lower-case name) is passed between client and upstream: not in
/// [`NOT_FORWARDED`], and not a length when `skip_len` (the guard sets its own).
fn forwarded(name: &str, skip_len: bool) -> bool {
    !(NOT_FORWARDED.iter().any(|h| h.as_str() == name) || (skip_len && name == "content-length"))
}

/// Removes from `headers` what [`forwarded`] does not pass.
fn strip_headers(headers: &mut HeaderMap, skip_len: bool) {
    for n in &NOT_FORWARDED {
        headers.remove(n);
    }
    if skip_len {
        headers.remove(header::CONTENT_LENGTH);
    }
}

/// The shared state of a running gateway.
pub struct Gateway {
    cfg: GuardConfig,
    keys: RwLock<Arc<KeyStore>>,
    keys_mtime: Mutex<Option<SystemTime>>,
    usage: Mutex<keys::Usage>,
    /// Held while the usage file is written: the periodic write (on a blocking thread) and the
    /// one at shutdown share its temporary file.
    usage_write: Mutex<()>,
    limiter: Limiter,
    detectors: Detectors,
    monitor: Arc<Monitor>,
    /// Metrics (exposed on `/metrics`).
    pub metrics: Metrics,
    audit: Option<AuditSink>,
    pool: crate::upstream::Pool,
    /// `Host` of upstream requests: the upstream URL's authority.
    upstream_host: HeaderValue,
    upstream: String,
    /// The upstream URL's path without a trailing `/`, put in front of each request's path.
    upstream_prefix: String,
    upstream_auth: Option<HeaderValue>,
    /// The audit store's last write failed (PostgreSQL): with `on_store_error = "refuse"`,
    /// requests are refused until a record is written again (the refusals' own records are
    /// the probes).
    audit_down: Arc<AtomicBool>,
    /// The exclusive lock on the local audit directory, held while the gateway lives.
    _audit_lock: Option<std::fs::File>,
}

/// Name of the lock file in a local audit directory.
const AUDIT_LOCK: &str = "guard.lock";

/// Takes the exclusive advisory lock (`flock`) of a local audit directory and writes this
/// process's id into the lock file; fails naming the holder's id when another gateway has it
/// (two writers would interleave records and break the log's chain).
fn lock_audit_dir(dir: &std::path::Path) -> Result<std::fs::File, Error> {
    use std::io::{Read, Seek, Write};
    let io = |e| {
        Error::Io(lantern_core::IoError::new(
            dir.join(AUDIT_LOCK).display(),
            e,
        ))
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(dir.join(AUDIT_LOCK))
        .map_err(io)?;
    match f.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut pid = String::new();
            let _ = f.take(32).read_to_string(&mut pid);
            let pid = pid.trim();
            return Err(Error::Config(format!(
                "audit dir {} is in use by another lantern guard (pid {})",
                dir.display(),
                if pid.is_empty() { "unknown" } else { pid }
            )));
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
    }
    f.set_len(0).map_err(io)?;
    f.rewind().map_err(io)?;
    writeln!(f, "{}", std::process::id()).map_err(io)?;
    f.sync_all().map_err(io)?;
    Ok(f)
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("upstream", &self.upstream)
            .finish_non_exhaustive()
    }
}

fn mtime(p: &std::path::Path) -> Option<SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

/// Text of the prompt (chat messages, completions prompt, embeddings input), bounded.
pub fn prompt_text(v: &Value) -> String {
    let mut out = String::new();
    let mut push = |s: &str| push_prompt(&mut out, s);
    if let Some(msgs) = v.get("messages").and_then(Value::as_array) {
        for m in msgs {
            match m.get("content") {
                Some(Value::String(s)) => push(s),
                Some(Value::Array(parts)) => parts
                    .iter()
                    .filter_map(|p| p.get("text").and_then(Value::as_str))
                    .for_each(&mut push),
                _ => {}
            }
        }
    }
    for k in ["prompt", "input"] {
        match v.get(k) {
            Some(Value::String(s)) => push(s),
            Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).for_each(&mut push),
            _ => {}
        }
    }
    out
}

/// Appends one prompt string (newline-separated, bounded to about 256 KiB).
fn push_prompt(out: &mut String, s: &str) {
    if out.len() < 256 * 1024 {
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(s);
    }
}

/// Token estimate of a text without the model's tokenizer: the larger of bytes/4 and words×4/3
/// (about right for English BPE vocabularies; the upstream's usage settles the difference).
pub fn estimate_tokens(text: &str) -> u64 {
    let words = text.split_whitespace().count() as u64;
    (text.len() as u64).div_ceil(4).max(words * 4 / 3)
}

/// Tokens pre-charged for a request before the upstream reports `usage`: the prompt's estimate
/// plus, for generation endpoints, the completion budget of every choice.
fn request_token_estimate(prompt: &str, generates: bool, max_tokens: u64, n: u64) -> u64 {
    estimate_tokens(prompt)
        + if generates {
            max_tokens.saturating_mul(n)
        } else {
            0
        }
}

/// A response body with a `content-encoding` other than `identity` (compressed).
fn encoded(h: &HeaderMap) -> bool {
    h.get_all(header::CONTENT_ENCODING)
        .iter()
        .any(|v| !v.as_bytes().eq_ignore_ascii_case(b"identity"))
}

/// The `model` a request names, as far as scope checks are concerned.
enum ModelField<'a> {
    /// No `model` (or `null`).
    Missing,
    /// `model` is there but not a string (an array, a number, an object).
    NotString,
    /// `model` is this string.
    Named(&'a str),
}

impl<'a> ModelField<'a> {
    fn of(v: &'a Value) -> Self {
        match v.get("model") {
            None | Some(Value::Null) => Self::Missing,
            Some(Value::String(m)) => Self::Named(m),
            Some(_) => Self::NotString,
        }
    }
}

/// The token of an `Authorization` header: the `Bearer` scheme in any case (RFC 7235), then
/// the credentials.
fn bearer_token(h: &HeaderMap) -> Option<&str> {
    let v = h.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = v.trim_start().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
}

/// The path a key's endpoint scope is checked against: the `/v1` form of a known endpoint's
/// path (the unversioned alias is the same endpoint).
fn scope_path(path: &str) -> Cow<'_, str> {
    if path.starts_with("/v1/") || path == "/v1" {
        Cow::Borrowed(path)
    } else {
        Cow::Owned(format!("/v1{path}"))
    }
}

/// The origin-form URI of a forwarded request: the upstream URL's path (`prefix`, no trailing
/// `/`) followed by the request's path and query; the request's own when there is no prefix.
/// Writes the upstream request line: the upstream URL's path prefix, then the request's path
/// and query.
fn write_request_line(
    out: &mut Vec<u8>,
    method: &Method,
    prefix: &str,
    pq: Option<&hyper::http::uri::PathAndQuery>,
) {
    crate::h1::request_line(out, method, prefix, pq.map_or("/", |p| p.as_str()));
}

/// Lower-case hex SHA-256 of some bytes, kept inline (no allocation per request).
#[derive(Clone, Copy)]
struct HexDigest([u8; 64]);

impl HexDigest {
    #[cfg(test)]
    fn as_str(&self) -> &str {
        // hex digits are ASCII
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

/// A SHA-256 digest (of a prompt or a response, for the audit record).
type Sha = [u8; 32];

fn sha256(b: &[u8]) -> Sha {
    Sha256::digest(b).into()
}

fn hex_digest(d: &Sha) -> HexDigest {
    let mut out = [b'0'; 64];
    // the buffer is exactly twice the digest's length, so this cannot fail
    let _ = hex::encode_to_slice(d, &mut out);
    HexDigest(out)
}

#[cfg(test)]
fn hex_sha256(b: &[u8]) -> HexDigest {
    hex_digest(&sha256(b))
}

/// Dotted-quad text of an IPv4 address, written into `buf` (the audit record's client field,
/// without the formatting machinery per request).
fn ipv4_str(a: std::net::Ipv4Addr, buf: &mut [u8; 15]) -> &str {
    let mut n = 0;
    for (i, o) in a.octets().into_iter().enumerate() {
        if i > 0 {
            buf[n] = b'.';
            n += 1;
        }
        if o >= 100 {
            buf[n] = b'0' + o / 100;
            n += 1;
        }
        if o >= 10 {
            buf[n] = b'0' + o / 10 % 10;
            n += 1;
        }
        buf[n] = b'0' + o % 10;
        n += 1;
    }
    std::str::from_utf8(&buf[..n]).unwrap_or_default()
}

/// Everything known about one request, for the audit record and metrics.
struct Outcome {
    t0: Instant,
    upstream_time: Duration,
    key: Option<KeyRef>,
    endpoint: &'static str,
    method: Method,
    model: Option<String>,
    status: u16,
    decision: &'static str,
    stream: bool,
    /// A streamed response's body took over the record (it writes it when the stream ends).
    detached: bool,
    prompt_tokens: Option<u64>,
    completion_tokens: Option<u64>,
    hits: Vec<String>,
    changes: Vec<String>,
    /// SHA-256 of the request body, for the audit record.
    prompt: Option<Sha>,
    /// SHA-256 of the response body as sent (of the streamed text for a stream).
    response: Option<Sha>,
    client: SocketAddr,
    /// SHA-256 of the client's TLS certificate (mutual TLS).
    client_cert: Option<Arc<str>>,
}

/// The audit record of one request as serde writes it (fields in alphabetical order, as in the
/// `serde_json::Value` object records were first made of): the tests check that
/// [`write_audit_record`] writes the same bytes.
#[cfg(test)]
#[derive(serde::Serialize)]
struct AuditRecord<'a> {
    changes: &'a [String],
    client: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_cert_sha256: Option<&'a str>,
    completion_tokens: Option<u64>,
    decision: &'a str,
    endpoint: &'a str,
    hits: &'a [String],
    key: Option<&'a str>,
    latency_us: u64,
    method: &'a str,
    model: Option<&'a str>,
    owner: Option<&'a str>,
    prompt_sha256: Option<&'a str>,
    prompt_tokens: Option<u64>,
    response_sha256: Option<&'a str>,
    status: u16,
    stream: bool,
    ts: &'a str,
}

impl Gateway {
    /// Builds the gateway (loads keys, corpus index, opens the audit log, connects nothing yet).
    pub fn new(cfg: GuardConfig) -> Result<Self, Error> {
        cfg.validate()?;
        let store = KeyStore::load(&cfg.keys_file)?;
        let corpus = match &cfg.monitor.corpus_index {
            Some(p) => Some(crate::ngram::NgramIndex::load(p)?),
            None => None,
        };
        let monitor = Arc::new(Monitor::new(&cfg.monitor, corpus)?);
        let redis = match &cfg.limits.redis {
            Some(u) => Some(
                crate::resp::RedisPool::new(u, 16)?
                    .with_timeout(Duration::from_millis(cfg.limits.redis_timeout_ms.max(1))),
            ),
            None => None,
        };
        let audit_lock = match (&cfg.audit.postgres, &cfg.audit.dir) {
            (None, Some(dir)) => Some(lock_audit_dir(dir)?),
            _ => None,
        };
        let audit = match (&cfg.audit.postgres, &cfg.audit.dir) {
            (Some(url), _) => Some(AuditSink::Pg(lantern_audit::PgLog::open(
                url,
                audit_signer(&cfg, None)?,
                audit_options(&cfg),
            )?)),
            (None, Some(dir)) => Some(AuditSink::Local(LocalLog::open(
                dir,
                audit_signer(&cfg, Some(dir))?,
                audit_options(&cfg),
            )?)),
            (None, None) => None,
        };
        let upstream = cfg.upstream.url.trim_end_matches('/').to_string();
        let parsed = upstream
            .parse::<Uri>()
            .map_err(|e| Error::Config(format!("upstream.url: {e}")))?;
        let authority = match (parsed.scheme(), parsed.authority()) {
            (Some(_), Some(a)) if parsed.query().is_none() => a.clone(),
            _ => {
                return Err(Error::Config(format!(
                    "upstream.url: {upstream} is not an http(s) URL without a query"
                )))
            }
        };
        let upstream_prefix = parsed.path().trim_end_matches('/').to_string();
        let host = authority.as_str().rsplit('@').next().unwrap_or_default();
        let upstream_host = HeaderValue::from_str(host)
            .map_err(|_| Error::Config(format!("upstream.url: bad host {host}")))?;
        let upstream_auth = match &cfg.upstream.api_key_env {
            Some(var) => {
                let v = std::env::var(var).map_err(|_| {
                    Error::Config(format!("upstream.api_key_env: ${var} is not set"))
                })?;
                let mut h = HeaderValue::from_str(&format!("Bearer {v}"))
                    .map_err(|_| Error::Config(format!("${var} is not a valid header value")))?;
                h.set_sensitive(true);
                Some(h)
            }
            None => None,
        };
        let mut conn = HttpConnector::new();
        conn.set_nodelay(true);
        conn.set_connect_timeout(Some(Duration::from_secs(10)));
        let pool = crate::upstream::Pool::new(
            crate::tls::upstream_connector(conn, &cfg.upstream)?,
            &parsed,
            Duration::from_secs(60),
            1024,
        )?;
        let metrics = match &cfg.drift.baseline_file {
            Some(p) => Metrics::with_baseline_file(p)?,
            None => Metrics::default(),
        };
        if let Some(AuditSink::Local(log)) = &audit {
            log.count_deferred_failures(metrics.audit_failures.clone());
        }
        Ok(Self {
            keys_mtime: Mutex::new(mtime(&cfg.keys_file)),
            usage: Mutex::new(keys::load_usage(&cfg.keys_file)),
            usage_write: Mutex::new(()),
            keys: RwLock::new(Arc::new(store)),
            limiter: Limiter::new(redis).fail_closed(
                cfg.limits.on_store_error == crate::config::LimitStoreError::FailClosed,
            ),
            detectors: Detectors::new(cfg.detect.clone()),
            monitor,
            metrics,
            audit,
            pool,
            upstream_host,
            upstream,
            upstream_prefix,
            upstream_auth,
            _audit_lock: audit_lock,
            audit_down: Arc::new(AtomicBool::new(false)),
            cfg,
        })
    }

    /// Adds a text scanner to output monitoring (e.g. the leak scanner's rules). Call it before
    /// serving: once a stream shares the monitor, the scanner is not added (an error is logged).
    pub fn add_scanner(&mut self, s: Arc<dyn crate::monitor::TextScanner>) {
        match Arc::get_mut(&mut self.monitor) {
            Some(m) => m.add_scanner(s),
            None => tracing::error!("text scanner not added: the gateway is already serving"),
        }
    }

    /// Reloads the key store if its file changed (revocations take effect without a restart).
    pub fn reload_keys(&self) {
        let m = mtime(&self.cfg.keys_file);
        let mut last = match self.keys_mtime.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        if *last == m {
            return;
        }
        match KeyStore::load(&self.cfg.keys_file) {
            Ok(s) => {
                if let Ok(mut k) = self.keys.write() {
                    *k = Arc::new(s);
                }
                *last = m;
                tracing::info!(path = %self.cfg.keys_file.display(), "reloaded keys");
            }
            // keep serving with the previous keys; a half-written file is retried next time
            Err(e) => tracing::warn!(error = %e, "key store reload failed"),
        }
    }

    /// Writes last-use times next to the key store.
    pub fn save_usage(&self) {
        // one write at a time, each of a snapshot taken after the previous write ended
        let _writing = match self.usage_write.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let u = match self.usage.lock() {
            Ok(u) => u.clone(),
            Err(p) => p.into_inner().clone(),
        };
        if let Err(e) = keys::save_usage(&self.cfg.keys_file, &u) {
            tracing::warn!(error = %e, "saving key usage");
        }
    }

    fn keys(&self) -> Arc<KeyStore> {
        match self.keys.read() {
            Ok(k) => k.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    fn touch(&self, id: &str, now: u64) {
        let mut u = match self.usage.lock() {
            Ok(u) => u,
            Err(p) => p.into_inner(),
        };
        let e = match u.get_mut(id) {
            Some(e) => e,
            None => u.entry(id.to_string()).or_insert(0),
        };
        if now >= *e + 60 {
            *e = now;
        }
    }

    /// The digest of a body for the audit record, when there is an audit log. Taken here, while
    /// the bytes are in this thread's cache: handing the writer a copy to hash cost an
    /// allocation, a copy, and a free on another thread, and holding the body itself would pin
    /// the connection's read buffer.
    fn audit_digest(&self, body: &[u8]) -> Option<Sha> {
        self.audit.as_ref().map(|_| sha256(body))
    }

    /// Records waiting for the local audit log's writer (`None` without a local log).
    fn audit_backlog(&self) -> Option<usize> {
        match self.audit.as_ref()? {
            AuditSink::Local(l) => Some(l.backlog()),
            AuditSink::Pg(_) => None,
        }
    }

    fn finish(&self, o: Outcome) {
        let total = o.t0.elapsed();
        self.metrics.latency.observe(total.as_secs_f64());
        if o.upstream_time > Duration::ZERO {
            self.metrics
                .overhead
                .observe(total.saturating_sub(o.upstream_time).as_secs_f64());
        }
        self.metrics.request(o.endpoint, o.status, o.decision);
        for h in &o.hits {
            self.metrics.hit(h);
        }
        let Some(log) = &self.audit else { return };
        let ts = SystemTime::now();
        log.append(o, total, ts, &self.metrics.audit_failures, &self.audit_down);
    }

    /// Runs the extraction detectors on a prompt; returns the extra rate-limit cost (throttle),
    /// or `None` when the request must be refused (detector action `block`).
    fn detect(
        &self,
        key: &KeyRecord,
        prompt: &str,
        logit_probe: bool,
        now: u64,
        o: &mut Outcome,
    ) -> Option<u64> {
        let seen = self
            .detectors
            .observe_hits(&key.id, prompt, logit_probe, now);
        if seen.hits.is_empty() {
            return Some(0);
        }
        o.hits.extend(seen.hits.iter().map(|s| s.to_string()));
        if seen.log {
            // once per key and minute; every hit is in the audit record and the metrics
            tracing::warn!(key = %key.id, owner = %key.owner, hits = ?seen.hits, "extraction detector (further hits of this key this minute are not logged)");
        }
        match self.cfg.detect.action {
            Action::Block => {
                o.decision = "blocked_extraction";
                None
            }
            Action::Throttle => Some(9),
            _ => Some(0),
        }
    }

    fn limits_for(&self, key: &KeyRecord) -> (Option<Limit>, Option<Limit>) {
        let l = &self.cfg.limits;
        let rpm = key.requests_per_minute.unwrap_or(l.requests_per_minute);
        let tpm = key.tokens_per_minute.unwrap_or(l.tokens_per_minute);
        (
            (rpm > 0).then_some(Limit {
                per_minute: rpm,
                capacity: l.burst.max(1),
            }),
            (tpm > 0).then_some(Limit {
                per_minute: tpm,
                capacity: tpm,
            }),
        )
    }

    /// Handles one request; `client_cert`: the SHA-256 of the certificate the client presented
    /// (mutual TLS), for the audit record.
    pub async fn handle(
        self: Arc<Self>,
        req: Request<Incoming>,
        client: SocketAddr,
        client_cert: Option<Arc<str>>,
    ) -> Response<Body> {
        let t0 = Instant::now();
        // one normal form of the path, routed on and forwarded (`None`: the path as received)
        let norm = match crate::route::normalise(req.uri().path()) {
            Ok(Cow::Borrowed(_)) => None,
            Ok(Cow::Owned(p)) => Some(p),
            Err(e) => {
                self.metrics.request("other", 400, "bad_path");
                let why = match e {
                    crate::route::PathError::TooLong => "request path too long",
                    crate::route::PathError::Ambiguous => {
                        "request path has an escape or character the gateway does not route"
                    }
                };
                return error_response(
                    StatusCode::BAD_REQUEST,
                    why,
                    "invalid_request_error",
                    "invalid_path",
                );
            }
        };
        let path = norm.as_deref().unwrap_or(req.uri().path());
        let ep = crate::route::route(req.method(), path);
        let mut o = Outcome {
            t0,
            upstream_time: Duration::ZERO,
            key: None,
            endpoint: ep.label(),
            method: req.method().clone(),
            model: None,
            status: 200,
            decision: "allowed",
            stream: false,
            detached: false,
            prompt_tokens: None,
            completion_tokens: None,
            hits: Vec::new(),
            changes: Vec::new(),
            prompt: None,
            response: None,
            client,
            client_cert,
        };
        if req.method() == Method::GET && path == "/healthz" {
            return Response::new(full("ok\n"));
        }
        if self.cfg.metrics && req.method() == Method::GET && path == "/metrics" {
            if self.cfg.server.metrics_need_key && !self.metrics_key_ok(req.headers()) {
                return error_response(
                    StatusCode::UNAUTHORIZED,
                    "/metrics needs a guard key",
                    "invalid_request_error",
                    "invalid_api_key",
                );
            }
            let mut stores = Vec::with_capacity(2);
            if self.cfg.limits.redis.is_some() {
                stores.push(("redis", self.limiter.redis_up.load(Ordering::Relaxed)));
            }
            if matches!(self.audit, Some(AuditSink::Pg(_))) {
                stores.push(("audit", !self.audit_down.load(Ordering::Relaxed)));
            }
            let mut r = Response::new(full(self.metrics.render_with(
                self.limiter.redis_errors.load(Ordering::Relaxed),
                self.audit_backlog(),
                &stores,
            )));
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4"),
            );
            return r;
        }
        if self
            .audit_backlog()
            .is_some_and(|b| b >= self.cfg.audit.max_backlog)
        {
            // fail closed: a request that could not be audited is not served
            self.metrics.request(o.endpoint, 503, "audit_backlog");
            return error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "the audit log is behind; retry shortly",
                "api_error",
                "audit_backlog",
            );
        }
        if self.cfg.audit.on_store_error == crate::config::AuditStoreError::Refuse
            && self.audit_down.load(Ordering::Relaxed)
        {
            // fail closed; this refusal's own record tells whether the store is back
            o.decision = "audit_unavailable";
            o.status = 503;
            self.finish(o);
            return error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "the audit log cannot record requests; retry shortly",
                "api_error",
                "audit_unavailable",
            );
        }
        if ep == Endpoint::Unknown && self.cfg.server.unknown_paths == UnknownPaths::Refuse {
            o.decision = "unknown_path";
            let r = error_response(
                StatusCode::NOT_FOUND,
                &format!("the gateway does not serve {} {path}", req.method()),
                "invalid_request_error",
                "unknown_path",
            );
            o.status = 404;
            self.finish(o);
            return r;
        }
        let resp = self.clone().process(req, ep, norm, &mut o).await;
        o.status = resp.status().as_u16();
        if o.decision == "allowed"
            && resp.status().as_u16() >= 400
            && o.upstream_time == Duration::ZERO
        {
            o.decision = "error";
        }
        if !o.detached {
            self.finish(o);
        }
        resp
    }

    /// Whether the request carries a valid guard key (for `/metrics` with `metrics_need_key`).
    fn metrics_key_ok(&self, headers: &HeaderMap) -> bool {
        let store = self.keys();
        bearer_token(headers)
            .is_some_and(|t| KeyStore::authenticate_shared(&store, t, keys::now_secs()).is_ok())
    }

    /// Refuses a request whose model the key may not use; a scoped key must name its model as
    /// a string (a request without one would get the upstream's default model).
    fn check_model(
        &self,
        key: &KeyRecord,
        m: ModelField<'_>,
        o: &mut Outcome,
    ) -> Option<Response<Body>> {
        let (status, msg, code) = match m {
            ModelField::Named(m) if key.scopes.allows_model(m) => return None,
            _ if key.scopes.models.is_empty() => return None,
            ModelField::Named(m) => (
                StatusCode::FORBIDDEN,
                format!("this key may not use model {m}"),
                "model_not_allowed",
            ),
            ModelField::Missing => (
                StatusCode::BAD_REQUEST,
                "this key is limited to some models: the request must name one in `model`".into(),
                "model_required",
            ),
            ModelField::NotString => (
                StatusCode::BAD_REQUEST,
                "`model` must be a string".into(),
                "invalid_model",
            ),
        };
        o.decision = if status == StatusCode::FORBIDDEN {
            "forbidden"
        } else {
            "rejected"
        };
        let kind = if status == StatusCode::FORBIDDEN {
            "permission_error"
        } else {
            "invalid_request_error"
        };
        Some(error_response(status, &msg, kind, code))
    }

    /// The model scope of requests whose body is not inspected as JSON: the id of
    /// `GET /v1/models/{id}`, the `model` field of a multipart form.
    fn check_other_model(
        &self,
        key: &KeyRecord,
        ep: Endpoint,
        path: &str,
        headers: &HeaderMap,
        body: &[u8],
        o: &mut Outcome,
    ) -> Option<Response<Body>> {
        if key.scopes.models.is_empty() {
            return None;
        }
        match ep {
            Endpoint::Model => {
                let id = path
                    .strip_prefix("/v1")
                    .unwrap_or(path)
                    .strip_prefix("/models/")
                    .unwrap_or_default();
                o.model = Some(id.to_string());
                self.check_model(key, ModelField::Named(id), o)
            }
            Endpoint::MediaForm => {
                let ct = headers
                    .get(header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                match crate::route::form_model(ct, body) {
                    Ok(Some(m)) => {
                        o.model = Some(m.to_string());
                        self.check_model(key, ModelField::Named(&m), o)
                    }
                    Ok(None) => self.check_model(key, ModelField::Missing, o),
                    Err(crate::route::FormError) => {
                        o.decision = "rejected";
                        Some(error_response(
                            StatusCode::BAD_REQUEST,
                            "multipart body not understood (one `model` field expected)",
                            "invalid_request_error",
                            "invalid_form",
                        ))
                    }
                }
            }
            _ => None,
        }
    }

    async fn process(
        self: Arc<Self>,
        req: Request<Incoming>,
        ep: Endpoint,
        norm: Option<String>,
        o: &mut Outcome,
    ) -> Response<Body> {
        let now = keys::now_secs();
        let (parts, body) = req.into_parts();
        let path = norm.as_deref().unwrap_or(parts.uri.path());
        // 1. authentication, fail closed
        let token = bearer_token(&parts.headers);
        let store = self.keys();
        let key = match token
            .ok_or(AuthError::Missing)
            .and_then(|t| KeyStore::authenticate_shared(&store, t, now))
        {
            Ok(k) => k,
            Err(e) => {
                o.decision = "unauthorized";
                return error_response(
                    StatusCode::UNAUTHORIZED,
                    e.message(),
                    "invalid_request_error",
                    "invalid_api_key",
                );
            }
        };
        self.touch(&key.id, now);
        o.key = Some(key.clone());
        if !key.scopes.allows_endpoint(&scope_path(path)) {
            o.decision = "forbidden";
            return error_response(
                StatusCode::FORBIDDEN,
                &format!("this key may not call {path}"),
                "permission_error",
                "endpoint_not_allowed",
            );
        }
        // 2. body, bounded in size and time
        let max = self.cfg.max_body_bytes;
        if parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .is_some_and(|n| n > max as u64)
        {
            o.decision = "too_large";
            return error_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("request body exceeds {max} bytes"),
                "invalid_request_error",
                "request_too_large",
            );
        }
        let collected = tokio::time::timeout(
            Duration::from_secs(self.cfg.client_timeout_secs),
            Limited::new(body, max).collect(),
        )
        .await;
        let body = match collected {
            Err(_) => {
                o.decision = "client_timeout";
                return error_response(
                    StatusCode::REQUEST_TIMEOUT,
                    "request body not received in time",
                    "invalid_request_error",
                    "request_timeout",
                );
            }
            Ok(Err(e))
                if e.downcast_ref::<http_body_util::LengthLimitError>()
                    .is_some() =>
            {
                o.decision = "too_large";
                return error_response(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    &format!("request body exceeds {max} bytes"),
                    "invalid_request_error",
                    "request_too_large",
                );
            }
            Ok(Err(_)) => {
                o.decision = "bad_request";
                return error_response(
                    StatusCode::BAD_REQUEST,
                    "request body could not be read",
                    "invalid_request_error",
                    "bad_body",
                );
            }
            Ok(Ok(c)) => c.to_bytes(),
        };
        o.prompt = self.audit_digest(&body);
        let inspect = ep.inspects_json();
        let mut out_body = body.clone();
        let mut stream = false;
        let mut wants_logprobs = false;
        // the guard asks a streaming upstream for usage; a client that did not is spared the chunk
        let mut strip_usage = false;
        let mut estimate = 0u64;
        let view = if inspect {
            crate::harden::request_view(&body, &self.cfg.hardening)
        } else {
            None
        };
        if let Some(view) = view {
            // the usual request: hardening changes nothing, so read it borrowed and forward it
            // as received (with `stream_options` added to streams)
            o.model = view.model.as_deref().map(str::to_string);
            let m = view
                .model
                .as_deref()
                .map_or(ModelField::Missing, ModelField::Named);
            if let Some(r) = self.check_model(&key, m, o) {
                return r;
            }
            let mut prompt = String::new();
            for t in &view.texts {
                push_prompt(&mut prompt, t);
            }
            let Some(throttle) = self.detect(&key, &prompt, false, now, o) else {
                return extraction_refused();
            };
            stream = view.stream;
            let max_tokens = view
                .max_tokens
                .unwrap_or(self.cfg.limits.default_max_tokens);
            let n = view.n.unwrap_or(1).max(1);
            estimate = request_token_estimate(&prompt, ep.generates(), max_tokens, n);
            let (rl, tl) = self.limits_for(&key);
            if let Some(r) = self
                .rate_check(&key.id, rl, tl, 1 + throttle, estimate, o)
                .await
            {
                return r;
            }
            if stream && matches!(ep, Endpoint::Chat | Endpoint::Completions) {
                // this view is only taken for bodies without `stream_options`
                if let Some(b) = crate::harden::with_include_usage(&body) {
                    out_body = Bytes::from(b);
                    strip_usage = true;
                }
            }
        } else if inspect {
            let mut v: Value = match serde_json::from_slice(&body) {
                Ok(v @ Value::Object(_)) => v,
                Ok(_) => {
                    o.decision = "bad_request";
                    return error_response(
                        StatusCode::BAD_REQUEST,
                        "request body must be a JSON object",
                        "invalid_request_error",
                        "invalid_json",
                    );
                }
                Err(e) => {
                    o.decision = "bad_request";
                    return error_response(
                        StatusCode::BAD_REQUEST,
                        &format!("malformed JSON body: {e}"),
                        "invalid_request_error",
                        "invalid_json",
                    );
                }
            };
            o.model = v.get("model").and_then(Value::as_str).map(str::to_string);
            if let Some(r) = self.check_model(&key, ModelField::of(&v), o) {
                return r;
            }
            // 3. hardening
            let h = crate::harden::harden_request(&mut v, &self.cfg.hardening);
            o.changes = h.changes.clone();
            wants_logprobs = h.wants_logprobs;
            if let Some(reason) = h.reject {
                o.decision = "rejected";
                return error_response(
                    StatusCode::BAD_REQUEST,
                    &reason,
                    "invalid_request_error",
                    "parameter_not_allowed",
                );
            }
            // 4. detectors
            let prompt = prompt_text(&v);
            let Some(throttle) = self.detect(&key, &prompt, h.logit_probe, now, o) else {
                return extraction_refused();
            };
            stream = v.get("stream").and_then(Value::as_bool).unwrap_or(false);
            let max_tokens = v
                .get("max_completion_tokens")
                .or_else(|| v.get("max_tokens"))
                .and_then(Value::as_u64)
                .unwrap_or(self.cfg.limits.default_max_tokens);
            let n = v.get("n").and_then(Value::as_u64).unwrap_or(1).max(1);
            estimate = request_token_estimate(&prompt, ep.generates(), max_tokens, n);
            // 5. rate limits (request count, then pre-charged tokens)
            let (rl, tl) = self.limits_for(&key);
            if let Some(r) = self
                .rate_check(&key.id, rl, tl, 1 + throttle, estimate, o)
                .await
            {
                return r;
            }
            if stream && matches!(ep, Endpoint::Chat | Endpoint::Completions) {
                strip_usage = v
                    .pointer("/stream_options/include_usage")
                    .and_then(Value::as_bool)
                    != Some(true);
                if let Some(obj) = v.as_object_mut() {
                    obj.insert("stream_options".into(), json!({"include_usage": true}));
                }
            }
            if !o.changes.is_empty() || stream {
                out_body = Bytes::from(v.to_string());
            }
        } else {
            if let Some(r) = self.check_other_model(&key, ep, path, &parts.headers, &body, o) {
                return r;
            }
            let (rl, _) = self.limits_for(&key);
            if let Some(r) = self.rate_check(&key.id, rl, None, 1, 0, o).await {
                return r;
            }
        }
        o.stream = stream;
        // 6. forward: the request head is written straight from the client's headers
        let mut head = Vec::with_capacity(256 + 64 * parts.headers.len());
        match &norm {
            None => write_request_line(
                &mut head,
                &parts.method,
                &self.upstream_prefix,
                parts.uri.path_and_query(),
            ),
            Some(p) => {
                let pq = match parts.uri.query() {
                    Some(q) => format!("{p}?{q}"),
                    None => p.clone(),
                };
                crate::h1::request_line(&mut head, &parts.method, &self.upstream_prefix, &pq);
            }
        }
        for (k, v) in &parts.headers {
            let n = k.as_str();
            // the guard reads what it monitors: answers are asked for uncompressed
            if !forwarded(n, true) || (n == "accept-encoding" && ep.monitors_output()) {
                continue;
            }
            crate::h1::header(&mut head, n, v.as_bytes());
        }
        crate::h1::header(&mut head, "host", self.upstream_host.as_bytes());
        if let Some(a) = &self.upstream_auth {
            crate::h1::header(&mut head, "authorization", a.as_bytes());
        }
        crate::h1::end_head(&mut head, out_body.len());
        let t_up = Instant::now();
        let resp = match tokio::time::timeout(
            Duration::from_secs(self.cfg.upstream.timeout_secs),
            self.pool.send(&parts.method, head, out_body),
        )
        .await
        {
            Err(_) => {
                o.decision = "upstream_timeout";
                o.upstream_time = t_up.elapsed();
                self.refund(&key, estimate).await;
                return error_response(
                    StatusCode::GATEWAY_TIMEOUT,
                    "upstream did not answer in time",
                    "api_error",
                    "upstream_timeout",
                );
            }
            Ok(Err(e)) => {
                o.decision = "upstream_error";
                o.upstream_time = t_up.elapsed();
                tracing::warn!(error = %e, "upstream request failed");
                self.refund(&key, estimate).await;
                return error_response(
                    StatusCode::BAD_GATEWAY,
                    "upstream unavailable",
                    "api_error",
                    "upstream_error",
                );
            }
            Ok(Ok(r)) => r,
        };
        let (rparts, rbody) = resp.into_parts();
        if ep.monitors_output() && encoded(&rparts.headers) {
            // compressed anyway: not read, so not forwarded
            o.decision = "upstream_error";
            o.upstream_time = t_up.elapsed();
            self.refund(&key, estimate).await;
            return error_response(
                StatusCode::BAD_GATEWAY,
                "upstream answered with a content encoding the gateway does not read",
                "api_error",
                "upstream_encoding",
            );
        }
        let is_sse = rparts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|c| c.starts_with("text/event-stream"));
        let mut headers = rparts.headers;
        strip_headers(&mut headers, true);
        if is_sse && rparts.status.is_success() {
            o.upstream_time = t_up.elapsed();
            return self
                .clone()
                .stream_response(
                    rparts.status,
                    headers,
                    rbody,
                    key,
                    estimate,
                    wants_logprobs,
                    strip_usage,
                    o,
                )
                .await;
        }
        o.stream = false;
        // buffered response
        let collected = tokio::time::timeout(
            Duration::from_secs(self.cfg.upstream.timeout_secs),
            Limited::new(rbody, self.cfg.max_response_bytes).collect(),
        )
        .await;
        o.upstream_time = t_up.elapsed();
        let rbytes = match collected {
            // read to its end: the connection went back to the pool
            Ok(Ok(c)) => c.to_bytes(),
            Ok(Err(_)) | Err(_) => {
                o.decision = "upstream_error";
                return error_response(
                    StatusCode::BAD_GATEWAY,
                    "upstream response unreadable, too large or too slow",
                    "api_error",
                    "upstream_error",
                );
            }
        };
        let rbytes = if rparts.status.is_success() {
            match self
                .monitor_plain(ep, &key, estimate, wants_logprobs, rbytes, o)
                .await
            {
                Ok(b) => b,
                Err(r) => return *r,
            }
        } else {
            rbytes
        };
        o.response = self.audit_digest(&rbytes);
        let mut r = Response::new(full(rbytes));
        *r.status_mut() = rparts.status;
        *r.headers_mut() = headers;
        r
    }

    /// Output monitoring of a buffered response: the usual chat/completions answer is read
    /// borrowed and forwarded byte for byte; anything else (other fields, other endpoints, a
    /// hit to redact or block) through [`crate::fields::monitor_value`]. Settles the token charge.
    async fn monitor_plain(
        &self,
        ep: Endpoint,
        key: &KeyRecord,
        estimate: u64,
        wants_logprobs: bool,
        rbytes: Bytes,
        o: &mut Outcome,
    ) -> Result<Bytes, Box<Response<Body>>> {
        if ep == Endpoint::Models {
            return Ok(self.filter_models(key, rbytes));
        }
        if !ep.monitors_output() {
            if ep.inspects_json() {
                if let Ok(v) = serde_json::from_slice::<Value>(&rbytes) {
                    self.settle_usage(key, estimate, &v, o).await;
                }
            }
            return Ok(rbytes);
        }
        let fast = matches!(ep, Endpoint::Chat | Endpoint::Completions) && !wants_logprobs;
        if fast && self.fast_plain(key, estimate, &rbytes, o).await {
            return Ok(rbytes);
        }
        let mut v = match serde_json::from_slice::<Value>(&rbytes) {
            Ok(v) => v,
            Err(_) => return self.monitor_plain_text(rbytes, o),
        };
        let mut changed = false;
        if wants_logprobs {
            changed |= crate::harden::round_logprobs(&mut v, &self.cfg.hardening);
        }
        self.settle_usage(key, estimate, &v, o).await;
        let r = crate::fields::monitor_value(&mut v, &self.monitor, self.cfg.monitor.action);
        for h in &r.hits {
            if !o.hits.contains(h) {
                o.hits.push(h.clone());
            }
        }
        if let (Some(m), Some(choices)) = (&o.model, v.get("choices").and_then(Value::as_array)) {
            for c in choices {
                let text = c
                    .pointer("/message/content")
                    .or_else(|| c.get("text"))
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let finish = c.get("finish_reason").and_then(Value::as_str);
                for a in self.metrics.drift_observe(&self.cfg.drift, m, text, finish) {
                    tracing::warn!("drift: {a}");
                }
            }
        }
        if r.blocked {
            o.decision = "blocked_output";
            o.response = self.audit_digest(&rbytes);
            return Err(Box::new(output_blocked()));
        }
        if r.changed && !r.hits.is_empty() && self.cfg.monitor.action == Action::Redact {
            o.decision = "redacted";
        }
        let out = if changed || r.changed {
            Bytes::from(v.to_string())
        } else {
            rbytes
        };
        o.response = self.audit_digest(&out);
        Ok(out)
    }

    /// A monitored response that is not JSON (a transcription as `text`, `srt` or `vtt`):
    /// scanned as one text.
    fn monitor_plain_text(
        &self,
        rbytes: Bytes,
        o: &mut Outcome,
    ) -> Result<Bytes, Box<Response<Body>>> {
        let mut text = String::from_utf8_lossy(&rbytes).into_owned();
        let mut r = crate::fields::Monitored::default();
        crate::fields::scan_string(&mut text, &self.monitor, self.cfg.monitor.action, &mut r);
        o.hits.extend(
            r.hits
                .iter()
                .filter(|h| !o.hits.contains(h))
                .cloned()
                .collect::<Vec<_>>(),
        );
        if r.blocked {
            o.decision = "blocked_output";
            return Err(Box::new(output_blocked()));
        }
        let out = if r.changed {
            o.decision = "redacted";
            Bytes::from(text)
        } else {
            rbytes
        };
        o.response = self.audit_digest(&out);
        Ok(out)
    }

    /// The usual chat/completions answer (only `content`/`text` in its choices, no hit to act
    /// on), read without a `Value`: `true` when it is done (usage settled, hits noted), `false`
    /// when the full path must read it.
    async fn fast_plain(
        &self,
        key: &KeyRecord,
        estimate: u64,
        rbytes: &Bytes,
        o: &mut Outcome,
    ) -> bool {
        let Some(view) = crate::harden::response_view(rbytes) else {
            return false;
        };
        let scans: Vec<Vec<crate::monitor::Hit>> = view
            .choices
            .iter()
            .map(|c| {
                c.text
                    .as_deref()
                    .map(|t| self.monitor.scan(t))
                    .unwrap_or_default()
            })
            .collect();
        if matches!(self.cfg.monitor.action, Action::Block | Action::Redact)
            && scans.iter().any(|h| !h.is_empty())
        {
            return false;
        }
        o.prompt_tokens = view.prompt_tokens;
        o.completion_tokens = view.completion_tokens;
        if let (Some(pt), Some(ct)) = (view.prompt_tokens, view.completion_tokens) {
            self.settle(key, estimate, pt + ct).await;
        }
        for (c, hits) in view.choices.iter().zip(&scans) {
            let Some(text) = &c.text else { continue };
            for h in hits {
                if !o.hits.contains(&h.rule) {
                    o.hits.push(h.rule.clone());
                }
            }
            if let Some(m) = &o.model {
                for a in self
                    .metrics
                    .drift_observe(&self.cfg.drift, m, text, c.finish.as_deref())
                {
                    tracing::warn!("drift: {a}");
                }
            }
        }
        o.response = self.audit_digest(rbytes);
        true
    }

    /// Reads a response's usage into the outcome and settles the token charge with it.
    async fn settle_usage(&self, key: &KeyRecord, estimate: u64, v: &Value, o: &mut Outcome) {
        let (pt, ct) = usage_of(v);
        o.prompt_tokens = pt;
        o.completion_tokens = ct;
        if let (Some(pt), Some(ct)) = (pt, ct) {
            self.settle(key, estimate, pt + ct).await;
        }
    }

    /// `GET /v1/models` for a key limited to some models: only the models it may use are listed.
    fn filter_models(&self, key: &KeyRecord, rbytes: Bytes) -> Bytes {
        if key.scopes.models.is_empty() {
            return rbytes;
        }
        let Ok(mut v) = serde_json::from_slice::<Value>(&rbytes) else {
            // not a list the gateway can filter: nothing of it is shown
            return Bytes::from_static(br#"{"object":"list","data":[]}"#);
        };
        match v.get_mut("data").and_then(Value::as_array_mut) {
            Some(data) => data.retain(|m| {
                m.get("id")
                    .and_then(Value::as_str)
                    .is_some_and(|id| key.scopes.allows_model(id))
            }),
            None => return Bytes::from_static(br#"{"object":"list","data":[]}"#),
        }
        Bytes::from(v.to_string())
    }

    async fn rate_check(
        &self,
        id: &str,
        rl: Option<Limit>,
        tl: Option<Limit>,
        cost: u64,
        tokens: u64,
        o: &mut Outcome,
    ) -> Option<Response<Body>> {
        let mut deny = None;
        if let Some(l) = rl {
            match self
                .limiter
                .charge(id, Dim::Requests, l, cost as i64, false)
                .await
            {
                Decision::Allow => {}
                Decision::Deny(d) => deny = Some((d, "requests", l)),
                Decision::Unavailable => return Some(store_unavailable(o)),
            }
        }
        if deny.is_none() {
            if let Some(l) = tl {
                if tokens > l.capacity {
                    // it can never be admitted: not a 429, which clients retry
                    o.decision = "too_large";
                    return Some(error_response(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        &format!("request needs about {tokens} tokens, more than this key's {} tokens per minute; lower max_tokens or n", l.per_minute),
                        "invalid_request_error",
                        "tokens_exceed_limit",
                    ));
                }
                match self
                    .limiter
                    .charge(id, Dim::Tokens, l, tokens as i64, false)
                    .await
                {
                    Decision::Allow => {}
                    Decision::Deny(d) => deny = Some((d, "tokens", l)),
                    Decision::Unavailable => return Some(store_unavailable(o)),
                }
            }
        }
        let (d, what, l) = deny?;
        o.decision = "rate_limited";
        let mut r = error_response(
            StatusCode::TOO_MANY_REQUESTS,
            &format!(
                "rate limit reached for {what} per minute; retry in {:.1}s",
                d.as_secs_f64()
            ),
            what,
            "rate_limit_exceeded",
        );
        let h = r.headers_mut();
        let secs = d.as_secs_f64();
        for (name, value) in [
            (
                "retry-after".to_string(),
                format!("{}", secs.ceil().max(1.0)),
            ),
            (
                format!("x-ratelimit-limit-{what}"),
                l.per_minute.to_string(),
            ),
            (format!("x-ratelimit-remaining-{what}"), "0".into()),
            (format!("x-ratelimit-reset-{what}"), format!("{secs:.3}s")),
        ] {
            if let (Ok(n), Ok(v)) = (
                header::HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(&value),
            ) {
                h.insert(n, v);
            }
        }
        Some(r)
    }

    async fn settle(&self, key: &KeyRecord, estimate: u64, actual: u64) {
        let (_, tl) = self.limits_for(key);
        if let Some(l) = tl {
            let diff = actual as i64 - estimate as i64;
            if diff != 0 {
                self.limiter
                    .charge(&key.id, Dim::Tokens, l, diff, true)
                    .await;
            }
        }
    }

    async fn refund(&self, key: &KeyRecord, estimate: u64) {
        self.settle(key, estimate, 0).await;
    }

    /// Settles the token charge of a finished stream: at once with in-process limits, in a task
    /// with Redis (a response body cannot await).
    fn settle_detached(self: &Arc<Self>, key: &KeyRecord, estimate: u64, actual: u64) {
        let (_, tl) = self.limits_for(key);
        let Some(l) = tl else { return };
        let diff = actual as i64 - estimate as i64;
        if diff == 0 {
            return;
        }
        if self
            .limiter
            .charge_if_local(&key.id, Dim::Tokens, l, diff, true)
            .is_some()
        {
            return;
        }
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let gw = self.clone();
            let key = key.clone();
            rt.spawn(async move { gw.settle(&key, estimate, actual).await });
        }
    }

    /// A streamed response. Its body filters the upstream's events as the client side reads
    /// them (no task or channel in between, so no wake-up per upstream read). What the upstream
    /// has already sent is filtered before the response is returned, so the head and the first
    /// events go to the client in one write; when that is the whole stream (a short answer), the
    /// response has a length instead of chunks, as nginx forwards an upstream's length.
    #[allow(clippy::too_many_arguments)]
    async fn stream_response(
        self: Arc<Self>,
        status: StatusCode,
        mut headers: HeaderMap,
        body: crate::upstream::UpBody,
        key: KeyRef,
        estimate: u64,
        wants_logprobs: bool,
        strip_usage: bool,
        o: &mut Outcome,
    ) -> Response<Body> {
        headers.remove(header::CONTENT_ENCODING);
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        headers.insert(
            header::HeaderName::from_static("x-accel-buffering"),
            HeaderValue::from_static("no"),
        );
        // the body writes the record: it takes what the request gathered
        o.detached = true;
        let outcome = Outcome {
            t0: o.t0,
            upstream_time: o.upstream_time,
            key: o.key.take(),
            endpoint: o.endpoint,
            method: std::mem::replace(&mut o.method, Method::GET),
            model: o.model.take(),
            status: status.as_u16(),
            decision: o.decision,
            stream: true,
            detached: true,
            prompt_tokens: None,
            completion_tokens: None,
            hits: std::mem::take(&mut o.hits),
            changes: std::mem::take(&mut o.changes),
            prompt: o.prompt.take(),
            response: None,
            client: o.client,
            client_cert: o.client_cert.take(),
        };
        let hard = (wants_logprobs
            && (self.cfg.hardening.logprob_decimals.is_some()
                || self.cfg.hardening.logprob_noise > 0.0))
            .then(|| self.cfg.hardening.clone());
        let mut filter = SseFilter::shared(
            self.monitor.clone(),
            self.cfg.monitor.action,
            self.cfg.monitor.stream_holdback_chars,
            hard,
        );
        if strip_usage {
            filter.strip_usage_chunk();
        }
        let mut s = SseBody {
            idle: Duration::from_secs(self.cfg.upstream.timeout_secs),
            gw: self,
            upstream: body,
            filter,
            last: None,
            timer: None,
            ready: None,
            done: false,
            out: Some(outcome),
            key,
            estimate,
        };
        // what the upstream has sent already is filtered now: the first read, and the reads
        // after it that are there without waiting
        let mut early = Vec::new();
        std::future::poll_fn(|cx| {
            let mut held = 0;
            loop {
                match s.poll_step(cx) {
                    Poll::Ready(Step::Data(b)) => {
                        held += b.len();
                        early.push(b);
                        if held >= EARLY_MAX {
                            return Poll::Ready(());
                        }
                    }
                    Poll::Ready(Step::Nothing) => {}
                    Poll::Ready(Step::End) => return Poll::Ready(()),
                    // some data already: it goes out now, the rest as it comes
                    Poll::Pending if !early.is_empty() => return Poll::Ready(()),
                    Poll::Pending => return Poll::Pending,
                }
            }
        })
        .await;
        let early = crate::sse::coalesce(&mut early);
        let mut r = if s.done {
            // the whole stream has arrived (and is audited): one response of known length, as
            // the upstream sent it when it gave a length, instead of chunks
            drop(s);
            Response::new(full(early.unwrap_or_default()))
        } else {
            s.ready = early;
            Response::new(BodyExt::boxed(s))
        };
        *r.status_mut() = status;
        *r.headers_mut() = headers;
        r
    }
}

/// Most bytes of a stream filtered before its response is returned (what the upstream sent
/// before the guard first read it); past it, the response streams.
const EARLY_MAX: usize = 256 << 10;

/// The upstream stream failed or went idle past the upstream timeout.
const UPSTREAM_FAILED: &[u8] = b"data: {\"error\":{\"message\":\"upstream stream failed\",\"type\":\"api_error\",\"param\":null,\"code\":\"upstream_error\"}}\n\n";

/// What one step of a [`SseBody`] produced.
enum Step {
    /// Bytes for the client.
    Data(Bytes),
    /// An upstream frame was consumed and nothing is released yet.
    Nothing,
    /// The stream is over.
    End,
}

/// The body of a streamed response: reads the upstream, filters it, and writes the audit record
/// once the stream ends, fails, is blocked, or the client goes away (the body is dropped).
struct SseBody {
    gw: Arc<Gateway>,
    /// The upstream body (it gives its connection back to the pool at its end).
    upstream: crate::upstream::UpBody,
    filter: SseFilter<'static>,
    idle: Duration,
    /// When the upstream was first found idle after its last frame (the idle timeout runs
    /// from there); `None` right after a frame, so the clock is read only when waiting.
    last: Option<tokio::time::Instant>,
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
    /// Bytes filtered before the response was returned, sent first.
    ready: Option<Bytes>,
    done: bool,
    /// The audit outcome, taken when it is written.
    out: Option<Outcome>,
    key: KeyRef,
    estimate: u64,
}

impl SseBody {
    fn poll_step(&mut self, cx: &mut Context<'_>) -> Poll<Step> {
        if self.done {
            return Poll::Ready(Step::End);
        }
        let failed = match hyper::body::Body::poll_frame(Pin::new(&mut self.upstream), cx) {
            Poll::Ready(Some(Ok(frame))) => {
                self.last = None;
                let Ok(data) = frame.into_data() else {
                    return Poll::Ready(Step::Nothing);
                };
                let out = self.filter.push_frame(&data);
                if self.filter.blocked {
                    self.end(false);
                }
                return Poll::Ready(out.map_or(Step::Nothing, Step::Data));
            }
            Poll::Ready(None) => false,
            Poll::Ready(Some(Err(_))) => true,
            Poll::Pending => {
                let deadline = *self.last.get_or_insert_with(tokio::time::Instant::now) + self.idle;
                let timer = self
                    .timer
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                if timer.deadline() != deadline {
                    timer.as_mut().reset(deadline);
                }
                match timer.as_mut().poll(cx) {
                    Poll::Ready(()) => true,
                    Poll::Pending => return Poll::Pending,
                }
            }
        };
        // end of the upstream stream (`failed`: an error event first); what is held back is
        // scanned a last time and released
        let rest = crate::sse::coalesce(&mut self.filter.finish());
        let out = if failed {
            if let Some(o) = self.out.as_mut() {
                o.decision = "upstream_error";
            }
            let mut b = bytes::BytesMut::from(UPSTREAM_FAILED);
            if let Some(r) = rest {
                b.extend_from_slice(&r);
            }
            Some(b.freeze())
        } else {
            rest
        };
        self.end(false);
        Poll::Ready(out.map_or(Step::End, Step::Data))
    }

    /// The stream is over: folds what the filter saw into the outcome and writes the record.
    fn end(&mut self, client_gone: bool) {
        self.done = true;
        let Some(mut out) = self.out.take() else {
            return;
        };
        let f = &self.filter;
        out.hits.extend(f.hits.iter().cloned());
        if f.blocked {
            out.decision = "blocked_output";
        } else if f.redacted {
            out.decision = "redacted";
        } else if client_gone {
            out.decision = "client_closed";
        }
        if let Some((pt, ct)) = f.usage {
            out.prompt_tokens = Some(pt);
            out.completion_tokens = Some(ct);
            self.gw.settle_detached(&self.key, self.estimate, pt + ct);
        }
        if let Some(m) = &out.model {
            for a in
                self.gw
                    .metrics
                    .drift_observe(&self.gw.cfg.drift, m, &f.text, f.finish.as_deref())
            {
                tracing::warn!("drift: {a}");
            }
        }
        if self.gw.audit.is_some() {
            out.response = Some(sha256(self.filter.text.as_bytes()));
        }
        self.gw.finish(out);
    }
}

impl hyper::body::Body for SseBody {
    type Data = Bytes;
    type Error = Infallible;
    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        if let Some(b) = this.ready.take() {
            return Poll::Ready(Some(Ok(Frame::data(b))));
        }
        loop {
            match this.poll_step(cx) {
                Poll::Ready(Step::Data(b)) => return Poll::Ready(Some(Ok(Frame::data(b)))),
                Poll::Ready(Step::Nothing) => continue,
                Poll::Ready(Step::End) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// True once the last bytes are handed out, so the terminal chunk goes in the same write.
    fn is_end_stream(&self) -> bool {
        self.done && self.ready.is_none()
    }
}

impl Drop for SseBody {
    fn drop(&mut self) {
        if self.out.is_some() {
            // dropped before the end: the client went away (or the server shut down)
            self.end(true);
        }
    }
}

/// `(prompt, completion)` tokens of a response's usage (Responses API: `input_tokens`,
/// `output_tokens`).
fn usage_of(v: &Value) -> (Option<u64>, Option<u64>) {
    let u = v.get("usage");
    let g = |k: &str| u.and_then(|u| u.get(k)).and_then(Value::as_u64);
    let prompt = g("prompt_tokens").or_else(|| g("input_tokens"));
    (
        prompt,
        g("completion_tokens")
            .or_else(|| g("output_tokens"))
            .or_else(|| g("total_tokens").map(|t| t.saturating_sub(prompt.unwrap_or(0)))),
    )
}

/// Where audit records go.
enum AuditSink {
    Local(LocalLog),
    Pg(lantern_audit::PgLog),
}

impl AuditSink {
    /// Queues the record of one finished request. The response does not wait for it (see the
    /// module docs); records that cannot be serialised or made durable are counted in
    /// `failures`. For the local log the record is serialised here and copied into the writer's
    /// shared batch; the writer checksums, hashes and writes it. (Serialising on the writer, as
    /// before, cost more in all: a boxed job per record, and the outcome's strings freed on the
    /// writer's thread.)
    fn append(
        &self,
        o: Outcome,
        total: Duration,
        ts: SystemTime,
        failures: &Arc<AtomicU64>,
        down: &Arc<AtomicBool>,
    ) {
        match self {
            Self::Local(l) => {
                // serialised here, into a buffer this thread keeps: the log copies the bytes
                // into the writer's batch, and the outcome is freed on the thread that built it
                thread_local! {
                    static RECORD: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
                }
                let append = |buf: &mut Vec<u8>| {
                    buf.clear();
                    if !write_audit_record(buf, &o, total, ts) {
                        failures.fetch_add(1, Ordering::Relaxed);
                        tracing::error!("audit record not serialised");
                    } else if !l.append_deferred(buf) {
                        // counted in `failures` by the log
                        tracing::error!("audit record refused: the writer is behind");
                    }
                    // an unusually large record does not keep its room
                    if buf.capacity() > 64 << 10 {
                        *buf = Vec::new();
                    }
                };
                RECORD.with(|r| match r.try_borrow_mut() {
                    Ok(mut buf) => append(&mut buf),
                    Err(_) => append(&mut Vec::new()),
                });
            }
            Self::Pg(p) => {
                let mut bytes = Vec::with_capacity(512);
                if !write_audit_record(&mut bytes, &o, total, ts) {
                    failures.fetch_add(1, Ordering::Relaxed);
                    tracing::error!("audit record not serialised");
                    return;
                }
                let failures = failures.clone();
                let down = down.clone();
                p.append(
                    bytes,
                    Box::new(move |r| match r {
                        Err(e) => {
                            failures.fetch_add(1, Ordering::Relaxed);
                            if !down.swap(true, Ordering::Relaxed) {
                                tracing::error!(error = %e, "audit store unavailable: records are not written");
                            }
                        }
                        Ok(_) => {
                            if down.swap(false, Ordering::Relaxed) {
                                tracing::warn!("audit store writes records again");
                            }
                        }
                    }),
                );
            }
        }
    }
}

/// Appends `s` as a JSON string: as it is between quotes when nothing in it needs an escape (the
/// usual key ids, owners, models and rule names), through serde_json's escaping otherwise.
fn json_str(buf: &mut Vec<u8>, s: &str) -> bool {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        buf.reserve(s.len() + 2);
        buf.push(b'"');
        buf.extend_from_slice(s.as_bytes());
        buf.push(b'"');
        true
    } else {
        serde_json::to_writer(&mut *buf, s).is_ok()
    }
}

fn json_opt_str(buf: &mut Vec<u8>, s: Option<&str>) -> bool {
    match s {
        Some(s) => json_str(buf, s),
        None => {
            buf.extend_from_slice(b"null");
            true
        }
    }
}

fn json_u64(buf: &mut Vec<u8>, n: u64) {
    buf.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

fn json_opt_u64(buf: &mut Vec<u8>, n: Option<u64>) {
    match n {
        Some(n) => json_u64(buf, n),
        None => buf.extend_from_slice(b"null"),
    }
}

fn json_str_list(buf: &mut Vec<u8>, items: &[String]) -> bool {
    buf.push(b'[');
    for (i, s) in items.iter().enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        if !json_str(buf, s) {
            return false;
        }
    }
    buf.push(b']');
    true
}

/// Writes the audit record of a finished request (JSON, fields in alphabetical order, the bytes
/// serde writes for [`AuditRecord`], written field by field: the digests, the time and the
/// client address need no escaping); `false` if it cannot be serialised.
fn write_audit_record(buf: &mut Vec<u8>, o: &Outcome, total: Duration, ts: SystemTime) -> bool {
    let start = buf.len();
    buf.reserve(512);
    let mut ip = [0u8; 15];
    let v6;
    let client = match o.client.ip() {
        std::net::IpAddr::V4(a) => ipv4_str(a, &mut ip),
        a @ std::net::IpAddr::V6(_) => {
            v6 = a.to_string();
            v6.as_str()
        }
    };
    let digest = |buf: &mut Vec<u8>, d: &Option<Sha>| match d {
        Some(d) => {
            buf.push(b'"');
            buf.extend_from_slice(&hex_digest(d).0);
            buf.push(b'"');
        }
        None => buf.extend_from_slice(b"null"),
    };
    let key = o.key.as_ref();
    buf.extend_from_slice(b"{\"changes\":");
    let mut ok = json_str_list(buf, &o.changes);
    buf.extend_from_slice(b",\"client\":");
    ok &= json_str(buf, client);
    if let Some(fp) = &o.client_cert {
        buf.extend_from_slice(b",\"client_cert_sha256\":");
        ok &= json_str(buf, fp);
    }
    buf.extend_from_slice(b",\"completion_tokens\":");
    json_opt_u64(buf, o.completion_tokens);
    buf.extend_from_slice(b",\"decision\":");
    ok &= json_str(buf, o.decision);
    buf.extend_from_slice(b",\"endpoint\":");
    ok &= json_str(buf, o.endpoint);
    buf.extend_from_slice(b",\"hits\":");
    ok &= json_str_list(buf, &o.hits);
    buf.extend_from_slice(b",\"key\":");
    ok &= json_opt_str(buf, key.map(|k| k.id.as_str()));
    buf.extend_from_slice(b",\"latency_us\":");
    json_u64(buf, total.as_micros() as u64);
    buf.extend_from_slice(b",\"method\":");
    ok &= json_str(buf, o.method.as_str());
    buf.extend_from_slice(b",\"model\":");
    ok &= json_opt_str(buf, o.model.as_deref());
    buf.extend_from_slice(b",\"owner\":");
    ok &= json_opt_str(buf, key.map(|k| k.owner.as_str()));
    buf.extend_from_slice(b",\"prompt_sha256\":");
    digest(buf, &o.prompt);
    buf.extend_from_slice(b",\"prompt_tokens\":");
    json_opt_u64(buf, o.prompt_tokens);
    buf.extend_from_slice(b",\"response_sha256\":");
    digest(buf, &o.response);
    buf.extend_from_slice(b",\"status\":");
    json_u64(buf, u64::from(o.status));
    buf.extend_from_slice(if o.stream {
        b",\"stream\":true,\"ts\":\""
    } else {
        b",\"stream\":false,\"ts\":\""
    });
    // RFC 3339 text is digits and `-:.TZ`: nothing to escape. A time it cannot write (a year past
    // 9999) is checked before anything is written and leaves the field empty.
    let _ = time::OffsetDateTime::from(ts)
        .format_into(&mut *buf, &time::format_description::well_known::Rfc3339);
    buf.extend_from_slice(b"\"}");
    if !ok {
        buf.truncate(start);
    }
    ok
}

fn audit_options(cfg: &GuardConfig) -> lantern_audit::LogOptions {
    lantern_audit::LogOptions {
        origin: cfg.audit.origin.clone(),
        checkpoint_every: cfg.audit.checkpoint_every.max(1),
        checkpoint_interval: Duration::from_millis(cfg.audit.checkpoint_interval_ms.max(10)),
        max_batch: 4096,
        // group commit: under load, records arriving within 1 ms share one fdatasync (the
        // response never waits for it, see the module docs)
        commit_delay: Duration::from_millis(1),
        // requests are refused at `max_backlog` waiting records; the margin takes the records
        // of requests already past that check (as many as are in flight)
        max_backlog: cfg
            .audit
            .max_backlog
            .saturating_add(cfg.audit.max_backlog.max(4096)),
        writer_nice: cfg.audit.writer_nice,
    }
}

/// Loads the checkpoint signing key, creating it (mode 0600) on first start.
fn audit_signer(
    cfg: &GuardConfig,
    dir: Option<&std::path::Path>,
) -> Result<lantern_audit::Signer, Error> {
    let key_path = match (&cfg.audit.signing_key, dir) {
        (Some(p), _) => p.clone(),
        (None, Some(d)) => d.with_extension("key"),
        (None, None) => {
            return Err(Error::Config(
                "audit.signing_key is required with audit.postgres".into(),
            ))
        }
    };
    match std::fs::read_to_string(&key_path) {
        Ok(s) => Ok(lantern_audit::Signer::parse(&s)?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let s = lantern_audit::Signer::generate(
                &cfg.audit.origin.replace(char::is_whitespace, "_"),
            )?;
            let mut o = std::fs::OpenOptions::new();
            o.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
            use std::io::Write;
            o.open(&key_path)
                .and_then(|mut f| f.write_all(format!("{}\n", s.to_private_string()).as_bytes()))
                .map_err(|e| Error::Io(lantern_core::IoError::new(key_path.display(), e)))?;
            tracing::warn!(path = %key_path.display(), verifier = %s.verifier().to_string_form(), "created audit signing key; keep the verifier key out of band");
            Ok(s)
        }
        Err(e) => Err(Error::Io(lantern_core::IoError::new(key_path.display(), e))),
    }
}

/// Serves the gateway on `listener` until `shutdown` resolves, then stops accepting, lets
/// in-flight requests finish (up to 10 s) and saves key usage. The audit log is flushed and
/// sealed with a final checkpoint when the last reference to the gateway is dropped.
pub async fn run(
    gw: Arc<Gateway>,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), Error> {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let header_timeout = Duration::from_secs(gw.cfg.client_timeout_secs.max(1));
    let tls = crate::tls::acceptor(&gw.cfg.server)?;
    // mutual TLS: each connection notes its client certificate's digest for the audit records
    let note_certs = tls.is_some() && gw.cfg.server.client_ca.is_some();
    let bg = {
        let gw = gw.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            let mut n = 0u64;
            loop {
                tick.tick().await;
                gw.reload_keys();
                n += 1;
                if n.is_multiple_of(30) {
                    // the write syncs the file: off the event loop
                    let gw = gw.clone();
                    let _ = tokio::task::spawn_blocking(move || gw.save_usage()).await;
                }
            }
        })
    };
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            acc = listener.accept() => {
                let (stream, peer) = match acc {
                    Ok(x) => x,
                    Err(e) => {
                        // e.g. EMFILE: back off instead of spinning
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let mut stream = crate::tls::ServerIo::new(stream, tls.as_ref()).coalescing();
                let cert = note_certs.then(crate::tls::ClientCert::default);
                if let Some(c) = &cert {
                    stream = stream.noting_client_cert(c.clone());
                }
                let gw = gw.clone();
                let svc = hyper::service::service_fn(move |req| {
                    // the handshake is done before the first request is read
                    let fp = cert.as_ref().and_then(|c| c.get()).cloned();
                    let gw = gw.clone();
                    async move { Ok::<_, Infallible>(gw.handle(req, peer, fp).await) }
                });
                let conn = hyper::server::conn::http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(header_timeout)
                    .keep_alive(true)
                    .serve_connection(TokioIo::new(stream), svc);
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    let _ = conn.await;
                });
            }
        }
    }
    drop(listener);
    bg.abort();
    if tokio::time::timeout(Duration::from_secs(10), graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("in-flight requests did not finish within 10 s");
    }
    gw.save_usage();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stripped_headers_are_those_not_forwarded() {
        let mut h = HeaderMap::new();
        for n in [
            "connection",
            "keep-alive",
            "proxy-authenticate",
            "proxy-authorization",
            "te",
            "trailer",
            "transfer-encoding",
            "upgrade",
            "host",
            "authorization",
            "x-api-key",
            "content-length",
            "x-kept",
            "content-type",
        ] {
            h.insert(
                header::HeaderName::from_static(n),
                HeaderValue::from_static("v"),
            );
        }
        for (skip_len, want) in [
            (true, vec!["content-type", "x-kept"]),
            (false, vec!["content-length", "content-type", "x-kept"]),
        ] {
            let mut stripped = h.clone();
            strip_headers(&mut stripped, skip_len);
            // (removal may reorder different names; values of one name keep their order)
            let mut left: Vec<&str> = stripped.keys().map(|k| k.as_str()).collect();
            left.sort_unstable();
            assert_eq!(left, want);
            let mut kept: Vec<&str> = h
                .keys()
                .map(|k| k.as_str())
                .filter(|n| forwarded(n, skip_len))
                .collect();
            kept.sort_unstable();
            assert_eq!(kept, want);
        }
    }

    fn line(prefix: &str, pq: Option<&hyper::http::uri::PathAndQuery>) -> String {
        let mut out = Vec::new();
        write_request_line(&mut out, &Method::POST, prefix, pq);
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn upstream_request_lines_are_the_url_path_then_the_request_path() {
        for (upstream, pq, want) in [
            (
                "http://127.0.0.1:8000",
                "/v1/chat/completions",
                "/v1/chat/completions",
            ),
            (
                "https://api.example.com/",
                "/v1/models?limit=5&after=x%20y",
                "/v1/models?limit=5&after=x%20y",
            ),
            (
                "http://127.0.0.1:8000/openai",
                "/v1/chat/completions?a=1",
                "/openai/v1/chat/completions?a=1",
            ),
            ("http://h/openai/", "/v1/models", "/openai/v1/models"),
            ("http://[::1]:9", "/", "/"),
        ] {
            let parsed: Uri = upstream.parse().unwrap_or_default();
            let prefix = parsed.path().trim_end_matches('/');
            let req: Uri = pq.parse().unwrap_or_default();
            assert_eq!(
                line(prefix, req.path_and_query()),
                format!("POST {want} HTTP/1.1\r\n"),
                "{upstream} {pq}"
            );
        }
        assert_eq!(line("/prefix", None), "POST /prefix/ HTTP/1.1\r\n");
        assert_eq!(line("", None), "POST / HTTP/1.1\r\n");
    }

    #[test]
    fn ipv4_text_matches_display() {
        for a in [
            [0, 0, 0, 0],
            [127, 0, 0, 1],
            [10, 20, 100, 255],
            [9, 99, 199, 200],
        ] {
            let a = std::net::Ipv4Addr::from(a);
            let mut buf = [0u8; 15];
            assert_eq!(ipv4_str(a, &mut buf), a.to_string());
        }
    }

    /// The record as serde writes [`AuditRecord`] (what `write_audit_record` did before it
    /// wrote the fields itself).
    fn serde_record(o: &Outcome, total: Duration, ts: SystemTime) -> Vec<u8> {
        let ts = time::OffsetDateTime::from(ts)
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let client = o.client.ip().to_string();
        let prompt = o.prompt.as_ref().map(hex_digest);
        let response = o.response.as_ref().map(hex_digest);
        let rec = AuditRecord {
            changes: &o.changes,
            client: &client,
            client_cert_sha256: o.client_cert.as_deref(),
            completion_tokens: o.completion_tokens,
            decision: o.decision,
            endpoint: o.endpoint,
            hits: &o.hits,
            key: o.key.as_ref().map(|k| k.id.as_str()),
            latency_us: total.as_micros() as u64,
            method: o.method.as_str(),
            model: o.model.as_deref(),
            owner: o.key.as_ref().map(|k| k.owner.as_str()),
            prompt_sha256: prompt.as_ref().map(HexDigest::as_str),
            prompt_tokens: o.prompt_tokens,
            response_sha256: response.as_ref().map(HexDigest::as_str),
            status: o.status,
            stream: o.stream,
            ts: &ts,
        };
        serde_json::to_vec(&rec).unwrap()
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]
        #[test]
        fn audit_records_are_the_bytes_serde_writes(
            owner in "(?s).{0,12}",
            model in proptest::option::of("(?s).{0,16}"),
            hits in proptest::collection::vec("(?s).{0,10}", 0..3),
            changes in proptest::collection::vec("[a-z_\\\"]{0,10}", 0..3),
            tokens in proptest::option::of(proptest::prelude::any::<u64>()),
            completion in proptest::option::of(0u64..100_000),
            digests in proptest::option::of(proptest::prelude::any::<[u8; 32]>()),
            v6 in proptest::prelude::any::<bool>(),
            addr in proptest::prelude::any::<u128>(),
            secs in 0u64..253_402_300_799,
            nanos in 0u32..1_000_000_000,
            micros in proptest::prelude::any::<u64>(),
            status in 100u16..600,
            stream in proptest::prelude::any::<bool>(),
            with_key in proptest::prelude::any::<bool>(),
            cert in proptest::option::of("[0-9a-f]{64}"),
        ) {
            let dir = tempfile::tempdir().unwrap();
            let mut store = KeyStore::load(&dir.path().join("keys.json")).unwrap();
            let (token, _) = store
                .create(
                    crate::keys::NewKey {
                        owner,
                        scopes: Default::default(),
                        ttl_secs: Some(0),
                        requests_per_minute: None,
                        tokens_per_minute: None,
                    },
                    1,
                )
                .unwrap();
            let store = Arc::new(store);
            let key = with_key.then(|| KeyStore::authenticate_shared(&store, &token, 2).unwrap());
            let ip: std::net::IpAddr = if v6 {
                std::net::Ipv6Addr::from(addr).into()
            } else {
                std::net::Ipv4Addr::from(addr as u32).into()
            };
            let o = Outcome {
                t0: Instant::now(),
                upstream_time: Duration::ZERO,
                key,
                endpoint: "/v1/chat/completions",
                method: Method::POST,
                model,
                status,
                decision: "allow",
                stream,
                detached: false,
                prompt_tokens: tokens,
                completion_tokens: completion,
                hits,
                changes,
                prompt: digests,
                response: digests.map(|mut d| {
                    d[0] ^= 1;
                    d
                }),
                client: SocketAddr::new(ip, 443),
                client_cert: cert.map(Into::into),
            };
            let ts = SystemTime::UNIX_EPOCH + Duration::new(secs, nanos);
            let total = Duration::from_micros(micros);
            let mut buf = b"before".to_vec();
            proptest::prop_assert!(write_audit_record(&mut buf, &o, total, ts));
            let want = serde_record(&o, total, ts);
            proptest::prop_assert_eq!(
                String::from_utf8_lossy(&buf[6..]),
                String::from_utf8_lossy(&want)
            );
        }
    }

    #[test]
    fn hex_sha256_is_the_lower_case_digest() {
        assert_eq!(
            hex_sha256(b"abc").as_str(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
