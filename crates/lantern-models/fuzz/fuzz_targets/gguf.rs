//! Fuzz target: GGUF header/metadata parser
#![no_main]

#[path = "../common.rs"]
mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| common::scan_with_magic(b"GGUF", data, "fuzz.gguf"));
