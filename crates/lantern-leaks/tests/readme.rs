//! The README's leak rule table is generated from the registry: this test fails when they
//! differ. `LANTERN_BLESS=1 cargo test -p lantern-leaks --test readme` rewrites the table.

use lantern_leaks::Rule;

const START: &str =
    "<!-- leak-rules:start (generated from crates/lantern-leaks/src/rules.rs) -->\n";
const END: &str = "<!-- leak-rules:end -->";

#[test]
fn readme_rule_table_matches_the_registry() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md");
    let readme = std::fs::read_to_string(path).expect("README.md");
    let (Some(a), Some(b)) = (readme.find(START), readme.find(END)) else {
        panic!("README.md lacks the leak rule table markers");
    };
    let current = &readme[a + START.len()..b];
    let want = Rule::markdown_table();
    if current != want {
        if std::env::var_os("LANTERN_BLESS").is_some() {
            let fixed = format!("{}{START}{want}{}", &readme[..a], &readme[b..]);
            std::fs::write(path, fixed).expect("write README.md");
            return;
        }
        panic!("README leak rule table is stale: run LANTERN_BLESS=1 cargo test -p lantern-leaks --test readme");
    }
    assert_eq!(Rule::ALL.len(), want.lines().count() - 2);
}
