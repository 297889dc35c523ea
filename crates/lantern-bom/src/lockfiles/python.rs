//! Python manifests and lockfiles: requirements files (with `-r` includes), `pyproject.toml`
//! (PEP 621, PEP 735 and Poetry), `Pipfile`, `poetry.lock`, `uv.lock` and `Pipfile.lock`.

use super::{line_of, LineIndex, Package};
use crate::component::{Ecosystem, Hash, Scope};
use crate::purl::pep503;

/// Split a PEP 508 requirement string into (name, extras-stripped version spec).
/// Returns `None` when the string does not start with a valid project name.
pub fn split_requirement(req: &str) -> Option<(String, String)> {
    let req = req.split(';').next().unwrap_or(req).trim();
    let end = req
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .unwrap_or(req.len());
    let name = &req[..end];
    if name.is_empty() || !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return None;
    }
    let mut rest = req[end..].trim_start();
    if rest.starts_with('[') {
        rest = rest
            .find(']')
            .map(|i| &rest[i + 1..])
            .unwrap_or("")
            .trim_start();
    }
    let spec = rest.trim_start_matches('(').trim_end_matches(')').trim();
    Some((name.to_string(), spec.to_string()))
}

/// The exact version of a spec like `==1.2.3` or `===1.2.3` (no wildcards, single clause).
pub fn pinned_version(spec: &str) -> Option<String> {
    if spec.contains(',') {
        return None;
    }
    let v = spec
        .strip_prefix("===")
        .or_else(|| spec.strip_prefix("=="))?
        .trim();
    (!v.is_empty() && !v.contains('*') && !v.contains(' ')).then(|| v.to_string())
}

/// A directly declared requirement: pinned (`==1.2`) to a version, else with its constraint.
pub(crate) fn declared_requirement(name: String, spec: &str, line: Option<u32>) -> Package {
    let mut p = Package::new(Ecosystem::Pypi, name, pinned_version(spec));
    if p.version.is_none() && !spec.is_empty() && !spec.starts_with('@') {
        p.constraint = Some(spec.to_string());
    }
    p.direct = Some(true);
    p.line = line;
    p
}

/// Parse a pip requirements file. `include` is asked for the text of files named by `-r` /
/// `--requirement` (return `None` when unreadable; the caller bounds recursion). Returns the
/// packages and the names of include files that could not be read.
pub fn parse_requirements(
    text: &str,
    include: &mut dyn FnMut(&str) -> Option<Vec<Package>>,
) -> (Vec<Package>, Vec<String>) {
    let mut out = Vec::new();
    let mut missing = Vec::new();
    let mut logical = String::new();
    let mut start_line = 0u32;
    for (i, raw) in text.lines().enumerate() {
        if logical.is_empty() {
            start_line = i as u32 + 1;
        }
        if let Some(cont) = raw.strip_suffix('\\') {
            logical.push_str(cont);
            logical.push(' ');
            continue;
        }
        logical.push_str(raw);
        let line = std::mem::take(&mut logical);
        // A comment starts at `#` preceded by whitespace or at the line start.
        let line = match line.find(" #").or_else(|| line.find("\t#")) {
            Some(i) => &line[..i],
            None if line.trim_start().starts_with('#') => "",
            None => &line[..],
        };
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if let Some(opt) = line.strip_prefix('-') {
            let (flag, arg) = match opt.split_once([' ', '=']) {
                Some((f, a)) => (f, a.trim()),
                None => (opt, ""),
            };
            match flag {
                "r" | "-requirement" => match include(arg) {
                    Some(pkgs) => out.extend(pkgs),
                    None => missing.push(arg.to_string()),
                },
                "e" | "-editable" => {
                    // `-e git+https://...#egg=name` or a local path: record the egg name if any.
                    if let Some(egg) = arg.split("#egg=").nth(1) {
                        let name = egg.split('&').next().unwrap_or(egg);
                        if let Some((n, _)) = split_requirement(name) {
                            out.push(declared_requirement(n, "", Some(start_line)));
                        }
                    }
                }
                _ => {} // -c constraints, --index-url, --hash on its own line, ...
            }
            continue;
        }
        // Strip per-requirement options (`--hash=...`) and collect sha256 hashes.
        let mut hashes = Vec::new();
        let mut req = String::new();
        for tok in line.split_whitespace() {
            if let Some(h) = tok.strip_prefix("--hash=") {
                if let Some(hex) = h.strip_prefix("sha256:") {
                    hashes.extend(Hash::checked("SHA-256", hex));
                }
            } else if tok.starts_with("--") {
                continue;
            } else {
                if !req.is_empty() {
                    req.push(' ');
                }
                req.push_str(tok);
            }
        }
        if req.contains("://") && !req.contains(" @ ") {
            continue; // a bare URL or path without a name
        }
        if req.starts_with('.') || req.starts_with('/') {
            continue;
        }
        let Some((name, spec)) = split_requirement(&req) else {
            continue;
        };
        let mut p = declared_requirement(name, &spec, Some(start_line));
        p.hashes = hashes;
        out.push(p);
    }
    (out, missing)
}

