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
    let io = |e| Error::Io {
        path: path.display().to_string(),
        source: e,
    };
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
    let mut sc = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Config(format!("tls: {e}")))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
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

/// A client connection: plain TCP, or TLS over it. The TLS handshake runs on the first read or
/// write, inside the connection's task (so a slow handshake never holds up the accept loop and
/// is bounded by the server's header-read timeout like any slow client).
pub struct ServerIo(State);

enum State {
    Plain(TcpStream),
    Handshake(Box<tokio_rustls::Accept<TcpStream>>),
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
    Failed,
}

impl ServerIo {
    /// Wraps an accepted connection; with an acceptor it becomes TLS.
    pub fn new(stream: TcpStream, tls: Option<&TlsAcceptor>) -> Self {
        match tls {
            Some(a) => ServerIo(State::Handshake(Box::new(a.accept(stream)))),
            None => ServerIo(State::Plain(stream)),
        }
    }

    /// True once the TLS handshake is complete (always false for plain connections).
    pub fn is_tls(&self) -> bool {
        matches!(self.0, State::Tls(_))
    }

    /// Drives the handshake; `Ready(Ok)` once the stream is usable.
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let State::Handshake(a) = &mut self.0 {
            match Pin::new(a.as_mut()).poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(s)) => self.0 = State::Tls(Box::new(s)),
                Poll::Ready(Err(e)) => {
                    tracing::debug!(error = %e, "tls handshake failed");
                    self.0 = State::Failed;
                    return Poll::Ready(Err(e));
                }
            }
        }
        if matches!(self.0, State::Failed) {
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
        match &mut this.0 {
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
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        delegate!(self, cx, s => s.poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        delegate!(self, cx, s => s.poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        match &self.0 {
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
/// bundled Mozilla roots (`webpki-roots`). The connector adds ALPN `http/1.1`.
pub fn client_config(cfg: &UpstreamConfig) -> Result<rustls::ClientConfig, Error> {
    let mut roots = rustls::RootCertStore::empty();
    match &cfg.ca_file {
        Some(p) => {
            for c in load_certs(p)? {
                roots
                    .add(c)
                    .map_err(|e| cfg_err(p, format_args!("unusable CA certificate: {e}")))?;
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    Ok(rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Config(format!("tls: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth())
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
