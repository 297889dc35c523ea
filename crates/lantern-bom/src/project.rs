//! Walks a project tree and builds its [`Inventory`]: local models and datasets (hashed),
//! libraries from manifests and lockfiles, and models/datasets referenced by code and cards.

use crate::classify::{self, FileClass, ModelFormat};
use crate::component::{
    Component, Ecosystem, Hash, Inventory, Kind, License, ModelCard, Occurrence, Scope,
};
use crate::hf;
use crate::lockfiles::{self, python, FileKind, Format, Package};
use crate::purl::{self, HubKind};
use crate::refs::{self, RefKind, Reference};
use crate::safetensors;
use crate::usage::{self, Usage};
use crate::{Annotator, Error, Result};
use lantern_core::Warning;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Directory names never descended into: VCS data, dependency trees whose lockfiles are read
/// instead, virtual environments, caches and build output. Directories holding a `CACHEDIR.TAG`
/// or a `pyvenv.cfg` are skipped too, whatever their name.
pub const SKIP_DIRS: &[&str] = &[
    ".git",
    ".hg",
    ".svn",
    "node_modules",
    ".venv",
    "venv",
    ".tox",
    ".nox",
    "__pycache__",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    "site-packages",
    "target",
    ".cache",
    ".ipynb_checkpoints",
    "dist-packages",
];

/// Deepest directory level walked.
pub const MAX_DEPTH: usize = 48;

/// Maximum depth of `-r` requirement includes.
const MAX_INCLUDE_DEPTH: usize = 8;

/// Fewest images in a folder (with its class subfolders) that make an image dataset.
const MIN_IMAGES: usize = 2;

struct FileEntry {
    rel: String,
    abs: PathBuf,
    name: String,
    dir: String,
    size: u64,
}

fn rel_string(p: &Path) -> String {
    p.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

fn parent_of(rel: &str) -> String {
    rel.rsplit_once('/')
        .map(|(d, _)| d.to_string())
        .unwrap_or_default()
}

fn walk(root: &Path, warnings: &mut Vec<Warning>) -> Result<Vec<FileEntry>> {
    let meta = std::fs::metadata(root)
        .map_err(|source| Error::Io(lantern_core::IoError::new(root.display(), source)))?;
    if meta.is_file() {
        let name = root
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        return Ok(vec![FileEntry {
            rel: name.clone(),
            abs: root.to_path_buf(),
            name,
            dir: String::new(),
            size: meta.len(),
        }]);
    }
    let mut out = Vec::new();
    let mut stack = vec![(root.to_path_buf(), 0usize)];
    while let Some((dir, depth)) = stack.pop() {
        let rd = match std::fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) => {
                warnings.push(Warning::new(
                    dir.display().to_string(),
                    format!("cannot list directory: {e}"),
                ));
                continue;
            }
        };
        let mut entries: Vec<_> = rd.filter_map(|e| e.ok()).collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries.into_iter().rev() {
            let Ok(ft) = e.file_type() else { continue };
            let path = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if ft.is_symlink() {
                continue;
            }
            if ft.is_dir() {
                // Cache and build directories tagged per the Cache Directory Tagging spec (cargo
                // target dirs) and virtual environments of any name are not the project.
                if SKIP_DIRS.contains(&name.as_str())
                    || path.join("CACHEDIR.TAG").is_file()
                    || path.join("pyvenv.cfg").is_file()
                {
                    continue;
                }
                if depth + 1 > MAX_DEPTH {
                    warnings.push(Warning::new(
                        path.display().to_string(),
                        "directory nesting limit reached",
                    ));
                    continue;
                }
                stack.push((path, depth + 1));
            } else if ft.is_file() {
                let rel = rel_string(path.strip_prefix(root).unwrap_or(&path));
                let size = e.metadata().map(|m| m.len()).unwrap_or(0);
                out.push(FileEntry {
                    dir: parent_of(&rel),
                    rel,
                    abs: path,
                    name,
                    size,
                });
            }
        }
    }
    out.sort_by(|a, b| a.rel.cmp(&b.rel));
    Ok(out)
}

fn read_head(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut f = File::open(path)?;
    let mut buf = Vec::with_capacity(classify::HEAD_LEN);
    (&mut f)
        .take(classify::HEAD_LEN as u64)
        .read_to_end(&mut buf)?;
    Ok(buf)
}

