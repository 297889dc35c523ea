//! Poisoning audit: ranks suspicious records with the reason. Two streaming passes over the
//! data. Pass 1 counts n-grams (1–3) per label in documents, label counts, exact-duplicate and
//! MinHash/LSH keys, lengths and personal data. Between passes, n-grams over-represented in one
//! label are tested (G-test, one-sided, Bonferroni over every n-gram tested). Pass 2 checks each
//! candidate against the rest of the text: a backdoor trigger's rows carry a label that the rest
//! of their words disagree with (leave-one-out naive Bayes without the trigger's words), while a
//! genuinely predictive word's rows agree. Candidates whose rows disagree significantly more
//! than the label's base rate are triggers; their rows are reported.

use crate::manifest::Manifest;
use crate::record::{self, ReadOptions, Record};
use crate::text::{self, Token};
use crate::{pii, stats, Error, Result};
use lantern_core::{Category, Finding, Location, Report, Severity, Warning};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// Hasher for maps keyed by the audit's own 64-bit token, n-gram and row hashes: those keys
/// are already well mixed, so one multiply-xorshift replaces SipHash (the n-gram table is
/// probed several hundred times per record).
#[derive(Default, Clone, Copy)]
struct KeyHasher(u64);

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

type KeyMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<KeyHasher>>;

/// Column names tried, in order, for the text when `--text` is not given.
pub const TEXT_COLUMNS: &[&str] = &[
    "text",
    "sentence",
    "content",
    "review",
    "document",
    "body",
    "tweet",
    "message",
    "prompt",
    "instruction",
    "question",
    "input",
    "query",
];
/// Column names tried, in order, for the label when `--label` is not given.
pub const LABEL_COLUMNS: &[&str] = &[
    "label",
    "labels",
    "sentiment",
    "class",
    "category",
    "target",
    "y",
    "airline_sentiment",
];

/// A secret detector supplied by the caller (the CLI wires `lantern-secrets` here): returns
/// (rule id, title, matched secret, severity) for each hit in a text.
pub type SecretDetector = dyn Fn(&str) -> Vec<(String, String, String, Severity)> + Sync;

/// Options of an audit.
#[derive(Clone)]
pub struct AuditOptions {
    /// How to read the dataset.
    pub read: ReadOptions,
    /// Label column (auto-detected from [`LABEL_COLUMNS`] when `None`).
    pub label: Option<String>,
    /// Text columns, concatenated (auto-detected from [`TEXT_COLUMNS`] when empty).
    pub text: Vec<String>,
    /// A previous version (data or manifest) for the label-distribution shift test.
    pub baseline: Option<PathBuf>,
    /// Longest n-gram tested (1 to 3).
    pub max_ngram: usize,
    /// Family-wise significance level (Bonferroni) of the tests.
    pub alpha: f64,
    /// Smallest share of an n-gram's documents carrying its majority label for it to be a
    /// trigger candidate.
    pub min_purity: f64,
    /// Smallest number of documents an n-gram must appear in to be tested.
    pub min_support: u32,
    /// Smallest probability (Mann–Whitney AUC) that a row of the n-gram is less supported by
    /// its other words than a random row of the same label, for the n-gram to be a trigger.
    pub min_auc: f64,
    /// Smallest probability that a row of the n-gram is less supported by its other words
    /// than a row of another label: rows relabelled from other classes score about 0.5 or more,
    /// rows of a genuinely predictive or topical phrase much less.
    pub min_auc_other: f64,
    /// Smallest Mann–Whitney z of the same-label comparison (3: one-sided p ≈ 0.001).
    pub min_z: f64,
    /// Largest log10 of the Bonferroni-corrected n-gram/label p-value for a trigger (-6: a
    /// planted trigger is far more significant than the family-wise `alpha` that makes a
    /// candidate; small topical groups that barely pass `alpha` are not reported).
    pub max_trigger_log10_p: f64,
    /// Largest mean similarity between the rows of a trigger (rows of one repeated text are
    /// duplicates, not a planted trigger).
    pub max_similarity: f64,
    /// Look for near-duplicates with conflicting labels (MinHash + LSH).
    pub near_duplicates: bool,
    /// Estimated Jaccard similarity above which two texts are near-duplicates.
    pub near_duplicate_threshold: f64,
    /// Report records whose label the rest of the data contradicts (naive Bayes, leave one out)
    /// when the posterior odds against the label exceed e^this (0 disables).
    pub disagreement_nats: f64,
    /// Report length and character-mix outliers.
    pub outliers: bool,
    /// Look for personal data in string fields.
    pub pii: bool,
    /// Most distinct n-grams kept in memory; beyond it the rarest are pruned (lossy counting).
    pub max_ngrams: usize,
    /// Optional secret detector run over each record's string fields.
    pub secrets: Option<std::sync::Arc<SecretDetector>>,
}

impl Default for AuditOptions {
    fn default() -> Self {
        AuditOptions {
            read: ReadOptions::default(),
            label: None,
            text: Vec::new(),
            baseline: None,
            max_ngram: 3,
            alpha: 0.01,
            min_purity: 0.8,
            min_support: 5,
            min_auc: 0.65,
            max_similarity: 0.3,
            min_auc_other: 0.5,
            min_z: 3.0,
            max_trigger_log10_p: -6.0,
            near_duplicates: true,
            near_duplicate_threshold: 0.8,
            disagreement_nats: 0.0,
            outliers: true,
            pii: true,
            max_ngrams: 8_000_000,
            secrets: None,
        }
    }
}

