//! Record-level diff of two dataset versions (data files, manifests, or `REV:PATH` read from
//! git): records added, removed and changed, with the changed fields, attributed to the commit
//! and author that last touched the line when the new version is a file tracked by git.

use crate::manifest::Manifest;
use crate::record::{self, field_digest, DatasetKind, ReadOptions, ReadSummary};
use crate::{git, Error, Result};
use lantern_core::{Category, CommitInfo, Finding, Location, Report, Severity, Warning};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};

/// Options of a diff.
#[derive(Debug, Clone, Default)]
pub struct DiffOptions {
    /// How to read data files.
    pub read: ReadOptions,
    /// Column identifying a record across versions; without it records are matched by content,
    /// then by shared field values.
    pub key: Option<String>,
    /// Attribute added and changed records with `git blame` when the new version is tracked.
    pub git: bool,
}

/// What happened to a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    /// Only in the new version.
    Added,
    /// Only in the old version.
    Removed,
    /// In both, with different field values.
    Changed,
}

/// One record-level change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// Added, removed or changed.
    pub kind: ChangeKind,
    /// Key value, when records are keyed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Line / row in the old version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_line: Option<u64>,
    /// Line / row in the new version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_line: Option<u64>,
    /// File, for folder datasets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Names of the fields that differ (changed records only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
    /// Old and new value of each changed field, in the order of `fields` (changed records
    /// only; empty when a side is a manifest, which holds digests, not values).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<FieldChange>,
    /// For a row that could not be parsed (digested as raw bytes): why, and its first
    /// characters when the side is data, not a manifest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unreadable: Option<String>,
    /// For added and changed records, the commit that last touched the new line; for removed
    /// records, the commit that removed the old line (when the versions live in git).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<CommitInfo>,
}

/// The old and new value of one changed field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldChange {
    /// Field name.
    pub field: String,
    /// Value in the old version (a JSON string for text, the JSON value otherwise); absent
    /// when the field is absent from the old record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<serde_json::Value>,
    /// Value in the new version; absent when the field is absent from the new record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new: Option<serde_json::Value>,
}

impl FieldChange {
    /// `field: old → new`, each value as compact JSON; long values are cut to about `width`
    /// characters around where they differ (`…` marks a cut, `∅` an absent field), and
    /// invisible and look-alike characters are escaped ([`crate::show`]).
    pub fn display(&self, width: usize) -> String {
        let text = |v: &Option<serde_json::Value>| v.as_ref().map(|v| v.to_string());
        let (old, new) = match (text(&self.old), text(&self.new)) {
            (Some(a), Some(b)) => crate::show::spans(&a, &b, width),
            (a, b) => {
                let one = |v: Option<String>| match v {
                    Some(v) => crate::show::visible(&clip(&v, width), crate::show::has_latin(&v)),
                    None => "\u{2205}".to_string(),
                };
                (one(a), one(b))
            }
        };
        format!(
            "{}: {} \u{2192} {}",
            crate::show::visible(&self.field, crate::show::has_latin(&self.field)),
            old,
            new
        )
    }
}

pub use crate::show::clip;

/// A field value as JSON: strings as JSON strings, other values parsed back from their
/// compact JSON form (kept as a string should that fail).
fn json_value(f: &record::Field) -> serde_json::Value {
    if f.is_string {
        return serde_json::Value::String(f.value.clone());
    }
    serde_json::from_str(&f.value).unwrap_or_else(|_| serde_json::Value::String(f.value.clone()))
}

/// Summary of one side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SideSummary {
    /// What was read (path, manifest or `REV:PATH`).
    pub source: String,
    /// Records.
    pub records: u64,
    /// Rows that could not be read.
    pub bad_records: u64,
    /// Merkle root over record digests (hex).
    pub merkle_root: String,
}

/// Result of a diff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiffResult {
    /// The old version.
    pub old: SideSummary,
    /// The new version.
    pub new: SideSummary,
    /// `key` or `content`.
    pub matched_by: String,
    /// Records identical in both.
    pub unchanged: u64,
    /// Records added.
    pub added: u64,
    /// Records removed.
    pub removed: u64,
    /// Records changed.
    pub changed: u64,
    /// Every change, in new-version order (removed records last, in old order).
    pub changes: Vec<Change>,
    /// Problems met (bad rows, duplicate keys, attribution unavailable).
    pub warnings: Vec<String>,
    /// Whether the CSV/TSV header rows differ (a header is in the record digests only
    /// through the records under it).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub header_changed: bool,
}

