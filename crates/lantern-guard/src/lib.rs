//! The runtime gateway (`lantern guard`): an OpenAI-compatible reverse proxy with keys issued by
//! the guard (stored as hashes, scoped, short-lived), GCRA rate limits on requests and tokens
//! (in process or shared through Redis), request hardening and per-key detectors against model
//! and training-data extraction, output monitoring of plain and streamed responses (secrets, PII,
//! canaries, verbatim corpus spans), drift metrics on `/metrics`, and one record per request in
//! the tamper-evident audit log of `lantern-audit`. Credentials in responses are found with the
//! leak scanner's rules (`lantern-secrets`); TLS is optional on both sides (rustls).

mod chan;
mod chunkscan;
pub mod config;
pub mod detect;
pub mod fields;
pub mod h1;
pub mod harden;
pub mod keys;
pub mod metrics;
pub mod mock;
pub mod monitor;
pub mod ngram;
pub mod proxy;
pub mod ratelimit;
pub mod resp;
pub mod route;
pub mod sse;
pub mod tls;
pub mod upstream;

pub use config::GuardConfig;
pub use proxy::{run, Gateway};

use std::sync::Arc;

/// Writes `bytes` to `path` whole or not at all: into a temporary file beside it (its name plus
/// `.tmp`; mode 0600 when `private`, on Unix), synced, then renamed over it.
pub(crate) fn write_atomic(
    path: &std::path::Path,
    bytes: &[u8],
    private: bool,
) -> std::io::Result<()> {
    use std::io::Write;
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    let tmp = path.with_file_name(name);
    {
        let mut o = std::fs::OpenOptions::new();
        o.write(true).create(true).truncate(true);
        #[cfg(unix)]
        if private {
            std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
        }
        #[cfg(not(unix))]
        let _ = private;
        let mut f = o.open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

/// Errors of the guard crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or socket operation failed.
    #[error(transparent)]
    Io(#[from] lantern_core::IoError),
    /// The configuration (or a key store / index file) is invalid.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A key operation failed.
    #[error("key: {0}")]
    Key(String),
    /// The audit log failed.
    #[error(transparent)]
    Audit(#[from] lantern_audit::Error),
}

/// Builds a runtime, binds `cfg.listen` and serves until SIGINT or SIGTERM, then shuts down
/// gracefully (in-flight requests finish, the audit log is flushed and sealed).
pub fn serve_blocking(cfg: GuardConfig, threads: Option<usize>) -> Result<(), Error> {
    // One thread: a current-thread runtime, which polls I/O and runs tasks on the same thread
    // (no cross-thread wake-ups); more: the work-stealing runtime.
    let mut b = if threads == Some(1) {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    if let Some(t) = threads.filter(|&t| t > 1) {
        b.worker_threads(t);
    }
    let rt = b
        .enable_all()
        .build()
        .map_err(|e| Error::Io(lantern_core::IoError::new("tokio runtime", e)))?;
    let listen = cfg.listen.clone();
    // bad certificate or key files fail here, before anything listens
    let scheme = if tls::server_config(&cfg.server)?.is_some() {
        "https"
    } else {
        "http"
    };
    let gw = Arc::new(Gateway::new(cfg)?);
    let result = rt.block_on(async {
        let l = tokio::net::TcpListener::bind(&listen)
            .await
            .map_err(|e| Error::Io(lantern_core::IoError::new(&listen, e)))?;
        tracing::info!(addr = %listen, "lantern guard listening");
        eprintln!(
            "lantern guard listening on {scheme}://{}",
            l.local_addr()
                .map(|a| a.to_string())
                .unwrap_or(listen.clone())
        );
        let r = run(gw.clone(), l, shutdown_signal()).await;
        // let streams that are still finishing write their audit records
        for _ in 0..1000 {
            if Arc::strong_count(&gw) == 1 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        r
    });
    drop(gw);
    drop(rt);
    result
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
