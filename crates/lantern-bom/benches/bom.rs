//! Criterion benchmarks for the hot parsers of `lantern bom`: reference scanning of source
//! files, package-lock parsing and safetensors header parsing.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use lantern_bom::{lockfiles::node, refs, safetensors};

fn source_corpus() -> String {
    let mut s = String::new();
    for i in 0..2000 {
        s.push_str(&format!(
            "def step_{i}(x):\n    y = compute(x, {i})  # ordinary code\n    return y * 2\n"
        ));
        if i % 100 == 0 {
            s.push_str(&format!(
                "m{i} = AutoModel.from_pretrained(\"org-{i}/model-{i}\", revision=\"main\")\n"
            ));
        }
    }
    s
}

fn package_lock(n: usize) -> String {
    let mut packages = serde_json::Map::new();
    packages.insert(
        "".into(),
        serde_json::json!({"name": "app", "dependencies": {"pkg-0": "^1"}}),
    );
    for i in 0..n {
        packages.insert(
            format!("node_modules/pkg-{i}"),
            serde_json::json!({"version": format!("1.{i}.0"), "integrity": "sha512-AAECAwQFBgcICQ==", "dependencies": {"pkg-1": "^1"}}),
        );
    }
    serde_json::json!({"lockfileVersion": 3, "packages": packages}).to_string()
}

fn safetensors_header(n: usize) -> Vec<u8> {
    let mut h = serde_json::Map::new();
    let mut off = 0u64;
    for i in 0..n {
        h.insert(
            format!("model.layers.{i}.weight"),
            serde_json::json!({"dtype": "F16", "shape": [64, 64], "data_offsets": [off, off + 8192]}),
        );
        off += 8192;
    }
    serde_json::to_vec(&h).unwrap_or_default()
}

fn benches(c: &mut Criterion) {
    let src = source_corpus();
    let mut g = c.benchmark_group("bom");
    g.throughput(Throughput::Bytes(src.len() as u64));
    g.bench_function("refs_scan_python", |b| {
        b.iter(|| refs::scan_text("train.py", black_box(&src)))
    });
    let lock = package_lock(2000);
    g.throughput(Throughput::Bytes(lock.len() as u64));
    g.bench_function("package_lock_v3_2000", |b| {
        b.iter(|| node::parse_package_lock(black_box(&lock)))
    });
    let header = safetensors_header(1000);
    g.throughput(Throughput::Bytes(header.len() as u64));
    g.bench_function("safetensors_header_1000", |b| {
        b.iter(|| safetensors::parse_header(black_box(&header), 1000 * 8192))
    });
    g.finish();
}

criterion_group!(bom, benches);
criterion_main!(bom);
