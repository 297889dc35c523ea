//! Model manifests as model-signing builds them: walk a model file or directory (ignore list,
//! symlink policy), hash every file or file shard in parallel, order items, compute the root digest.

use crate::error::{Error, Result};
use crate::hash::{hash_paired, hash_range, hash_range_pipelined, HashAlgo, IoMode};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Deepest directory nesting the walker descends into.
pub const MAX_DEPTH: usize = 256;

/// Paths ignored by default, as model-signing does (`--ignore-git-paths`).
pub const GIT_PATHS: [&str; 4] = [".git", ".gitattributes", ".github", ".gitignore"];

/// Shard size model-signing uses by default for the `shards` serialization.
pub const DEFAULT_SHARD_SIZE: u64 = 1_000_000_000;

/// How a model is cut into manifest items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// One item per file (`"files"`), the default and what `model_signing verify` expects.
    Files,
    /// One item per `shard_size` bytes of each file (`"shards"`); lets one big file be hashed in parallel.
    Shards {
        /// Bytes per shard (the last shard of a file may be shorter).
        shard_size: u64,
    },
}

/// The `serialization` section of the predicate: everything needed to re-hash a model identically.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Serialization {
    /// Files or shards.
    pub method: Method,
    /// Content hash.
    pub hash: HashAlgo,
    /// Whether symlinks were followed.
    pub allow_symlinks: bool,
    /// Paths (relative to the model) that were left out.
    pub ignore_paths: Vec<String>,
}

impl Serialization {
    /// The JSON object recorded in the predicate.
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "method": match self.method { Method::Files => "files", Method::Shards { .. } => "shards" },
            "hash_type": self.hash.name(),
            "allow_symlinks": self.allow_symlinks,
        });
        if let (Method::Shards { shard_size }, Some(obj)) = (self.method, v.as_object_mut()) {
            obj.insert("shard_size".into(), json!(shard_size));
        }
        if !self.ignore_paths.is_empty() {
            if let Some(obj) = v.as_object_mut() {
                obj.insert("ignore_paths".into(), json!(self.ignore_paths));
            }
        }
        v
    }

    /// Parses the predicate's `serialization` object; `src` names the document for errors.
    pub fn from_json(v: &Value, src: &str) -> Result<Self> {
        let bad = |r: &str| Error::malformed(src, "statement", format!("serialization: {r}"));
        let obj = v.as_object().ok_or_else(|| bad("not an object"))?;
        let hash_name = obj
            .get("hash_type")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("missing hash_type"))?;
        let hash = HashAlgo::from_name(hash_name)?;
        let allow_symlinks = match obj.get("allow_symlinks") {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
            Some(_) => return Err(bad("allow_symlinks is not a boolean")),
        };
        let method = match obj.get("method").and_then(Value::as_str) {
            Some("files") => Method::Files,
            Some("shards") => {
                // model-signing writes the shard size through a protobuf Struct, i.e. as a double.
                let raw = obj
                    .get("shard_size")
                    .ok_or_else(|| bad("missing shard_size"))?;
                let shard_size = raw
                    .as_u64()
                    .or_else(|| {
                        raw.as_f64()
                            .filter(|f| f.fract() == 0.0 && *f >= 1.0 && *f < 9.0e15)
                            .map(|f| f as u64)
                    })
                    .filter(|s| *s > 0)
                    .ok_or_else(|| bad("shard_size is not a positive integer"))?;
                Method::Shards { shard_size }
            }
            Some(other) => {
                return Err(Error::Unsupported {
                    what: "serialization method",
                    value: other.to_string(),
                })
            }
            None => return Err(bad("missing method")),
        };
        let ignore_paths = match obj.get("ignore_paths") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => a
                .iter()
                .map(|p| p.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| bad("ignore_paths holds a non-string"))?,
            Some(_) => return Err(bad("ignore_paths is not a list")),
        };
        Ok(Serialization {
            method,
            hash,
            allow_symlinks,
            ignore_paths,
        })
    }

    /// The algorithm name recorded on each resource (`sha256`, or `sha256-sharded-N` for shards).
    pub fn item_algorithm(&self) -> String {
        match self.method {
            Method::Files => self.hash.name().to_string(),
            Method::Shards { shard_size } => format!("{}-sharded-{shard_size}", self.hash.name()),
        }
    }
}

