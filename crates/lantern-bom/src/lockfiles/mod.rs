//! Dependency manifests and lockfiles: which libraries a project declares (manifests) and which
//! exact versions it resolves to (lockfiles), with direct/transitive marking.

pub mod cargo;
pub mod node;
pub mod python;
pub mod setup_py;

use crate::component::{Ecosystem, Hash, Scope};

/// Largest manifest or lockfile read.
pub const MAX_LOCKFILE: u64 = 64 * 1024 * 1024;

/// One package found in a manifest or lockfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    /// Ecosystem.
    pub ecosystem: Ecosystem,
    /// Name as written (normalised later for comparison).
    pub name: String,
    /// Exact version, when pinned or locked.
    pub version: Option<String>,
    /// Version constraint as written in a manifest, when not pinned (`>=2.0`, `^1.2`).
    pub constraint: Option<String>,
    /// `Some(true)` when the project declares it directly, `Some(false)` when the lockfile says
    /// it is only pulled in by others, `None` when the file cannot tell.
    pub direct: Option<bool>,
    /// Runtime scope (dev dependencies are `Excluded`, optional ones `Optional`).
    pub scope: Option<Scope>,
    /// Artifact digests from the lockfile.
    pub hashes: Vec<Hash>,
    /// 1-based line in the file, when known.
    pub line: Option<u32>,
    /// Names of the packages it depends on (lockfiles that record the graph).
    pub depends: Vec<String>,
}

impl Package {
    /// A package with a name and optional version; everything else unknown.
    pub fn new(ecosystem: Ecosystem, name: impl Into<String>, version: Option<String>) -> Self {
        Package {
            ecosystem,
            name: name.into(),
            version,
            constraint: None,
            direct: None,
            scope: None,
            hashes: Vec::new(),
            line: None,
            depends: Vec::new(),
        }
    }
}

/// Whether a file describes declarations (manifest) or a resolution (lockfile).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// `requirements*.txt`, `pyproject.toml`, `setup.py`, `package.json`, `Pipfile`.
    Manifest,
    /// `poetry.lock`, `uv.lock`, `Pipfile.lock`, `package-lock.json`, `pnpm-lock.yaml`, `Cargo.lock`.
    Lockfile,
}

/// Which parser handles a file name, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// pip requirements file.
    Requirements,
    /// PEP 621 / Poetry `pyproject.toml`.
    Pyproject,
    /// Pipenv `Pipfile`.
    Pipfile,
    /// `poetry.lock`.
    PoetryLock,
    /// `uv.lock`.
    UvLock,
    /// `Pipfile.lock`.
    PipfileLock,
    /// npm `package.json`.
    PackageJson,
    /// npm `package-lock.json` / `npm-shrinkwrap.json`.
    PackageLock,
    /// `pnpm-lock.yaml`.
    PnpmLock,
    /// `Cargo.lock`.
    CargoLock,
    /// `setup.py` (read by a bounded literal parse, never run).
    SetupPy,
}

impl Format {
    /// Detect the format from a file name.
    pub fn detect(file_name: &str) -> Option<Format> {
        let lower = file_name.to_ascii_lowercase();
        Some(match lower.as_str() {
            "pyproject.toml" => Format::Pyproject,
            "pipfile" => Format::Pipfile,
            "poetry.lock" => Format::PoetryLock,
            "uv.lock" => Format::UvLock,
            "pipfile.lock" => Format::PipfileLock,
            "package.json" => Format::PackageJson,
            "package-lock.json" | "npm-shrinkwrap.json" => Format::PackageLock,
            "pnpm-lock.yaml" => Format::PnpmLock,
            "cargo.lock" => Format::CargoLock,
            "setup.py" => Format::SetupPy,
            _ if lower.contains("requirements")
                && (lower.ends_with(".txt") || lower.ends_with(".in")) =>
            {
                Format::Requirements
            }
            _ => return None,
        })
    }

    /// Manifest or lockfile.
    pub fn kind(self) -> FileKind {
        match self {
            Format::Requirements
            | Format::Pyproject
            | Format::Pipfile
            | Format::PackageJson
            | Format::SetupPy => FileKind::Manifest,
            _ => FileKind::Lockfile,
        }
    }