fn read_text(path: &Path, limit: u64) -> std::io::Result<Option<String>> {
    let f = File::open(path)?;
    let mut buf = Vec::new();
    f.take(limit + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > limit {
        return Ok(None);
    }
    Ok(Some(String::from_utf8_lossy(&buf).into_owned()))
}

/// SHA-256 of a file, streamed.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut f = File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// Digest of a set of files, reproducible with `sha256sum`: the SHA-256 of the sorted lines
/// `<sha256>  <path relative to the directory>\n`.
pub fn manifest_digest(files: &[(String, String)]) -> String {
    let mut lines: Vec<String> = files.iter().map(|(p, h)| format!("{h}  {p}\n")).collect();
    lines.sort();
    hex::encode(Sha256::digest(lines.concat().as_bytes()))
}

fn occurrence(location: &str, line: Option<u32>, symbol: Option<&str>) -> Occurrence {
    Occurrence {
        location: location.to_string(),
        line,
        symbol: symbol.map(str::to_string),
        usage: None,
    }
}

/// Components by bom-ref: a list (components are large; they are not moved while the map
/// grows) and a hash index into it.
#[derive(Default)]
struct Components {
    index: HashMap<String, usize>,
    list: Vec<Component>,
}

impl Components {
    fn get_mut(&mut self, bom_ref: &str) -> Option<&mut Component> {
        let i = *self.index.get(bom_ref)?;
        self.list.get_mut(i)
    }

    fn insert(&mut self, c: Component) {
        self.index.insert(c.bom_ref.clone(), self.list.len());
        self.list.push(c);
    }

    fn values_mut(&mut self) -> std::slice::IterMut<'_, Component> {
        self.list.iter_mut()
    }

    /// The components sorted by kind (models, data, libraries, files), then bom-ref.
    fn into_sorted(self) -> Vec<Component> {
        let order = |k: Kind| match k {
            Kind::Model => 0,
            Kind::Data => 1,
            Kind::Library => 2,
            Kind::File => 3,
        };
        // Sort positions, not the large components themselves.
        let mut keys: Vec<(u8, &str, usize)> = self
            .list
            .iter()
            .enumerate()
            .map(|(i, c)| (order(c.kind), c.bom_ref.as_str(), i))
            .collect();
        keys.sort_unstable();
        let positions: Vec<usize> = keys.into_iter().map(|(_, _, i)| i).collect();
        let mut slots: Vec<Option<Component>> = self.list.into_iter().map(Some).collect();
        positions
            .into_iter()
            .filter_map(|i| slots.get_mut(i).and_then(Option::take))
            .collect()
    }
}

/// State while building an inventory.
struct Builder<'a> {
    warnings: Vec<Warning>,
    components: Components,
    direct: BTreeSet<String>,
    edges: BTreeMap<String, Vec<String>>,
    annotator: Option<&'a dyn Annotator>,
}

impl<'a> Builder<'a> {
    fn new(annotator: Option<&'a dyn Annotator>) -> Self {
        Builder {
            warnings: Vec::new(),
            components: Components::default(),
            direct: BTreeSet::new(),
            edges: BTreeMap::new(),
            annotator,
        }
    }

    /// Add a local model or dataset the project depends on directly.
    fn add_local(&mut self, c: Component) {
        let r = self.upsert(c);
        self.direct.insert(r);
    }

    /// Run the property hook on local models and datasets.
    fn annotate(&mut self) {
        let Some(a) = self.annotator else { return };
        for c in self.components.values_mut() {
            if let Some(p) = c.local_path.clone() {
                for (n, v) in a.annotate(c, &p) {
                    c.set_property(n, v);
                }
            }
        }
    }

    /// The inventory, components sorted by kind then bom-ref, and the sorted warnings.
    fn finish(self, project: String) -> (Inventory, Vec<Warning>) {
        let components = self.components.into_sorted();
        let mut warnings = self.warnings;
        warnings.sort();
        warnings.dedup();
        let inv = Inventory {
            project,
            components,
            direct: self.direct.into_iter().collect(),
            package_edges: self.edges,
        };
        (inv, warnings)
    }

    fn warn(&mut self, path: &str, msg: impl Into<String>) {
        self.warnings.push(Warning::new(path, msg));
    }

    fn hash(&mut self, f: &FileEntry) -> Option<String> {
        match sha256_file(&f.abs) {
            Ok(h) => Some(h),
            Err(e) => {
                self.warn(&f.rel, format!("cannot hash file: {e}"));
                None
            }
        }
    }

    fn upsert(&mut self, c: Component) -> String {
        let r = c.bom_ref.clone();
        match self.components.get_mut(&r) {
            Some(existing) => {
                existing.scope = merge_scope(existing.scope, c.scope);
                for o in c.occurrences {
                    existing.add_occurrence(o);
                }
                for (n, v) in c.properties {
                    existing.set_property(n, v);
                }
                for l in c.licenses {
                    if !existing.licenses.contains(&l) {
                        existing.licenses.push(l);
                    }
                }
            }
            None => self.components.insert(c),
        }
        r
    }

    /// An external hub model or dataset component.
    fn hub_component(
        &mut self,
        kind: RefKind,
        id: &str,
        revision: Option<&str>,
        occ: Occurrence,
    ) -> String {
        let mut c = match kind {
            RefKind::ModelUrl => url_model(id),
            _ => hub_ref_component(kind, id, revision),
        };
        c.set_property(
            "lantern:origin",
            match kind {
                RefKind::Ollama => "ollama",
                RefKind::ApiModel => "api",
                RefKind::ModelUrl => "url",
                _ => "huggingface",
            },
        );
        let ckind = c.kind;
        if ckind == Kind::Model {
            c.model_card = Some(ModelCard::default());
        }
        c.add_occurrence(occ);
        self.upsert(c)
    }
}

