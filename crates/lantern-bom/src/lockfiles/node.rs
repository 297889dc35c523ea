//! JavaScript manifests and lockfiles: `package.json`, `package-lock.json` (lockfile versions 1,
//! 2 and 3) and `pnpm-lock.yaml` (lockfile versions 5, 6 and 9).

use super::{line_of, LineIndex, Package};
use crate::component::{Ecosystem, Hash, Scope};
use base64::Engine;
use std::collections::{BTreeMap, BTreeSet};

/// Convert an SRI integrity string (`sha512-<base64>`) into a hash.
pub fn integrity_hash(sri: &str) -> Option<Hash> {
    let first = sri.split_whitespace().next()?;
    let (alg, b64) = first.split_once('-')?;
    let alg = match alg {
        "sha512" => "SHA-512",
        "sha384" => "SHA-384",
        "sha256" => "SHA-256",
        "sha1" => "SHA-1",
        _ => return None,
    };
    let bytes = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    Hash::checked(alg, &hex::encode(bytes))
}

const DEP_TABLES: [(&str, Scope); 4] = [
    ("dependencies", Scope::Required),
    ("devDependencies", Scope::Excluded),
    ("optionalDependencies", Scope::Optional),
    ("peerDependencies", Scope::Optional),
];

fn declared_names(root: &serde_json::Value) -> BTreeMap<String, Scope> {
    let mut out = BTreeMap::new();
    for (table, scope) in DEP_TABLES {
        for name in root
            .get(table)
            .and_then(|d| d.as_object())
            .into_iter()
            .flatten()
            .map(|(k, _)| k)
        {
            out.entry(name.clone()).or_insert(scope);
        }
    }
    out
}

/// Parse `package.json`: the direct dependencies with their version ranges.
pub fn parse_package_json(text: &str) -> Result<Vec<Package>, String> {
    let v: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))?;
    if !v.is_object() {
        return Err("package.json is not a JSON object".into());
    }
    let mut out: Vec<Package> = Vec::new();
    for (table, scope) in DEP_TABLES {
        for (name, range) in v
            .get(table)
            .and_then(|d| d.as_object())
            .into_iter()
            .flatten()
        {
            if out.iter().any(|p| &p.name == name) {
                continue;
            }
            let range = range.as_str().unwrap_or("").trim();
            let exact = range.strip_prefix('=').unwrap_or(range).trim().to_string();
            let mut p = Package::new(Ecosystem::Npm, name.clone(), None);
            if !exact.is_empty()
                && exact
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'+')
                && exact.starts_with(|c: char| c.is_ascii_digit())
            {
                p.version = Some(exact);
            } else if !range.is_empty() {
                p.constraint = Some(range.to_string());
            }
            p.direct = Some(true);
            p.scope = Some(scope);
            p.line = line_of(text, &format!("\"{name}\""));
            out.push(p);
        }
    }
    Ok(out)
}

fn lock_entry(
    name: &str,
    e: &serde_json::Value,
    lines: &LineIndex<'_>,
    key: &str,
) -> Option<Package> {
    let version = e.get("version").and_then(|v| v.as_str())?;
    // v1 aliases and git deps put a URL in `version`; keep only real versions.
    if version.contains(':') && !version.starts_with("npm:") {
        return None;
    }
    let (name, version) = match version.strip_prefix("npm:") {
        Some(alias) => match alias[1..].find('@') {
            Some(i) => (alias[..i + 1].to_string(), alias[i + 2..].to_string()),
            None => (name.to_string(), alias.to_string()),
        },
        None => (name.to_string(), version.to_string()),
    };
    let mut p = Package::new(Ecosystem::Npm, name, Some(version));
    if e.get("dev").and_then(|d| d.as_bool()) == Some(true) {
        p.scope = Some(Scope::Excluded);
    } else if e.get("optional").and_then(|d| d.as_bool()) == Some(true) {
        p.scope = Some(Scope::Optional);
    }
    if let Some(h) = e
        .get("integrity")
        .and_then(|i| i.as_str())
        .and_then(integrity_hash)
    {
        p.hashes.push(h);
    }
    for t in [
        "dependencies",
        "requires",
        "optionalDependencies",
        "peerDependencies",
    ] {
        if let Some(d) = e.get(t).and_then(|d| d.as_object()) {
            // In v1, `dependencies` holds nested package objects, `requires` the names.
            for (k, v) in d {
                if v.is_string() && !p.depends.contains(k) {
                    p.depends.push(k.clone());
                }
            }
        }
    }
    p.line = lines.line(&format!("\"{key}\": {{"));
    Some(p)
}

