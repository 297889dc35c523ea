//! The README's audit rule table is generated from [`Signal`]: this test fails when they differ.
//! `LANTERN_BLESS=1 cargo test -p lantern-data --test readme` rewrites the table.

use lantern_data::audit::Signal;

#[test]
fn readme_table_matches_the_registry() {
    let readme = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"));
    let want = Signal::markdown_table();
    let how = "LANTERN_BLESS=1 cargo test -p lantern-data --test readme";
    let checked = lantern_core::readme::check_generated(
        readme,
        "<!-- data-rules:start (generated from crates/lantern-data/src/audit/signal.rs) -->\n",
        "<!-- data-rules:end -->",
        &want,
        how,
    );
    assert_eq!(checked, Ok(()));
    assert_eq!(Signal::ALL.len(), want.lines().count() - 2);
}
