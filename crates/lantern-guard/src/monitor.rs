//! Output monitoring: credentials, PII, canary strings and verbatim spans of a protected corpus
//! in model responses, with redaction; plus the hook through which the leak scanner's rule
//! engine (or any other text scanner) plugs in.

use crate::config::MonitorConfig;
use crate::ngram::NgramIndex;
use aho_corasick::AhoCorasick;
use regex::Regex;
use std::sync::Arc;

/// One match in a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// Rule id (`secret.aws-access-key-id`, `pii.email`, `canary`, `corpus.verbatim`).
    pub rule: String,
    /// Byte offset of the start.
    pub start: usize,
    /// Byte offset of the end (exclusive).
    pub end: usize,
}

/// A pluggable text scanner (e.g. the leak scanner's rules) run on every response.
pub trait TextScanner: Send + Sync {
    /// Matches in `text`.
    fn scan(&self, text: &str) -> Vec<Hit>;
}

type Validator = fn(&str) -> bool;

struct Rule {
    id: &'static str,
    re: Regex,
    validate: Option<Validator>,
}

/// Luhn check of the digits of a candidate card number.
pub fn luhn(s: &str) -> bool {
    let digits: Vec<u32> = s.chars().filter_map(|c| c.to_digit(10)).collect();
    if !(13..=19).contains(&digits.len()) {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            if i % 2 == 1 {
                if d * 2 > 9 {
                    d * 2 - 9
                } else {
                    d * 2
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

fn ssn_ok(s: &str) -> bool {
    let area = s.get(..3).unwrap_or("");
    area != "000"
        && area != "666"
        && !area.starts_with('9')
        && s.get(4..6) != Some("00")
        && s.get(7..) != Some("0000")
}

/// Built-in high-confidence credential patterns (prefix-anchored formats with few false
/// positives), used until the leak scanner is plugged in through [`TextScanner`].
const SECRET_RULES: &[(&str, &str)] = &[
    ("secret.aws-access-key-id", r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    ("secret.github-token", r"\bgh[pousr]_[A-Za-z0-9]{36}\b"),
    (
        "secret.github-fine-grained-pat",
        r"\bgithub_pat_[A-Za-z0-9_]{82}\b",
    ),
    (
        "secret.openai-api-key",
        r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}T3BlbkFJ[A-Za-z0-9_-]{20,}\b",
    ),
    (
        "secret.anthropic-api-key",
        r"\bsk-ant-(?:api|admin)\d{2}-[A-Za-z0-9_-]{80,}",
    ),
    (
        "secret.slack-token",
        r"\bxox[baprs]-[0-9]{8,}-[A-Za-z0-9-]{8,}",
    ),
    ("secret.stripe-live-key", r"\b[sr]k_live_[0-9A-Za-z]{24,}\b"),
    ("secret.google-api-key", r"\bAIza[0-9A-Za-z_-]{35}\b"),
    ("secret.huggingface-token", r"\bhf_[A-Za-z]{34}\b"),
    (
        "secret.private-key",
        r"-----BEGIN (?:RSA |EC |DSA |OPENSSH |PGP |ENCRYPTED )?PRIVATE KEY(?: BLOCK)?-----",
    ),
    (
        "secret.jwt",
        r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}",
    ),
];

const PII_RULES: &[(&str, &str, Option<Validator>)] = &[
    (
        "pii.email",
        r"\b[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})*\.[A-Za-z]{2,24}\b",
        None,
    ),
    (
        "pii.payment-card",
        r"\b\d(?:[ -]?\d){12,18}\b",
        Some(luhn as Validator),
    ),
    (
        "pii.us-ssn",
        r"\b\d{3}-\d{2}-\d{4}\b",
        Some(ssn_ok as Validator),
    ),
];

/// The output monitor.
pub struct Monitor {
    rules: Vec<Rule>,
    canaries: Option<AhoCorasick>,
    corpus: Option<NgramIndex>,
    extra: Vec<Arc<dyn TextScanner>>,
    max_canary: usize,
}

impl std::fmt::Debug for Monitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Monitor")
            .field("rules", &self.rules.len())
            .finish_non_exhaustive()
    }
}

impl Monitor {
    /// Builds the monitor from config (and an already-loaded corpus index).
    pub fn new(cfg: &MonitorConfig, corpus: Option<NgramIndex>) -> Result<Self, crate::Error> {
        let mut rules = Vec::new();
        let re = |p: &str| {
            Regex::new(p).map_err(|e| crate::Error::Config(format!("monitor pattern: {e}")))
        };
        if cfg.secrets {
            for (id, p) in SECRET_RULES {
                rules.push(Rule {
                    id,
                    re: re(p)?,
                    validate: None,
                });
            }
        }
        if cfg.pii {
            for (id, p, v) in PII_RULES {
                rules.push(Rule {
                    id,
                    re: re(p)?,
                    validate: *v,
                });
            }
        }
        let canaries: Vec<&String> = cfg.canaries.iter().filter(|c| !c.is_empty()).collect();
        let max_canary = canaries.iter().map(|c| c.len()).max().unwrap_or(0);
        let canaries = if canaries.is_empty() {
            None
        } else {
            Some(
                AhoCorasick::new(&canaries)
                    .map_err(|e| crate::Error::Config(format!("canaries: {e}")))?,
            )
        };
        Ok(Self {
            rules,
            canaries,
            corpus,
            extra: Vec::new(),
            max_canary,
        })
    }

    /// Adds a scanner (e.g. the leak scanner's rules).
    pub fn add_scanner(&mut self, s: Arc<dyn TextScanner>) {
        self.extra.push(s);
    }

    /// True when nothing is configured.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
            && self.canaries.is_none()
            && self.corpus.is_none()
            && self.extra.is_empty()
    }

    /// The longest text a single built-in match needs to be seen whole (for stream overlap).
    pub fn overlap_chars(&self) -> usize {
        512usize.max(self.max_canary)
    }

    /// All matches in `text`, sorted by start.
    pub fn scan(&self, text: &str) -> Vec<Hit> {
        let mut hits = Vec::new();
        for r in &self.rules {
            for m in r.re.find_iter(text) {
                if r.validate.is_none_or(|v| v(m.as_str())) {
                    hits.push(Hit {
                        rule: r.id.to_string(),
                        start: m.start(),
                        end: m.end(),
                    });
                }
            }
        }
        if let Some(ac) = &self.canaries {
            for m in ac.find_iter(text) {
                hits.push(Hit {
                    rule: "canary".into(),
                    start: m.start(),
                    end: m.end(),
                });
            }
        }
        if let Some(c) = &self.corpus {
            for (s, e) in c.find(text) {
                hits.push(Hit {
                    rule: "corpus.verbatim".into(),
                    start: s,
                    end: e,
                });
            }
        }
        for s in &self.extra {
            hits.extend(s.scan(text));
        }
        hits.sort_by_key(|h| (h.start, h.end));
        hits
    }
}