impl std::fmt::Debug for AuditOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditOptions")
            .field("label", &self.label)
            .field("text", &self.text)
            .field("baseline", &self.baseline)
            .field("max_ngram", &self.max_ngram)
            .field("alpha", &self.alpha)
            .finish_non_exhaustive()
    }
}

/// A trigger n-gram found by the audit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trigger {
    /// The n-gram, lower-cased.
    pub ngram: String,
    /// The label it is associated with.
    pub label: String,
    /// Documents containing it.
    pub support: u32,
    /// Share of those carrying `label`.
    pub purity: f64,
    /// G statistic of n-gram vs label.
    pub g: f64,
    /// log10 of the Bonferroni-corrected p-value.
    pub log10_p: f64,
    /// Probability that one of its `label` rows is less supported by its other words than a
    /// random `label` row (Mann–Whitney AUC; 0.5: no difference).
    pub auc: f64,
    /// Mann–Whitney z statistic of that comparison.
    pub z: f64,
    /// Mean estimated Jaccard similarity between its rows (high: copies of one text, such as
    /// a bot template, rather than a phrase planted into unrelated texts).
    pub similarity: f64,
    /// Probability that one of its rows is less supported (for `label`) by its other words
    /// than a random row of another label (about 0.5 for rows relabelled from other classes).
    pub auc_other: f64,
    /// Whether it was judged a trigger (false: a genuinely predictive n-gram).
    pub trigger: bool,
}

/// Dataset-level facts of an audit.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AuditSummary {
    /// Records read.
    pub records: u64,
    /// Rows that could not be read.
    pub bad_records: u64,
    /// Records holding strings that are not UTF-8 (analysed with U+FFFD replacements).
    pub non_utf8: u64,
    /// The text columns used.
    pub text_columns: Vec<String>,
    /// The label column used.
    pub label_column: Option<String>,
    /// Records per label.
    pub labels: BTreeMap<String, u64>,
    /// N-grams tested (the Bonferroni factor).
    pub ngrams_tested: u64,
    /// Count below which n-grams were pruned to bound memory (0: none).
    pub pruned_below: u32,
    /// Label-associated n-grams examined, triggers first.
    pub candidates: Vec<Trigger>,
    /// Records reported.
    pub flagged_records: u64,
}

/// Result of an audit: findings ranked most suspicious first, and the summary.
#[derive(Debug, Clone)]
pub struct AuditResult {
    /// One finding per suspicious record and signal, ranked (not sorted by location).
    pub report: Report,
    /// Dataset-level facts.
    pub summary: AuditSummary,
}

/// Per-n-gram document counts: `[total, per label...]` rows of a flat table.
struct Table {
    index: KeyMap<u64, u32>,
    stride: usize,
    counts: Vec<u32>,
    pruned_below: u32,
    max: usize,
}

impl Table {
    fn new(max: usize) -> Self {
        Table {
            index: KeyMap::default(),
            stride: 5,
            counts: Vec::new(),
            pruned_below: 0,
            max: max.max(1024),
        }
    }

