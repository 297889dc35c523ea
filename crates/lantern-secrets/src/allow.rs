//! Suppression: gitleaks-style allowlists (regexes, stopwords, paths, commits), inline
//! `lantern:allow` markers and the placeholder filter for low-confidence rules.

use crate::shape;
use memchr::memmem;
use regex::bytes::Regex;

/// What an allowlist regex is matched against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RegexTarget {
    /// The captured secret (gitleaks default).
    #[default]
    Secret,
    /// The whole regex match.
    Match,
    /// The line(s) holding the match.
    Line,
}

/// One allowlist, as in gitleaks `[allowlist]`, `[rules.allowlist]` or `[[rules.allowlists]]`.
/// With `condition_and`, every configured criterion must match; otherwise any one does.
#[derive(Debug, Clone, Default)]
pub struct Allowlist {
    /// Free text.
    pub description: String,
    /// `condition = "AND"`.
    pub condition_and: bool,
    /// What `regexes` are matched against.
    pub regex_target: RegexTarget,
    /// Regexes; a match allows the finding.
    pub regexes: Vec<Regex>,
    /// Lower-cased words; a secret containing one is allowed.
    pub stopwords: Vec<String>,
    /// Path regexes.
    pub paths: Vec<regex::Regex>,
    /// Commit ids (full or prefix).
    pub commits: Vec<String>,
    /// For global allowlists: only these rule ids (empty = all rules).
    pub target_rules: Vec<String>,
}

/// The text around one candidate that allowlists look at.
pub(crate) struct Candidate<'a> {
    pub secret: &'a [u8],
    pub whole: &'a [u8],
    pub line: &'a [u8],
    pub path: &'a str,
    pub commit: Option<&'a str>,
}

impl Allowlist {
    /// Whether this allowlist has no criteria at all (it then allows nothing).
    pub fn is_empty(&self) -> bool {
        self.regexes.is_empty()
            && self.stopwords.is_empty()
            && self.paths.is_empty()
            && self.commits.is_empty()
    }

    fn path_allowed(&self, path: &str) -> bool {
        self.paths.iter().any(|r| r.is_match(path))
    }

    /// Whether a whole blob at `path` is allowed by path alone (an OR allowlist with a matching
    /// path), so it need not be scanned.
    pub(crate) fn allows_whole_path(&self, path: &str) -> bool {
        self.target_rules.is_empty() && !self.condition_and && self.path_allowed(path)
    }

    pub(crate) fn allows(&self, rule_id: &str, c: &Candidate<'_>) -> bool {
        if !self.target_rules.is_empty() && !self.target_rules.iter().any(|r| r == rule_id) {
            return false;
        }
        if self.is_empty() {
            return false;
        }
        let commit = || {
            c.commit.is_some_and(|id| {
                self.commits
                    .iter()
                    .any(|a| !a.is_empty() && id.starts_with(a.as_str()))
            })
        };
        let path = || self.path_allowed(c.path);
        let regex = || {
            let target = match self.regex_target {
                RegexTarget::Secret => c.secret,
                RegexTarget::Match => c.whole,
                RegexTarget::Line => c.line,
            };
            self.regexes.iter().any(|r| r.is_match(target))
        };
        let stop = || contains_stopword(c.secret, &self.stopwords);
        if self.condition_and {
            (self.commits.is_empty() || commit())
                && (self.paths.is_empty() || path())
                && (self.regexes.is_empty() || regex())
                && (self.stopwords.is_empty() || stop())
        } else {
            commit() || path() || regex() || stop()
        }
    }
}

fn contains_stopword(secret: &[u8], stopwords: &[String]) -> bool {
    if stopwords.is_empty() {
        return false;
    }
    let lower = secret.to_ascii_lowercase();
    stopwords
        .iter()
        .any(|w| !w.is_empty() && memmem::find(&lower, w.as_bytes()).is_some())
}

/// Inline markers that suppress a match on the same line.
pub const INLINE_MARKERS: [&str; 3] = [
    "lantern:allow",
    "gitleaks:allow",
    "pragma: allowlist secret",
];

