//! Fuzzes certificate-chain validation: the input is split into DER certificates
//! (2-byte big-endian length prefixes) and validated against a fixed test root.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

static STORE: OnceLock<lantern_sign::cert::TrustStore> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let store = STORE.get_or_init(|| {
        let pem = include_bytes!("../../tests/data/cert_root.pem");
        let roots = lantern_sign::cert::parse_pem_certificates(pem, "root").expect("root");
        lantern_sign::cert::TrustStore::from_certificates(roots)
    });
    let mut chain = Vec::new();
    let mut rest = data;
    while rest.len() >= 2 && chain.len() < 8 {
        let n = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        let end = (2 + n).min(rest.len());
        chain.push(rest[2..end].to_vec());
        rest = &rest[end..];
    }
    let _ = store.verify_chain(&chain, "fuzz");
    let _ = lantern_sign::cert::parse_pem_certificates(data, "fuzz");
});