/// Identifies a manifest item: a file path (as components) and, for shards, its byte range.
/// The derived order is model-signing's (path components compared one by one, then offsets).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ItemKey {
    /// Path components relative to the model root; empty when the model is a single file.
    pub path: Vec<String>,
    /// `[start, end)` for a shard.
    pub range: Option<(u64, u64)>,
}

impl ItemKey {
    /// The file path as written in manifests (`"."` for a single-file model).
    pub fn path_str(&self) -> String {
        if self.path.is_empty() {
            ".".to_string()
        } else {
            self.path.join("/")
        }
    }

    /// The resource name: `path` or `path:start:end`.
    pub fn identifier(&self) -> String {
        match self.range {
            None => self.path_str(),
            Some((s, e)) => format!("{}:{s}:{e}", self.path_str()),
        }
    }

    /// Parses a resource name for the given method, rejecting names that escape the model.
    pub fn parse(name: &str, method: Method, src: &str) -> Result<Self> {
        let bad = |r: String| Error::malformed(src, "statement", r);
        let (path_part, range) = match method {
            Method::Files => (name, None),
            Method::Shards { .. } => {
                let mut it = name.rsplitn(3, ':');
                let (Some(end), Some(start), Some(p)) = (it.next(), it.next(), it.next()) else {
                    return Err(bad(format!("resource {name:?}: expected path:start:end")));
                };
                let parse = |s: &str| {
                    s.parse::<u64>()
                        .map_err(|_| bad(format!("resource {name:?}: bad offset {s:?}")))
                };
                let (s, e) = (parse(start)?, parse(end)?);
                if e <= s {
                    return Err(bad(format!("resource {name:?}: empty or reversed range")));
                }
                (p, Some((s, e)))
            }
        };
        let path = normalize_rel(path_part)
            .ok_or_else(|| bad(format!("resource {name:?} escapes the model directory")))?;
        Ok(ItemKey { path, range })
    }
}

/// Splits a relative path into components, dropping `.` and empty parts; `None` if it is
/// absolute or contains `..` (such a path can never name a file inside the model).
pub fn normalize_rel(p: &str) -> Option<Vec<String>> {
    if p.starts_with('/') || p.contains('\0') {
        return None;
    }
    let mut out = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => return None,
            c => out.push(c.to_string()),
        }
    }
    Some(out)
}

/// A digest with the algorithm name it is recorded under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemDigest {
    /// `sha256`, `sha256-sharded-1000000000`, `blake3`, ...
    pub algorithm: String,
    /// Raw digest bytes.
    pub value: Vec<u8>,
}

/// A model manifest: items in canonical order with their digests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// Informative model name (last component of the model path).
    pub model_name: String,
    /// Items and digests, ordered as model-signing orders them.
    pub items: BTreeMap<ItemKey, ItemDigest>,
    /// How the manifest was produced.
    pub serialization: Serialization,
}

impl Manifest {
    /// SHA-256 over the concatenated raw item digests in canonical order (the statement subject digest).
    pub fn root_digest(&self) -> [u8; 32] {
        use sha2::Digest as _;
        let mut h = sha2::Sha256::new();
        for d in self.items.values() {
            h.update(&d.value);
        }
        h.finalize().into()
    }

    /// Total number of distinct files in the manifest.
    pub fn file_count(&self) -> usize {
        self.items
            .keys()
            .map(|k| &k.path)
            .collect::<BTreeSet<_>>()
            .len()
    }
}

/// Differences between a signed manifest and the model on disk, by file path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ManifestDiff {
    /// Files whose content (or size) changed.
    pub changed: Vec<String>,
    /// Files on disk that the signature does not cover.
    pub added: Vec<String>,
    /// Signed files absent from disk.
    pub missing: Vec<String>,
}

impl ManifestDiff {
    /// True when the model matches the signature exactly.
    pub fn is_empty(&self) -> bool {
        self.changed.is_empty() && self.added.is_empty() && self.missing.is_empty()
    }
}

/// Compares the signed manifest with the one computed from disk, file by file.
pub fn diff(expected: &Manifest, actual: &Manifest) -> ManifestDiff {
    type ByPath<'a> = BTreeMap<&'a Vec<String>, Vec<(&'a ItemKey, &'a ItemDigest)>>;
    fn group(m: &Manifest) -> ByPath<'_> {
        let mut g: ByPath<'_> = BTreeMap::new();
        for (k, d) in &m.items {
            g.entry(&k.path).or_default().push((k, d));
        }
        g
    }
    let (e, a) = (group(expected), group(actual));
    let mut out = ManifestDiff::default();
    let name = |p: &Vec<String>| {
        ItemKey {
            path: p.clone(),
            range: None,
        }
        .path_str()
    };
    for (p, items) in &e {
        match a.get(p) {
            None => out.missing.push(name(p)),
            Some(other) if other != items => out.changed.push(name(p)),
            Some(_) => {}
        }
    }
    for p in a.keys() {
        if !e.contains_key(p) {
            out.added.push(name(p));
        }
    }
    out
}