    /// The ecosystem of the packages in the file.
    pub fn ecosystem(self) -> Ecosystem {
        match self {
            Format::PackageJson | Format::PackageLock | Format::PnpmLock => Ecosystem::Npm,
            Format::CargoLock => Ecosystem::Cargo,
            _ => Ecosystem::Pypi,
        }
    }

    /// Parse a file's text (requirements includes are resolved by the caller through
    /// [`python::parse_requirements`]).
    pub fn parse(self, text: &str) -> Result<Vec<Package>, String> {
        match self {
            Format::Requirements => Ok(python::parse_requirements(text, &mut |_| None).0),
            Format::Pyproject => python::parse_pyproject(text),
            Format::Pipfile => python::parse_pipfile(text),
            Format::PoetryLock => python::parse_poetry_lock(text),
            Format::UvLock => python::parse_uv_lock(text),
            Format::PipfileLock => python::parse_pipfile_lock(text),
            Format::PackageJson => node::parse_package_json(text),
            Format::PackageLock => node::parse_package_lock(text),
            Format::PnpmLock => node::parse_pnpm_lock(text),
            Format::CargoLock => cargo::parse_cargo_lock(text),
            Format::SetupPy => setup_py::parse_setup_py(text),
        }
    }
}

/// Where lines of a lockfile are, found in one pass: every line by the key a format-specific
/// function finds in its trimmed text (`"node_modules/x": {`, `name = "x"`). Looking a package
/// up never rescans the text, so placing n packages costs O(n) rather than the O(n²) of one
/// search per package.
pub(crate) struct LineIndex<'a> {
    /// First and last 1-based line of each key.
    ends: std::collections::HashMap<&'a str, (u32, u32)>,
    /// For each line (0-based) with a key, the next line with the same key (0 = none): the
    /// later lines of a key without a vector per key.
    next: Vec<u32>,
    /// Trimmed text of every line (0-based), for checks of the line after a match.
    lines: Vec<&'a str>,
}

impl<'a> LineIndex<'a> {
    /// Index the lines of `text` under the key `key` finds in their trimmed text, if any.
    pub(crate) fn new(text: &'a str, key: impl Fn(&'a str) -> Option<&'a str>) -> Self {
        let mut ends: std::collections::HashMap<&'a str, (u32, u32)> =
            std::collections::HashMap::new();
        let mut next = Vec::new();
        let mut lines = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let t = line.trim();
            let n = u32::try_from(i + 1).unwrap_or(u32::MAX);
            next.push(0);
            if let Some(k) = key(t) {
                let e = ends.entry(k).or_insert((n, 0));
                if let Some(slot) = next.get_mut((e.1 as usize).wrapping_sub(1)) {
                    *slot = n;
                }
                e.1 = n;
            }
            lines.push(t);
        }
        LineIndex { ends, next, lines }
    }

    /// The 1-based lines whose key is `key`, in order.
    fn lines_of(&self, key: &str) -> impl Iterator<Item = u32> + '_ {
        let mut at = self.ends.get(key).map(|e| e.0);
        std::iter::from_fn(move || {
            let l = at?;
            at = self
                .next
                .get((l as usize).wrapping_sub(1))
                .copied()
                .filter(|&n| n != 0);
            Some(l)
        })
    }

    /// Key of lines starting `name = ` (Cargo, poetry and uv locks): the whole line.
    pub(crate) fn toml_name(t: &str) -> Option<&str> {
        t.starts_with("name = ").then_some(t)
    }

    /// Key of JSON object members (`"node_modules/x": {`, also followed by more on the line):
    /// the text up to and including `{`.
    pub(crate) fn json_object(t: &str) -> Option<&str> {
        if !t.starts_with('"') {
            return None;
        }
        t.find("\": {").and_then(|i| t.get(..i + 4))
    }

    /// Key of YAML mapping keys (`/foo@1.0.0:`, `'@a/b@1.0.0': {...}`): the text up to and
    /// including the first `:` that ends the line or is followed by a space.
    pub(crate) fn yaml_key(t: &str) -> Option<&str> {
        let b = t.as_bytes();
        (0..b.len())
            .find(|&i| b[i] == b':' && matches!(b.get(i + 1), None | Some(b' ')))
            .and_then(|i| t.get(..=i))
    }

    /// First 1-based line whose trimmed text is `line`.
    pub(crate) fn line(&self, line: &str) -> Option<u32> {
        self.ends.get(line).map(|e| e.0)
    }

    /// First 1-based line whose trimmed text is `first` and whose next line's is `second`.
    pub(crate) fn pair(&self, first: &str, second: &str) -> Option<u32> {
        self.lines_of(first).find(|&l| {
            usize::try_from(l)
                .ok()
                .and_then(|l| self.lines.get(l))
                .is_some_and(|next| *next == second)
        })
    }
}

