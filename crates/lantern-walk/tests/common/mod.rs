//! Shared helpers for the lantern-walk integration tests: a collecting visitor and archive
//! builders (zip, tar, gzip) writing fixtures in memory.

#![allow(dead_code, clippy::unwrap_used)]

use lantern_core::Warning;
use lantern_walk::{Blob, Visitor};
use std::io::Write;
use std::sync::Mutex;

/// Collects everything a walk reports.
#[derive(Default)]
pub struct Collect {
    pub blobs: Mutex<Vec<Blob>>,
    pub warnings: Mutex<Vec<Warning>>,
    pub skipped: Mutex<Vec<(String, String)>>,
}

impl Visitor for Collect {
    fn blob(&self, blob: Blob) {
        self.blobs.lock().unwrap().push(blob);
    }
    fn warning(&self, w: Warning) {
        self.warnings.lock().unwrap().push(w);
    }
    fn skipped(&self, path: &str, reason: &str) {
        self.skipped
            .lock()
            .unwrap()
            .push((path.to_string(), reason.to_string()));
    }
}

impl Collect {
    /// Sorted display paths of all blobs.
    pub fn paths(&self) -> Vec<String> {
        let mut p: Vec<String> = self
            .blobs
            .lock()
            .unwrap()
            .iter()
            .map(|b| b.location.path.clone())
            .collect();
        p.sort();
        p
    }

    /// The blob at `path` (the first one when several, e.g. notebook cells).
    pub fn blob(&self, path: &str) -> Blob {
        self.blobs
            .lock()
            .unwrap()
            .iter()
            .find(|b| b.location.path == path)
            .cloned()
            .unwrap_or_else(|| panic!("no blob {path}; have {:?}", self.paths()))
    }

    pub fn warnings(&self) -> Vec<Warning> {
        let mut w = self.warnings.lock().unwrap().clone();
        w.sort();
        w
    }

    /// `true` when some warning at `path` contains `needle`.
    pub fn warned(&self, path: &str, needle: &str) -> bool {
        self.warnings
            .lock()
            .unwrap()
            .iter()
            .any(|w| w.path == path && w.message.contains(needle))
    }
}

/// A zip of `(name, content)` entries, deflated.
pub fn zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(true);
    for (name, data) in entries {
        w.start_file(*name, opts).unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// A zip of `(name, content)` entries, stored (not compressed).
pub fn zip_stored(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, data) in entries {
        w.start_file(*name, opts).unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// A ustar archive of `(name, content)` regular files.
pub fn tar(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in entries {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, name, *data).unwrap();
    }
    b.into_inner().unwrap()
}

/// Gzip `data`, storing `name` in the header when given.
pub fn gzip(data: &[u8], name: Option<&str>) -> Vec<u8> {
    let mut builder = flate2::GzBuilder::new();
    if let Some(n) = name {
        builder = builder.filename(n);
    }
    let mut e = builder.write(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// Bytes that do not compress (xorshift), so archive sizes are real.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}