/// A hub, Ollama or hosted API model or dataset named by `id`.
fn hub_ref_component(kind: RefKind, id: &str, revision: Option<&str>) -> Component {
    let (ckind, purl) = match kind {
        RefKind::HfDataset => (
            Kind::Data,
            purl::huggingface(id, revision, HubKind::Dataset),
        ),
        RefKind::Ollama => (Kind::Model, purl::ollama(id, revision)),
        RefKind::ApiModel | RefKind::ModelUrl => (Kind::Model, String::new()),
        RefKind::HfModel => (Kind::Model, purl::huggingface(id, revision, HubKind::Model)),
    };
    // Hosted API models have no package URL: the bom-ref names the provider and model.
    let bom_ref = if purl.is_empty() {
        format!("api:{id}")
    } else {
        purl.clone()
    };
    let (group, name) = match id.split_once('/') {
        Some((g, n)) => (Some(g.to_string()), n.to_string()),
        None => (None, id.to_string()),
    };
    let mut c = Component::new(ckind, bom_ref, name);
    c.group = group;
    c.version = revision.map(str::to_string);
    c.purl = (!purl.is_empty()).then_some(purl);
    c
}

/// Model weights downloaded from a URL: named by the file, grouped by the host, with the
/// SHA-256 the URL's path carries (whisper's checkpoints) as its hash.
fn url_model(url: &str) -> Component {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let name = path.rsplit('/').next().unwrap_or(path);
    let host = path
        .split_once("://")
        .map(|(_, r)| r.split('/').next().unwrap_or(r));
    let mut c = Component::new(Kind::Model, format!("url:{url}"), name);
    c.group = host.map(str::to_string);
    if let Some(h) = refs::url_sha256(url).and_then(|h| Hash::checked("SHA-256", h)) {
        c.hashes.push(h);
    }
    c.set_property("lantern:url", url);
    c
}

fn model_dir_component(
    b: &mut Builder<'_>,
    dir: &str,
    files: &[&FileEntry],
    root_name: &str,
) -> Component {
    let name = if dir.is_empty() {
        root_name.to_string()
    } else {
        dir.rsplit('/').next().unwrap_or(dir).to_string()
    };
    let mut c = Component::new(Kind::Model, format!("model:{dir}/"), name);
    c.set_property(
        "lantern:path",
        format!("{dir}/").trim_start_matches('/').to_string(),
    );
    let mut card = ModelCard::default();
    let mut formats = BTreeSet::new();
    let mut params: u64 = 0;
    let mut tensors: u64 = 0;
    let mut have_params = false;
    let mut manifest = Vec::new();
    let prefix = if dir.is_empty() {
        String::new()
    } else {
        format!("{dir}/")
    };
    for f in files {
        let inner = f.rel.strip_prefix(&prefix).unwrap_or(&f.rel).to_string();
        let head = read_head(&f.abs).unwrap_or_default();
        let class = classify::classify(&f.name, &head);
        if let Some(FileClass::Model(fmt)) = class {
            formats.insert(fmt.as_str());
            if fmt == ModelFormat::Safetensors {
                match File::open(&f.abs)
                    .map_err(|e| e.to_string())
                    .and_then(|r| safetensors::parse(r, f.size))
                {
                    Ok(info) => {
                        params = params.saturating_add(info.parameters);
                        tensors = tensors.saturating_add(info.tensors);
                        have_params = true;
                    }
                    Err(e) => b.warn(&f.rel, e),
                }
            }
        }
        let mut child = Component::new(Kind::File, format!("file:{}", f.rel), inner.clone());
        if let Some(h) = b.hash(f) {
            manifest.push((inner.clone(), h.clone()));
            child.hashes.push(Hash::sha256(h));
        }
        child.set_property("lantern:size", f.size.to_string());
        if let Some(FileClass::Model(fmt)) = class {
            child.set_property("lantern:format", fmt.as_str());
        }
        c.children.push(child);

        if f.name.eq_ignore_ascii_case("config.json") && f.dir == dir {
            match read_text(&f.abs, hf::MAX_CARD)
                .map_err(|e| e.to_string())
                .and_then(|t| {
                    t.ok_or_else(|| "config.json larger than 1 MiB".to_string())
                        .and_then(|t| hf::parse_config(t.as_bytes()))
                }) {
                Ok(cfg) => {
                    card.architecture_family = cfg.model_type;
                    card.model_architecture = cfg.architecture;
                    if let Some(dt) = cfg.torch_dtype {
                        card.properties.push(("torch_dtype".into(), dt));
                    }
                }
                Err(e) => b.warn(&f.rel, e),
            }
        }
        if f.name.eq_ignore_ascii_case("README.md") && f.dir == dir {
            match read_text(&f.abs, hf::MAX_CARD) {
                Ok(Some(t)) => match hf::parse_card(&t) {
                    Ok(Some(meta)) => apply_card(b, &mut c, &mut card, meta, &f.rel),
                    Ok(None) => {}
                    Err(e) => b.warn(&f.rel, e),
                },
                Ok(None) => {}
                Err(e) => b.warn(&f.rel, format!("cannot read: {e}")),
            }
        }
    }
    if have_params {
        card.properties
            .push(("parameters".into(), params.to_string()));
        card.properties
            .push(("tensors".into(), tensors.to_string()));
        c.set_property("lantern:parameters", params.to_string());
    }
    c.set_property(
        "lantern:format",
        formats.into_iter().collect::<Vec<_>>().join(","),
    );
    c.set_property("lantern:manifest-sha256", manifest_digest(&manifest));
    c.set_property("lantern:files", files.len().to_string());
    card.properties.sort();
    c.model_card = Some(card);
    c
}

