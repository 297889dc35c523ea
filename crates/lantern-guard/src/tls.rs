//! TLS on both sides of the gateway (rustls with the `ring` provider): the listener's server
//! configuration from PEM files (`[server] tls_cert`/`tls_key`, ALPN `http/1.1`) and the upstream
//! connector that speaks `https://` (bundled Mozilla roots, or `[upstream] ca_file`) and `http://`.

use crate::config::{ServerConfig, UpstreamConfig};
use crate::Error;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::future::Future;
use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;

/// The upstream connector: TLS for `https://` URLs, plain TCP for `http://` ones.
pub type UpstreamConnector = HttpsConnector<HttpConnector>;

/// Largest PEM file read (certificate chains and CA bundles are far smaller).
const MAX_PEM_BYTES: u64 = 4 << 20;

fn cfg_err(path: &Path, what: impl std::fmt::Display) -> Error {
    Error::Config(format!("{}: {what}", path.display()))
}

fn read_pem(path: &Path) -> Result<Vec<u8>, Error> {
    let io = |e| Error::Io(lantern_core::IoError::new(path.display(), e));
    let len = std::fs::metadata(path).map_err(io)?.len();
    if len > MAX_PEM_BYTES {
        return Err(cfg_err(
            path,
            format_args!("{len} bytes is too large for a PEM file"),
        ));
    }
    std::fs::read(path).map_err(io)
}

/// Every certificate in a PEM file; an error naming the file when there is none or a section is
/// malformed.
pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, Error> {
    let pem = read_pem(path)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| cfg_err(path, format_args!("invalid PEM certificate: {e}")))?;
    if certs.is_empty() {
        return Err(cfg_err(
            path,
            "no PEM certificate (BEGIN CERTIFICATE) found",
        ));
    }
    Ok(certs)
}

/// The first private key (PKCS#8, PKCS#1 or SEC1) in a PEM file.
pub fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, Error> {
    let pem = read_pem(path)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => {
            cfg_err(path, "no PEM private key (BEGIN PRIVATE KEY) found")
        }
        e => cfg_err(path, format_args!("invalid PEM private key: {e}")),
    })
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The listener's TLS configuration, or `None` when `[server]` sets no certificate.
pub fn server_config(cfg: &ServerConfig) -> Result<Option<Arc<rustls::ServerConfig>>, Error> {
    let (cert_path, key_path) = match (&cfg.tls_cert, &cfg.tls_key) {
        (Some(c), Some(k)) => (c, k),
        (None, None) => return Ok(None),
        _ => {
            return Err(Error::Config(
                "server.tls_cert and server.tls_key must be set together".into(),
            ))
        }
    };
    let certs = load_certs(cert_path)?;
    let key = load_key(key_path)?;
    let builder = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Config(format!("tls: {e}")))?;
    let builder = match &cfg.client_ca {
        // mutual TLS: a client without a certificate one of these CAs signed fails the handshake
        Some(ca) => {
            let roots = Arc::new(root_store(ca)?);
            let verifier =
                rustls::server::WebPkiClientVerifier::builder_with_provider(roots, provider())
                    .build()
                    .map_err(|e| cfg_err(ca, format_args!("unusable client CA: {e}")))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut sc = builder.with_single_cert(certs, key).map_err(|e| {
        Error::Config(format!(
            "{} / {}: certificate and key are not usable together: {e}",
            cert_path.display(),
            key_path.display()
        ))
    })?;
    sc.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Some(Arc::new(sc)))
}

/// The acceptor for the listener, or `None` without TLS.
pub fn acceptor(cfg: &ServerConfig) -> Result<Option<TlsAcceptor>, Error> {
    Ok(server_config(cfg)?.map(TlsAcceptor::from))
}

/// The SHA-256 of the DER certificate a client presented (lower-case hex), set once the
/// connection's TLS handshake is done (mutual TLS, `[server] client_ca`).
pub type ClientCert = Arc<std::sync::OnceLock<Arc<str>>>;

/// A client connection: plain TCP, or TLS over it. The TLS handshake runs on the first read or
/// write, inside the connection's task (so a slow handshake never holds up the accept loop and
/// is bounded by the server's header-read timeout like any slow client).
///
/// With [`ServerIo::coalescing`], writes are coalesced across connections: each write yields
/// once to the other tasks ready on the worker before it goes to the socket, so the responses
/// the worker finishes in one pass go out back to back at the end of the pass, as Redis writes
/// its replies before it sleeps. A client reading many connections then finds several
/// responses per wake-up instead of being woken for each, which costs the guard (the kernel
/// work of waking an idle reader is charged to the writer), its clients and the upstream less
/// CPU per request. The yield is one extra poll of the connection's task; with nothing else
/// ready it runs at once.
pub struct ServerIo {
    state: State,
    /// Where to note the client certificate's digest once the handshake is done.
    client_cert: Option<ClientCert>,
    /// Yield once before each write.
    coalesce: bool,
    /// The pending write has already yielded.
    yielded: bool,
}

