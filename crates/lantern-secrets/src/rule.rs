//! Rules and rule sets: the Lantern TOML rule schema (`rules/*.toml`, `lantern.toml`), its
//! validation at load time (ids, regexes, keywords, validators, examples) and the bundled set.

use crate::allow::Allowlist;
use crate::validate::Validator;
use crate::{Error, Result};
use lantern_core::Severity;
use regex::bytes::Regex;
use serde::Deserialize;
use std::collections::HashSet;
use std::path::Path;
use std::sync::OnceLock;

mod bundled {
    include!(concat!(env!("OUT_DIR"), "/bundled_rules.rs"));
}

/// Compiled-regex size limit for one rule (NFA), in bytes.
const REGEX_SIZE_LIMIT: usize = 8 << 20;
/// Lazy-DFA cache limit for one rule, in bytes.
const REGEX_DFA_LIMIT: usize = 4 << 20;
/// Largest `pair.window` accepted.
const MAX_PAIR_WINDOW: usize = 16 << 10;

/// How likely a match of a rule is a real secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum Confidence {
    /// Generic patterns (`password = ...`): placeholders, references and identifier-like values
    /// are dropped, and matches with weak evidence are reported at `info`.
    Low,
    /// The default, for context-anchored rules (a provider word near a token of some shape):
    /// placeholders, templates, references and code identifiers are dropped.
    #[default]
    Medium,
    /// Provider-specific formats with a distinctive prefix or checksum: only obvious
    /// placeholders, code identifiers and format fields are dropped.
    High,
}

impl Confidence {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "low" => Some(Confidence::Low),
            "medium" => Some(Confidence::Medium),
            "high" => Some(Confidence::High),
            _ => None,
        }
    }

    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Low => "low",
            Confidence::Medium => "medium",
            Confidence::High => "high",
        }
    }
}

/// A rule's regex: compiled at load for user rules (so errors surface there), on first use for
/// bundled rules (most never see their keyword in a given repository, so startup stays fast;
/// the test suite compiles every bundled regex and runs every example).
#[derive(Debug, Clone)]
pub struct RuleRegex {
    pattern: String,
    cell: OnceLock<Option<Regex>>,
}

impl RuleRegex {
    pub(crate) fn lazy(pattern: String) -> Self {
        RuleRegex {
            pattern,
            cell: OnceLock::new(),
        }
    }

    pub(crate) fn compiled(pattern: String, re: Regex) -> Self {
        let cell = OnceLock::new();
        let _ = cell.set(Some(re));
        RuleRegex { pattern, cell }
    }

    /// The compiled regex (compiling it now if needed); `None` if it does not compile.
    pub fn get(&self) -> Option<&Regex> {
        self.cell
            .get_or_init(|| compile(&self.pattern).ok())
            .as_ref()
    }

    /// The source pattern.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }
}

/// Which part of a match is the secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretGroup {
    /// The named group `secret` when it matched, else the first capture group that matched a
    /// non-empty string, else the whole match (the Lantern schema).
    NamedOrFirst,
    /// This capture group (the named group `secret`, or gitleaks `secretGroup`).
    Index(usize),
    /// The first capture group that matched a non-empty string, else the whole match.
    FirstNonEmpty,
}

/// A companion pattern searched near each match (multi-part credentials such as an AWS key id
/// and its secret access key).
#[derive(Debug, Clone)]
pub struct Pair {
    /// The companion regex (its secret is group `secret`, else group 1, else the whole match).
    pub regex: Regex,
    /// Bytes searched on each side of the primary match.
    pub window: usize,
    /// When true, a match without its companion is not reported.
    pub required: bool,
}

/// One detection rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Unique id, `provider.kind`.
    pub id: String,
    /// Human description (the finding title).
    pub description: String,
    /// The source pattern.
    pub pattern: String,
    /// The regex; `None` for gitleaks path-only rules. Use [`Rule::regex`] to get it compiled.
    pub regex: Option<RuleRegex>,
    /// Which capture is the secret.
    pub secret_group: SecretGroup,
    /// Lower-cased literal keywords; the rule runs only near one of them.
    pub keywords: Vec<String>,
    /// The rule runs on every blob (no keyword could be derived): costs one regex pass per blob.
    pub always_run: bool,
    /// Severity of findings.
    pub severity: Severity,
    /// Minimum Shannon entropy (bits per byte) of the secret.
    pub entropy: Option<f64>,
    /// Structural validator.
    pub validator: Option<Validator>,
    /// Confidence; decides which not-a-secret filters apply (see [`Confidence`]).
    pub confidence: Confidence,
    /// Reference links.
    pub references: Vec<String>,
    /// Texts that must each produce a finding of this rule.
    pub examples: Vec<String>,
    /// Texts that must produce no finding of this rule.
    pub negative: Vec<String>,
    /// Companion pattern.
    pub pair: Option<Pair>,
    /// Path regex (gitleaks `path`): the rule only applies to matching paths.
    pub path: Option<regex::Regex>,
    /// Per-rule allowlists (gitleaks).
    pub allowlists: Vec<Allowlist>,
    /// Where the rule was loaded from.
    pub source: String,
}

