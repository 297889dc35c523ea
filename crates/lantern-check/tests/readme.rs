//! The README's check table is generated from [`CheckId`]: this test fails when they differ.
//! `LANTERN_BLESS=1 cargo test -p lantern-check --test readme` rewrites the table.

use lantern_check::CheckId;

#[test]
fn readme_table_matches_the_registry() {
    let readme = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"));
    let want = CheckId::markdown_table();
    let how = "LANTERN_BLESS=1 cargo test -p lantern-check --test readme";
    let checked = lantern_core::readme::check_generated(
        readme,
        "<!-- check-ids:start (generated from crates/lantern-check/src/ids.rs) -->\n",
        "<!-- check-ids:end -->",
        &want,
        how,
    );
    assert_eq!(checked, Ok(()));
    assert_eq!(CheckId::ALL.len(), want.lines().count());
    for c in CheckId::ALL {
        assert_eq!(CheckId::parse(c.as_str()), Some(c));
    }
}
