//! Build script: lists `rules/*.toml` of this crate and generates one `include_str!` per file,
//! so dropping a new rule file in `rules/` bundles it without touching the engine. A missing or
//! empty rule directory fails the build: a scanner without rules would pass everything.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let rules_dir = manifest.join("rules");
    println!("cargo:rerun-if-changed={}", rules_dir.display());
    let files = rule_files(&rules_dir);
    let mut out = String::from(
        "/// Bundled rule files: (file name, contents), sorted by name.\npub static BUNDLED: &[(&str, &str)] = &[\n",
    );
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let abs = std::fs::canonicalize(f).unwrap_or_else(|_| f.clone());
        let _ = writeln!(
            out,
            "    ({:?}, include_str!({:?})),",
            format!("rules/{name}"),
            abs.display().to_string()
        );
    }
    out.push_str("];\n");
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_default());
    if let Err(e) = std::fs::write(out_dir.join("bundled_rules.rs"), out) {
        panic!("cannot write bundled_rules.rs: {e}");
    }
}

/// The `*.toml` files of `dir`, sorted; the build stops when there are none.
fn rule_files(dir: &Path) -> Vec<PathBuf> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) => panic!(
            "lantern-secrets: cannot read the bundled rule directory {}: {e}; the secret rules \
             (rules/*.toml) must sit next to this crate's Cargo.toml",
            dir.display()
        ),
    };
    let mut files = Vec::new();
    for entry in rd {
        let path = match entry {
            Ok(e) => e.path(),
            Err(e) => panic!("lantern-secrets: reading {}: {e}", dir.display()),
        };
        if path.extension().is_some_and(|x| x == "toml") {
            files.push(path);
        }
    }
    if files.is_empty() {
        panic!(
            "lantern-secrets: no rule files (*.toml) in {}: refusing to build a scanner without \
             rules",
            dir.display()
        );
    }
    files.sort();
    files
}
