//! Hot paths of the inputs crate: expanding an npm-like tarball and a wheel in memory, splitting
//! a notebook, and the binary sniff every blob goes through.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use lantern_core::{Location, Warning};
use lantern_walk::{expand_bytes, is_binary, Blob, Visitor, WalkOptions};
use std::hint::black_box;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};

struct Count(AtomicU64);

impl Visitor for Count {
    fn blob(&self, b: Blob) {
        self.0.fetch_add(b.data.len() as u64, Ordering::Relaxed);
    }
    fn warning(&self, _w: Warning) {}
}

/// Source-like text: lines of identifiers, 40 bytes on average.
fn text(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len + 64);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let _ = writeln!(
            out,
            "const v{} = require('m{}'); // {}",
            x % 997,
            x % 89,
            x % 7
        );
    }
    out
}

fn tgz() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for i in 0..200 {
        let data = text(8 * 1024, i);
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, format!("package/dist/f{i}.js"), data.as_slice())
            .unwrap_or_default();
    }
    let tar = b.into_inner().unwrap_or_default();
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(&tar).unwrap_or_default();
    e.finish().unwrap_or_default()
}

fn wheel() -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for i in 0..200 {
        if w.start_file(format!("pkg/m{i}.py"), opts).is_ok() {
            w.write_all(&text(8 * 1024, i + 1000)).unwrap_or_default();
        }
    }
    w.finish().map(|c| c.into_inner()).unwrap_or_default()
}

fn notebook() -> Vec<u8> {
    let cells: Vec<String> = (0..300)
        .map(|i| {
            let src = String::from_utf8_lossy(&text(2048, i)).replace('\n', "\\n");
            format!(
                r#"{{"cell_type":"code","metadata":{{}},"source":"{src}","outputs":[{{"output_type":"stream","name":"stdout","text":["ok {i}\n"]}}]}}"#
            )
        })
        .collect();
    format!(
        r#"{{"nbformat":4,"nbformat_minor":5,"metadata":{{}},"cells":[{}]}}"#,
        cells.join(",")
    )
    .into_bytes()
}

fn bench(c: &mut Criterion) {
    let opts = WalkOptions::default();
    let mut g = c.benchmark_group("expand");
    for (name, path, data) in [
        ("npm-tgz", "pkg.tgz", tgz()),
        ("wheel", "pkg.whl", wheel()),
        ("notebook", "nb.ipynb", notebook()),
    ] {
        let v = Count(AtomicU64::new(0));
        expand_bytes(&Location::path(path), &data, &opts, &v);
        // Throughput in bytes delivered (decompressed), the work the analysers see.
        g.throughput(Throughput::Bytes(v.0.load(Ordering::Relaxed)));
        let loc = Location::path(path);
        g.bench_function(name, |b| {
            b.iter(|| {
                let v = Count(AtomicU64::new(0));
                expand_bytes(&loc, black_box(&data), &opts, &v);
                v.0.load(Ordering::Relaxed)
            })
        });
    }
    g.finish();
    let src = text(1 << 20, 42);
    let mut g = c.benchmark_group("sniff");
    g.throughput(Throughput::Bytes(8 * 1024));
    g.bench_function("is_binary-text", |b| b.iter(|| is_binary(black_box(&src))));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
