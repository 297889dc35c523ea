//! Loader for gitleaks configuration files (`gitleaks.toml`): `[[rules]]` with `id`, `regex`,
//! `secretGroup`, `entropy`, `keywords`, `path` and allowlists, global `[allowlist]` /
//! `[[allowlists]]`. Keys are matched case-insensitively, as gitleaks (viper) does.

use crate::allow::{Allowlist, RegexTarget};
use crate::rule::{compile, default_group, rule_err, Confidence, Rule, RuleRegex, SecretGroup};
use crate::{Error, Result};
use lantern_core::Severity;
use serde::Deserialize;

/// What one gitleaks file contributes.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Its rules.
    pub rules: Vec<Rule>,
    /// Its global allowlists.
    pub allowlists: Vec<Allowlist>,
    /// Things accepted but not honoured, for the user to read.
    pub notes: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
struct GlConfig {
    #[serde(default)]
    extend: Option<GlExtend>,
    #[serde(default)]
    rules: Vec<GlRule>,
    #[serde(default)]
    allowlist: Option<GlAllowlist>,
    #[serde(default)]
    allowlists: Vec<GlAllowlist>,
}

#[derive(Debug, Default, Deserialize)]
struct GlExtend {
    #[serde(default)]
    usedefault: bool,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    disabledrules: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
struct GlRule {
    #[serde(default)]
    id: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    regex: Option<String>,
    #[serde(default)]
    secretgroup: Option<i64>,
    #[serde(default)]
    entropy: Option<f64>,
    #[serde(default)]
    keywords: Vec<String>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    allowlist: Option<GlAllowlist>,
    #[serde(default)]
    allowlists: Vec<GlAllowlist>,
    #[serde(default)]
    required: Vec<toml::Value>,
    #[serde(default)]
    skipreport: bool,
}

#[derive(Debug, Default, Deserialize)]
struct GlAllowlist {
    #[serde(default)]
    description: String,
    #[serde(default)]
    condition: Option<String>,
    #[serde(default)]
    commits: Vec<String>,
    #[serde(default)]
    paths: Vec<String>,
    #[serde(default)]
    regextarget: Option<String>,
    #[serde(default)]
    regexes: Vec<String>,
    #[serde(default)]
    stopwords: Vec<String>,
    #[serde(default)]
    targetrules: Vec<String>,
}

/// Lower-case every table key, recursively (viper is case-insensitive).
fn lower_keys(v: toml::Value) -> toml::Value {
    match v {
        toml::Value::Table(t) => toml::Value::Table(
            t.into_iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), lower_keys(v)))
                .collect(),
        ),
        toml::Value::Array(a) => toml::Value::Array(a.into_iter().map(lower_keys).collect()),
        other => other,
    }
}

