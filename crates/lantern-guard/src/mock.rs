//! A mock OpenAI-compatible upstream for tests and benchmarks: answers instantly (plain JSON or
//! SSE streams), echoes the prompt so tests can make the "model" emit chosen text, and can be
//! told by request headers to fail or stall (`x-mock-status`, `x-mock-delay-ms`) or to send each
//! SSE event as its own write, paced (`x-mock-chunk-delay-ms`).

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use serde_json::{json, Value};
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::net::TcpListener;

/// What the mock saw last (for tests).
#[derive(Debug, Default, Clone)]
pub struct Seen {
    /// `Authorization` header of the last request.
    pub authorization: Option<String>,
    /// Body of the last request.
    pub body: Option<Value>,
    /// Requests served.
    pub count: u64,
}

fn reply_text(req: &Value) -> String {
    let prompt = crate::proxy::prompt_text(req);
    let last = prompt.rsplit('\n').next().unwrap_or("").to_string();
    if last.is_empty() {
        "Hello from the mock upstream.".into()
    } else {
        format!("You said: {last}")
    }
}

/// Response body of the mock.
type MockBody = BoxBody<Bytes, Infallible>;

/// A body fed from a channel: each message is one frame (one write on the wire).
struct Paced(tokio::sync::mpsc::Receiver<Bytes>);

impl hyper::body::Body for Paced {
    type Data = Bytes;
    type Error = Infallible;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0.poll_recv(cx).map(|o| o.map(|b| Ok(Frame::data(b))))
    }
}

/// An SSE body sending each event separately, `delay` apart.
fn paced_events(events: Vec<String>, delay: Duration) -> MockBody {
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(4);
    tokio::spawn(async move {
        for e in events {
            if tx.send(Bytes::from(e)).await.is_err() {
                break;
            }
            tokio::time::sleep(delay).await;
        }
    });
    Paced(rx).boxed()
}

fn respond(status: StatusCode, ctype: &'static str, body: impl Into<Bytes>) -> Response<MockBody> {
    respond_body(status, ctype, Full::new(body.into()).boxed())
}

fn respond_body(status: StatusCode, ctype: &'static str, body: MockBody) -> Response<MockBody> {
    let mut r = Response::new(body);
    *r.status_mut() = status;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(ctype),
    );
    r
}

