//! Poisoning audit: ranks suspicious records with the reason. Two streaming passes over the
//! data. Pass 1 counts n-grams (1–3) per label in documents, label counts, exact-duplicate and
//! MinHash/LSH keys, lengths and personal data. Between passes, n-grams over-represented in one
//! label are tested (G-test, one-sided, Bonferroni over the n-grams pure enough to be triggers). Pass 2 checks each
//! candidate against the rest of the text: a backdoor trigger's rows carry a label that the rest
//! of their words disagree with (leave-one-out naive Bayes without the trigger's words), while a
//! genuinely predictive word's rows agree. Candidates whose rows disagree significantly more
//! than the label's base rate are triggers; their rows are reported.

mod groups;
mod other;
mod signal;
mod table;
mod triggers;

pub use signal::Signal;

use crate::record::{self, ReadOptions, Record};
use crate::text::{self, Token};
use crate::{pii, Result};
use groups::Lsh;
use lantern_core::{Category, Finding, Location, Report, Severity, Warning};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use table::Table;

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
    /// Family-wise significance level of the tests: the n-gram/label association is
    /// Bonferroni-corrected over the n-grams with the support and purity to be triggers, the
    /// leave-one-out check over the candidates that pass it.
    pub alpha: f64,
    /// Smallest share of an n-gram's documents carrying its majority label for it to be a
    /// trigger candidate (0.9; the n-grams that pass make the Bonferroni family).
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
    /// Floor of the Mann–Whitney z of the same-label comparison (3: one-sided p ≈ 0.001);
    /// the bar used is one-sided `alpha` Bonferroni-corrected over the candidates checked,
    /// when higher.
    pub min_z: f64,
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
            min_purity: 0.9,
            min_support: 5,
            min_auc: 0.65,
            max_similarity: 0.3,
            min_auc_other: 0.5,
            min_z: 3.0,
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
    /// N-grams with at least `min_support` rows.
    pub ngrams_tested: u64,
    /// Of those, pure enough to be tested for label association: the Bonferroni factor of
    /// that test.
    #[serde(default)]
    pub ngrams_pure: u64,
    /// Candidates significant after that correction, checked against the rest of their rows'
    /// text: the Bonferroni factor of that check.
    #[serde(default)]
    pub candidates_checked: u64,
    /// Smallest Mann–Whitney z of a trigger (one-sided `alpha / candidates_checked`, at least
    /// `min_z`).
    #[serde(default)]
    pub min_trigger_z: f64,
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

/// Calls `f(start, n, hash)` for every n-gram of 1 to `max_n` tokens.
fn for_each_ngram(tokens: &[Token], max_n: usize, mut f: impl FnMut(usize, usize, u64)) {
    for n in 1..=max_n.clamp(1, 3) {
        if tokens.len() < n {
            break;
        }
        for (s, w) in tokens.windows(n).enumerate() {
            let h = if n == 1 {
                w.first().map(|t| t.hash).unwrap_or(0)
            } else {
                text::ngram_hash(w)
            };
            f(s, n, h);
        }
    }
}

/// The distinct n-grams of 1 to `max_n` tokens, sorted.
fn ngrams(tokens: &[Token], max_n: usize, out: &mut Vec<u64>) {
    out.clear();
    for_each_ngram(tokens, max_n, |_, _, h| out.push(h));
    out.sort_unstable();
    out.dedup();
}

/// The distinct token hashes of `tokens`, sorted (those whose `skip` flag is set left out).
fn distinct_unigrams(tokens: &[Token], skip: &[bool], out: &mut Vec<u64>) {
    out.clear();
    out.extend(
        tokens
            .iter()
            .enumerate()
            .filter(|(i, _)| !skip.get(*i).copied().unwrap_or(false))
            .map(|(_, t)| t.hash),
    );
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

/// Label names, ids, counts and tokens per label seen in pass 1.
#[derive(Default)]
struct Labels {
    ids: HashMap<String, u32>,
    names: Vec<String>,
    counts: Vec<u64>,
    tokens: Vec<u64>,
}

/// Most distinct labels; rows with further labels are analysed as unlabelled.
const MAX_LABELS: usize = 4096;

impl Labels {
    /// The id of label `v`, added when new (`NO_LABEL` past [`MAX_LABELS`]).
    fn intern(&mut self, v: String, table: &mut Table) -> u32 {
        if let Some(&id) = self.ids.get(&v) {
            return id;
        }
        if self.names.len() >= MAX_LABELS {
            return NO_LABEL;
        }
        let id = self.names.len() as u32;
        self.ids.insert(v.clone(), id);
        self.names.push(v);
        self.counts.push(0);
        self.tokens.push(0);
        table.ensure_labels(self.names.len());
        id
    }

    fn name(&self, l: u32) -> String {
        self.names
            .get(l as usize)
            .cloned()
            .unwrap_or_else(|| "?".into())
    }
}

/// Reusable token buffers of a pass.
#[derive(Default)]
struct Scratch {
    toks: Vec<Token>,
    grams: Vec<u64>,
    uni: Vec<u64>,
}

/// State shared by the audit's passes: what pass 1 learnt and the findings so far.
struct Ctx<'a> {
    opts: &'a AuditOptions,
    path: &'a Path,
    display: String,
    read: ReadOptions,
    max_n: usize,
    cols: Option<(Vec<String>, Option<String>)>,
    labels: Labels,
    table: Table,
    rows: Vec<Row>,
    lsh: Lsh,
    scratch: Scratch,
    scored: Vec<Scored>,
    report: Report,
}

