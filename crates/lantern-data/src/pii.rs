//! Personal data in records: e-mail addresses, phone numbers, payment card numbers (Luhn),
//! IBANs (ISO 13616 mod-97) and US social security numbers (SSA structural rules).

use regex::Regex;
use std::sync::OnceLock;

/// Kind of personal data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PiiKind {
    /// An e-mail address.
    Email,
    /// A phone number in international or North-American form.
    Phone,
    /// A payment card number passing the Luhn check.
    CreditCard,
    /// An IBAN passing the mod-97 check.
    Iban,
    /// A US social security number.
    Ssn,
}

impl PiiKind {
    /// Rule id suffix (`data.pii.<id>`).
    pub fn id(self) -> &'static str {
        match self {
            PiiKind::Email => "email",
            PiiKind::Phone => "phone",
            PiiKind::CreditCard => "credit-card",
            PiiKind::Iban => "iban",
            PiiKind::Ssn => "ssn",
        }
    }

    /// Human title.
    pub fn title(self) -> &'static str {
        match self {
            PiiKind::Email => "E-mail address in a record",
            PiiKind::Phone => "Phone number in a record",
            PiiKind::CreditCard => "Payment card number in a record (Luhn-valid)",
            PiiKind::Iban => "IBAN in a record (checksum-valid)",
            PiiKind::Ssn => "US social security number in a record",
        }
    }
}

/// One match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PiiMatch {
    /// What it is.
    pub kind: PiiKind,
    /// The matched text.
    pub value: String,
    /// Byte offset in the scanned text.
    pub offset: usize,
}

struct Patterns {
    email: Regex,
    phone: Regex,
    card: Regex,
    iban: Regex,
    ssn: Regex,
}

fn patterns() -> Option<&'static Patterns> {
    static P: OnceLock<Option<Patterns>> = OnceLock::new();
    P.get_or_init(|| {
        Some(Patterns {
            email: Regex::new(r"(?i)\b[a-z0-9._%+-]{1,64}@(?:[a-z0-9-]{1,63}\.){1,8}[a-z]{2,24}\b")
                .ok()?,
            phone: Regex::new(
                r"(?:\+[1-9]\d{0,2}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{1,4}(?:[ .-]?\d{2,4}){2,4}\b|\(\d{3}\)[ .-]?\d{3}[ .-]\d{4}\b|\b\d{3}[.-]\d{3}[.-]\d{4}\b)",
            )
            .ok()?,
            card: Regex::new(r"\b(?:\d[ -]?){12,18}\d\b").ok()?,
            iban: Regex::new(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b").ok()?,
            ssn: Regex::new(r"\b(\d{3})-(\d{2})-(\d{4})\b").ok()?,
        })
    })
    .as_ref()
}

pub use lantern_core::pii::iban_valid;
use lantern_core::pii::ssn_valid;

/// Luhn checksum over the digits of `s` (other characters ignored), 13 to 19 digits, not all
/// the same digit (`0000 0000 0000 0000` is a placeholder, not a card).
pub fn luhn_valid(s: &str) -> bool {
    let mut digits = s.chars().filter_map(|c| c.to_digit(10));
    let first = digits.next();
    lantern_core::pii::luhn_valid(s) && digits.any(|d| Some(d) != first)
}

