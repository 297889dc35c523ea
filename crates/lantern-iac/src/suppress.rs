//! Inline suppression: `lantern:allow <reason>` on the reported line or the line above it.
//! A marker without a reason does not suppress (and the scanner says so).

/// What the lines around a finding say.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// No marker.
    None,
    /// A marker with a reason: the finding is suppressed.
    Suppressed,
    /// A marker without a reason: reported anyway, with a warning.
    NoReason,
}

const MARKER: &str = "lantern:allow";

/// Look at line `line` (1-based) and the one before it.
pub(crate) fn check(text: &str, line: u32) -> Verdict {
    let line = line.max(1) as usize;
    let mut verdict = Verdict::None;
    for l in text
        .lines()
        .skip(line.saturating_sub(2))
        .take(if line >= 2 { 2 } else { 1 })
    {
        let Some(i) = l.find(MARKER) else { continue };
        let reason = l[i + MARKER.len()..].trim_matches(|c: char| {
            c.is_whitespace()
                || c == ':'
                || c == '-'
                || c == '*'
                || c == '/'
                || c == '#'
                || c == '"'
                || c == '\''
                || c == '>'
        });
        if reason.chars().filter(|c| c.is_alphanumeric()).count() >= 3 {
            return Verdict::Suppressed;
        }
        verdict = Verdict::NoReason;
    }
    verdict
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_required_on_line_or_line_above() {
        let t = "a\n# lantern:allow public dataset mirror\nb = 1\nc # lantern:allow\nd\n";
        assert_eq!(check(t, 3), Verdict::Suppressed);
        assert_eq!(check(t, 2), Verdict::Suppressed);
        assert_eq!(check(t, 4), Verdict::NoReason);
        assert_eq!(check(t, 1), Verdict::None);
        assert_eq!(check(t, 5), Verdict::NoReason);
    }
}
