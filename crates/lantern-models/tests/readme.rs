//! The README's model rule table is generated from [`Rule`]: this test fails when they differ.
//! `LANTERN_BLESS=1 cargo test -p lantern-models --test readme` rewrites the table.

use lantern_models::Rule;

#[test]
fn readme_table_matches_the_registry() {
    let readme = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"));
    let want = Rule::markdown_table();
    let how = "LANTERN_BLESS=1 cargo test -p lantern-models --test readme";
    let checked = lantern_core::readme::check_generated(
        readme,
        "<!-- model-rules:start (generated from crates/lantern-models/src/rules.rs) -->\n",
        "<!-- model-rules:end -->",
        &want,
        how,
    );
    assert_eq!(checked, Ok(()));
    assert_eq!(Rule::ALL.len(), want.lines().count() - 2);
}