enum State {
    Plain(TcpStream),
    Handshake(Box<tokio_rustls::Accept<TcpStream>>),
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
    Failed,
}

impl ServerIo {
    /// Wraps an accepted connection; with an acceptor it becomes TLS.
    pub fn new(stream: TcpStream, tls: Option<&TlsAcceptor>) -> Self {
        let state = match tls {
            Some(a) => State::Handshake(Box::new(a.accept(stream))),
            None => State::Plain(stream),
        };
        ServerIo {
            state,
            client_cert: None,
            coalesce: false,
            yielded: false,
        }
    }

    /// Notes the digest of the client's certificate in `slot` when its handshake completes.
    pub fn noting_client_cert(mut self, slot: ClientCert) -> Self {
        self.client_cert = Some(slot);
        self
    }

    /// Coalesces writes with the other connections' (see the type's documentation).
    pub fn coalescing(mut self) -> Self {
        self.coalesce = true;
        self
    }

    /// True once the TLS handshake is complete (always false for plain connections).
    pub fn is_tls(&self) -> bool {
        matches!(self.state, State::Tls(_))
    }

    /// `Pending` (with the task woken again) the first time a write is polled when coalescing:
    /// the task goes to the back of the worker's queue. Cleared once a write completes.
    fn yield_before_write(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.coalesce && !self.yielded {
            self.yielded = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        Poll::Ready(())
    }

    /// Drives the handshake; `Ready(Ok)` once the stream is usable.
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let State::Handshake(a) = &mut self.state {
            match Pin::new(a.as_mut()).poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(s)) => {
                    if let Some(slot) = &self.client_cert {
                        if let Some(leaf) =
                            s.get_ref().1.peer_certificates().and_then(|c| c.first())
                        {
                            use sha2::Digest;
                            let _ =
                                slot.set(hex::encode(sha2::Sha256::digest(leaf.as_ref())).into());
                        }
                    }
                    self.state = State::Tls(Box::new(s));
                }
                Poll::Ready(Err(e)) => {
                    tracing::debug!(error = %e, "tls handshake failed");
                    self.state = State::Failed;
                    return Poll::Ready(Err(e));
                }
            }
        }
        if matches!(self.state, State::Failed) {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::NotConnected,
                "tls handshake failed",
            )));
        }
        Poll::Ready(Ok(()))
    }
}

macro_rules! delegate {
    ($self:ident, $cx:ident, $s:ident => $e:expr) => {{
        let this = $self.get_mut();
        match this.poll_ready($cx) {
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => return Poll::Pending,
        }
        match &mut this.state {
            State::Plain($s) => {
                let $s = Pin::new($s);
                $e
            }
            State::Tls($s) => {
                let $s = Pin::new($s.as_mut());
                $e
            }
            State::Handshake(_) | State::Failed => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::NotConnected,
                "tls handshake not complete",
            ))),
        }
    }};
}

impl AsyncRead for ServerIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        delegate!(self, cx, s => s.poll_read(cx, buf))
    }
}

impl AsyncWrite for ServerIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        std::task::ready!(self.as_mut().get_mut().yield_before_write(cx));
        let this = self.as_mut();
        let r: Poll<io::Result<usize>> = delegate!(this, cx, s => s.poll_write(cx, buf));
        if r.is_ready() {
            self.yielded = false;
        }
        r
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        std::task::ready!(self.as_mut().get_mut().yield_before_write(cx));
        let this = self.as_mut();
        let r: Poll<io::Result<usize>> = delegate!(this, cx, s => s.poll_write_vectored(cx, bufs));
        if r.is_ready() {
            self.yielded = false;
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        match &self.state {
            State::Plain(s) => s.is_write_vectored(),
            State::Tls(s) => s.is_write_vectored(),
            State::Handshake(_) | State::Failed => false,
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        delegate!(self, cx, s => s.poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        delegate!(self, cx, s => s.poll_shutdown(cx))
    }
}

/// The client TLS configuration for the upstream: the CAs of `ca_file` when set, else the
/// bundled Mozilla roots (`webpki-roots`), and the certificate of `client_cert`/`client_key`
/// for an upstream that asks for one (mutual TLS). The connector adds ALPN `http/1.1`.
pub fn client_config(cfg: &UpstreamConfig) -> Result<rustls::ClientConfig, Error> {
    let roots = match &cfg.ca_file {
        Some(p) => root_store(p)?,
        None => {
            let mut roots = rustls::RootCertStore::empty();
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            roots
        }
    };
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Config(format!("tls: {e}")))?
        .with_root_certificates(roots);
    match (&cfg.client_cert, &cfg.client_key) {
        (Some(c), Some(k)) => builder
            .with_client_auth_cert(load_certs(c)?, load_key(k)?)
            .map_err(|e| {
                Error::Config(format!(
                    "{} / {}: certificate and key are not usable together: {e}",
                    c.display(),
                    k.display()
                ))
            }),
        (None, None) => Ok(builder.with_no_client_auth()),
        _ => Err(Error::Config(
            "upstream.client_cert and upstream.client_key must be set together".into(),
        )),
    }
}

