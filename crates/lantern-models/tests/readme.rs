//! The README's model rule table is generated from the registry: this test fails when they
//! differ. `LANTERN_BLESS=1 cargo test -p lantern-models --test readme` rewrites the table.

use lantern_models::Rule;

const START: &str =
    "<!-- model-rules:start (generated from crates/lantern-models/src/rules.rs) -->\n";
const END: &str = "<!-- model-rules:end -->";

#[test]
fn readme_rule_table_matches_the_registry() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md");
    let readme = std::fs::read_to_string(path).expect("README.md");
    let (Some(a), Some(b)) = (readme.find(START), readme.find(END)) else {
        panic!("README.md lacks the model rule table markers");
    };
    let current = &readme[a + START.len()..b];
    let want = Rule::markdown_table();
    if current != want {
        if std::env::var_os("LANTERN_BLESS").is_some() {
            let fixed = format!("{}{START}{want}{}", &readme[..a], &readme[b..]);
            std::fs::write(path, fixed).expect("write README.md");
            return;
        }
        panic!(
            "README model rule table is stale: run \
             LANTERN_BLESS=1 cargo test -p lantern-models --test readme"
        );
    }
    assert_eq!(Rule::ALL.len(), want.lines().count() - 2);
}
