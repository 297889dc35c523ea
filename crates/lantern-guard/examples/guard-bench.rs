//! A lean binary of the gateway for benchmarks on busy machines: the same library code as
//! `lantern guard`, without building the rest of the `lantern` CLI.
//!
//! usage: guard-bench serve CONFIG THREADS | mock ADDR THREADS | key KEYS_FILE | index DIR OUT

use lantern_guard::keys::{KeyStore, NewKey};
use std::path::Path;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize| args.get(i).cloned().unwrap_or_default();
    match arg(1).as_str() {
        "serve" => {
            let cfg = lantern_guard::GuardConfig::load(Path::new(&arg(2)))?;
            lantern_guard::serve_blocking(cfg, arg(3).parse().ok())?;
        }
        "mock" => lantern_guard::mock::serve_blocking(&arg(2), arg(3).parse().unwrap_or(1))?,
        "key" => {
            let mut s = KeyStore::load(Path::new(&arg(2)))?;
            let (token, _) = s.create(
                NewKey {
                    owner: "bench".into(),
                    ..NewKey::default()
                },
                lantern_guard::keys::now_secs(),
            )?;
            s.save()?;
            println!("{token}");
        }
        "index" => {
            let (idx, _) = lantern_guard::ngram::build_dir(
                Path::new(&arg(2)),
                lantern_guard::ngram::DEFAULT_N,
            )?;
            idx.save(Path::new(&arg(3)))?;
        }
        _ => {
            eprintln!("usage: guard-bench serve CONFIG THREADS | mock ADDR THREADS | key KEYS_FILE | index DIR OUT");
            std::process::exit(2);
        }
    }
    Ok(())
}