/// What to hash and how.
#[derive(Debug, Clone)]
pub struct HashOptions {
    /// Files or shards.
    pub method: Method,
    /// Content hash.
    pub hash: HashAlgo,
    /// Follow symlinks to files inside the model (otherwise a symlink is an error).
    pub allow_symlinks: bool,
    /// Paths relative to the model root to leave out (a directory leaves out everything below it).
    pub ignore_paths: Vec<String>,
    /// Also leave out `.git`, `.gitattributes`, `.github`, `.gitignore`.
    pub ignore_git_paths: bool,
    /// Hash only these files (path components), e.g. the files a signature covers.
    pub only: Option<BTreeSet<Vec<String>>>,
}

impl Default for HashOptions {
    fn default() -> Self {
        HashOptions {
            method: Method::Files,
            hash: HashAlgo::Sha256,
            allow_symlinks: false,
            ignore_paths: Vec::new(),
            ignore_git_paths: true,
            only: None,
        }
    }
}

/// A file of the model as the walk saw it: display components, path, size and modification
/// time (of the target, for a symlink), checked again once hashing is done.
#[derive(Debug, Clone)]
struct Walked {
    comps: Vec<String>,
    path: PathBuf,
    size: u64,
    mtime: Option<std::time::SystemTime>,
}

impl Walked {
    fn new(comps: Vec<String>, path: PathBuf, meta: &std::fs::Metadata) -> Self {
        Walked {
            comps,
            path,
            size: meta.len(),
            mtime: meta.modified().ok(),
        }
    }

    /// An error when the file now differs in size or modification time from the walk.
    fn check_unchanged(&self) -> Result<()> {
        let meta = std::fs::metadata(&self.path).map_err(|e| Error::Changed {
            path: self.path.clone(),
            what: format!("cannot read it again: {e}"),
        })?;
        let what = if meta.len() != self.size {
            format!("size {} -> {} bytes", self.size, meta.len())
        } else if meta.modified().ok() != self.mtime {
            "modified".to_string()
        } else {
            return Ok(());
        };
        Err(Error::Changed {
            path: self.path.clone(),
            what,
        })
    }
}

/// One unit of hashing work.
#[derive(Debug, Clone)]
struct Unit {
    key: ItemKey,
    file: PathBuf,
    offset: u64,
    len: Option<u64>,
    size: u64,
}

/// A walked model, ready to hash: knows its total size before any byte is read.
#[derive(Debug)]
pub struct Plan {
    model_name: String,
    units: Vec<Unit>,
    /// Every file hashed, to check it did not change while hashing (in every I/O mode).
    walked: Vec<Walked>,
    serialization: Serialization,
    total_bytes: u64,
    files: usize,
    io: IoMode,
    threads: usize,
    interleave: bool,
}