fn toml_value(text: &str) -> Result<toml::Value, String> {
    toml_typed(text)
}

/// Deserialise TOML into `T`, with the first line of the parser's message on error.
pub(crate) fn toml_typed<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, String> {
    toml::from_str(text).map_err(|e: toml::de::Error| {
        let msg = e.to_string();
        format!("invalid TOML: {}", msg.lines().next().unwrap_or(&msg))
    })
}

/// Parse `pyproject.toml`: PEP 621 `[project]` dependencies and optional dependencies, PEP 735
/// `[dependency-groups]`, and Poetry's `[tool.poetry.*dependencies]` tables.
pub fn parse_pyproject(text: &str) -> Result<Vec<Package>, String> {
    let v = toml_value(text)?;
    let mut out = Vec::new();
    let push_req = |req: &str, scope: Scope, out: &mut Vec<Package>| {
        if let Some((name, spec)) = split_requirement(req) {
            let mut p = declared_requirement(name, &spec, line_of(text, req));
            p.scope = Some(scope);
            out.push(p);
        }
    };
    if let Some(project) = v.get("project") {
        for d in project
            .get("dependencies")
            .and_then(|d| d.as_array())
            .into_iter()
            .flatten()
        {
            if let Some(s) = d.as_str() {
                push_req(s, Scope::Required, &mut out);
            }
        }
        if let Some(opt) = project
            .get("optional-dependencies")
            .and_then(|d| d.as_table())
        {
            for d in opt.values().filter_map(|g| g.as_array()).flatten() {
                if let Some(s) = d.as_str() {
                    push_req(s, Scope::Optional, &mut out);
                }
            }
        }
    }
    if let Some(groups) = v.get("dependency-groups").and_then(|g| g.as_table()) {
        for d in groups.values().filter_map(|g| g.as_array()).flatten() {
            if let Some(s) = d.as_str() {
                push_req(s, Scope::Excluded, &mut out);
            }
        }
    }
    if let Some(poetry) = v.get("tool").and_then(|t| t.get("poetry")) {
        let mut tables: Vec<(&toml::value::Table, Scope)> = Vec::new();
        if let Some(t) = poetry.get("dependencies").and_then(|d| d.as_table()) {
            tables.push((t, Scope::Required));
        }
        if let Some(t) = poetry.get("dev-dependencies").and_then(|d| d.as_table()) {
            tables.push((t, Scope::Excluded));
        }
        if let Some(groups) = poetry.get("group").and_then(|g| g.as_table()) {
            for g in groups.values() {
                if let Some(t) = g.get("dependencies").and_then(|d| d.as_table()) {
                    tables.push((t, Scope::Excluded));
                }
            }
        }
        for (t, scope) in tables {
            for (name, spec) in t {
                if name.eq_ignore_ascii_case("python") {
                    continue;
                }
                let (spec, optional) = match spec {
                    toml::Value::String(s) => (s.clone(), false),
                    toml::Value::Table(t) => (
                        t.get("version")
                            .and_then(|v| v.as_str())
                            .unwrap_or("")
                            .to_string(),
                        t.get("optional").and_then(|o| o.as_bool()) == Some(true),
                    ),
                    _ => (String::new(), false),
                };
                // Poetry pins with a bare version (`"2.1.0"`) or `==2.1.0`.
                let exact = if spec.starts_with(|c: char| c.is_ascii_digit()) {
                    format!("=={spec}")
                } else {
                    spec.clone()
                };
                let mut p = declared_requirement(
                    name.clone(),
                    &exact,
                    line_of(text, &format!("\n{name}")).map(|l| l + 1),
                );
                if p.version.is_none() {
                    p.constraint = (!spec.is_empty() && spec != "*").then_some(spec);
                }
                p.scope = Some(if optional { Scope::Optional } else { scope });
                out.push(p);
            }
        }
    }
    Ok(out)
}

