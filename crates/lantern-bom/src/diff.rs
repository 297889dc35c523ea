//! `bom diff`: components added, removed or changed (version, hashes, licences) between two
//! CycloneDX JSON documents, from Lantern or any other generator.

use crate::purl;
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Deepest nesting of `components` followed.
const MAX_NESTING: usize = 16;

/// A component as compared by the diff.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Entry {
    /// Identity: the purl without version, or `type:group/name` when there is no purl.
    pub key: String,
    /// CycloneDX `type`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Display name (`group/name`).
    pub name: String,
    /// Version, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// `alg:content` digests, sorted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hashes: Vec<String>,
    /// Licence ids, names or expressions, sorted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub licenses: Vec<String>,
}

/// One component present in both documents with differences.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// Identity key.
    pub key: String,
    /// Display name.
    pub name: String,
    /// CycloneDX `type`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `(old, new)` version when it changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<(Option<String>, Option<String>)>,
    /// `(old, new)` digests when they changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hashes: Option<(Vec<String>, Vec<String>)>,
    /// `(old, new)` licences when they changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub licenses: Option<(Vec<String>, Vec<String>)>,
}

/// The difference between two BOMs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BomDiff {
    /// Components only in the new document.
    pub added: Vec<Entry>,
    /// Components only in the old document.
    pub removed: Vec<Entry>,
    /// Components in both, with differences.
    pub changed: Vec<Change>,
}

impl BomDiff {
    /// Whether the documents list the same components.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }

    /// Human-readable report, one line per component.
    pub fn to_human(&self) -> String {
        let mut s = String::new();
        let ver = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
        for e in &self.added {
            s.push_str(&format!("+ {} {} {}\n", e.kind, e.name, ver(&e.version)));
        }
        for e in &self.removed {
            s.push_str(&format!("- {} {} {}\n", e.kind, e.name, ver(&e.version)));
        }
        for c in &self.changed {
            s.push_str(&format!("~ {} {}", c.kind, c.name));
            if let Some((a, b)) = &c.version {
                s.push_str(&format!(" version {} -> {}", ver(a), ver(b)));
            }
            if let Some((a, b)) = &c.hashes {
                let short = |v: &Vec<String>| {
                    v.first()
                        .map(|h| h.chars().take(19).collect::<String>())
                        .unwrap_or_else(|| "-".into())
                };
                s.push_str(&format!(" hash {} -> {}", short(a), short(b)));
            }
            if let Some((a, b)) = &c.licenses {
                let j = |v: &Vec<String>| {
                    if v.is_empty() {
                        "-".to_string()
                    } else {
                        v.join(",")
                    }
                };
                s.push_str(&format!(" license {} -> {}", j(a), j(b)));
            }
            s.push('\n');
        }
        s.push_str(&format!(
            "{} added, {} removed, {} changed\n",
            self.added.len(),
            self.removed.len(),
            self.changed.len()
        ));
        s
    }
}

fn str_field(v: &Value, k: &str) -> Option<String> {
    v.get(k).and_then(|x| x.as_str()).map(str::to_string)
}

fn entry(c: &Value) -> Option<Entry> {
    let name = str_field(c, "name")?;
    let kind = str_field(c, "type").unwrap_or_else(|| "library".into());
    let group = str_field(c, "group");
    let display = match &group {
        Some(g) if !g.is_empty() => format!("{g}/{name}"),
        _ => name.clone(),
    };
    let key = match str_field(c, "purl") {
        Some(p) => purl::without_version(&p),
        None => format!("{kind}:{display}"),
    };
    let mut hashes: Vec<String> = c
        .get("hashes")
        .and_then(|h| h.as_array())
        .into_iter()
        .flatten()
        .filter_map(|h| {
            Some(format!(
                "{}:{}",
                str_field(h, "alg")?,
                str_field(h, "content")?.to_ascii_lowercase()
            ))
        })
        .collect();
    hashes.sort();
    let mut licenses: Vec<String> = c
        .get("licenses")
        .and_then(|l| l.as_array())
        .into_iter()
        .flatten()
        .filter_map(|l| {
            str_field(l, "expression").or_else(|| {
                let lic = l.get("license")?;
                str_field(lic, "id").or_else(|| str_field(lic, "name"))
            })
        })
        .collect();
    licenses.sort();
    Some(Entry {
        key,
        kind,
        name: display,
        version: str_field(c, "version"),
        hashes,
        licenses,
    })
}

fn collect(list: Option<&Value>, depth: usize, out: &mut Vec<Entry>) {
    if depth > MAX_NESTING {
        return;
    }
    for c in list.and_then(|l| l.as_array()).into_iter().flatten() {
        // Files inside a model or dataset directory are compared through their parent's
        // manifest digest property; listing them again would drown the report.
        if let Some(e) = entry(c) {
            if e.kind != "file" {
                let mut e = e;
                if let Some(m) = c
                    .get("properties")
                    .and_then(|p| p.as_array())
                    .into_iter()
                    .flatten()
                    .find(|p| str_field(p, "name").as_deref() == Some("lantern:manifest-sha256"))
                    .and_then(|p| str_field(p, "value"))
                {
                    e.hashes.push(format!("manifest-SHA-256:{m}"));
                    e.hashes.sort();
                }
                out.push(e);
            }
        }
        collect(c.get("components"), depth + 1, out);
    }
}

