//! Offline OSV database: a directory holding OSV's per-ecosystem `all.zip` exports and/or OSV
//! JSON records at any depth. The first run builds an index (package → records that name it)
//! and caches it next to the data (or under the user cache directory when the database is
//! read-only); the cache is rebuilt when any file's path, size or modification time changes.
//! Lookups then parse only the records naming the packages asked about.

pub mod advisory;
pub mod update;
pub mod version;

use crate::Error;
use advisory::Advisory;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

/// Largest single OSV record read (bytes).
const MAX_RECORD: u64 = 8 << 20;
/// Deepest directory nesting followed under the database root.
const MAX_DEPTH: usize = 32;
/// Name of the cache file written in the database directory.
const CACHE_NAME: &str = ".lantern-osv-index.json";
/// Bump when the cache layout changes.
const CACHE_VERSION: u32 = 1;

/// Where one record lives.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
enum Source {
    /// A JSON file, relative to the root.
    File(String),
    /// A member of a zip archive (archive relative to the root).
    Zip(String, String),
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Index {
    version: u32,
    fingerprint: String,
    /// `ecosystem\0normalised name` → sources.
    packages: BTreeMap<String, Vec<Source>>,
    /// Ecosystems with at least one record.
    ecosystems: BTreeSet<String>,
    /// Records that could not be read while indexing: (source, message).
    skipped: Vec<(String, String)>,
}

/// An opened OSV database.
pub struct Database {
    root: PathBuf,
    index: Index,
    archives: RefCell<HashMap<String, zip::ZipArchive<BufReader<File>>>>,
    /// Where the index was read from or written to, and whether it was rebuilt this run.
    pub cache: (Option<PathBuf>, bool),
}

/// Normalised package name for lookups: PEP 503 for PyPI, case kept elsewhere.
pub fn normalize(ecosystem: &str, name: &str) -> String {
    match ecosystem {
        "PyPI" => lantern_bom::purl::pep503(name),
        _ => name.trim().to_string(),
    }
}

/// The OSV ecosystem of a purl type.
pub fn ecosystem_of_purl(ty: &str) -> Option<&'static str> {
    match ty {
        "pypi" => Some("PyPI"),
        "npm" => Some("npm"),
        "cargo" => Some("crates.io"),
        "golang" => Some("Go"),
        "maven" => Some("Maven"),
        _ => None,
    }
}

fn key(ecosystem: &str, name: &str) -> String {
    format!("{ecosystem}\0{}", normalize(ecosystem, name))
}

impl Database {
    /// Open the database at `root`, using or rebuilding the cached index.
    pub fn open(root: &Path, cache_dir: Option<&Path>) -> Result<Database, Error> {
        let files = list_files(root)?;
        let fingerprint = fingerprint(root, &files);
        let candidates = cache_paths(root, cache_dir);
        for c in &candidates {
            if let Some(index) = read_cache(c, &fingerprint) {
                return Ok(Database::new(root, index, (Some(c.clone()), false)));
            }
        }
        let mut index = build(root, &files)?;
        index.fingerprint = fingerprint;
        let written = candidates.into_iter().find(|c| write_cache(c, &index));
        Ok(Database::new(root, index, (written, true)))
    }

    fn new(root: &Path, index: Index, cache: (Option<PathBuf>, bool)) -> Database {
        Database {
            root: root.to_path_buf(),
            index,
            archives: RefCell::new(HashMap::new()),
            cache,
        }
    }

    /// Whether the database holds any record for `ecosystem`.
    pub fn has_ecosystem(&self, ecosystem: &str) -> bool {
        self.index.ecosystems.contains(ecosystem)
    }

    /// Number of distinct packages indexed.
    pub fn package_count(&self) -> usize {
        self.index.packages.len()
    }

    /// Records skipped while indexing (source, reason).
    pub fn skipped(&self) -> &[(String, String)] {
        &self.index.skipped
    }