fn apply_card(
    b: &mut Builder<'_>,
    c: &mut Component,
    card: &mut ModelCard,
    meta: hf::CardMeta,
    readme: &str,
) {
    c.licenses = meta.licenses.iter().map(|l| License::parse(l)).collect();
    card.task = meta.pipeline_tag;
    if let Some(t) = meta.title {
        c.description = Some(t);
    }
    if !meta.languages.is_empty() {
        card.properties
            .push(("language".into(), meta.languages.join(",")));
    }
    if let Some(l) = meta.library_name {
        card.properties.push(("library_name".into(), l));
    }
    // A hub model or dataset named by the card (not a placeholder): its bom-ref.
    let mut card_ref = |kind: RefKind, id: &str, key: &str| -> Option<String> {
        (hf::is_repo_id(id) && !usage::is_placeholder(id))
            .then(|| b.hub_component(kind, id, None, occurrence(readme, None, Some(key))))
    };
    for base in &meta.base_models {
        if let Some(r) = card_ref(RefKind::HfModel, base, "base_model") {
            c.add_dependency(&r);
            c.set_property("lantern:base-model", base.clone());
        }
    }
    for ds in &meta.datasets {
        if let Some(r) = card_ref(RefKind::HfDataset, ds, "datasets") {
            c.add_dependency(&r);
            if !card.datasets.contains(&r) {
                card.datasets.push(r);
            }
        }
    }
}

fn package_component(p: &Package, file: &str) -> Component {
    let purl = purl::package(p.ecosystem, &p.name, p.version.as_deref());
    let (group, name) = match (
        p.ecosystem,
        p.name.strip_prefix('@').and_then(|n| n.split_once('/')),
    ) {
        (Ecosystem::Npm, Some((scope, n))) => (Some(format!("@{scope}")), n.to_string()),
        _ => (None, p.name.clone()),
    };
    let mut c = Component::new(Kind::Library, purl.clone(), name);
    c.group = group;
    c.version = p.version.clone();
    c.purl = Some(purl);
    c.hashes = p.hashes.clone();
    c.scope = p.scope;
    c.set_property("lantern:ecosystem", p.ecosystem.purl_type());
    if let Some(k) = &p.constraint {
        c.set_property("lantern:version-constraint", k.clone());
    }
    c.add_occurrence(occurrence(file, p.line, None));
    c
}

fn merge_scope(a: Option<Scope>, b: Option<Scope>) -> Option<Scope> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

/// A manifest or lockfile with its packages.
struct DepFile {
    rel: String,
    format: Format,
    packages: Vec<Package>,
}

/// Read and parse every manifest and lockfile (requirements includes resolved inside `root`).
fn parse_dependency_files(b: &mut Builder<'_>, files: &[FileEntry], root: &Path) -> Vec<DepFile> {
    let mut parsed = Vec::new();
    for f in files {
        let Some(format) = Format::detect(&f.name) else {
            continue;
        };
        if f.size > lockfiles::MAX_LOCKFILE {
            b.warn(&f.rel, "manifest larger than 64 MiB, skipped");
            continue;
        }
        let text = match read_text(&f.abs, lockfiles::MAX_LOCKFILE) {
            Ok(Some(t)) => t,
            Ok(None) => continue,
            Err(e) => {
                b.warn(&f.rel, format!("cannot read: {e}"));
                continue;
            }
        };
        let result = if format == Format::Requirements {
            let mut seen = BTreeSet::new();
            Ok(requirements_with_includes(
                b, &f.abs, &f.rel, &text, root, 0, &mut seen,
            ))
        } else {
            format.parse(&text)
        };
        match result {
            Ok(packages) => parsed.push(DepFile {
                rel: f.rel.clone(),
                format,
                packages,
            }),
            Err(e) => b.warn(&f.rel, e),
        }
    }
    parsed
}

