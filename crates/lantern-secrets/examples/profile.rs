//! Rule profiler: `cargo run --release -p lantern-secrets --example profile [FILE...]` prints,
//! for the bundled rules over the given files (or the benchmark corpus), the scan throughput,
//! the keyword-pass time, the most frequent keywords and the rules costing the most regex time.
//! Rule authors use it to spot bad keywords. `--write-corpus PATH MIB` writes the benchmark
//! corpus to a file instead; `--scan-only FILE...` loads the rules once and scans, without the
//! profiling passes (both used by `bench/secrets.sh`).

use lantern_secrets::{RuleSet, Scanner};
use std::time::Instant;

#[path = "../benches/corpus.rs"]
mod corpus;

fn main() {
    let mut files: Vec<String> = std::env::args().skip(1).collect();
    // `--scan-only`: load the rules once and scan, without the profiling passes (benchmarks).
    let scan_only = files.first().map(String::as_str) == Some("--scan-only");
    if scan_only {
        files.remove(0);
    }
    if files.first().map(String::as_str) == Some("--write-corpus") {
        let path = files.get(1).cloned().unwrap_or_else(|| "corpus.txt".into());
        let mib: usize = files.get(2).and_then(|m| m.parse().ok()).unwrap_or(64);
        if let Err(e) = std::fs::write(&path, corpus::corpus(mib << 20)) {
            eprintln!("{path}: {e}");
            std::process::exit(2);
        }
        return;
    }
    let data = if files.is_empty() {
        corpus::corpus(64 << 20)
    } else {
        let mut d = Vec::new();
        for f in &files {
            match std::fs::read(f) {
                Ok(b) => d.extend_from_slice(&b),
                Err(e) => eprintln!("{f}: {e}"),
            }
        }
        d
    };
    if !scan_only {
        let t = Instant::now();
        match RuleSet::builtin_checked() {
            Ok(r) => println!(
                "compiled {} regexes and ran every example in {:.3}s",
                r.len(),
                t.elapsed().as_secs_f64()
            ),
            Err(e) => println!("bundled rules fail their checks: {e}"),
        }
    }
    let t = Instant::now();
    let rules = match RuleSet::builtin() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let n = rules.len();
    let scanner = match Scanner::new(rules, &[]) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    println!(
        "loaded {n} rules in {:.3}s (regexes compile on first keyword hit)",
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let out = scanner.scan(&data, &lantern_core::Location::path("corpus"));
    let el = t.elapsed();
    println!(
        "scan: {} bytes in {:.3}s = {:.1} MiB/s, {} findings",
        data.len(),
        el.as_secs_f64(),
        data.len() as f64 / (1 << 20) as f64 / el.as_secs_f64(),
        out.findings.len()
    );
    let mut distinct: Vec<(String, Option<String>)> = out
        .findings
        .iter()
        .map(|f| (f.rule_id.clone(), f.secret.clone()))
        .collect();
    distinct.sort();
    distinct.dedup();
    println!("distinct (rule, secret): {}", distinct.len());
    for (r, s) in &distinct {
        println!(
            "  {r} {}",
            s.as_deref()
                .map(lantern_core::finding::redact)
                .unwrap_or_default()
        );
    }
    if scan_only {
        return;
    }
    let p = scanner.profile(&data);
    println!(
        "keyword pass: {} hits in {:?}",
        p.keyword_hits, p.keyword_pass
    );
    println!("keyword pass + windows: {:?}", p.window_pass);
    for (k, n) in &p.top_keywords {
        println!("{n:>10} hits  {k:?}");
    }
    for r in p.rules.iter().take(25) {
        println!(
            "{:>10.1?} {:>8} windows {:>12} bytes {:>6} matches  {}",
            r.regex_time, r.windows, r.bytes, r.matches, r.rule_id
        );
    }
}
