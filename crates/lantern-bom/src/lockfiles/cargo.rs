//! `Cargo.lock`: every registry or git package with its checksum and dependency edges; packages
//! without a `source` are the workspace's own crates, whose dependencies are the direct ones.

use super::{LineIndex, Package};
use crate::component::{Ecosystem, Hash};
use std::collections::BTreeSet;

/// The fields of a `Cargo.lock` package the BOM reads (deserialised directly rather than
/// through a `toml::Value` tree, which costs twice the time on large locks).
#[derive(serde::Deserialize)]
struct Pkg {
    name: Option<String>,
    version: Option<String>,
    source: Option<String>,
    checksum: Option<String>,
    #[serde(default)]
    dependencies: Vec<String>,
}

#[derive(serde::Deserialize)]
struct Lock {
    package: Option<Vec<Pkg>>,
}

/// Parse `Cargo.lock` (versions 1 to 4).
pub fn parse_cargo_lock(text: &str) -> Result<Vec<Package>, String> {
    let lock: Lock = super::python::toml_typed(text)?;
    let pkgs = lock
        .package
        .ok_or("Cargo.lock has no [[package]] entries")?;
    let dep_name = |d: &String| d.split(' ').next().unwrap_or(d).to_string();
    let mut direct: BTreeSet<String> = BTreeSet::new();
    let lines = LineIndex::new(text, LineIndex::toml_name);
    let mut out = Vec::with_capacity(pkgs.len());
    for p in pkgs {
        let (Some(name), Some(version)) = (p.name, p.version) else {
            continue;
        };
        let deps: Vec<String> = p.dependencies.iter().map(dep_name).collect();
        if p.source.is_none() {
            direct.extend(deps);
            continue;
        }
        let line = lines.pair(
            &format!("name = \"{name}\""),
            &format!("version = \"{version}\""),
        );
        let mut pkg = Package::new(Ecosystem::Cargo, name, Some(version));
        pkg.depends = deps;
        if let Some(c) = &p.checksum {
            pkg.hashes.extend(Hash::checked("SHA-256", c));
        }
        pkg.line = line;
        out.push(pkg);
    }
    for p in &mut out {
        p.direct = Some(direct.contains(&p.name));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspace_members_define_direct_deps() {
        let text = "version = 4\n\n[[package]]\nname = \"app\"\nversion = \"0.1.0\"\ndependencies = [\"serde\"]\n\n[[package]]\nname = \"serde\"\nversion = \"1.0.200\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \"dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd\"\ndependencies = [\"serde_derive 1.0.200\"]\n\n[[package]]\nname = \"serde_derive\"\nversion = \"1.0.200\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n";
        let p = parse_cargo_lock(text).unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].name, "serde");
        assert_eq!(p[0].direct, Some(true));
        assert_eq!(p[0].depends, ["serde_derive"]);
        assert_eq!(
            p[0].hashes,
            [Hash::sha256(
                "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"
            )]
        );
        assert_eq!(p[0].line, Some(9));
        assert_eq!(p[1].direct, Some(false));
        assert!(parse_cargo_lock("x = 1").is_err());
    }
}
