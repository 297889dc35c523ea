//! The pickle import policy: built-in allow and deny lists (data in `policy/pickle.toml`)
//! merged with the user's `[models] allow_globals`.
//!
//! Order of classification (see the header of `policy/pickle.toml`): the user's allowlist, then
//! re-exports (`random._os.system` is `os.system`), then the most specific matching entry among
//! deny, allow and class-namespace entries (deny wins a tie), else unknown.

use serde::Deserialize;
use std::collections::BTreeMap;
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
        /// The name the import resolves to when it reaches a module through another module's
        /// attribute (`random._os.system` resolves to `os.system`).
        resolved: Option<String>,
    },
    /// Neither allowed nor known-dangerous.
    Unknown,
}

#[derive(Debug, Deserialize)]
struct PolicyFile {
    allow: Vec<String>,
    #[serde(default)]
    allow_classes: Vec<ClassNamespace>,
    #[serde(default)]
    reexports: BTreeMap<String, String>,
    deny: Vec<DenyEntry>,
}

#[derive(Debug, Deserialize)]
struct ClassNamespace {
    #[allow(dead_code)]
    reason: String,
    modules: Vec<String>,
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
            allow_classes: Vec::new(),
            reexports: BTreeMap::new(),
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

/// Whether `module` is `pattern` or below it; a pattern component `*` matches any component
/// and `prefix*` any component starting with `prefix`.
fn module_matches(pattern: &str, module: &str) -> bool {
    let mut m = module.split('.');
    pattern.split('.').all(|p| match m.next() {
        None => false,
        Some(c) => match p.strip_suffix('*') {
            Some(prefix) => c.starts_with(prefix),
            None => p == c,
        },
    })
}

/// A class name as Python code writes one: a single CapWords identifier.
fn is_class_name(name: &str) -> bool {
    name.chars().next().is_some_and(|c| c.is_ascii_uppercase())
        && name.chars().all(|c| c == '_' || c.is_ascii_alphanumeric())
}

impl PolicyFile {
    /// Length of the longest allow entry matching `module.name`, if any.
    fn allow_len(&self, module: &str, name: &str, full: &str) -> Option<usize> {
        let exact = self
            .allow
            .iter()
            .filter(|e| allow_matches(e, full))
            .map(|e| e.len());
        let classes = self
            .allow_classes
            .iter()
            .flat_map(|c| c.modules.iter())
            .filter(|m| is_class_name(name) && module_matches(m, module))
            .map(|m| m.len());
        exact.chain(classes).max()
    }

    /// The longest deny entry matching `full`: (length, entry).
    fn deny_match(&self, full: &str) -> Option<(usize, &DenyEntry)> {
        self.deny
            .iter()
            .flat_map(|d| d.globals.iter().map(move |g| (g, d)))
            .filter(|(g, _)| deny_matches(g, full))
            .map(|(g, d)| (g.len(), d))
            .max_by_key(|(n, _)| *n)
    }

    /// Most specific entry wins; deny wins a tie.
    fn classify_full(&self, module: &str, name: &str, full: &str) -> Verdict {
        let allow = self.allow_len(module, name, full);
        match self.deny_match(full) {
            Some((n, d)) if allow.is_none_or(|a| n >= a) => Verdict::Dangerous {
                family: d.family.clone(),
                reason: d.reason.clone(),
                resolved: None,
            },
            _ if allow.is_some() => Verdict::Allowed,
            _ => Verdict::Unknown,
        }
    }

    /// `random._os.system` -> `os.system`: the first component of the qualname (the part the
    /// unpickler reaches with getattr, not the imported module path) that names a re-exported
    /// module, joined with what follows it.
    fn resolve_reexport(&self, name: &str) -> Option<String> {
        let parts: Vec<&str> = name.split('.').collect();
        let (i, target) = parts
            .iter()
            .enumerate()
            .find_map(|(i, p)| self.reexports.get(*p).map(|t| (i, t)))?;
        let mut out = target.clone();
        for p in &parts[i + 1..] {
            out.push('.');
            out.push_str(p);
        }
        Some(out)
    }
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
        if let Some(resolved) = p.resolve_reexport(name) {
            let (m, n) = resolved.rsplit_once('.').unwrap_or((resolved.as_str(), ""));
            if let Verdict::Dangerous { family, reason, .. } = p.classify_full(m, n, &resolved) {
                return Verdict::Dangerous {
                    family,
                    reason,
                    resolved: Some(resolved),
                };
            }
        }
        p.classify_full(module, name, &full)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dangerous(p: &Policy, full: &str) -> bool {
        let (m, n) = full.rsplit_once('.').unwrap();
        matches!(p.classify(m, n), Verdict::Dangerous { .. })
    }