/// A library's identity for merging: ecosystem and normalised name.
type NameKey = (Ecosystem, String);

fn name_key(p: &Package) -> NameKey {
    (p.ecosystem, purl::normalize_name(p.ecosystem, &p.name))
}

/// What is known of the libraries while merging manifests and lockfiles.
#[derive(Default)]
struct Libraries {
    /// Names declared directly by any manifest, with their scope.
    declared: HashMap<NameKey, Option<Scope>>,
    /// Directories holding a manifest, per ecosystem: a lockfile beside one that does not mark
    /// direct dependencies itself (poetry.lock, Pipfile.lock, package-lock v1) can then call
    /// every undeclared package transitive.
    manifest_dirs: HashSet<(Ecosystem, String)>,
    /// bom-refs of the locked versions of each name.
    by_name: HashMap<NameKey, Vec<String>>,
    /// Whether each library is direct, when some file could tell.
    direct: HashMap<String, bool>,
    /// Dependency names of each locked package, resolved once every lockfile is read.
    pending_edges: Vec<(String, Ecosystem, Vec<String>)>,
}

impl Libraries {
    fn new(manifests: &[DepFile]) -> Self {
        let mut l = Libraries::default();
        for m in manifests {
            l.manifest_dirs
                .insert((m.format.ecosystem(), parent_of(&m.rel)));
            for p in &m.packages {
                let e = l.declared.entry(name_key(p)).or_insert(p.scope);
                *e = merge_scope(*e, p.scope);
            }
        }
        l
    }

    fn mark_direct(&mut self, r: &str, d: bool) {
        match self.direct.get_mut(r) {
            Some(e) => *e |= d,
            None => {
                self.direct.insert(r.to_string(), d);
            }
        }
    }

    /// Every locked package: a component at its resolved version.
    fn add_locked(&mut self, b: &mut Builder<'_>, lock: DepFile) {
        let dir = parent_of(&lock.rel);
        for p in lock.packages {
            let key = name_key(&p);
            let mut c = package_component(&p, &lock.rel);
            let decl = self.declared.get(&key);
            let direct = match (p.direct, decl) {
                (Some(true), _) | (_, Some(_)) => Some(true),
                (Some(false), None) => Some(false),
                (None, None) => self
                    .manifest_dirs
                    .contains(&(p.ecosystem, dir.clone()))
                    .then_some(false),
            };
            c.scope = merge_scope(p.scope, decl.copied().flatten());
            let r = b.upsert(c);
            if let Some(d) = direct {
                self.mark_direct(&r, d);
            }
            if !p.depends.is_empty() {
                self.pending_edges.push((r.clone(), p.ecosystem, p.depends));
            }
            self.by_name.entry(key).or_default().push(r);
        }
    }

    /// Every declared package: where a lockfile has the name, the manifest's line and
    /// constraint are added to the locked component; otherwise it is a component of its own.
    fn add_declared(&mut self, b: &mut Builder<'_>, manifest: &DepFile) {
        for p in &manifest.packages {
            let Some(refs) = self.by_name.get(&name_key(p)) else {
                let r = b.upsert(package_component(p, &manifest.rel));
                self.mark_direct(&r, true);
                continue;
            };
            for r in refs {
                if let Some(c) = b.components.get_mut(r) {
                    c.add_occurrence(occurrence(&manifest.rel, p.line, None));
                    if let Some(k) = &p.constraint {
                        c.set_property("lantern:version-constraint", k.clone());
                    }
                }
            }
        }
    }

    /// Direct/transitive marks, and the dependency edges between locked packages.
    fn finish(self, b: &mut Builder<'_>) {
        for (r, d) in &self.direct {
            if let Some(c) = b.components.get_mut(r) {
                c.set_property(
                    "lantern:dependency",
                    if *d { "direct" } else { "transitive" },
                );
            }
            if *d {
                b.direct.insert(r.clone());
            }
        }
        // Libraries whose directness no file could tell still belong to the project.
        for r in self.by_name.values().flatten() {
            if !self.direct.contains_key(r) {
                b.direct.insert(r.clone());
            }
        }
        for (from, eco, names) in self.pending_edges {
            let mut to: Vec<String> = names
                .iter()
                .filter_map(|n| self.by_name.get(&(eco, purl::normalize_name(eco, n))))
                .filter_map(|refs| refs.first().cloned())
                .filter(|t| *t != from)
                .collect();
            to.sort();
            to.dedup();
            let e = b.edges.entry(from).or_default();
            e.extend(to);
            e.sort();
            e.dedup();
        }
    }
}

/// Libraries from manifests and lockfiles: lockfiles give the resolved versions, manifests the
/// direct dependencies and their constraints.
fn libraries(b: &mut Builder<'_>, files: &[FileEntry], root: &Path) {
    let (locks, manifests): (Vec<DepFile>, Vec<DepFile>) = parse_dependency_files(b, files, root)
        .into_iter()
        .partition(|f| f.format.kind() == FileKind::Lockfile);
    let mut libs = Libraries::new(&manifests);
    for lock in locks {
        libs.add_locked(b, lock);
    }
    for m in &manifests {
        libs.add_declared(b, m);
    }
    libs.finish(b);
}

