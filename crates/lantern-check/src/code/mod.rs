//! Code checks: unsafe and unpinned model loading in Python source, found with a real parser
//! (tree-sitter-python), not line patterns. Files under test, docs and example directories are
//! skipped unless the policy sets `include_dev`. Files that cannot be read or are too large are
//! reported as warnings (not silently passed).

pub mod python;
pub mod rules;

use crate::finding::CheckFinding;
use crate::policy::Policy;
use crate::subject::Site;
use std::path::Path;

/// Largest Python file parsed (bytes).
const MAX_FILE: u64 = 4 << 20;
/// Most Python files parsed in one run.
const MAX_FILES: usize = 200_000;

/// Directory names whose code is development-only scope.
const DEV_DIRS: &[&str] = &[
    "test",
    "tests",
    "testing",
    "docs",
    "doc",
    "examples",
    "example",
    "benchmarks",
    "scripts",
];

/// Result of the code checks over a tree.
#[derive(Debug, Default)]
pub struct CodeOutcome {
    /// Findings.
    pub findings: Vec<CheckFinding>,
    /// Files that could not be checked.
    pub warnings: Vec<String>,
    /// Python files parsed.
    pub files: usize,
}

/// Whether a relative path is development-only (tests, docs, examples).
pub fn is_dev_path(rel: &str) -> bool {
    let mut parts = rel.split('/').peekable();
    while let Some(p) = parts.next() {
        if parts.peek().is_none() {
            return p.starts_with("test_") || p.ends_with("_test.py") || p == "conftest.py";
        }
        if DEV_DIRS.contains(&p.to_ascii_lowercase().as_str()) {
            return true;
        }
    }
    false
}

/// Check every Python file under `root` (honouring .gitignore).
pub fn check_tree(root: &Path, policy: &Policy) -> CodeOutcome {
    let mut out = CodeOutcome::default();
    let walker = ignore::WalkBuilder::new(root)
        .hidden(true)
        .follow_links(false)
        .build();
    for entry in walker {
        let e = match entry {
            Ok(e) => e,
            Err(err) => {
                out.warnings.push(format!("walk: {err}"));
                continue;
            }
        };
        let path = e.path();
        if !e.file_type().is_some_and(|t| t.is_file())
            || path.extension().and_then(|x| x.to_str()) != Some("py")
        {
            continue;
        }
        let rel = path
            .strip_prefix(root)
            .unwrap_or(path)
            .to_string_lossy()
            .replace('\\', "/");
        if !policy.include_dev && is_dev_path(&rel) {
            continue;
        }
        if out.files >= MAX_FILES {
            out.warnings.push(format!(
                "more than {MAX_FILES} Python files: the rest not checked"
            ));
            break;
        }
        check_file(path, &rel, policy, &mut out);
    }
    out
}

fn check_file(path: &Path, rel: &str, policy: &Policy, out: &mut CodeOutcome) {
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    if size > MAX_FILE {
        out.warnings
            .push(format!("{rel}: larger than 4 MiB, code not checked"));
        return;
    }
    let src = match std::fs::read(path) {
        Ok(s) => s,
        Err(e) => {
            out.warnings.push(format!("{rel}: {e}"));
            return;
        }
    };
    out.files += 1;
    out.findings.extend(check_source(&src, rel, policy));
}

/// Run the code rules on one Python source.
pub fn check_source(src: &[u8], rel: &str, policy: &Policy) -> Vec<CheckFinding> {
    let Some(tree) = python::parse(src) else {
        return Vec::new();
    };
    let m = python::Module::new(&tree, src);
    let tainted = rules::downloaded_names(&m);
    let mut out = Vec::new();
    for node in &m.calls {
        let Some(call) = m.call(*node) else { continue };
        for (id, line, msg) in rules::apply(&m, &tainted, &call) {
            let site = Site {
                file: rel.to_string(),
                line: Some(line),
            };
            out.push(CheckFinding::at(id, policy.severity_of(id), rel, site, msg));
        }
    }
    out
}

#[cfg(test)]
mod tests;
