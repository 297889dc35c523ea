//! README tables generated from rule registries: the Markdown table itself, and the check that
//! the README's copy between two markers is current (each crate's `tests/readme.rs`), rewriting
//! it when `LANTERN_BLESS` is set.

use std::path::Path;

/// A Markdown table with `header` and one line per row; `|` inside cells is escaped.
pub fn markdown_table(header: &[&str], rows: impl IntoIterator<Item = Vec<String>>) -> String {
    let line = |cells: &mut dyn Iterator<Item = String>| {
        let cells: Vec<String> = cells.map(|c| c.replace('|', "\\|")).collect();
        format!("| {} |\n", cells.join(" | "))
    };
    let mut s = line(&mut header.iter().map(|h| h.to_string()));
    s.push_str(&format!("|{}\n", "---|".repeat(header.len())));
    for row in rows {
        s.push_str(&line(&mut row.into_iter()));
    }
    s
}

/// Checks that the text of `readme` between the lines `start` and `end` is `want`. When it is
/// not and `LANTERN_BLESS` is set, rewrites it and succeeds; otherwise says what to run (`how`).
pub fn check_generated(
    readme: &Path,
    start: &str,
    end: &str,
    want: &str,
    how: &str,
) -> Result<(), String> {
    let text = std::fs::read_to_string(readme).map_err(|e| format!("{}: {e}", readme.display()))?;
    let (Some(a), Some(b)) = (text.find(start), text.find(end)) else {
        return Err(format!(
            "{} lacks the markers {start:?} and {end:?}",
            readme.display()
        ));
    };
    let from = a + start.len();
    if text.get(from..b) == Some(want) {
        return Ok(());
    }
    if std::env::var_os("LANTERN_BLESS").is_none() {
        return Err(format!(
            "the generated table in {} is stale: run {how}",
            readme.display()
        ));
    }
    let fixed = format!("{}{want}{}", &text[..from], &text[b..]);
    std::fs::write(readme, fixed).map_err(|e| format!("{}: {e}", readme.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_escapes_pipes_and_check_finds_staleness() {
        let t = markdown_table(&["a", "b"], [vec!["x".into(), "y|z".into()]]);
        assert_eq!(t, "| a | b |\n|---|---|\n| x | y\\|z |\n");
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("README.md");
        std::fs::write(&p, format!("intro\n<!-- s -->\n{t}<!-- e -->\n")).unwrap();
        assert_eq!(
            check_generated(&p, "<!-- s -->\n", "<!-- e -->", &t, "x"),
            Ok(())
        );
        let err = check_generated(&p, "<!-- s -->\n", "<!-- e -->", "other", "bless it");
        if std::env::var_os("LANTERN_BLESS").is_none() {
            assert!(err.unwrap_err().contains("stale: run bless it"));
        }
        let err = check_generated(&p, "<!-- nope -->", "<!-- e -->", &t, "x").unwrap_err();
        assert!(err.contains("lacks the markers"), "{err}");
    }
}
