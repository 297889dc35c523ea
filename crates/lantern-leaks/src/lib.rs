//! Release-artifact leak checks: source maps embedding sources, env and registry credential
//! files, private key files, VCS metadata and internal paths shipped in packages, and
//! user-declared internal codenames and feature flags.
//!
//! These are the checks that would have stopped a coding assistant's full TypeScript source from
//! shipping inside an npm package as a `.map` file with `sourcesContent`. Secrets inside the
//! embedded sources are handed back as [`Derived`] blobs so the secret scanner sees them too.

mod analyser;
mod rules;
mod sourcemap;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use lantern_core::config::LeaksConfig;
use lantern_core::{Category, Finding, Location, Severity, Warning};

pub use analyser::LeakAnalyser;
pub use rules::Rule;
pub use sourcemap::{SourceMapInfo, MAX_SOURCE_MAP_BYTES};

/// Errors building a [`LeakScanner`] from configuration.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A `[leaks]` value is not usable.
    #[error("invalid [leaks] configuration: {0}")]
    Config(String),
}

/// Content found inside a blob that should itself be scanned (e.g. a source map's embedded
/// sources), with its nested location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Derived {
    /// Where the content came from: `dist/cli.js.map!src/main.ts`.
    pub location: Location,
    /// The content.
    pub data: Vec<u8>,
}

/// What one blob produced.
#[derive(Debug, Default)]
pub struct LeakOutput {
    /// Leak findings.
    pub findings: Vec<Finding>,
    /// Embedded content to scan for secrets.
    pub derived: Vec<Derived>,
    /// Problems with the blob (malformed source map, ...).
    pub warnings: Vec<Warning>,
}

/// Where codenames and feature flags are searched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Only release artifacts: archive members, source-map contents, files under an archive root.
    Artifacts,
    /// Every blob scanned.
    Everywhere,
}

/// The leak checker, built once from `[leaks]` and shared across threads.
pub struct LeakScanner {
    codenames: Option<AhoCorasick>,
    codename_list: Vec<String>,
    flags: Option<AhoCorasick>,
    flag_list: Vec<String>,
    internal_paths: Vec<String>,
    scope: Scope,
}

impl LeakScanner {
    /// Build from the `[leaks]` section of `lantern.toml`.
    pub fn new(cfg: &LeaksConfig) -> Result<Self, Error> {
        let scope = match cfg.scope.as_deref() {
            None | Some("artifacts") => Scope::Artifacts,
            Some("everywhere") => Scope::Everywhere,
            Some(o) => {
                return Err(Error::Config(format!(
                    "scope `{o}` is not `artifacts` or `everywhere`"
                )))
            }
        };
        let clean = |v: &[String]| -> Vec<String> {
            v.iter()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        };
        let codename_list = clean(&cfg.codenames);
        let flag_list = clean(&cfg.feature_flags);
        let build = |pats: &[String], ci: bool| -> Result<Option<AhoCorasick>, Error> {
            if pats.is_empty() {
                return Ok(None);
            }
            AhoCorasickBuilder::new()
                .ascii_case_insensitive(ci)
                .match_kind(MatchKind::LeftmostLongest)
                .build(pats)
                .map(Some)
                .map_err(|e| Error::Config(e.to_string()))
        };
        Ok(LeakScanner {
            codenames: build(&codename_list, true)?,
            codename_list,
            flags: build(&flag_list, false)?,
            flag_list,
            internal_paths: clean(&cfg.internal_paths),
            scope,
        })
    }

    /// Check one blob. `in_artifact` is true for archive members and for files of a scan whose
    /// root is itself an archive; it raises the severity of file-level leaks and enables
    /// codename checks under the default scope.
    pub fn scan(&self, data: &[u8], loc: &Location, in_artifact: bool) -> LeakOutput {
        let mut out = LeakOutput::default();
        let in_artifact = in_artifact || loc.path.contains('!');
        self.check_path(data, loc, in_artifact, &mut out);
        sourcemap::check(data, loc, &mut out);
        // The configuration that declares the names is not a leak of them.
        let declares_names = loc.path.rsplit(['/', '!']).next() == Some("lantern.toml");
        if (in_artifact || self.scope == Scope::Everywhere) && !declares_names {
            self.check_names(data, loc, &mut out);
            // Source-map contents are artifact content too.
            let derived = std::mem::take(&mut out.derived);
            for d in &derived {
                self.check_names(&d.data, &d.location, &mut out);
            }
            out.derived = derived;
        }
        out
    }

