//! Where a component is used, from the paths that name it: runtime code, examples, docs or
//! tests (rules in `data/scope_paths.txt`), and which hub ids are placeholders of docs and
//! templates (`data/placeholders.txt`) rather than real repositories.

use std::sync::OnceLock;

/// How a component is used, from the files that name it. Ordered from the most to the least
/// binding: a component named by runtime code and by a test is a runtime component.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Usage {
    /// Named by the project's own code, configuration or manifests.
    #[default]
    Runtime,
    /// Named only by examples, notebooks, tutorials or templates.
    Example,
    /// Named only by documentation.
    Docs,
    /// Named only by tests and their fixtures.
    Test,
}

impl Usage {
    /// The `lantern:scope` property value.
    pub fn as_str(self) -> &'static str {
        match self {
            Usage::Runtime => "runtime",
            Usage::Example => "example",
            Usage::Docs => "docs",
            Usage::Test => "test",
        }
    }

    /// The CycloneDX `scope` this usage implies, if it restricts one: tests and docs are not
    /// part of what runs (`excluded`), examples may be (`optional`).
    pub fn cyclonedx_scope(self) -> Option<crate::component::Scope> {
        use crate::component::Scope;
        match self {
            Usage::Runtime => None,
            Usage::Example => Some(Scope::Optional),
            Usage::Docs | Usage::Test => Some(Scope::Excluded),
        }
    }

    fn parse(s: &str) -> Option<Usage> {
        Some(match s {
            "test" => Usage::Test,
            "docs" => Usage::Docs,
            "example" => Usage::Example,
            _ => return None,
        })
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Test {
    Dir,
    Prefix,
    Suffix,
    Name,
}

struct Rule {
    usage: Usage,
    test: Test,
    value: String,
}

/// Non-comment, non-blank lines of a data file.
fn data_lines(text: &'static str) -> impl Iterator<Item = &'static str> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
}

fn rules() -> &'static [Rule] {
    static RULES: OnceLock<Vec<Rule>> = OnceLock::new();
    RULES.get_or_init(|| {
        data_lines(include_str!("../data/scope_paths.txt"))
            .filter_map(|l| {
                let mut it = l.split_whitespace();
                let usage = Usage::parse(it.next()?)?;
                let test = match it.next()? {
                    "dir" => Test::Dir,
                    "prefix" => Test::Prefix,
                    "suffix" => Test::Suffix,
                    "name" => Test::Name,
                    _ => return None,
                };
                Some(Rule {
                    usage,
                    test,
                    value: it.next()?.to_ascii_lowercase(),
                })
            })
            .collect()
    })
}

/// The usage a file implies by its path (relative to the project root, `/`-separated).
pub fn of_path(rel: &str) -> Usage {
    let lower = rel.to_ascii_lowercase();
    let mut parts: Vec<&str> = lower.split('/').collect();
    let name = parts.pop().unwrap_or_default();
    rules()
        .iter()
        .filter(|r| match r.test {
            Test::Dir => parts.contains(&r.value.as_str()),
            Test::Prefix => name.starts_with(&r.value),
            Test::Suffix => name.ends_with(&r.value),
            Test::Name => name == r.value,
        })
        .map(|r| r.usage)
        .max()
        .unwrap_or(Usage::Runtime)
}

/// The usage of a component named from several files: the most binding of theirs.
pub fn of_paths<'a>(rels: impl IntoIterator<Item = &'a str>) -> Usage {
    rels.into_iter().map(of_path).min().unwrap_or_default()
}

/// Whether an image folder at `rel` is a set of README or site figures rather than a dataset.
pub fn is_figure_dir(rel: &str) -> bool {
    static DIRS: OnceLock<Vec<&'static str>> = OnceLock::new();
    let dirs = DIRS.get_or_init(|| data_lines(include_str!("../data/figure_dirs.txt")).collect());
    rel.to_ascii_lowercase()
        .split('/')
        .any(|p| dirs.contains(&p))
}

/// `*` glob match of one id part, case-insensitive (both sides lower-cased by the caller).
fn glob(pattern: &str, s: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == s,
        Some((head, tail)) => {
            s.len() >= head.len()
                && s.starts_with(head)
                && (0..=s.len() - head.len())
                    .filter_map(|i| s.get(head.len() + i..))
                    .any(|rest| glob(tail, rest))
        }
    }
}

/// Whether a hub id (`org/name`) is a placeholder of docs or templates
/// (`username/my-awesome-model`, `your-org/...`), listed in `data/placeholders.txt`.
pub fn is_placeholder(id: &str) -> bool {
    static PATTERNS: OnceLock<Vec<(&'static str, &'static str)>> = OnceLock::new();
    let patterns = PATTERNS.get_or_init(|| {
        data_lines(include_str!("../data/placeholders.txt"))
            .filter_map(|l| l.split_once('/'))
            .collect()
    });
    let lower = id.to_ascii_lowercase();
    let Some((org, name)) = lower.split_once('/') else {
        return false;
    };
    patterns.iter().any(|(o, n)| glob(o, org) && glob(n, name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_to_usage() {
        assert_eq!(of_path("src/app/train.py"), Usage::Runtime);
        assert_eq!(of_path("tests/unit/test_models.py"), Usage::Test);
        assert_eq!(of_path("lib/test_loader.py"), Usage::Test);
        assert_eq!(of_path("docs/source/quicktour.md"), Usage::Docs);
        assert_eq!(of_path("examples/sft/train.py"), Usage::Example);
        assert_eq!(of_path("docs/examples/test_x.py"), Usage::Test);
        assert_eq!(of_path("web/app.test.ts"), Usage::Test);
        assert_eq!(of_path("contest.py"), Usage::Runtime);
        assert_eq!(
            of_paths(["tests/a.py", "src/b.py", "docs/c.md"]),
            Usage::Runtime
        );
        assert_eq!(of_paths(["tests/a.py", "docs/c.md"]), Usage::Docs);
        assert_eq!(of_paths([]), Usage::Runtime);
    }

    #[test]
    fn placeholders_and_figures() {
        for id in [
            "username/my-awesome-model",
            "namespace/repo_name",
            "attacker/model",
            "your-org/llama-ft",
            "Your-Username/whatever",
            "meta-llama/my-model",
        ] {
            assert!(is_placeholder(id), "{id}");
        }
        for id in [
            "meta-llama/Llama-3.1-8B",
            "gpt2",
            "openai/gsm8k",
            "usernames/x",
        ] {
            assert!(!is_placeholder(id), "{id}");
        }
        assert!(is_figure_dir("docs/static/img"));
        assert!(is_figure_dir("assets"));
        assert!(!is_figure_dir("data/images"));
    }

    #[test]
    fn globs() {
        assert!(glob("*", "x"));
        assert!(glob("a*c", "abbc"));
        assert!(!glob("a*c", "abbd"));
        assert!(glob("*-model", "my-model"));
        assert!(!glob("my-*", "my"));
    }
}
