//! Fuzz target: ONNX protobuf subset decoding and checks
#![no_main]

use lantern_core::Location;
use lantern_models::{scan_bytes, Policy};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut blob = Vec::with_capacity(data.len() + 8);
    blob.extend_from_slice(b"");
    blob.extend_from_slice(data);
    let _ = scan_bytes(&blob, &Location::path("fuzz.onnx"), &Policy::default());
});
