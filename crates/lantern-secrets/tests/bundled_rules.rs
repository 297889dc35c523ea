//! Every bundled rule file loads, and every rule's positive examples yield a finding of that
//! rule while its negatives yield none. All failures are reported at once.

use lantern_core::Location;
use lantern_secrets::{RuleSet, Scanner};

#[test]
fn every_bundled_example_behaves() {
    let set = match RuleSet::builtin() {
        Ok(s) => s,
        Err(e) => panic!("bundled rules do not load: {e}"),
    };
    assert!(set.len() >= 25, "only {} bundled rules", set.len());
    let mut failures = Vec::new();
    let mut without_examples = Vec::new();
    for r in set.rules() {
        if r.examples.is_empty() {
            without_examples.push(format!("{}: rule `{}`", r.source, r.id));
        }
        for msg in r.check_examples() {
            failures.push(format!("{}: rule `{}`: {msg}", r.source, r.id));
        }
    }
    assert!(
        without_examples.is_empty(),
        "{} rule(s) without positive examples:\n{}",
        without_examples.len(),
        without_examples.join("\n")
    );
    assert!(
        failures.is_empty(),
        "{} example failure(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn bundled_ids_are_unique_and_core_is_present() {
    let set = match RuleSet::builtin() {
        Ok(s) => s,
        Err(e) => panic!("bundled rules do not load: {e}"),
    };
    assert!(RuleSet::bundled_files().any(|f| f == "rules/core.toml"));
    for id in [
        "github.pat-classic",
        "aws.access-key-id",
        "private-key.openssh",
        "jwt.token",
    ] {
        assert!(set.rules().any(|r| r.id == id), "missing {id}");
    }
}

/// Prose around a secret: for every rule and each single-line positive example whose secret ends
/// the example, the secret is still found when a space and a second copy of the example follow
/// it, and when clause punctuation follows it (`token, …`, `token.`, `token: …`, `(token)`). Where
/// a rule's character class admits the punctuation (passwords, URLs) the reported secret may
/// take it in; it must not lose any of the secret.
#[test]
fn secrets_are_found_next_to_copies_and_punctuation() {
    let set = RuleSet::builtin().unwrap();
    let loc = Location::path("<prose>");
    let mut failures = Vec::new();
    for r in set.rules() {
        let Ok(scanner) = Scanner::single(r) else {
            continue;
        };
        for ex in r.examples.iter().filter(|e| !e.contains('\n')) {
            let found = scanner.scan(ex.as_bytes(), &loc).findings;
            let Some(secret) = found
                .iter()
                .find(|f| f.rule_id == r.id)
                .and_then(|f| f.secret.clone())
            else {
                continue;
            };
            if !ex.ends_with(&secret) {
                continue;
            }
            let twice = format!("{ex} {ex}");
            let n = scanner
                .scan(twice.as_bytes(), &loc)
                .findings
                .iter()
                .filter(|f| f.rule_id == r.id)
                .count();
            if n != 2 {
                failures.push(format!("{}: {n} finding(s) in {twice:?}", r.id));
            }
            for tail in [", and then", ".", ": done", ")", ";"] {
                let text = format!("{ex}{tail}");
                let hit = scanner
                    .scan(text.as_bytes(), &loc)
                    .findings
                    .iter()
                    .any(|f| {
                        f.rule_id == r.id
                            && f.secret.as_deref().is_some_and(|s| s.starts_with(&secret))
                    });
                if !hit {
                    failures.push(format!("{}: missed in {text:?}", r.id));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failure(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The rules lint's policy (`rules/lint/anchors.toml`): keywords too common in ordinary code to
/// be an anchor, and the rules known to lack a selective anchor.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct AnchorPolicy {
    common_words: Vec<String>,
    #[serde(default)]
    unanchored: Vec<Unanchored>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Unanchored {
    id: String,
    reason: String,
}

/// A literal selective enough to prefilter on: at least 4 bytes and not a common word, or
/// 3 bytes with punctuation (`sk-`, `hf_`, `r8_`: a token prefix, not a word).
fn selective(k: &str, common: &[String]) -> bool {
    let k = k.to_ascii_lowercase();
    if common.contains(&k) {
        return false;
    }
    k.len() >= 4 || (k.len() == 3 && k.bytes().any(|b| !b.is_ascii_alphanumeric()))
}

/// The anchor of a rule: its keywords when each is selective, else the literals derived from
/// its regex when each of those is.
fn anchor(r: &lantern_secrets::Rule, common: &[String]) -> Option<Vec<String>> {
    if r.keywords.iter().all(|k| selective(k, common)) {
        return Some(r.keywords.clone());
    }
    lantern_secrets::keywords::derive(&r.pattern)
        .filter(|lits| lits.iter().all(|k| selective(k, common)))
}

/// Rules lint: every bundled rule has positive and negative examples and a selective anchor
/// (a keyword, or a literal derived from its regex). Rules without an anchor are listed in
/// `rules/lint/anchors.toml` with the reason; the list must stay exact (a rule that gains an
/// anchor leaves it, a new rule without one fails).
#[test]
fn rules_lint_examples_negatives_and_anchors() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/rules/lint/anchors.toml"
    ))
    .unwrap();
    let policy: AnchorPolicy = toml::from_str(&text).unwrap();
    let set = RuleSet::builtin().unwrap();
    let mut problems = Vec::new();
    let mut unanchored = Vec::new();
    for r in set.rules() {
        if r.examples.is_empty() {
            problems.push(format!("{}: no positive example", r.id));
        }
        if r.negative.is_empty() {
            problems.push(format!("{}: no negative example", r.id));
        }
        if anchor(r, &policy.common_words).is_none() {
            unanchored.push(r.id.clone());
            if !policy.unanchored.iter().any(|u| u.id == r.id) {
                problems.push(format!(
                    "{}: no selective anchor (keywords {:?}); add a distinctive keyword",
                    r.id, r.keywords
                ));
            }
        }
    }
    for u in &policy.unanchored {
        if !unanchored.contains(&u.id) {
            problems.push(format!(
                "{}: listed as unanchored in rules/lint/anchors.toml but has an anchor (or no longer exists): remove the entry",
                u.id
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "{} rules lint problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
}