fn convert_allowlist(a: GlAllowlist, source: &str, id: &str) -> Result<Allowlist> {
    let err = |m: String| rule_err(source, id, m);
    let condition_and = match a
        .condition
        .as_deref()
        .map(str::to_ascii_uppercase)
        .as_deref()
    {
        None | Some("") | Some("OR") => false,
        Some("AND") | Some("&&") => true,
        Some(o) => {
            return Err(err(format!(
                "allowlist condition `{o}` (expected OR or AND)"
            )))
        }
    };
    let regex_target = match a.regextarget.as_deref() {
        None | Some("") | Some("secret") => RegexTarget::Secret,
        Some("match") => RegexTarget::Match,
        Some("line") => RegexTarget::Line,
        Some(o) => {
            return Err(err(format!(
                "allowlist regexTarget `{o}` (expected secret, match or line)"
            )))
        }
    };
    let regexes = a
        .regexes
        .iter()
        .map(|r| compile(r).map_err(|e| err(format!("invalid allowlist regex `{r}`: {e}"))))
        .collect::<Result<Vec<_>>>()?;
    let paths = a
        .paths
        .iter()
        .map(|r| {
            regex::RegexBuilder::new(r)
                .size_limit(1 << 20)
                .build()
                .map_err(|e| err(format!("invalid allowlist path regex `{r}`: {e}")))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Allowlist {
        description: a.description,
        condition_and,
        regex_target,
        regexes,
        stopwords: a.stopwords.iter().map(|s| s.to_ascii_lowercase()).collect(),
        paths,
        commits: a.commits,
        target_rules: a.targetrules,
    })
}

fn convert_rule(r: GlRule, source: &str, notes: &mut Vec<String>) -> Result<Option<Rule>> {
    let id = r.id.trim().to_string();
    if id.is_empty() {
        return Err(rule_err(source, "<unknown>", "rule without `id`"));
    }
    let err = |m: String| rule_err(source, &id, m);
    if r.skipreport {
        notes.push(format!(
            "{source}: rule `{id}` has skipReport = true (a composite component); not loaded"
        ));
        return Ok(None);
    }
    if !r.required.is_empty() {
        notes.push(format!(
            "{source}: rule `{id}`: `[[rules.required]]` composite components are not supported; \
             the primary pattern is reported on its own"
        ));
    }
    let regex = match r.regex.as_deref().filter(|s| !s.is_empty()) {
        Some(p) => Some(compile(p).map_err(|e| err(format!("invalid regex: {e}")))?),
        None => None,
    };
    let path = match r.path.as_deref().filter(|s| !s.is_empty()) {
        Some(p) => Some(
            regex::RegexBuilder::new(p)
                .size_limit(1 << 20)
                .build()
                .map_err(|e| err(format!("invalid path regex: {e}")))?,
        ),
        None => None,
    };
    if regex.is_none() && path.is_none() {
        return Err(err("rule needs a `regex` or a `path`".into()));
    }
    let secret_group = match (r.secretgroup, &regex) {
        (Some(g), Some(re)) if g > 0 => {
            let g = usize::try_from(g).map_err(|_| err("secretGroup out of range".into()))?;
            if g >= re.captures_len() {
                return Err(err(format!(
                    "secretGroup {g} but the regex has {} group(s)",
                    re.captures_len() - 1
                )));
            }
            SecretGroup::Index(g)
        }
        (Some(g), _) if g < 0 => return Err(err("secretGroup must not be negative".into())),
        (_, Some(re)) => default_group(re),
        (_, None) => SecretGroup::FirstNonEmpty,
    };
    if let Some(e) = r.entropy {
        if !(0.0..=8.0).contains(&e) {
            return Err(err(format!("entropy {e} out of range 0..=8")));
        }
    }
    let mut keywords: Vec<String> = r
        .keywords
        .iter()
        .map(|k| k.to_ascii_lowercase())
        .filter(|k| !k.is_empty())
        .collect();
    let mut always_run = false;
    if keywords.is_empty() {
        if let (Some(p), Some(_)) = (r.regex.as_deref(), &regex) {
            match crate::keywords::derive(p) {
                Some(k) => keywords = k,
                None => {
                    always_run = true;
                    notes.push(format!(
                        "{source}: rule `{id}` has no keywords and none could be derived from its \
                         regex; it runs on every blob (one full regex pass each)"
                    ));
                }
            }
        }
    }
    keywords.sort();
    keywords.dedup();
    let mut allowlists = Vec::new();
    for a in r.allowlist.into_iter().chain(r.allowlists) {
        allowlists.push(convert_allowlist(a, source, &id)?);
    }
    let confidence = if id.contains("generic") {
        Confidence::Low
    } else {
        Confidence::Medium
    };
    Ok(Some(Rule {
        description: if r.description.is_empty() {
            id.clone()
        } else {
            r.description
        },
        pattern: r.regex.clone().unwrap_or_default(),
        regex: regex.map(|re| RuleRegex::compiled(r.regex.unwrap_or_default(), re)),
        secret_group,
        keywords,
        always_run,
        severity: Severity::High,
        entropy: r.entropy.filter(|e| *e > 0.0),
        validator: None,
        confidence,
        references: Vec::new(),
        examples: Vec::new(),
        negative: Vec::new(),
        pair: None,
        path,
        allowlists,
        source: source.to_string(),
        id,
    }))
}

/// Parse a gitleaks configuration.
pub fn parse(text: &str, source: &str) -> Result<Loaded> {
    let value: toml::Value = toml::from_str(text).map_err(|e| Error::File {
        source_file: source.to_string(),
        message: e.to_string().trim().to_string(),
    })?;
    let cfg: GlConfig = lower_keys(value)
        .try_into()
        .map_err(|e: toml::de::Error| Error::File {
            source_file: source.to_string(),
            message: format!("not a gitleaks configuration: {}", e.to_string().trim()),
        })?;
    let mut out = Loaded::default();
    if let Some(ext) = cfg.extend {
        if ext.usedefault {
            out.notes.push(format!(
                "{source}: [extend] useDefault ignored: Lantern's bundled rules play that part"
            ));
        }
        if ext.path.is_some() || ext.url.is_some() {
            out.notes.push(format!(
                "{source}: [extend] path/url ignored: pass each gitleaks file with its own --rules"
            ));
        }
        if !ext.disabledrules.is_empty() {
            out.notes.push(format!(
                "{source}: [extend] disabledRules ({}) refer to gitleaks' default ids; disable \
                 Lantern rules with [allowlist] rules in lantern.toml",
                ext.disabledrules.join(", ")
            ));
        }
    }
    for r in cfg.rules {
        if let Some(rule) = convert_rule(r, source, &mut out.notes)? {
            if out.rules.iter().any(|x| x.id == rule.id) {
                return Err(rule_err(source, &rule.id, "duplicate rule id"));
            }
            out.rules.push(rule);
        }
    }
    for a in cfg.allowlist.into_iter().chain(cfg.allowlists) {
        let a = convert_allowlist(a, source, "[allowlist]")?;
        if !a.is_empty() {
            out.allowlists.push(a);
        }
    }
    Ok(out)
}