/// Whether `path` (canonical) lies inside the scanned `root`: the directory itself, or the
/// directory holding it when the root is a single file.
fn inside_root(root: &Path, path: &Path) -> bool {
    let base = if root.is_dir() {
        root
    } else {
        match root.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        }
    };
    std::fs::canonicalize(base).is_ok_and(|b| path.starts_with(b))
}

fn requirements_with_includes(
    b: &mut Builder<'_>,
    abs: &Path,
    rel: &str,
    text: &str,
    root: &Path,
    depth: usize,
    seen: &mut BTreeSet<PathBuf>,
) -> Vec<Package> {
    seen.insert(std::fs::canonicalize(abs).unwrap_or_else(|_| abs.to_path_buf()));
    let canon_root = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    let dir = abs.parent().unwrap_or(root).to_path_buf();
    let mut nested_warnings = Vec::new();
    let mut refused = Vec::new();
    let mut include = |name: &str| -> Option<Vec<Package>> {
        // Symlinks resolved first: an include is read only when it really is inside the root.
        let path = std::fs::canonicalize(dir.join(name)).ok()?;
        if !inside_root(root, &path) {
            refused.push(name.to_string());
            return Some(Vec::new());
        }
        if depth >= MAX_INCLUDE_DEPTH || seen.contains(&path) {
            return Some(Vec::new());
        }
        if !path.is_file() {
            return None; // a directory, pipe or device: never opened
        }
        let text = read_text(&path, lockfiles::MAX_LOCKFILE).ok().flatten()?;
        let inner_rel = rel_string(path.strip_prefix(&canon_root).unwrap_or(&path));
        let mut sub = Builder::new(None);
        let pkgs =
            requirements_with_includes(&mut sub, &path, &inner_rel, &text, root, depth + 1, seen);
        nested_warnings.extend(sub.warnings);
        Some(pkgs)
    };
    let (mut pkgs, missing) = python::parse_requirements(text, &mut include);
    b.warnings.extend(nested_warnings);
    for m in missing {
        b.warn(rel, format!("cannot read included requirements file `{m}`"));
    }
    for r in refused {
        b.warn(
            rel,
            format!("included requirements file `{r}` is outside the scanned root: not read"),
        );
    }
    // Packages from includes carry lines of their own file; keep them but they point here.
    for p in &mut pkgs {
        p.direct = Some(true);
    }
    pkgs
}

/// Classify every file once from its name and head.
fn classify_files(b: &mut Builder<'_>, files: &[FileEntry]) -> Vec<Option<FileClass>> {
    files
        .iter()
        .map(|f| match read_head(&f.abs) {
            Ok(head) => classify::classify(&f.name, &head),
            Err(e) => {
                b.warn(&f.rel, format!("cannot read: {e}"));
                None
            }
        })
        .collect()
}

/// Directories holding weights plus a config, card or adapter config.
fn model_dir_paths(files: &[FileEntry], classes: &[Option<FileClass>]) -> Vec<String> {
    let mut weight_dirs: BTreeSet<String> = BTreeSet::new();
    let mut marker_dirs: BTreeSet<String> = BTreeSet::new();
    for (f, class) in files.iter().zip(classes) {
        if matches!(class, Some(FileClass::Model(_))) {
            weight_dirs.insert(f.dir.clone());
        }
        let n = f.name.to_ascii_lowercase();
        // A README marks a model directory below the root only: at the root it is the
        // project's own README.
        let readme = n == "readme.md" && !f.dir.is_empty();
        if n == "config.json" || n == "adapter_config.json" || readme || n.ends_with(".index.json")
        {
            marker_dirs.insert(f.dir.clone());
        }
    }
    weight_dirs
        .into_iter()
        .filter(|d| marker_dirs.contains(d))
        .collect()
}

/// One component per model directory (its files as children); returns which files they took.
fn model_directories(
    b: &mut Builder<'_>,
    files: &[FileEntry],
    classes: &[Option<FileClass>],
    root: &Path,
    root_name: &str,
) -> Vec<bool> {
    let model_dirs = model_dir_paths(files, classes);
    let in_model_dir = |rel: &str| -> Option<&String> {
        model_dirs
            .iter()
            .filter(|d| d.is_empty() || rel.starts_with(&format!("{d}/")))
            .max_by_key(|d| d.len())
    };
    let mut consumed = vec![false; files.len()];
    for d in &model_dirs {
        let members: Vec<usize> = (0..files.len())
            .filter(|&i| in_model_dir(&files[i].rel) == Some(d))
            .collect();
        let refs: Vec<&FileEntry> = members.iter().map(|&i| &files[i]).collect();
        let mut c = model_dir_component(b, d, &refs, root_name);
        for i in members {
            consumed[i] = true;
        }
        c.local_path = Some(root.join(d));
        b.add_local(c);
    }
    consumed
}

