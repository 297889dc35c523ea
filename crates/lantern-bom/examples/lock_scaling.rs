//! BOM time against lockfile size: writes a package-lock.json (v3), a Cargo.lock and a
//! poetry.lock of N packages each into a temp dir and times `lantern_bom::generate` on each.
//! Usage: `cargo run --release -p lantern-bom --example lock_scaling -- 4000 16000 120000`.

#![allow(clippy::unwrap_used)]

use std::fmt::Write as _;

// The allocator of the `lantern` binary: most of the time on large locks is allocation.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::time::Instant;

fn package_lock(n: usize) -> String {
    let mut s = String::from(
        "{\n  \"name\": \"app\",\n  \"version\": \"1.0.0\",\n  \"lockfileVersion\": 3,\n  \"requires\": true,\n  \"packages\": {\n    \"\": {\n      \"name\": \"app\",\n      \"dependencies\": {\n        \"pkg-0\": \"^1.0.0\"\n      }\n    }",
    );
    for i in 0..n {
        let _ = write!(
            s,
            ",\n    \"node_modules/pkg-{i}\": {{\n      \"version\": \"1.0.{i}\",\n      \"resolved\": \"https://registry.npmjs.org/pkg-{i}/-/pkg-{i}-1.0.{i}.tgz\",\n      \"integrity\": \"sha512-AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+Pw==\",\n      \"dependencies\": {{\n        \"pkg-{}\": \"^1.0.0\"\n      }}\n    }}",
            (i + 1) % n
        );
    }
    s.push_str("\n  }\n}\n");
    s
}

fn cargo_lock(n: usize) -> String {
    let mut s = String::from("version = 4\n\n[[package]]\nname = \"app\"\nversion = \"0.1.0\"\ndependencies = [\n \"crate-0\",\n]\n");
    for i in 0..n {
        let _ = write!(
            s,
            "\n[[package]]\nname = \"crate-{i}\"\nversion = \"1.0.{i}\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \"{:064x}\"\n",
            i
        );
    }
    s
}

fn poetry_lock(n: usize) -> String {
    let mut s = String::new();
    for i in 0..n {
        let _ = write!(
            s,
            "[[package]]\nname = \"pkg-{i}\"\nversion = \"1.0.{i}\"\ndescription = \"\"\noptional = false\npython-versions = \">=3.8\"\nfiles = [\n    {{file = \"pkg_{i}-1.0.{i}-py3-none-any.whl\", hash = \"sha256:{:064x}\"}},\n]\n\n",
            i
        );
    }
    s.push_str(
        "[metadata]\nlock-version = \"2.0\"\npython-versions = \"^3.10\"\ncontent-hash = \"0\"\n",
    );
    s
}

/// CPU time of this thread in seconds (Linux `schedstat`), which unlike wall time does not
/// depend on how many other jobs share the machine; `None` elsewhere.
fn cpu_secs() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: f64 = s.split_whitespace().next()?.parse().ok()?;
    Some(ns / 1e9)
}

fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![4_000, 16_000, 32_000, 120_000]
    } else {
        sizes
    };
    println!(
        "| lockfile | packages | size (MB) | components | inventory (s) | + CycloneDX JSON (s) | CPU, both (s) |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for &n in &sizes {
        for (name, text) in [
            ("package-lock.json", package_lock(n)),
            ("Cargo.lock", cargo_lock(n)),
            ("poetry.lock", poetry_lock(n)),
        ] {
            let d = tempfile::tempdir().unwrap();
            std::fs::write(d.path().join(name), &text).unwrap();
            let (t, cpu0) = (Instant::now(), cpu_secs());
            let (inv, _) = lantern_bom::generate(d.path(), None).unwrap();
            let secs = t.elapsed().as_secs_f64();
            let json = lantern_bom::cyclonedx::to_json(&inv, &lantern_bom::Stamp::now());
            let total = t.elapsed().as_secs_f64();
            let cpu = match (cpu0, cpu_secs()) {
                (Some(a), Some(b)) => format!("{:.2}", b - a),
                _ => "-".into(),
            };
            assert!(json.len() > text.len() / 4);
            println!(
                "| {name} | {n} | {:.1} | {} | {secs:.2} | {total:.2} | {cpu} |",
                text.len() as f64 / 1e6,
                inv.components.len()
            );
        }
    }
}