fn walk_v1(
    deps: &serde_json::Map<String, serde_json::Value>,
    lines: &LineIndex<'_>,
    depth: usize,
    out: &mut Vec<Package>,
) {
    if depth > 64 {
        return;
    }
    for (name, e) in deps {
        if let Some(p) = lock_entry(name, e, lines, name) {
            out.push(p);
        }
        if let Some(nested) = e.get("dependencies").and_then(|d| d.as_object()) {
            if nested.values().any(|v| v.is_object()) {
                walk_v1(nested, lines, depth + 1, out);
            }
        }
    }
}

/// Parse `package-lock.json` or `npm-shrinkwrap.json`, lockfile versions 1, 2 and 3.
pub fn parse_package_lock(text: &str) -> Result<Vec<Package>, String> {
    let v: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))?;
    let lines = LineIndex::new(text, LineIndex::json_object);
    let lv = v
        .get("lockfileVersion")
        .and_then(|l| l.as_u64())
        .unwrap_or(1);
    let mut out = Vec::new();
    if let Some(packages) = v
        .get("packages")
        .and_then(|p| p.as_object())
        .filter(|_| lv >= 2)
    {
        let root = packages.get("").cloned().unwrap_or(serde_json::Value::Null);
        let declared = declared_names(&root);
        for (key, e) in packages {
            let Some(i) = key.rfind("node_modules/") else {
                continue; // the root or a workspace member
            };
            if e.get("link").and_then(|l| l.as_bool()) == Some(true) {
                continue;
            }
            let path_name = &key[i + "node_modules/".len()..];
            let name = e.get("name").and_then(|n| n.as_str()).unwrap_or(path_name);
            let Some(mut p) = lock_entry(name, e, &lines, key) else {
                continue;
            };
            let top_level = i == 0;
            match declared.get(path_name) {
                Some(scope) if top_level => {
                    p.direct = Some(true);
                    p.scope.get_or_insert(*scope);
                }
                _ => p.direct = Some(false),
            }
            out.push(p);
        }
    } else if let Some(deps) = v.get("dependencies").and_then(|d| d.as_object()) {
        walk_v1(deps, &lines, 0, &mut out);
    } else if !v.is_object() {
        return Err("package-lock.json is not a JSON object".into());
    }
    Ok(out)
}

/// Split a pnpm package key into name and version, for lockfile versions 5 (`/name/1.0.0_peer`),
/// 6 (`/name@1.0.0(peer@1)`) and 9 (`name@1.0.0(peer@1)`).
pub fn split_pnpm_key(key: &str) -> Option<(String, String)> {
    let k = key.strip_prefix('/').unwrap_or(key);
    let k = k.split('(').next().unwrap_or(k);
    if let Some(i) = k.get(1..).and_then(|r| r.find('@')).map(|i| i + 1) {
        let (name, version) = (&k[..i], &k[i + 1..]);
        // A scoped name has exactly one `/`, an unscoped one none; otherwise this is a
        // version 5 key whose peer suffix holds the `@`.
        let slashes = if name.starts_with('@') { 1 } else { 0 };
        if !version.is_empty() && name.len() > 1 && name.matches('/').count() == slashes {
            return Some((name.to_string(), version.to_string()));
        }
    }
    // Version 5: `/name/1.0.0` or `/@scope/name/1.0.0_peer@x`.
    let (name, version) = k.rsplit_once('/')?;
    let version = version.split('_').next().unwrap_or(version);
    if name.is_empty() || !version.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    Some((name.to_string(), version.to_string()))
}

