//! Precision and recall of `audit` on a directory written by `scripts/poison/poison.py`:
//! `cargo run --release -p lantern-data --example poison_eval -- DIR [ALPHA] [FLIP_NATS]`.

use lantern_data::{audit, AuditOptions};
use std::collections::BTreeSet;
use std::path::Path;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = Path::new(
        args.first()
            .ok_or("usage: poison_eval DIR [ALPHA] [FLIP_NATS]")?,
    );
    let mut opts = AuditOptions::default();
    if let Some(a) = args.get(1) {
        opts.alpha = a.parse()?;
    }
    if let Some(f) = args.get(2) {
        opts.disagreement_nats = f.parse()?;
    }
    if let Ok(v) = std::env::var("MIN_AUC_OTHER") {
        opts.min_auc_other = v.parse()?;
    }
    if let Ok(v) = std::env::var("MIN_PURITY") {
        opts.min_purity = v.parse()?;
    }
    let truth: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("truth.json"))?)?;
    let attacks = [
        ("clean", "clean.jsonl", "data.trigger"),
        ("trigger", "trigger.jsonl", "data.trigger"),
        ("sentence", "sentence.jsonl", "data.trigger"),
        ("punct", "punct.jsonl", "data.trigger"),
        (
            "clean-label",
            "clean.label.jsonl",
            "data.clean-label-trigger",
        ),
        ("flip", "flip.jsonl", "data.label-disagreement"),
    ];
    for (name, file, rule) in attacks {
        let t0 = std::time::Instant::now();
        let res = audit(&dir.join(file), &opts)?;
        let secs = t0.elapsed().as_secs_f64();
        let flagged: BTreeSet<u64> = res
            .report
            .findings
            .iter()
            .filter(|f| f.rule_id == rule)
            .flat_map(|f| f.locations.iter().filter_map(|l| l.line.map(u64::from)))
            .collect();
        let want: BTreeSet<u64> = truth["attacks"][name]["lines"]
            .as_array()
            .map(|a| a.iter().filter_map(|v| v.as_u64()).collect())
            .unwrap_or_default();
        let tp = flagged.intersection(&want).count() as f64;
        let p = if flagged.is_empty() {
            0.0
        } else {
            tp / flagged.len() as f64
        };
        let r = tp / want.len().max(1) as f64;
        let trig: Vec<String> = res
            .summary
            .candidates
            .iter()
            .filter(|c| c.trigger)
            .map(|c| format!("{}({}/{})", c.ngram, c.label, c.support))
            .take(8)
            .collect();
        if std::env::var_os("VERBOSE").is_some() {
            for c in res.summary.candidates.iter().filter(|c| {
                c.trigger
                    || [
                        "cf", "mn", "bb", "tq", ";)", "=]", "\u{2603}", "zx", "qv", ".\"", "catch",
                    ]
                    .contains(&c.ngram.as_str())
            }) {
                println!(
                    "   {:14} {:8} sup {:4} pur {:.2} log10p {:7.1} auc {:.2} z {:5.1} sim {:.2} auc_o {:.2} {}",
                    c.ngram, c.label, c.support, c.purity, c.log10_p, c.auc, c.z, c.similarity,
                    c.auc_other, c.trigger
                );
            }
        }
        if std::env::var_os("VERBOSE").is_some() {
            println!(
                "   family: tested {} pure {} checked {} min z {:.2}",
                res.summary.ngrams_tested,
                res.summary.ngrams_pure,
                res.summary.candidates_checked,
                res.summary.min_trigger_z
            );
        }
        println!(
            "{name:12} {rule:26} flagged {:5} truth {:4} P {p:.3} R {r:.3} tested {} {secs:.1}s {}",
            flagged.len(),
            want.len(),
            res.summary.ngrams_tested,
            trig.join(" ")
        );
    }
    Ok(())
}