impl Plan {
    /// Walks `model` (a file or directory) and lists the work; no file content is read.
    pub fn new(model: &Path, opts: &HashOptions) -> Result<Self> {
        let mut ignores: Vec<Vec<String>> = Vec::new();
        let mut recorded: BTreeSet<String> = BTreeSet::new();
        let extra = if opts.ignore_git_paths {
            &GIT_PATHS[..]
        } else {
            &[][..]
        };
        for p in opts
            .ignore_paths
            .iter()
            .map(String::as_str)
            .chain(extra.iter().copied())
        {
            if let Some(c) = normalize_rel(p) {
                recorded.insert(if c.is_empty() {
                    ".".into()
                } else {
                    c.join("/")
                });
                ignores.push(c);
            }
        }
        let root_meta =
            std::fs::symlink_metadata(model).map_err(|e| Error::io("reading", model, e))?;
        let canon_root =
            std::fs::canonicalize(model).map_err(|e| Error::io("resolving", model, e))?;
        if root_meta.file_type().is_symlink() && !opts.allow_symlinks {
            return Err(Error::SymlinkNotAllowed(model.to_path_buf()));
        }
        let meta = std::fs::metadata(model).map_err(|e| Error::io("reading", model, e))?;
        let mut files: Vec<Walked> = Vec::new();
        let ignored = |c: &[String]| ignores.iter().any(|i| c.starts_with(i));
        if meta.is_file() {
            if !ignored(&[]) {
                files.push(Walked::new(Vec::new(), model.to_path_buf(), &meta));
            }
        } else if meta.is_dir() {
            let mut comps = Vec::new();
            walk(model, &canon_root, &mut comps, opts, &ignored, &mut files)?;
        } else {
            return Err(Error::NotFileOrDir(model.to_path_buf()));
        }
        if let Some(only) = &opts.only {
            files.retain(|w| only.contains(&w.comps));
        }
        let mut units = Vec::with_capacity(files.len());
        let mut total_bytes = 0u64;
        let nfiles = files.len();
        for w in &files {
            let (comps, file, size) = (w.comps.clone(), w.path.clone(), w.size);
            total_bytes = total_bytes.saturating_add(size);
            match opts.method {
                Method::Files => units.push(Unit {
                    key: ItemKey {
                        path: comps,
                        range: None,
                    },
                    file,
                    offset: 0,
                    len: None,
                    size,
                }),
                Method::Shards { shard_size } => {
                    let mut start = 0u64;
                    while start < size {
                        let end = start.saturating_add(shard_size).min(size);
                        units.push(Unit {
                            key: ItemKey {
                                path: comps.clone(),
                                range: Some((start, end)),
                            },
                            file: file.clone(),
                            offset: start,
                            len: Some(end - start),
                            size: end - start,
                        });
                        start = end;
                    }
                }
            }
        }
        // Largest first: the long poles start early and small files fill the gaps.
        units.sort_by_key(|u| std::cmp::Reverse(u.size));
        let model_name = model
            .file_name()
            .or_else(|| canon_root.file_name())
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        Ok(Plan {
            model_name,
            units,
            walked: files,
            serialization: Serialization {
                method: opts.method,
                hash: opts.hash,
                allow_symlinks: opts.allow_symlinks,
                ignore_paths: recorded.into_iter().collect(),
            },
            total_bytes,
            files: nfiles,
            io: IoMode::default(),
            threads: std::thread::available_parallelism().map_or(1, usize::from),
            interleave: true,
        })
    }

    /// Bytes that hashing will read.
    pub fn total_bytes(&self) -> u64 {
        self.total_bytes
    }

    /// Number of files to hash.
    pub fn file_count(&self) -> usize {
        self.files
    }

    /// How file bytes reach the hasher (default [`IoMode::Read`]).
    pub fn io_mode(mut self, mode: IoMode) -> Self {
        self.io = mode;
        self
    }

    /// Hashing threads (default: one per available core; 0 keeps the default).
    pub fn threads(mut self, n: usize) -> Self {
        if n > 0 {
            self.threads = n;
        }
        self
    }

    /// Whether each thread may hash two SHA-256 units at once, interleaved (default: yes; it
    /// only takes effect with SHA-256 on a CPU with SHA-NI). Off is for comparisons.
    pub fn interleave(mut self, on: bool) -> Self {
        self.interleave = on;
        self
    }