/// Replaces each hit's span with `[REDACTED:<rule>]` (overlapping hits merge into the first).
pub fn redact(text: &str, hits: &[Hit]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pos = 0;
    for h in hits {
        if h.start < pos
            || h.end > text.len()
            || !text.is_char_boundary(h.start)
            || !text.is_char_boundary(h.end)
        {
            continue;
        }
        out.push_str(&text[pos..h.start]);
        out.push_str("[REDACTED:");
        out.push_str(&h.rule);
        out.push(']');
        pos = h.end;
    }
    out.push_str(&text[pos..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn monitor() -> Monitor {
        let cfg = MonitorConfig {
            canaries: vec!["CANARY-7f3a9c".into()],
            ..MonitorConfig::default()
        };
        Monitor::new(&cfg, None).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn finds_and_redacts_secrets_pii_canaries() {
        let m = monitor();
        let text = "Key AKIAIOSFODNN7EXAMPLE, mail bob@example.com, card 4111 1111 1111 1111, ssn 123-45-6789, tag CANARY-7f3a9c.";
        let rules: Vec<String> = m.scan(text).into_iter().map(|h| h.rule).collect();
        assert_eq!(
            rules,
            vec![
                "secret.aws-access-key-id",
                "pii.email",
                "pii.payment-card",
                "pii.us-ssn",
                "canary"
            ]
        );
        assert_eq!(
            redact(text, &m.scan(text)),
            "Key [REDACTED:secret.aws-access-key-id], mail [REDACTED:pii.email], card [REDACTED:pii.payment-card], ssn [REDACTED:pii.us-ssn], tag [REDACTED:canary]."
        );
    }

    #[test]
    fn validators_cut_false_positives() {
        let m = monitor();
        assert!(m
            .scan("order 4111 1111 1111 1112 and ssn 666-12-3456, id 000-12-3456")
            .is_empty());
        assert!(luhn("4012888888881881") && !luhn("4012888888881882") && !luhn("1234"));
        assert!(m
            .scan("The year 2024 had 366 days; call 555-0100.")
            .is_empty());
    }
}
