//! `setup.py`: the requirements of `setup(install_requires=..., extras_require=...,
//! tests_require=...)`, read by a bounded literal parse, never by running the file. Values are
//! list and dict literals, or names the file binds to them (`install_requires = [...]`,
//! `extras["x"] = [...]`); string elements may be plain literals, names of string constants
//! (`HF_XET = "hf-xet>=1.6"`) or f-strings made of those. Anything computed is left out.

use super::python::{declared_requirement, split_requirement};
use super::Package;
use crate::component::Scope;
use regex::Regex;
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// Longest list or dict literal read (bytes).
const MAX_LITERAL: usize = 64 * 1024;

/// `setup()` keywords holding requirements, with the scope of what they list.
const KEYWORDS: [(&str, Scope); 4] = [
    ("install_requires", Scope::Required),
    ("extras_require", Scope::Optional),
    ("tests_require", Scope::Excluded),
    ("setup_requires", Scope::Excluded),
];

struct Patterns {
    string: Regex,
    constant: Regex,
    ident: Regex,
}

fn patterns() -> &'static Patterns {
    static P: OnceLock<Patterns> = OnceLock::new();
    P.get_or_init(|| {
        let re = crate::builtin_regex;
        Patterns {
            string: re(r#"([A-Za-z]{0,2})(?:"([^"\\\n]{0,400})"|'([^'\\\n]{0,400})')"#),
            constant: re(r#"(?m)^([A-Za-z_]\w*)\s*=\s*["']([^"'\\\n]{1,400})["']\s*(?:#.*)?$"#),
            ident: re(r"^[A-Za-z_]\w*$"),
        }
    })
}

/// `text` with comments blanked (same length, so offsets stay valid).
fn blank_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut quote: Option<char> = None;
    let mut comment = false;
    for c in text.chars() {
        match (comment, quote, c) {
            (true, _, '\n') => {
                comment = false;
                out.push('\n');
            }
            (true, _, _) => out.extend(std::iter::repeat_n(' ', c.len_utf8())),
            (false, Some(q), _) if c == q || c == '\n' => {
                quote = None;
                out.push(c);
            }
            (false, None, '"' | '\'') => {
                quote = Some(c);
                out.push(c);
            }
            (false, None, '#') => {
                comment = true;
                out.push(' ');
            }
            _ => out.push(c),
        }
    }
    out
}

/// The bracketed literal opening at `open` (`[`, `{` or `(`), bounded to [`MAX_LITERAL`].
fn literal_at(text: &str, open: usize) -> Option<&str> {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    for (i, c) in text.get(open..)?.char_indices() {
        if i > MAX_LITERAL {
            return None;
        }
        match (quote, c) {
            (Some(q), _) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '[' | '{' | '(') => depth += 1,
            (None, ']' | '}' | ')') => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return text.get(open..=open + i);
                }
            }
            _ => {}
        }
    }
    None
}

/// Whether text ending here is followed by a subscript (`name[`, `x)[`, `a][`), not a list.
fn is_subscript(before: &str) -> bool {
    let Some(b) = before.trim_end().strip_suffix('[') else {
        return false;
    };
    b.ends_with(|c: char| c.is_alphanumeric() || matches!(c, '_' | ']' | ')'))
}

/// One `setup.py` being read: its text (comments blanked) and its string constants.
struct SetupPy<'t> {
    text: &'t str,
    constants: BTreeMap<&'t str, &'t str>,
}

