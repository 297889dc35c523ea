//! Criterion benchmarks of the hashing engine: raw SHA-256 throughput and whole-model hashing.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use lantern_sign::manifest::{hash_model, HashOptions, Method};
use lantern_sign::sha256x2::{update_pair, Sha256};
use lantern_sign::HashAlgo;

fn digest(c: &mut Criterion) {
    let data = vec![0x5au8; 16 << 20];
    let mut g = c.benchmark_group("digest_16MiB");
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.sample_size(10);
    for algo in [HashAlgo::Sha256, HashAlgo::Blake3] {
        g.bench_function(algo.name(), |b| b.iter(|| algo.digest(&data)));
    }
    g.bench_function("sha256x2_one_lane", |b| b.iter(|| Sha256::digest(&data)));
    g.finish();
    // Two 16 MiB messages hashed interleaved on one core: bytes counted for both.
    let other = vec![0xa5u8; 16 << 20];
    let mut g = c.benchmark_group("digest_2x16MiB");
    g.throughput(Throughput::Bytes(2 * data.len() as u64));
    g.sample_size(10);
    g.bench_function("sha2_one_after_the_other", |b| {
        b.iter(|| {
            (
                HashAlgo::Sha256.digest(&data),
                HashAlgo::Sha256.digest(&other),
            )
        })
    });
    g.bench_function("sha256x2_interleaved", |b| {
        b.iter(|| {
            let (mut x, mut y) = (Sha256::new(), Sha256::new());
            update_pair(&mut x, &data, &mut y, &other);
            (x.finalize(), y.finalize())
        })
    });
    g.finish();
}

fn model(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let m = dir.path().join("model");
    std::fs::create_dir(&m).expect("mkdir");
    let mut total = 0u64;
    for i in 0..2 {
        let big = vec![i as u8; 32 << 20];
        total += big.len() as u64;
        std::fs::write(m.join(format!("shard-{i}.bin")), big).expect("write");
    }
    for i in 0..200 {
        std::fs::write(m.join(format!("small-{i}.json")), format!("{{\"i\":{i}}}")).expect("write");
    }
    let mut g = c.benchmark_group("model_64MiB");
    g.throughput(Throughput::Bytes(total));
    g.sample_size(10);
    g.bench_function("files", |b| {
        b.iter(|| hash_model(&m, &HashOptions::default()).expect("hash"))
    });
    let shards = HashOptions {
        method: Method::Shards {
            shard_size: 8 << 20,
        },
        ..HashOptions::default()
    };
    g.bench_function("shards_8MiB", |b| {
        b.iter(|| hash_model(&m, &shards).expect("hash"))
    });
    g.finish();
}

criterion_group!(benches, digest, model);
criterion_main!(benches);
