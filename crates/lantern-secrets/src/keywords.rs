//! Deriving prefilter keywords from a regex when a rule gives none (gitleaks allows that):
//! literal prefixes, else suffixes, extracted with `regex-syntax`.

use regex_syntax::hir::literal::{ExtractKind, Extractor};

/// Shortest literal worth using as a keyword: shorter ones hit nearly every blob.
const MIN_KEYWORD_LEN: usize = 3;
/// Most keywords derived for one rule.
const MAX_KEYWORDS: usize = 64;

/// Literal keywords (lower-cased, deduplicated) such that every match of `pattern` contains one
/// of them, or `None` when no useful set exists (the rule must then run on every blob).
pub fn derive(pattern: &str) -> Option<Vec<String>> {
    let hir = regex_syntax::ParserBuilder::new()
        .unicode(false)
        .utf8(false)
        .build()
        .parse(pattern)
        .ok()?;
    for kind in [ExtractKind::Prefix, ExtractKind::Suffix] {
        let mut ex = Extractor::new();
        ex.kind(kind)
            .limit_class(4)
            .limit_repeat(8)
            .limit_literal_len(32)
            .limit_total(256);
        let seq = ex.extract(&hir);
        let Some(lits) = seq.literals() else {
            continue;
        };
        if lits.is_empty() || lits.iter().any(|l| l.as_bytes().len() < MIN_KEYWORD_LEN) {
            continue;
        }
        let mut out: Vec<String> = lits
            .iter()
            .map(|l| String::from_utf8_lossy(l.as_bytes()).to_ascii_lowercase())
            .collect();
        out.sort();
        out.dedup();
        if out.len() <= MAX_KEYWORDS {
            return Some(out);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_literals_are_lowercased() {
        assert_eq!(
            derive(r"(?i)\b(ghp_[A-Za-z0-9]{36})"),
            None.or(Some(vec!["ghp_".to_string()]))
        );
        assert_eq!(
            derive(r"(AKIA|ASIA)[A-Z0-9]{16}"),
            Some(vec!["akia".to_string(), "asia".to_string()])
        );
    }

    #[test]
    fn suffix_when_no_prefix() {
        assert_eq!(
            derive(r"[a-z0-9]{32}\.apps\.googleusercontent\.com"),
            Some(vec![".apps.googleusercontent.com".to_string()])
        );
    }

    #[test]
    fn none_for_generic_patterns() {
        assert_eq!(derive(r"[A-Za-z0-9]{40}"), None);
        assert_eq!(
            derive(r"(?i)[\w.-]{0,50}?(?:key|pw)[\s'=]{0,5}([a-z0-9]{10,})"),
            None
        );
    }
}