/// Parse `pnpm-lock.yaml`.
pub fn parse_pnpm_lock(text: &str) -> Result<Vec<Package>, String> {
    let v: serde_yaml::Value =
        serde_yaml::from_str(text).map_err(|e| format!("invalid YAML: {e}"))?;
    if v.get("lockfileVersion").is_none() {
        return Err("pnpm-lock.yaml has no lockfileVersion".into());
    }
    let lines = LineIndex::new(text, LineIndex::yaml_key);
    // Direct dependencies: every importer's (v6+, or v5 with workspaces), or the root tables (v5).
    let mut direct: BTreeMap<String, Scope> = BTreeMap::new();
    let mut collect = |node: &serde_yaml::Value| {
        for (table, scope) in DEP_TABLES {
            if let Some(m) = node.get(table).and_then(|t| t.as_mapping()) {
                for k in m.keys().filter_map(|k| k.as_str()) {
                    direct.entry(k.to_string()).or_insert(scope);
                }
            }
        }
    };
    match v.get("importers").and_then(|i| i.as_mapping()) {
        Some(importers) => importers.values().for_each(&mut collect),
        None => collect(&v),
    }
    let mut deps_of: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    let mut add_deps = |key: &str, e: &serde_yaml::Value| {
        if let Some((n, ver)) = split_pnpm_key(key) {
            let set = deps_of.entry((n, ver)).or_default();
            for t in ["dependencies", "optionalDependencies"] {
                if let Some(m) = e.get(t).and_then(|m| m.as_mapping()) {
                    set.extend(m.keys().filter_map(|k| k.as_str()).map(str::to_string));
                }
            }
        }
    };
    if let Some(snap) = v.get("snapshots").and_then(|s| s.as_mapping()) {
        for (k, e) in snap {
            if let Some(k) = k.as_str() {
                add_deps(k, e);
            }
        }
    }
    let mut out: Vec<Package> = Vec::new();
    for (k, e) in v
        .get("packages")
        .and_then(|p| p.as_mapping())
        .into_iter()
        .flatten()
    {
        let Some(key) = k.as_str() else { continue };
        add_deps(key, e);
        let Some((name, version)) = split_pnpm_key(key) else {
            continue;
        };
        if out
            .iter()
            .any(|p| p.name == name && p.version.as_deref() == Some(&version))
        {
            continue;
        }
        let mut p = Package::new(Ecosystem::Npm, name.clone(), Some(version));
        if let Some(h) = e
            .get("resolution")
            .and_then(|r| r.get("integrity"))
            .and_then(|i| i.as_str())
            .and_then(integrity_hash)
        {
            p.hashes.push(h);
        }
        if e.get("dev").and_then(|d| d.as_bool()) == Some(true) {
            p.scope = Some(Scope::Excluded);
        }
        match direct.get(&name) {
            Some(scope) => {
                p.direct = Some(true);
                p.scope.get_or_insert(*scope);
            }
            None => p.direct = Some(false),
        }
        p.line = lines
            .line(&format!("{key}:"))
            .or_else(|| lines.line(&format!("'{key}':")));
        out.push(p);
    }
    for p in &mut out {
        if let Some(d) = deps_of.get(&(p.name.clone(), p.version.clone().unwrap_or_default())) {
            p.depends = d.iter().cloned().collect();
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integrity_to_hex() {
        let h = integrity_hash("sha512-AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+Pw==").unwrap();
        assert_eq!(h.alg, "SHA-512");
        assert_eq!(h.content, hex::encode((0u8..64).collect::<Vec<_>>()));
        assert!(integrity_hash("sha512-AAEC").is_none(), "wrong length");
        assert!(integrity_hash("md5-AAEC").is_none());
    }

    #[test]
    fn package_lock_v3() {
        let text = r#"{
  "name": "app", "lockfileVersion": 3,
  "packages": {
    "": {"name": "app", "dependencies": {"@xenova/transformers": "^2.17.0"}, "devDependencies": {"jest": "^29"}},
    "node_modules/@xenova/transformers": {"version": "2.17.2", "integrity": "sha512-AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+Pw==", "dependencies": {"onnxruntime-web": "1.14.0"}},
    "node_modules/onnxruntime-web": {"version": "1.14.0"},
    "node_modules/jest": {"version": "29.7.0", "dev": true},
    "node_modules/a/node_modules/onnxruntime-web": {"version": "1.13.0"},
    "packages/lib": {"version": "1.0.0"},
    "node_modules/lib": {"resolved": "packages/lib", "link": true}
  }
}"#;
        let p = parse_package_lock(text).unwrap();
        assert_eq!(p.len(), 4);
        let t = p.iter().find(|x| x.name == "@xenova/transformers").unwrap();
        assert_eq!(t.direct, Some(true));
        assert_eq!(t.version.as_deref(), Some("2.17.2"));
        assert_eq!(t.depends, ["onnxruntime-web"]);
        assert_eq!(t.hashes[0].alg, "SHA-512");
        let j = p.iter().find(|x| x.name == "jest").unwrap();
        assert_eq!(j.scope, Some(Scope::Excluded));
        let nested: Vec<_> = p.iter().filter(|x| x.name == "onnxruntime-web").collect();
        assert_eq!(nested.len(), 2);
        assert!(nested.iter().all(|x| x.direct == Some(false)));
    }

    #[test]
    fn package_lock_v1_nested() {
        let text = r#"{"lockfileVersion": 1, "dependencies": {
            "a": {"version": "1.0.0", "requires": {"b": "^2"}, "dependencies": {"b": {"version": "2.0.0"}}},
            "c": {"version": "npm:@s/real@3.0.0"}}}"#;
        let p = parse_package_lock(text).unwrap();
        let names: Vec<_> = p
            .iter()
            .map(|x| (x.name.as_str(), x.version.as_deref().unwrap()))
            .collect();
        assert_eq!(
            names,
            [("a", "1.0.0"), ("b", "2.0.0"), ("@s/real", "3.0.0")]
        );
        assert_eq!(p[0].depends, ["b"]);
    }

    #[test]
    fn pnpm_keys() {
        assert_eq!(
            split_pnpm_key("/lodash/4.17.21"),
            Some(("lodash".into(), "4.17.21".into()))
        );
        assert_eq!(
            split_pnpm_key("/@babel/core/7.0.0_supports-color@5"),
            Some(("@babel/core".into(), "7.0.0".into()))
        );
        assert_eq!(
            split_pnpm_key("/@babel/core@7.24.0(supports-color@5)"),
            Some(("@babel/core".into(), "7.24.0".into()))
        );
        assert_eq!(
            split_pnpm_key("react@18.3.1"),
            Some(("react".into(), "18.3.1".into()))
        );
    }

    #[test]
    fn pnpm_v9_lock() {
        let text = "lockfileVersion: '9.0'\nimporters:\n  .:\n    dependencies:\n      openai:\n        specifier: ^4.0.0\n        version: 4.52.0\npackages:\n  openai@4.52.0:\n    resolution: {integrity: sha512-AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+Pw==}\n  node-fetch@2.7.0:\n    resolution: {integrity: sha512-AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+Pw==}\nsnapshots:\n  openai@4.52.0:\n    dependencies:\n      node-fetch: 2.7.0\n  node-fetch@2.7.0: {}\n";
        let p = parse_pnpm_lock(text).unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].name, "openai");
        assert_eq!(p[0].direct, Some(true));
        assert_eq!(p[0].depends, ["node-fetch"]);
        assert_eq!(p[0].line, Some(9));
        assert_eq!(p[1].direct, Some(false));
        assert!(parse_pnpm_lock("a: [").is_err());
    }
}
