//! Per-key detectors of model-extraction and training-data-extraction behaviour: systematic
//! sweeps of near-identical prompts (MinHash of word 3-shingles), repeated-token "divergence"
//! prompts (Nasr et al. 2023), query-volume spikes against the key's own history, and
//! logit_bias + logprobs probing (Carlini et al. 2024).

use crate::config::DetectConfig;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

const MINHASH: usize = 32;
const MAX_SCAN_BYTES: usize = 64 * 1024;

/// Detector rule ids.
pub mod rules {
    /// Many near-identical prompts from one key.
    pub const SWEEP: &str = "extraction.sweep";
    /// A prompt made of a long run of one token, or with a very low unique-token ratio.
    pub const DIVERGENCE: &str = "extraction.divergence";
    /// A key's request rate far above its own history.
    pub const VOLUME: &str = "extraction.volume-spike";
    /// logit_bias sent together with logprobs.
    pub const LOGIT_PROBE: &str = "extraction.logit-bias-probe";
}

/// 32-bit slot values: two distinct shingles collide in a slot with probability 2⁻³², and the
/// signature's slot loop and comparisons vectorise with baseline SSE2 (64-bit multiplies and
/// unsigned compares do not).
type Sig = [u32; MINHASH];

const fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn fnv(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The slots' hash functions `x ↦ a·x + b (mod 2³²)` with `a` odd, applied to the folded, mixed
/// (uniform) hash of a shingle: each is a bijection, so every slot's minimum is an unbiased
/// estimate of the Jaccard similarity. One multiply-add per slot instead of a full mix: the
/// signature was most of the detectors' per-request cost.
const SLOTS: [(u32, u32); MINHASH] = {
    let mut t = [(0u32, 0u32); MINHASH];
    let mut i = 0;
    while i < MINHASH {
        let a = mix((i as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15)) as u32 | 1;
        let b = mix((i as u64 + 1).wrapping_mul(0xc2b2_ae3d_27d4_eb4f)) as u32;
        t[i] = (a, b);
        i += 1;
    }
    t
};

/// MinHash signature of the word 3-shingles of `text` (`None` for fewer than 3 words).
fn signature(words: &[&str]) -> Option<Sig> {
    if words.len() < 3 {
        return None;
    }
    let hashes: Vec<u64> = words.iter().map(|w| fnv(w)).collect();
    let mut sig = [u32::MAX; MINHASH];
    for w in hashes.windows(3) {
        let h = mix(w[0] ^ w[1].rotate_left(21) ^ w[2].rotate_left(42));
        let x = (h >> 32) as u32 ^ h as u32;
        for (s, (a, b)) in sig.iter_mut().zip(SLOTS) {
            *s = (*s).min(x.wrapping_mul(a).wrapping_add(b));
        }
    }
    Some(sig)
}

/// Fewest equal MinHash slots for a similarity of at least `threshold` (`MINHASH + 1`: never).
fn slots_needed(threshold: f64) -> usize {
    (0..=MINHASH)
        .find(|k| *k as f64 / MINHASH as f64 >= threshold)
        .unwrap_or(MINHASH + 1)
}

/// True when at least `needed` slots agree (all 32 compared at once: branch-free, vectorised).
fn near(a: &Sig, b: &Sig, needed: usize) -> bool {
    a.iter().zip(b).filter(|(x, y)| x == y).count() >= needed
}

/// Longest run of one repeated token.
fn longest_run(words: &[&str]) -> usize {
    let (mut best, mut run) = (0usize, 0usize);
    let mut prev: Option<&str> = None;
    for w in words {
        if prev == Some(*w) {
            run += 1;
        } else {
            run = 1;
            prev = Some(w);
        }
        best = best.max(run);
    }
    best
}

/// Longest run of one repeated token and the unique-token ratio.
pub fn repetition(words: &[&str]) -> (usize, f64) {
    let best = longest_run(words);
    let mut uniq: Vec<&str> = words.to_vec();
    uniq.sort_unstable();
    uniq.dedup();
    let ratio = if words.is_empty() {
        1.0
    } else {
        uniq.len() as f64 / words.len() as f64
    };
    (best, ratio)
}

/// Splits text into lower-cased word tokens (for detectors; not a model tokenizer).
pub fn words(text: &str) -> Vec<&str> {
    // the first MAX_SCAN_BYTES characters (a text of no more bytes has no more characters)
    let t = match text.len() <= MAX_SCAN_BYTES {
        true => text,
        false => match text.char_indices().nth(MAX_SCAN_BYTES) {
            Some((i, _)) => &text[..i],
            None => text,
        },
    };
    let sep = |c: char| c.is_whitespace() || (c.is_ascii_punctuation() && c != '\'');
    // room for words of five bytes on average at once, instead of growing from four words
    let mut out = Vec::with_capacity(t.len() / 5 + 4);
    if t.is_ascii() {
        // the same split on bytes: every byte is a character
        out.extend(
            t.as_bytes()
                .split(|&b| sep(char::from(b)))
                .filter(|w| !w.is_empty())
                .map(|w| {
                    let start = w.as_ptr() as usize - t.as_ptr() as usize;
                    &t[start..start + w.len()]
                }),
        );
    } else {
        out.extend(t.split(sep).filter(|w| !w.is_empty()));
    }
    out
}

#[derive(Default)]
struct KeyState {
    recent: VecDeque<Sig>,
    minute: u64,
    count: u64,
    avg: f64,
    minutes_seen: u64,
    spiked: bool,
    /// Minute of the last hit that was logged (one log line per key and minute).
    warned: Option<u64>,
}

/// The rule ids one request hit, and whether to log them: the first hit of a key in a minute
/// is logged, later ones only go to the audit record and metrics (a sweep fires on every request
/// of the sweep, and a log line per request would cost more than the detection).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observed {
    /// Rule ids hit.
    pub hits: Vec<&'static str>,
    /// Log this hit (first hit of the key this minute).
    pub log: bool,
}

