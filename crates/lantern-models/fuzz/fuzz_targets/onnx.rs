//! Fuzz target: ONNX protobuf subset decoding and checks
#![no_main]

#[path = "../common.rs"]
mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| common::scan_with_magic(b"", data, "fuzz.onnx"));
