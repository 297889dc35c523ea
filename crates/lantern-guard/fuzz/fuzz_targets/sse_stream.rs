//! Fuzzes the SSE filter with arbitrary upstream bytes split at arbitrary points, in redact mode
//! with and without logprob rounding (without it, events go through the one-pass chunk reader):
//! no panic, and the one buffer `push_frame` returns per read (a slice of the read when it can)
//! holds what `push` returns in pieces.
#![no_main]

use lantern_guard::config::{Action, HardeningConfig, MonitorConfig};
use lantern_guard::monitor::Monitor;
use lantern_guard::sse::SseFilter;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn monitor() -> &'static Monitor {
    static M: OnceLock<Monitor> = OnceLock::new();
    M.get_or_init(|| {
        let cfg = MonitorConfig { canaries: vec!["CANARY-x1".into()], ..MonitorConfig::default() };
        Monitor::new(&cfg, None).unwrap_or_else(|e| panic!("{e}"))
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&step, rest)) = data.split_first() else { return };
    let hard = HardeningConfig::default();
    for (action, hardening) in [
        (Action::Redact, Some(&hard)),
        (Action::Block, Some(&hard)),
        (Action::Log, Some(&hard)),
        (Action::Redact, None),
        (Action::Block, None),
    ] {
        let mut f = SseFilter::new(monitor(), action, 32, hardening);
        let mut g = SseFilter::new(monitor(), action, 32, hardening);
        for chunk in rest.chunks(usize::from(step % 31) + 1) {
            let pieces = f.push(chunk).concat();
            let joined = g.push_frame(&bytes::Bytes::copy_from_slice(chunk)).unwrap_or_default();
            assert_eq!(pieces, joined.as_ref());
        }
        assert_eq!(f.finish().concat(), g.finish().concat());
    }
});