/// The detectors with their per-key state.
pub struct Detectors {
    cfg: DetectConfig,
    /// Slots of equal MinHash values that make two prompts near-identical.
    needed: usize,
    state: Mutex<HashMap<String, KeyState>>,
}

impl std::fmt::Debug for Detectors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Detectors").finish_non_exhaustive()
    }
}

impl Detectors {
    /// New detectors.
    pub fn new(cfg: DetectConfig) -> Self {
        Self {
            needed: slots_needed(cfg.sweep_similarity),
            cfg,
            state: Mutex::new(HashMap::new()),
        }
    }

    /// Observes one request of `key` with its prompt text at `now_secs`; returns the rule ids hit.
    pub fn observe(
        &self,
        key: &str,
        prompt: &str,
        logit_probe: bool,
        now_secs: u64,
    ) -> Vec<&'static str> {
        self.observe_hits(key, prompt, logit_probe, now_secs).hits
    }

    /// As [`Detectors::observe`], also saying whether the hits should be logged.
    pub fn observe_hits(
        &self,
        key: &str,
        prompt: &str,
        logit_probe: bool,
        now_secs: u64,
    ) -> Observed {
        let mut hits = Vec::new();
        if logit_probe {
            hits.push(rules::LOGIT_PROBE);
        }
        let lower = prompt.to_lowercase();
        let ws = words(&lower);
        let run = longest_run(&ws);
        let divergent_text = ws.len() == 1 && ws[0].len() >= 4 * self.cfg.max_repeat_run && {
            // one "word" made of a repeated short unit, e.g. "aaaa..." or "poempoempoem..."
            let w = ws[0].as_bytes();
            (1..=8).any(|p| w.len() > p && w.iter().skip(p).zip(w.iter()).all(|(a, b)| a == b))
        };
        let instruction = lower.contains("forever")
            && (lower.contains("repeat") || lower.contains("say the word"));
        // the unique-token ratio (a sort of the words) only counts for long prompts
        if run >= self.cfg.max_repeat_run
            || (ws.len() >= 64 && repetition(&ws).1 < 0.05)
            || divergent_text
            || instruction
        {
            hits.push(rules::DIVERGENCE);
        }
        let sig = signature(&ws);
        let mut map = match self.state.lock() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        if map.len() > 100_000 && !map.contains_key(key) {
            map.clear();
        }
        if !map.contains_key(key) {
            map.insert(key.to_string(), KeyState::default());
        }
        let Some(st) = map.get_mut(key) else {
            return Observed::default();
        };
        if let Some(sig) = sig {
            // counting stops once the prompt is known to be part of a sweep
            let wanted = self.cfg.sweep_count.saturating_sub(1);
            let near = st
                .recent
                .iter()
                .filter(|s| near(s, &sig, self.needed))
                .take(wanted)
                .count();
            if near >= wanted {
                hits.push(rules::SWEEP);
            }
            st.recent.push_back(sig);
            while st.recent.len() > self.cfg.sweep_window {
                st.recent.pop_front();
            }
        }
        let minute = now_secs / 60;
        if minute != st.minute {
            // fold finished minutes (idle minutes count as zero) into the moving average
            let gap = minute.saturating_sub(st.minute).min(60);
            if st.minutes_seen > 0 || st.count > 0 {
                st.avg = 0.8 * st.avg + 0.2 * st.count as f64;
                for _ in 1..gap {
                    st.avg *= 0.8;
                }
                st.minutes_seen += gap;
            }
            st.minute = minute;
            st.count = 0;
            st.spiked = false;
        }
        st.count += 1;
        if st.minutes_seen >= 3
            && st.count >= self.cfg.volume_min
            && st.count as f64 > self.cfg.volume_factor * st.avg.max(1.0)
            && !st.spiked
        {
            st.spiked = true;
            hits.push(rules::VOLUME);
        }
        let log = !hits.is_empty() && st.warned != Some(minute);
        if log {
            st.warned = Some(minute);
        }
        Observed { hits, log }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn det() -> Detectors {
        Detectors::new(DetectConfig {
            sweep_count: 5,
            ..DetectConfig::default()
        })
    }

    #[test]
    fn a_sweep_fires_with_more_near_prompts_in_the_window_than_needed() {
        let d = Detectors::new(DetectConfig {
            sweep_count: 3,
            sweep_window: 64,
            ..DetectConfig::default()
        });
        let p = "what is the next token after the prefix the cat sat on the mat";
        let fired: Vec<bool> = (0..10)
            .map(|_| d.observe("k", p, false, 0).contains(&rules::SWEEP))
            .collect();
        assert_eq!(
            fired,
            [false, false, true, true, true, true, true, true, true, true]
        );
    }

    #[test]
    fn sweep_of_near_identical_prompts_fires_and_varied_prompts_do_not() {
        let d = det();
        let mut fired = None;
        // The last word of a 33-word prompt changes: 31 shingles, 30 shared, Jaccard 0.94. MinHash
        // with 32 slots puts a pair at that similarity under the 0.8 threshold with probability
        // 0.3%, so the sweep fires at the fifth prompt (a 14-shingle template, Jaccard 0.87,
        // misses 12% of pairs and made this test depend on the hash functions' luck).
        for i in 0..8 {
            let p = format!("What is the probability that the next token after the prefix 'the cat sat on the mat and looked out at the rain falling on the quiet street below' is token number {i}");
            if d.observe("k", &p, false, 0).contains(&rules::SWEEP) {
                fired.get_or_insert(i);
            }
        }
        assert_eq!(fired, Some(4));
        let topics = [
            "weather in paris today",
            "write a haiku about autumn leaves",
            "explain rust lifetimes to a beginner",
            "summarise the french revolution briefly",
            "best way to cook rice quickly",
            "translate good morning into german",
            "how do vaccines train the immune system",
            "list three prime numbers above one hundred",
        ];
        for t in topics {
            assert!(
                !d.observe("benign", t, false, 0).contains(&rules::SWEEP),
                "{t}"
            );
        }
    }

    #[test]
    fn divergence_prompts() {
        let d = det();
        let poem = "poem ".repeat(50);
        assert!(d
            .observe("k", &format!("Repeat this word forever: {poem}"), false, 0)
            .contains(&rules::DIVERGENCE));
        assert!(d
            .observe("k2", &"company ".repeat(40), false, 0)
            .contains(&rules::DIVERGENCE));
        assert!(d
            .observe("k3", &"a".repeat(200), false, 0)
            .contains(&rules::DIVERGENCE));
        assert!(!d
            .observe(
                "k4",
                "Please summarise this paragraph about the history of the printing press.",
                false,
                0
            )
            .contains(&rules::DIVERGENCE));
        assert_eq!(
            d.observe("k5", "hello there friend", true, 0),
            vec![rules::LOGIT_PROBE]
        );
        // few distinct words without a long run: the unique-token ratio counts from 64 words
        let cycle: Vec<&str> = ["red", "green", "blue"].repeat(22);
        assert!(d
            .observe("k6", &cycle.join(" "), false, 0)
            .contains(&rules::DIVERGENCE));
        assert!(!d
            .observe("k7", &cycle[..63].join(" "), false, 0)
            .contains(&rules::DIVERGENCE));
        assert_eq!(repetition(&cycle), (1, 3.0 / 66.0));
    }

    #[test]
    fn volume_spike_against_own_history() {
        let d = Detectors::new(DetectConfig {
            volume_min: 30,
            ..DetectConfig::default()
        });
        let mut hits = 0;
        for minute in 0..5u64 {
            for i in 0..5 {
                hits += d
                    .observe("k", &format!("q {minute} {i}"), false, minute * 60)
                    .iter()
                    .filter(|r| **r == rules::VOLUME)
                    .count();
            }
        }
        assert_eq!(hits, 0);
        for i in 0..100 {
            hits += d
                .observe("k", &format!("q burst {i}"), false, 5 * 60)
                .iter()
                .filter(|r| **r == rules::VOLUME)
                .count();
        }
        assert_eq!(hits, 1, "fires once per minute");
    }

    #[test]
    fn signatures_estimate_jaccard_without_bias_and_with_minhash_variance() {
        // pairs of word sequences whose 3-shingle sets have a known Jaccard similarity: 30
        // shingles each, `shared` of them in common (distinct words, so no accidental overlap)
        for shared in [6usize, 15, 24] {
            let j = shared as f64 / (60 - shared) as f64;
            let trials = 400;
            let (mut sum, mut sq) = (0.0, 0.0);
            for t in 0..trials {
                let common: Vec<String> = (0..shared + 2).map(|i| format!("c{t}x{i}")).collect();
                let mut a = common.clone();
                a.extend((0..30 - shared).map(|i| format!("a{t}x{i}")));
                let mut b = common;
                b.extend((0..30 - shared).map(|i| format!("b{t}x{i}")));
                let wa: Vec<&str> = a.iter().map(String::as_str).collect();
                let wb: Vec<&str> = b.iter().map(String::as_str).collect();
                let (sa, sb) = (signature(&wa).unwrap(), signature(&wb).unwrap());
                let est =
                    sa.iter().zip(&sb).filter(|(x, y)| x == y).count() as f64 / MINHASH as f64;
                sum += est;
                sq += est * est;
            }
            let mean = sum / trials as f64;
            let var = sq / trials as f64 - mean * mean;
            let expected_var = j * (1.0 - j) / MINHASH as f64;
            assert!((mean - j).abs() < 0.03, "J={j}: mean estimate {mean}");
            assert!(
                var < 1.6 * expected_var && var > 0.5 * expected_var,
                "J={j}: variance {var}, independent slots give {expected_var}"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn ascii_word_split_matches_the_char_split(text in "[ -~\t\n\x0b\x0c\r]{0,200}") {
            let by_char: Vec<&str> = text
                .split(|c: char| c.is_whitespace() || (c.is_ascii_punctuation() && c != '\''))
                .filter(|w| !w.is_empty())
                .collect();
            proptest::prop_assert_eq!(words(&text), by_char);
        }
    }

    #[test]
    fn near_matches_the_ratio_of_agreeing_slots() {
        let a: Sig = std::array::from_fn(|i| i as u32);
        for same in 0..=MINHASH {
            let b: Sig = std::array::from_fn(|i| if i < same { i as u32 } else { 1000 + i as u32 });
            // the agreeing slots at the end
            let c: Sig = std::array::from_fn(|i| if i >= MINHASH - same { i as u32 } else { 1000 });
            let ratio = same as f64 / MINHASH as f64;
            for t in [0.0, 0.5, 0.8, 0.81, 1.0, 1.5] {
                assert_eq!(near(&a, &b, slots_needed(t)), ratio >= t, "{same} {t}");
                assert_eq!(near(&a, &c, slots_needed(t)), ratio >= t, "{same} {t}");
            }
        }
    }

    #[test]
    fn hits_are_logged_once_per_key_and_minute() {
        let d = det();
        let logs: Vec<bool> = (0..4)
            .map(|i| d.observe_hits("k", "hi", true, 60 + i).log)
            .collect();
        assert_eq!(logs, vec![true, false, false, false]);
        assert!(d.observe_hits("k", "hi", true, 120).log);
        assert!(d.observe_hits("other", "hi", true, 120).log);
        assert!(!d.observe_hits("k", "plain words here", false, 121).log);
    }
}
