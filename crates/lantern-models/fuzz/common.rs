//! Shared body of the fuzz targets that scan a blob: the fuzzer's bytes after a format magic,
//! through `scan_bytes` under a name that hints the format.

use lantern_core::Location;
use lantern_models::{scan_bytes, Policy};

/// Scan `magic` followed by `data` as the file `name`.
pub fn scan_with_magic(magic: &[u8], data: &[u8], name: &str) {
    let mut blob = Vec::with_capacity(data.len() + magic.len());
    blob.extend_from_slice(magic);
    blob.extend_from_slice(data);
    let _ = scan_bytes(&blob, &Location::path(name), &Policy::default());
}