    fn check_path(&self, data: &[u8], loc: &Location, in_artifact: bool, out: &mut LeakOutput) {
        let member = loc.path.rsplit('!').next().unwrap_or(&loc.path);
        let file = member.rsplit('/').next().unwrap_or(member);
        let lower = file.to_ascii_lowercase();
        let sev = |artifact: Severity, tree: Severity| if in_artifact { artifact } else { tree };
        let text = String::from_utf8_lossy(&data[..data.len().min(1 << 20)]);
        let mut push = |id: &str, title: &str, severity: Severity, detail: String| {
            out.findings.push(
                Finding::new(id, title, Category::Leak, severity, loc.clone()).with_detail(detail),
            );
        };
        // Environment files (templates are fine).
        if (lower == ".env" || lower.starts_with(".env.") || lower.ends_with(".env"))
            && !is_env_template(&lower)
        {
            let assignments = text
                .lines()
                .filter(|l| {
                    let l = l.trim();
                    !l.starts_with('#') && l.contains('=') && {
                        let v = l.split_once('=').map(|x| x.1.trim()).unwrap_or("");
                        !v.is_empty() && v != "\"\"" && v != "''"
                    }
                })
                .count();
            if assignments > 0 {
                push(
                    Rule::EnvFile.id(),
                    if in_artifact {
                        "Environment file shipped in an artifact"
                    } else {
                        "Environment file with values in the tree"
                    },
                    sev(Severity::High, Severity::Medium),
                    format!("{assignments} non-empty assignment(s)"),
                );
            }
        }
        // Registry credential files.
        let registry = match lower.as_str() {
            ".npmrc" => Some((
                &["_authtoken", "_auth=", "_password"][..],
                "npm registry credentials (.npmrc)",
            )),
            ".pypirc" => Some((&["password"][..], "PyPI credentials (.pypirc)")),
            ".netrc" | "_netrc" => Some((&["password"][..], "netrc credentials")),
            ".git-credentials" => Some((&["://"][..], "git credentials file")),
            ".dockercfg" | "config.json" if text.contains("\"auths\"") => {
                Some((&["\"auth\""][..], "Docker registry credentials"))
            }
            ".yarnrc.yml" => Some((&["npmauthtoken"][..], "Yarn registry credentials")),
            _ => None,
        };
        if let Some((markers, title)) = registry {
            let lt = text.to_ascii_lowercase();
            if markers.iter().any(|m| lt.contains(m)) {
                push(
                    Rule::RegistryCredentials.id(),
                    title,
                    sev(Severity::Critical, Severity::High),
                    format!("{file} carries credentials"),
                );
            }
        }
        // Private key files by name or content.
        let key_name = matches!(
            lower.as_str(),
            "id_rsa" | "id_dsa" | "id_ecdsa" | "id_ed25519"
        ) || lower.ends_with(".pem")
            || lower.ends_with(".key")
            || lower.ends_with(".p12")
            || lower.ends_with(".pfx");
        if key_name
            && (text.contains("PRIVATE KEY") || lower.ends_with(".p12") || lower.ends_with(".pfx"))
        {
            push(
                Rule::PrivateKeyFile.id(),
                "Private key file",
                sev(Severity::Critical, Severity::High),
                format!("{file} holds a private key"),
            );
        }
        if in_artifact {
            // VCS metadata inside a package.
            let m = format!("/{member}");
            if m.contains("/.git/") || m.contains("/.svn/") || m.contains("/.hg/") {
                push(
                    Rule::VcsMetadata.id(),
                    "Version-control metadata shipped in an artifact",
                    Severity::Medium,
                    format!("{member} is repository metadata"),
                );
            }
            for frag in &self.internal_paths {
                if member.contains(frag.as_str()) {
                    push(
                        Rule::InternalPath.id(),
                        "Internal-only path shipped in an artifact",
                        Severity::High,
                        format!("{member} matches internal path `{frag}`"),
                    );
                }
            }
        }
    }

    fn check_names(&self, data: &[u8], loc: &Location, out: &mut LeakOutput) {
        let lines = LineIndex::new(data);
        // Whole-word codenames ("Tengu" must not fire inside "Tengurama"), whole-identifier flags.
        let sets = [
            (
                &self.codenames,
                &self.codename_list,
                Rule::Codename,
                is_word as fn(u8) -> bool,
            ),
            (&self.flags, &self.flag_list, Rule::FeatureFlag, is_ident),
        ];
        for (ac, names, rule, inside) in sets {
            let Some(ac) = ac else { continue };
            for m in ac.find_iter(data) {
                let before = m.start().checked_sub(1).and_then(|i| data.get(i)).copied();
                let after = data.get(m.end()).copied();
                if before.is_some_and(inside) || after.is_some_and(inside) {
                    continue;
                }
                let name = &names[m.pattern().as_usize()];
                let (line, col) = lines.line_col(m.start());
                let title = match rule {
                    Rule::Codename => "Internal codename in an artifact",
                    _ => "Internal feature flag in an artifact",
                };
                let at = loc.at(line, col, m.start() as u64);
                let f = Finding::new(rule.id(), title, Category::Leak, Severity::Medium, at);
                out.findings.push(f.with_secret(name.clone()));
            }
        }
    }
}

