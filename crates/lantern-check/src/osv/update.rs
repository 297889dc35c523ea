//! `lantern osv update`: download OSV's per-ecosystem export (`all.zip`) over HTTPS. This is the
//! only network access of `check`, and only on this explicit command; a plain `check` run never
//! touches the network. The file is streamed to a temporary name and renamed when complete.

use crate::Error;
use http_body_util::BodyExt;
use std::path::Path;
use tokio::io::AsyncWriteExt;

/// Where OSV publishes the exports.
pub const BASE_URL: &str = "https://osv-vulnerabilities.storage.googleapis.com";
/// Largest export accepted (bytes).
const MAX_EXPORT: u64 = 4 << 30;

fn err(msg: impl std::fmt::Display) -> Error {
    Error::Osv {
        path: BASE_URL.to_string(),
        message: msg.to_string(),
    }
}

/// Download `<BASE_URL>/<ecosystem>/all.zip` to `dest`; returns the byte count.
pub fn download(ecosystem: &str, dest: &Path) -> Result<u64, Error> {
    if ecosystem.is_empty() || ecosystem.contains(['/', '\\', '?', '#']) || ecosystem.contains("..")
    {
        return Err(err(format!("invalid ecosystem name `{ecosystem}`")));
    }
    let url = format!("{BASE_URL}/{}/all.zip", ecosystem.replace(' ', "%20"));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(err)?;
    rt.block_on(fetch(&url, dest))
}

async fn fetch(url: &str, dest: &Path) -> Result<u64, Error> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_webpki_roots()
        .https_only()
        .enable_http1()
        .build();
    let client: hyper_util::client::legacy::Client<_, http_body_util::Empty<hyper::body::Bytes>> =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build(https);
    let uri: hyper::Uri = url.parse().map_err(err)?;
    let resp = client.get(uri).await.map_err(err)?;
    if !resp.status().is_success() {
        return Err(err(format!("{url}: HTTP {}", resp.status())));
    }
    if let Some(parent) = dest.parent() {
        tokio::fs::create_dir_all(parent).await.map_err(err)?;
    }
    let tmp = dest.with_extension("zip.part");
    let mut file = tokio::fs::File::create(&tmp).await.map_err(err)?;
    let mut body = resp.into_body();
    let mut total = 0u64;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(err)?;
        if let Some(chunk) = frame.data_ref() {
            total += chunk.len() as u64;
            if total > MAX_EXPORT {
                return Err(err(format!("{url}: larger than 4 GiB")));
            }
            file.write_all(chunk).await.map_err(err)?;
        }
    }
    file.flush().await.map_err(err)?;
    drop(file);
    tokio::fs::rename(&tmp, dest).await.map_err(err)?;
    Ok(total)
}
