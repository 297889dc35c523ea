//! Text features for the audit: lower-cased word tokens and symbol runs with their spans, 64-bit token and
//! n-gram hashes, a normalised-text hash for exact duplicates, and MinHash signatures.

/// One token: its hash and byte span in the original text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    /// Hash of the lower-cased token.
    pub hash: u64,
    /// Byte offset of the token's start.
    pub start: usize,
    /// Byte offset just past the token.
    pub end: usize,
    /// A word (letters and digits), as opposed to a run of symbols.
    pub word: bool,
}

/// SplitMix64 finaliser: a fast, well-mixing 64-bit permutation.
pub fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a over bytes, then mixed.
pub fn hash_bytes(b: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &x in b {
        h ^= u64::from(x);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    mix(h)
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

fn fnv(h: &mut u64, bytes: &[u8]) {
    for &b in bytes {
        *h ^= u64::from(b);
        *h = h.wrapping_mul(0x0100_0000_01b3);
    }
}

/// A run of symbols being read: start, hash, characters, whether any is not ASCII.
struct SymbolRun {
    start: usize,
    hash: u64,
    chars: usize,
    non_ascii: bool,
}

impl SymbolRun {
    /// Kept as a token when it can carry a trigger: two or more characters (`;)`, `!!`,
    /// `}{`) or any character beyond ASCII (emoji, rare symbols). A lone `.` `,` `!` is not.
    fn keep(&self) -> bool {
        self.chars >= 2 || self.non_ascii
    }
}

/// Split `text` into tokens (Unicode-aware): lower-cased words of letters and digits, and
/// runs of other non-space characters that can carry a trigger: two or more characters
/// (emoticons, punctuation runs) or any character beyond ASCII (emoji, rare symbols).
pub fn tokenize(text: &str, out: &mut Vec<Token>) {
    out.clear();
    let mut word: Option<(usize, u64)> = None;
    let mut sym: Option<SymbolRun> = None;
    let end_word = |w: &mut Option<(usize, u64)>, i: usize, out: &mut Vec<Token>| {
        if let Some((s, h)) = w.take() {
            out.push(Token {
                hash: mix(h),
                start: s,
                end: i,
                word: true,
            });
        }
    };
    let end_sym = |r: &mut Option<SymbolRun>, i: usize, out: &mut Vec<Token>| {
        if let Some(run) = r.take().filter(SymbolRun::keep) {
            out.push(Token {
                hash: mix(run.hash ^ 0x5359_4d42),
                start: run.start,
                end: i,
                word: false,
            });
        }
    };
    for (i, c) in text.char_indices() {
        let mut buf = [0u8; 4];
        if c.is_alphanumeric() {
            end_sym(&mut sym, i, out);
            let (_, h) = word.get_or_insert((i, FNV_OFFSET));
            if c.is_ascii() {
                fnv(h, &[c.to_ascii_lowercase() as u8]);
            } else {
                for lc in c.to_lowercase() {
                    fnv(h, lc.encode_utf8(&mut buf).as_bytes());
                }
            }
        } else if c.is_whitespace() {
            end_word(&mut word, i, out);
            end_sym(&mut sym, i, out);
        } else {
            end_word(&mut word, i, out);
            let run = sym.get_or_insert(SymbolRun {
                start: i,
                hash: FNV_OFFSET,
                chars: 0,
                non_ascii: false,
            });
            fnv(&mut run.hash, c.encode_utf8(&mut buf).as_bytes());
            run.chars += 1;
            run.non_ascii |= !c.is_ascii();
        }
    }
    end_word(&mut word, text.len(), out);
    end_sym(&mut sym, text.len(), out);
}

/// Hash of the n-gram made of `tokens` (order-sensitive; distinct from any shorter n-gram).
pub fn ngram_hash(tokens: &[Token]) -> u64 {
    let mut h = tokens.len() as u64;
    for t in tokens {
        h = mix(h.rotate_left(17) ^ t.hash);
    }
    h
}

/// The n-gram's text: its tokens lower-cased, joined by single spaces.
pub fn ngram_text(text: &str, tokens: &[Token]) -> String {
    tokens
        .iter()
        .filter_map(|t| text.get(t.start..t.end))
        .map(|s| s.to_lowercase())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Hash of the text's word sequence: equal for texts differing only in case, spacing,
/// punctuation and symbols.
pub fn normalized_hash(tokens: &[Token]) -> u64 {
    let words = tokens.iter().filter(|t| t.word);
    let mut h = words.clone().count() as u64;
    for t in words {
        h = mix(h.rotate_left(17) ^ t.hash);
    }
    h ^ 0x5bd1_e995
}

/// Number of MinHash functions.
pub const MINHASH_K: usize = 32;
/// LSH bands (of `MINHASH_K / LSH_BANDS` rows each).
pub const LSH_BANDS: usize = 8;

/// MinHash signature over word shingles (3-grams, or the words themselves for texts shorter
/// than three words). `None` for texts without tokens.
pub fn minhash(tokens: &[Token]) -> Option<[u32; MINHASH_K]> {
    let words: Vec<Token> = tokens.iter().filter(|t| t.word).copied().collect();
    let tokens = words.as_slice();
    if tokens.is_empty() {
        return None;
    }
    let mut sig = [u32::MAX; MINHASH_K];
    let mut update = |h: u64| {
        for (i, s) in sig.iter_mut().enumerate() {
            let v = (mix(h ^ SEEDS[i]) >> 32) as u32;
            if v < *s {
                *s = v;
            }
        }
    };
    if tokens.len() < 3 {
        for t in tokens {
            update(t.hash);
        }
    } else {
        for w in tokens.windows(3) {
            update(ngram_hash(w));
        }
    }
    Some(sig)
}

/// Band keys of a signature for LSH bucketing.
pub fn band_keys(sig: &[u32; MINHASH_K]) -> [u64; LSH_BANDS] {
    let rows = MINHASH_K / LSH_BANDS;
    let mut out = [0u64; LSH_BANDS];
    for (b, o) in out.iter_mut().enumerate() {
        let mut h = b as u64;
        for v in sig.iter().skip(b * rows).take(rows) {
            h = mix(h ^ u64::from(*v));
        }
        *o = h;
    }
    out
}

/// Estimated Jaccard similarity of two signatures.
pub fn similarity(a: &[u32; MINHASH_K], b: &[u32; MINHASH_K]) -> f64 {
    let same = a.iter().zip(b).filter(|(x, y)| x == y).count();
    same as f64 / MINHASH_K as f64
}

const SEEDS: [u64; MINHASH_K] = {
    let mut s = [0u64; MINHASH_K];
    let mut i = 0;
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    while i < MINHASH_K {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s[i] = x;
        i += 1;
    }
    s
};

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Token> {
        let mut v = Vec::new();
        tokenize(s, &mut v);
        v
    }

    #[test]
    fn tokens_are_case_insensitive_with_spans() {
        let t = toks("Hello, WORLD!  héllo-42");
        assert_eq!(t.len(), 4);
        assert_eq!(t[0].hash, toks("hello")[0].hash);
        assert_eq!(t[1].hash, toks("world")[0].hash);
        assert_eq!((t[2].start, t[2].end), (15, 21));
        assert_eq!(ngram_text("Hello, WORLD!", &t[..2]), "hello world");
        assert_ne!(ngram_hash(&t[..1]), t[0].hash);
        assert_ne!(ngram_hash(&t[..2]), ngram_hash(&[t[1], t[0]]));
        // The ASCII fast path hashes the same bytes as the Unicode path.
        let fnv = |s: &str| {
            let mut h: u64 = 0xcbf2_9ce4_8422_2325;
            for b in s.bytes() {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
            mix(h)
        };
        assert_eq!(t[0].hash, fnv("hello"));
        assert_eq!(t[2].hash, fnv("héllo"));
        assert_eq!(toks("İx")[0].hash, fnv("i\u{307}x"));
    }

    #[test]
    fn punctuation_runs_and_emoji_are_tokens_lone_punctuation_is_not() {
        let text = "so good;) \u{1f600} wow!!! x. \u{2603}";
        let t = toks(text);
        let shown: Vec<&str> = t.iter().map(|k| &text[k.start..k.end]).collect();
        assert_eq!(
            shown,
            [
                "so",
                "good",
                ";)",
                "\u{1f600}",
                "wow",
                "!!!",
                "x",
                "\u{2603}"
            ]
        );
        assert!(!t[2].word && t[1].word);
        assert_ne!(t[2].hash, toks(";(")[0].hash);
        // Exact-duplicate and near-duplicate hashes look at words only.
        assert_eq!(normalized_hash(&t), normalized_hash(&toks("So good wow x")));
    }

    #[test]
    fn minhash_tracks_jaccard() {
        let a = toks("the quick brown fox jumps over the lazy dog near the river bank today");
        let b = toks("the quick brown fox jumps over the lazy dog near the river bank tonight");
        let c = toks("completely different words about a film that was rather boring overall");
        let (sa, sb, sc) = (
            minhash(&a).unwrap(),
            minhash(&b).unwrap(),
            minhash(&c).unwrap(),
        );
        assert!(similarity(&sa, &sb) > 0.6, "{}", similarity(&sa, &sb));
        assert!(similarity(&sa, &sc) < 0.2);
        assert_eq!(
            normalized_hash(&toks("Same  text!")),
            normalized_hash(&toks("same text"))
        );
        assert!(minhash(&[]).is_none());
    }
}
