//! The README's audit rule table is generated from [`Signal`]: this test fails when they
//! differ. `LANTERN_BLESS=1 cargo test -p lantern-data --test readme` rewrites the table.

use lantern_data::audit::Signal;

const START: &str =
    "<!-- data-rules:start (generated from crates/lantern-data/src/audit/signal.rs) -->\n";
const END: &str = "<!-- data-rules:end -->";

#[test]
fn readme_rule_table_matches_the_signals() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md");
    let readme = std::fs::read_to_string(path).expect("README.md");
    let (Some(a), Some(b)) = (readme.find(START), readme.find(END)) else {
        panic!("README.md lacks the data rule table markers");
    };
    let current = &readme[a + START.len()..b];
    let want = Signal::markdown_table();
    if current != want {
        if std::env::var_os("LANTERN_BLESS").is_some() {
            let fixed = format!("{}{START}{want}{}", &readme[..a], &readme[b..]);
            std::fs::write(path, fixed).expect("write README.md");
            return;
        }
        panic!("README data rule table is stale: run LANTERN_BLESS=1 cargo test -p lantern-data --test readme");
    }
    assert_eq!(Signal::ALL.len(), want.lines().count() - 2);
}
