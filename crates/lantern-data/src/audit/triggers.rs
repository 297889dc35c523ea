//! Trigger n-grams: candidates over-represented in one label (G-test), checked against the
//! rest of their rows' text in a second pass (leave-one-out naive Bayes, Mann-Whitney).

use super::groups::sig_similarity;
use super::table::{KeyMap, NaiveBayes};
use super::{
    distinct_unigrams, for_each_ngram, record_text, rid, Ctx, Row, Signal, Trigger, NO_LABEL,
};
use crate::{record, stats, text, Result};
use std::collections::{HashMap, HashSet};

/// Mean estimated Jaccard similarity over up to 400 pairs of `members` (b-bit corrected).
fn mean_similarity(rows: &[Row], members: &[u32]) -> f64 {
    let sigs: Vec<&[u8; text::MINHASH_K]> = members
        .iter()
        .filter_map(|&m| rows.get(m as usize).and_then(|r| r.sig.as_ref()))
        .collect();
    if sigs.len() < 2 {
        return 0.0;
    }
    let mut total = 0.0;
    let mut pairs = 0usize;
    let n = sigs.len();
    for step in 1..n {
        for i in 0..n - step {
            if pairs >= 400 {
                break;
            }
            if let (Some(a), Some(b)) = (sigs.get(i), sigs.get(i + step)) {
                total += sig_similarity(a, b);
                pairs += 1;
            }
        }
        if pairs >= 400 {
            break;
        }
    }
    total / pairs.max(1) as f64
}

/// An n-gram over-represented in one label, and what pass 2 found on its rows.
pub(super) struct Candidate {
    hash: u64,
    label: u32,
    support: u32,
    hits: u32,
    g: f64,
    log10_p: f64,
    text: Option<String>,
    /// Rows carrying it with its label, in row order.
    rows: Vec<u32>,
    /// Support of each of those rows for the label by their other words.
    support_sum: Vec<f32>,
    auc: f64,
    /// Mann–Whitney z of the leave-one-out comparison.
    z: f64,
}

/// What pass 2 measured on every labelled row.
pub(super) struct Pass2 {
    /// Per label: how much its rows' words support it over the best other label, sorted.
    by_label: Vec<Vec<f32>>,
    /// Per label: how much rows of other labels' words support it over their best other, sorted.
    by_other: Vec<Vec<f32>>,
    /// Rows carrying no candidate whose words predict another label: (row, label, log-odds).
    pub(super) margins: Vec<(u32, usize, f64)>,
}

/// Candidates judged, for the summary and the findings.
pub(super) struct Judged {
    /// Candidates examined, triggers first (at most 200).
    pub(super) summary: Vec<Trigger>,
    /// Rows of triggers: row -> candidate indices.
    pub(super) trigger_rows: HashMap<u32, Vec<usize>>,
}

/// The multiple-testing families of the trigger tests and the bars they set.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Family {
    /// N-grams with at least `min_support` rows.
    pub(super) tested: u64,
    /// Of those, pure enough to be tested for label association (first Bonferroni factor).
    pub(super) pure: u64,
    /// Candidates significant at `alpha` after that correction, checked in pass 2 (second
    /// Bonferroni factor).
    pub(super) checked: u64,
    /// Smallest Mann–Whitney z of a trigger: one-sided `alpha / checked`, at least `min_z`.
    pub(super) min_z: f64,
}

