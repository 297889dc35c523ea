//! Output monitoring: credentials (the leak scanner's rules and built-in patterns), PII, canary
//! strings and verbatim spans of a protected corpus in model responses, with redaction; plus the
//! hook through which any other text scanner plugs in.

use crate::config::{MonitorConfig, SecretRules};
use crate::ngram::NgramIndex;
use aho_corasick::AhoCorasick;
use lantern_core::{Location, Severity};
use memchr::memmem;
use regex::Regex;
use std::borrow::Cow;
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
/// positives). They run beside the leak scanner's rules (`secret_rules = "lantern"`, where they
/// also catch documentation keys the leak scanner treats as placeholders) or alone
/// (`secret_rules = "builtin"`).
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

/// Prefix of the hit ids of the leak scanner's rules (`secret.slack.webhook-url`).
pub const LEAK_RULE_PREFIX: &str = "secret.";

/// The leak scanner's rules (`lantern-secrets`: keyword prefilter, regexes on windows around
/// keyword hits, entropy floors, validators) as a [`TextScanner`]. Build it once and share it
/// (`Arc`): building parses and indexes every bundled rule; regexes compile on first use.
pub struct LeakRules {
    scanner: lantern_secrets::Scanner,
    min_severity: Severity,
    loc: Location,
    markers: Vec<memmem::Finder<'static>>,
}

impl std::fmt::Debug for LeakRules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeakRules")
            .field("rules", &self.rule_count())
            .field("min_severity", &self.min_severity)
            .finish_non_exhaustive()
    }
}

impl LeakRules {
    /// The bundled rules of confidence `min_confidence` or more, minus `disabled` ids (or
    /// `prefix*`); findings below `min_severity` are ignored.
    pub fn new(
        min_confidence: lantern_secrets::Confidence,
        min_severity: Severity,
        disabled: &[String],
    ) -> Result<Self, crate::Error> {
        let err = |e: lantern_secrets::Error| crate::Error::Config(format!("secret rules: {e}"));
        let mut set = lantern_secrets::RuleSet::builtin().map_err(err)?;
        let mut off: Vec<String> = set
            .rules()
            .filter(|r| r.confidence < min_confidence || r.severity < min_severity)
            .map(|r| r.id.clone())
            .collect();
        off.extend(disabled.iter().cloned());
        set.disable(&off);
        let scanner = lantern_secrets::Scanner::new(set, &[]).map_err(err)?;
        Ok(Self {
            scanner,
            min_severity,
            loc: Location::path("<response>"),
            markers: lantern_secrets::allow::INLINE_MARKERS
                .iter()
                .map(|m| memmem::Finder::new(m.as_bytes()).into_owned())
                .collect(),
        })
    }

    /// Number of rules that run.
    pub fn rule_count(&self) -> usize {
        self.scanner.rules().count()
    }

    /// Compiles every rule's regex now (they otherwise compile on their first keyword hit, which
    /// would add a compile to the latency of the first responses that mention each keyword).
    pub fn warm_up(&self) {
        for r in self.scanner.rules() {
            let _ = r.regex();
        }
    }

    /// The rules for these settings, built once per process and shared: gateways (and tests)
    /// with the same settings reuse one engine and its compiled regexes. A new engine's regexes
    /// are compiled on a background thread.
    pub fn shared(
        min_confidence: lantern_secrets::Confidence,
        min_severity: Severity,
        disabled: &[String],
    ) -> Result<Arc<Self>, crate::Error> {
        type Key = (lantern_secrets::Confidence, Severity, Vec<String>);
        static CACHE: std::sync::Mutex<Vec<(Key, Arc<LeakRules>)>> =
            std::sync::Mutex::new(Vec::new());
        let key: Key = (min_confidence, min_severity, disabled.to_vec());
        let mut cache = CACHE.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, l)) = cache.iter().find(|(k, _)| *k == key) {
            return Ok(l.clone());
        }
        let l = Arc::new(Self::new(min_confidence, min_severity, disabled)?);
        if cache.len() >= 4 {
            cache.remove(0);
        }
        cache.push((key, l.clone()));
        drop(cache);
        let warm = l.clone();
        // best effort: without the thread, regexes compile on first use
        let _ = std::thread::Builder::new()
            .name("lantern-guard-rules".into())
            .spawn(move || warm.warm_up());
        Ok(l)
    }
}