/// Parse a Pipenv `Pipfile`: `[packages]` and `[dev-packages]` are direct dependencies.
pub fn parse_pipfile(text: &str) -> Result<Vec<Package>, String> {
    let v = toml_value(text)?;
    let mut out = Vec::new();
    for (table, scope) in [
        ("packages", Scope::Required),
        ("dev-packages", Scope::Excluded),
    ] {
        for (name, spec) in v
            .get(table)
            .and_then(|t| t.as_table())
            .into_iter()
            .flatten()
        {
            let spec = match spec {
                toml::Value::String(s) if s != "*" => s.clone(),
                toml::Value::Table(t) => t
                    .get("version")
                    .and_then(|v| v.as_str())
                    .filter(|v| *v != "*")
                    .unwrap_or("")
                    .to_string(),
                _ => String::new(),
            };
            let mut p = declared_requirement(
                name.clone(),
                &spec,
                line_of(text, &format!("\n{name}")).map(|l| l + 1),
            );
            p.scope = Some(scope);
            out.push(p);
        }
    }
    Ok(out)
}

/// Parse `poetry.lock`: every `[[package]]` with its version, dependencies, and file hashes.
/// Direct/transitive is decided later against `pyproject.toml`.
pub fn parse_poetry_lock(text: &str) -> Result<Vec<Package>, String> {
    /// The fields of a `poetry.lock` the BOM reads; deserialising only these (rather than a
    /// whole `toml::Value` tree) halves the time on large locks.
    #[derive(serde::Deserialize)]
    struct Lock {
        package: Option<Vec<Pkg>>,
    }
    #[derive(serde::Deserialize)]
    struct Pkg {
        name: Option<String>,
        version: Option<String>,
        category: Option<String>,
        #[serde(default)]
        dependencies: std::collections::BTreeMap<String, serde::de::IgnoredAny>,
        #[serde(default)]
        files: Vec<File>,
    }
    #[derive(serde::Deserialize)]
    struct File {
        hash: Option<String>,
    }
    let lock: Lock = toml_typed(text)?;
    let pkgs = lock
        .package
        .ok_or("poetry.lock has no [[package]] entries")?;
    let lines = LineIndex::new(text, LineIndex::toml_name);
    let mut out = Vec::with_capacity(pkgs.len());
    for p in pkgs {
        let (Some(name), Some(version)) = (p.name, p.version) else {
            continue;
        };
        let mut pkg = Package::new(Ecosystem::Pypi, name, Some(version));
        pkg.line = lines.line(&format!("name = \"{}\"", pkg.name));
        pkg.depends = p.dependencies.into_keys().collect();
        // Old lock formats mark dev-only packages with `category = "dev"`.
        if p.category.as_deref() == Some("dev") {
            pkg.scope = Some(Scope::Excluded);
        }
        // One artifact digest is enough to pin; wheels vary per platform.
        pkg.hashes.extend(
            p.files
                .iter()
                .filter_map(|f| f.hash.as_deref()?.strip_prefix("sha256:"))
                .find_map(|h| Hash::checked("SHA-256", h)),
        );
        out.push(pkg);
    }
    Ok(out)
}