/// The on-disk Lantern rule schema.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleToml {
    id: String,
    description: String,
    regex: String,
    #[serde(default)]
    keywords: Vec<String>,
    severity: Option<String>,
    entropy: Option<f64>,
    validator: Option<String>,
    confidence: Option<String>,
    #[serde(default)]
    references: Vec<String>,
    #[serde(default)]
    examples: Vec<String>,
    #[serde(default)]
    negative: Vec<String>,
    pair: Option<PairToml>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PairToml {
    regex: String,
    #[serde(default = "default_pair_window")]
    window: usize,
    #[serde(default)]
    required: bool,
}

fn default_pair_window() -> usize {
    512
}

/// A rule file: optional `provider`, then `[[rules]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    #[allow(dead_code)]
    provider: Option<String>,
    #[serde(default)]
    rules: Vec<toml::Value>,
}

pub(crate) fn rule_err(source: &str, id: &str, message: impl Into<String>) -> Error {
    Error::Rule {
        source_file: source.to_string(),
        id: id.to_string(),
        message: message.into(),
    }
}

/// Compile a secret regex the way every rule is compiled: bytes, ASCII-only classes (as in
/// Go's RE2, so gitleaks patterns keep their meaning), bounded size.
pub(crate) fn compile(pattern: &str) -> std::result::Result<Regex, String> {
    regex::bytes::RegexBuilder::new(pattern)
        .unicode(false)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_DFA_LIMIT)
        .build()
        .map_err(|e| e.to_string())
}

/// The secret group of a regex: named `secret`, else first non-empty capture.
pub(crate) fn default_group(re: &Regex) -> SecretGroup {
    re.capture_names()
        .position(|n| n == Some("secret"))
        .map(SecretGroup::Index)
        .unwrap_or(SecretGroup::FirstNonEmpty)
}

pub(crate) fn parse_severity(s: &str) -> Option<Severity> {
    match s {
        "info" => Some(Severity::Info),
        "low" => Some(Severity::Low),
        "medium" => Some(Severity::Medium),
        "high" => Some(Severity::High),
        "critical" => Some(Severity::Critical),
        _ => None,
    }
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
        && !id.starts_with('.')
        && !id.ends_with('.')
}

impl Rule {
    /// The compiled regex (compiled on first use for bundled rules); `None` for path-only rules.
    pub fn regex(&self) -> Option<&Regex> {
        self.regex.as_ref().and_then(RuleRegex::get)
    }

    /// Build a rule from one `[[rules]]` table of the Lantern schema, compiling its regex.
    /// Does not run examples.
    pub fn from_toml(value: &toml::Value, source: &str) -> Result<Rule> {
        Self::parse(value, source, true)
    }