struct Entry {
    line: u64,
    file: Option<String>,
    key: Option<String>,
    digest: [u8; 32],
    fields: Vec<(u32, u64)>,
    unreadable: Option<String>,
}

struct Version {
    summary: SideSummary,
    read: ReadSummary,
    entries: Vec<Entry>,
    on_disk: Option<PathBuf>,
    manifest_key: Option<String>,
    /// How to read the records again for the values of changed fields.
    again: Again,
    /// Whether record line numbers are lines of the file as git sees it (plain CSV, TSV or
    /// JSON Lines), so that `git blame` lines name records.
    text_lines: bool,
}

fn line_based(kind: DatasetKind, name: &str) -> bool {
    matches!(
        kind,
        DatasetKind::Csv | DatasetKind::Tsv | DatasetKind::Jsonl
    ) && !name.to_ascii_lowercase().ends_with(".gz")
}

/// Where a version's records can be read a second time.
enum Again {
    /// A data file or folder on disk.
    Path(PathBuf),
    /// A file read from git: its bytes (as `git show` gave them), layout and compression,
    /// and the revision and path it was read from.
    Blob {
        bytes: Vec<u8>,
        kind: DatasetKind,
        gz: bool,
        rev: String,
        path: String,
    },
    /// A manifest: digests only, no values.
    Manifest,
}

#[derive(Default)]
struct Columns {
    names: Vec<String>,
    index: HashMap<String, u32>,
}

impl Columns {
    fn id(&mut self, name: &str) -> u32 {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        let i = self.names.len() as u32;
        self.names.push(name.to_string());
        self.index.insert(name.to_string(), i);
        i
    }
    fn name(&self, i: u32) -> &str {
        self.names
            .get(i as usize)
            .map(String::as_str)
            .unwrap_or("?")
    }
}

impl Entry {
    /// The diff entry of one record read from either side (a file on disk or a git revision).
    fn new(r: &record::Record, key: Option<&str>, digest: [u8; 32], cols: &mut Columns) -> Self {
        Entry {
            line: r.line,
            file: r.file.clone(),
            key: key.and_then(|k| r.get(k).map(|f| f.value.clone())),
            digest,
            fields: r
                .fields
                .iter()
                .map(|f| (cols.id(&f.name), field_digest(f)))
                .collect(),
            unreadable: r
                .unreadable
                .as_ref()
                .map(|u| format!("{}: {:?}", u.reason, u.preview)),
        }
    }
}

fn load(spec: &str, opts: &DiffOptions, cols: &mut Columns) -> Result<Version> {
    let path = Path::new(spec);
    if path.exists() {
        if !path.is_dir() && Manifest::sniff(path) {
            let mut m = Manifest::load(path)?;
            if m.records.len() as u64 != m.counts.records + m.counts.bad_records {
                return Err(Error::Manifest {
                    path: spec.into(),
                    message: "manifest does not list its records (built without them)".into(),
                });
            }
            let ids: Vec<u32> = m.columns.iter().map(|c| cols.id(&c.name)).collect();
            let mut entries = Vec::with_capacity(m.records.len());
            // Consumed as converted, so the manifest's strings are freed as entries are built.
            for r in std::mem::take(&mut m.records) {
                let mut digest = [0u8; 32];
                hex::decode_to_slice(&r.digest, &mut digest).map_err(|e| Error::Manifest {
                    path: spec.into(),
                    message: format!("record at line {}: bad digest: {e}", r.line),
                })?;
                let fields = r
                    .fields
                    .iter()
                    .zip(&ids)
                    .filter_map(|(v, &id)| {
                        v.as_ref()
                            .and_then(|h| u64::from_str_radix(h, 16).ok())
                            .map(|d| (id, d))
                    })
                    .collect();
                entries.push(Entry {
                    line: r.line,
                    file: r.file,
                    key: r.key,
                    digest,
                    fields,
                    unreadable: r.unreadable,
                });
            }
            return Ok(Version {
                summary: SideSummary {
                    source: spec.into(),
                    records: m.counts.records,
                    bad_records: m.counts.bad_records,
                    merkle_root: m.merkle_root.clone(),
                },
                read: m.counts,
                entries,
                on_disk: None,
                manifest_key: m.key,
                again: Again::Manifest,
                text_lines: false,
            });
        }
        let mut entries = Vec::new();
        let mut merkle = crate::merkle::MerkleBuilder::new();
        let key = opts.key.clone();
        let (kind, read) = record::read_path(path, &opts.read, &mut |r| {
            let digest = r.digest();
            merkle.push(&digest);
            entries.push(Entry::new(&r, key.as_deref(), digest, cols));
            Ok(())
        })?;
        return Ok(Version {
            summary: SideSummary {
                source: spec.into(),
                records: read.records,
                bad_records: read.bad_records,
                merkle_root: hex::encode(merkle.root()),
            },
            read,
            entries,
            on_disk: Some(path.to_path_buf()),
            manifest_key: None,
            again: Again::Path(path.to_path_buf()),
            text_lines: line_based(kind, spec),
        });
    }
    // `REV:PATH` read from git.
    let Some((rev, file)) = spec.split_once(':') else {
        return Err(Error::Invalid(format!("{spec}: no such file")));
    };
    let kind = opts
        .read
        .kind
        .or_else(|| DatasetKind::from_name(file))
        .unwrap_or(DatasetKind::Jsonl);
    let bytes = git::show(Path::new("."), spec)?;
    let mut entries = Vec::new();
    let mut merkle = crate::merkle::MerkleBuilder::new();
    let key = opts.key.clone();
    let gz = file.to_ascii_lowercase().ends_with(".gz");
    let read = record::read_reader(spec, kind, blob_reader(&bytes, gz), &opts.read, &mut |r| {
        let digest = r.digest();
        merkle.push(&digest);
        entries.push(Entry::new(&r, key.as_deref(), digest, cols));
        Ok(())
    })?;
    Ok(Version {
        summary: SideSummary {
            source: spec.into(),
            records: read.records,
            bad_records: read.bad_records,
            merkle_root: hex::encode(merkle.root()),
        },
        read,
        entries,
        on_disk: None,
        manifest_key: None,
        again: Again::Blob {
            bytes,
            kind,
            gz,
            rev: rev.to_string(),
            path: file.to_string(),
        },
        text_lines: line_based(kind, file),
    })
}