/// A single model file outside a model directory.
fn model_file_component(b: &mut Builder<'_>, f: &FileEntry, fmt: ModelFormat) -> Component {
    let mut c = local_file_component(b, Kind::Model, "model", f, fmt.as_str());
    let mut card = ModelCard::default();
    if fmt == ModelFormat::Safetensors {
        match File::open(&f.abs)
            .map_err(|e| e.to_string())
            .and_then(|r| safetensors::parse(r, f.size))
        {
            Ok(info) => {
                c.set_property("lantern:parameters", info.parameters.to_string());
                card.properties
                    .push(("parameters".into(), info.parameters.to_string()));
                card.properties
                    .push(("tensors".into(), info.tensors.to_string()));
            }
            Err(e) => b.warn(&f.rel, e),
        }
    }
    c.model_card = Some(card);
    c
}

/// A local model or data file: hashed, with its path, format and size.
fn local_file_component(
    b: &mut Builder<'_>,
    kind: Kind,
    prefix: &str,
    f: &FileEntry,
    format: &str,
) -> Component {
    let mut c = Component::new(kind, format!("{prefix}:{}", f.rel), f.name.clone());
    if let Some(h) = b.hash(f) {
        c.hashes.push(Hash::sha256(h));
    }
    c.set_property("lantern:path", f.rel.clone());
    c.set_property("lantern:format", format);
    c.set_property("lantern:size", f.size.to_string());
    c.local_path = Some(f.abs.clone());
    c
}

/// Single model files and data files; returns the images per directory.
fn local_files(
    b: &mut Builder<'_>,
    files: &[FileEntry],
    classes: &[Option<FileClass>],
    consumed: &[bool],
) -> BTreeMap<String, Vec<usize>> {
    let mut image_dirs: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, (f, class)) in files.iter().zip(classes).enumerate() {
        if consumed[i] {
            continue;
        }
        match class {
            Some(FileClass::Model(fmt)) => {
                let c = model_file_component(b, f, *fmt);
                b.add_local(c);
            }
            Some(FileClass::Data(fmt)) => {
                let c = local_file_component(b, Kind::Data, "data", f, fmt.as_str());
                b.add_local(c);
            }
            Some(FileClass::Image) => image_dirs.entry(f.dir.clone()).or_default().push(i),
            None => {}
        }
    }
    image_dirs
}

/// Group image directories into datasets. ImageFolder layout: `root/<class>/*.jpg` is one
/// dataset rooted at `root` when the root holds no images itself and has two or more class
/// folders. Figure folders of READMEs and sites (`assets/`, `static/img/`) are no datasets.
fn image_dataset_roots(image_dirs: &BTreeMap<String, Vec<usize>>) -> BTreeMap<String, Vec<usize>> {
    let mut datasets: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    let mut class_count: BTreeMap<String, usize> = BTreeMap::new();
    for d in image_dirs.keys() {
        let p = parent_of(d);
        if !d.is_empty() && !image_dirs.contains_key(&p) {
            *class_count.entry(p).or_default() += 1;
        }
    }
    for (d, idx) in image_dirs {
        let p = parent_of(d);
        let root_dir = if !d.is_empty() && class_count.get(&p).copied().unwrap_or(0) >= 2 {
            p
        } else {
            d.clone()
        };
        datasets
            .entry(root_dir)
            .or_default()
            .extend(idx.iter().copied());
    }
    datasets.retain(|d, idx| idx.len() >= MIN_IMAGES && !usage::is_figure_dir(d));
    datasets
}

/// One dataset component per image folder.
fn image_datasets(
    b: &mut Builder<'_>,
    files: &[FileEntry],
    image_dirs: &BTreeMap<String, Vec<usize>>,
    root: &Path,
    root_name: &str,
) {
    for (d, idx) in image_dataset_roots(image_dirs) {
        let name = if d.is_empty() {
            root_name.to_string()
        } else {
            d.rsplit('/').next().unwrap_or(&d).to_string()
        };
        let mut c = Component::new(Kind::Data, format!("data:{d}/"), name);
        let prefix = if d.is_empty() {
            String::new()
        } else {
            format!("{d}/")
        };
        let mut manifest = Vec::new();
        let mut classes_seen = BTreeSet::new();
        for &i in &idx {
            let f = &files[i];
            let inner = f.rel.strip_prefix(&prefix).unwrap_or(&f.rel).to_string();
            if let Some((cls, _)) = inner.split_once('/') {
                classes_seen.insert(cls.to_string());
            }
            if let Some(h) = b.hash(f) {
                manifest.push((inner, h));
            }
        }
        c.set_property("lantern:path", prefix.clone());
        c.set_property("lantern:format", "image-folder");
        c.set_property("lantern:files", idx.len().to_string());
        if !classes_seen.is_empty() {
            c.set_property(
                "lantern:classes",
                classes_seen.into_iter().collect::<Vec<_>>().join(","),
            );
        }
        c.set_property("lantern:manifest-sha256", manifest_digest(&manifest));
        c.local_path = Some(root.join(&d));
        b.add_local(c);
    }
}

