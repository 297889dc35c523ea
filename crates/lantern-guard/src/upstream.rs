//! Connections to the upstream: HTTP/1.1 keep-alive connections opened with the upstream
//! connector (TCP, or TLS for `https://` URLs), kept in a last-in-first-out idle list and reused
//! once the previous response has been read to its end.
//!
//! hyper-util's pooled client does the same, but it returns a connection to its pool from a task
//! it spawns per request (the response head arrives before the body has been read, so the
//! connection is not reusable yet). Here the reader of the response hands the connection back
//! itself ([`Pool::put`]) when it has seen the body's end; a response that is abandoned, fails or
//! times out drops its connection, which closes it.

use crate::tls::UpstreamConnector;
use crate::Error;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::{Request, Response, Uri};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tower_service::Service;

/// The sending half of one upstream connection (its connection task runs on the runtime).
pub struct Conn(SendRequest<Full<Bytes>>);

struct Idle {
    tx: SendRequest<Full<Bytes>>,
    since: Instant,
}

/// The upstream's idle connections and how to open more.
pub struct Pool {
    connector: UpstreamConnector,
    /// What the connector is asked to connect to (scheme and authority of the upstream URL).
    target: Uri,
    idle: Mutex<Vec<Idle>>,
    idle_timeout: Duration,
    max_idle: usize,
}

