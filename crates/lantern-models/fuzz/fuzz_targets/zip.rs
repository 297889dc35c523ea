//! Fuzz target: zip reader (central directory and local-header recovery) on torch checkpoints
#![no_main]

#[path = "../common.rs"]
mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| common::scan_with_magic(b"PK\x03\x04", data, "fuzz.pt"));