    fn parse(value: &toml::Value, source: &str, eager: bool) -> Result<Rule> {
        let id_hint = value
            .get("id")
            .and_then(|v| v.as_str())
            .unwrap_or("<unknown>")
            .to_string();
        let t: RuleToml = value.clone().try_into().map_err(|e: toml::de::Error| {
            rule_err(source, &id_hint, e.to_string().trim().to_string())
        })?;
        let id = t.id;
        let err = |m: String| rule_err(source, &id, m);
        if !valid_id(&id) {
            return Err(err(
                "id must be lower-case letters, digits, '.', '_' or '-'".into(),
            ));
        }
        let regex = if eager {
            let re = compile(&t.regex).map_err(|e| err(format!("invalid regex: {e}")))?;
            RuleRegex::compiled(t.regex.clone(), re)
        } else {
            RuleRegex::lazy(t.regex.clone())
        };
        if t.keywords.is_empty() || t.keywords.iter().any(|k| k.trim().is_empty()) {
            return Err(err(
                "`keywords` must list at least one non-empty literal".into()
            ));
        }
        let severity = match &t.severity {
            None => Severity::High,
            Some(s) => parse_severity(s).ok_or_else(|| {
                err(format!(
                    "unknown severity `{s}` (info, low, medium, high, critical)"
                ))
            })?,
        };
        let confidence = match &t.confidence {
            None => Confidence::Medium,
            Some(s) => Confidence::parse(s)
                .ok_or_else(|| err(format!("unknown confidence `{s}` (high, medium, low)")))?,
        };
        let validator = match &t.validator {
            None => None,
            Some(v) => Some(Validator::from_name(v).ok_or_else(|| {
                let known: Vec<&str> = Validator::ALL.iter().map(|(n, _)| *n).collect();
                err(format!(
                    "unknown validator `{v}` (known: {})",
                    known.join(", ")
                ))
            })?),
        };
        if let Some(e) = t.entropy {
            if !(0.0..=8.0).contains(&e) {
                return Err(err(format!("entropy {e} out of range 0..=8")));
            }
        }
        let pair = match t.pair {
            None => None,
            Some(p) => {
                if p.window == 0 || p.window > MAX_PAIR_WINDOW {
                    return Err(err(format!("pair.window must be 1..={MAX_PAIR_WINDOW}")));
                }
                Some(Pair {
                    regex: compile(&p.regex)
                        .map_err(|e| err(format!("invalid pair regex: {e}")))?,
                    window: p.window,
                    required: p.required,
                })
            }
        };
        let mut keywords: Vec<String> = t.keywords.iter().map(|k| k.to_ascii_lowercase()).collect();
        keywords.sort();
        keywords.dedup();
        Ok(Rule {
            secret_group: SecretGroup::NamedOrFirst,
            id,
            description: t.description,
            pattern: t.regex,
            regex: Some(regex),
            keywords,
            always_run: false,
            severity,
            entropy: t.entropy,
            validator,
            confidence,
            references: t.references,
            examples: t.examples,
            negative: t.negative,
            pair,
            path: None,
            allowlists: Vec::new(),
            source: source.to_string(),
        })
    }

    /// Run this rule's `examples` and `negative` texts; one message per failure.
    pub fn check_examples(&self) -> Vec<String> {
        if let (Some(r), None) = (&self.regex, self.regex()) {
            let e = compile(r.pattern()).err().unwrap_or_default();
            return vec![format!("invalid regex: {e}")];
        }
        if self.examples.is_empty() && self.negative.is_empty() {
            return Vec::new();
        }
        let scanner = match crate::scanner::Scanner::single(self) {
            Ok(s) => s,
            Err(e) => return vec![e.to_string()],
        };
        let loc = lantern_core::Location::path("<example>");
        let mut failures = Vec::new();
        for ex in &self.examples {
            let found = scanner.scan(ex.as_bytes(), &loc).findings;
            if !found.iter().any(|f| f.rule_id == self.id) {
                failures.push(format!("example produced no finding: {ex:?}"));
            }
        }
        for neg in &self.negative {
            let found = scanner.scan(neg.as_bytes(), &loc).findings;
            if let Some(f) = found.first() {
                failures.push(format!(
                    "negative example produced a finding (secret {:?}): {neg:?}",
                    f.secret.as_deref().unwrap_or("")
                ));
            }
        }
        failures
    }
}

/// A set of rules with unique ids, plus global allowlists from gitleaks files.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    rules: Vec<Rule>,
    ids: HashSet<String>,
    pub(crate) global_allowlists: Vec<Allowlist>,
    notes: Vec<String>,
}

impl RuleSet {
    /// An empty rule set.
    pub fn new() -> Self {
        Self::default()
    }

    /// The bundled rules (`rules/*.toml`, compiled in). The files are parsed and every rule's
    /// schema, keywords, severity and validator are checked now; regexes are compiled on first
    /// use, and the crate's tests compile every one of them and run every example
    /// ([`RuleSet::builtin_checked`] does the same at run time).
    pub fn builtin() -> Result<Self> {
        let mut set = RuleSet::new();
        for (name, text) in bundled::BUNDLED {
            let file: RuleFile = toml::from_str(text).map_err(|e| Error::File {
                source_file: name.to_string(),
                message: e.to_string().trim().to_string(),
            })?;
            for v in &file.rules {
                set.push(Rule::parse(v, name, false)?)?;
            }
        }
        Ok(set)
    }