/// The one-sided standard normal quantile for tail probability `p` (bisection on the
/// chi-squared survival function with one degree of freedom).
fn z_for(p: f64) -> f64 {
    let target = p.clamp(1e-300, 0.5).ln();
    let (mut lo, mut hi) = (0.0f64, 40.0f64);
    for _ in 0..100 {
        let mid = 0.5 * (lo + hi);
        if stats::ln_chi2_sf(mid * mid, 1.0) - std::f64::consts::LN_2 > target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    hi
}

/// Most candidates carried into pass 2.
const MAX_CANDIDATES: usize = 20_000;

impl Ctx<'_> {
    /// N-grams over-represented in one label: the candidates (Bonferroni-corrected p-values)
    /// and the number of n-grams tested.
    pub(super) fn candidates(&self) -> (Vec<Candidate>, Family) {
        let mut fam = Family::default();
        let mut cands: Vec<Candidate> = Vec::new();
        if self.labels.names.len() < 2 {
            return (cands, fam);
        }
        let stride = self.table.stride;
        for (&h, &r) in &self.table.index {
            let base = r as usize * stride;
            let Some(row) = self.table.counts.get(base..base + stride) else {
                continue;
            };
            if row.first().copied().unwrap_or(0) < self.opts.min_support {
                continue;
            }
            fam.tested += 1;
            if let Some(c) = self.candidate(h, row) {
                cands.push(c);
            }
        }
        // Bonferroni over the n-grams actually tested for association: those with the support
        // and purity to be a trigger at all (the rest are never candidates, whatever their
        // p-value), so the bar scales with the corpus's vocabulary instead of a fixed 1e-6.
        fam.pure = cands.len() as u64;
        let ln_m = (fam.pure.max(1) as f64).log10();
        let lim = self.opts.alpha.max(1e-300).log10();
        cands.retain(|c| c.log10_p + ln_m <= lim);
        for c in &mut cands {
            c.log10_p += ln_m;
        }
        // Ties broken by hash: the table's iteration order must not decide which candidates
        // survive the cut (it did, making repeated runs differ slightly).
        cands.sort_by(|a, b| b.g.total_cmp(&a.g).then(a.hash.cmp(&b.hash)));
        cands.truncate(MAX_CANDIDATES);
        // The leave-one-out test is a second family: one test per candidate.
        fam.checked = cands.len() as u64;
        fam.min_z = z_for(self.opts.alpha / fam.checked.max(1) as f64).max(self.opts.min_z);
        (cands, fam)
    }

    /// The n-gram `h` with counts `row` (`[total, per label...]`) as a candidate when pure
    /// enough, with its uncorrected one-sided G-test p-value.
    fn candidate(&self, h: u64, row: &[u32]) -> Option<Candidate> {
        let n_labeled: u64 = self.labels.counts.iter().sum();
        let total = row.first().copied().unwrap_or(0);
        let (l, &a) = row
            .iter()
            .skip(1)
            .take(self.labels.names.len())
            .enumerate()
            .max_by_key(|(_, &c)| c)
            .unwrap_or((0, &0));
        let purity = f64::from(a) / f64::from(total);
        let nl = self.labels.counts.get(l).copied().unwrap_or(0) as f64;
        if purity < self.opts.min_purity || purity <= nl / n_labeled as f64 {
            return None;
        }
        let (a, b) = (f64::from(a), f64::from(total) - f64::from(a));
        let (c, d) = (nl - a, n_labeled as f64 - nl - b);
        let g = stats::g_test_2x2(a, b, c.max(0.0), d.max(0.0));
        let ln_p = stats::ln_chi2_sf(g, 1.0) - std::f64::consts::LN_2;
        Some(Candidate {
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
            z: 0.0,
        })
    }

    /// Pass 2: each labelled row's support for its label by its words other than the
    /// candidates it carries, per candidate and per label; label disagreement margins.
    pub(super) fn pass2(&self, cands: &mut [Candidate]) -> Result<Pass2> {
        let k = self.labels.names.len();
        let mut p2 = Pass2 {
            by_label: vec![Vec::new(); k],
            by_other: vec![Vec::new(); k],
            margins: Vec::new(),
        };
        if k < 2 {
            return Ok(p2);
        }
        let cand_index: KeyMap<u64, usize> =
            cands.iter().enumerate().map(|(i, c)| (c.hash, i)).collect();
        let mut toks = Vec::new();
        let (mut uni, mut all, mut lps) = (Vec::new(), Vec::new(), Vec::new());
        let mut excluded: Vec<bool> = Vec::new();
        let mut hits: Vec<usize> = Vec::new();
        let mut idx = 0usize;
        record::read_path(self.path, &self.read, &mut |r| {
            let i = idx;
            idx += 1;
            let Some(row) = self.rows.get(i).filter(|row| row.label != NO_LABEL) else {
                return Ok(());
            };
            let y = row.label as usize;
            let text = record_text(&r, self.text_columns());
            text::tokenize(&text, &mut toks);
            excluded.clear();
            excluded.resize(toks.len(), false);
            hits.clear();
            if !cand_index.is_empty() {
                for_each_ngram(&toks, self.max_n, |s, n, h| {
                    let Some(&ci) = cand_index.get(&h) else {
                        return;
                    };
                    let Some(c) = cands.get_mut(ci).filter(|c| c.label as usize == y) else {
                        return;
                    };
                    if c.text.is_none() {
                        c.text = toks.get(s..s + n).map(|w| text::ngram_text(&text, w));
                    }
                    for e in excluded.iter_mut().skip(s).take(n) {
                        *e = true;
                    }
                    if !hits.contains(&ci) {
                        hits.push(ci);
                    }
                });
            }
            distinct_unigrams(&toks, &excluded, &mut uni);
            distinct_unigrams(&toks, &[], &mut all);
            // Leave-one-out: this row's own distinct unigrams are removed from its label's
            // counts; excluded words are simply not looked at.
            let nb = NaiveBayes {
                table: &self.table,
                label_counts: &self.labels.counts,
                tokens_per_label: &self.labels.tokens,
                vocab: self.table.index.len().max(1) as f64,
            };
            let (pred, margin, support) = nb.score(&uni, y, all.len() as u64, &mut lps);
            p2.record_row(i as u32, y, &lps, (pred, margin, support), hits.is_empty());
            for &ci in &hits {
                if let Some(c) = cands.get_mut(ci) {
                    c.rows.push(i as u32);
                    c.support_sum.push(support as f32);
                }
            }
            Ok(())
        })?;
        for v in p2.by_label.iter_mut().chain(p2.by_other.iter_mut()) {
            v.sort_by(|a, b| a.total_cmp(b));
        }
        Ok(p2)
    }
}

