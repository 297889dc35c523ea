//! Big inputs are scanned in overlapping windows (`lantern_walk::window`): every match the
//! engine can report, with the context it reads before it, must fit in one window margin, or
//! a secret cut by a window boundary could be missed.
#![allow(clippy::unwrap_used)]

use lantern_secrets::{RuleSet, MAX_MATCH_SPAN};
use lantern_walk::WINDOW_MARGIN;

// Checked when this test compiles.
const _: () = assert!(MAX_MATCH_SPAN <= WINDOW_MARGIN);

#[test]
fn rules_run_on_whole_blobs_have_bounded_matches_within_the_margin() {
    let rules = RuleSet::builtin().unwrap();
    for r in rules.rules() {
        if !(r.always_run || r.keywords.is_empty()) {
            continue;
        }
        let hir = regex_syntax::parse(&r.pattern).unwrap();
        let max = hir.properties().maximum_len();
        assert!(
            max.is_some_and(|m| m <= WINDOW_MARGIN),
            "{}: longest match {max:?} bytes",
            r.id
        );
    }
}
