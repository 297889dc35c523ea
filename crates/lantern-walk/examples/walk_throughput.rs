//! Walk throughput: walk paths (or a repository's history with `--git`) with a visitor that
//! only counts, and print blobs, bytes, warnings and wall time. Used by `bench/walk.sh`.
//!
//! Usage: `walk_throughput [--git] [--no-archives] [--no-ignore] [--threads N] PATH...`

use lantern_core::Warning;
use lantern_walk::{walk_git, walk_paths, Blob, Visitor, WalkOptions};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

#[derive(Default)]
struct Count {
    blobs: AtomicU64,
    bytes: AtomicU64,
    partial: AtomicU64,
    warnings: AtomicU64,
}

impl Visitor for Count {
    fn blob(&self, b: Blob) {
        self.blobs.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(b.data.len() as u64, Ordering::Relaxed);
        if b.partial {
            self.partial.fetch_add(1, Ordering::Relaxed);
        }
    }
    fn warning(&self, _w: Warning) {
        self.warnings.fetch_add(1, Ordering::Relaxed);
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut opts = WalkOptions::default();
    let mut git = false;
    let mut paths = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--git" => git = true,
            "--no-archives" => opts.expand_archives = false,
            "--no-ignore" => opts.no_ignore = true,
            "--threads" => opts.threads = args.next().ok_or("--threads needs a value")?.parse()?,
            _ => paths.push(PathBuf::from(a)),
        }
    }
    if paths.is_empty() {
        return Err(
            "usage: walk_throughput [--git] [--no-archives] [--no-ignore] [--threads N] PATH..."
                .into(),
        );
    }
    let c = Count::default();
    let t = Instant::now();
    if git {
        for p in &paths {
            walk_git(p, &opts, &c)?;
        }
    } else {
        walk_paths(&paths, &opts, &c)?;
    }
    let ms = t.elapsed().as_secs_f64() * 1000.0;
    let bytes = c.bytes.load(Ordering::Relaxed);
    println!(
        "blobs={} bytes={} partial={} warnings={} ms={:.0} MiB/s={:.1}",
        c.blobs.load(Ordering::Relaxed),
        bytes,
        c.partial.load(Ordering::Relaxed),
        c.warnings.load(Ordering::Relaxed),
        ms,
        bytes as f64 / 1048576.0 / (ms / 1000.0)
    );
    Ok(())
}