impl Pass2 {
    /// Records row `i` (label `y`, per-label log-probabilities `lps`, the naive Bayes
    /// prediction, margin and own-label support).
    fn record_row(&mut self, i: u32, y: usize, lps: &[f64], nb: (usize, f64, f64), clean: bool) {
        let (pred, margin, support) = nb;
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
                if let Some(v) = self.by_other.get_mut(l) {
                    v.push((lp - best_other) as f32);
                }
            }
        }
        if pred != y && clean {
            self.margins.push((i, pred, margin));
        }
        if let Some(v) = self.by_label.get_mut(y) {
            v.push(support as f32);
        }
    }
}

/// Mann–Whitney U of `sample` against the sorted `population`: how often a sample value is
/// below a population value (ties count half).
fn mann_whitney_u(sample: &[f32], population: &[f32]) -> f64 {
    let mut u = 0.0;
    for &s in sample {
        let le = population.partition_point(|&x| x <= s);
        let lt = population.partition_point(|&x| x < s);
        u += (population.len() - le) as f64 + 0.5 * (le - lt) as f64;
    }
    u
}

impl Ctx<'_> {
    /// Judges every candidate: trigger or genuinely predictive n-gram.
    pub(super) fn judge(&self, cands: &mut [Candidate], p2: &Pass2, fam: &Family) -> Judged {
        let mut summary = Vec::new();
        let mut summary_idx: Vec<usize> = Vec::new();
        let mut trigger_rows: HashMap<u32, Vec<usize>> = HashMap::new();
        for (ci, c) in cands.iter_mut().enumerate() {
            let Some(t) = self.judge_one(c, p2, fam) else {
                continue;
            };
            if t.trigger {
                for &r in &c.rows {
                    trigger_rows.entry(r).or_default().push(ci);
                }
            }
            summary_idx.push(ci);
            summary.push(t);
        }
        let redundant = redundant_triggers(cands, &trigger_rows);
        if !redundant.is_empty() {
            for cis in trigger_rows.values_mut() {
                cis.retain(|ci| !redundant.contains(ci));
            }
            trigger_rows.retain(|_, cis| !cis.is_empty());
            for (t, ci) in summary.iter_mut().zip(&summary_idx) {
                if redundant.contains(ci) {
                    t.trigger = false;
                }
            }
        }
        summary.sort_by(|a, b| b.trigger.cmp(&a.trigger).then(b.g.total_cmp(&a.g)));
        summary.truncate(200);
        Judged {
            summary,
            trigger_rows,
        }
    }

    /// One candidate's statistics and verdict (`None`: none of its rows carry its label).
    fn judge_one(&self, c: &mut Candidate, p2: &Pass2, fam: &Family) -> Option<Trigger> {
        let n = c.support_sum.len() as f64;
        let all = p2
            .by_label
            .get(c.label as usize)
            .filter(|v| !v.is_empty())?;
        if n == 0.0 {
            return None;
        }
        // Mann–Whitney U: how often a row of this n-gram is less supported by its other words
        // than a row of the same label at large.
        let m = all.len() as f64;
        let u = mann_whitney_u(&c.support_sum, all);
        let auc = u / (n * m);
        let auc_other = p2
            .by_other
            .get(c.label as usize)
            .filter(|v| !v.is_empty())
            .map(|o| mann_whitney_u(&c.support_sum, o) / (n * o.len() as f64))
            .unwrap_or(0.5);
        let z = (u - n * m / 2.0) / (n * m * (n + m + 1.0) / 12.0).sqrt().max(1e-9);
        c.auc = auc;
        c.z = z;
        let similarity = mean_similarity(&self.rows, &c.rows);
        // Rows planted into texts of other labels sit with those labels (AUC about 0.5 or
        // more); allow one standard error of the Mann–Whitney AUC (at most 0.05) below the bound.
        let opts = self.opts;
        let m_other = p2.by_other.get(c.label as usize).map_or(1, Vec::len).max(1) as f64;
        let se_other = ((n + m_other + 1.0) / (12.0 * n * m_other)).sqrt();
        let purity = f64::from(c.hits) / f64::from(c.support.max(1));
        // Any association significant over the pure n-grams (a trigger sent to a majority
        // label or planted in a small corpus cannot be more significant than that), and a
        // leave-one-out z Bonferroni-corrected over the candidates checked.
        let trigger = z >= fam.min_z
            && auc >= opts.min_auc
            && auc_other >= (opts.min_auc_other - se_other).max(opts.min_auc_other - 0.05)
            && similarity <= opts.max_similarity;
        Some(Trigger {
            ngram: c.text.clone().unwrap_or_default(),
            label: self.labels.name(c.label),
            support: c.support,
            purity,
            g: c.g,
            log10_p: c.log10_p,
            auc,
            z,
            similarity,
            auc_other,
            trigger,
        })
    }

    /// One finding per row carrying a trigger, naming its strongest triggers.
    pub(super) fn report_triggers(
        &mut self,
        cands: &[Candidate],
        trigger_rows: &HashMap<u32, Vec<usize>>,
        fam: &Family,
    ) {
        for (&ri, cis) in trigger_rows {
            let Some(row) = self.rows.get(ri as usize) else {
                continue;
            };
            let mut cis = cis.clone();
            cis.sort_by(|a, b| cands[*b].g.total_cmp(&cands[*a].g));
            let Some(best) = cis.first().and_then(|&ci| cands.get(ci)) else {
                continue;
            };
            let names: Vec<String> = cis
                .iter()
                .take(3)
                .filter_map(|&ci| cands[ci].text.as_ref().map(|t| format!("\"{t}\"")))
                .collect();
            let mut f = self.row_finding(Signal::Trigger, row, format!(
                "{} -> label {:?} ({} of {} rows with it carry that label, p < 1e{:.0}; the rest of their text supports the label less than {:.0}% of such rows) [record {}]",
                names.join(", "),
                self.labels.name(best.label),
                best.hits,
                best.support,
                best.log10_p.ceil(),
                100.0 * best.auc,
                rid(row)
            ));
            f.properties
                .insert("trigger".into(), serde_json::json!(best.text));
            f.properties.insert(
                "label".into(),
                serde_json::json!(self.labels.name(row.label)),
            );
            f.properties
                .insert("explain".into(), self.explain(best, fam));
            self.push(f, 1000.0 + best.g.min(1e6).log10());
        }
    }
}

impl Ctx<'_> {
    /// Why a trigger was reported: its statistics next to the bars it passed.
    fn explain(&self, c: &Candidate, fam: &Family) -> serde_json::Value {
        let o = self.opts;
        serde_json::json!({
            "support": c.support,
            "purity": f64::from(c.hits) / f64::from(c.support.max(1)),
            "min_support": o.min_support,
            "min_purity": o.min_purity,
            "log10_p": c.log10_p,
            "max_log10_p": o.alpha.max(1e-300).log10(),
            "bonferroni_ngrams": fam.pure,
            "auc": c.auc,
            "min_auc": o.min_auc,
            "z": c.z,
            "min_z": fam.min_z,
            "bonferroni_candidates": fam.checked,
        })
    }
}

/// A trigger whose rows are those of a more specific trigger plus a few others is a word of
/// the planted phrase also used naturally ("movie" around "this 3d movie"): the general ones.
fn redundant_triggers(
    cands: &[Candidate],
    trigger_rows: &HashMap<u32, Vec<usize>>,
) -> HashSet<usize> {
    let mut trig: Vec<usize> = trigger_rows.values().flatten().copied().collect();
    trig.sort_unstable();
    trig.dedup();
    let mut redundant = HashSet::new();
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
    redundant
}
