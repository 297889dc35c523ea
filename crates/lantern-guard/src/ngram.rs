//! Verbatim-regurgitation index: the set of 64-bit hashes of every N consecutive word tokens of a
//! protected corpus (`lantern guard index`), stored sorted in a compact file; in memory a
//! directory of the hashes' top bits narrows each lookup to the one or two hashes that share
//! them. A response reproducing N or more consecutive tokens of the corpus is flagged.

use crate::Error;
use std::io::{Read, Write};
use std::path::Path;

const MAGIC: &[u8; 8] = b"LGNGRAM1";
/// Default N.
pub const DEFAULT_N: usize = 8;

/// One word token (a run of alphanumeric characters) with its byte span in the source text.
pub fn tokens(text: &str) -> impl Iterator<Item = (usize, usize)> + '_ {
    let bytes = text.as_bytes();
    let mut pos = 0usize;
    // ASCII bytes are classified directly; other characters are decoded (same answer as
    // `char::is_alphanumeric` on every character, without decoding the ASCII majority)
    let class = move |i: usize| -> (bool, usize) {
        match bytes.get(i) {
            Some(b) if b.is_ascii() => (b.is_ascii_alphanumeric(), 1),
            Some(_) => match text.get(i..).and_then(|t| t.chars().next()) {
                Some(c) => (c.is_alphanumeric(), c.len_utf8()),
                None => (false, 1),
            },
            None => (false, 1),
        }
    };
    std::iter::from_fn(move || {
        while pos < bytes.len() {
            let (word, len) = class(pos);
            if word {
                let start = pos;
                pos += len;
                while pos < bytes.len() {
                    let (w, l) = class(pos);
                    if !w {
                        break;
                    }
                    pos += l;
                }
                return Some((start, pos));
            }
            pos += len;
        }
        None
    })
}