    /// Hashes every unit on [`Plan::threads`] threads; `progress` receives byte counts.
    ///
    /// Units are taken largest first from one shared queue (longest-processing-time scheduling),
    /// so big files spread evenly over the threads and small files fill the gaps. When there are
    /// fewer units than threads (one huge file), each unit gets a reader thread of its own so
    /// copying and hashing overlap on separate cores. With SHA-256 on a CPU with SHA-NI, each
    /// thread first takes one unit of its own and then keeps two units open from the shared queue,
    /// hashing them interleaved ([`crate::hash::hash_paired`]).
    pub fn hash(self, progress: &(dyn Fn(u64) + Sync)) -> Result<Manifest> {
        let algo = self.serialization.hash;
        let algorithm = self.serialization.item_algorithm();
        let threads = self.threads.max(1);
        let workers = threads.min(self.units.len());
        let pipelined = self.units.len() < threads;
        let io = self.io;
        let next = AtomicUsize::new(0);
        let failed = AtomicBool::new(false);
        let units = &self.units;
        let paired = !pipelined
            && self.interleave
            && algo == HashAlgo::Sha256
            && crate::sha256x2::interleaved();
        if paired {
            // Every worker's first unit is its own, so no thread opens a second lane while
            // another still has none.
            next.store(workers, Ordering::Relaxed);
        }
        let results: Vec<Result<Vec<(ItemKey, ItemDigest)>>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..workers)
                .map(|w| {
                    let (next, failed, algorithm) = (&next, &failed, &algorithm);
                    scope.spawn(move || {
                        let digest = |i: usize, value: Vec<u8>| {
                            units.get(i).map(|u: &Unit| {
                                (
                                    u.key.clone(),
                                    ItemDigest {
                                        algorithm: algorithm.clone(),
                                        value,
                                    },
                                )
                            })
                        };
                        if paired {
                            let mut own = Some(w);
                            let take = || {
                                if failed.load(Ordering::Relaxed) {
                                    return None;
                                }
                                let i = own
                                    .take()
                                    .unwrap_or_else(|| next.fetch_add(1, Ordering::Relaxed));
                                units.get(i).map(|u| (i, u.file.as_path(), u.offset, u.len))
                            };
                            return match hash_paired(take, io, progress) {
                                Ok(values) => Ok(values
                                    .into_iter()
                                    .filter_map(|(i, v)| digest(i, v))
                                    .collect()),
                                Err(e) => {
                                    failed.store(true, Ordering::Relaxed);
                                    Err(e)
                                }
                            };
                        }
                        let mut done = Vec::new();
                        while !failed.load(Ordering::Relaxed) {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            let Some(u) = units.get(i) else {
                                break;
                            };
                            let value = if pipelined {
                                hash_range_pipelined(&u.file, algo, u.offset, u.len, progress)
                            } else {
                                hash_range(&u.file, algo, u.offset, u.len, io, progress)
                            };
                            match value {
                                Ok(value) => done.extend(digest(i, value)),
                                Err(e) => {
                                    failed.store(true, Ordering::Relaxed);
                                    return Err(e);
                                }
                            }
                        }
                        Ok(done)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect()
        });
        let mut items = BTreeMap::new();
        for r in results {
            items.extend(r?);
        }
        for w in &self.walked {
            w.check_unchanged()?;
        }
        Ok(Manifest {
            model_name: self.model_name,
            items,
            serialization: self.serialization,
        })
    }
}

/// Hashes a model in one call (no progress reporting).
pub fn hash_model(model: &Path, opts: &HashOptions) -> Result<Manifest> {
    Plan::new(model, opts)?.hash(&|_| {})
}

fn walk(
    dir: &Path,
    canon_root: &Path,
    comps: &mut Vec<String>,
    opts: &HashOptions,
    ignored: &dyn Fn(&[String]) -> bool,
    out: &mut Vec<Walked>,
) -> Result<()> {
    if comps.len() >= MAX_DEPTH {
        return Err(Error::TooDeep(dir.to_path_buf()));
    }
    let rd = std::fs::read_dir(dir).map_err(|e| Error::io("listing", dir, e))?;
    for entry in rd {
        let entry = entry.map_err(|e| Error::io("listing", dir, e))?;
        let path = entry.path();
        let name = entry
            .file_name()
            .into_string()
            .map_err(|_| Error::NonUtf8Path(path.clone()))?;
        comps.push(name);
        let res = visit(&path, canon_root, comps, opts, ignored, out);
        comps.pop();
        res?;
    }
    Ok(())
}

fn visit(
    path: &Path,
    canon_root: &Path,
    comps: &mut Vec<String>,
    opts: &HashOptions,
    ignored: &dyn Fn(&[String]) -> bool,
    out: &mut Vec<Walked>,
) -> Result<()> {
    if ignored(comps) {
        return Ok(());
    }
    let lmeta = std::fs::symlink_metadata(path).map_err(|e| Error::io("reading", path, e))?;
    let ft = lmeta.file_type();
    if ft.is_symlink() {
        if !opts.allow_symlinks {
            return Err(Error::SymlinkNotAllowed(path.to_path_buf()));
        }
        // Broken links and loops fail here, as in model-signing.
        let meta = std::fs::metadata(path).map_err(|_| Error::NotFileOrDir(path.to_path_buf()))?;
        let target =
            std::fs::canonicalize(path).map_err(|_| Error::NotFileOrDir(path.to_path_buf()))?;
        if !target.starts_with(canon_root) {
            return Err(Error::EscapingSymlink {
                path: path.to_path_buf(),
                target,
            });
        }
        // model-signing hashes the target of a file link. It neither descends into linked
        // directories nor records them, so retargeting one would go unnoticed: refused.
        if meta.is_file() {
            out.push(Walked::new(comps.clone(), path.to_path_buf(), &meta));
        } else if meta.is_dir() {
            return Err(Error::DirectorySymlink(path.to_path_buf()));
        } else {
            return Err(Error::NotFileOrDir(path.to_path_buf()));
        }
    } else if ft.is_dir() {
        walk(path, canon_root, comps, opts, ignored, out)?;
    } else if ft.is_file() {
        out.push(Walked::new(comps.clone(), path.to_path_buf(), &lmeta));
    } else {
        return Err(Error::NotFileOrDir(path.to_path_buf()));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn key(p: &str) -> ItemKey {
        ItemKey {
            path: normalize_rel(p).unwrap(),
            range: None,
        }
    }

    #[test]
    fn order_is_by_path_components_like_pathlib() {
        // "a.txt" < "a/b" as strings, but pathlib compares ["a","b"] < ["a.txt"].
        let mut v = [key("a.txt"), key("a/b"), key("a.b"), key("B")];
        v.sort();
        let names: Vec<_> = v.iter().map(ItemKey::identifier).collect();
        assert_eq!(names, ["B", "a/b", "a.b", "a.txt"]);
    }

    #[test]
    fn shard_names_parse_and_reject_escapes() {
        let m = Method::Shards { shard_size: 10 };
        let k = ItemKey::parse("dir/x:y:10:20", m, "s").unwrap();
        assert_eq!(k.path, ["dir", "x:y"]);
        assert_eq!(k.range, Some((10, 20)));
        assert_eq!(k.identifier(), "dir/x:y:10:20");
        assert!(ItemKey::parse("a:5:5", m, "s").is_err());
        assert!(ItemKey::parse("a:x:5", m, "s").is_err());
        assert!(ItemKey::parse("../etc/passwd", Method::Files, "s").is_err());
        assert!(ItemKey::parse("/etc/passwd", Method::Files, "s").is_err());
        assert_eq!(
            ItemKey::parse(".", Method::Files, "s").unwrap().path_str(),
            "."
        );
    }

    #[test]
    fn serialization_round_trips_and_accepts_float_shard_size() {
        let s = Serialization {
            method: Method::Shards { shard_size: 1000 },
            hash: HashAlgo::Sha256,
            allow_symlinks: true,
            ignore_paths: vec![".git".into()],
        };
        let v = s.to_json();
        assert_eq!(v["shard_size"], json!(1000));
        assert_eq!(Serialization::from_json(&v, "x").unwrap(), s);
        let py = json!({"method": "shards", "shard_size": 1000.0, "hash_type": "sha256", "allow_symlinks": true, "ignore_paths": [".git"]});
        assert_eq!(Serialization::from_json(&py, "x").unwrap(), s);
        assert_eq!(s.item_algorithm(), "sha256-sharded-1000");
        let bad = json!({"method": "shards", "shard_size": 0.5, "hash_type": "sha256"});
        assert!(Serialization::from_json(&bad, "x").is_err());
    }

    #[test]
    fn thread_counts_and_io_modes_give_the_same_manifest() {
        let d = tempfile::tempdir().unwrap();
        let m = d.path().join("m");
        std::fs::create_dir_all(m.join("sub")).unwrap();
        // Two files above the mapping threshold and many small ones.
        for (i, size) in [(0u8, 5usize << 20), (1, 9 << 20)] {
            let data: Vec<u8> = (0..size).map(|j| (j as u8) ^ i.wrapping_mul(31)).collect();
            std::fs::write(m.join(format!("shard-{i}.bin")), data).unwrap();
        }
        for i in 0..40 {
            std::fs::write(m.join("sub").join(format!("f{i}")), vec![i as u8; i * 97]).unwrap();
        }
        for method in [
            Method::Files,
            Method::Shards {
                shard_size: 3 << 20,
            },
        ] {
            let opts = HashOptions {
                method,
                ..Default::default()
            };
            let reference = Plan::new(&m, &opts)
                .unwrap()
                .threads(1)
                .interleave(false)
                .hash(&|_| {})
                .unwrap();
            assert_eq!(
                reference.items.len(),
                if method == Method::Files {
                    42
                } else {
                    2 + 3 + 39
                }
            );
            for (threads, io, interleave) in [1, 2, 3, 64]
                .into_iter()
                .flat_map(|t| [(t, IoMode::Read), (t, IoMode::Mapped)])
                .flat_map(|(t, io)| [(t, io, false), (t, io, true)])
            {
                let plan = Plan::new(&m, &opts)
                    .unwrap()
                    .threads(threads)
                    .io_mode(io)
                    .interleave(interleave);
                let total = plan.total_bytes();
                let seen = std::sync::atomic::AtomicU64::new(0);
                let got = plan
                    .hash(&|n| {
                        seen.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
                    })
                    .unwrap();
                assert_eq!(
                    got, reference,
                    "{method:?} threads={threads} {io:?} interleave={interleave}"
                );
                assert_eq!(seen.into_inner(), total);
            }
        }
        // The reference itself is plain SHA-256 of each file.
        let whole = Plan::new(&m, &HashOptions::default())
            .unwrap()
            .hash(&|_| {})
            .unwrap();
        let shard = ItemKey {
            path: vec!["shard-1.bin".into()],
            range: None,
        };
        use sha2::Digest as _;
        let expect = sha2::Sha256::digest(std::fs::read(m.join("shard-1.bin")).unwrap());
        assert_eq!(whole.items[&shard].value, expect.to_vec());
        // One file on more threads than units takes the pipelined path.
        let one = m.join("shard-1.bin");
        let a = Plan::new(&one, &HashOptions::default())
            .unwrap()
            .threads(1)
            .hash(&|_| {});
        let b = Plan::new(&one, &HashOptions::default())
            .unwrap()
            .threads(4)
            .hash(&|_| {});
        assert_eq!(a.unwrap(), b.unwrap());
    }

    #[test]
    fn hashes_directory_with_ignores_and_shards() {
        let d = tempfile::tempdir().unwrap();
        let m = d.path().join("m");
        std::fs::create_dir_all(m.join("sub")).unwrap();
        std::fs::create_dir_all(m.join(".git")).unwrap();
        std::fs::write(m.join("sub/b.bin"), b"x\n").unwrap();
        std::fs::write(m.join("a.txt"), b"hello\n").unwrap();
        std::fs::write(m.join(".git/HEAD"), b"ref").unwrap();
        std::fs::write(m.join("model.sig"), b"{}").unwrap();
        std::fs::write(m.join("empty"), b"").unwrap();
        let opts = HashOptions {
            ignore_paths: vec!["model.sig".into()],
            ..Default::default()
        };
        let man = hash_model(&m, &opts).unwrap();
        let names: Vec<_> = man.items.keys().map(ItemKey::identifier).collect();
        assert_eq!(names, ["a.txt", "empty", "sub/b.bin"]);
        assert_eq!(man.model_name, "m");
        // Digests from model_signing 1.1.1 on the same content.
        assert_eq!(
            hex::encode(&man.items[&key("a.txt")].value),
            "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
        );
        assert_eq!(
            man.serialization.ignore_paths,
            [
                ".git",
                ".gitattributes",
                ".github",
                ".gitignore",
                "model.sig"
            ]
        );

        let opts = HashOptions {
            method: Method::Shards { shard_size: 4 },
            ..opts
        };
        let man = hash_model(&m, &opts).unwrap();
        let names: Vec<_> = man.items.keys().map(ItemKey::identifier).collect();
        assert_eq!(names, ["a.txt:0:4", "a.txt:4:6", "sub/b.bin:0:2"]);
        assert_eq!(
            man.items[&ItemKey::parse("a.txt:4:6", opts.method, "").unwrap()].value,
            HashAlgo::Sha256.digest(b"o\n")
        );
    }

    #[test]
    fn single_file_model_is_named_dot() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("w.bin");
        std::fs::write(&f, b"abc").unwrap();
        let man = hash_model(&f, &HashOptions::default()).unwrap();
        assert_eq!(man.model_name, "w.bin");
        assert_eq!(
            man.items
                .keys()
                .map(ItemKey::identifier)
                .collect::<Vec<_>>(),
            ["."]
        );
    }

    #[cfg(unix)]
    #[test]
    fn symlink_policy() {
        let d = tempfile::tempdir().unwrap();
        let m = d.path().join("m");
        std::fs::create_dir(&m).unwrap();
        std::fs::write(m.join("real"), b"data").unwrap();
        std::os::unix::fs::symlink("real", m.join("link")).unwrap();
        let err = hash_model(&m, &HashOptions::default()).unwrap_err();
        assert!(
            matches!(err, Error::SymlinkNotAllowed(ref p) if p.ends_with("link")),
            "{err}"
        );
        let opts = HashOptions {
            allow_symlinks: true,
            ..Default::default()
        };
        let man = hash_model(&m, &opts).unwrap();
        assert_eq!(man.items[&key("link")].value, man.items[&key("real")].value);

        std::os::unix::fs::symlink("loop", m.join("loop")).unwrap();
        let err = hash_model(&m, &opts).unwrap_err();
        assert!(
            matches!(err, Error::NotFileOrDir(ref p) if p.ends_with("loop")),
            "{err}"
        );
        std::fs::remove_file(m.join("loop")).unwrap();

        std::fs::write(d.path().join("outside"), b"secret").unwrap();
        std::os::unix::fs::symlink("../outside", m.join("esc")).unwrap();
        let err = hash_model(&m, &opts).unwrap_err();
        assert!(matches!(err, Error::EscapingSymlink { .. }), "{err}");
        std::fs::remove_file(m.join("esc")).unwrap();

        std::fs::create_dir(m.join("sub")).unwrap();
        std::os::unix::fs::symlink("sub", m.join("subdir-link")).unwrap();
        let err = hash_model(&m, &opts).unwrap_err();
        assert!(
            matches!(err, Error::DirectorySymlink(ref p) if p.ends_with("subdir-link")),
            "{err}"
        );
    }

    #[test]
    fn a_file_changed_while_hashing_is_an_error_in_every_io_mode() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("w.bin");
        std::fs::write(&f, vec![7u8; 1 << 20]).unwrap();
        for mode in [IoMode::Read, IoMode::Mapped] {
            let plan = Plan::new(&f, &HashOptions::default())
                .unwrap()
                .io_mode(mode);
            // Truncate between the walk and the hashing: the plan still expects 1 MiB.
            std::fs::write(&f, vec![7u8; 1000]).unwrap();
            let err = plan.hash(&|_| {}).unwrap_err();
            assert!(
                matches!(err, Error::Changed { ref what, .. } if what == "size 1048576 -> 1000 bytes"),
                "{mode:?}: {err}"
            );
            std::fs::write(&f, vec![7u8; 1 << 20]).unwrap();
        }
        // Same size, rewritten: the modification time tells.
        let plan = Plan::new(&f, &HashOptions::default()).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(&f, vec![8u8; 1 << 20]).unwrap();
        let err = plan.hash(&|_| {}).unwrap_err();
        assert!(
            matches!(err, Error::Changed { ref what, .. } if what == "modified"),
            "{err}"
        );
    }