/// Parse `uv.lock`: packages, the dependency graph, and direct marking from the project's own
/// entry (the package whose source is `editable` or `virtual`).
pub fn parse_uv_lock(text: &str) -> Result<Vec<Package>, String> {
    let v = toml_value(text)?;
    let pkgs = v
        .get("package")
        .and_then(|p| p.as_array())
        .ok_or("uv.lock has no [[package]] entries")?;
    let lines = LineIndex::new(text, LineIndex::toml_name);
    let dep_names = |t: Option<&toml::Value>| -> Vec<String> {
        t.and_then(|d| d.as_array())
            .into_iter()
            .flatten()
            .filter_map(|d| d.get("name").and_then(|n| n.as_str()).map(str::to_string))
            .collect()
    };
    let mut roots_direct: Vec<(String, Scope)> = Vec::new();
    let mut out = Vec::new();
    for p in pkgs {
        let Some(name) = p.get("name").and_then(|n| n.as_str()) else {
            continue;
        };
        let source = p.get("source");
        let is_root = source
            .map(|s| s.get("editable").is_some() || s.get("virtual").is_some())
            .unwrap_or(false);
        let deps = dep_names(p.get("dependencies"));
        if is_root {
            for d in &deps {
                roots_direct.push((pep503(d), Scope::Required));
            }
            for tbl in ["optional-dependencies", "dev-dependencies"] {
                let scope = if tbl == "dev-dependencies" {
                    Scope::Excluded
                } else {
                    Scope::Optional
                };
                for g in p
                    .get(tbl)
                    .and_then(|t| t.as_table())
                    .into_iter()
                    .flat_map(|t| t.values())
                {
                    for d in dep_names(Some(g)) {
                        roots_direct.push((pep503(&d), scope));
                    }
                }
            }
            continue;
        }
        let version = p
            .get("version")
            .and_then(|v| v.as_str())
            .map(str::to_string);
        let mut pkg = Package::new(Ecosystem::Pypi, name, version);
        pkg.line = lines.line(&format!("name = \"{name}\""));
        pkg.depends = deps;
        let hash = p
            .get("sdist")
            .and_then(|s| s.get("hash"))
            .or_else(|| {
                p.get("wheels")
                    .and_then(|w| w.as_array())
                    .and_then(|w| w.first())
                    .and_then(|w| w.get("hash"))
            })
            .and_then(|h| h.as_str())
            .and_then(|h| h.strip_prefix("sha256:"));
        if let Some(h) = hash {
            pkg.hashes.extend(Hash::checked("SHA-256", h));
        }
        out.push(pkg);
    }
    if !roots_direct.is_empty() {
        for pkg in &mut out {
            let n = pep503(&pkg.name);
            match roots_direct.iter().find(|(d, _)| *d == n) {
                Some((_, scope)) => {
                    pkg.direct = Some(true);
                    pkg.scope = Some(*scope);
                }
                None => pkg.direct = Some(false),
            }
        }
    }
    Ok(out)
}

