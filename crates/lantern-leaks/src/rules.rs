//! The registry of leak rule ids: one variant per check, with its id, what it finds and its
//! severity. The README's leak rule table is generated from it (`tests/readme.rs`).

/// A leak check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rule {
    /// An `.env` file with non-empty assignments.
    EnvFile,
    /// A package-registry or git credential file with credentials in it.
    RegistryCredentials,
    /// A private key file, by name and content.
    PrivateKeyFile,
    /// `.git`, `.svn` or `.hg` metadata inside an artifact.
    VcsMetadata,
    /// A `[leaks] internal_paths` fragment in an artifact member's path.
    InternalPath,
    /// A `[leaks] codenames` name in artifact content.
    Codename,
    /// A `[leaks] feature_flags` name in artifact content.
    FeatureFlag,
    /// A source map embedding original sources (`sourcesContent`).
    SourcemapSources,
}

impl Rule {
    /// Every rule, in README order.
    pub const ALL: [Rule; 8] = [
        Rule::SourcemapSources,
        Rule::EnvFile,
        Rule::RegistryCredentials,
        Rule::PrivateKeyFile,
        Rule::VcsMetadata,
        Rule::InternalPath,
        Rule::Codename,
        Rule::FeatureFlag,
    ];

    /// The rule id findings carry (`leak.env-file`).
    pub fn id(self) -> &'static str {
        match self {
            Rule::EnvFile => "leak.env-file",
            Rule::RegistryCredentials => "leak.registry-credentials",
            Rule::PrivateKeyFile => "leak.private-key-file",
            Rule::VcsMetadata => "leak.vcs-metadata",
            Rule::InternalPath => "leak.internal-path",
            Rule::Codename => "leak.codename",
            Rule::FeatureFlag => "leak.feature-flag",
            Rule::SourcemapSources => "leak.sourcemap-sources",
        }
    }

    /// What the rule finds, one sentence.
    pub fn description(self) -> &'static str {
        match self {
            Rule::EnvFile => "`.env` file with non-empty assignments (templates such as `.env.example` excepted)",
            Rule::RegistryCredentials => "`.npmrc`, `.pypirc`, `.netrc`, `.git-credentials`, Docker `config.json` or `.yarnrc.yml` carrying credentials",
            Rule::PrivateKeyFile => "private key file (`id_rsa`, `*.pem`, `*.key` holding `PRIVATE KEY`; `*.p12`, `*.pfx`)",
            Rule::VcsMetadata => "`.git/`, `.svn/` or `.hg/` metadata shipped in an artifact",
            Rule::InternalPath => "artifact member whose path contains a `[leaks] internal_paths` fragment",
            Rule::Codename => "whole-word `[leaks] codenames` name in artifact content",
            Rule::FeatureFlag => "`[leaks] feature_flags` identifier in artifact content",
            Rule::SourcemapSources => "source map embedding original sources (`sourcesContent`); the sources are scanned for secrets too",
        }
    }

    /// Severity as the README states it: in an artifact, and in the working tree.
    pub fn severity(self) -> &'static str {
        match self {
            Rule::EnvFile => "high (artifact), medium (tree)",
            Rule::RegistryCredentials | Rule::PrivateKeyFile => "critical (artifact), high (tree)",
            Rule::VcsMetadata => "medium (artifacts only)",
            Rule::InternalPath => "high (artifacts only)",
            Rule::Codename | Rule::FeatureFlag => {
                "medium (artifacts; everywhere with `scope = \"everywhere\"`)"
            }
            Rule::SourcemapSources => "high (artifact), medium (tree)",
        }
    }

    /// The README table of leak rules (Markdown).
    pub fn markdown_table() -> String {
        let rows = Rule::ALL.iter().map(|r| {
            let id = format!("`{}`", r.id());
            vec![id, r.severity().into(), r.description().into()]
        });
        lantern_core::readme::markdown_table(&["rule", "severity", "what"], rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_well_formed() {
        let mut seen = std::collections::HashSet::new();
        for r in Rule::ALL {
            assert!(seen.insert(r.id()), "duplicate id {}", r.id());
            assert!(r.id().starts_with("leak."), "{}", r.id());
            assert!(!r.description().is_empty());
        }
    }
}
