//! Package URLs (purl spec): `pkg:pypi`, `pkg:npm`, `pkg:cargo`, `pkg:huggingface`, `pkg:generic`,
//! with the per-type name normalisation and percent-encoding the spec requires.

use crate::component::Ecosystem;

/// Percent-encode a purl segment: everything but ASCII alphanumerics and `.-_~` is encoded.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// PEP 503 normalised Python project name: lower case, runs of `-_.` become one `-`.
pub fn pep503(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_sep = false;
    for c in name.trim().chars() {
        if matches!(c, '-' | '_' | '.') {
            if !in_sep {
                out.push('-');
            }
            in_sep = true;
        } else {
            out.extend(c.to_lowercase());
            in_sep = false;
        }
    }
    out
}

/// Normalise a package name the way its ecosystem compares names.
pub fn normalize_name(eco: Ecosystem, name: &str) -> String {
    match eco {
        Ecosystem::Pypi => pep503(name),
        Ecosystem::Npm => name.trim().to_string(),
        Ecosystem::Cargo => name.trim().to_string(),
    }
}

/// The purl of a package. npm scoped names `@scope/name` become namespace `%40scope`.
pub fn package(eco: Ecosystem, name: &str, version: Option<&str>) -> String {
    let mut p = format!("pkg:{}/", eco.purl_type());
    match eco {
        Ecosystem::Pypi => p.push_str(&encode(&pep503(name))),
        Ecosystem::Npm => match name.strip_prefix('@').and_then(|n| n.split_once('/')) {
            Some((scope, n)) => {
                p.push_str(&encode(&format!("@{scope}")));
                p.push('/');
                p.push_str(&encode(n));
            }
            None => p.push_str(&encode(name)),
        },
        Ecosystem::Cargo => p.push_str(&encode(name)),
    }
    if let Some(v) = version.filter(|v| !v.is_empty()) {
        p.push('@');
        p.push_str(&encode(v));
    }
    p
}

/// Whether a hub repository is a model or a dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HubKind {
    /// `huggingface.co/<org>/<name>`.
    Model,
    /// `huggingface.co/datasets/<org>/<name>`.
    Dataset,
}

/// The purl of a Hugging Face repository. Per the purl spec the namespace is the user or
/// organisation, the version is the commit (lower-cased). Datasets live under a different
/// repository URL, so they carry `repository_url=https://huggingface.co/datasets`.
pub fn huggingface(repo_id: &str, revision: Option<&str>, kind: HubKind) -> String {
    let mut p = String::from("pkg:huggingface/");
    match repo_id.split_once('/') {
        Some((org, name)) => {
            p.push_str(&encode(org));
            p.push('/');
            p.push_str(&encode(name));
        }
        None => p.push_str(&encode(repo_id)),
    }
    if let Some(r) = revision.filter(|r| !r.is_empty()) {
        p.push('@');
        p.push_str(&encode(&r.to_ascii_lowercase()));
    }
    if kind == HubKind::Dataset {
        p.push_str("?repository_url=https://huggingface.co/datasets");
    }
    p
}

/// The purl of an Ollama library model (`llama3:8b`, `namespace/model:tag`), as a generic purl
/// pointing at the Ollama registry.
pub fn ollama(name: &str, tag: Option<&str>) -> String {
    let mut p = String::from("pkg:generic/");
    match name.split_once('/') {
        Some((ns, n)) => {
            p.push_str(&encode(ns));
            p.push('/');
            p.push_str(&encode(n));
        }
        None => p.push_str(&encode(name)),
    }
    if let Some(t) = tag.filter(|t| !t.is_empty()) {
        p.push('@');
        p.push_str(&encode(t));
    }
    p.push_str("?repository_url=https://registry.ollama.ai");
    p
}

/// The purl with its version, qualifiers and subpath removed: the identity used by `bom diff`.
pub fn without_version(purl: &str) -> String {
    let base = purl.split(['?', '#']).next().unwrap_or(purl);
    let qualifiers = purl
        .split_once('?')
        .map(|(_, q)| q.split('#').next().unwrap_or(q))
        .filter(|q| q.contains("repository_url"));
    // The last `@` after the type separates the version (an npm scope is encoded as %40).
    let no_ver = match base.rfind('@') {
        Some(i) if base[..i].contains('/') => &base[..i],
        _ => base,
    };
    match qualifiers {
        Some(q) => format!("{no_ver}?{q}"),
        None => no_ver.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pypi_names_are_pep503_normalised() {
        assert_eq!(
            package(Ecosystem::Pypi, "Typing_Extensions", Some("4.12.2")),
            "pkg:pypi/typing-extensions@4.12.2"
        );
        assert_eq!(pep503("zope.interface"), "zope-interface");
        assert_eq!(pep503("a__b-.c"), "a-b-c");
    }

    #[test]
    fn npm_scopes_are_encoded() {
        assert_eq!(
            package(Ecosystem::Npm, "@babel/core", Some("7.24.0")),
            "pkg:npm/%40babel/core@7.24.0"
        );
        assert_eq!(
            package(Ecosystem::Npm, "left-pad", None),
            "pkg:npm/left-pad"
        );
    }

    #[test]
    fn versions_are_percent_encoded() {
        assert_eq!(
            package(Ecosystem::Cargo, "serde", Some("1.0.0+build")),
            "pkg:cargo/serde@1.0.0%2Bbuild"
        );
    }

    #[test]
    fn huggingface_purls_follow_the_spec() {
        assert_eq!(
            huggingface(
                "microsoft/deberta-v3-base",
                Some("559062AD13d311b87b2c455e67dcd5f1c8f65111"),
                HubKind::Model
            ),
            "pkg:huggingface/microsoft/deberta-v3-base@559062ad13d311b87b2c455e67dcd5f1c8f65111"
        );
        assert_eq!(
            huggingface("gpt2", None, HubKind::Model),
            "pkg:huggingface/gpt2"
        );
        assert_eq!(
            huggingface("stanfordnlp/imdb", None, HubKind::Dataset),
            "pkg:huggingface/stanfordnlp/imdb?repository_url=https://huggingface.co/datasets"
        );
    }

    #[test]
    fn identity_drops_version_but_keeps_repository() {
        assert_eq!(
            without_version("pkg:npm/%40babel/core@7.24.0"),
            "pkg:npm/%40babel/core"
        );
        assert_eq!(without_version("pkg:pypi/torch"), "pkg:pypi/torch");
        assert_eq!(
            without_version(
                "pkg:huggingface/a/b@abc?repository_url=https://huggingface.co/datasets"
            ),
            "pkg:huggingface/a/b?repository_url=https://huggingface.co/datasets"
        );
        assert_eq!(
            ollama("llama3", Some("8b")),
            "pkg:generic/llama3@8b?repository_url=https://registry.ollama.ai"
        );
    }
}
