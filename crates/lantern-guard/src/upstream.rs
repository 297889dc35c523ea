//! Connections to the upstream: a small HTTP/1.1 client over the upstream connector (TCP, or TLS
//! for `https://` URLs). Connections are kept alive in a last-in-first-out idle list and reused
//! once a response has been read to its end; the response body hands its connection back itself
//! when it reaches that end, and a body that is dropped early (client gone, timeout, error)
//! drops its connection, which closes it.
//!
//! Why not hyper's client: its connection runs as a task of its own, so every request crosses
//! two channels (request in, response head out) and a body channel, waking that task and the
//! request's task in turn. Here the request's task writes the request and reads the response on
//! the connection itself, with the wire format in [`crate::h1`] (`httparse` for heads). Requests
//! always carry their whole body with a length; responses may be length-delimited, chunked or
//! close-delimited.

use crate::h1::{Decoded, Decoder, HeadParser, WireError};
use crate::tls::UpstreamConnector;
use crate::Error;
use bytes::{Bytes, BytesMut};
use hyper::body::{Frame, SizeHint};
use hyper::{Method, Response, Uri};
use hyper_util::rt::TokioIo;
use std::future::poll_fn;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{ready, Context, Poll, Waker};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tower_service::Service;

/// A connected upstream stream, as tokio I/O.
type Stream = TokioIo<hyper_rustls::MaybeHttpsStream<TokioIo<tokio::net::TcpStream>>>;

/// Request bodies up to this size go out in the same write as the head (copied behind it).
const INLINE_BODY: usize = 64 << 10;
/// Reads start with this much room and grow (to `MAX_READ`) while they fill it.
const FIRST_READ: usize = 8 << 10;
const MAX_READ: usize = 256 << 10;

/// One upstream connection and the bytes read from it that have not been consumed.
struct Connection {
    io: Stream,
    buf: BytesMut,
    read_size: usize,
}

impl Connection {
    fn new(io: Stream) -> Self {
        Self {
            io,
            buf: BytesMut::new(),
            read_size: FIRST_READ,
        }
    }

    /// Reads more into `buf` (`Ok(0)` at the end of the connection).
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<usize>> {
        if self.buf.capacity() - self.buf.len() < self.read_size / 2 {
            self.buf.reserve(self.read_size);
        }
        let room = self.buf.capacity() - self.buf.len();
        let n = ready!(tokio_util::io::poll_read_buf(
            Pin::new(&mut self.io),
            cx,
            &mut self.buf
        ))?;
        if n == room && self.read_size < MAX_READ {
            self.read_size *= 2;
        }
        Poll::Ready(Ok(n))
    }

    async fn fill(&mut self) -> std::io::Result<usize> {
        poll_fn(|cx| self.poll_fill(cx)).await
    }

    /// An idle connection that the upstream closed, or that has bytes no request asked for.
    fn is_stale(&mut self) -> bool {
        if !self.buf.is_empty() {
            return true;
        }
        let mut cx = Context::from_waker(Waker::noop());
        !matches!(self.poll_fill(&mut cx), Poll::Pending)
    }
}

struct Idle {
    conn: Box<Connection>,
    since: Instant,
}

/// The idle list, shared with the response bodies that give their connection back.
struct Shared {
    idle: Mutex<Vec<Idle>>,
    idle_timeout: Duration,
    max_idle: usize,
}

