//! Deterministic source-like corpus shared by the benchmark and the profiler example.

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
#[allow(dead_code)]
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
