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
    /// Commit that last touched the new line (added and changed records in a git work tree).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<CommitInfo>,
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
}

struct Entry {
    line: u64,
    file: Option<String>,
    key: Option<String>,
    digest: [u8; 32],
    fields: Vec<(u32, u64)>,
}

struct Version {
    summary: SideSummary,
    read: ReadSummary,
    entries: Vec<Entry>,
    on_disk: Option<PathBuf>,
    manifest_key: Option<String>,
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
        }
    }
}

fn load(spec: &str, opts: &DiffOptions, cols: &mut Columns) -> Result<Version> {
    let path = Path::new(spec);
    if path.exists() {
        if !path.is_dir() && Manifest::sniff(path) {
            let m = Manifest::load(path)?;
            if m.records.len() as u64 != m.counts.records {
                return Err(Error::Manifest {
                    path: spec.into(),
                    message: "manifest does not list its records (built without them)".into(),
                });
            }
            let ids: Vec<u32> = m.columns.iter().map(|c| cols.id(&c.name)).collect();
            let mut entries = Vec::with_capacity(m.records.len());
            for r in &m.records {
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
                    file: r.file.clone(),
                    key: r.key.clone(),
                    digest,
                    fields,
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
            });
        }
        let mut entries = Vec::new();
        let mut merkle = crate::merkle::MerkleBuilder::new();
        let key = opts.key.clone();
        let (_, read) = record::read_path(path, &opts.read, &mut |r| {
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
        });
    }
    // `REV:PATH` read from git.
    let Some((_, file)) = spec.split_once(':') else {
        return Err(Error::Invalid(format!("{spec}: no such file")));
    };
    let kind = DatasetKind::from_name(file).unwrap_or(DatasetKind::Jsonl);
    let bytes = git::show(Path::new("."), spec)?;
    let mut entries = Vec::new();
    let mut merkle = crate::merkle::MerkleBuilder::new();
    let key = opts.key.clone();
    let gz = file.to_ascii_lowercase().ends_with(".gz");
    let reader: Box<dyn std::io::Read> = if gz {
        Box::new(flate2::read::MultiGzDecoder::new(std::io::Cursor::new(
            bytes,
        )))
    } else {
        Box::new(std::io::Cursor::new(bytes))
    };
    let read = record::read_reader(spec, kind, reader, &opts.read, &mut |r| {
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
    })
}

