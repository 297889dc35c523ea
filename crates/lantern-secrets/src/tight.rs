//! Tight candidate windows for rules whose every match starts with their keyword.
//!
//! By default a keyword hit makes its rules' regexes run on a window of about 12 KiB around it;
//! a weak keyword (`pat`, `ion_`, `00d`) that occurs every few hundred bytes of ordinary code
//! then makes those regexes scan nearly the whole input. When the rule's regex has the shape
//! `B (K …)` — an optional boundary `B` of at most [`MAX_BOUNDARY`] bytes (`^`, `\b`,
//! `[^A-Za-z0-9_-]`), then a capture group starting with the literal keyword `K` — and a bounded
//! longest match `L` (regex-syntax), every match starts at most `|B|` bytes before a keyword hit
//! and ends at most `L` bytes after it. Scanning `[hit - |B|, hit + L + 1)` (one byte more for a
//! trailing `\b` or `$` to see the real next byte) then finds exactly the matches the wide window
//! would, at a fraction of the cost.

use regex_syntax::hir::{Hir, HirKind};

/// Longest boundary before the keyword (one UTF-8 character).
const MAX_BOUNDARY: usize = 4;

/// `(bytes before the keyword hit, bytes after it)` to scan for a rule with one `keyword` and
/// regex `pattern`, when every match starts with the keyword; `None` otherwise.
pub(crate) fn span(pattern: &str, keywords: &[String]) -> Option<(usize, usize)> {
    let [keyword] = keywords else { return None };
    let hir = regex_syntax::parse(pattern).ok()?;
    let longest = hir.properties().maximum_len()?;
    let parts: &[Hir] = match hir.kind() {
        HirKind::Concat(parts) => parts,
        _ => std::slice::from_ref(&hir),
    };
    let before = match parts {
        [first, ..] if starts_with_literal(first, keyword) => 0,
        [boundary, second, ..] if starts_with_literal(second, keyword) => {
            let b = boundary.properties().maximum_len()?;
            (b <= MAX_BOUNDARY).then_some(b)?
        }
        _ => return None,
    };
    Some((before, longest.saturating_add(1)))
}

/// Whether every match of `h` starts with `keyword` (ASCII case-insensitively equal bytes).
fn starts_with_literal(h: &Hir, keyword: &str) -> bool {
    match h.kind() {
        HirKind::Literal(lit) => lit
            .0
            .get(..keyword.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(keyword.as_bytes())),
        HirKind::Capture(c) => starts_with_literal(&c.sub, keyword),
        HirKind::Concat(parts) => parts
            .first()
            .is_some_and(|p| starts_with_literal(p, keyword)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kw(k: &str) -> Vec<String> {
        vec![k.to_string()]
    }

    #[test]
    fn keyword_prefixed_bounded_rules_are_tight() {
        let airtable = r"(?:^|[^A-Za-z0-9_-])(pat[[:alnum:]]{14}\.[a-f0-9]{64})\b";
        assert_eq!(
            span(airtable, &kw("pat")),
            Some((4, 4 + 3 + 14 + 1 + 64 + 1))
        );
        assert_eq!(span(r"(ghp_[0-9A-Za-z]{36})", &kw("ghp_")), Some((0, 41)));
        assert_eq!(
            span(r"\b(ghp_[0-9A-Za-z]{36})\b", &kw("GHP_")),
            Some((0, 41))
        );
        // A short fixed prefix is a boundary too: matches start 4 bytes before the keyword.
        assert_eq!(span(r"key=(pat[a-z]{10})", &kw("pat")), Some((4, 18)));
    }

    #[test]
    fn other_shapes_keep_the_wide_window() {
        // The keyword is not where every match starts.
        assert_eq!(span(r"(?i)token\s*=\s*([a-z]{10})", &kw("token")), None);
        assert_eq!(span(r"key\s*=(pat[a-z]{10})", &kw("pat")), None);
        // Unbounded.
        assert_eq!(span(r"(pat[a-z]+)", &kw("pat")), None);
        // Several keywords, or a long boundary.
        assert_eq!(span(r"(pat[a-z]{3})", &["pat".into(), "tap".into()]), None);
        assert_eq!(span(r"[a-z]{0,9}(pat[a-z]{3})", &kw("pat")), None);
    }
}