    /// The bundled rules with every regex compiled and every example run now.
    pub fn builtin_checked() -> Result<Self> {
        let set = Self::builtin()?;
        for r in &set.rules {
            if let Some(msg) = r.check_examples().into_iter().next() {
                return Err(rule_err(&r.source, &r.id, msg));
            }
        }
        Ok(set)
    }

    /// Names of the bundled rule files.
    pub fn bundled_files() -> impl Iterator<Item = &'static str> {
        bundled::BUNDLED.iter().map(|(n, _)| *n)
    }

    /// Add the rules of one Lantern-schema rule file given as text (`provider` + `[[rules]]`).
    pub fn add_rule_file_text(&mut self, text: &str, source: &str, check: bool) -> Result<()> {
        let file: RuleFile = toml::from_str(text).map_err(|e| Error::File {
            source_file: source.to_string(),
            message: e.to_string().trim().to_string(),
        })?;
        self.add_values(&file.rules, source, check)
    }

    /// Add a Lantern-schema rule file from disk (examples are checked).
    pub fn add_rule_file(&mut self, path: &Path) -> Result<()> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Io(lantern_core::IoError::new(path.display(), e)))?;
        self.add_rule_file_text(&text, &path.display().to_string(), true)
    }

    /// Add `[[rules]]` tables from `lantern.toml` (same schema as the bundled files); examples
    /// are checked. `source` names the file in errors.
    pub fn add_toml_rules(&mut self, rules: &[toml::Value], source: &str) -> Result<()> {
        self.add_values(rules, source, true)
    }

    fn add_values(&mut self, rules: &[toml::Value], source: &str, check: bool) -> Result<()> {
        for v in rules {
            let r = Rule::from_toml(v, source)?;
            if check {
                if let Some(msg) = r.check_examples().into_iter().next() {
                    return Err(rule_err(source, &r.id, msg));
                }
            }
            self.push(r)?;
        }
        Ok(())
    }

    /// Add a gitleaks TOML configuration (`--rules FILE`): its rules and allowlists.
    pub fn add_gitleaks_file(&mut self, path: &Path) -> Result<()> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Io(lantern_core::IoError::new(path.display(), e)))?;
        self.add_gitleaks_text(&text, &path.display().to_string())
    }

    /// Add a gitleaks configuration given as text; `source` names it in errors.
    pub fn add_gitleaks_text(&mut self, text: &str, source: &str) -> Result<()> {
        let loaded = crate::gitleaks::parse(text, source)?;
        for r in loaded.rules {
            self.push(r)?;
        }
        self.global_allowlists.extend(loaded.allowlists);
        self.notes.extend(loaded.notes);
        Ok(())
    }

    /// Add one rule; its id must be new.
    pub fn push(&mut self, rule: Rule) -> Result<()> {
        if !self.ids.insert(rule.id.clone()) {
            let first = self
                .rules
                .iter()
                .find(|r| r.id == rule.id)
                .map(|r| r.source.clone())
                .unwrap_or_default();
            return Err(rule_err(
                &rule.source,
                &rule.id,
                format!("duplicate rule id (already defined in {first})"),
            ));
        }
        self.rules.push(rule);
        Ok(())
    }

    /// Remove rules by id. An entry ending in `*` removes every rule whose id starts with the
    /// rest (`generic.*`).
    pub fn disable(&mut self, ids: &[String]) {
        let matches = |id: &str| {
            ids.iter().any(|d| match d.strip_suffix('*') {
                Some(prefix) => id.starts_with(prefix),
                None => d == id,
            })
        };
        self.rules.retain(|r| !matches(&r.id));
        self.ids.retain(|id| !matches(id));
    }

    /// Number of rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Whether there are no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The rules, in load order.
    pub fn rules(&self) -> impl Iterator<Item = &Rule> {
        self.rules.iter()
    }

    /// Notes gathered while loading (e.g. gitleaks `[extend] useDefault` being ignored).
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// Global allowlists (from gitleaks files).
    pub fn allowlists(&self) -> &[Allowlist] {
        &self.global_allowlists
    }

    pub(crate) fn into_parts(self) -> (Vec<Rule>, Vec<Allowlist>) {
        (self.rules, self.global_allowlists)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules_from(text: &str) -> Result<RuleSet> {
        let mut s = RuleSet::new();
        s.add_rule_file_text(text, "test.toml", true)?;
        Ok(s)
    }

    #[test]
    fn loads_a_valid_rule() {
        let s = rules_from(
            r#"
provider = "acme"
[[rules]]
id = "acme.token"
description = "Acme token"
regex = '''\b(acme_[a-z0-9]{20})\b'''
keywords = ["ACME_"]
severity = "critical"
examples = ["t = acme_abcdefghij0123456789"]
negative = ["acme_short"]
"#,
        )
        .unwrap();
        let r = s.rules().next().unwrap();
        assert_eq!(r.keywords, vec!["acme_"]);
        assert_eq!(r.severity, Severity::Critical);
        assert_eq!(r.confidence, Confidence::Medium);
    }

    #[track_caller]
    fn assert_rule_err(text: &str, id: &str, needle: &str) {
        let e = rules_from(text).unwrap_err().to_string();
        assert!(e.contains("test.toml"), "{e}");
        assert!(e.contains(&format!("`{id}`")), "{e}");
        assert!(e.contains(needle), "{e}");
    }

    #[test]
    fn load_errors_name_file_and_rule() {
        let base = |extra: &str| {
            format!(
                "[[rules]]\nid = \"a.b\"\ndescription = \"d\"\nregex = 'a_[0-9]+'\nkeywords = [\"a_\"]\n{extra}"
            )
        };
        assert_rule_err(
            &base("validator = \"nope\""),
            "a.b",
            "unknown validator `nope`",
        );
        assert_rule_err(&base("severity = \"huge\""), "a.b", "unknown severity");
        assert_rule_err(
            &base("examples = [\"nothing here\"]"),
            "a.b",
            "example produced no finding",
        );
        assert_rule_err(
            &base("negative = [\"a_123\"]"),
            "a.b",
            "negative example produced a finding",
        );
        assert_rule_err(&base("bogus = 1"), "a.b", "bogus");
        assert_rule_err(
            "[[rules]]\nid = \"a.b\"\ndescription = \"d\"\nregex = 'a_[0-9'\nkeywords = [\"a_\"]\n",
            "a.b",
            "invalid regex",
        );
        assert_rule_err(
            "[[rules]]\nid = \"a.b\"\ndescription = \"d\"\nregex = 'a_[0-9]'\nkeywords = []\n",
            "a.b",
            "keywords",
        );
        let dup = format!("{}\n{}", base(""), base(""));
        assert_rule_err(&dup, "a.b", "duplicate rule id");
    }

    #[test]
    fn lazy_rules_report_a_bad_regex_when_checked() {
        let v: toml::Value = toml::from_str(
            "id = \"a.b\"\ndescription = \"d\"\nregex = 'a_[0-9'\nkeywords = [\"a_\"]\n",
        )
        .unwrap();
        let r = Rule::parse(&v, "rules/x.toml", false).unwrap();
        assert!(r.regex.is_some() && r.regex().is_none());
        let f = r.check_examples();
        assert!(f[0].starts_with("invalid regex"), "{f:?}");
        let ok: toml::Value = toml::from_str(
            "id = \"a.c\"\ndescription = \"d\"\nregex = 'a_(?P<secret>[0-9]+)'\nkeywords = [\"a_\"]\nexamples = [\"a_12\"]\n",
        )
        .unwrap();
        let r = Rule::parse(&ok, "rules/x.toml", false).unwrap();
        assert!(r.check_examples().is_empty());
        assert!(r.regex().is_some());
    }

    #[test]
    fn unknown_top_level_key_is_rejected() {
        let e = rules_from("vendor = \"x\"\n").unwrap_err().to_string();
        assert!(e.contains("test.toml") && e.contains("vendor"), "{e}");
    }

    #[test]
    fn disable_by_id_and_prefix() {
        let mut s = rules_from(
            "[[rules]]\nid = \"generic.a\"\ndescription = \"d\"\nregex = 'x_[0-9]+'\nkeywords = [\"x_\"]\n\
             [[rules]]\nid = \"generic.b\"\ndescription = \"d\"\nregex = 'y_[0-9]+'\nkeywords = [\"y_\"]\n\
             [[rules]]\nid = \"acme.c\"\ndescription = \"d\"\nregex = 'z_[0-9]+'\nkeywords = [\"z_\"]\n",
        )
        .unwrap();
        s.disable(&["acme.c".to_string()]);
        assert_eq!(s.len(), 2);
        s.disable(&["generic.*".to_string()]);
        assert!(s.is_empty());
    }
}