/// Components of a CycloneDX JSON document (nested components flattened, files skipped).
pub fn entries(doc: &Value) -> Result<Vec<Entry>, String> {
    if doc.get("bomFormat").and_then(|f| f.as_str()) != Some("CycloneDX") {
        return Err("not a CycloneDX JSON document (bomFormat is not CycloneDX)".into());
    }
    let mut out = Vec::new();
    collect(doc.get("components"), 0, &mut out);
    out.sort();
    out.dedup();
    Ok(out)
}

/// Compare two CycloneDX documents.
pub fn diff(old: &Value, new: &Value) -> Result<BomDiff, String> {
    let group = |v: Vec<Entry>| {
        let mut m: BTreeMap<String, Vec<Entry>> = BTreeMap::new();
        for e in v {
            m.entry(e.key.clone()).or_default().push(e);
        }
        m
    };
    let a = group(entries(old).map_err(|e| format!("old: {e}"))?);
    let b = group(entries(new).map_err(|e| format!("new: {e}"))?);
    let mut d = BomDiff::default();
    let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    for k in keys {
        match (a.get(k), b.get(k)) {
            (Some(x), None) => d.removed.extend(x.iter().cloned()),
            (None, Some(y)) => d.added.extend(y.iter().cloned()),
            (Some(x), Some(y)) if x.len() == 1 && y.len() == 1 => {
                let (x, y) = (&x[0], &y[0]);
                let ch = Change {
                    key: k.clone(),
                    name: y.name.clone(),
                    kind: y.kind.clone(),
                    version: (x.version != y.version)
                        .then(|| (x.version.clone(), y.version.clone())),
                    // Hashes are compared only when both sides have some: a generator that does
                    // not hash is not a content change.
                    hashes: (!x.hashes.is_empty() && !y.hashes.is_empty() && x.hashes != y.hashes)
                        .then(|| (x.hashes.clone(), y.hashes.clone())),
                    licenses: (x.licenses != y.licenses)
                        .then(|| (x.licenses.clone(), y.licenses.clone())),
                };
                if ch.version.is_some() || ch.hashes.is_some() || ch.licenses.is_some() {
                    d.changed.push(ch);
                }
            }
            (Some(x), Some(y)) => {
                // Several versions side by side (npm nesting): compare as sets of versions.
                let vx: BTreeSet<_> = x.iter().map(|e| &e.version).collect();
                let vy: BTreeSet<_> = y.iter().map(|e| &e.version).collect();
                d.removed
                    .extend(x.iter().filter(|e| !vy.contains(&e.version)).cloned());
                d.added
                    .extend(y.iter().filter(|e| !vx.contains(&e.version)).cloned());
            }
            (None, None) => {}
        }
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn bom(components: Value) -> Value {
        json!({"bomFormat": "CycloneDX", "specVersion": "1.6", "components": components})
    }

    #[test]
    fn added_removed_changed() {
        let old = bom(json!([
            {"type": "library", "name": "torch", "version": "2.2.0", "purl": "pkg:pypi/torch@2.2.0"},
            {"type": "library", "name": "left", "version": "1", "purl": "pkg:npm/left@1"},
            {"type": "machine-learning-model", "name": "m", "hashes": [{"alg": "SHA-256", "content": "AA"}],
             "licenses": [{"license": {"id": "MIT"}}]}
        ]));
        let new = bom(json!([
            {"type": "library", "name": "torch", "version": "2.3.1", "purl": "pkg:pypi/torch@2.3.1"},
            {"type": "library", "name": "right", "version": "1", "purl": "pkg:npm/right@1"},
            {"type": "machine-learning-model", "name": "m", "hashes": [{"alg": "SHA-256", "content": "bb"}],
             "licenses": [{"license": {"name": "llama3"}}],
             "components": [{"type": "file", "name": "w.bin"}]}
        ]));
        let d = diff(&old, &new).unwrap();
        assert_eq!(d.added.len(), 1);
        assert_eq!(d.added[0].name, "right");
        assert_eq!(d.removed[0].name, "left");
        assert_eq!(d.changed.len(), 2);
        let torch = d.changed.iter().find(|c| c.name == "torch").unwrap();
        assert_eq!(
            torch.version,
            Some((Some("2.2.0".into()), Some("2.3.1".into())))
        );
        let m = d.changed.iter().find(|c| c.name == "m").unwrap();
        assert_eq!(
            m.hashes,
            Some((vec!["SHA-256:aa".into()], vec!["SHA-256:bb".into()]))
        );
        assert_eq!(
            m.licenses,
            Some((vec!["MIT".into()], vec!["llama3".into()]))
        );
        let h = d.to_human();
        assert!(h.contains("~ library torch version 2.2.0 -> 2.3.1"), "{h}");
        assert!(h.ends_with("1 added, 1 removed, 2 changed\n"));
        assert!(diff(&old, &old).unwrap().is_empty());
    }

    #[test]
    fn rejects_non_cyclonedx() {
        assert!(diff(&json!({"spdxVersion": "SPDX-2.3"}), &bom(json!([])))
            .unwrap_err()
            .starts_with("old:"));
    }

    #[test]
    fn multiple_versions_compare_as_sets() {
        let old = bom(json!([
            {"type": "library", "name": "a", "version": "1", "purl": "pkg:npm/a@1"},
            {"type": "library", "name": "a", "version": "2", "purl": "pkg:npm/a@2"}
        ]));
        let new = bom(json!([
            {"type": "library", "name": "a", "version": "2", "purl": "pkg:npm/a@2"},
            {"type": "library", "name": "a", "version": "3", "purl": "pkg:npm/a@3"}
        ]));
        let d = diff(&old, &new).unwrap();
        assert_eq!(d.removed[0].version.as_deref(), Some("1"));
        assert_eq!(d.added[0].version.as_deref(), Some("3"));
    }
}