    fn ensure_labels(&mut self, n: usize) {
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

    fn add(&mut self, h: u64, label: usize) {
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

    fn row(&self, h: u64) -> Option<&[u32]> {
        let r = *self.index.get(&h)? as usize;
        self.counts.get(r * self.stride..(r + 1) * self.stride)
    }

    /// Drop the rarest n-grams when over budget (lossy counting: every n-gram that is kept is
    /// undercounted by at most `pruned_below`).
    fn maybe_prune(&mut self) {
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

/// What is kept in memory per record between the passes.
struct Row {
    line: u64,
    file: Option<Box<str>>,
    label: u32,
    norm: u64,
    sig: Option<[u8; text::MINHASH_K]>,
    len: u32,
    odd: f32,
    digest: [u8; 6],
}

const NO_LABEL: u32 = u32::MAX;

fn pick_columns(r: &Record, opts: &AuditOptions) -> (Vec<String>, Option<String>) {
    let label = opts.label.clone().or_else(|| {
        LABEL_COLUMNS
            .iter()
            .find(|c| r.get(c).is_some())
            .map(|c| c.to_string())
    });
    let text = if !opts.text.is_empty() {
        opts.text.clone()
    } else if let Some(c) = TEXT_COLUMNS
        .iter()
        .find(|c| r.get(c).is_some_and(|f| f.is_string))
    {
        vec![c.to_string()]
    } else {
        r.fields
            .iter()
            .filter(|f| f.is_string && Some(&f.name) != label.as_ref())
            .max_by_key(|f| f.value.len())
            .map(|f| vec![f.name.clone()])
            .unwrap_or_default()
    };
    (text, label)
}

fn record_text(r: &Record, cols: &[String]) -> String {
    let mut out = String::new();
    for c in cols {
        if let Some(f) = r.get(c) {
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(&f.value);
        }
    }
    out
}

fn ngrams(tokens: &[Token], max_n: usize, out: &mut Vec<u64>) {
    out.clear();
    for n in 1..=max_n.clamp(1, 3) {
        if tokens.len() < n {
            break;
        }
        for w in tokens.windows(n) {
            out.push(if n == 1 {
                w.first().map(|t| t.hash).unwrap_or(0)
            } else {
                text::ngram_hash(w)
            });
        }
    }
    out.sort_unstable();
    out.dedup();
}

fn location(path: &str, line: u64, file: Option<&str>) -> Location {
    let mut l = Location::path(path);
    if let Some(f) = file {
        l = l.child(f);
    }
    if line > 0 {
        l.line = Some(u32::try_from(line).unwrap_or(u32::MAX));
    }
    l
}

struct Scored {
    finding: Finding,
    score: f64,
}

struct Lsh {
    bands: Vec<KeyMap<u64, u32>>,
    pairs: Vec<(u32, u32)>,
}

/// Most candidate pairs kept (bounds memory on pathological inputs).
const MAX_PAIRS: usize = 4_000_000;

impl Lsh {
    fn insert(&mut self, row: usize, keys: &[u64; text::LSH_BANDS]) {
        if self.bands.len() < keys.len() {
            self.bands.resize_with(keys.len(), KeyMap::default);
        }
        let row = u32::try_from(row).unwrap_or(u32::MAX);
        for (b, k) in self.bands.iter_mut().zip(keys) {
            match b.get(k) {
                Some(&first) => {
                    if self.pairs.len() < MAX_PAIRS && self.pairs.last() != Some(&(first, row)) {
                        self.pairs.push((first, row));
                    }
                }
                None => {
                    b.insert(*k, row);
                }
            }
        }
    }
}

fn find(parent: &mut [u32], mut x: u32) -> u32 {
    while parent[x as usize] != x {
        let p = parent[x as usize];
        parent[x as usize] = parent[p as usize];
        x = p;
    }
    x
}

/// Rows of a group whose label is not the group's majority label (all but the earliest row's
/// label on a tie).
fn minority(rows: &[Row], members: &[u32]) -> (Vec<u32>, u32) {
    let mut counts: BTreeMap<u32, usize> = BTreeMap::new();
    for &m in members {
        if let Some(r) = rows.get(m as usize) {
            *counts.entry(r.label).or_default() += 1;
        }
    }
    if counts.len() < 2 {
        return (Vec::new(), 0);
    }
    let first_label = members
        .iter()
        .filter_map(|&m| rows.get(m as usize))
        .map(|r| r.label)
        .next()
        .unwrap_or(0);
    let top = counts.values().copied().max().unwrap_or(0);
    let tops: Vec<u32> = counts
        .iter()
        .filter(|(_, &c)| c == top)
        .map(|(&l, _)| l)
        .collect();
    let major = if tops.len() == 1 {
        tops[0]
    } else {
        first_label
    };
    (
        members
            .iter()
            .copied()
            .filter(|&m| rows.get(m as usize).is_some_and(|r| r.label != major))
            .collect(),
        major,
    )
}

/// Mean estimated Jaccard similarity over up to 400 pairs of `members` (b-bit corrected).
fn mean_similarity(rows: &[Row], members: &[u32]) -> f64 {
    let sigs: Vec<&[u8; text::MINHASH_K]> = members
        .iter()
        .filter_map(|&m| rows.get(m as usize).and_then(|r| r.sig.as_ref()))
        .collect();
    if sigs.len() < 2 {
        return 0.0;
    }
    let chance = 1.0 / 256.0;
    let mut total = 0.0;
    let mut pairs = 0usize;
    let n = sigs.len();
    for step in 1..n {
        for i in 0..n - step {
            if pairs >= 400 {
                break;
            }
            if let (Some(a), Some(b)) = (sigs.get(i), sigs.get(i + step)) {
                let same = a.iter().zip(b.iter()).filter(|(x, y)| x == y).count() as f64
                    / text::MINHASH_K as f64;
                total += ((same - chance) / (1.0 - chance)).max(0.0);
                pairs += 1;
            }
        }
        if pairs >= 400 {
            break;
        }
    }
    total / pairs.max(1) as f64
}

struct Candidate {
    hash: u64,
    label: u32,
    support: u32,
    hits: u32,
    g: f64,
    log10_p: f64,
    text: Option<String>,
    rows: Vec<u32>,
    support_sum: Vec<f32>,
    auc: f64,
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

/// Leave-one-out binarised multinomial naive Bayes over the row's distinct unigrams.
/// Returns (predicted label, log-odds of the prediction over the assigned label, log-odds of
/// the assigned label over the best other label).
#[allow(clippy::too_many_arguments)]
fn naive_bayes(
    table: &Table,
    uni: &[u64],
    y: usize,
    label_counts: &[u64],
    tokens_per_label: &[u64],
    vocab: f64,
    own_tokens: u64,
    lps: &mut Vec<f64>,
) -> (usize, f64, f64) {
    lps.clear();
    let n: u64 = label_counts.iter().sum();
    let k = label_counts.len();
    let mut denoms = Vec::with_capacity(k);
    for c in 0..k {
        let me = u64::from(c == y);
        let nc = label_counts.get(c).copied().unwrap_or(0).saturating_sub(me) as f64;
        let tot = tokens_per_label
            .get(c)
            .copied()
            .unwrap_or(0)
            .saturating_sub(me * own_tokens) as f64;
        lps.push(((nc + 1.0) / (n as f64 + k as f64)).ln());
        denoms.push((tot + vocab).ln());
    }
    // One table probe per word; each label's sum is accumulated in the same order as a
    // label-by-label loop would, so the result is bit-for-bit the same.
    for &t in uni {
        let row = table.row(t);
        for (c, (lp, denom)) in lps.iter_mut().zip(&denoms).enumerate() {
            let me = u32::from(c == y);
            let cnt = row
                .and_then(|r| r.get(1 + c).copied())
                .unwrap_or(0)
                .saturating_sub(me);
            *lp += ln_count(cnt) - denom;
        }
    }
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

/// Audit the dataset at `path`.
pub fn audit(path: &Path, opts: &AuditOptions) -> Result<AuditResult> {
    let display = path.display().to_string();
    let kind = match opts.read.kind {
        Some(k) => k,
        None => record::DatasetKind::detect(path)?,
    };
    // Unreadable rows are counted (the summary says how many), not analysed.
    let read = ReadOptions {
        kind: Some(kind),
        deliver_unreadable: false,
        ..opts.read.clone()
    };
    let max_n = opts.max_ngram.clamp(1, 3);
    let mut report = Report::new();

    // ---- pass 1: counts, keys, personal data ----
    let mut cols: Option<(Vec<String>, Option<String>)> = None;
    let mut label_ids: HashMap<String, u32> = HashMap::new();
    let mut label_names: Vec<String> = Vec::new();
    let mut label_counts: Vec<u64> = Vec::new();
    let mut tokens_per_label: Vec<u64> = Vec::new();
    let mut table = Table::new(opts.max_ngrams);
    let mut rows: Vec<Row> = Vec::new();
    let mut toks: Vec<Token> = Vec::new();
    let mut grams: Vec<u64> = Vec::new();
    let mut uni: Vec<u64> = Vec::new();
    let mut scored: Vec<Scored> = Vec::new();
    let mut lsh = Lsh {
        bands: Vec::new(),
        pairs: Vec::new(),
    };
    let (_, summary1) = record::read_path(path, &read, &mut |r| {
        let (tcols, lcol) = cols.get_or_insert_with(|| pick_columns(&r, opts));
        let text = record_text(&r, tcols);
        let label = match lcol.as_ref() {
            None => NO_LABEL,
            Some(c) => {
                let v = r
                    .get(c)
                    .map(|f| f.value.clone())
                    .unwrap_or_else(|| "<missing>".into());
                match label_ids.get(&v) {
                    Some(&id) => id,
                    None if label_names.len() < 4096 => {
                        let id = label_names.len() as u32;
                        label_ids.insert(v.clone(), id);
                        label_names.push(v);
                        label_counts.push(0);
                        tokens_per_label.push(0);
                        table.ensure_labels(label_names.len());
                        id
                    }
                    None => NO_LABEL,
                }
            }
        };
        text::tokenize(&text, &mut toks);
        let digest = r.digest();
        let mut d6 = [0u8; 6];
        d6.copy_from_slice(digest.get(..6).unwrap_or(&[0; 6]));
        let mut sig = None;
        if label != NO_LABEL {
            if let Some(c) = label_counts.get_mut(label as usize) {
                *c += 1;
            }
            ngrams(&toks, max_n, &mut grams);
            for &g in &grams {
                table.add(g, label as usize);
            }
            uni.clear();
            uni.extend(toks.iter().map(|t| t.hash));
            uni.sort_unstable();
            uni.dedup();
            if let Some(c) = tokens_per_label.get_mut(label as usize) {
                *c += uni.len() as u64;
            }
            table.maybe_prune();
            if opts.near_duplicates {
                sig = text::minhash(&toks);
            }
        }
        let nchars = text.chars().count();
        let odd = text
            .chars()
            .filter(|c| !(c.is_alphanumeric() || c.is_whitespace() || c.is_ascii_punctuation()))
            .count();
        rows.push(Row {
            line: r.line,
            file: r.file.as_deref().map(Box::from),
            label,
            norm: if toks.is_empty() {
                0
            } else {
                text::normalized_hash(&toks)
            },
            sig: sig.map(|s| {
                let mut b = [0u8; text::MINHASH_K];
                for (o, v) in b.iter_mut().zip(s.iter()) {
                    *o = (*v & 0xff) as u8;
                }
                b
            }),
            len: u32::try_from(nchars).unwrap_or(u32::MAX),
            odd: if nchars == 0 {
                0.0
            } else {
                odd as f32 / nchars as f32
            },
            digest: d6,
        });
        if let Some(s) = sig {
            lsh.insert(rows.len() - 1, &text::band_keys(&s));
        }
        if opts.pii || opts.secrets.is_some() {
            for f in r.fields.iter().filter(|f| f.is_string) {
                if opts.pii {
                    for m in pii::find(&f.value) {
                        let finding = Finding::new(
                            format!("data.pii.{}", m.kind.id()),
                            m.kind.title(),
                            Category::Other,
                            Severity::Medium,
                            location(&display, r.line, r.file.as_deref()),
                        )
                        .with_secret(m.value)
                        .with_detail(format!("in field `{}`", f.name));
                        scored.push(Scored {
                            finding,
                            score: 300.0,
                        });
                    }
                }
                if let Some(det) = &opts.secrets {
                    for (rule, title, secret, sev) in det(&f.value) {
                        let finding = Finding::new(
                            rule,
                            title,
                            Category::Secret,
                            sev,
                            location(&display, r.line, r.file.as_deref()),
                        )
                        .with_secret(secret)
                        .with_detail(format!("in field `{}`", f.name));
                        scored.push(Scored {
                            finding,
                            score: 350.0,
                        });
                    }
                }
            }
        }
        Ok(())
    })?;
    for b in summary1.bad_rows.iter() {
        report.warn(Warning::new(
            &display,
            format!("line {}: {}", b.line, b.message),
        ));
    }
    if summary1.bad_records > summary1.bad_rows.len() as u64 {
        report.warn(Warning::new(
            &display,
            format!(
                "{} more unreadable row(s) not listed",
                summary1.bad_records - summary1.bad_rows.len() as u64
            ),
        ));
    }
    let (text_columns, label_column) = cols.unwrap_or_default();
    if label_column.is_none() {
        report.warn(Warning::new(
            &display,
            "no label column found (use --label): label-based signals skipped",
        ));
    }
    let rid = |r: &Row| hex::encode(r.digest);
    let loc_of = |r: &Row| location(&display, r.line, r.file.as_deref());
    let label_name = |l: u32| {
        label_names
            .get(l as usize)
            .cloned()
            .unwrap_or_else(|| "?".into())
    };

    // ---- candidates: n-grams over-represented in one label ----
    let n_labeled: u64 = label_counts.iter().sum();
    let mut tested = 0u64;
    let mut cands: Vec<Candidate> = Vec::new();
    if label_names.len() >= 2 {
        let stride = table.stride;
        for (&h, &r) in &table.index {
            let base = r as usize * stride;
            let Some(row) = table.counts.get(base..base + stride) else {
                continue;
            };
            let total = row.first().copied().unwrap_or(0);
            if total < opts.min_support {
                continue;
            }
            tested += 1;
            let (l, &a) = row
                .iter()
                .skip(1)
                .take(label_names.len())
                .enumerate()
                .max_by_key(|(_, &c)| c)
                .unwrap_or((0, &0));
            let purity = f64::from(a) / f64::from(total);
            let nl = label_counts.get(l).copied().unwrap_or(0) as f64;
            if purity < opts.min_purity || purity <= nl / n_labeled as f64 {
                continue;
            }
            let (a, b) = (
                f64::from(a),
                f64::from(total - row.get(1 + l).copied().unwrap_or(0)),
            );
            let (c, d) = (nl - a, n_labeled as f64 - nl - b);
            let g = stats::g_test_2x2(a, b, c.max(0.0), d.max(0.0));
            let ln_p = stats::ln_chi2_sf(g, 1.0) - std::f64::consts::LN_2;
            cands.push(Candidate {
                hash: h,
                label: l as u32,
                support: total,
                hits: a as u32,
                g,
                log10_p: ln_p / std::f64::consts::LN_10,
                text: None,
                rows: Vec::new(),
                support_sum: Vec::new(),
                auc: 0.5,
            });
        }
        let ln_m = (tested.max(1) as f64).ln() / std::f64::consts::LN_10;
        let lim = opts.alpha.max(1e-300).log10();
        cands.retain(|c| c.log10_p + ln_m <= lim);
        for c in &mut cands {
            c.log10_p += ln_m;
        }
        // Ties broken by hash: the table's iteration order must not decide which candidates
        // survive the cut (it did, making repeated runs differ slightly).
        cands.sort_by(|a, b| b.g.total_cmp(&a.g).then(a.hash.cmp(&b.hash)));
        cands.truncate(20_000);
    }
    let cand_index: KeyMap<u64, usize> =
        cands.iter().enumerate().map(|(i, c)| (c.hash, i)).collect();

    // ---- pass 2: candidates against the rest of the text, label disagreement ----
    let vocab = table.index.len().max(1) as f64;
    let mut by_label: Vec<Vec<f32>> = vec![Vec::new(); label_names.len()];
    let mut by_other: Vec<Vec<f32>> = vec![Vec::new(); label_names.len()];
    let mut lps: Vec<f64> = Vec::new();
    let mut margins: Vec<(u32, usize, f64)> = Vec::new();
    if label_names.len() >= 2 {
        let mut excluded: Vec<bool> = Vec::new();
        let mut hits: Vec<usize> = Vec::new();
        let (tcols, _) = (&text_columns, ());
        let mut idx = 0usize;
        record::read_path(path, &read, &mut |r| {
            let i = idx;
            idx += 1;
            let Some(row) = rows.get(i) else {
                return Ok(());
            };
            if row.label == NO_LABEL {
                return Ok(());
            }
            let y = row.label as usize;
            let text = record_text(&r, tcols);
            text::tokenize(&text, &mut toks);
            excluded.clear();
            excluded.resize(toks.len(), false);
            hits.clear();
            if !cand_index.is_empty() {
                for n in 1..=max_n {
                    if toks.len() < n {
                        break;
                    }
                    for (s, w) in toks.windows(n).enumerate() {
                        let h = if n == 1 {
                            w.first().map(|t| t.hash).unwrap_or(0)
                        } else {
                            text::ngram_hash(w)
                        };
                        if let Some(&ci) = cand_index.get(&h) {
                            let Some(c) = cands.get_mut(ci) else { continue };
                            if c.label as usize != y {
                                continue;
                            }
                            if c.text.is_none() {
                                c.text = Some(text::ngram_text(&text, w));
                            }
                            for e in excluded.iter_mut().skip(s).take(n) {
                                *e = true;
                            }
                            if !hits.contains(&ci) {
                                hits.push(ci);
                            }
                        }
                    }
                }
            }
            uni.clear();
            uni.extend(
                toks.iter()
                    .zip(&excluded)
                    .filter(|(_, &e)| !e)
                    .map(|(t, _)| t.hash),
            );
            uni.sort_unstable();
            uni.dedup();
            let mut all: Vec<u64> = toks.iter().map(|t| t.hash).collect();
            all.sort_unstable();
            all.dedup();
            // Leave-one-out: this row's own distinct unigrams are removed from its label's
            // counts; excluded words are simply not looked at.
            let (pred, margin, support) = naive_bayes(
                &table,
                &uni,
                y,
                &label_counts,
                &tokens_per_label,
                vocab,
                all.len() as u64,
                &mut lps,
            );
            if lps.len() <= 16 {
                for (l, &lp) in lps.iter().enumerate() {
                    if l == y {
                        continue;
                    }
                    let best_other = lps
                        .iter()
                        .enumerate()
                        .filter(|&(c, _)| c != l)
                        .map(|(_, &v)| v)
                        .fold(f64::NEG_INFINITY, f64::max);
                    if let Some(v) = by_other.get_mut(l) {
                        v.push((lp - best_other) as f32);
                    }
                }
            }
            if pred != y && hits.is_empty() {
                margins.push((i as u32, pred, margin));
            }
            if let Some(v) = by_label.get_mut(y) {
                v.push(support as f32);
            }
            for &ci in &hits {
                if let Some(c) = cands.get_mut(ci) {
                    c.rows.push(i as u32);
                    c.support_sum.push(support as f32);
                }
            }
            Ok(())
        })?;
    }
    for v in by_label.iter_mut().chain(by_other.iter_mut()) {
        v.sort_by(|a, b| a.total_cmp(b));
    }
    let mut summary_cands = Vec::new();
    let mut summary_idx: Vec<usize> = Vec::new();
    let mut trigger_rows: HashMap<u32, Vec<usize>> = HashMap::new();
    for (ci, c) in cands.iter_mut().enumerate() {
        let n = c.support_sum.len() as f64;
        let Some(all) = by_label.get(c.label as usize).filter(|v| !v.is_empty()) else {
            continue;
        };
        if n == 0.0 {
            continue;
        }
        // Mann–Whitney U: how often a row of this n-gram is less supported by its other words
        // than a row of the same label at large.
        let m = all.len() as f64;
        let mut u = 0.0;
        for &s in &c.support_sum {
            let above = all.len() - all.partition_point(|&x| x <= s);
            let ties = all.partition_point(|&x| x <= s) - all.partition_point(|&x| x < s);
            u += above as f64 + 0.5 * ties as f64;
        }
        let auc = u / (n * m);
        let auc_other = by_other
            .get(c.label as usize)
            .filter(|v| !v.is_empty())
            .map(|o| {
                let mut u = 0.0;
                for &s in &c.support_sum {
                    let le = o.partition_point(|&x| x <= s);
                    let lt = o.partition_point(|&x| x < s);
                    u += (o.len() - le) as f64 + 0.5 * (le - lt) as f64;
                }
                u / (n * o.len() as f64)
            })
            .unwrap_or(0.5);
        let z = (u - n * m / 2.0) / (n * m * (n + m + 1.0) / 12.0).sqrt().max(1e-9);
        c.auc = auc;
        let similarity = mean_similarity(&rows, &c.rows);
        // Rows planted into texts of other labels sit with those labels (AUC about 0.5 or
        // more); allow one standard error of the Mann–Whitney AUC (at most 0.05) below the bound.
        let m_other = by_other.get(c.label as usize).map_or(1, Vec::len).max(1) as f64;
        let se_other = ((n + m_other + 1.0) / (12.0 * n * m_other)).sqrt();
        let is_trigger = c.log10_p <= opts.max_trigger_log10_p
            && auc >= opts.min_auc
            && z >= opts.min_z
            && auc_other >= (opts.min_auc_other - se_other).max(opts.min_auc_other - 0.05)
            && similarity <= opts.max_similarity;
        if is_trigger {
            for &r in &c.rows {
                trigger_rows.entry(r).or_default().push(ci);
            }
        }
        summary_idx.push(ci);
        summary_cands.push(Trigger {
            ngram: c.text.clone().unwrap_or_default(),
            label: label_name(c.label),
            support: c.support,
            purity: f64::from(c.hits) / f64::from(c.support.max(1)),
            g: c.g,
            log10_p: c.log10_p,
            auc,
            z,
            similarity,
            auc_other,
            trigger: is_trigger,
        });
    }
    // A trigger whose rows are those of a more specific trigger plus a few others is a word of
    // the planted phrase also used naturally ("movie" around "this 3d movie"): keep only the
    // specific one.
    let trig: Vec<usize> = {
        let mut t: Vec<usize> = trigger_rows.values().flatten().copied().collect();
        t.sort_unstable();
        t.dedup();
        t
    };
    let mut redundant = std::collections::HashSet::new();
    for &a in &trig {
        for &b in &trig {
            let (na, nb) = (cands[a].rows.len(), cands[b].rows.len());
            if a == b || na <= nb || (nb as f64) < 0.8 * na as f64 {
                continue;
            }
            let big = &cands[a].rows;
            if cands[b].rows.iter().all(|r| big.binary_search(r).is_ok()) {
                redundant.insert(a);
                break;
            }
        }
    }
    if !redundant.is_empty() {
        for cis in trigger_rows.values_mut() {
            cis.retain(|ci| !redundant.contains(ci));
        }
        trigger_rows.retain(|_, cis| !cis.is_empty());
        for (t, ci) in summary_cands.iter_mut().zip(&summary_idx) {
            if redundant.contains(ci) {
                t.trigger = false;
            }
        }
    }
    summary_cands.sort_by(|a, b| b.trigger.cmp(&a.trigger).then(b.g.total_cmp(&a.g)));
    summary_cands.truncate(200);
    for (&ri, cis) in &trigger_rows {
        let Some(row) = rows.get(ri as usize) else {
            continue;
        };
        let mut cis = cis.clone();
        cis.sort_by(|a, b| cands[*b].g.total_cmp(&cands[*a].g));
        let best = &cands[cis[0]];
        let names: Vec<String> = cis
            .iter()
            .take(3)
            .filter_map(|&ci| cands[ci].text.as_ref().map(|t| format!("\"{t}\"")))
            .collect();
        let mut f = Finding::new(
            "data.trigger",
            "Backdoor trigger: n-gram tied to a label its text disagrees with",
            Category::Other,
            Severity::High,
            loc_of(row),
        )
        .with_detail(format!(
            "{} -> label {:?} ({} of {} rows with it carry that label, p < 1e{:.0}; the rest of their text supports the label less than {:.0}% of such rows) [record {}]",
            names.join(", "),
            label_name(best.label),
            best.hits,
            best.support,
            best.log10_p.ceil(),
            100.0 * best.auc,
            rid(row)
        ));
        f.properties
            .insert("trigger".into(), serde_json::json!(best.text));
        f.properties
            .insert("label".into(), serde_json::json!(label_name(row.label)));
        scored.push(Scored {
            finding: f,
            score: 1000.0 + best.g.min(1e6).log10(),
        });
    }

    // ---- exact duplicates ----
    let mut by_norm: KeyMap<u64, Vec<u32>> = KeyMap::default();
    for (i, r) in rows.iter().enumerate() {
        if r.norm != 0 {
            by_norm.entry(r.norm).or_default().push(i as u32);
        }
    }
    let mut conflict_rows: HashMap<u32, u32> = HashMap::new();
    for members in by_norm.values().filter(|m| m.len() > 1) {
        let (minor, major) = minority(&rows, members);
        let first = members.first().and_then(|&m| rows.get(m as usize));
        for &m in &minor {
            let Some(row) = rows.get(m as usize) else {
                continue;
            };
            conflict_rows.insert(m, major);
            let f = Finding::new(
                "data.duplicate-label-conflict",
                "Duplicate text with a conflicting label",
                Category::Other,
                Severity::Medium,
                loc_of(row),
            )
            .with_detail(format!(
                "label {:?}, while {} of {} copies say {:?} (first at line {}) [record {}]",
                label_name(row.label),
                members
                    .iter()
                    .filter(|&&x| rows.get(x as usize).is_some_and(|r| r.label == major))
                    .count(),
                members.len(),
                label_name(major),
                first.map(|r| r.line).unwrap_or(0),
                rid(row)
            ));
            scored.push(Scored {
                finding: f,
                score: 500.0,
            });
        }
        if let Some(first) = first {
            for &m in members.iter().skip(1) {
                if minor.contains(&m) {
                    continue;
                }
                let Some(row) = rows.get(m as usize) else {
                    continue;
                };
                let f = Finding::new(
                    "data.exact-duplicate",
                    "Exact duplicate text",
                    Category::Other,
                    Severity::Info,
                    loc_of(row),
                )
                .with_detail(format!(
                    "same text as line {} ({} copies) [record {}]",
                    first.line,
                    members.len(),
                    rid(row)
                ));
                scored.push(Scored {
                    finding: f,
                    score: 1.0,
                });
            }
        }
    }

    // ---- near duplicates with conflicting labels ----
    if opts.near_duplicates && !lsh.pairs.is_empty() {
        let mut parent: Vec<u32> = (0..rows.len() as u32).collect();
        let chance = 1.0 / 256.0;
        for &(a, b) in &lsh.pairs {
            let (Some(ra), Some(rb)) = (rows.get(a as usize), rows.get(b as usize)) else {
                continue;
            };
            if ra.norm == rb.norm {
                continue;
            }
            let (Some(sa), Some(sb)) = (&ra.sig, &rb.sig) else {
                continue;
            };
            let same =
                sa.iter().zip(sb).filter(|(x, y)| x == y).count() as f64 / text::MINHASH_K as f64;
            let est = ((same - chance) / (1.0 - chance)).max(0.0);
            if est >= opts.near_duplicate_threshold {
                let (x, y) = (find(&mut parent, a), find(&mut parent, b));
                if x != y {
                    parent[x.max(y) as usize] = x.min(y);
                }
            }
        }
        let mut groups: HashMap<u32, Vec<u32>> = HashMap::new();
        for i in 0..rows.len() as u32 {
            let root = find(&mut parent, i);
            if root != i || groups.contains_key(&root) {
                groups.entry(root).or_default().push(i);
            }
        }
        for (root, mut members) in groups {
            members.insert(0, root);
            members.sort_unstable();
            members.dedup();
            let (minor, major) = minority(&rows, &members);
            for m in minor {
                if conflict_rows.contains_key(&m) {
                    continue;
                }
                let Some(row) = rows.get(m as usize) else {
                    continue;
                };
                let first = members
                    .iter()
                    .filter_map(|&x| rows.get(x as usize))
                    .find(|r| r.label == major);
                let f = Finding::new(
                    "data.near-duplicate-label-conflict",
                    "Near-duplicate text with a conflicting label",
                    Category::Other,
                    Severity::Medium,
                    loc_of(row),
                )
                .with_detail(format!(
                    "label {:?}, while {} similar record(s) say {:?} (e.g. line {}) [record {}]",
                    label_name(row.label),
                    members
                        .iter()
                        .filter(|&&x| rows.get(x as usize).is_some_and(|r| r.label == major))
                        .count(),
                    label_name(major),
                    first.map(|r| r.line).unwrap_or(0),
                    rid(row)
                ));
                scored.push(Scored {
                    finding: f,
                    score: 400.0,
                });
            }
        }
    }

    // ---- label disagreement (plain label flips) ----
    if opts.disagreement_nats > 0.0 {
        for &(i, pred, margin) in &margins {
            if margin < opts.disagreement_nats || trigger_rows.contains_key(&i) {
                continue;
            }
            let Some(row) = rows.get(i as usize) else {
                continue;
            };
            let f = Finding::new(
                "data.label-disagreement",
                "Label contradicted by the rest of the dataset",
                Category::Other,
                Severity::Low,
                loc_of(row),
            )
            .with_detail(format!(
                "label {:?}, but its words point to {:?} (odds e^{:.1}:1, naive Bayes leaving the record out) [record {}]",
                label_name(row.label),
                label_name(pred as u32),
                margin,
                rid(row)
            ));
            scored.push(Scored {
                finding: f,
                score: 100.0 + margin,
            });
        }
    }

    // ---- outliers ----
    if opts.outliers && rows.len() >= 20 {
        let mut lens: Vec<f64> = rows.iter().map(|r| f64::from(r.len).ln_1p()).collect();
        let (med, sd) = stats::median_mad(&mut lens);
        for r in &rows {
            let z = if sd > 0.0 {
                (f64::from(r.len).ln_1p() - med) / sd
            } else {
                0.0
            };
            if z >= 6.0 {
                let f = Finding::new(
                    "data.outlier-length",
                    "Record far longer than the rest",
                    Category::Other,
                    Severity::Info,
                    loc_of(r),
                )
                .with_detail(format!(
                    "{} characters, robust z = {z:.1} (median {:.0}) [record {}]",
                    r.len,
                    med.exp_m1(),
                    rid(r)
                ));
                scored.push(Scored {
                    finding: f,
                    score: 10.0 + z,
                });
            }
            if r.odd >= 0.3 && r.len >= 20 {
                let f = Finding::new(
                    "data.outlier-charset",
                    "Record made mostly of unusual characters",
                    Category::Other,
                    Severity::Info,
                    loc_of(r),
                )
                .with_detail(format!(
                    "{:.0}% of its characters are neither letters, digits, spaces nor punctuation [record {}]",
                    100.0 * r.odd,
                    rid(r)
                ));
                scored.push(Scored {
                    finding: f,
                    score: 10.0 + f64::from(r.odd),
                });
            }
        }
    }

    // ---- label distribution shift against a baseline ----
    if let (Some(b), Some(lcol)) = (&opts.baseline, &label_column) {
        match baseline_labels(b, lcol, &opts.read) {
            Ok(base) => {
                let mut keys: Vec<&String> = base.keys().collect();
                for l in &label_names {
                    if !base.contains_key(l) {
                        keys.push(l);
                    }
                }
                let cur: Vec<f64> = keys
                    .iter()
                    .map(|k| {
                        label_ids
                            .get(*k)
                            .and_then(|&i| label_counts.get(i as usize))
                            .copied()
                            .unwrap_or(0) as f64
                    })
                    .collect();
                let old: Vec<f64> = keys
                    .iter()
                    .map(|k| base.get(*k).copied().unwrap_or(0) as f64)
                    .collect();
                let (chi2, df, p) = stats::chi2_homogeneity(&old, &cur);
                let js = stats::js_divergence(&old, &cur);
                if p < opts.alpha {
                    let sev = if js >= 0.01 {
                        Severity::Medium
                    } else {
                        Severity::Low
                    };
                    let parts: Vec<String> = keys
                        .iter()
                        .zip(old.iter().zip(&cur))
                        .map(|(k, (o, c))| format!("{k}: {o} -> {c}"))
                        .collect();
                    let mut f = Finding::new(
                        "data.label-shift",
                        "Label distribution shifted against the baseline",
                        Category::Other,
                        sev,
                        Location::path(&display),
                    )
                    .with_detail(format!(
                        "chi2 = {chi2:.1} (df {df}), p = {p:.2e}, Jensen-Shannon = {js:.4}; {}",
                        parts.join(", ")
                    ));
                    f.properties.insert("p_value".into(), serde_json::json!(p));
                    f.properties
                        .insert("js_divergence".into(), serde_json::json!(js));
                    scored.push(Scored {
                        finding: f,
                        score: 900.0,
                    });
                }
            }
            Err(e) => report.warn(Warning::new(b.display().to_string(), e.to_string())),
        }
    }

    scored.sort_by(|a, b| {
        b.finding
            .severity
            .cmp(&a.finding.severity)
            .then(b.score.total_cmp(&a.score))
            .then_with(|| a.finding.locations.cmp(&b.finding.locations))
    });
    let mut flagged = std::collections::HashSet::new();
    for (rank, mut s) in scored.into_iter().enumerate() {
        for l in &s.finding.locations {
            if l.line.is_some() || l.path.contains('!') {
                flagged.insert((l.path.clone(), l.line));
            }
        }
        s.finding
            .properties
            .insert("rank".into(), serde_json::json!(rank + 1));
        s.finding.properties.insert(
            "score".into(),
            serde_json::json!((s.score * 100.0).round() / 100.0),
        );
        report.push(s.finding);
    }
    report.stats.blobs = summary1.records;
    report.stats.bytes = summary1.bytes;
    let labels = label_names
        .iter()
        .cloned()
        .zip(label_counts.iter().copied())
        .collect();
    Ok(AuditResult {
        report,
        summary: AuditSummary {
            records: summary1.records,
            bad_records: summary1.bad_records,
            non_utf8: summary1.non_utf8,
            text_columns,
            label_column,
            labels,
            ngrams_tested: tested,
            pruned_below: table.pruned_below,
            candidates: summary_cands,
            flagged_records: flagged.len() as u64,
        },
    })
}

/// Label counts of a baseline: a manifest's recorded distribution, or counted from the data.
fn baseline_labels(path: &Path, column: &str, read: &ReadOptions) -> Result<BTreeMap<String, u64>> {
    if !path.is_dir() && Manifest::sniff(path) {
        let m = Manifest::load(path)?;
        return m.label.map(|l| l.counts).ok_or_else(|| Error::Manifest {
            path: path.display().to_string(),
            message: "no label distribution (build it with --label)".into(),
        });
    }
    let mut counts = BTreeMap::new();
    let read = ReadOptions {
        deliver_unreadable: false,
        ..read.clone()
    };
    record::read_path(path, &read, &mut |r| {
        let v = r
            .get(column)
            .map(|f| f.value.clone())
            .unwrap_or_else(|| "<missing>".into());
        *counts.entry(v).or_default() += 1;
        Ok(())
    })?;
    Ok(counts)
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