fn token_hash(t: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    if t.is_ascii() {
        // `char::to_lowercase` of an ASCII character is its ASCII lower case
        for x in t.bytes() {
            h = (h ^ u64::from(x.to_ascii_lowercase())).wrapping_mul(0x0100_0000_01b3);
        }
        return h;
    }
    for c in t.chars().flat_map(char::to_lowercase) {
        let mut b = [0u8; 4];
        for x in c.encode_utf8(&mut b).bytes() {
            h = (h ^ u64::from(x)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

fn gram_hash<'a>(toks: impl IntoIterator<Item = &'a u64>) -> u64 {
    let mut h: u64 = 0x84222325cbf29ce4;
    for t in toks {
        h = (h.rotate_left(17) ^ t).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
    h
}

/// The n-gram index.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NgramIndex {
    n: usize,
    hashes: Vec<u64>,
    /// `dir[b]..dir[b + 1]`: the range of `hashes` whose top `64 - shift` bits are `b` (about
    /// one hash per bucket, at most 2²² buckets); empty until the hashes are sorted.
    dir: Vec<u32>,
    shift: u32,
}

/// Largest N an index may have (checked when one is read).
const MAX_N: usize = 64;

/// Most top bits the directory uses (2²² buckets: 16 MiB).
const MAX_DIR_BITS: u32 = 22;

impl NgramIndex {
    /// An empty index for n-grams of `n` tokens (clamped to 2..=64).
    pub fn new(n: usize) -> Self {
        Self {
            n: n.clamp(2, MAX_N),
            ..Self::default()
        }
    }

    /// Adds every n-gram of a document.
    pub fn add_text(&mut self, text: &str) {
        let toks: Vec<u64> = tokens(text).map(|(s, e)| token_hash(&text[s..e])).collect();
        self.hashes.extend(toks.windows(self.n).map(gram_hash));
    }

    /// Sorts and deduplicates (call after the last `add_text`).
    pub fn finish(&mut self) {
        self.hashes.sort_unstable();
        self.hashes.dedup();
        self.build_dir();
    }

    /// Builds the top-bits directory over the sorted hashes.
    fn build_dir(&mut self) {
        self.dir.clear();
        let n = self.hashes.len();
        if n == 0 || u32::try_from(n).is_err() {
            return;
        }
        let bits = (usize::BITS - n.leading_zeros()).clamp(1, MAX_DIR_BITS);
        self.shift = 64 - bits;
        let buckets = 1usize << bits;
        self.dir.reserve_exact(buckets + 1);
        let mut i = 0usize;
        for b in 0..buckets {
            // first hash whose bucket is at least b
            while i < n && ((self.hashes[i] >> self.shift) as usize) < b {
                i += 1;
            }
            self.dir.push(i as u32);
        }
        self.dir.push(n as u32);
    }

    /// Whether the corpus has an n-gram of this hash.
    fn contains(&self, h: u64) -> bool {
        let b = (h >> self.shift) as usize;
        match (self.dir.get(b), self.dir.get(b + 1)) {
            (Some(&s), Some(&e)) => self.hashes[s as usize..e as usize]
                .binary_search(&h)
                .is_ok(),
            _ => self.hashes.binary_search(&h).is_ok(),
        }
    }

    /// N.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Distinct n-grams.
    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    /// Byte spans of `text` made of runs of corpus n-grams (each span covers ≥ N tokens).
    pub fn find(&self, text: &str) -> Vec<(usize, usize)> {
        let mut out: Vec<(usize, usize)> = Vec::new();
        let n = self.n;
        if n > MAX_N {
            return out;
        }
        // the last n tokens' hashes and spans, in rings (no allocation per response); `at` is
        // the slot of the oldest once the ring is full (no division per token: `n` is only
        // known at run time)
        let mut hashes = [0u64; MAX_N];
        let mut spans = [(0usize, 0usize); MAX_N];
        let mut at = 0;
        let mut seen = 0;
        for (s, e) in tokens(text) {
            hashes[at] = token_hash(&text[s..e]);
            spans[at] = (s, e);
            at = if at + 1 == n { 0 } else { at + 1 };
            seen += 1;
            if seen < n {
                continue;
            }
            let gram = gram_hash(hashes[at..n].iter().chain(&hashes[..at]));
            if self.contains(gram) {
                let (s, e) = (spans[at].0, e);
                match out.last_mut() {
                    Some(last) if s <= last.1 => last.1 = last.1.max(e),
                    _ => out.push((s, e)),
                }
            }
        }
        out
    }

    /// Writes the index file.
    pub fn save(&self, path: &Path) -> Result<(), Error> {
        let io = |e| Error::Io(lantern_core::IoError::new(path.display(), e));
        let mut buf = Vec::with_capacity(24 + 8 * self.hashes.len());
        buf.extend_from_slice(MAGIC);
        buf.extend_from_slice(&(self.n as u64).to_le_bytes());
        buf.extend_from_slice(&(self.hashes.len() as u64).to_le_bytes());
        for h in &self.hashes {
            buf.extend_from_slice(&h.to_le_bytes());
        }
        let mut f = std::fs::File::create(path).map_err(io)?;
        f.write_all(&buf).map_err(io)?;
        f.sync_all().map_err(io)
    }

    /// Reads an index file, checking its header, size and order.
    pub fn load(path: &Path) -> Result<Self, Error> {
        let io = |e| Error::Io(lantern_core::IoError::new(path.display(), e));
        let mut b = Vec::new();
        std::fs::File::open(path)
            .and_then(|mut f| f.read_to_end(&mut b))
            .map_err(io)?;
        Self::from_bytes(&b).map_err(|m| Error::Config(format!("{}: {m}", path.display())))
    }

    /// Parses index bytes.
    pub fn from_bytes(b: &[u8]) -> Result<Self, String> {
        if b.len() < 24 || &b[..8] != MAGIC {
            return Err("not a lantern n-gram index".into());
        }
        let u = |o: usize| {
            u64::from_le_bytes([
                b[o],
                b[o + 1],
                b[o + 2],
                b[o + 3],
                b[o + 4],
                b[o + 5],
                b[o + 6],
                b[o + 7],
            ])
        };
        let (n, count) = (u(8), u(16));
        if !(2..=MAX_N as u64).contains(&n) {
            return Err(format!("n-gram size {n} out of range"));
        }
        if count.checked_mul(8) != Some((b.len() - 24) as u64) {
            return Err("index length does not match its count".into());
        }
        let hashes: Vec<u64> = b[24..]
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
            .collect();
        if hashes.windows(2).any(|w| w[0] >= w[1]) {
            return Err("index is not sorted".into());
        }
        let mut idx = Self {
            n: n as usize,
            hashes,
            ..Self::default()
        };
        idx.build_dir();
        Ok(idx)
    }
}

/// Builds an index over every UTF-8 text file under `dir` (recursively, symlinks not followed).
pub fn build_dir(dir: &Path, n: usize) -> Result<(NgramIndex, u64), Error> {
    let mut idx = NgramIndex::new(n);
    let mut files = 0u64;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let rd = std::fs::read_dir(&d)
            .map_err(|e| Error::Io(lantern_core::IoError::new(d.display(), e)))?;
        for entry in rd.flatten() {
            let p = entry.path();
            let Ok(ft) = entry.file_type() else { continue };
            if ft.is_dir() {
                stack.push(p);
            } else if ft.is_file() {
                if let Ok(text) = std::fs::read_to_string(&p) {
                    idx.add_text(&text);
                    files += 1;
                }
            }
        }
    }
    idx.finish();
    Ok((idx, files))
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn directory_lookup_agrees_with_binary_search(
            mut hashes in proptest::collection::vec(proptest::num::u64::ANY, 0..3000),
            skew in 0u32..40,
            probes in proptest::collection::vec(proptest::num::u64::ANY, 0..64),
        ) {
            // skewed hashes crowd a few buckets (and leave most empty)
            for h in &mut hashes {
                *h >>= skew;
            }
            hashes.sort_unstable();
            hashes.dedup();
            let idx = NgramIndex { n: 3, hashes: hashes.clone(), ..NgramIndex::default() };
            let mut with_dir = idx.clone();
            with_dir.build_dir();
            if !hashes.is_empty() {
                proptest::prop_assert_eq!(with_dir.dir.len(), (1usize << (64 - with_dir.shift)) + 1);
            }
            let present = hashes.iter().step_by(7).copied();
            for p in probes.iter().copied().chain(present) {
                proptest::prop_assert_eq!(with_dir.contains(p), hashes.binary_search(&p).is_ok(), "{}", p);
                proptest::prop_assert_eq!(idx.contains(p), hashes.binary_search(&p).is_ok());
            }
        }
    }

    /// The straightforward `find`: all tokens and hashes collected first.
    fn find_reference(idx: &NgramIndex, text: &str) -> Vec<(usize, usize)> {
        let spans: Vec<(usize, usize)> = tokens(text).collect();
        let toks: Vec<u64> = spans
            .iter()
            .map(|&(s, e)| token_hash(&text[s..e]))
            .collect();
        let mut out: Vec<(usize, usize)> = Vec::new();
        for (i, w) in toks.windows(idx.n).enumerate() {
            if idx.hashes.binary_search(&gram_hash(w)).is_ok() {
                let (s, e) = (spans[i].0, spans[i + idx.n - 1].1);
                match out.last_mut() {
                    Some(last) if s <= last.1 => last.1 = last.1.max(e),
                    _ => out.push((s, e)),
                }
            }
        }
        out
    }

    proptest::proptest! {
        #[test]
        fn ring_buffer_find_agrees_with_collecting_find(
            n in 2usize..10,
            docs in proptest::collection::vec(proptest::collection::vec(0usize..6, 0..40), 1..4),
            text in proptest::collection::vec((0usize..6, 0usize..3), 0..80),
        ) {
            // a six-word vocabulary, so texts share many n-grams with the corpus
            let vocab = ["the", "Cat", "sat", "on", "mat", "é"];
            let seps = [" ", ", ", "\n"];
            let mut idx = NgramIndex::new(n);
            for d in &docs {
                let doc: Vec<&str> = d.iter().map(|&w| vocab[w]).collect();
                idx.add_text(&doc.join(" "));
            }
            idx.finish();
            let mut t = String::new();
            for &(w, sep) in &text {
                t.push_str(vocab[w]);
                t.push_str(seps[sep]);
            }
            proptest::prop_assert_eq!(idx.find(&t), find_reference(&idx, &t));
        }
    }

    #[test]
    fn finds_verbatim_spans_case_insensitively() {
        let mut idx = NgramIndex::new(5);
        idx.add_text(
            "It was the best of times, it was the worst of times, it was the age of wisdom.",
        );
        idx.finish();
        let text = "Sure! IT WAS THE BEST OF TIMES it was the worst... anyway.";
        let spans = idx.find(text);
        assert_eq!(spans.len(), 1);
        let (s, e) = spans[0];
        assert_eq!(&text[s..e], "IT WAS THE BEST OF TIMES it was the worst");
        assert!(idx.find("it was the best day of my life").is_empty());
        let bytes = {
            let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
            let p = d.path().join("i.idx");
            idx.save(&p).unwrap_or_else(|e| panic!("{e}"));
            std::fs::read(&p).unwrap_or_default()
        };
        assert_eq!(NgramIndex::from_bytes(&bytes).as_ref(), Ok(&idx));
        assert!(NgramIndex::from_bytes(&bytes[..bytes.len() - 1]).is_err());
    }

    /// The byte-level tokenizer and hash agree with the char-level definitions.
    #[test]
    fn fast_tokens_match_char_definition() {
        fn slow(text: &str) -> Vec<(usize, usize)> {
            let mut out = Vec::new();
            let mut start = None;
            for (i, c) in text
                .char_indices()
                .chain(std::iter::once((text.len(), ' ')))
            {
                match (start, c.is_alphanumeric()) {
                    (None, true) => start = Some(i),
                    (Some(s), false) => {
                        start = None;
                        out.push((s, i));
                    }
                    _ => {}
                }
            }
            out
        }
        fn slow_hash(t: &str) -> u64 {
            let mut h: u64 = 0xcbf2_9ce4_8422_2325;
            for c in t.chars().flat_map(char::to_lowercase) {
                let mut b = [0u8; 4];
                for x in c.encode_utf8(&mut b).bytes() {
                    h = (h ^ u64::from(x)).wrapping_mul(0x0100_0000_01b3);
                }
            }
            h
        }
        for text in [
            "",
            "The quick, brown fox!",
            "Ünïcödé wörds and ÄSCII mixed—dash 42x",
            "  trailing  ",
            "日本語のテキスト and KELVIN \u{212A} sign",
            "a",
        ] {
            let got: Vec<(usize, usize)> = tokens(text).collect();
            assert_eq!(got, slow(text), "{text}");
            for (s, e) in got {
                assert_eq!(token_hash(&text[s..e]), slow_hash(&text[s..e]));
            }
        }
    }
}