/// Whether `line` carries an inline suppression marker.
pub(crate) fn has_inline_marker(line: &[u8], finders: &[memmem::Finder<'static>]) -> bool {
    finders.iter().any(|f| f.find(line).is_some())
}

/// Placeholders that no real credential contains, checked for every rule: `EXAMPLE` (AWS docs
/// style), a run of 8 `x`/`X`/`*`, or a secret made of a single repeated character.
pub fn is_strong_placeholder(secret: &[u8]) -> bool {
    if secret.len() >= 4 && secret.iter().all(|&b| b == secret[0]) {
        return true;
    }
    memmem::find(secret, b"EXAMPLE").is_some()
        || memmem::find(secret, b"xxxxxxxx").is_some()
        || memmem::find(secret, b"XXXXXXXX").is_some()
        || memmem::find(secret, b"********").is_some()
}

/// Placeholders, templates and references that no context-anchored rule (medium or low
/// confidence) reports: `your_api_key`, `<token>`, `${VAR}`, `{{ var }}`, `{password}`, `%s`,
/// `changeme`, `example`, `dummy`, `fake`, `os.environ/KEY`, `SecretType.TOKEN`,
/// `RoboflowProviderSpec`, `my-anthropic-api-key`, `e.auth_password??`.
pub fn is_placeholder_value(secret: &[u8]) -> bool {
    if is_strong_placeholder(secret) {
        return true;
    }
    let lower = secret.to_ascii_lowercase();
    const STOCK: [&[u8]; 18] = [
        b"foo",
        b"bar",
        b"baz",
        b"qux",
        b"password",
        b"passwd",
        b"pass",
        b"secret",
        b"root",
        b"admin",
        b"test",
        b"guest",
        b"user",
        b"postgres",
        b"mysql",
        b"changeit",
        b"pwd",
        b"default",
    ];
    if STOCK.contains(&lower.as_slice()) {
        return true;
    }
    const WORDS: [&[u8]; 18] = [
        b"example",
        b"your_",
        b"your-",
        b"yourapi",
        b"changeme",
        b"change_me",
        b"placeholder",
        b"redacted",
        b"dummy",
        b"sample",
        b"xxxx",
        b"****",
        b"...",
        b"replace",
        b"insert",
        b"todo",
        b"fake",
        b"synthetic",
    ];
    if WORDS.iter().any(|w| memmem::find(&lower, w).is_some())
        || lower.starts_with(b"my-")
        || lower.starts_with(b"my_")
    {
        return true;
    }
    const TEMPLATES: [&[u8]; 5] = [b"${", b"{{", b"%s", b"%(", b"$("];
    if TEMPLATES.iter().any(|t| memmem::find(secret, t).is_some())
        || shape::has_format_field(secret)
        || shape::is_env_reference(secret)
        || shape::is_code_expression(secret)
        || shape::is_code_identifier(secret)
        || shape::is_dotted_reference(secret)
        || shape::is_self_describing_phrase(secret)
    {
        return true;
    }
    let first = secret.first().copied();
    let last = secret.last().copied();
    matches!(
        (first, last),
        (Some(b'<'), Some(b'>')) | (Some(b'['), Some(b']')) | (Some(b'{'), Some(b'}'))
    ) || (first == Some(b'$')
        && secret[1..]
            .iter()
            .all(|&b| b.is_ascii_uppercase() || b == b'_' || b.is_ascii_digit()))
}

/// Placeholders and code that generic (low-confidence) rules ignore: everything
/// [`is_placeholder_value`] drops, plus any identifier-like value (`original_secret_key`,
/// `MY_API_KEY`, `settings.WEATHER_KEY`), counting sequences (`sk-9876543210abcdef`), paths
/// and URLs (`/etc/passwd:ro`), which real passwords and keys are not.
pub fn is_placeholder(secret: &[u8]) -> bool {
    is_placeholder_value(secret)
        || looks_like_code_reference(secret)
        || shape::is_sequential(secret)
        || shape::is_path_or_url(secret)
}

/// `settings.API_KEY`, `self.config.token`, `WEATHER_API_KEY`: a reference to a value, not one.
fn looks_like_code_reference(secret: &[u8]) -> bool {
    let ident = |seg: &[u8]| {
        !seg.is_empty()
            && seg.len() <= 40
            && (seg[0].is_ascii_alphabetic() || seg[0] == b'_')
            && seg.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'_')
    };
    let segs: Vec<&[u8]> = secret.split(|&b| b == b'.').collect();
    if segs.len() >= 2
        && segs.iter().all(|s| ident(s))
        && segs
            .iter()
            .any(|s| s.iter().all(|&b| b.is_ascii_lowercase() || b == b'_'))
    {
        return true;
    }
    // Type paths and references in typed code: `windows_sys::core::PCSTR`, `&DEFAULT_SECRET`,
    // `: CYPHER_BLOCK` (a field's type, not its value).
    if memmem::find(secret, b"::").is_some() || matches!(secret.first(), Some(b'&' | b'*' | b':')) {
        return true;
    }
    // Identifiers: `EapUsernamePasswordCredential`, `original_secret_key` (letters and `_` only,
    // no digit or symbol as real passwords and keys have), and constants such as
    // `DOT11_WPS_DEVICE_PASSWORD_ID`.
    if secret.len() >= 8
        && secret[0].is_ascii_alphabetic()
        && secret.iter().all(|&b| b.is_ascii_alphabetic() || b == b'_')
    {
        return true;
    }
    secret.contains(&b'_')
        && secret[0].is_ascii_uppercase()
        && secret
            .iter()
            .all(|&b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand<'a>(secret: &'a [u8], path: &'a str) -> Candidate<'a> {
        Candidate {
            secret,
            whole: secret,
            line: secret,
            path,
            commit: Some("abcdef0123"),
        }
    }

    #[test]
    fn or_and_conditions() {
        let a = Allowlist {
            regexes: vec![Regex::new("^test").unwrap()],
            paths: vec![regex::Regex::new(r"\.md$").unwrap()],
            ..Default::default()
        };
        assert!(a.allows("r", &cand(b"test123", "a.py")));
        assert!(a.allows("r", &cand(b"real123", "README.md")));
        assert!(!a.allows("r", &cand(b"real123", "a.py")));
        let and = Allowlist {
            condition_and: true,
            ..a.clone()
        };
        assert!(!and.allows("r", &cand(b"test123", "a.py")));
        assert!(and.allows("r", &cand(b"test123", "README.md")));
    }

    #[test]
    fn stopwords_commits_and_targets() {
        let a = Allowlist {
            stopwords: vec!["dummy".into()],
            commits: vec!["abcdef".into()],
            target_rules: vec!["only.this".into()],
            ..Default::default()
        };
        assert!(!a.allows("other", &cand(b"xDUMMYx", "p")));
        assert!(a.allows("only.this", &cand(b"xDUMMYx", "p")));
        let mut c = cand(b"real", "p");
        assert!(a.allows("only.this", &c));
        c.commit = Some("ffff");
        assert!(!a.allows("only.this", &c));
    }

    #[test]
    fn placeholders() {
        assert!(is_strong_placeholder(b"AKIAIOSFODNN7EXAMPLE"));
        assert!(is_strong_placeholder(b"aaaaaaaaaaaa"));
        assert!(!is_strong_placeholder(b"q8Zr3LmN0pXw"));
        for p in [
            "your_api_key_here",
            "<token>",
            "${API_KEY}",
            "{{ secret }}",
            "changeme",
            "$PASSWORD",
            "[secret]",
            "settings.WEATHER_KEY",
            "self.cfg.token",
            "MY_API_KEY",
            "windows_sys::core::PCSTR",
            "&DEFAULT_SECRET",
            ":CYPHER_BLOCK",
            "EapUsernamePasswordCredential",
            "original_secret_key",
            "DOT11_WPS_DEVICE_PASSWORD_ID",
        ] {
            assert!(is_placeholder(p.as_bytes()), "{p}");
        }
        assert!(!is_placeholder(b"Zx9$kQ2#mW7!pL"));
        assert!(!is_placeholder(b"NY1DhQCEYTdBkptf"));
        assert!(!is_placeholder(b"Sup3rS3cretPassw0rd"));
        for p in [
            "os.environ/OPENAI_API_KEY",
            "{password}",
            "SecretType.TOKEN",
            "RoboflowProviderSpec",
            "my-anthropic-api-key",
            "fake-accumulator-key",
            "e.auth_password??",
            "aws_session_token",
        ] {
            assert!(is_placeholder_value(p.as_bytes()), "{p}");
        }
        // Values only the generic rules treat as identifiers.
        assert!(is_placeholder(b"KQWZRTPLMNVBXCJH"));
        assert!(!is_placeholder_value(b"KQWZRTPLMNVBXCJH"));
        assert!(is_placeholder(b"sk-9876543210abcdef"));
        assert!(!is_placeholder_value(b"dGhpc2lzYXNlY3JldA=="));
    }
}
