//! What `check` evaluates: one [`Subject`] per library, model or dataset, built either from the
//! inventory `lantern bom` computes or from an existing CycloneDX JSON BOM (`--bom FILE`). The
//! checks only see this neutral shape, so both inputs go through the same code.

use lantern_bom::component::{Component, Inventory, Kind, Scope};
use serde_json::Value;
use std::path::PathBuf;

/// Deepest nesting of CycloneDX `components` followed.
const MAX_NESTING: usize = 16;

/// What kind of component a subject is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SubjectKind {
    /// A package from a package manager.
    Library,
    /// A model (local or hub).
    Model,
    /// A dataset (local or hub).
    Data,
}

/// Where a subject was declared or referenced.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Site {
    /// Path relative to the project root.
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<u32>,
}

/// One component to check.
#[derive(Debug, Clone)]
pub struct Subject {
    /// Library, model or dataset.
    pub kind: SubjectKind,
    /// Display name (`group/name` for hub repos, the package name for libraries).
    pub name: String,
    /// Purl type (`pypi`, `npm`, `cargo`, `golang`, `maven`, `huggingface`, ...), when known.
    pub purl_type: Option<String>,
    /// Hub organisation for hub models and datasets.
    pub publisher: Option<String>,
    /// Exact version (package) or revision (hub).
    pub version: Option<String>,
    /// Version constraint from a manifest when not pinned.
    pub constraint: Option<String>,
    /// Package URL.
    pub purl: Option<String>,
    /// Declared licences (SPDX ids or names).
    pub licenses: Vec<String>,
    /// Declaration sites.
    pub sites: Vec<Site>,
    /// Whether the component is only used in development or tests.
    pub dev_only: bool,
    /// Local path for local models and datasets.
    pub local_path: Option<PathBuf>,
    /// `lantern:format` of a local model or dataset.
    pub format: Option<String>,
    /// `lantern:*` properties (scan results, signature status, manifest digest).
    pub properties: Vec<(String, String)>,
}

impl Subject {
    /// A stable display reference: the purl when there is one, else the name.
    pub fn reference(&self) -> &str {
        self.purl.as_deref().unwrap_or(&self.name)
    }

    /// The first site, for messages.
    pub fn first_site(&self) -> Option<&Site> {
        self.sites.first()
    }

    /// The first value of a property.
    pub fn property(&self, name: &str) -> Option<&str> {
        self.properties
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Subjects of a generated inventory.
pub fn from_inventory(inv: &Inventory) -> Vec<Subject> {
    inv.components.iter().filter_map(from_component).collect()
}

fn from_component(c: &Component) -> Option<Subject> {
    let kind = match c.kind {
        Kind::Library => SubjectKind::Library,
        Kind::Model => SubjectKind::Model,
        Kind::Data => SubjectKind::Data,
        Kind::File => return None,
    };
    let purl_type = c.purl.as_deref().and_then(|p| parse_purl(p).map(|p| p.ty));
    let hub = purl_type.as_deref() == Some("huggingface");
    let name = match (&c.group, hub) {
        (Some(g), true) => format!("{g}/{}", c.name),
        (Some(g), false) if g.starts_with('@') => format!("{g}/{}", c.name),
        _ => c.name.clone(),
    };
    Some(Subject {
        kind,
        name,
        publisher: if hub { c.group.clone() } else { None },
        purl_type,
        version: c.version.clone(),
        constraint: c.property("lantern:version-constraint").map(str::to_string),
        purl: c.purl.clone(),
        licenses: c.licenses.iter().map(|l| l.as_str().to_string()).collect(),
        sites: c
            .occurrences
            .iter()
            .map(|o| Site {
                file: o.location.clone(),
                line: o.line,
            })
            .collect(),
        dev_only: c.scope == Some(Scope::Excluded)
            || c.property("lantern:scope").is_some_and(|s| s != "runtime"),
        local_path: c.local_path.clone(),
        format: c.property("lantern:format").map(str::to_string),
        properties: c.properties.clone(),
    })
}

/// Subjects of a CycloneDX JSON document (any generator; nested components flattened).
pub fn from_cyclonedx(doc: &Value) -> Result<Vec<Subject>, String> {
    if doc.get("bomFormat").and_then(Value::as_str) != Some("CycloneDX") {
        return Err("not a CycloneDX JSON document (bomFormat is not CycloneDX)".into());
    }
    let mut out = Vec::new();
    collect(doc.get("components"), 0, &mut out);
    Ok(out)
}

fn collect(list: Option<&Value>, depth: usize, out: &mut Vec<Subject>) {
    let Some(items) = list.and_then(Value::as_array) else {
        return;
    };
    if depth > MAX_NESTING {
        return;
    }
    for c in items {
        if let Some(s) = cdx_component(c) {
            out.push(s);
        }
        collect(c.get("components"), depth + 1, out);
    }
}

fn cdx_component(c: &Value) -> Option<Subject> {
    let s = |k: &str| c.get(k).and_then(Value::as_str).map(str::to_string);
    let kind = match c.get("type").and_then(Value::as_str)? {
        "library" | "framework" => SubjectKind::Library,
        "machine-learning-model" => SubjectKind::Model,
        "data" => SubjectKind::Data,
        _ => return None,
    };
    let properties: Vec<(String, String)> = c
        .get("properties")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| Some((s_of(p, "name")?, s_of(p, "value")?)))
        .collect();
    let prop = |n: &str| {
        properties
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.clone())
    };
    let purl = s("purl");
    let parsed = purl.as_deref().and_then(parse_purl);
    let hub = parsed.as_ref().is_some_and(|p| p.ty == "huggingface");
    let group = s("group");
    let base = s("name")?;
    let name = match (&group, &parsed) {
        (_, Some(p)) if p.ty == "npm" || p.ty == "maven" || p.ty == "golang" || hub => {
            p.full_name()
        }
        (Some(g), _) if !g.is_empty() => format!("{g}/{base}"),
        _ => base,
    };
    let sites = properties
        .iter()
        .filter(|(k, _)| {
            matches!(
                k.as_str(),
                "lantern:source" | "lantern:occurrence" | "lantern:origin"
            )
        })
        .map(|(_, v)| site_of(v))
        .collect();
    Some(Subject {
        kind,
        name,
        publisher: if hub {
            parsed.as_ref().and_then(|p| p.namespace.clone())
        } else {
            None
        },
        purl_type: parsed.as_ref().map(|p| p.ty.clone()),
        version: s("version").filter(|v| !v.is_empty()),
        constraint: prop("lantern:version-constraint"),
        purl,
        licenses: cdx_licenses(c),
        sites,
        dev_only: c.get("scope").and_then(Value::as_str) == Some("excluded")
            || prop("lantern:scope").is_some_and(|s| s != "runtime"),
        local_path: None,
        format: prop("lantern:format"),
        properties,
    })
}

