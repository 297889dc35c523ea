//! Every bundled rule file loads, and every rule's positive examples yield a finding of that
//! rule while its negatives yield none. All failures are reported at once.

use lantern_secrets::RuleSet;

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
