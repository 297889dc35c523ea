//! Throughput of `Scanner::scan` with every bundled rule over a generated source-like corpus
//! (64 MiB by default, `LANTERN_BENCH_MB` to change) with a few planted secrets.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use lantern_core::Location;
use lantern_secrets::{RuleSet, Scanner};

#[path = "corpus.rs"]
mod corpus;
use corpus::corpus;

fn bench(c: &mut Criterion) {
    let mb: usize = std::env::var("LANTERN_BENCH_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64);
    let data = corpus(mb << 20);
    let rules = match RuleSet::builtin() {
        Ok(r) => r,
        Err(e) => panic!("bundled rules: {e}"),
    };
    let n_rules = rules.len();
    let scanner = match Scanner::new(rules, &[]) {
        Ok(s) => s,
        Err(e) => panic!("scanner: {e}"),
    };
    let loc = Location::path("corpus.txt");
    let found = scanner.scan(&data, &loc).findings.len();
    eprintln!(
        "corpus {} bytes, {n_rules} rules, {found} findings",
        data.len()
    );
    let mut g = c.benchmark_group("scan");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.bench_function(format!("source_corpus_{mb}MiB_all_rules"), |b| {
        b.iter(|| scanner.scan(&data, &loc))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
