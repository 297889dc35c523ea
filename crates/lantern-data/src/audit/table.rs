//! The audit's n-gram count table (lossy counting under a memory cap), its hasher for
//! pre-mixed 64-bit keys, and the leave-one-out naive Bayes scorer that reads it.

use std::collections::HashMap;

/// Hasher for maps keyed by the audit's own 64-bit token, n-gram and row hashes: those keys
/// are already well mixed, so one multiply-xorshift replaces SipHash (the n-gram table is
/// probed several hundred times per record).
#[derive(Default, Clone, Copy)]
pub(super) struct KeyHasher(u64);

impl std::hash::Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        let h = self.0.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        h ^ (h >> 29)
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 ^= n;
    }
    fn write_u32(&mut self, n: u32) {
        self.0 ^= u64::from(n);
    }
}

pub(super) type KeyMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<KeyHasher>>;

/// Per-n-gram document counts: `[total, per label...]` rows of a flat table.
pub(super) struct Table {
    /// N-gram hash -> row of `counts`.
    pub(super) index: KeyMap<u64, u32>,
    /// Counts per row: total, then one per label.
    pub(super) stride: usize,
    pub(super) counts: Vec<u32>,
    /// Count below which n-grams were pruned (0: none).
    pub(super) pruned_below: u32,
    max: usize,
}
impl Table {
    pub(super) fn new(max: usize) -> Self {
        Table {
            index: KeyMap::default(),
            stride: 5,
            counts: Vec::new(),
            pruned_below: 0,
            max: max.max(1024),
        }
    }

    pub(super) fn ensure_labels(&mut self, n: usize) {
        if n < self.stride {
            return;
        }
        let new_stride = (n + 1).next_power_of_two().max(self.stride * 2);
        let rows = self.counts.len() / self.stride;
        let mut c = vec![0u32; rows * new_stride];
        for r in 0..rows {
            for k in 0..self.stride {
                c[r * new_stride + k] = self.counts[r * self.stride + k];
            }
        }
        self.counts = c;
        self.stride = new_stride;
    }

    pub(super) fn add(&mut self, h: u64, label: usize) {
        let stride = self.stride;
        let next = (self.counts.len() / stride) as u32;
        let row = *self.index.entry(h).or_insert(next);
        if row == next {
            self.counts.resize(self.counts.len() + stride, 0);
        }
        let base = row as usize * stride;
        if let Some(t) = self.counts.get_mut(base) {
            *t = t.saturating_add(1);
        }
        if let Some(t) = self.counts.get_mut(base + 1 + label) {
            *t = t.saturating_add(1);
        }
    }

    pub(super) fn row(&self, h: u64) -> Option<&[u32]> {
        let r = *self.index.get(&h)? as usize;
        self.counts.get(r * self.stride..(r + 1) * self.stride)
    }

    /// Drop the rarest n-grams when over budget (lossy counting: every n-gram that is kept is
    /// undercounted by at most `pruned_below`).
    pub(super) fn maybe_prune(&mut self) {
        while self.index.len() > self.max {
            self.pruned_below += 1;
            let floor = self.pruned_below;
            let stride = self.stride;
            let old = std::mem::take(&mut self.counts);
            let mut kept =
                KeyMap::with_capacity_and_hasher(self.index.len() / 2, Default::default());
            for (&h, &r) in &self.index {
                let base = r as usize * stride;
                if old.get(base).copied().unwrap_or(0) > floor {
                    let nr = (self.counts.len() / stride) as u32;
                    self.counts
                        .extend_from_slice(old.get(base..base + stride).unwrap_or_default());
                    kept.insert(h, nr);
                }
            }
            self.index = kept;
        }
    }
}

/// `ln(cnt + 1)`, from a table for small counts (the same value `f64::ln` gives).
fn ln_count(cnt: u32) -> f64 {
    const N: usize = 4096;
    static TABLE: std::sync::OnceLock<Vec<f64>> = std::sync::OnceLock::new();
    let t = TABLE.get_or_init(|| (0..N).map(|c| (c as f64 + 1.0).ln()).collect());
    match t.get(cnt as usize) {
        Some(&v) => v,
        None => (f64::from(cnt) + 1.0).ln(),
    }
}