    fn allowed(p: &Policy, module: &str, name: &str) -> bool {
        p.classify(module, name) == Verdict::Allowed
    }

    #[test]
    fn builtin_policy_parses_and_is_not_empty() {
        let p: PolicyFile = toml::from_str(POLICY_TOML).expect("policy/pickle.toml is valid");
        assert!(p.allow.len() > 50);
        assert!(p.deny.len() >= 5);
        assert!(p.allow_classes.len() >= 5);
        assert!(p.reexports.len() >= 10);
    }

    #[test]
    fn every_allow_entry_is_allowed() {
        let p = Policy::default();
        for e in &builtin().allow {
            let full = e.replace(".*", ".Anything");
            let (m, n) = full.rsplit_once('.').unwrap();
            assert!(allowed(&p, m, n), "allow entry `{e}` is not allowed");
            // exact entries do not extend to attributes
            if !e.ends_with(".*") {
                assert!(!allowed(&p, &full, "__globals__"), "{e}.__globals__");
            }
        }
    }

    #[test]
    fn every_class_namespace_allows_classes_only() {
        let p = Policy::default();
        for c in &builtin().allow_classes {
            assert!(!c.reason.is_empty());
            for m in &c.modules {
                let module = m.replace('*', "x");
                assert!(allowed(&p, &module, "SomeClass"), "{module}.SomeClass");
                assert!(
                    allowed(&p, &format!("{module}.sub"), "Other"),
                    "{module}.sub"
                );
                assert!(
                    !allowed(&p, &module, "some_function"),
                    "{module}.some_function"
                );
                assert!(
                    !allowed(&p, &module, "SomeClass.__init__"),
                    "{module} chain"
                );
                assert!(!allowed(&p, &module, "_private"), "{module}._private");
            }
        }
    }

    #[test]
    fn every_deny_entry_is_dangerous_with_its_attributes() {
        let p = Policy::default();
        for d in &builtin().deny {
            assert!(!d.reason.is_empty() && !d.family.is_empty());
            for g in &d.globals {
                let with_attr = format!("{g}.Attr");
                for full in [g.as_str(), with_attr.as_str()] {
                    if !full.contains('.') {
                        continue;
                    }
                    let (m, n) = full.rsplit_once('.').unwrap();
                    match p.classify(m, n) {
                        Verdict::Dangerous {
                            family,
                            resolved: None,
                            ..
                        } => assert_eq!(family, d.family, "{full}"),
                        Verdict::Dangerous { .. } => {}
                        v => panic!("deny entry `{full}` classified {v:?}"),
                    }
                }
            }
        }
    }

    #[test]
    fn every_reexport_resolves_to_its_module() {
        let p = Policy::default();
        for (alias, target) in &builtin().reexports {
            assert_eq!(
                builtin().resolve_reexport(&format!("{alias}.system")),
                Some(format!("{target}.system"))
            );
            // what a payload reaches through each of them is denied
            let v = p.classify("pkg", &format!("{alias}.eval"));
            assert!(matches!(v, Verdict::Dangerous { .. }), "{alias}");
        }
    }

    #[test]
    fn real_checkpoint_classes_are_allowed() {
        let p = Policy::default();
        for full in [
            "sklearn.linear_model._logistic.LogisticRegression",
            "sklearn.pipeline.Pipeline",
            "sklearn.preprocessing._data.StandardScaler",
            "sklearn.ensemble._forest.RandomForestClassifier",
            "sklearn.tree._classes.DecisionTreeClassifier",
            "sklearn.tree._tree.Tree",
            "torch.nn.modules.container.Sequential",
            "torch.nn.modules.linear.Linear",
            "torch.optim.adamw.AdamW",
            "numpy.random._pcg64.PCG64",
            "numpy.random._mt19937.MT19937",
            "numpy.random.bit_generator.SeedSequence",
            "numpy.random.bit_generator.__pyx_unpickle_SeedSequence",
            "argparse.Namespace",
            "numpy.matrix",
            "numpy.ma.MaskedArray",
            "transformers.models.bert.configuration_bert.BertConfig",
            "transformers.training_args.TrainingArguments",
            "omegaconf.dictconfig.DictConfig",
            "lightning_fabric.utilities.data.AttributeDict",
            "requests.models.Response",
            "requests.structures.CaseInsensitiveDict",
            "http.cookiejar.DefaultCookiePolicy",
            "urllib.parse.ParseResult",
            "joblib.numpy_pickle.NDArrayWrapper",
        ] {
            let (m, n) = full.rsplit_once('.').unwrap();
            assert!(allowed(&p, m, n), "{full} is not allowed");
        }
    }