impl TextScanner for LeakRules {
    fn scan(&self, text: &str) -> Vec<Hit> {
        // Inline suppression markers (`lantern:allow`, ...) are for source files: a model told
        // to print one next to a secret must not switch the check off. Blank them (same length,
        // so offsets hold) before scanning.
        let mut data: Cow<'_, [u8]> = Cow::Borrowed(text.as_bytes());
        for f in &self.markers {
            let found: Vec<usize> = f.find_iter(text.as_bytes()).collect();
            if found.is_empty() {
                continue;
            }
            let owned = data.to_mut();
            for at in found {
                if let Some(span) = owned.get_mut(at..at + f.needle().len()) {
                    span.fill(b' ');
                }
            }
        }
        let out = self.scanner.scan(&data, &self.loc);
        let mut hits = Vec::with_capacity(out.findings.len());
        for f in out.findings {
            if f.severity < self.min_severity {
                continue;
            }
            let (Some(secret), Some(offset)) = (
                f.secret.as_deref(),
                f.locations.first().and_then(|l| l.offset),
            ) else {
                continue;
            };
            let Ok(mut start) = usize::try_from(offset) else {
                continue;
            };
            let mut end = start.saturating_add(secret.len()).min(text.len());
            if start >= end {
                continue;
            }
            // the engine matches bytes: widen to whole characters
            while start > 0 && !text.is_char_boundary(start) {
                start -= 1;
            }
            while end < text.len() && !text.is_char_boundary(end) {
                end += 1;
            }
            hits.push(Hit {
                rule: format!("{LEAK_RULE_PREFIX}{}", f.rule_id),
                start,
                end,
            });
        }
        hits
    }
}

/// The output monitor.
pub struct Monitor {
    rules: Vec<Rule>,
    /// How many of `rules` (at the front) are built-in credential patterns.
    builtin_secrets: usize,
    leak: Option<Arc<LeakRules>>,
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
        let secret_rules = if cfg.secrets {
            cfg.secret_rules
        } else {
            SecretRules::Off
        };
        if secret_rules != SecretRules::Off {
            for (id, p) in SECRET_RULES {
                rules.push(Rule {
                    id,
                    re: re(p)?,
                    validate: None,
                });
            }
        }
        let builtin_secrets = rules.len();
        let leak = if secret_rules == SecretRules::Lantern {
            Some(LeakRules::shared(
                cfg.min_confidence.to_secrets(),
                cfg.min_severity,
                &cfg.disabled_rules,
            )?)
        } else {
            None
        };
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
            builtin_secrets,
            leak,
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

    /// The leak scanner's rules, when they run (`secret_rules = "lantern"`).
    pub fn leak_rules(&self) -> Option<&Arc<LeakRules>> {
        self.leak.as_ref()
    }