/// The CA certificates of a PEM file as a root store; an error naming the file.
fn root_store(path: &Path) -> Result<rustls::RootCertStore, Error> {
    let mut roots = rustls::RootCertStore::empty();
    for c in load_certs(path)? {
        roots
            .add(c)
            .map_err(|e| cfg_err(path, format_args!("unusable CA certificate: {e}")))?;
    }
    Ok(roots)
}

/// Wraps `http` (timeouts, `TCP_NODELAY` already set) into a connector for `https://` and
/// `http://` upstream URLs.
pub fn upstream_connector(
    mut http: HttpConnector,
    cfg: &UpstreamConfig,
) -> Result<UpstreamConnector, Error> {
    http.enforce_http(false);
    Ok(hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(client_config(cfg)?)
        .https_or_http()
        .enable_http1()
        .wrap_connector(http))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts wake-ups.
    struct Wakes(std::sync::atomic::AtomicUsize);
    impl std::task::Wake for Wakes {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_coalescing_connection_yields_once_before_each_write() {
        use tokio::io::AsyncReadExt;
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let addr = l.local_addr().unwrap_or_else(|e| panic!("{e}"));
        let mut client = TcpStream::connect(addr)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let (server, _) = l.accept().await.unwrap_or_else(|e| panic!("{e}"));
        let mut io = ServerIo::new(server, None).coalescing();
        let wakes = Arc::new(Wakes(0.into()));
        let waker = std::task::Waker::from(wakes.clone());
        let mut cx = Context::from_waker(&waker);
        let count = || wakes.0.load(std::sync::atomic::Ordering::SeqCst);
        for (round, bytes) in [&b"first"[..], b"second"].into_iter().enumerate() {
            // the first poll of a write yields: nothing written, the task woken to come back
            let p = Pin::new(&mut io).poll_write_vectored(&mut cx, &[io::IoSlice::new(bytes)]);
            assert!(p.is_pending(), "round {round}");
            assert_eq!(count(), round + 1);
            // the next one writes
            match Pin::new(&mut io).poll_write_vectored(&mut cx, &[io::IoSlice::new(bytes)]) {
                Poll::Ready(Ok(n)) => assert_eq!(n, bytes.len()),
                other => panic!("round {round}: {other:?}"),
            }
            assert_eq!(count(), round + 1);
        }
        let mut got = [0u8; 11];
        client
            .read_exact(&mut got)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(&got, b"firstsecond");
        // without coalescing, writes go straight to the socket
        let _client2 = TcpStream::connect(addr)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let (server2, _) = l.accept().await.unwrap_or_else(|e| panic!("{e}"));
        let mut plain = ServerIo::new(server2, None);
        match Pin::new(&mut plain).poll_write(&mut cx, b"x") {
            Poll::Ready(Ok(1)) => {}
            other => panic!("{other:?}"),
        }
        assert_eq!(count(), 2);
    }

    #[test]
    fn errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let cert = dir.path().join("cert.pem");
        let key = dir.path().join("key.pem");
        std::fs::write(&cert, "not a certificate\n").unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(
            &key,
            "-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let cfg = ServerConfig {
            tls_cert: Some(cert.clone()),
            tls_key: Some(key.clone()),
            client_ca: None,
            ..ServerConfig::default()
        };
        let e = server_config(&cfg).map(|_| ()).unwrap_err().to_string();
        assert!(
            e.contains("cert.pem") && e.contains("no PEM certificate"),
            "{e}"
        );
        let e = load_key(&key).map(|_| ()).unwrap_err().to_string();
        assert!(
            e.contains("key.pem") && e.contains("invalid PEM private key"),
            "{e}"
        );
        let missing = dir.path().join("absent.pem");
        let e = load_certs(&missing).map(|_| ()).unwrap_err().to_string();
        assert!(e.contains("absent.pem"), "{e}");
        assert!(server_config(&ServerConfig::default())
            .unwrap_or_else(|e| panic!("{e}"))
            .is_none());
    }
}