impl Shared {
    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<Idle>> {
        match self.idle.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// The most recently used idle connection that is still open; closed and expired ones
    /// are dropped on the way.
    fn checkout(&self) -> Option<Box<Connection>> {
        let mut idle = self.idle();
        while let Some(mut i) = idle.pop() {
            if i.since.elapsed() <= self.idle_timeout && !i.conn.is_stale() {
                return Some(i.conn);
            }
        }
        None
    }

    fn put(&self, conn: Box<Connection>) {
        let mut idle = self.idle();
        if idle.len() >= self.max_idle {
            idle.remove(0);
        }
        idle.push(Idle {
            conn,
            since: Instant::now(),
        });
    }
}

/// The upstream's idle connections and how to open more.
pub struct Pool {
    connector: UpstreamConnector,
    /// What the connector is asked to connect to (scheme and authority of the upstream URL).
    target: Uri,
    shared: Arc<Shared>,
}

/// Why a request got no response, or its body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// No connection could be opened.
    #[error("connecting to the upstream: {0}")]
    Connect(Box<dyn std::error::Error + Send + Sync>),
    #[error("upstream connection: {0}")]
    Io(#[from] std::io::Error),
    #[error("upstream response: {0}")]
    Wire(#[from] WireError),
}

/// How an exchange on a connection failed.
struct Failed {
    error: SendError,
    /// Nothing came back: the request may be sent again on another connection.
    retry: bool,
}

impl Pool {
    /// A pool for the upstream at `target` (only its scheme and authority are used), closing
    /// connections idle for longer than `idle_timeout` and keeping at most `max_idle` of them.
    pub fn new(
        connector: UpstreamConnector,
        target: &Uri,
        idle_timeout: Duration,
        max_idle: usize,
    ) -> Result<Self, Error> {
        let mut parts = hyper::http::uri::Parts::default();
        parts.scheme = target.scheme().cloned();
        parts.authority = target.authority().cloned();
        parts.path_and_query = Some(hyper::http::uri::PathAndQuery::from_static("/"));
        let target =
            Uri::from_parts(parts).map_err(|e| Error::Config(format!("upstream.url: {e}")))?;
        Ok(Self {
            connector,
            target,
            shared: Arc::new(Shared {
                idle: Mutex::new(Vec::new()),
                idle_timeout,
                max_idle,
            }),
        })
    }

    /// Sends a request (`head`: its encoded head, with `Host` and `Content-Length`, see
    /// [`crate::h1`]) on an idle connection, or on a new one, and reads the response head. A
    /// request is sent again on another connection only when an idle one turns out to be
    /// closed: its write failed, or, for `GET`, `HEAD` and `OPTIONS`, the connection closed
    /// before any response byte.
    pub async fn send(
        &self,
        method: &Method,
        mut wire: Vec<u8>,
        body: Bytes,
    ) -> Result<Response<UpBody>, SendError> {
        let inline = body.len() <= INLINE_BODY;
        if inline {
            wire.extend_from_slice(&body);
        }
        let rest = (!inline).then_some(&body);
        let replayable = matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
        let head_request = method == Method::HEAD;
        while let Some(conn) = self.shared.checkout() {
            match self
                .exchange(conn, &wire, rest, head_request, replayable)
                .await
            {
                Ok(r) => return Ok(r),
                Err(f) if f.retry => {
                    tracing::debug!(error = %f.error, "idle upstream connection was closed; retrying");
                }
                Err(f) => return Err(f.error),
            }
        }
        let io = self
            .connector
            .clone()
            .call(self.target.clone())
            .await
            .map_err(SendError::Connect)?;
        self.exchange(
            Box::new(Connection::new(TokioIo::new(io))),
            &wire,
            rest,
            head_request,
            false,
        )
        .await
        .map_err(|f| f.error)
    }

    /// Writes a request on `conn` and reads the response head.
    async fn exchange(
        &self,
        mut conn: Box<Connection>,
        wire: &[u8],
        rest: Option<&Bytes>,
        head_request: bool,
        replayable: bool,
    ) -> Result<Response<UpBody>, Failed> {
        let written = async {
            conn.io.write_all(wire).await?;
            if let Some(b) = rest {
                conn.io.write_all(b).await?;
            }
            conn.io.flush().await
        }
        .await;
        if let Err(e) = written {
            return Err(Failed {
                error: e.into(),
                retry: true,
            });
        }
        let mut got_any = false;
        let mut parser = HeadParser::new(head_request);
        loop {
            match parser.parse(&mut conn.buf) {
                Ok(Some(head)) => {
                    let mut body = UpBody {
                        decoder: Decoder::new(head.framing),
                        keep_alive: head.keep_alive,
                        conn: Some(conn),
                        pool: self.shared.clone(),
                    };
                    // a response without a body frees its connection at once
                    body.release_if_done();
                    return Ok(head.response.map(|()| body));
                }
                Ok(None) => {}
                Err(e) => {
                    return Err(Failed {
                        error: e.into(),
                        retry: false,
                    })
                }
            }
            match conn.fill().await {
                Ok(0) => {
                    return Err(Failed {
                        error: WireError::Incomplete.into(),
                        retry: replayable && !got_any,
                    })
                }
                Ok(_) => got_any = true,
                Err(e) => {
                    return Err(Failed {
                        error: e.into(),
                        retry: replayable && !got_any,
                    })
                }
            }
        }
    }

    /// Idle connections (for tests).
    pub fn idle_count(&self) -> usize {
        self.shared.idle().len()
    }
}

/// The body of an upstream response, read from its connection as it is polled. At its end the
/// connection goes back to the pool (when the upstream keeps it alive and sent nothing more).
pub struct UpBody {
    /// Boxed: the connection (a TLS session, buffers) moves from the pool to the body and back.
    conn: Option<Box<Connection>>,
    decoder: Decoder,
    keep_alive: bool,
    pool: Arc<Shared>,
}

impl UpBody {
    /// Gives the connection back once the body has been read to its end.
    fn release_if_done(&mut self) {
        if !self.decoder.is_done() {
            return;
        }
        if let Some(c) = self.conn.take() {
            if self.keep_alive && c.buf.is_empty() {
                self.pool.put(c);
            }
        }
    }

    fn fail(&mut self, e: SendError) -> Poll<Option<Result<Frame<Bytes>, SendError>>> {
        self.conn = None;
        Poll::Ready(Some(Err(e)))
    }
}

impl hyper::body::Body for UpBody {
    type Data = Bytes;
    type Error = SendError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, SendError>>> {
        let this = self.get_mut();
        loop {
            let Some(conn) = this.conn.as_mut() else {
                return Poll::Ready(None);
            };
            match this.decoder.decode(&mut conn.buf) {
                Ok(Decoded::Data(b)) => {
                    this.release_if_done();
                    return Poll::Ready(Some(Ok(Frame::data(b))));
                }
                Ok(Decoded::End) => {
                    this.release_if_done();
                    return Poll::Ready(None);
                }
                Ok(Decoded::NeedMore) => {}
                Err(e) => return this.fail(e.into()),
            }
            match ready!(conn.poll_fill(cx)) {
                Ok(0) => match this.decoder.eof() {
                    Ok(()) => {
                        this.conn = None;
                        return Poll::Ready(None);
                    }
                    Err(e) => return this.fail(e.into()),
                },
                Ok(_) => {}
                Err(e) => return this.fail(e.into()),
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.decoder.is_done() || self.conn.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        match self.decoder.remaining() {
            Some(n) => SizeHint::with_exact(n),
            None => SizeHint::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::h1;
    use http_body_util::{BodyExt, Full};
    use hyper::body::Incoming;
    use hyper::server::conn::http1 as server;
    use hyper::Request;
    use hyper_util::client::legacy::connect::HttpConnector;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::AsyncReadExt;

    /// Sends a request built with `http` types.
    async fn send(p: &Pool, req: Request<Bytes>) -> Result<Response<UpBody>, SendError> {
        let (parts, body) = req.into_parts();
        let mut head = Vec::new();
        let target = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        h1::encode_head(&mut head, &parts.method, target, &parts.headers, body.len());
        p.send(&parts.method, head, body).await
    }

    /// An HTTP/1.1 server on loopback counting the connections it accepted. A request to
    /// `/close` is answered with `Connection: close`, one to `/chunked` with a chunked body.
    async fn server() -> (Uri, Arc<AtomicUsize>) {
        let (l, uri, accepted) = listener().await;
        let count = accepted.clone();
        tokio::spawn(async move {
            while let Ok((s, _)) = l.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(|req: Request<Incoming>| async move {
                        let path = req.uri().path().to_string();
                        let sent = req
                            .into_body()
                            .collect()
                            .await
                            .map(|c| c.to_bytes().len())
                            .unwrap_or(0);
                        let body: http_body_util::combinators::BoxBody<
                            Bytes,
                            std::convert::Infallible,
                        > = if path == "/chunked" {
                            let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(4);
                            tokio::spawn(async move {
                                for i in 0..50 {
                                    let _ = tx.send(Bytes::from(format!("part {i};"))).await;
                                }
                            });
                            http_body_util::StreamBody::new(tokio_stream_like(rx)).boxed()
                        } else if path == "/echo-length" {
                            Full::new(Bytes::from(sent.to_string())).boxed()
                        } else {
                            Full::new(Bytes::from(vec![b'x'; 10_000])).boxed()
                        };
                        let mut r = Response::new(body);
                        if path == "/close" {
                            r.headers_mut().insert(
                                hyper::header::CONNECTION,
                                hyper::header::HeaderValue::from_static("close"),
                            );
                        }
                        Ok::<_, std::convert::Infallible>(r)
                    });
                    let _ = server::Builder::new()
                        .serve_connection(TokioIo::new(s), svc)
                        .await;
                });
            }
        });
        (uri, accepted)
    }

    /// A listener on a loopback port, its URL, and a counter for the connections it accepts.
    async fn listener() -> (tokio::net::TcpListener, Uri, Arc<AtomicUsize>) {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let addr = l.local_addr().unwrap_or_else(|e| panic!("{e}"));
        let uri = format!("http://{addr}")
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        (l, uri, Arc::new(AtomicUsize::new(0)))
    }

    /// The frames of a channel as a stream of body frames.
    fn tokio_stream_like(
        mut rx: tokio::sync::mpsc::Receiver<Bytes>,
    ) -> impl futures_util::Stream<Item = Result<Frame<Bytes>, std::convert::Infallible>> {
        futures_util::stream::poll_fn(move |cx| {
            rx.poll_recv(cx).map(|o| o.map(|b| Ok(Frame::data(b))))
        })
    }

    fn pool(uri: &Uri) -> Pool {
        let connector = crate::tls::upstream_connector(
            HttpConnector::new(),
            &crate::config::UpstreamConfig::default(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        Pool::new(connector, uri, Duration::from_secs(60), 4).unwrap_or_else(|e| panic!("{e}"))
    }

    fn request(method: Method, path: &str, host: &Uri, body: Bytes) -> Request<Bytes> {
        Request::builder()
            .method(method)
            .uri(path)
            .header(
                hyper::header::HOST,
                host.authority().map_or("", |a| a.as_str()),
            )
            .body(body)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn get(path: &str, host: &Uri) -> Request<Bytes> {
        request(Method::GET, path, host, Bytes::new())
    }

    /// Sends a request and reads its response to the end.
    async fn exchange(p: &Pool, path: &str, host: &Uri) -> Bytes {
        let resp = send(p, get(path, host))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        resp.into_body()
            .collect()
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .to_bytes()
    }

    #[tokio::test(flavor = "current_thread")]
    async fn connections_are_reused_closed_ones_replaced_and_abandoned_ones_dropped() {
        let (uri, accepted) = server().await;
        let p = pool(&uri);
        for _ in 0..20 {
            assert_eq!(exchange(&p, "/v1/models", &uri).await.len(), 10_000);
        }
        assert_eq!(
            accepted.load(Ordering::SeqCst),
            1,
            "one keep-alive connection"
        );
        // the upstream closes the connection after a response: the next request gets a new one
        assert_eq!(exchange(&p, "/close", &uri).await.len(), 10_000);
        assert_eq!(p.idle_count(), 0, "a closing connection is not kept");
        assert_eq!(exchange(&p, "/v1/models", &uri).await.len(), 10_000);
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
        // a chunked body, read to its end, frees its connection too
        let chunked = exchange(&p, "/chunked", &uri).await;
        let want: String = (0..50).map(|i| format!("part {i};")).collect();
        assert_eq!(chunked, want.as_bytes());
        assert_eq!(exchange(&p, "/v1/models", &uri).await.len(), 10_000);
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
        // a body dropped before its end takes its connection with it: the next request opens
        // one, and the one after reuses that
        let mut resp = send(&p, get("/chunked", &uri))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let first = resp.body_mut().frame().await;
        assert!(matches!(first, Some(Ok(_))));
        drop(resp);
        assert_eq!(p.idle_count(), 0);
        assert_eq!(exchange(&p, "/v1/models", &uri).await.len(), 10_000);
        assert_eq!(exchange(&p, "/v1/models", &uri).await.len(), 10_000);
        assert_eq!(accepted.load(Ordering::SeqCst), 3);
        // request bodies past the inline size go out in a second write
        for n in [0, 100, INLINE_BODY, INLINE_BODY + 1, 300_000] {
            let body = Bytes::from(vec![b'a'; n]);
            let resp = send(&p, request(Method::POST, "/echo-length", &uri, body))
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            let got = resp.into_body().collect().await.map(|c| c.to_bytes());
            assert_eq!(got.ok(), Some(Bytes::from(n.to_string())));
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 3);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn concurrent_requests_open_at_most_one_connection_each_and_idle_is_capped() {
        let (uri, accepted) = server().await;
        let p = Arc::new(pool(&uri));
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (p, uri) = (p.clone(), uri.clone());
                tokio::spawn(async move { exchange(&p, "/v1/models", &uri).await.len() })
            })
            .collect();
        for t in tasks {
            assert_eq!(t.await.unwrap_or_else(|e| panic!("{e}")), 10_000);
        }
        let n = accepted.load(Ordering::SeqCst);
        assert!((1..=8).contains(&n), "{n} connections");
        assert!(
            p.idle_count() <= 4,
            "idle list capped at 4: {}",
            p.idle_count()
        );
        // later requests reuse the idle connections
        for _ in 0..10 {
            exchange(&p, "/v1/models", &uri).await;
        }
        assert_eq!(accepted.load(Ordering::SeqCst), n);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_closed_upstream_is_a_connect_error() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
        let uri: Uri = format!(
            "http://{}",
            l.local_addr().unwrap_or_else(|e| panic!("{e}"))
        )
        .parse()
        .unwrap_or_else(|e| panic!("{e}"));
        drop(l);
        let p = pool(&uri);
        match send(&p, get("/", &uri)).await {
            Err(SendError::Connect(_)) => {}
            other => panic!("{:?}", other.map(|_| ())),
        }
    }

    /// A raw upstream that answers each connection's first request with `answers[i]` (bytes
    /// as given), then closes it once `close_after` requests were answered on it.
    async fn raw_server(
        answers: Vec<&'static [u8]>,
        close_after: usize,
    ) -> (Uri, Arc<AtomicUsize>) {
        let (l, uri, accepted) = listener().await;
        let count = accepted.clone();
        tokio::spawn(async move {
            let mut next = 0;
            while let Ok((mut s, _)) = l.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                for _ in 0..close_after {
                    let mut req = Vec::new();
                    let mut b = [0u8; 4096];
                    while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                        match s.read(&mut b).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => req.extend_from_slice(&b[..n]),
                        }
                    }
                    let a = answers
                        .get(next % answers.len().max(1))
                        .copied()
                        .unwrap_or_default();
                    next += 1;
                    let _ = s.write_all(a).await;
                }
                drop(s);
            }
        });
        (uri, accepted)
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_keep_alive_connection_the_upstream_closed_is_not_used() {
        let ok: &'static [u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
        let (uri, accepted) = raw_server(vec![ok], 1).await;
        let p = pool(&uri);
        for _ in 0..3 {
            assert_eq!(exchange(&p, "/", &uri).await, &b"ok"[..]);
            // the server closed its end after answering; the pool notices before reuse or
            // the GET is sent again on a new connection
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 3);
        // a POST whose idle connection turns out closed after it was written is not resent;
        // it either found the closure first (new connection) or failed
        let r = send(
            &p,
            request(Method::POST, "/", &uri, Bytes::from_static(b"{}")),
        )
        .await;
        assert!(r.is_ok(), "{:?}", r.err());
    }

    #[tokio::test(flavor = "current_thread")]
    async fn malformed_and_truncated_responses_are_errors() {
        for (answer, at_head) in [
            (
                &b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"[..],
                false,
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
                false,
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                false,
            ),
            (b"HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\n", true),
            (b"NOT HTTP AT ALL\r\n\r\n", true),
            (b"HTTP/1.1 200 OK\r\nContent-Le", true),
        ] {
            let (uri, _) = raw_server(vec![answer], 1).await;
            let p = pool(&uri);
            match send(&p, request(Method::POST, "/", &uri, Bytes::new())).await {
                Err(_) => assert!(at_head, "{answer:?} failed at the head"),
                Ok(r) => {
                    assert!(!at_head, "{answer:?} gave a head");
                    assert!(r.into_body().collect().await.is_err(), "{answer:?}");
                }
            }
            assert_eq!(p.idle_count(), 0);
        }
        // a close-delimited body ends with the connection, which is not reused
        let (uri, _) = raw_server(vec![b"HTTP/1.1 200 OK\r\n\r\nuntil the end"], 1).await;
        let p = pool(&uri);
        assert_eq!(exchange(&p, "/", &uri).await, &b"until the end"[..]);
        assert_eq!(p.idle_count(), 0);
    }
}
