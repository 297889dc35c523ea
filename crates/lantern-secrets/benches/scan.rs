//! Throughput of `Scanner::scan` with every bundled rule over a generated source-like corpus
//! (64 MiB by default, `LANTERN_BENCH_MB` to change) with a few planted secrets.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use lantern_core::Location;
use lantern_secrets::{RuleSet, Scanner};

/// Deterministic xorshift so the corpus is the same on every run.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[(self.next() % xs.len() as u64) as usize]
    }
}

/// Source-like text: Python, Rust, JS, YAML and JSON lines with identifiers, strings, numbers,
/// hex hashes and base64 blobs, with a planted secret every ~1 MiB.
pub fn corpus(bytes: usize) -> Vec<u8> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let idents = [
        "config",
        "request",
        "response",
        "handler",
        "model",
        "tensor",
        "dataset",
        "client",
        "session",
        "buffer",
        "index",
        "value",
        "result",
        "token_count",
        "layer",
        "weights",
        "optimizer",
        "scheduler",
        "batch",
        "logger",
        "path",
        "url",
        "headers",
        "payload",
    ];
    let templates = [
        "def {a}_{b}(self, {c}):\n    return self.{a}.{b}({c}, timeout=30)\n",
        "    let {a} = {b}.iter().map(|x| x.{c}()).collect::<Vec<_>>();\n",
        "const {a} = await fetch(`${{base}}/{b}/{c}`, {{ method: 'POST' }});\n",
        "{a}:\n  {b}: {c}\n  replicas: 3\n  image: registry.local/{a}:{n}\n",
        "  \"{a}\": {{\"{b}\": \"{c}\", \"id\": {n}, \"sha256\": \"{h}\"}},\n",
        "# {a} {b} {c}: see docs/{a}.md for details about the {b} pipeline\n",
        "    assert {a}.{b} == {n}, f\"unexpected {c}: {{{a}}}\"\n",
        "    data = \"{h}{h}\"\n",
    ];
    let secrets = [
        "GITHUB_TOKEN=ghp_Zq3Lr8VbN1xYt5KwPm0Hs7DcFg2Ja91iZK8h\n",
        "aws_access_key_id = AKIAZ7QK3LMN4PRS2TUV\naws_secret_access_key = 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\n",
        "DATABASE_URL=postgres://app:S3cr3tPassw0rd9@db.internal:5432/app\n",
    ];
    let hexd = b"0123456789abcdef";
    let mut out = Vec::with_capacity(bytes + 4096);
    let mut next_secret = 1 << 20;
    while out.len() < bytes {
        let t = rng.pick(&templates);
        let mut h = String::with_capacity(64);
        for _ in 0..64 {
            h.push(hexd[(rng.next() % 16) as usize] as char);
        }
        let line = t
            .replace("{a}", rng.pick(&idents))
            .replace("{b}", rng.pick(&idents))
            .replace("{c}", rng.pick(&idents))
            .replace("{n}", &(rng.next() % 100_000).to_string())
            .replace("{h}", &h);
        out.extend_from_slice(line.as_bytes());
        if out.len() >= next_secret {
            out.extend_from_slice(rng.pick(&secrets).as_bytes());
            next_secret += 1 << 20;
        }
    }
    out
}

fn bench(c: &mut Criterion) {
    let mb: usize = std::env::var("LANTERN_BENCH_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64);
    let data = corpus(mb << 20);
    let rules = match RuleSet::builtin() {
        Ok(r) => r,
        Err(e) => panic!("bundled rules: {e}"),
    };
    let n_rules = rules.len();
    let scanner = match Scanner::new(rules, &[]) {
        Ok(s) => s,
        Err(e) => panic!("scanner: {e}"),
    };
    let loc = Location::path("corpus.txt");
    let found = scanner.scan(&data, &loc).findings.len();
    eprintln!(
        "corpus {} bytes, {n_rules} rules, {found} findings",
        data.len()
    );
    let mut g = c.benchmark_group("scan");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.bench_function(format!("source_corpus_{mb}MiB_all_rules"), |b| {
        b.iter(|| scanner.scan(&data, &loc))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
