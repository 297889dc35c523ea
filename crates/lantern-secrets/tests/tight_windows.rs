//! Every bundled rule's positive examples are still found, with the same secret, when they sit
//! in the middle of text full of that rule's keywords: the tight windows of keyword-prefixed
//! rules (and the merged wide windows of the others) lose nothing the bare example shows.
#![allow(clippy::unwrap_used)]

use lantern_core::Location;
use lantern_secrets::{RuleSet, Scanner};

/// About 16 KiB of prose with `keyword` in it every few words, in several cases.
fn noise(keyword: &str) -> String {
    let mut s = String::new();
    let forms = [
        keyword.to_string(),
        keyword.to_ascii_uppercase(),
        format!("x{keyword}y"),
    ];
    let mut i = 0;
    while s.len() < 16 << 10 {
        s.push_str("the path of the session ");
        s.push_str(&forms[i % forms.len()]);
        s.push_str(if i % 7 == 0 { "\n" } else { " " });
        i += 1;
    }
    s
}

#[test]
fn examples_survive_keyword_noise() {
    let set = RuleSet::builtin().unwrap();
    let rules: Vec<_> = set.rules().cloned().collect();
    let scanner = Scanner::new(set, &[]).unwrap();
    let loc = Location::path("x.txt");
    let mut failures = Vec::new();
    for r in &rules {
        let Some(kw) = r.keywords.first() else {
            continue;
        };
        for ex in r.examples.iter().filter(|e| !e.contains('\n')) {
            let want: Vec<String> = scanner
                .scan(ex.as_bytes(), &loc)
                .findings
                .into_iter()
                .filter(|f| f.rule_id == r.id)
                .filter_map(|f| f.secret)
                .collect();
            if want.is_empty() {
                continue;
            }
            let n = noise(kw);
            let text = format!("{n}\n{ex}\n{n}");
            let got: Vec<String> = scanner
                .scan(text.as_bytes(), &loc)
                .findings
                .into_iter()
                .filter(|f| f.rule_id == r.id)
                .filter_map(|f| f.secret)
                .collect();
            for w in &want {
                if !got.contains(w) {
                    failures.push(format!("{}: {ex:?}: lost {w:?} (got {got:?})", r.id));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