    #[test]
    fn gadgets_inside_allowed_packages_are_denied() {
        let p = Policy::default();
        for full in [
            "numpy.testing._private.utils.runstring",
            "numpy.testing._private.extbuild.build_and_import_extension",
            "torch.fx.graph_module._exec_with_source",
            "torch.fx.GraphModule",
            "torch.utils.collect_env.run",
            "torch.utils.collect_env.run_and_read_all",
            "torch.hub.load",
            "torch.hub.load_state_dict_from_url",
            "torch._inductor.codecache.PyCodeCache",
            "pydoc.pipepager",
            "_osx_support._read_output",
            "_aix_support._read_cmd_output",
            "uuid._get_command_stdout",
            "platform.popen",
            "sklearn.externals.joblib.load",
            "sklearn.utils._testing.TempMemmap",
            "numpy.memmap",
            "requests.get",
            "requests.sessions.Session",
            "http.client.HTTPConnection",
            "urllib.request.urlopen",
            "transformers.dynamic_module_utils.get_class_from_dynamic_module",
        ] {
            assert!(dangerous(&p, full), "{full} is not denied");
        }
        // class-looking names of non-allowed transformers modules stay unknown
        let v = p.classify("transformers.models.bert.modeling_bert", "BertModel");
        assert_eq!(v, Verdict::Unknown);
    }

    #[test]
    fn reexports_report_the_resolved_callable() {
        let p = Policy::default();
        for (m, n, want) in [
            ("random", "_os.system", "os.system"),
            ("torch.serialization", "os.system", "os.system"),
            ("torch", "serialization.os.system", "os.system"),
            ("torch.serialization", "os", "os"),
            ("collections", "_sys.modules", "sys.modules"),
            ("sklearn.utils.fixes", "sys.exit", "sys.exit"),
            ("copyreg", "__builtins__.eval", "builtins.eval"),
        ] {
            match p.classify(m, n) {
                Verdict::Dangerous { resolved, .. } => {
                    assert_eq!(resolved.as_deref(), Some(want), "{m}.{n}")
                }
                v => panic!("{m}.{n}: {v:?}"),
            }
        }
        // module path components are real submodules, not re-exports
        assert_eq!(
            p.classify("numpy.random._pickle", "__randomstate_ctor"),
            Verdict::Allowed
        );
        assert_eq!(p.classify("mypkg.os", "Thing"), Verdict::Unknown);
        // a direct dangerous name is not "resolved"
        assert!(matches!(
            p.classify("os", "system"),
            Verdict::Dangerous { resolved: None, .. }
        ));
    }

    #[test]
    fn classification_order() {
        let p = Policy::default();
        assert_eq!(
            p.classify("torch._utils", "_rebuild_tensor_v2"),
            Verdict::Allowed
        );
        assert!(dangerous(&p, "os.system"));
        assert!(dangerous(&p, "os.path.join"));
        assert!(dangerous(&p, "builtins.getattr"));
        // allow is exact: an attribute of an allowed class is not allowed
        assert_eq!(p.classify("builtins", "object.__class__"), Verdict::Unknown);
        assert!(dangerous(&p, "builtins.object.__subclasses__"));
        assert_eq!(p.classify("mypkg", "Thing"), Verdict::Unknown);
        // prefix match does not cross a name boundary
        assert_eq!(p.classify("osx", "thing"), Verdict::Unknown);
        let user = Policy {
            extra_allowed_globals: vec!["mypkg.*".into(), "os.getcwd".into()],
        };
        assert_eq!(user.classify("mypkg", "Thing"), Verdict::Allowed);
        assert_eq!(user.classify("os", "getcwd"), Verdict::Allowed);
    }

    #[test]
    fn module_patterns() {
        assert!(module_matches("sklearn", "sklearn"));
        assert!(module_matches("sklearn", "sklearn.tree._tree"));
        assert!(!module_matches("sklearn", "sklearnx"));
        assert!(module_matches(
            "transformers.models.*.configuration_*",
            "transformers.models.bert.configuration_bert"
        ));
        assert!(!module_matches(
            "transformers.models.*.configuration_*",
            "transformers.models.bert.modeling_bert"
        ));
        assert!(!module_matches("a.b", "a"));
    }
}