fn blob_reader(bytes: &[u8], gz: bool) -> Box<dyn std::io::Read + '_> {
    if gz {
        Box::new(flate2::read::MultiGzDecoder::new(bytes))
    } else {
        Box::new(bytes)
    }
}

/// Entry index → the wanted columns' values (`None`: field absent).
type Values = HashMap<usize, Vec<(u32, Option<serde_json::Value>)>>;

/// Read a version a second time and keep the values of the wanted columns of the wanted
/// records (entry index → column ids). Memory is bounded by the changed records, not the
/// dataset. `None` for a manifest.
fn values_of(
    v: &Version,
    want: &HashMap<usize, Vec<u32>>,
    opts: &ReadOptions,
    cols: &Columns,
) -> Result<Option<Values>> {
    let mut out: Values = HashMap::new();
    if want.is_empty() {
        return Ok(Some(out));
    }
    let mut take = |r: record::Record| {
        let Some(ids) = usize::try_from(r.index)
            .ok()
            .and_then(|i| want.get(&i).map(|w| (i, w)))
        else {
            return Ok(());
        };
        let (i, ids) = ids;
        // The file must still hold the record read the first time.
        if v.entries.get(i).map(|e| e.digest) != Some(r.digest()) {
            return Ok(());
        }
        let vals = ids
            .iter()
            .map(|&c| (c, r.get(cols.name(c)).map(json_value)))
            .collect();
        out.insert(i, vals);
        Ok(())
    };
    match &v.again {
        Again::Manifest => return Ok(None),
        Again::Path(p) => {
            record::read_path(p, opts, &mut take)?;
        }
        Again::Blob {
            bytes, kind, gz, ..
        } => {
            record::read_reader(
                &v.summary.source,
                *kind,
                blob_reader(bytes, *gz),
                opts,
                &mut take,
            )?;
        }
    }
    Ok(Some(out))
}

/// Ids of the fields that differ between two entries, sorted by name.
fn changed_fields(a: &Entry, b: &Entry, cols: &Columns) -> Vec<u32> {
    let mut ids: Vec<u32> = Vec::new();
    for &(c, d) in &a.fields {
        if !b.fields.contains(&(c, d)) {
            ids.push(c);
        }
    }
    for &(c, d) in &b.fields {
        if !a.fields.contains(&(c, d)) && !ids.contains(&c) {
            ids.push(c);
        }
    }
    ids.sort_by(|&x, &y| cols.name(x).cmp(cols.name(y)));
    ids
}

/// Characters of each old / new value shown in a finding's detail (JSON keeps them whole).
pub const DETAIL_WIDTH: usize = 60;

/// Postings lists longer than this (a label value shared by thousands of rows) are not used to
/// pair records.
const MAX_POSTING: usize = 16;

