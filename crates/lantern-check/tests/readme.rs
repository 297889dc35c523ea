//! The README's check table is generated from [`CheckId`]: this test fails when they differ.
//! `LANTERN_BLESS=1 cargo test -p lantern-check --test readme` rewrites the table.

use lantern_check::CheckId;

const START: &str = "<!-- check-ids:start (generated from crates/lantern-check/src/ids.rs) -->\n";
const END: &str = "<!-- check-ids:end -->";

#[test]
fn readme_check_table_matches_the_ids() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md");
    let readme = std::fs::read_to_string(path).expect("README.md");
    let (Some(a), Some(b)) = (readme.find(START), readme.find(END)) else {
        panic!("README.md lacks the check-ids markers");
    };
    let current = &readme[a + START.len()..b];
    let want = CheckId::markdown_table();
    if current != want {
        if std::env::var_os("LANTERN_BLESS").is_some() {
            let fixed = format!("{}{START}{want}{}", &readme[..a], &readme[b..]);
            std::fs::write(path, fixed).expect("write README.md");
            return;
        }
        panic!("README check table is stale: run LANTERN_BLESS=1 cargo test -p lantern-check --test readme");
    }
    assert_eq!(CheckId::ALL.len(), want.lines().count());
    for c in CheckId::ALL {
        assert_eq!(CheckId::parse(c.as_str()), Some(c));
    }
}