impl<'t> SetupPy<'t> {
    /// Requirement strings of a literal with their offsets: plain strings, names of string
    /// constants and f-strings of those; other elements are skipped.
    fn strings(&self, start: usize, literal: &'t str) -> Vec<(String, usize)> {
        let p = patterns();
        let mut out = Vec::new();
        let mut last = 0;
        for c in p.string.captures_iter(literal) {
            let (Some(whole), Some(prefix)) = (c.get(0), c.get(1)) else {
                continue;
            };
            self.names_between(&literal[last..whole.start()], start + last, &mut out);
            last = whole.end();
            let Some(body) = c.get(2).or_else(|| c.get(3)) else {
                continue;
            };
            // Dict keys (`"dev": [...]`) and subscripts (`environ["X"]`) are no requirements.
            if literal[whole.end()..].trim_start().starts_with(':')
                || is_subscript(&literal[..whole.start()])
            {
                continue;
            }
            let prefix = prefix.as_str().to_ascii_lowercase();
            let value = match prefix.as_str() {
                "" | "r" | "u" => Some(body.as_str().to_string()),
                "f" | "rf" | "fr" => self.f_string(body.as_str()),
                _ => None,
            };
            if let Some(v) = value {
                out.push((v, start + body.start()));
            }
        }
        self.names_between(&literal[last..], start + last, &mut out);
        out
    }

    /// Bare names between string literals that are string constants of the file.
    fn names_between(&self, gap: &str, start: usize, out: &mut Vec<(String, usize)>) {
        let mut offset = 0;
        for tok in gap.split(|c: char| !(c.is_alphanumeric() || c == '_')) {
            if patterns().ident.is_match(tok) {
                if let Some(v) = self.constants.get(tok) {
                    out.push((v.to_string(), start + offset));
                }
            }
            offset += tok.len() + 1;
        }
    }

    /// An f-string whose placeholders are all names of string constants.
    fn f_string(&self, body: &str) -> Option<String> {
        let mut out = String::new();
        let mut rest = body;
        while let Some(i) = rest.find('{') {
            out.push_str(&rest[..i]);
            let end = rest[i..].find('}')? + i;
            out.push_str(self.constants.get(rest[i + 1..end].trim())?);
            rest = &rest[end + 1..];
        }
        out.push_str(rest);
        Some(out)
    }

    /// The literal a value expression starting at `at` denotes: a literal right there, or the
    /// literal a bare name is bound to (`NAME = [...]`), or for a name only assigned item by
    /// item (`NAME["x"] = [...]`), every item's literal.
    fn value_literals(&self, at: usize) -> Vec<(usize, &'t str)> {
        let rest = &self.text[at..];
        let trimmed = rest.trim_start();
        let at = at + (rest.len() - trimmed.len());
        if trimmed.starts_with(['[', '{', '(']) {
            return literal_at(self.text, at)
                .map(|l| (at, l))
                .into_iter()
                .collect();
        }
        let name_len = trimmed
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(trimmed.len());
        let name = &trimmed[..name_len];
        if name.is_empty() {
            return Vec::new();
        }
        self.bindings(name)
    }

    /// Literals bound to `name` at the start of a line: `name = [...]` and `name["k"] = ...`
    /// (every list literal of the right-hand side up to the end of the statement).
    fn bindings(&self, name: &str) -> Vec<(usize, &'t str)> {
        let Ok(re) = Regex::new(&format!(
            r#"(?m)^{}\s*(?:\[\s*["'][^"'\n]{{1,100}}["']\s*\])?\s*=\s*"#,
            regex::escape(name)
        )) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for m in re.find_iter(self.text) {
            let mut at = m.end();
            // `a + [...] + b`: every bracketed literal of the statement's line run.
            while let Some(off) = self.text[at..].find(|c: char| "[{\n".contains(c)) {
                let open = at + off;
                if self.text[open..].starts_with('\n') {
                    break;
                }
                if is_subscript(&self.text[..open + 1]) {
                    at = open + 1;
                    continue;
                }
                let Some(lit) = literal_at(self.text, open) else {
                    break;
                };
                out.push((open, lit));
                at = open + lit.len();
            }
        }
        out
    }