/// Compare two versions. Each of `old` and `new` is a data path, a manifest written by
/// `lantern data manifest` (with records), or `REV:PATH` for a file at a git revision.
pub fn diff(old: &str, new: &str, opts: &DiffOptions) -> Result<DiffResult> {
    let mut cols = Columns::default();
    let mut opts = opts.clone();
    let o = load(old, &opts, &mut cols)?;
    if opts.key.is_none() {
        opts.key = o.manifest_key.clone();
    }
    let n = load(new, &opts, &mut cols)?;
    if opts.key.is_none() && o.manifest_key.is_some() && n.manifest_key == o.manifest_key {
        opts.key = o.manifest_key.clone();
    }
    let mut warnings = unreadable_warnings(&o, &n);
    let mut m = Matching::new(&o, &n);
    if let Some(k) = &opts.key {
        m.by_key(k, &mut warnings);
    }
    m.by_digest(opts.key.is_some());
    if opts.key.is_none() {
        m.by_fields();
    }
    let blame = Attribution::of(&o, &n, &m.old_claimed, &opts, &mut warnings);
    let mut d = m.changes(&cols, &blame);
    fill_values(
        &mut d.changes,
        &d.pending,
        (&o, &n),
        (&opts, &cols),
        &mut warnings,
    )?;
    let header_changed = match (&o.read.header, &n.read.header) {
        (Some(a), Some(b)) => a != b,
        _ => false,
    };
    if header_changed {
        warnings.push(format!(
            "the header rows differ: {:?} -> {:?}",
            o.read.header.as_deref().unwrap_or_default(),
            n.read.header.as_deref().unwrap_or_default()
        ));
    }
    Ok(DiffResult {
        header_changed,
        old: o.summary,
        new: n.summary,
        matched_by: if opts.key.is_some() { "key" } else { "content" }.into(),
        unchanged: d.unchanged,
        added: d.added,
        removed: d.removed,
        changed: d.changed,
        changes: d.changes,
        warnings,
    })
}

/// One warning per side with rows that could not be read.
fn unreadable_warnings(o: &Version, n: &Version) -> Vec<String> {
    let mut warnings = Vec::new();
    for (v, side) in [(o, "old"), (n, "new")] {
        if v.read.bad_records > 0 {
            let first: Vec<String> = v
                .read
                .bad_rows
                .iter()
                .take(5)
                .map(|b| format!("line {}: {}", b.line, b.message))
                .collect();
            warnings.push(format!(
                "{side} version {}: {} row(s) could not be read ({})",
                v.summary.source,
                v.read.bad_records,
                first.join("; ")
            ));
        }
    }
    warnings
}

/// Pairing of new records with old ones, built in steps: key, exact content, shared fields.
struct Matching<'a> {
    o: &'a Version,
    n: &'a Version,
    old_claimed: Vec<bool>,
    new_match: Vec<Option<usize>>,
}

/// Changes found, with the changed records whose field values are still to be read:
/// (change index, old entry, new entry, changed column ids).
struct Changes {
    changes: Vec<Change>,
    pending: Vec<(usize, usize, usize, Vec<u32>)>,
    unchanged: u64,
    added: u64,
    removed: u64,
    changed: u64,
}

impl<'a> Matching<'a> {
    fn new(o: &'a Version, n: &'a Version) -> Self {
        Matching {
            o,
            n,
            old_claimed: vec![false; o.entries.len()],
            new_match: vec![None; n.entries.len()],
        }
    }

    fn pair(&mut self, i: usize, j: usize) {
        if let (Some(c), Some(m)) = (self.old_claimed.get_mut(i), self.new_match.get_mut(j)) {
            *c = true;
            *m = Some(i);
        }
    }

    /// Pairs records by the key column, in order among repeated keys.
    fn by_key(&mut self, k: &str, warnings: &mut Vec<String>) {
        let (o, n) = (self.o, self.n);
        let mut by_key: HashMap<&str, VecDeque<usize>> = HashMap::new();
        let mut dup = 0u64;
        for (i, e) in o.entries.iter().enumerate() {
            if let Some(key) = &e.key {
                let q = by_key.entry(key.as_str()).or_default();
                if !q.is_empty() {
                    dup += 1;
                }
                q.push_back(i);
            }
        }
        if dup > 0 {
            warnings.push(format!(
                "old version: {dup} record(s) repeat a value of the key column `{k}`; matched in order"
            ));
        }
        let missing = n.entries.iter().filter(|e| e.key.is_none()).count()
            + o.entries.iter().filter(|e| e.key.is_none()).count();
        if missing > 0 {
            warnings.push(format!(
                "{missing} record(s) lack the key column `{k}`; matched by content"
            ));
        }
        for (j, e) in n.entries.iter().enumerate() {
            if let Some(i) = e
                .key
                .as_deref()
                .and_then(|key| by_key.get_mut(key))
                .and_then(|q| q.pop_front())
            {
                self.pair(i, j);
            }
        }
    }