fn is_env_template(lower: &str) -> bool {
    [
        "example", "sample", "template", "dist", "defaults", "schema",
    ]
    .iter()
    .any(|t| lower.contains(t))
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

/// Byte offset to 1-based line/column, computed lazily.
pub(crate) struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub(crate) fn new(data: &[u8]) -> Self {
        let mut starts = vec![0];
        starts.extend(memchr::memchr_iter(b'\n', data).map(|i| i + 1));
        LineIndex { starts }
    }
    pub(crate) fn line_col(&self, offset: usize) -> (u32, u32) {
        let idx = match self.starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        };
        let start = self.starts.get(idx).copied().unwrap_or(0);
        (
            u32::try_from(idx + 1).unwrap_or(u32::MAX),
            u32::try_from(offset - start + 1).unwrap_or(u32::MAX),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scanner(codenames: &[&str], flags: &[&str], internal: &[&str]) -> LeakScanner {
        LeakScanner::new(&LeaksConfig {
            codenames: codenames.iter().map(|s| s.to_string()).collect(),
            feature_flags: flags.iter().map(|s| s.to_string()).collect(),
            internal_paths: internal.iter().map(|s| s.to_string()).collect(),
            scope: None,
        })
        .unwrap()
    }

    #[test]
    fn env_file_in_artifact_is_high_and_template_is_ignored() {
        let s = scanner(&[], &[], &[]);
        let loc = Location::path("pkg.whl").child("pkg/.env");
        let out = s.scan(b"# x\nOPENAI_API_KEY=abc\nEMPTY=\n", &loc, true);
        assert_eq!(out.findings.len(), 1);
        assert_eq!(out.findings[0].rule_id, "leak.env-file");
        assert_eq!(out.findings[0].severity, Severity::High);
        assert_eq!(
            out.findings[0].detail.as_deref(),
            Some("1 non-empty assignment(s)")
        );
        let out = s.scan(
            b"OPENAI_API_KEY=abc\n",
            &Location::path(".env.example"),
            false,
        );
        assert!(out.findings.is_empty());
        let out = s.scan(b"OPENAI_API_KEY=abc\n", &Location::path("app/.env"), false);
        assert_eq!(out.findings[0].severity, Severity::Medium);
    }

    #[test]
    fn npmrc_with_token_is_critical_in_artifact() {
        let s = scanner(&[], &[], &[]);
        let loc = Location::path("p.tgz").child("package/.npmrc");
        let out = s.scan(b"//registry.npmjs.org/:_authToken=npm_abc\n", &loc, false);
        assert_eq!(out.findings[0].rule_id, "leak.registry-credentials");
        assert_eq!(out.findings[0].severity, Severity::Critical);
        let out = s.scan(b"registry=https://r.example\n", &loc, false);
        assert!(out.findings.is_empty());
    }

    #[test]
    fn codenames_are_whole_words_case_insensitive_in_artifacts_only() {
        let s = scanner(&["Tengu"], &["ENABLE_KAIROS"], &[]);
        let art = Location::path("p.tgz").child("package/cli.js");
        let data = b"const a = 1;\nlet m = 'tengu mode';\nTengurama;\nif (flags.ENABLE_KAIROS) {}\nENABLE_KAIROS_V2\n";
        let out = s.scan(data, &art, false);
        let ids: Vec<_> = out
            .findings
            .iter()
            .map(|f| (f.rule_id.as_str(), f.locations[0].line))
            .collect();
        assert_eq!(
            ids,
            vec![("leak.codename", Some(2)), ("leak.feature-flag", Some(4))]
        );
        let out = s.scan(data, &Location::path("src/cli.js"), false);
        assert!(out.findings.is_empty());
    }

    #[test]
    fn internal_paths_and_vcs_in_artifacts() {
        let s = scanner(&[], &[], &["internal/"]);
        let out = s.scan(
            b"x",
            &Location::path("p.tgz").child("package/internal/notes.md"),
            false,
        );
        assert_eq!(out.findings[0].rule_id, "leak.internal-path");
        let out = s.scan(
            b"x",
            &Location::path("p.tgz").child("package/.git/config"),
            false,
        );
        assert_eq!(out.findings[0].rule_id, "leak.vcs-metadata");
    }

    #[test]
    fn bad_scope_is_an_error() {
        let e = LeakScanner::new(&LeaksConfig {
            scope: Some("nowhere".into()),
            ..Default::default()
        });
        assert!(e.is_err());
    }

    #[test]
    fn line_index() {
        let li = LineIndex::new(b"ab\ncd\n\nef");
        assert_eq!(li.line_col(0), (1, 1));
        assert_eq!(li.line_col(4), (2, 2));
        assert_eq!(li.line_col(7), (4, 1));
    }
}
