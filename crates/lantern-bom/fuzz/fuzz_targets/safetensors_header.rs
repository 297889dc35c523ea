//! Fuzz the bounded safetensors header parser with arbitrary files.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(info) = lantern_bom::safetensors::parse(data, data.len() as u64) {
        // A parsed header never claims more tensors than it has entries.
        assert!(info.tensors as usize <= data.len());
    }
    let _ = lantern_bom::safetensors::parse_header(data, u64::MAX);
});