    /// Exact content matches among the records not paired by key.
    fn by_digest(&mut self, keyed: bool) {
        let (o, n) = (self.o, self.n);
        let mut by_digest: HashMap<[u8; 32], VecDeque<usize>> = HashMap::new();
        for (i, e) in o.entries.iter().enumerate() {
            if !(self.old_claimed[i] || keyed && e.key.is_some()) {
                by_digest.entry(e.digest).or_default().push_back(i);
            }
        }
        for (j, e) in n.entries.iter().enumerate() {
            if self.new_match[j].is_some() || (keyed && e.key.is_some()) {
                continue;
            }
            if let Some(i) = by_digest.get_mut(&e.digest).and_then(|q| q.pop_front()) {
                self.pair(i, j);
            }
        }
    }

    /// Pairs what is left by shared distinctive field values: a changed record keeps most
    /// fields.
    fn by_fields(&mut self) {
        let (o, n) = (self.o, self.n);
        let mut postings: HashMap<(u32, u64), Vec<usize>> = HashMap::new();
        for (i, e) in o.entries.iter().enumerate() {
            if self.old_claimed[i] {
                continue;
            }
            for &f in &e.fields {
                let p = postings.entry(f).or_default();
                if p.len() <= MAX_POSTING {
                    p.push(i);
                }
            }
        }
        // Old record -> whether it shares a value unique among the unpaired old records.
        let mut tally: HashMap<usize, bool> = HashMap::new();
        for (j, e) in n.entries.iter().enumerate() {
            if self.new_match[j].is_some() {
                continue;
            }
            tally.clear();
            for f in &e.fields {
                if let Some(p) = postings.get(f).filter(|p| p.len() <= MAX_POSTING) {
                    for &i in p {
                        if !self.old_claimed[i] {
                            *tally.entry(i).or_default() |= p.len() == 1;
                        }
                    }
                }
            }
            if let Some(i) = best_partner(o, e, &tally) {
                self.pair(i, j);
            }
        }
    }

    /// Added, changed and removed records, attributed to commits.
    fn changes(&self, cols: &Columns, blame: &Attribution) -> Changes {
        let (o, n) = (self.o, self.n);
        let mut d = Changes {
            changes: Vec::new(),
            pending: Vec::new(),
            unchanged: 0,
            added: 0,
            removed: 0,
            changed: 0,
        };
        for (j, e) in n.entries.iter().enumerate() {
            let oe = self.new_match[j].and_then(|i| o.entries.get(i).map(|oe| (i, oe)));
            let kind = match oe {
                Some((_, oe)) if oe.digest == e.digest => {
                    d.unchanged += 1;
                    continue;
                }
                Some(_) => ChangeKind::Changed,
                None => ChangeKind::Added,
            };
            let mut c = change(kind, e, None, Some(e.line), blame.added(e.line));
            if let Some((i, oe)) = oe {
                d.changed += 1;
                let ids = changed_fields(oe, e, cols);
                c.old_line = Some(oe.line);
                c.fields = ids.iter().map(|&c| cols.name(c).to_string()).collect();
                d.pending.push((d.changes.len(), i, j, ids));
            } else {
                d.added += 1;
            }
            d.changes.push(c);
        }
        for (i, e) in o.entries.iter().enumerate() {
            if !self.old_claimed[i] {
                d.removed += 1;
                let c = change(
                    ChangeKind::Removed,
                    e,
                    Some(e.line),
                    None,
                    blame.removed(e.line),
                );
                d.changes.push(c);
            }
        }
        d
    }
}

/// The unpaired old record that new record `e` most likely changed, among those sharing a
/// field value with it (`tally`: old record -> shares a value unique among them).
fn best_partner(o: &Version, e: &Entry, tally: &HashMap<usize, bool>) -> Option<usize> {
    tally
        .iter()
        .filter_map(|(&i, &unique)| {
            let oe = o.entries.get(i)?;
            let shared = oe.fields.iter().filter(|f| e.fields.contains(f)).count();
            let width = oe.fields.len().max(e.fields.len());
            // Most fields kept, or an identifying value (unique among the unpaired records,
            // like an id) kept.
            (shared > 0 && (unique || shared * 2 >= width)).then_some((i, shared, oe.line))
        })
        .min_by_key(|&(i, s, line)| (std::cmp::Reverse(s), line.abs_diff(e.line), i))
        .map(|(i, _, _)| i)
}