/// Why a request got no response.
#[derive(Debug)]
pub enum SendError {
    /// No connection could be opened.
    Connect(Box<dyn std::error::Error + Send + Sync>),
    /// The request failed on its connection.
    Http(hyper::Error),
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Connect(e) => write!(f, "connecting to the upstream: {e}"),
            Self::Http(e) => write!(f, "{e}"),
        }
    }
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
            idle: Mutex::new(Vec::new()),
            idle_timeout,
            max_idle,
        })
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<Idle>> {
        match self.idle.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// An idle connection ready for a request. Connections that are closed or idle for too long
    /// are dropped; one whose connection task has not yet taken in the end of its last response
    /// stays idle for a later request.
    fn checkout(&self) -> Option<SendRequest<Full<Bytes>>> {
        let mut idle = self.idle();
        let mut busy = Vec::new();
        let mut found = None;
        while let Some(i) = idle.pop() {
            if i.tx.is_closed() || i.since.elapsed() > self.idle_timeout {
                continue;
            }
            if i.tx.is_ready() {
                found = Some(i.tx);
                break;
            }
            busy.push(i);
        }
        // the not-yet-ready ones go back underneath, oldest first
        busy.reverse();
        idle.splice(0..0, busy);
        found
    }

    /// Gives back a connection whose last response has been read to its end.
    pub fn put(&self, conn: Conn) {
        if conn.0.is_closed() {
            return;
        }
        let mut idle = self.idle();
        if idle.len() >= self.max_idle {
            idle.remove(0);
        }
        idle.push(Idle {
            tx: conn.0,
            since: Instant::now(),
        });
    }

    /// Sends `req` (origin-form URI, with its `Host` header) on an idle connection, or on a new
    /// one. A request that an idle connection could not take (it closed meanwhile) is sent on
    /// another; once sent, a request is not retried.
    pub async fn send(
        &self,
        mut req: Request<Full<Bytes>>,
    ) -> Result<(Response<Incoming>, Conn), SendError> {
        while let Some(mut tx) = self.checkout() {
            match tx.try_send_request(req).await {
                Ok(resp) => return Ok((resp, Conn(tx))),
                Err(mut e) => match e.take_message() {
                    Some(r) => req = r,
                    None => return Err(SendError::Http(e.into_error())),
                },
            }
        }
        let io = self
            .connector
            .clone()
            .call(self.target.clone())
            .await
            .map_err(SendError::Connect)?;
        let (mut tx, conn) = http1::Builder::new()
            .handshake(io)
            .await
            .map_err(SendError::Http)?;
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "upstream connection ended");
            }
        });
        let resp = tx.send_request(req).await.map_err(SendError::Http)?;
        Ok((resp, Conn(tx)))
    }

    /// Idle connections (for tests).
    pub fn idle_count(&self) -> usize {
        self.idle().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use hyper::server::conn::http1 as server;
    use hyper_util::client::legacy::connect::HttpConnector;
    use hyper_util::rt::TokioIo;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    /// An HTTP/1.1 server on loopback counting the connections it accepted. A request to
    /// `/close` is answered with `Connection: close`.
    async fn server() -> (Uri, Arc<AtomicUsize>) {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let addr = l.local_addr().unwrap_or_else(|e| panic!("{e}"));
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            while let Ok((s, _)) = l.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(|req: Request<Incoming>| async move {
                        let mut r = Response::new(Full::new(Bytes::from(vec![b'x'; 10_000])));
                        if req.uri().path() == "/close" {
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
        let uri = format!("http://{addr}")
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        (uri, accepted)
    }

    fn pool(uri: &Uri) -> Pool {
        let connector = crate::tls::upstream_connector(
            HttpConnector::new(),
            &crate::config::UpstreamConfig::default(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        Pool::new(connector, uri, Duration::from_secs(60), 4).unwrap_or_else(|e| panic!("{e}"))
    }

    fn get(path: &str, host: &Uri) -> Request<Full<Bytes>> {
        Request::builder()
            .uri(path)
            .header(
                hyper::header::HOST,
                host.authority().map_or("", |a| a.as_str()),
            )
            .body(Full::new(Bytes::new()))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Sends a request and reads its response to the end; gives the connection back when `put`.
    async fn exchange(p: &Pool, path: &str, host: &Uri, put: bool) -> usize {
        let (resp, conn) = p
            .send(get(path, host))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let body = resp
            .into_body()
            .collect()
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .to_bytes();
        if put {
            p.put(conn);
        }
        body.len()
    }

    #[tokio::test(flavor = "current_thread")]
    async fn connections_are_reused_closed_ones_replaced_and_abandoned_ones_dropped() {
        let (uri, accepted) = server().await;
        let p = pool(&uri);
        for _ in 0..20 {
            assert_eq!(exchange(&p, "/v1/models", &uri, true).await, 10_000);
        }
        assert_eq!(
            accepted.load(Ordering::SeqCst),
            1,
            "one keep-alive connection"
        );
        // a response whose connection is not given back (abandoned, failed): a new connection
        assert_eq!(exchange(&p, "/v1/models", &uri, false).await, 10_000);
        assert_eq!(exchange(&p, "/v1/models", &uri, true).await, 10_000);
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
        // the upstream closes the connection after a response: the next request gets a new one
        assert_eq!(exchange(&p, "/close", &uri, true).await, 10_000);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(exchange(&p, "/v1/models", &uri, true).await, 10_000);
        assert_eq!(accepted.load(Ordering::SeqCst), 3);
        // a response body dropped unread (it took the idle connection): that connection is
        // not reused, the next request opens one, and the one after reuses that
        let (resp, conn) = p
            .send(get("/v1/models", &uri))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        drop(resp);
        drop(conn);
        assert_eq!(p.idle_count(), 0);
        assert_eq!(exchange(&p, "/v1/models", &uri, true).await, 10_000);
        assert_eq!(exchange(&p, "/v1/models", &uri, true).await, 10_000);
        assert_eq!(accepted.load(Ordering::SeqCst), 4);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn concurrent_requests_open_at_most_one_connection_each_and_idle_is_capped() {
        let (uri, accepted) = server().await;
        let p = Arc::new(pool(&uri));
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (p, uri) = (p.clone(), uri.clone());
                tokio::spawn(async move { exchange(&p, "/v1/models", &uri, true).await })
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
            exchange(&p, "/v1/models", &uri, true).await;
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
        match p.send(get("/", &uri)).await {
            Err(SendError::Connect(_)) => {}
            other => panic!("{:?}", other.map(|_| ())),
        }
    }
}