    /// The value of keyword `kw` in the `setup(...)` call, or of a top-level `kw = ...`.
    fn keyword_literals(&self, kw: &str) -> Vec<(usize, &'t str)> {
        let Ok(re) = Regex::new(&format!(r"\b{kw}\s*=\s*")) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for m in re.find_iter(self.text) {
            out.extend(self.value_literals(m.end()));
        }
        out.sort();
        out.dedup();
        out
    }
}

/// Parse `setup.py`: `install_requires` (required), `extras_require` (optional),
/// `tests_require` and `setup_requires` (excluded).
pub fn parse_setup_py(text: &str) -> Result<Vec<Package>, String> {
    let blanked = blank_comments(text);
    let constants = patterns()
        .constant
        .captures_iter(&blanked)
        .filter_map(|c| {
            Some((
                c.get(1)?.as_str(),
                c.get(2).map(|m| m.as_str()).unwrap_or(""),
            ))
        })
        .collect();
    let setup = SetupPy {
        text: &blanked,
        constants,
    };
    let lines = super::LineStarts::new(text);
    let mut out: Vec<Package> = Vec::new();
    for (kw, scope) in KEYWORDS {
        for (start, literal) in setup.keyword_literals(kw) {
            for (req, at) in setup.strings(start, literal) {
                let Some((name, spec)) = split_requirement(&req) else {
                    continue;
                };
                if out.iter().any(|p| p.name == name && p.scope == Some(scope)) {
                    continue;
                }
                let mut p = declared_requirement(name, &spec, Some(lines.line(at)));
                p.scope = Some(scope);
                out.push(p);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huggingface_hub_style_setup() {
        let text = r#"from setuptools import setup

# hf-xet version used in both lists
HF_XET_VERSION = "hf-xet>=1.6.0,<2.0.0"

install_requires = [
    "filelock",  # "not-a-dep"
    f"{HF_XET_VERSION}; platform_machine=='x86_64'",
    'packaging>=20.9',
]

extras = {}
extras["torch"] = [
    "torch",
    "safetensors[torch]",
]
extras["hf_xet"] = [HF_XET_VERSION]
extras["testing"] = extras["torch"] + [
    "pytest>=8",
]
computed = [x for x in get()]

setup(
    name="huggingface_hub",
    extras_require=extras,
    install_requires=install_requires,
    tests_require=["pytest-mock"],
)
"#;
        let p = parse_setup_py(text).unwrap();
        let got: Vec<(&str, Option<Scope>, Option<u32>)> = p
            .iter()
            .map(|x| (x.name.as_str(), x.scope, x.line))
            .collect();
        assert_eq!(
            got,
            [
                ("filelock", Some(Scope::Required), Some(7)),
                ("hf-xet", Some(Scope::Required), Some(8)),
                ("packaging", Some(Scope::Required), Some(9)),
                ("torch", Some(Scope::Optional), Some(14)),
                ("safetensors", Some(Scope::Optional), Some(15)),
                ("hf-xet", Some(Scope::Optional), Some(17)),
                ("pytest", Some(Scope::Optional), Some(19)),
                ("pytest-mock", Some(Scope::Excluded), Some(27)),
            ]
        );
        assert_eq!(p[1].constraint.as_deref(), Some(">=1.6.0,<2.0.0"));
        assert_eq!(p[2].constraint.as_deref(), Some(">=20.9"));
    }

    #[test]
    fn computed_values_and_inline_literals() {
        let text = "import os\nsetup(install_requires=open('r.txt').read().split(), extras_require={'dev': ['black==24.1.0', os.environ['X']]})\n";
        let p = parse_setup_py(text).unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].name, "black");
        assert_eq!(p[0].version.as_deref(), Some("24.1.0"));
        assert_eq!(p[0].scope, Some(Scope::Optional));
        assert!(parse_setup_py("").unwrap().is_empty());
        // An unbalanced literal is read no further than the bound.
        let open = format!("setup(install_requires=[{}", "\"a\",".repeat(40_000));
        assert!(parse_setup_py(&open).unwrap().is_empty());
    }
}
