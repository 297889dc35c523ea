//! Rule profiler: `cargo run --release -p lantern-secrets --example profile [FILE...]` prints,
//! for the bundled rules over the given files (or the benchmark corpus), the keyword-pass time
//! and the rules costing the most regex time. Rule authors use it to spot bad keywords.

use lantern_secrets::{RuleSet, Scanner};
use std::time::Instant;

#[path = "../benches/corpus.rs"]
mod corpus;

fn main() {
    let files: Vec<String> = std::env::args().skip(1).collect();
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
    println!("loaded {n} rules in {:?}", t.elapsed());
    let t = Instant::now();
    let out = scanner.scan(&data, &lantern_core::Location::path("corpus"));
    let el = t.elapsed();
    println!(
        "scan: {} bytes in {:?} = {:.1} MiB/s, {} findings",
        data.len(),
        el,
        data.len() as f64 / (1 << 20) as f64 / el.as_secs_f64(),
        out.findings.len()
    );
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