    /// The advisories naming a package, withdrawn ones left out.
    pub fn advisories(&self, ecosystem: &str, name: &str) -> Result<Vec<Advisory>, Error> {
        let Some(sources) = self.index.packages.get(&key(ecosystem, name)) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for s in sources {
            let bytes = self.read(s)?;
            let a: Advisory = serde_json::from_slice(&bytes).map_err(|e| Error::Osv {
                path: describe(s),
                message: format!("invalid OSV JSON: {e}"),
            })?;
            if a.withdrawn.is_none() {
                out.push(a);
            }
        }
        Ok(out)
    }

    fn read(&self, s: &Source) -> Result<Vec<u8>, Error> {
        match s {
            Source::File(rel) => read_bounded_file(&self.root.join(rel)),
            Source::Zip(archive, member) => {
                let mut map = self.archives.borrow_mut();
                if !map.contains_key(archive) {
                    map.insert(archive.clone(), open_zip(&self.root.join(archive))?);
                }
                let Some(z) = map.get_mut(archive) else {
                    return Err(osv_err(archive, "archive vanished"));
                };
                let entry = z
                    .by_name(member)
                    .map_err(|e| osv_err(&describe(s), &e.to_string()))?;
                read_entry(entry, &describe(s))
            }
        }
    }
}

fn describe(s: &Source) -> String {
    match s {
        Source::File(p) => p.clone(),
        Source::Zip(a, m) => format!("{a}!{m}"),
    }
}

fn osv_err(path: &str, message: &str) -> Error {
    Error::Osv {
        path: path.to_string(),
        message: message.to_string(),
    }
}

/// `.json` and `.zip` files under `root` (relative, sorted), hidden names skipped.
fn list_files(root: &Path) -> Result<Vec<(String, u64, u128)>, Error> {
    if !root.is_dir() {
        return Err(osv_err(
            &root.display().to_string(),
            "not a directory (expected OSV all.zip exports or JSON records)",
        ));
    }
    let mut out = Vec::new();
    let mut stack = vec![(root.to_path_buf(), 0usize)];
    while let Some((dir, depth)) = stack.pop() {
        let rd = std::fs::read_dir(&dir).map_err(|source| Error::Io {
            path: dir.display().to_string(),
            source,
        })?;
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Ok(ft) = e.file_type() else { continue };
            if name.starts_with('.') {
                continue;
            }
            let path = e.path();
            if ft.is_dir() && depth < MAX_DEPTH {
                stack.push((path, depth + 1));
            } else if (name.ends_with(".json") || name.ends_with(".zip")) && !ft.is_dir() {
                let Ok(meta) = std::fs::metadata(&path) else {
                    continue;
                };
                let mtime = meta
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_nanos());
                let rel = path.strip_prefix(root).unwrap_or(&path);
                let rel = rel.to_string_lossy().replace('\\', "/");
                out.push((rel, meta.len(), mtime));
            }
        }
    }
    out.sort();
    Ok(out)
}

fn fingerprint(root: &Path, files: &[(String, u64, u128)]) -> String {
    let mut h = Sha256::new();
    h.update(CACHE_VERSION.to_le_bytes());
    h.update(root.to_string_lossy().as_bytes());
    for (p, len, mtime) in files {
        h.update(p.as_bytes());
        h.update([0]);
        h.update(len.to_le_bytes());
        h.update(mtime.to_le_bytes());
    }
    hex::encode(h.finalize())
}

fn cache_paths(root: &Path, cache_dir: Option<&Path>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(d) = cache_dir {
        out.push(d.join(CACHE_NAME));
        return out;
    }
    out.push(root.join(CACHE_NAME));
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")));
    if let Some(b) = base {
        let tag = hex::encode(Sha256::digest(root.to_string_lossy().as_bytes()));
        out.push(b.join("lantern").join(format!("osv-{}.json", &tag[..16])));
    }
    out
}

fn read_cache(path: &Path, fingerprint: &str) -> Option<Index> {
    let bytes = std::fs::read(path).ok()?;
    let index: Index = serde_json::from_slice(&bytes).ok()?;
    (index.version == CACHE_VERSION && index.fingerprint == fingerprint).then_some(index)
}