fn s_of(v: &Value, k: &str) -> Option<String> {
    v.get(k).and_then(Value::as_str).map(str::to_string)
}

/// `file:line` or `file` into a site.
fn site_of(v: &str) -> Site {
    match v.rsplit_once(':') {
        Some((f, l)) if l.parse::<u32>().is_ok() => Site {
            file: f.to_string(),
            line: l.parse().ok(),
        },
        _ => Site {
            file: v.to_string(),
            line: None,
        },
    }
}

fn cdx_licenses(c: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for l in c
        .get("licenses")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(e) = l.get("expression").and_then(Value::as_str) {
            out.push(e.to_string());
        } else if let Some(lic) = l.get("license") {
            if let Some(v) = lic
                .get("id")
                .or_else(|| lic.get("name"))
                .and_then(Value::as_str)
            {
                out.push(v.to_string());
            }
        }
    }
    out
}

/// A parsed package URL (type, namespace, name, version), percent-decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Purl {
    /// Purl type, lower case.
    pub ty: String,
    /// Namespace (npm scope with `@`, Maven group, Go module path prefix, hub organisation).
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
    /// Version.
    pub version: Option<String>,
}

impl Purl {
    /// The name as the ecosystem writes it: `@scope/name`, `group:artifact`, `module/path`.
    pub fn full_name(&self) -> String {
        match (&self.namespace, self.ty.as_str()) {
            (Some(ns), "maven") => format!("{ns}:{}", self.name),
            (Some(ns), _) => format!("{ns}/{}", self.name),
            (None, _) => self.name.clone(),
        }
    }
}

/// Parse `pkg:type/namespace/name@version?qualifiers#subpath`.
pub fn parse_purl(p: &str) -> Option<Purl> {
    let rest = p.strip_prefix("pkg:")?;
    let rest = rest.split(['?', '#']).next()?;
    let (ty, path) = rest.split_once('/')?;
    let (path, version) = match path.rsplit_once('@') {
        Some((a, v)) if !a.is_empty() => (a, Some(decode(v))),
        _ => (path, None),
    };
    let (namespace, name) = match path.rsplit_once('/') {
        Some((ns, n)) => (Some(decode(ns)), decode(n)),
        None => (None, decode(path)),
    };
    Some(Purl {
        ty: ty.to_ascii_lowercase(),
        namespace,
        name,
        version,
    })
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = b
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (b[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purls_parse_per_type() {
        let p = parse_purl("pkg:npm/%40xenova/transformers@2.17.2").unwrap();
        assert_eq!(p.full_name(), "@xenova/transformers");
        assert_eq!(p.version.as_deref(), Some("2.17.2"));
        let m = parse_purl("pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1").unwrap();
        assert_eq!(m.full_name(), "org.apache.logging.log4j:log4j-core");
        let g = parse_purl("pkg:golang/github.com/gin-gonic/gin@v1.9.0").unwrap();
        assert_eq!(g.full_name(), "github.com/gin-gonic/gin");
        let h = parse_purl("pkg:huggingface/meta-llama/Llama-2-7b?x=1").unwrap();
        assert_eq!(h.namespace.as_deref(), Some("meta-llama"));
        assert_eq!(h.version, None);
        assert!(parse_purl("npm/x").is_none());
    }
}
