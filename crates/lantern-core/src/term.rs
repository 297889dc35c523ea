//! Escaping of untrusted text (file and archive-member names, git authors, messages) before
//! it is printed to a terminal, so a name cannot move the cursor, erase a line or change colours.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether `c` must not reach a terminal raw: C0 controls (newline and tab included: a name
/// must stay on its line), DEL, C1 controls, and the bidirectional overrides and isolates that
/// reorder what is shown (U+202A–U+202E, U+2066–U+2069).
pub fn needs_escape(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `s` with every character for which [`needs_escape`] holds written as an escape: `\x1b`,
/// `\x00`, `\x7f` for ASCII controls, `\u{9b}` or `\u{202e}` above. Other text, backslashes
/// included, is unchanged; text without such characters is returned borrowed.
pub fn escape(s: &str) -> Cow<'_, str> {
    if !s.chars().any(needs_escape) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if !needs_escape(c) {
            out.push(c);
        } else if c.is_ascii() {
            let _ = write!(out, "\\x{:02x}", c as u32);
        } else {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
    Cow::Owned(out)
}

/// [`escape`] of a path as shown by `Path::display`.
pub fn escape_path(p: &std::path::Path) -> String {
    escape(&p.to_string_lossy()).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn escapes_controls_and_bidi() {
        assert_eq!(escape("a\x1b[2Kb"), "a\\x1b[2Kb");
        assert_eq!(escape("x\r\n\0\t\x7f"), "x\\x0d\\x0a\\x00\\x09\\x7f");
        assert_eq!(escape("c1\u{9b}31m"), "c1\\u{9b}31m");
        assert_eq!(escape("evil\u{202e}txt.exe"), "evil\\u{202e}txt.exe");
        assert!(matches!(escape("plain/ünï cödé\\x.txt"), Cow::Borrowed(_)));
    }

    proptest! {
        #[test]
        fn output_has_no_control_characters(s in any::<String>()) {
            let e = escape(&s);
            prop_assert!(!e.chars().any(needs_escape), "{e:?}");
        }

        #[test]
        fn printable_text_is_unchanged(s in "[^\\p{Cc}\u{202a}-\u{202e}\u{2066}-\u{2069}]*") {
            prop_assert_eq!(escape(&s), s.as_str());
        }

        #[test]
        fn escaped_text_keeps_every_printable_character_in_order(s in any::<String>()) {
            let e = escape(&s).into_owned();
            let mut rest = e.as_str();
            for c in s.chars().filter(|c| !needs_escape(*c)) {
                let at = rest.find(c);
                prop_assert!(at.is_some(), "{c:?} lost in {e:?}");
                rest = &rest[at.unwrap_or(0) + c.len_utf8()..];
            }
        }
    }
}
