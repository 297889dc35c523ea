//! Per-request cost of the extraction detectors on the guard benchmark's prompt, with the key's
//! window full of the same prompt (a sweep: every request hits) and of varied prompts.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use lantern_guard::config::DetectConfig;
use lantern_guard::detect::Detectors;

const PROMPT: &str =
    "Summarise the plot of a short story about a lighthouse keeper in two sentences.";

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("detectors_observe");
    let same = Detectors::new(DetectConfig::default());
    for _ in 0..100 {
        same.observe_hits("k", PROMPT, false, 0);
    }
    g.bench_function("window_of_same_prompt", |b| {
        b.iter(|| same.observe_hits("k", black_box(PROMPT), false, 0))
    });
    let varied = Detectors::new(DetectConfig::default());
    let prompts: Vec<String> = (0..64)
        .map(|i| {
            format!(
                "question {i}: explain topic number {} in plain words please",
                i * 7919
            )
        })
        .collect();
    for p in &prompts {
        varied.observe_hits("k", p, false, 0);
    }
    let mut i = 0;
    g.bench_function("window_of_varied_prompts", |b| {
        b.iter(|| {
            i = (i + 1) % prompts.len();
            varied.observe_hits("k", black_box(&prompts[i]), false, 0)
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
