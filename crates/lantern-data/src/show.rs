//! Showing values to people: the part of two long values where they differ (not the same
//! prefix twice), with the characters that do not show for what they are escaped — control
//! and invisible formatting characters always, and letters of scripts that look like Latin
//! (Cyrillic `а`, Greek `ο`, fullwidth `ａ`, mathematical `𝐚`) when the text also holds Latin
//! letters, so a homoglyph edit is visible.

/// Characters of context shown on each side of a difference.
const CONTEXT: usize = 16;

/// Whether a character is invisible or reorders text: controls, zero-width characters,
/// bidirectional controls, soft hyphen, byte-order mark, variation selectors.
fn invisible(c: char) -> bool {
    c.is_control()
        || matches!(c as u32,
            0xAD | 0x34F | 0x61C | 0x115F | 0x1160 | 0x17B4 | 0x17B5 | 0x180B..=0x180F
            | 0x200B..=0x200F | 0x2028..=0x202E | 0x2060..=0x206F | 0x3164 | 0xFE00..=0xFE0F
            | 0xFEFF | 0xFFA0 | 0xFFF0..=0xFFFB | 0xE0000..=0xE0FFF)
}

/// Whether a character comes from a script with letters that look like Latin ones.
fn latin_lookalike(c: char) -> bool {
    matches!(c as u32,
        0x370..=0x3FF          // Greek
        | 0x400..=0x52F        // Cyrillic
        | 0x13A0..=0x13FF      // Cherokee
        | 0x1D00..=0x1DBF      // phonetic extensions
        | 0x2100..=0x214F      // letterlike symbols
        | 0x2C80..=0x2CFF      // Coptic
        | 0xA640..=0xA69F      // Cyrillic extended-B
        | 0xFF00..=0xFFEF      // fullwidth forms
        | 0x1D400..=0x1D7FF) // mathematical alphanumerics
        || matches!(c, '\u{131}' | '\u{237}' | '\u{1C0}'..='\u{1C3}' | '\u{A731}' | '\u{A7AE}')
}

/// `s` with the characters that do not show for what they are written as `\u{XXXX}`:
/// invisible ones always, Latin look-alikes when `mixed` (the text holds Latin letters).
pub fn visible(s: &str, mixed: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if invisible(c) || (mixed && latin_lookalike(c)) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// Whether text holds ASCII Latin letters (then look-alike letters are escaped).
pub fn has_latin(s: &str) -> bool {
    s.bytes().any(|b| b.is_ascii_alphabetic())
}

/// `s` cut to at most `width` characters, ending in `…` when cut.
pub fn clip(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_string();
    }
    let mut out: String = s.chars().take(width.saturating_sub(1)).collect();
    out.push('\u{2026}');
    out
}

/// The parts of `a` and `b` to show, each at most about `width` characters: whole when both
/// fit, else a window starting a little before the first differing character (`…` marks
/// what is left out). Escaped with [`visible`].
pub fn spans(a: &str, b: &str, width: usize) -> (String, String) {
    let mixed = has_latin(a) || has_latin(b);
    let (ac, bc): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    if ac.len() <= width && bc.len() <= width {
        return (visible(a, mixed), visible(b, mixed));
    }
    let pre = ac.iter().zip(&bc).take_while(|(x, y)| x == y).count();
    let suf = ac
        .iter()
        .rev()
        .zip(bc.iter().rev())
        .take_while(|(x, y)| x == y)
        .count()
        .min(ac.len().min(bc.len()) - pre);
    let start = pre.saturating_sub(CONTEXT);
    let window = |cs: &[char]| {
        let changed_end = cs.len() - suf;
        let end = (changed_end + CONTEXT)
            .min(cs.len())
            .min(start + width.max(1));
        let mut out = String::new();
        if start > 0 {
            out.push('\u{2026}');
        }
        let text: String = cs.get(start..end).unwrap_or_default().iter().collect();
        out.push_str(&visible(&text, mixed));
        if end < cs.len() {
            out.push('\u{2026}');
        }
        out
    };
    (window(&ac), window(&bc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_past_the_width_is_shown_not_the_prefix_twice() {
        let a = format!("{}cat{}", "x".repeat(100), "y".repeat(100));
        let b = format!("{}hat{}", "x".repeat(100), "y".repeat(100));
        let (sa, sb) = spans(&a, &b, 60);
        assert_ne!(sa, sb);
        assert!(sa.starts_with('\u{2026}') && sa.contains("cat"), "{sa}");
        assert!(sb.contains("hat"), "{sb}");
        assert!(sa.chars().count() <= 62);
        // Short values are whole.
        assert_eq!(spans("a", "b", 60), ("a".into(), "b".into()));
    }

    #[test]
    fn homoglyphs_and_invisible_characters_are_escaped() {
        let (a, b) = spans("paypal", "p\u{430}ypal", 60);
        assert_eq!(a, "paypal");
        assert_eq!(b, "p\\u{430}ypal");
        let (_, z) = spans("ab", "a\u{200b}b", 60);
        assert_eq!(z, "a\\u{200b}b");
        // Text in one script only keeps its letters.
        assert_eq!(
            visible("\u{43f}\u{440}\u{438}", false),
            "\u{43f}\u{440}\u{438}"
        );
        assert_eq!(spans("caf\u{e9}", "cafe", 60).0, "caf\u{e9}");
    }

    #[test]
    fn clip_counts_characters_not_bytes() {
        assert_eq!(clip("caf\u{e9}s", 5), "caf\u{e9}s");
        assert_eq!(clip("caf\u{e9}s\u{e9}", 5), "caf\u{e9}\u{2026}");
        assert_eq!(clip("", 3), "");
    }
}