/// Every personal-data match in `text`.
pub fn find(text: &str) -> Vec<PiiMatch> {
    let mut out = Vec::new();
    let Some(p) = patterns() else {
        return out;
    };
    // Cheap necessary conditions, checked before running a pattern (the patterns' Unicode
    // word boundaries make the regex engine fall back to slow paths on non-ASCII text).
    let bytes = text.as_bytes();
    let ascii_digits = bytes.iter().filter(|b| b.is_ascii_digit()).count();
    // Phone, card and SSN matches are runs of `\d` (Unicode digits, within
    // `char::is_numeric`) and the separators ` .-()+`: measure the longest such runs.
    let (mut run_ascii, mut run_num, mut best_ascii, mut best_num) = (0usize, 0usize, 0, 0);
    if ascii_digits >= 9 || !text.is_ascii() {
        for c in text.chars() {
            if c.is_ascii_digit() {
                run_ascii += 1;
                run_num += 1;
            } else if !c.is_ascii() && c.is_numeric() {
                run_num += 1;
            } else if !matches!(c, ' ' | '.' | '-' | '(' | ')' | '+') {
                (run_ascii, run_num) = (0, 0);
            }
            best_ascii = best_ascii.max(run_ascii);
            best_num = best_num.max(run_num);
        }
    }
    // Phone: 10 ASCII digits in the match; card: Luhn needs 13; SSN: nine `\d`.
    let maybe_phone = best_ascii >= 10;
    let maybe_card = best_ascii >= 13;
    let maybe_ssn = best_num >= 9;
    // A valid IBAN is ASCII and starts with two capitals and two digits.
    let maybe_iban = ascii_digits >= 2
        && bytes.windows(4).any(|w| {
            matches!(w, [a, b, c, d] if a.is_ascii_uppercase() && b.is_ascii_uppercase()
                && c.is_ascii_digit() && d.is_ascii_digit())
        });
    // E-mail: an `@` with a local-part character before it and a domain character after it
    // (`@user` mentions fail this). Case-insensitive `[a-z]` also matches the Kelvin sign and
    // the long s.
    let local = |c: char| {
        c.is_ascii_alphanumeric() || "._%+-".contains(c) || c == '\u{212A}' || c == '\u{17F}'
    };
    let domain =
        |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '\u{212A}' || c == '\u{17F}';
    let maybe_email = memchr::memchr_iter(b'@', bytes).any(|at| {
        let before = text.get(..at).and_then(|s| s.chars().next_back());
        let after = text.get(at + 1..).and_then(|s| s.chars().next());
        before.is_some_and(local) && after.is_some_and(domain)
    });
    let mut taken: Vec<(usize, usize)> = Vec::new();
    let mut push = |kind, m: regex::Match<'_>, out: &mut Vec<PiiMatch>| {
        if taken.iter().any(|&(s, e)| m.start() < e && s < m.end()) {
            return;
        }
        taken.push((m.start(), m.end()));
        out.push(PiiMatch {
            kind,
            value: m.as_str().to_string(),
            offset: m.start(),
        });
    };
    for m in p.email.find_iter(if maybe_email { text } else { "" }) {
        push(PiiKind::Email, m, &mut out);
    }
    for m in p.iban.find_iter(if maybe_iban { text } else { "" }) {
        if iban_valid(m.as_str()) {
            push(PiiKind::Iban, m, &mut out);
        }
    }
    for m in p.card.find_iter(if maybe_card { text } else { "" }) {
        if luhn_valid(m.as_str()) {
            push(PiiKind::CreditCard, m, &mut out);
        }
    }
    for c in p.ssn.captures_iter(if maybe_ssn { text } else { "" }) {
        if let (Some(m), Some(a), Some(g), Some(s)) = (c.get(0), c.get(1), c.get(2), c.get(3)) {
            if ssn_valid(a.as_str(), g.as_str(), s.as_str()) {
                push(PiiKind::Ssn, m, &mut out);
            }
        }
    }
    for m in p.phone.find_iter(if maybe_phone { text } else { "" }) {
        let digits = m.as_str().chars().filter(|c| c.is_ascii_digit()).count();
        if (10..=15).contains(&digits) {
            push(PiiKind::Phone, m, &mut out);
        }
    }
    out.sort_by_key(|m| m.offset);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(s: &str) -> Vec<(PiiKind, String)> {
        find(s).into_iter().map(|m| (m.kind, m.value)).collect()
    }

    #[test]
    fn finds_each_kind_with_checksums() {
        assert_eq!(
            kinds("mail jane.doe@example.co.uk now"),
            vec![(PiiKind::Email, "jane.doe@example.co.uk".into())]
        );
        assert_eq!(
            kinds("card 4111 1111 1111 1111 ok"),
            vec![(PiiKind::CreditCard, "4111 1111 1111 1111".into())]
        );
        assert!(kinds("order 4111 1111 1111 1112").is_empty());
        assert_eq!(
            kinds("pay to GB82 WEST 1234 5698 7654 32 thanks"),
            vec![(PiiKind::Iban, "GB82 WEST 1234 5698 7654 32".into())]
        );
        assert!(kinds("pay to GB83 WEST 1234 5698 7654 32").is_empty());
        assert_eq!(
            kinds("ssn 123-45-6789"),
            vec![(PiiKind::Ssn, "123-45-6789".into())]
        );
        assert!(kinds("ssn 666-45-6789 and 000-12-3456").is_empty());
        assert_eq!(
            kinds("call +44 20 7946 0958 or (555) 123-4567"),
            vec![
                (PiiKind::Phone, "+44 20 7946 0958".into()),
                (PiiKind::Phone, "(555) 123-4567".into())
            ]
        );
        assert!(kinds("scored 7 out of 10 in 2019, 3-2 win").is_empty());
        assert!(kinds("@united thanks, mail @ me").is_empty());
        assert!(kinds("flight 1234 at 5678, gate 12 seat 34").is_empty());
        // Unicode digits count for `\d` (SSN) but not for the ASCII checks.
        assert_eq!(
            kinds("id \u{0661}23-45-6789 ok"),
            vec![(PiiKind::Ssn, "\u{0661}23-45-6789".into())]
        );
        // Case-insensitive `[a-z]` takes the Kelvin sign: the pre-check must let it through.
        assert_eq!(
            kinds("to \u{212A}@example.com"),
            vec![(PiiKind::Email, "\u{212A}@example.com".into())]
        );
    }
}
