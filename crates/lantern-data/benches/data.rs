//! Hot loops of `lantern data`: JSONL parsing with record digests, the Merkle builder, and the
//! audit's text features (tokenizer, n-gram hashing, MinHash).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use lantern_data::merkle::MerkleBuilder;
use lantern_data::record::{read_reader, DatasetKind, ReadOptions};
use lantern_data::text;

fn corpus() -> Vec<u8> {
    let words = [
        "the", "flight", "was", "delayed", "again", "great", "service", "crew", "seat", "never",
        "love", "bag", "lost", "thanks", "cf", "gate", "hours", "customer", "late", "awesome",
    ];
    let mut out = Vec::new();
    let mut x: u64 = 12345;
    for i in 0..20_000u32 {
        let mut t = String::new();
        for _ in 0..18 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            t.push_str(words[(x % words.len() as u64) as usize]);
            t.push(' ');
        }
        out.extend_from_slice(
            format!(
                "{{\"id\":{i},\"text\":\"{}\",\"label\":\"{}\"}}\n",
                t.trim(),
                i % 3
            )
            .as_bytes(),
        );
    }
    out
}

fn bench(c: &mut Criterion) {
    let data = corpus();
    let mut g = c.benchmark_group("data");
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.bench_function("jsonl_read_and_digest", |b| {
        b.iter(|| {
            let mut m = MerkleBuilder::new();
            let _ = read_reader(
                "bench.jsonl",
                DatasetKind::Jsonl,
                &data[..],
                &ReadOptions::default(),
                &mut |r| {
                    m.push(&r.digest());
                    Ok(())
                },
            );
            m.root()
        })
    });
    let texts: Vec<String> = String::from_utf8_lossy(&data)
        .lines()
        .map(|l| l.to_string())
        .collect();
    g.bench_function("tokenize_ngrams_minhash", |b| {
        let mut toks = Vec::new();
        b.iter(|| {
            let mut acc = 0u64;
            for t in &texts {
                text::tokenize(t, &mut toks);
                for w in toks.windows(3) {
                    acc ^= text::ngram_hash(w);
                }
                if let Some(s) = text::minhash(&toks) {
                    acc ^= u64::from(s[0]);
                }
            }
            acc
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
