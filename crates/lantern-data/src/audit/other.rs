//! Dataset-level signals: label disagreement, outliers and label shift against a baseline.

use super::{rid, Ctx, Signal};
use crate::manifest::Manifest;
use crate::record::{self, ReadOptions};
use crate::{stats, Error, Result};
use lantern_core::{Category, Finding, Location, Severity, Warning};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

impl Ctx<'_> {
    /// Rows whose words point to another label by more than `disagreement_nats` (rows of
    /// triggers are reported as such).
    pub(super) fn label_disagreement(
        &mut self,
        margins: &[(u32, usize, f64)],
        trigger_rows: &HashMap<u32, Vec<usize>>,
    ) {
        if self.opts.disagreement_nats <= 0.0 {
            return;
        }
        for &(i, pred, margin) in margins {
            if margin < self.opts.disagreement_nats || trigger_rows.contains_key(&i) {
                continue;
            }
            let Some(row) = self.rows.get(i as usize) else {
                continue;
            };
            let detail = format!(
                "label {:?}, but its words point to {:?} (odds e^{:.1}:1, naive Bayes leaving the record out) [record {}]",
                self.labels.name(row.label),
                self.labels.name(pred as u32),
                margin,
                rid(row)
            );
            let f = self.row_finding(Signal::LabelDisagreement, row, detail);
            self.push(f, 100.0 + margin);
        }
    }

    /// Length and character-mix outliers.
    pub(super) fn outliers(&mut self) {
        if !self.opts.outliers || self.rows.len() < 20 {
            return;
        }
        let mut lens: Vec<f64> = self.rows.iter().map(|r| f64::from(r.len).ln_1p()).collect();
        let (med, sd) = stats::median_mad(&mut lens);
        let mut found = Vec::new();
        for r in &self.rows {
            let z = if sd > 0.0 {
                (f64::from(r.len).ln_1p() - med) / sd
            } else {
                0.0
            };
            if z >= 6.0 {
                let detail = format!(
                    "{} characters, robust z = {z:.1} (median {:.0}) [record {}]",
                    r.len,
                    med.exp_m1(),
                    rid(r)
                );
                found.push((self.row_finding(Signal::OutlierLength, r, detail), 10.0 + z));
            }
            if r.odd >= 0.3 && r.len >= 20 {
                let detail = format!(
                    "{:.0}% of its characters are neither letters, digits, spaces nor punctuation [record {}]",
                    100.0 * r.odd,
                    rid(r)
                );
                let score = 10.0 + f64::from(r.odd);
                found.push((self.row_finding(Signal::OutlierCharset, r, detail), score));
            }
        }
        for (f, score) in found {
            self.push(f, score);
        }
    }

    /// Label distribution against the baseline (chi-squared homogeneity test).
    pub(super) fn label_shift(&mut self) {
        let Some(b) = &self.opts.baseline else {
            return;
        };
        let Some(lcol) = self.cols.as_ref().and_then(|(_, l)| l.clone()) else {
            return;
        };
        let base = match baseline_labels(b, &lcol, &self.opts.read) {
            Ok(base) => base,
            Err(e) => {
                self.report
                    .warn(Warning::new(b.display().to_string(), e.to_string()));
                return;
            }
        };
        let mut keys: Vec<&String> = base.keys().collect();
        keys.extend(self.labels.names.iter().filter(|l| !base.contains_key(*l)));
        let cur: Vec<f64> = keys
            .iter()
            .map(|k| {
                self.labels
                    .ids
                    .get(*k)
                    .and_then(|&i| self.labels.counts.get(i as usize))
                    .copied()
                    .unwrap_or(0) as f64
            })
            .collect();
        let old: Vec<f64> = keys
            .iter()
            .map(|k| base.get(*k).copied().unwrap_or(0) as f64)
            .collect();
        let (chi2, df, p) = stats::chi2_homogeneity(&old, &cur);
        if p >= self.opts.alpha {
            return;
        }
        let js = stats::js_divergence(&old, &cur);
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
        let s = Signal::LabelShift;
        let mut f = Finding::new(
            s.id(),
            s.title(),
            Category::Other,
            sev,
            Location::path(&self.display),
        )
        .with_detail(format!(
            "chi2 = {chi2:.1} (df {df}), p = {p:.2e}, Jensen-Shannon = {js:.4}; {}",
            parts.join(", ")
        ));
        f.properties.insert("p_value".into(), serde_json::json!(p));
        f.properties
            .insert("js_divergence".into(), serde_json::json!(js));
        self.push(f, 900.0);
    }
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