    #[test]
    fn diff_reports_changed_added_missing_by_file() {
        let d = tempfile::tempdir().unwrap();
        let m = d.path().join("m");
        std::fs::create_dir(&m).unwrap();
        for f in ["a", "b", "c"] {
            std::fs::write(m.join(f), f).unwrap();
        }
        let opts = HashOptions {
            method: Method::Shards { shard_size: 1 },
            ..Default::default()
        };
        let before = hash_model(&m, &opts).unwrap();
        std::fs::write(m.join("a"), b"aa").unwrap();
        std::fs::remove_file(m.join("b")).unwrap();
        std::fs::write(m.join("d"), b"d").unwrap();
        let after = hash_model(&m, &opts).unwrap();
        let dd = diff(&before, &after);
        assert_eq!(dd.changed, ["a"]);
        assert_eq!(dd.missing, ["b"]);
        assert_eq!(dd.added, ["d"]);
        assert!(diff(&before, &before).is_empty());
    }

    proptest::proptest! {
        #[test]
        fn identifiers_round_trip(
            path in proptest::collection::vec("[a-zA-Z0-9_.:-]{1,8}", 0..4),
            start in 0u64..1 << 40,
            len in 1u64..1 << 30,
        ) {
            proptest::prop_assume!(path.iter().all(|c| c != "." && c != ".."));
            let files = ItemKey { path: path.clone(), range: None };
            proptest::prop_assert_eq!(ItemKey::parse(&files.identifier(), Method::Files, "p").unwrap(), files);
            let shard = ItemKey { path, range: Some((start, start + len)) };
            let m = Method::Shards { shard_size: len };
            proptest::prop_assert_eq!(ItemKey::parse(&shard.identifier(), m, "p").unwrap(), shard);
        }
    }
}