/// A change of `kind` to entry `e` (fields and values filled in later for changed records).
fn change(
    kind: ChangeKind,
    e: &Entry,
    old_line: Option<u64>,
    new_line: Option<u64>,
    commit: Option<CommitInfo>,
) -> Change {
    Change {
        kind,
        key: e.key.clone(),
        old_line,
        new_line,
        file: e.file.clone(),
        fields: Vec::new(),
        values: Vec::new(),
        unreadable: e.unreadable.clone(),
        commit,
    }
}

/// Commits that last touched new lines and that removed old lines.
struct Attribution {
    blame: Option<HashMap<u64, CommitInfo>>,
    removals: Option<HashMap<u64, CommitInfo>>,
}

impl Attribution {
    fn of(
        o: &Version,
        n: &Version,
        old_claimed: &[bool],
        opts: &DiffOptions,
        warnings: &mut Vec<String>,
    ) -> Self {
        // Added and changed records: the commit that last touched the new line.
        let blame = match (&n.again, &n.on_disk) {
            _ if !opts.git || !n.text_lines => None,
            (Again::Path(_), Some(p)) if !p.is_dir() => git::blame(p),
            (Again::Blob { rev, path, .. }, _) => git::blame_at(Path::new("."), rev, path),
            _ => None,
        };
        if opts.git && blame.is_none() {
            warnings.push(format!(
                "{}: added and changed records not attributed ({})",
                n.summary.source,
                if matches!(n.again, Again::Manifest) {
                    "a manifest, not a file tracked by git"
                } else if n.text_lines {
                    "not a file tracked by git"
                } else {
                    "records are not lines of a text file"
                }
            ));
        }
        // Removed records: the commit that removed the old line, when the old version is a
        // revision and the new one a later revision or the work tree.
        let removals = match (&o.again, &n.again) {
            _ if !opts.git || !o.text_lines || old_claimed.iter().all(|&c| c) => None,
            (Again::Blob { rev, path, .. }, Again::Blob { rev: new_rev, .. }) => {
                git::removals(Path::new("."), rev, path, Some(new_rev))
            }
            (Again::Blob { rev, path, .. }, Again::Path(p)) if !p.is_dir() => {
                git::removals(Path::new("."), rev, path, None)
            }
            _ => None,
        };
        if opts.git
            && removals.is_none()
            && matches!(o.again, Again::Blob { .. })
            && old_claimed.iter().any(|&c| !c)
        {
            warnings.push(format!(
                "{}: removed records not attributed (git could not trace them to a later version)",
                o.summary.source
            ));
        }
        Attribution { blame, removals }
    }

    fn added(&self, line: u64) -> Option<CommitInfo> {
        self.blame.as_ref().and_then(|b| b.get(&line).cloned())
    }

    fn removed(&self, line: u64) -> Option<CommitInfo> {
        self.removals.as_ref().and_then(|b| b.get(&line).cloned())
    }
}

/// Old and new values of the changed fields, from a second read of each side.
fn fill_values(
    changes: &mut [Change],
    pending: &[(usize, usize, usize, Vec<u32>)],
    (o, n): (&Version, &Version),
    (opts, cols): (&DiffOptions, &Columns),
    warnings: &mut Vec<String>,
) -> Result<()> {
    if pending.is_empty() {
        return Ok(());
    }
    let mut want_old: HashMap<usize, Vec<u32>> = HashMap::new();
    let mut want_new: HashMap<usize, Vec<u32>> = HashMap::new();
    for (_, i, j, ids) in pending {
        want_old.insert(*i, ids.clone());
        want_new.insert(*j, ids.clone());
    }
    let old_vals = values_of(o, &want_old, &opts.read, cols)?;
    let new_vals = values_of(n, &want_new, &opts.read, cols)?;
    let (Some(mut ov), Some(mut nv)) = (old_vals, new_vals) else {
        warnings.push(
            "old and new values of changed fields not shown: a manifest holds field digests, not values"
                .into(),
        );
        return Ok(());
    };
    for (ci, i, j, ids) in pending {
        let (Some(a), Some(b), Some(c)) = (ov.remove(i), nv.remove(j), changes.get_mut(*ci)) else {
            continue;
        };
        c.values = ids
            .iter()
            .zip(a.into_iter().zip(b))
            .map(|(&id, ((_, old), (_, new)))| FieldChange {
                field: cols.name(id).to_string(),
                old,
                new,
            })
            .collect();
    }
    Ok(())
}