/// Leave-one-out binarised multinomial naive Bayes over a row's distinct unigrams, reading
/// the pass-1 counts.
pub(super) struct NaiveBayes<'a> {
    /// Unigram document counts per label.
    pub(super) table: &'a Table,
    /// Rows per label.
    pub(super) label_counts: &'a [u64],
    /// Distinct unigrams summed over the rows of each label.
    pub(super) tokens_per_label: &'a [u64],
    /// Vocabulary size (Laplace smoothing).
    pub(super) vocab: f64,
}

impl NaiveBayes<'_> {
    /// Scores the unigrams `uni` of a row of label `y` carrying `own_tokens` distinct
    /// unigrams in all; `lps` receives each label's log-probability. Returns (predicted
    /// label, log-odds of the prediction over `y`, log-odds of `y` over the best other label).
    pub(super) fn score(
        &self,
        uni: &[u64],
        y: usize,
        own_tokens: u64,
        lps: &mut Vec<f64>,
    ) -> (usize, f64, f64) {
        lps.clear();
        let n: u64 = self.label_counts.iter().sum();
        let k = self.label_counts.len();
        let mut denoms = Vec::with_capacity(k);
        for c in 0..k {
            let me = u64::from(c == y);
            let nc = self
                .label_counts
                .get(c)
                .copied()
                .unwrap_or(0)
                .saturating_sub(me) as f64;
            let tot = self
                .tokens_per_label
                .get(c)
                .copied()
                .unwrap_or(0)
                .saturating_sub(me * own_tokens) as f64;
            lps.push(((nc + 1.0) / (n as f64 + k as f64)).ln());
            denoms.push((tot + self.vocab).ln());
        }
        // One table probe per word; each label's sum is accumulated in the same order as a
        // label-by-label loop would, so the result is bit-for-bit the same.
        for &t in uni {
            let row = self.table.row(t);
            for (c, (lp, denom)) in lps.iter_mut().zip(&denoms).enumerate() {
                let me = u32::from(c == y);
                let cnt = row
                    .and_then(|r| r.get(1 + c).copied())
                    .unwrap_or(0)
                    .saturating_sub(me);
                *lp += ln_count(cnt) - denom;
            }
        }
        best_of(lps, y)
    }
}

/// (argmax of `lps`, its margin over `y`, `y`'s margin over the best other label).
fn best_of(lps: &[f64], y: usize) -> (usize, f64, f64) {
    let mut best = (y, f64::NEG_INFINITY);
    let mut own = f64::NEG_INFINITY;
    let mut other = f64::NEG_INFINITY;
    for (c, &lp) in lps.iter().enumerate() {
        if c == y {
            own = lp;
        } else if lp > other {
            other = lp;
        }
        if lp > best.1 {
            best = (c, lp);
        }
    }
    (best.0, best.1 - own, own - other)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The n-gram table stays within its cap however many distinct n-grams arrive, keeps the
    /// frequent ones, and undercounts each kept one by at most `pruned_below`.
    #[test]
    fn ngram_table_is_bounded_by_lossy_counting() {
        let mut t = Table::new(1024);
        for i in 0..50_000u64 {
            // n-gram 7 in every document (label 0), n-gram 9 in every tenth (label 1), and a
            // stream of one-off n-grams.
            t.add(7, 0);
            if i % 10 == 0 {
                t.add(9, 1);
            }
            t.add(1_000_000 + i, (i % 2) as usize);
            t.maybe_prune();
            assert!(t.index.len() <= 1024);
        }
        assert!(t.pruned_below > 0);
        let seven = t.row(7).unwrap();
        assert!(seven[0] <= 50_000 && seven[0] + t.pruned_below >= 50_000);
        assert_eq!(seven[0], seven[1]);
        let nine = t.row(9).unwrap();
        assert!(nine[0] <= 5_000 && nine[0] + t.pruned_below >= 5_000);
        assert_eq!(nine[2], nine[0]);
        // The one-off n-grams seen long ago are gone.
        assert!(t.row(1_000_000).is_none());
    }
}
