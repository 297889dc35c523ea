//! Fuzzes PEM key parsing (PKCS#8, encrypted PKCS#8, SEC1, SPKI) of untrusted key files.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = lantern_sign::SigningKey::from_pem(s, "fuzz");
        // Encrypted keys: parameter parsing and the KDF cost bound run before any decryption.
        let _ = lantern_sign::SigningKey::from_pem_with_password(s, "fuzz", Some(b"pw"));
        if let Ok(k) = lantern_sign::VerifyingKey::from_pem(s, "fuzz") {
            let _ = k.hint();
        }
    }
    let _ = lantern_sign::VerifyingKey::from_spki_der(data, "fuzz");
});
