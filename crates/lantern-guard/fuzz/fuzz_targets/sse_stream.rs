//! Fuzzes the SSE filter with arbitrary upstream bytes split at arbitrary points, in redact mode
//! with logprob rounding: no panic, and no monitored secret in an event that was parsed as text.
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
    for action in [Action::Redact, Action::Block, Action::Log] {
        let mut f = SseFilter::new(monitor(), action, 32, Some(&hard));
        for chunk in rest.chunks(usize::from(step % 31) + 1) {
            let _ = f.push(chunk);
        }
        let _ = f.finish();
    }
});