impl DiffResult {
    /// Whether the versions hold the same records.
    pub fn is_identical(&self) -> bool {
        self.changes.is_empty() && !self.header_changed
    }

    /// The changes as findings (`data.record-added`, `-removed`, `-changed`; severity info),
    /// located at the new line (old line for removed records) with the commit when known.
    pub fn to_report(&self) -> Report {
        let mut r = Report::new();
        for c in &self.changes {
            let (rule, title, path, line) = match c.kind {
                ChangeKind::Added => (
                    "data.record-added",
                    "Record added",
                    &self.new.source,
                    c.new_line,
                ),
                ChangeKind::Removed => (
                    "data.record-removed",
                    "Record removed",
                    &self.old.source,
                    c.old_line,
                ),
                ChangeKind::Changed => (
                    "data.record-changed",
                    "Record changed",
                    &self.new.source,
                    c.new_line,
                ),
            };
            let mut loc = Location::path(path.clone());
            if let Some(f) = &c.file {
                loc = loc.child(f);
            }
            if let Some(l) = line.filter(|&l| l > 0) {
                loc.line = Some(u32::try_from(l).unwrap_or(u32::MAX));
            }
            loc.commit = c.commit.clone();
            let mut detail = String::new();
            if let Some(k) = &c.key {
                detail.push_str(&format!("key {k}"));
            }
            if let (Some(o), Some(n)) = (c.old_line, c.new_line) {
                if !detail.is_empty() {
                    detail.push_str(", ");
                }
                detail.push_str(&format!("line {o} -> {n}"));
            } else if let Some(l) = c.old_line.or(c.new_line) {
                if !detail.is_empty() {
                    detail.push_str(", ");
                }
                detail.push_str(&format!("line {l}"));
            }
            if !c.values.is_empty() {
                let shown: Vec<String> = c.values.iter().map(|v| v.display(DETAIL_WIDTH)).collect();
                detail.push_str(&format!("; {}", shown.join("; ")));
            } else if !c.fields.is_empty() {
                detail.push_str(&format!("; fields: {}", c.fields.join(", ")));
            }
            if let Some(u) = &c.unreadable {
                detail.push_str(&format!("; unreadable row ({u})"));
            }
            let mut f =
                Finding::new(rule, title, Category::Other, Severity::Info, loc).with_detail(detail);
            if !c.fields.is_empty() {
                f.properties
                    .insert("fields".into(), serde_json::json!(c.fields));
            }
            if !c.values.is_empty() {
                f.properties
                    .insert("values".into(), serde_json::json!(c.values));
            }
            if let Some(k) = &c.key {
                f.properties.insert("key".into(), serde_json::json!(k));
            }
            r.push(f);
        }
        for w in &self.warnings {
            r.warn(Warning::new(&self.new.source, w.clone()));
        }
        r.stats.blobs = self.old.records + self.new.records;
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(d: &Path, name: &str, text: &str) -> String {
        let p = d.join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    }

    #[test]
    fn keyed_diff_names_changed_fields() {
        let d = tempfile::tempdir().unwrap();
        let a = write(
            d.path(),
            "a.jsonl",
            "{\"id\":1,\"text\":\"good\",\"label\":1}\n{\"id\":2,\"text\":\"bad\",\"label\":0}\n{\"id\":3,\"text\":\"meh\",\"label\":0}\n",
        );
        let b = write(
            d.path(),
            "b.jsonl",
            "{\"id\":2,\"text\":\"bad\",\"label\":1}\n{\"id\":1,\"text\":\"good\",\"label\":1}\n{\"id\":4,\"text\":\"new\",\"label\":0}\n",
        );
        let r = diff(
            &a,
            &b,
            &DiffOptions {
                key: Some("id".into()),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!((r.unchanged, r.added, r.removed, r.changed), (1, 1, 1, 1));
        let ch = r
            .changes
            .iter()
            .find(|c| c.kind == ChangeKind::Changed)
            .unwrap();
        assert_eq!(ch.key.as_deref(), Some("2"));
        assert_eq!(ch.fields, vec!["label"]);
        assert_eq!((ch.old_line, ch.new_line), (Some(2), Some(1)));
        assert_eq!(
            ch.values,
            vec![FieldChange {
                field: "label".into(),
                old: Some(serde_json::json!(0)),
                new: Some(serde_json::json!(1)),
            }]
        );
        assert_eq!(ch.values[0].display(60), "label: 0 \u{2192} 1");
        let rm = r
            .changes
            .iter()
            .find(|c| c.kind == ChangeKind::Removed)
            .unwrap();
        assert_eq!(rm.key.as_deref(), Some("3"));
    }

    #[test]
    fn unkeyed_diff_pairs_by_shared_fields_and_manifests_agree() {
        let d = tempfile::tempdir().unwrap();
        let a = write(
            d.path(),
            "a.csv",
            "text,label,source\nthe film was great,pos,web\nawful acting,neg,web\nfine,pos,mail\n",
        );
        let b = write(
            d.path(),
            "b.csv",
            "text,label,source\nthe film was great,pos,web\nawful acting,pos,web\nbrand new,neg,web\n",
        );
        let r = diff(&a, &b, &DiffOptions::default()).unwrap();
        assert_eq!((r.unchanged, r.added, r.removed, r.changed), (1, 1, 1, 1));
        let ch = r
            .changes
            .iter()
            .find(|c| c.kind == ChangeKind::Changed)
            .unwrap();
        assert_eq!(ch.fields, vec!["label"]);
        assert_eq!(ch.new_line, Some(3));
        assert_eq!(ch.values.len(), 1);
        assert_eq!(ch.values[0].old, Some(serde_json::json!("neg")));
        assert_eq!(ch.values[0].new, Some(serde_json::json!("pos")));
        // The same diff from manifests.
        let opts = crate::ManifestOptions {
            include_records: true,
            ..Default::default()
        };
        for (src, out) in [(&a, "a.json"), (&b, "b.json")] {
            let m = crate::build_manifest(Path::new(src), &opts).unwrap();
            std::fs::write(d.path().join(out), serde_json::to_vec(&m).unwrap()).unwrap();
        }
        let ma = d.path().join("a.json").display().to_string();
        let mb = d.path().join("b.json").display().to_string();
        let r2 = diff(&ma, &mb, &DiffOptions::default()).unwrap();
        // Manifests hold digests, not values: the same changes without the values.
        let mut bare = r.changes.clone();
        for c in &mut bare {
            c.values.clear();
        }
        assert_eq!(r2.changes, bare);
        assert!(r2.warnings.iter().any(|w| w.contains("not shown")));
        assert_eq!(r2.old.merkle_root, r.old.merkle_root);
        let rep = r.to_report();
        assert_eq!(rep.findings.len(), 3);
        let f = rep
            .findings
            .iter()
            .find(|f| f.rule_id == "data.record-changed")
            .unwrap();
        assert!(
            f.detail
                .as_deref()
                .is_some_and(|d| d.contains("label: \"neg\" \u{2192} \"pos\"")),
            "{:?}",
            f.detail
        );
        assert_eq!(f.properties["values"][0]["old"], "neg");
        assert!(rep
            .findings
            .iter()
            .any(|f| f.rule_id == "data.record-changed" && f.locations[0].line == Some(3)));
    }

    #[test]
    fn values_of_long_fields_are_whole_in_json_and_clipped_for_display() {
        let d = tempfile::tempdir().unwrap();
        let long_old = "a".repeat(500);
        let long_new = format!("{}b", "a".repeat(499));
        let a = write(
            d.path(),
            "a.jsonl",
            &format!("{{\"id\":\"x\",\"text\":\"{long_old}\",\"meta\":{{\"k\":1}}}}\n"),
        );
        let b = write(
            d.path(),
            "b.jsonl",
            &format!("{{\"id\":\"x\",\"text\":\"{long_new}\",\"tags\":[1,2]}}\n"),
        );
        let r = diff(
            &a,
            &b,
            &DiffOptions {
                key: Some("id".into()),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(r.changed, 1);
        let c = &r.changes[0];
        assert_eq!(c.fields, vec!["meta", "tags", "text"]);
        assert_eq!(c.values[0].old, Some(serde_json::json!({"k": 1})));
        assert_eq!(c.values[0].new, None);
        assert_eq!(c.values[1].old, None);
        assert_eq!(c.values[1].new, Some(serde_json::json!([1, 2])));
        assert_eq!(c.values[2].new, Some(serde_json::json!(long_new)));
        assert_eq!(c.values[0].display(60), "meta: {\"k\":1} \u{2192} \u{2205}");
        // The shown part is where the values differ, not the same prefix twice.
        let shown = c.values[2].display(20);
        assert_eq!(
            shown,
            format!(
                "text: \u{2026}{}\" \u{2192} \u{2026}{}b\"",
                "a".repeat(17),
                "a".repeat(16)
            )
        );
        let json = serde_json::to_value(c).unwrap();
        assert_eq!(json["values"][2]["old"].as_str().unwrap().len(), 500);
        assert!(json["values"][0].get("new").is_none());
    }
}