async fn handle(req: Request<Incoming>, seen: Arc<Mutex<Seen>>) -> Response<MockBody> {
    let path = req.uri().path().to_string();
    let hdr = |n: &str| {
        req.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let delay = hdr("x-mock-delay-ms").and_then(|v| v.parse::<u64>().ok());
    let status = hdr("x-mock-status").and_then(|v| v.parse::<u16>().ok());
    let pace = hdr("x-mock-chunk-delay-ms")
        .and_then(|v| v.parse::<u64>().ok())
        .map(Duration::from_millis);
    let auth = hdr("authorization");
    let body = Limited::new(req.into_body(), 64 << 20)
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if let Ok(mut s) = seen.lock() {
        s.authorization = auth;
        s.body = Some(v.clone());
        s.count += 1;
    }
    if let Some(ms) = delay {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    if let Some(code) = status {
        let st = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return respond(
            st,
            "application/json",
            json!({"error":{"message":"mock failure","type":"api_error","param":null,"code":null}})
                .to_string(),
        );
    }
    let model = v
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("mock-model")
        .to_string();
    match path.as_str() {
        "/v1/models" => respond(StatusCode::OK, "application/json", json!({"object":"list","data":[{"id":"mock-model","object":"model","owned_by":"lantern"}]}).to_string()),
        "/v1/embeddings" => respond(
            StatusCode::OK,
            "application/json",
            json!({"object":"list","model":model,"data":[{"object":"embedding","index":0,"embedding":[0.1,0.2,0.3]}],"usage":{"prompt_tokens":3,"total_tokens":3}}).to_string(),
        ),
        // an image model returns the prompt it rewrote; speech is audio
        "/v1/images/generations" => respond(
            StatusCode::OK,
            "application/json",
            json!({"created":1,"data":[{"url":"https://images.invalid/1.png","revised_prompt":format!("A picture: {}", v.get("prompt").and_then(Value::as_str).unwrap_or_default())}]}).to_string(),
        ),
        "/v1/audio/speech" => respond(StatusCode::OK, "audio/mpeg", "ID3\u{4}\0\0\0\0\0\0\u{ff}\u{fb}ghp_".to_string()),
        "/v1/chat/completions" | "/v1/completions" => {
            let chat = path == "/v1/chat/completions";
            let text = reply_text(&v);
            let pt = crate::proxy::estimate_tokens(&crate::proxy::prompt_text(&v));
            let ct = crate::proxy::estimate_tokens(&text);
            let logprobs = v.get("logprobs").is_some_and(|l| l.as_bool() == Some(true) || l.as_u64().is_some());
            let lp = json!({"content":[{"token":"You","logprob":-0.0123456,"bytes":[89,111,117],"top_logprobs":[{"token":"You","logprob":-0.0123456,"bytes":[89,111,117]},{"token":"I","logprob":-4.56789,"bytes":[73]}]}]});
            if v.get("stream").and_then(Value::as_bool) == Some(true) {
                let mut events = Vec::new();
                let id = "chatcmpl-mock";
                let chars: Vec<char> = text.chars().collect();
                if chat {
                    events.push(format!("data: {}\n\n", json!({"id":id,"object":"chat.completion.chunk","model":model,"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]})));
                }
                for (i, piece) in chars.chunks(6).enumerate() {
                    let p: String = piece.iter().collect();
                    let mut choice = if chat {
                        json!({"index":0,"delta":{"content":p},"finish_reason":null})
                    } else {
                        json!({"index":0,"text":p,"finish_reason":null})
                    };
                    if logprobs && i == 0 {
                        choice["logprobs"] = lp.clone();
                    }
                    events.push(format!("data: {}\n\n", json!({"id":id,"object":"chat.completion.chunk","model":model,"choices":[choice]})));
                }
                let fin = if chat { json!({"index":0,"delta":{},"finish_reason":"stop"}) } else { json!({"index":0,"text":"","finish_reason":"stop"}) };
                events.push(format!("data: {}\n\n", json!({"id":id,"object":"chat.completion.chunk","model":model,"choices":[fin]})));
                if v.pointer("/stream_options/include_usage").and_then(Value::as_bool) == Some(true) {
                    events.push(format!("data: {}\n\n", json!({"id":id,"object":"chat.completion.chunk","model":model,"choices":[],"usage":{"prompt_tokens":pt,"completion_tokens":ct,"total_tokens":pt+ct}})));
                }
                events.push("data: [DONE]\n\n".to_string());
                match pace {
                    Some(d) => respond_body(StatusCode::OK, "text/event-stream", paced_events(events, d)),
                    None => respond(StatusCode::OK, "text/event-stream", events.concat()),
                }
            } else {
                let mut choice = if chat {
                    json!({"index":0,"message":{"role":"assistant","content":text},"finish_reason":"stop"})
                } else {
                    json!({"index":0,"text":text,"finish_reason":"stop"})
                };
                if logprobs {
                    choice["logprobs"] = lp;
                }
                respond(
                    StatusCode::OK,
                    "application/json",
                    json!({"id":"chatcmpl-mock","object": if chat {"chat.completion"} else {"text_completion"},"created":0,"model":model,
                        "choices":[choice],"usage":{"prompt_tokens":pt,"completion_tokens":ct,"total_tokens":pt+ct}}).to_string(),
                )
            }
        }
        _ => respond(StatusCode::NOT_FOUND, "application/json", json!({"error":{"message":format!("unknown path {path}"),"type":"invalid_request_error","param":null,"code":"not_found"}}).to_string()),
    }
}

/// Serves the mock on `listener` forever; returns a handle to what it has seen.
pub fn spawn(listener: TcpListener) -> Arc<Mutex<Seen>> {
    spawn_with(listener, None)
}

/// Serves the mock over TLS (`https://`) on `listener` forever.
pub fn spawn_tls(listener: TcpListener, tls: tokio_rustls::TlsAcceptor) -> Arc<Mutex<Seen>> {
    spawn_with(listener, Some(tls))
}

fn spawn_with(listener: TcpListener, tls: Option<tokio_rustls::TlsAcceptor>) -> Arc<Mutex<Seen>> {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let s2 = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let stream = crate::tls::ServerIo::new(stream, tls.as_ref());
            let seen = s2.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req| {
                    let seen = seen.clone();
                    async move { Ok::<_, Infallible>(handle(req, seen).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .timer(TokioTimer::new())
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    seen
}

/// Runs the mock upstream on `addr` until Ctrl-C (for tests and the `guard-bench` example).
pub fn serve_blocking(addr: &str, threads: usize) -> Result<(), crate::Error> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()
        .map_err(|e| crate::Error::Io(lantern_core::IoError::new("tokio runtime", e)))?;
    rt.block_on(async {
        let l = TcpListener::bind(addr)
            .await
            .map_err(|e| crate::Error::Io(lantern_core::IoError::new(addr, e)))?;
        eprintln!(
            "mock upstream listening on http://{}",
            l.local_addr().map(|a| a.to_string()).unwrap_or_default()
        );
        spawn(l);
        let _ = tokio::signal::ctrl_c().await;
        Ok(())
    })
}
