//! Criterion benchmarks of the hot paths: the symbolic pickle VM on a torch-style state dict
//! (thousands of tensors, memoized globals, as torch.save writes them) and format detection.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use lantern_core::Location;
use lantern_models::{detect, pickle, scan_bytes, Policy};

fn unicode(p: &mut Vec<u8>, s: &str) {
    p.push(b'X');
    p.extend_from_slice(&(s.len() as u32).to_le_bytes());
    p.extend_from_slice(s.as_bytes());
}

/// An OrderedDict of `n` tensors in protocol 2, globals memoized and fetched with BINGET.
fn state_dict(n: u32) -> Vec<u8> {
    let mut p = b"\x80\x02ccollections\nOrderedDict\nq\x00)Rq\x01(".to_vec();
    p.extend_from_slice(b"ctorch._utils\n_rebuild_tensor_v2\nq\x020");
    p.extend_from_slice(b"ctorch\nFloatStorage\nq\x030");
    for i in 0..n {
        unicode(&mut p, &format!("layers.{i}.weight"));
        p.extend_from_slice(b"h\x02((");
        unicode(&mut p, "storage");
        p.extend_from_slice(b"h\x03");
        unicode(&mut p, &i.to_string());
        unicode(&mut p, "cpu");
        p.extend_from_slice(
            b"M\x00\x10tQK\x00K@K@\x86K@K\x01\x86\x89ccollections\nOrderedDict\n)Rtr",
        );
        p.extend_from_slice(&(i + 4).to_le_bytes());
        p.push(b'R');
    }
    p.extend_from_slice(b"u.");
    p
}

fn bench(c: &mut Criterion) {
    let small = state_dict(500);
    c.bench_function("pickle/analyse_state_dict_500_tensors", |b| {
        b.iter(|| pickle::analyse(std::hint::black_box(&small)))
    });
    let sd = state_dict(5000);
    let mut g = c.benchmark_group("pickle");
    g.throughput(Throughput::Bytes(sd.len() as u64));
    g.bench_function("analyse_state_dict_5000_tensors", |b| {
        b.iter(|| pickle::analyse(std::hint::black_box(&sd)))
    });
    let loc = Location::path("model.pkl");
    let policy = Policy::default();
    g.bench_function("scan_bytes_state_dict_5000_tensors", |b| {
        b.iter(|| scan_bytes(std::hint::black_box(&sd), &loc, &policy))
    });
    g.finish();
    let head = vec![0u8; 64 * 1024];
    c.bench_function("detect_64k_non_model", |b| {
        b.iter(|| detect(std::hint::black_box(&head), "data.bin"))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