    /// True when nothing is configured.
    pub fn is_empty(&self) -> bool {
        self.leak.is_none()
            && self.rules.is_empty()
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
        let mut secret_hits = 0;
        for (i, r) in self.rules.iter().enumerate() {
            if i == self.builtin_secrets {
                secret_hits = hits.len();
            }
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
        if self.rules.len() == self.builtin_secrets {
            secret_hits = hits.len();
        }
        if let Some(leak) = &self.leak {
            // A secret both rule sets know is reported once, under the built-in id.
            let builtin: Vec<(usize, usize)> = hits
                .get(..secret_hits)
                .unwrap_or_default()
                .iter()
                .map(|h| (h.start, h.end))
                .collect();
            for h in leak.scan(text) {
                if !builtin.iter().any(|&(s, e)| s < h.end && e > h.start) {
                    hits.push(h);
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

    /// Secrets the 11 built-in patterns do not know (formats of the leak scanner's rules).
    const SLACK_HOOK: &str =
        "https://hooks.slack.com/services/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";
    const NPM_TOKEN: &str = "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";

    fn leak_monitor(tweak: impl FnOnce(&mut MonitorConfig)) -> Monitor {
        let mut cfg = MonitorConfig::default();
        tweak(&mut cfg);
        Monitor::new(&cfg, None).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn leak_scanner_rules_find_what_the_builtin_patterns_miss() {
        let text = format!("Post to {SLACK_HOOK} and publish with {NPM_TOKEN} today.");
        let builtin = leak_monitor(|c| c.secret_rules = SecretRules::Builtin);
        assert!(builtin.leak_rules().is_none());
        assert!(builtin.scan(&text).is_empty());

        let m = leak_monitor(|_| {});
        assert!(m.leak_rules().is_some_and(|l| l.rule_count() > 400));
        let hits = m.scan(&text);
        let got: Vec<(&str, &str)> = hits
            .iter()
            .map(|h| (h.rule.as_str(), &text[h.start..h.end]))
            .collect();
        // the span is the secret itself, not its line
        assert_eq!(
            got,
            vec![
                ("secret.slack.webhook-url", SLACK_HOOK),
                ("secret.npm.access-token", NPM_TOKEN),
            ]
        );
        assert_eq!(
            redact(&text, &hits),
            "Post to [REDACTED:secret.slack.webhook-url] and publish with [REDACTED:secret.npm.access-token] today."
        );
    }

    #[test]
    fn a_secret_both_rule_sets_know_is_reported_once() {
        let m = leak_monitor(|c| c.pii = false);
        let key = "ghp_Zk3T9vQx7LmN2pR8sW4yZ6aB1cD5eF0gH2jK";
        let text = format!("token: {key}\n");
        let rules: Vec<String> = m.scan(&text).into_iter().map(|h| h.rule).collect();
        assert_eq!(rules, vec!["secret.github-token"]);
        // the documentation key the leak scanner treats as a placeholder is still caught
        let rules: Vec<String> = m
            .scan("AKIAIOSFODNN7EXAMPLE")
            .into_iter()
            .map(|h| h.rule)
            .collect();
        assert_eq!(rules, vec!["secret.aws-access-key-id"]);
    }

    #[test]
    fn the_engine_is_built_once_per_setting_and_shared() {
        let a = leak_monitor(|_| {});
        let b = leak_monitor(|c| c.pii = false);
        let c = leak_monitor(|c| c.min_confidence = crate::config::RuleConfidence::High);
        let (Some(la), Some(lb), Some(lc)) = (a.leak_rules(), b.leak_rules(), c.leak_rules())
        else {
            panic!("leak rules are on by default");
        };
        assert!(Arc::ptr_eq(la, lb));
        assert!(!Arc::ptr_eq(la, lc));
        assert!(lc.rule_count() < la.rule_count());
    }

    #[test]
    fn prose_about_passwords_is_not_redacted() {
        let prose = "Choose a password: at least twelve characters. Your password = something you can remember, \
                     and never share the api_key or secret token with anyone; rotate the password yearly.";
        assert!(leak_monitor(|_| {}).scan(prose).is_empty());
        // the generic rules run only when asked for, and then fire on assignments
        let low = leak_monitor(|c| c.min_confidence = crate::config::RuleConfidence::Low);
        assert!(low.scan(prose).is_empty());
        let hits = low.scan("DB_PASSWORD=NY1DhQCEYTdBkptf");
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].rule, "secret.generic.password");
        assert_eq!((hits[0].start, hits[0].end), (12, 28));
    }

    #[test]
    fn filters_severity_disabled_rules_and_inline_markers() {
        let text = format!("hook {SLACK_HOOK}");
        // slack.webhook-url is a medium-severity rule
        let m = leak_monitor(|c| c.min_severity = Severity::High);
        assert!(m.scan(&text).is_empty());
        let m = leak_monitor(|c| c.disabled_rules = vec!["slack.*".into()]);
        assert!(m.scan(&text).is_empty());
        // a suppression marker printed by the model does not switch the check off
        let m = leak_monitor(|_| {});
        let text = format!("{NPM_TOKEN} # lantern:allow");
        let hits = m.scan(&text);
        assert_eq!(hits.len(), 1);
        assert_eq!(&text[hits[0].start..hits[0].end], NPM_TOKEN);
        assert!(leak_monitor(|c| c.secret_rules = SecretRules::Off)
            .scan(&text)
            .is_empty());
        assert!(leak_monitor(|c| c.secrets = false).scan(&text).is_empty());
        // a token whose checksum does not match is reported as `info` by the engine: ignored
        // unless asked for
        let forged = "npm_7WPmIvzXaYWRDyznq99VQbUWoGZrJ72DF27c";
        assert!(m.scan(forged).is_empty());
        let all = leak_monitor(|c| c.min_severity = Severity::Info);
        assert_eq!(all.scan(forged).len(), 1);
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
