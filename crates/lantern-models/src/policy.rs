//! The pickle import policy: built-in allow and deny lists (data in `policy/pickle.toml`)
//! merged with the user's `[models] allow_globals`.

use serde::Deserialize;
use std::sync::OnceLock;

const POLICY_TOML: &str = include_str!("../policy/pickle.toml");

/// What the scanner may let through; built from `lantern.toml` `[models]`.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// Extra `module.name` globals to allow (exact, or `module.*` for a whole module).
    pub extra_allowed_globals: Vec<String>,
}

/// How an import is classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// On an allowlist.
    Allowed,
    /// On the denylist: family and reason.
    Dangerous {
        /// Family of the deny entry, e.g. `process`.
        family: String,
        /// Why it is dangerous.
        reason: String,
    },
    /// Neither allowed nor known-dangerous.
    Unknown,
}

#[derive(Debug, Deserialize)]
struct PolicyFile {
    allow: Vec<String>,
    deny: Vec<DenyEntry>,
}

#[derive(Debug, Deserialize)]
struct DenyEntry {
    family: String,
    reason: String,
    globals: Vec<String>,
}

fn builtin() -> &'static PolicyFile {
    static P: OnceLock<PolicyFile> = OnceLock::new();
    P.get_or_init(|| {
        // The file is compiled in and checked by a unit test; an empty policy would report
        // every import as unknown, which fails closed.
        toml::from_str(POLICY_TOML).unwrap_or(PolicyFile {
            allow: Vec::new(),
            deny: Vec::new(),
        })
    })
}

fn allow_matches(entry: &str, full: &str) -> bool {
    match entry.strip_suffix(".*") {
        Some(prefix) => full
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('.')),
        None => entry == full,
    }
}

fn deny_matches(entry: &str, full: &str) -> bool {
    full == entry
        || full
            .strip_prefix(entry)
            .is_some_and(|rest| rest.starts_with('.'))
}

impl Policy {
    /// Classify `module.name` (module already mapped from Python 2 names).
    pub fn classify(&self, module: &str, name: &str) -> Verdict {
        let full = format!("{module}.{name}");
        if self
            .extra_allowed_globals
            .iter()
            .any(|e| allow_matches(e, &full))
        {
            return Verdict::Allowed;
        }
        let p = builtin();
        for d in &p.deny {
            if d.globals.iter().any(|g| deny_matches(g, &full)) {
                return Verdict::Dangerous {
                    family: d.family.clone(),
                    reason: d.reason.clone(),
                };
            }
        }
        if p.allow.iter().any(|e| allow_matches(e, &full)) {
            return Verdict::Allowed;
        }
        Verdict::Unknown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_policy_parses_and_is_not_empty() {
        let p: PolicyFile = toml::from_str(POLICY_TOML).expect("policy/pickle.toml is valid");
        assert!(p.allow.len() > 50);
        assert!(p.deny.len() >= 5);
    }

    #[test]
    fn classification_order() {
        let p = Policy::default();
        assert_eq!(
            p.classify("torch._utils", "_rebuild_tensor_v2"),
            Verdict::Allowed
        );
        assert!(matches!(
            p.classify("os", "system"),
            Verdict::Dangerous { .. }
        ));
        assert!(matches!(
            p.classify("os.path", "join"),
            Verdict::Dangerous { .. }
        ));
        assert!(matches!(
            p.classify("builtins", "getattr"),
            Verdict::Dangerous { .. }
        ));
        // allow is exact: an attribute of an allowed class is not allowed
        assert_eq!(p.classify("builtins", "object.__class__"), Verdict::Unknown);
        assert!(matches!(
            p.classify("builtins", "object.__subclasses__"),
            Verdict::Dangerous { .. }
        ));
        assert_eq!(p.classify("mypkg", "Thing"), Verdict::Unknown);
        // prefix match does not cross a name boundary
        assert_eq!(p.classify("osx", "thing"), Verdict::Unknown);
        let user = Policy {
            extra_allowed_globals: vec!["mypkg.*".into(), "os.getcwd".into()],
        };
        assert_eq!(user.classify("mypkg", "Thing"), Verdict::Allowed);
        assert_eq!(user.classify("os", "getcwd"), Verdict::Allowed);
    }
}