/// Parse `Pipfile.lock` (JSON): `default` packages are required, `develop` packages excluded.
pub fn parse_pipfile_lock(text: &str) -> Result<Vec<Package>, String> {
    let v: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))?;
    if v.get("_meta").is_none() {
        return Err("Pipfile.lock has no _meta section".into());
    }
    let lines = LineIndex::new(text, LineIndex::json_object);
    let mut out = Vec::new();
    for (section, scope) in [("default", Scope::Required), ("develop", Scope::Excluded)] {
        for (name, e) in v
            .get(section)
            .and_then(|s| s.as_object())
            .into_iter()
            .flatten()
        {
            let version = e
                .get("version")
                .and_then(|v| v.as_str())
                .and_then(pinned_version);
            let mut p = Package::new(Ecosystem::Pypi, name.clone(), version);
            p.scope = Some(scope);
            p.line = lines.line(&format!("\"{name}\": {{"));
            if let Some(h) = e
                .get("hashes")
                .and_then(|h| h.as_array())
                .and_then(|h| h.first())
                .and_then(|h| h.as_str())
                .and_then(|h| h.strip_prefix("sha256:"))
            {
                p.hashes.extend(Hash::checked("SHA-256", h));
            }
            out.push(p);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requirements_lines() {
        let text = "# comment\ntorch==2.3.1 ; python_version >= '3.9'\ntransformers[torch]>=4.40,<5  # pinned later\nnumpy==1.26.4 \\\n    --hash=sha256:ABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABAB\n-r other.txt\n-e git+https://github.com/x/y.git#egg=peft\n--index-url https://example.org/simple\nsafetensors @ https://example.org/s.whl\n./local/pkg\n";
        let mut asked = Vec::new();
        let (pkgs, missing) = parse_requirements(text, &mut |f| {
            asked.push(f.to_string());
            Some(vec![Package::new(
                Ecosystem::Pypi,
                "datasets",
                Some("2.19.0".into()),
            )])
        });
        assert!(missing.is_empty());
        assert_eq!(asked, ["other.txt"]);
        let names: Vec<_> = pkgs.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "torch",
                "transformers",
                "numpy",
                "datasets",
                "peft",
                "safetensors"
            ]
        );
        assert_eq!(pkgs[0].version.as_deref(), Some("2.3.1"));
        assert_eq!(pkgs[1].version, None);
        assert_eq!(pkgs[1].constraint.as_deref(), Some(">=4.40,<5"));
        assert_eq!(pkgs[2].line, Some(4));
        assert_eq!(
            pkgs[2].hashes,
            [Hash::sha256(
                "abababababababababababababababababababababababababababababababab"
            )]
        );
        assert_eq!(pkgs[0].direct, Some(true));
    }

    #[test]
    fn missing_includes_are_reported() {
        let (_, missing) = parse_requirements("-r nope.txt\n", &mut |_| None);
        assert_eq!(missing, ["nope.txt"]);
    }

    #[test]
    fn pyproject_pep621_and_poetry() {
        let text = r#"
[project]
name = "tuner"
dependencies = ["torch==2.3.1", "accelerate>=0.30"]
[project.optional-dependencies]
eval = ["evaluate"]
[dependency-groups]
dev = ["pytest>=8"]
[tool.poetry.dependencies]
python = "^3.10"
peft = "0.11.1"
wandb = { version = "^0.17", optional = true }
"#;
        let p = parse_pyproject(text).unwrap();
        let find = |n: &str| p.iter().find(|x| x.name == n).unwrap();
        assert_eq!(find("torch").version.as_deref(), Some("2.3.1"));
        assert_eq!(find("accelerate").constraint.as_deref(), Some(">=0.30"));
        assert_eq!(find("evaluate").scope, Some(Scope::Optional));
        assert_eq!(find("pytest").scope, Some(Scope::Excluded));
        assert_eq!(find("peft").version.as_deref(), Some("0.11.1"));
        assert_eq!(find("wandb").scope, Some(Scope::Optional));
        assert!(p.iter().all(|x| x.name != "python"));
        assert!(parse_pyproject("[project\n").is_err());
    }

    #[test]
    fn uv_lock_direct_marking() {
        let text = r#"
version = 1
[[package]]
name = "app"
version = "0.1.0"
source = { editable = "." }
dependencies = [{ name = "requests" }]
[package.dev-dependencies]
dev = [{ name = "pytest" }]

[[package]]
name = "requests"
version = "2.32.3"
source = { registry = "https://pypi.org/simple" }
dependencies = [{ name = "urllib3" }]
sdist = { url = "https://x/requests.tar.gz", hash = "sha256:5555555555555555555555555555555555555555555555555555555555555555", size = 1 }

[[package]]
name = "urllib3"
version = "2.2.2"
source = { registry = "https://pypi.org/simple" }

[[package]]
name = "pytest"
version = "8.2.0"
source = { registry = "https://pypi.org/simple" }
"#;
        let p = parse_uv_lock(text).unwrap();
        assert_eq!(p.len(), 3);
        assert_eq!(p[0].direct, Some(true));
        assert_eq!(p[0].depends, ["urllib3"]);
        assert_eq!(
            p[0].hashes,
            [Hash::sha256(
                "5555555555555555555555555555555555555555555555555555555555555555"
            )]
        );
        assert_eq!(p[1].direct, Some(false));
        assert_eq!(p[2].scope, Some(Scope::Excluded));
    }

    #[test]
    fn poetry_and_pipfile_locks() {
        let poetry = "[[package]]\nname = \"torch\"\nversion = \"2.3.1\"\nfiles = [{file = \"t.whl\", hash = \"sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}]\n[package.dependencies]\nsympy = \"*\"\n\n[[package]]\nname = \"sympy\"\nversion = \"1.12\"\n";
        let p = parse_poetry_lock(poetry).unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].depends, ["sympy"]);
        assert_eq!(p[1].line, Some(9));
        let pipfile = r#"{"_meta": {"hash": {}}, "default": {"requests": {"version": "==2.32.3", "hashes": ["sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"]}}, "develop": {"black": {"version": "==24.1.0"}}}"#;
        let p = parse_pipfile_lock(pipfile).unwrap();
        assert_eq!(p[0].version.as_deref(), Some("2.32.3"));
        assert_eq!(p[1].scope, Some(Scope::Excluded));
        assert!(parse_pipfile_lock("{}").is_err());
    }
}