/// Extensionless files that are never YAML, whatever their first line looks like.
const NOT_YAML: &[&str] = &[
    "pkg-info",
    "metadata",
    "license",
    "licence",
    "copying",
    "notice",
    "authors",
    "codeowners",
    "makefile",
    "gnumakefile",
    "procfile",
    "readme",
    "changelog",
    "wheel",
    "record",
];

/// Whether a file of no known extension may be YAML (lm-eval's `_template_yaml`,
/// `openai_mmlu`), to be read as YAML when its content is ([`refs::looks_like_yaml`]).
fn maybe_yaml(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    let no_ext = !lower.trim_start_matches('.').contains('.');
    no_ext && !NOT_YAML.contains(&lower.as_str())
}

/// The text of a file that may hold references: sources and configs by name, YAML by content.
fn reference_text(b: &mut Builder<'_>, f: &FileEntry) -> Option<String> {
    if Format::detect(&f.name).is_some() || f.size > refs::MAX_SOURCE {
        return None;
    }
    let by_name = refs::is_reference_source(&f.name);
    if !by_name && !maybe_yaml(&f.name) {
        return None;
    }
    let text = match read_text(&f.abs, refs::MAX_SOURCE) {
        Ok(t) => t?,
        Err(e) => {
            b.warn(&f.rel, format!("cannot read: {e}"));
            return None;
        }
    };
    (by_name || refs::looks_like_yaml(&text)).then_some(text)
}

/// Models and datasets referenced by code and configuration.
fn references(b: &mut Builder<'_>, files: &[FileEntry]) {
    for f in files {
        let Some(text) = reference_text(b, f) else {
            continue;
        };
        for Reference {
            kind,
            id,
            revision,
            line,
            symbol,
            in_docstring,
        } in refs::scan_text(&f.name, &text)
        {
            let mut occ = occurrence(&f.rel, Some(line), Some(&symbol));
            occ.usage = in_docstring.then_some(Usage::Docs);
            let r = b.hub_component(kind, &id, revision.as_deref(), occ);
            b.direct.insert(r);
        }
    }
}

/// Usage (runtime, example, docs, test) of every component from the files naming it, with the
/// `lantern:scope` and `lantern:source` properties and the CycloneDX scope it implies.
fn assign_usage(components: &mut Components) {
    let mut cache: HashMap<String, Usage> = HashMap::new();
    let mut usage_of = |path: &str| -> Usage {
        if let Some(u) = cache.get(path) {
            return *u;
        }
        let u = usage::of_path(path);
        cache.insert(path.to_string(), u);
        u
    };
    for c in components.values_mut() {
        // The most binding use, and the first file (in sorted order) that uses it so.
        let best = c
            .occurrences
            .iter()
            .map(|o| (o.usage.unwrap_or_else(|| usage_of(&o.location)), Some(o)))
            .min_by_key(|(u, _)| *u);
        let local = c
            .property("lantern:path")
            .map(|p| (usage_of(p), p.to_string()));
        let (u, source) = match (best, local) {
            (Some((u, Some(o))), l) if l.as_ref().is_none_or(|(lu, _)| u <= *lu) => (
                u,
                match o.line {
                    Some(line) => format!("{}:{line}", o.location),
                    None => o.location.clone(),
                },
            ),
            (_, Some((u, p))) => (u, p),
            _ => {
                c.set_property("lantern:scope", Usage::Runtime.as_str());
                continue;
            }
        };
        c.usage = u;
        c.set_property("lantern:scope", u.as_str());
        c.set_property("lantern:source", source);
        if let Some(s) = u.cyclonedx_scope() {
            c.scope = Some(c.scope.map_or(s, |x| x.max(s)));
        }
    }
}

/// Build the inventory of the project at `root` (a directory or a single file).
pub fn inventory(
    root: &Path,
    annotator: Option<&dyn Annotator>,
) -> Result<(Inventory, Vec<Warning>)> {
    let mut b = Builder::new(annotator);
    let files = walk(root, &mut b.warnings)?;
    let root_name = std::fs::canonicalize(root)
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "project".to_string());
    let classes = classify_files(&mut b, &files);
    let consumed = model_directories(&mut b, &files, &classes, root, &root_name);
    let image_dirs = local_files(&mut b, &files, &classes, &consumed);
    image_datasets(&mut b, &files, &image_dirs, root, &root_name);
    references(&mut b, &files);
    libraries(&mut b, &files, root);
    b.annotate();
    assign_usage(&mut b.components);
    Ok(b.finish(root_name))
}