fn changed_fields(a: &Entry, b: &Entry, cols: &Columns) -> Vec<String> {
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
    let mut names: Vec<String> = ids.iter().map(|&c| cols.name(c).to_string()).collect();
    names.sort();
    names
}

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
    let mut warnings = Vec::new();
    for (v, side) in [(&o, "old"), (&n, "new")] {
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
    let keyed = opts.key.is_some();
    let mut old_claimed = vec![false; o.entries.len()];
    let mut new_match: Vec<Option<usize>> = vec![None; n.entries.len()];
    if let Some(k) = &opts.key {
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
                old_claimed[i] = true;
                new_match[j] = Some(i);
            }
        }
    }
    // Exact content matches among the rest.
    let mut by_digest: HashMap<[u8; 32], VecDeque<usize>> = HashMap::new();
    for (i, e) in o.entries.iter().enumerate() {
        if !(old_claimed[i] || keyed && e.key.is_some()) {
            by_digest.entry(e.digest).or_default().push_back(i);
        }
    }
    for (j, e) in n.entries.iter().enumerate() {
        if new_match[j].is_some() || (keyed && e.key.is_some()) {
            continue;
        }
        if let Some(i) = by_digest.get_mut(&e.digest).and_then(|q| q.pop_front()) {
            old_claimed[i] = true;
            new_match[j] = Some(i);
        }
    }
    // Pair what is left by shared distinctive field values: a changed record keeps most fields.
    if !keyed {
        let mut postings: HashMap<(u32, u64), Vec<usize>> = HashMap::new();
        for (i, e) in o.entries.iter().enumerate() {
            if old_claimed[i] {
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
            if new_match[j].is_some() {
                continue;
            }
            tally.clear();
            for f in &e.fields {
                if let Some(p) = postings.get(f).filter(|p| p.len() <= MAX_POSTING) {
                    for &i in p {
                        if !old_claimed[i] {
                            *tally.entry(i).or_default() |= p.len() == 1;
                        }
                    }
                }
            }
            let best = tally
                .iter()
                .filter_map(|(&i, &unique)| {
                    let shared = o.entries[i]
                        .fields
                        .iter()
                        .filter(|f| e.fields.contains(f))
                        .count();
                    let width = o.entries[i].fields.len().max(e.fields.len());
                    // Most fields kept, or an identifying value (unique among the unpaired
                    // records, like an id) kept.
                    (shared > 0 && (unique || shared * 2 >= width)).then_some((i, shared))
                })
                .min_by_key(|&(i, s)| {
                    (std::cmp::Reverse(s), o.entries[i].line.abs_diff(e.line), i)
                });
            if let Some((i, _)) = best {
                old_claimed[i] = true;
                new_match[j] = Some(i);
            }
        }
    }
    let blame = if opts.git {
        n.on_disk
            .as_deref()
            .and_then(|p| if p.is_dir() { None } else { git::blame(p) })
    } else {
        None
    };
    if opts.git && blame.is_none() {
        warnings.push(format!(
            "{}: not attributed (not a file tracked by git)",
            n.summary.source
        ));
    }
    let commit_of = |line: u64| blame.as_ref().and_then(|b| b.get(&line).cloned());
    let mut changes = Vec::new();
    let (mut unchanged, mut added, mut changed) = (0u64, 0u64, 0u64);
    for (j, e) in n.entries.iter().enumerate() {
        match new_match[j] {
            Some(i) => {
                let oe = &o.entries[i];
                if oe.digest == e.digest {
                    unchanged += 1;
                } else {
                    changed += 1;
                    changes.push(Change {
                        kind: ChangeKind::Changed,
                        key: e.key.clone(),
                        old_line: Some(oe.line),
                        new_line: Some(e.line),
                        file: e.file.clone(),
                        fields: changed_fields(oe, e, &cols),
                        commit: commit_of(e.line),
                    });
                }
            }
            None => {
                added += 1;
                changes.push(Change {
                    kind: ChangeKind::Added,
                    key: e.key.clone(),
                    old_line: None,
                    new_line: Some(e.line),
                    file: e.file.clone(),
                    fields: Vec::new(),
                    commit: commit_of(e.line),
                });
            }
        }
    }
    let mut removed = 0u64;
    for (i, e) in o.entries.iter().enumerate() {
        if !old_claimed[i] {
            removed += 1;
            changes.push(Change {
                kind: ChangeKind::Removed,
                key: e.key.clone(),
                old_line: Some(e.line),
                new_line: None,
                file: e.file.clone(),
                fields: Vec::new(),
                commit: None,
            });
        }
    }
    Ok(DiffResult {
        old: o.summary,
        new: n.summary,
        matched_by: if keyed { "key" } else { "content" }.into(),
        unchanged,
        added,
        removed,
        changed,
        changes,
        warnings,
    })
}

impl DiffResult {
    /// Whether the versions hold the same records.
    pub fn is_identical(&self) -> bool {
        self.changes.is_empty()
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
            if !c.fields.is_empty() {
                detail.push_str(&format!("; fields: {}", c.fields.join(", ")));
            }
            let mut f =
                Finding::new(rule, title, Category::Other, Severity::Info, loc).with_detail(detail);
            if !c.fields.is_empty() {
                f.properties
                    .insert("fields".into(), serde_json::json!(c.fields));
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
        assert_eq!(r2.changes, r.changes);
        assert_eq!(r2.old.merkle_root, r.old.merkle_root);
        let rep = r.to_report();
        assert_eq!(rep.findings.len(), 3);
        assert!(rep
            .findings
            .iter()
            .any(|f| f.rule_id == "data.record-changed" && f.locations[0].line == Some(3)));
    }
}