fn write_cache(path: &Path, index: &Index) -> bool {
    let Ok(bytes) = serde_json::to_vec(index) else {
        return false;
    };
    if let Some(parent) = path.parent() {
        if std::fs::create_dir_all(parent).is_err() {
            return false;
        }
    }
    // Write then rename, so a concurrent run never reads half an index.
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes).is_ok() && std::fs::rename(&tmp, path).is_ok()
}

fn build(root: &Path, files: &[(String, u64, u128)]) -> Result<Index, Error> {
    let mut index = Index {
        version: CACHE_VERSION,
        ..Index::default()
    };
    for (rel, _, _) in files {
        let path = root.join(rel);
        if rel.ends_with(".zip") {
            let mut z = open_zip(&path)?;
            for i in 0..z.len() {
                let Ok(entry) = z.by_index(i) else { continue };
                let member = entry.name().to_string();
                if entry.is_dir() || !member.ends_with(".json") {
                    continue;
                }
                let src = Source::Zip(rel.clone(), member);
                match read_entry(entry, &describe(&src)) {
                    Ok(bytes) => add_record(&mut index, src, &bytes),
                    Err(e) => index.skipped.push((describe(&src), e.to_string())),
                }
            }
        } else {
            let src = Source::File(rel.clone());
            match read_bounded_file(&path) {
                Ok(bytes) => add_record(&mut index, src, &bytes),
                Err(e) => index.skipped.push((rel.clone(), e.to_string())),
            }
        }
    }
    Ok(index)
}

/// Only the package names are needed to index a record.
#[derive(Deserialize)]
struct Names {
    id: String,
    #[serde(default)]
    affected: Vec<NameOnly>,
}

#[derive(Deserialize)]
struct NameOnly {
    package: Option<advisory::Package>,
}

fn add_record(index: &mut Index, src: Source, bytes: &[u8]) {
    let names: Names = match serde_json::from_slice(bytes) {
        Ok(n) => n,
        Err(e) => {
            index
                .skipped
                .push((describe(&src), format!("not an OSV record: {e}")));
            return;
        }
    };
    if names.id.is_empty() {
        return;
    }
    for a in names.affected {
        let Some(p) = a.package else { continue };
        index.ecosystems.insert(p.ecosystem.clone());
        let list = index
            .packages
            .entry(key(&p.ecosystem, &p.name))
            .or_default();
        if !list.contains(&src) {
            list.push(src.clone());
        }
    }
}

fn open_zip(path: &Path) -> Result<zip::ZipArchive<BufReader<File>>, Error> {
    let f = File::open(path).map_err(|source| Error::Io {
        path: path.display().to_string(),
        source,
    })?;
    zip::ZipArchive::new(BufReader::new(f)).map_err(|e| {
        osv_err(
            &path.display().to_string(),
            &format!("not a zip archive: {e}"),
        )
    })
}

fn read_entry<R: Read>(entry: zip::read::ZipFile<'_, R>, name: &str) -> Result<Vec<u8>, Error> {
    if entry.size() > MAX_RECORD {
        return Err(osv_err(name, "record larger than 8 MiB"));
    }
    let mut buf = Vec::new();
    entry
        .take(MAX_RECORD + 1)
        .read_to_end(&mut buf)
        .map_err(|e| osv_err(name, &e.to_string()))?;
    if buf.len() as u64 > MAX_RECORD {
        return Err(osv_err(name, "record larger than 8 MiB"));
    }
    Ok(buf)
}

fn read_bounded_file(path: &Path) -> Result<Vec<u8>, Error> {
    let io = |source| Error::Io {
        path: path.display().to_string(),
        source,
    };
    let f = File::open(path).map_err(io)?;
    let mut buf = Vec::new();
    f.take(MAX_RECORD + 1).read_to_end(&mut buf).map_err(io)?;
    if buf.len() as u64 > MAX_RECORD {
        return Err(osv_err(
            &path.display().to_string(),
            "record larger than 8 MiB",
        ));
    }
    Ok(buf)
}
