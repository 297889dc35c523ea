//! The README's iac rule table is generated from the registry: this test fails when they
//! differ. `LANTERN_BLESS=1 cargo test -p lantern-iac --test readme` rewrites the table.

use lantern_iac::Rule;

#[test]
fn readme_rule_table_matches_the_registry() {
    let readme = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"));
    let start = "<!-- iac-rules:start (generated from crates/lantern-iac/src/rules.rs) -->\n";
    let want = Rule::markdown_table();
    let how = "LANTERN_BLESS=1 cargo test -p lantern-iac --test readme";
    let checked =
        lantern_core::readme::check_generated(readme, start, "<!-- iac-rules:end -->", &want, how);
    assert_eq!(checked, Ok(()));
    assert_eq!(Rule::ALL.len(), want.lines().count() - 2);
}
