//! Fuzzes what the gateway does with a client's JSON body: hardening, prompt extraction, the
//! token estimate, the extraction detectors and output monitoring/redaction of the same text.
#![no_main]

use lantern_guard::config::{DetectConfig, HardeningConfig, MonitorConfig};
use lantern_guard::detect::Detectors;
use lantern_guard::monitor::{redact, Monitor};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn state() -> &'static (Monitor, Detectors) {
    static S: OnceLock<(Monitor, Detectors)> = OnceLock::new();
    S.get_or_init(|| {
        let m = Monitor::new(&MonitorConfig { canaries: vec!["CANARY-x1".into()], ..MonitorConfig::default() }, None)
            .unwrap_or_else(|e| panic!("{e}"));
        (m, Detectors::new(DetectConfig::default()))
    })
}

fuzz_target!(|data: &[u8]| {
    let (monitor, det) = state();
    if let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = lantern_guard::harden::harden_request(&mut v, &HardeningConfig::default());
        let _ = lantern_guard::harden::round_logprobs(&mut v, &HardeningConfig::default());
        let p = lantern_guard::proxy::prompt_text(&v);
        let _ = lantern_guard::proxy::estimate_tokens(&p);
        let _ = det.observe("fuzz", &p, false, 0);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = det.observe("fuzz", text, true, 60);
        let hits = monitor.scan(text);
        let out = redact(text, &hits);
        // redaction removes every non-overlapping canary it was told about
        if hits.iter().all(|h| h.rule == "canary") && !hits.is_empty() {
            assert!(!out.contains("CANARY-x1") || text.matches("CANARY-x1").count() > hits.len());
        }
    }
});