/// Byte offsets of line starts, for 1-based line numbers of offsets found by a scan.
pub(crate) struct LineStarts(Vec<usize>);

impl LineStarts {
    /// Index the line starts of `text` in one pass.
    pub(crate) fn new(text: &str) -> Self {
        LineStarts(
            std::iter::once(0)
                .chain(text.match_indices('\n').map(|(i, _)| i + 1))
                .collect(),
        )
    }

    /// 1-based line of the byte at `offset`.
    pub(crate) fn line(&self, offset: usize) -> u32 {
        u32::try_from(self.0.partition_point(|&s| s <= offset)).unwrap_or(u32::MAX)
    }
}

/// 1-based line of the first occurrence of `needle` in `text` (for small manifests; lockfiles
/// use a [`LineIndex`]).
pub(crate) fn line_of(text: &str, needle: &str) -> Option<u32> {
    let i = text.find(needle)?;
    Some(text[..i].bytes().filter(|&b| b == b'\n').count() as u32 + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_formats() {
        assert_eq!(
            Format::detect("requirements-dev.txt"),
            Some(Format::Requirements)
        );
        assert_eq!(
            Format::detect("dev-requirements.in"),
            Some(Format::Requirements)
        );
        assert_eq!(Format::detect("Cargo.lock"), Some(Format::CargoLock));
        assert_eq!(
            Format::detect("npm-shrinkwrap.json"),
            Some(Format::PackageLock)
        );
        assert_eq!(Format::detect("setup.py"), Some(Format::SetupPy));
        assert_eq!(Format::SetupPy.kind(), FileKind::Manifest);
        assert_eq!(Format::detect("setup.cfg"), None);
        assert_eq!(Format::PnpmLock.ecosystem(), Ecosystem::Npm);
        assert_eq!(Format::Pyproject.kind(), FileKind::Manifest);
    }

    #[test]
    fn line_numbers() {
        assert_eq!(line_of("a\nb\nc", "c"), Some(3));
        assert_eq!(line_of("a", "z"), None);
    }

    #[test]
    fn line_index_finds_lines_and_pairs() {
        let text = "[[package]]\nname = \"a\"\nversion = \"1\"\n\n[[package]]\n  name = \"a\"\nversion = \"2\"\n";
        let ix = LineIndex::new(text, LineIndex::toml_name);
        assert_eq!(ix.line("name = \"a\""), Some(2));
        assert_eq!(ix.pair("name = \"a\"", "version = \"2\""), Some(6));
        assert_eq!(ix.pair("name = \"a\"", "version = \"3\""), None);
        assert_eq!(ix.line("version = \"1\""), None);
        let json = "{\n  \"packages\": {\n    \"node_modules/a\": {\"version\": \"1\"},\n    \"node_modules/b\": {\n";
        let ix = LineIndex::new(json, LineIndex::json_object);
        assert_eq!(ix.line("\"node_modules/a\": {"), Some(3));
        assert_eq!(ix.line("\"node_modules/b\": {"), Some(4));
        let yaml = "packages:\n  /a@1.0.0:\n    x: 1\n  '@s/b@2.0.0': {resolution: {}}\n";
        let ix = LineIndex::new(yaml, LineIndex::yaml_key);
        assert_eq!(ix.line("/a@1.0.0:"), Some(2));
        assert_eq!(ix.line("'@s/b@2.0.0':"), Some(4));
    }
}