/// Audit the dataset at `path`.
pub fn audit(path: &Path, opts: &AuditOptions) -> Result<AuditResult> {
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
    let mut cx = Ctx {
        opts,
        path,
        display: path.display().to_string(),
        read,
        max_n: opts.max_ngram.clamp(1, 3),
        cols: None,
        labels: Labels::default(),
        table: Table::new(opts.max_ngrams),
        rows: Vec::new(),
        lsh: Lsh::default(),
        scratch: Scratch::default(),
        scored: Vec::new(),
        report: Report::new(),
    };
    let read1 = cx.pass1()?;
    let (mut cands, fam) = cx.candidates();
    let p2 = cx.pass2(&mut cands)?;
    let judged = cx.judge(&mut cands, &p2, &fam);
    cx.report_triggers(&cands, &judged.trigger_rows, &fam);
    let conflicts = cx.exact_duplicates();
    cx.near_duplicates(&conflicts);
    cx.label_disagreement(&p2.margins, &judged.trigger_rows);
    cx.outliers();
    cx.label_shift();
    Ok(cx.finish(read1, fam, judged.summary))
}

impl Ctx<'_> {
    fn loc_of(&self, r: &Row) -> Location {
        location(&self.display, r.line, r.file.as_deref())
    }

    /// A finding of `signal` on row `r`.
    fn row_finding(&self, signal: Signal, r: &Row, detail: String) -> Finding {
        Finding::new(
            signal.id(),
            signal.title(),
            Category::Other,
            signal.severity(),
            self.loc_of(r),
        )
        .with_detail(detail)
    }

    fn push(&mut self, finding: Finding, score: f64) {
        self.scored.push(Scored { finding, score });
    }

    /// Pass 1: counts, keys, personal data.
    fn pass1(&mut self) -> Result<record::ReadSummary> {
        let (path, read) = (self.path, self.read.clone());
        let (_, summary) = record::read_path(path, &read, &mut |r| {
            self.ingest(&r);
            Ok(())
        })?;
        for b in summary.bad_rows.iter() {
            self.report.warn(Warning::new(
                &self.display,
                format!("line {}: {}", b.line, b.message),
            ));
        }
        if summary.bad_records > summary.bad_rows.len() as u64 {
            self.report.warn(Warning::new(
                &self.display,
                format!(
                    "{} more unreadable row(s) not listed",
                    summary.bad_records - summary.bad_rows.len() as u64
                ),
            ));
        }
        if summary.bad_records > 0 {
            // Rows the reader could not parse were not audited: say so as a finding, so
            // `--fail-on` decides (a warning alone would let the run pass green).
            let first = summary.bad_rows.first().map_or(0, |b| b.line);
            let reason = format!(
                "{} unreadable record(s) not audited (see the warnings)",
                summary.bad_records
            );
            let loc = location(&self.display, first, None);
            self.push(Finding::incomplete(loc, reason, Severity::Medium), f64::MAX);
        }
        if self.cols.as_ref().is_none_or(|(_, l)| l.is_none()) {
            self.report.warn(Warning::new(
                &self.display,
                "no label column found (use --label): label-based signals skipped",
            ));
        }
        Ok(summary)
    }

    fn text_columns(&self) -> &[String] {
        self.cols.as_ref().map(|(t, _)| t.as_slice()).unwrap_or(&[])
    }

    /// Pass 1 on one record.
    fn ingest(&mut self, r: &Record) {
        let opts = self.opts;
        let (tcols, lcol) = self.cols.get_or_insert_with(|| pick_columns(r, opts));
        let text = record_text(r, tcols);
        let label = match lcol.as_ref() {
            None => NO_LABEL,
            Some(c) => {
                let v = r
                    .get(c)
                    .map(|f| f.value.clone())
                    .unwrap_or_else(|| "<missing>".into());
                self.labels.intern(v, &mut self.table)
            }
        };
        text::tokenize(&text, &mut self.scratch.toks);
        let sig = if label == NO_LABEL {
            None
        } else {
            self.count_ngrams(label)
        };
        self.rows
            .push(make_row(r, &text, label, &self.scratch.toks, sig));
        if let Some(s) = sig {
            self.lsh.insert(self.rows.len() - 1, &text::band_keys(&s));
        }
        if opts.pii || opts.secrets.is_some() {
            self.scan_fields(r);
        }
    }

    /// Adds the current tokens' n-grams to the table under `label`; returns the MinHash.
    fn count_ngrams(&mut self, label: u32) -> Option<[u32; text::MINHASH_K]> {
        let l = label as usize;
        if let Some(c) = self.labels.counts.get_mut(l) {
            *c += 1;
        }
        let sc = &mut self.scratch;
        ngrams(&sc.toks, self.max_n, &mut sc.grams);
        for &g in &sc.grams {
            self.table.add(g, l);
        }
        distinct_unigrams(&sc.toks, &[], &mut sc.uni);
        if let Some(c) = self.labels.tokens.get_mut(l) {
            *c += sc.uni.len() as u64;
        }
        self.table.maybe_prune();
        if self.opts.near_duplicates {
            text::minhash(&sc.toks)
        } else {
            None
        }
    }

    /// Personal data and secrets in a record's string fields.
    fn scan_fields(&mut self, r: &Record) {
        let loc = location(&self.display, r.line, r.file.as_deref());
        for f in r.fields.iter().filter(|f| f.is_string) {
            if self.opts.pii {
                for m in pii::find(&f.value) {
                    let finding = Finding::new(
                        format!("data.pii.{}", m.kind.id()),
                        m.kind.title(),
                        Category::Other,
                        Severity::Medium,
                        loc.clone(),
                    )
                    .with_secret(m.value)
                    .with_detail(format!("in field `{}`", f.name));
                    self.push(finding, 300.0);
                }
            }
            if let Some(det) = &self.opts.secrets {
                for (rule, title, secret, sev) in det(&f.value) {
                    let finding = Finding::new(rule, title, Category::Secret, sev, loc.clone())
                        .with_secret(secret)
                        .with_detail(format!("in field `{}`", f.name));
                    self.push(finding, 350.0);
                }
            }
        }
    }

    /// Ranks the findings and assembles the result.
    fn finish(
        self,
        read1: record::ReadSummary,
        fam: triggers::Family,
        candidates: Vec<Trigger>,
    ) -> AuditResult {
        let Ctx {
            mut scored,
            mut report,
            labels,
            cols,
            table,
            ..
        } = self;
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
        report.stats.blobs = read1.records;
        report.stats.bytes = read1.bytes;
        let (text_columns, label_column) = cols.unwrap_or_default();
        AuditResult {
            report,
            summary: AuditSummary {
                records: read1.records,
                bad_records: read1.bad_records,
                non_utf8: read1.non_utf8,
                text_columns,
                label_column,
                labels: labels.names.into_iter().zip(labels.counts).collect(),
                ngrams_tested: fam.tested,
                ngrams_pure: fam.pure,
                candidates_checked: fam.checked,
                min_trigger_z: fam.min_z,
                pruned_below: table.pruned_below,
                candidates,
                flagged_records: flagged.len() as u64,
            },
        }
    }
}

/// The row kept for record `r` between the passes.
fn make_row(
    r: &Record,
    text: &str,
    label: u32,
    toks: &[Token],
    sig: Option<[u32; text::MINHASH_K]>,
) -> Row {
    let digest = r.digest();
    let mut d6 = [0u8; 6];
    d6.copy_from_slice(digest.get(..6).unwrap_or(&[0; 6]));
    let nchars = text.chars().count();
    let odd = text
        .chars()
        .filter(|c| !(c.is_alphanumeric() || c.is_whitespace() || c.is_ascii_punctuation()))
        .count();
    Row {
        line: r.line,
        file: r.file.as_deref().map(Box::from),
        label,
        norm: if toks.is_empty() {
            0
        } else {
            text::normalized_hash(toks)
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
    }
}

/// Short record id shown in details: the first bytes of its digest.
fn rid(r: &Row) -> String {
    hex::encode(r.digest)
}
