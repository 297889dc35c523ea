//! Content-addressed dataset manifests: one digest per record, an RFC 9162 Merkle root over
//! them, schema, counts (including rows that could not be read) and label distribution.
//! Written streaming: records go to the output as they are read.

use crate::merkle::MerkleBuilder;
use crate::record::{self, field_digest, DatasetKind, ReadOptions, ReadSummary, Record};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::path::Path;

/// Value of the manifest's `format` key.
pub const FORMAT: &str = "lantern.data.manifest/v2";

/// How the record digest is defined (stated in every manifest).
pub const RECORD_DIGEST: &str = "sha256('R' || fields sorted by name: u64le(len name) name tag u64le(len value) value); tag 's' UTF-8 string, 'b' non-UTF-8 string bytes, 'j' canonical json text (numbers as written, keys sorted); unreadable rows sha256('U' || row bytes)";

/// Options of a manifest build.
#[derive(Debug, Clone, Default)]
pub struct ManifestOptions {
    /// How to read the dataset.
    pub read: ReadOptions,
    /// Column whose value identifies a record across versions.
    pub key: Option<String>,
    /// Column holding the class label (its distribution is recorded).
    pub label: Option<String>,
    /// Whether to list every record (digest, key, field digests); the root is always computed.
    pub include_records: bool,
}

/// A column seen in the data, with the JSON types of its values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    /// Column name.
    pub name: String,
    /// Count of values per type (`string`, `number`, `bool`, `null`, `array`, `object`).
    pub types: BTreeMap<String, u64>,
    /// Records lacking this column.
    pub missing: u64,
}

/// Label distribution of a named column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelDistribution {
    /// The label column.
    pub column: String,
    /// Records per label value (`<missing>` when absent).
    pub counts: BTreeMap<String, u64>,
}

/// One record in a manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordEntry {
    /// 1-based line / row number in the source.
    pub line: u64,
    /// File path, for folder datasets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Value of the key column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Record digest (hex sha256).
    pub digest: String,
    /// Set for a row that could not be parsed (digested as raw bytes): why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unreadable: Option<String>,
    /// 64-bit field digests (hex), aligned with the manifest's `columns`; `null` when absent.
    pub fields: Vec<Option<String>>,
}

/// A whole manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// The dataset path as given.
    pub source: String,
    /// Its layout.
    pub kind: DatasetKind,
    /// Definition of the record digest.
    pub record_digest: String,
    /// Key column, when one was named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Records, in source order (empty when not listed).
    #[serde(default)]
    pub records: Vec<RecordEntry>,
    /// RFC 9162 Merkle tree hash over the record digests, in order (hex).
    pub merkle_root: String,
    /// What the read saw, including rows that could not be read.
    pub counts: ReadSummary,
    /// The record cap the data was read with: longer rows are digested as raw bytes, so the
    /// same cap must be used to recompute the root.
    #[serde(default = "default_cap")]
    pub max_record_bytes: u64,
    /// Columns in first-seen order.
    pub columns: Vec<Column>,
    /// Label distribution when a label column was named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<LabelDistribution>,
}

impl Manifest {
    /// Load a manifest file.
    pub fn load(path: &Path) -> Result<Self> {
        let f = std::fs::File::open(path).map_err(|e| Error::io(path.display(), e))?;
        let m: Manifest =
            serde_json::from_reader(std::io::BufReader::new(f)).map_err(|e| Error::Manifest {
                path: path.display().to_string(),
                message: match Self::head_format(path) {
                    Some(v) if v != FORMAT => {
                        format!("unsupported format `{v}` (expected {FORMAT})")
                    }
                    _ => e.to_string(),
                },
            })?;
        if m.format != FORMAT {
            return Err(Error::Manifest {
                path: path.display().to_string(),
                message: format!("unsupported format `{}` (expected {FORMAT})", m.format),
            });
        }
        Ok(m)
    }

    /// The `format` value at the head of a manifest file.
    fn head_format(path: &Path) -> Option<String> {
        let mut head = [0u8; 128];
        let n = std::fs::File::open(path).ok()?.read(&mut head).ok()?;
        let text = std::str::from_utf8(head.get(..n)?).ok()?;
        let rest = text.split_once("\"format\"")?.1;
        let rest = rest
            .trim_start()
            .strip_prefix(':')?
            .trim_start()
            .strip_prefix('"')?;
        Some(rest.split_once('"')?.0.to_string())
    }

    /// Whether the file at `path` looks like a Lantern data manifest (by its first bytes).
    pub fn sniff(path: &Path) -> bool {
        let Ok(mut f) = std::fs::File::open(path) else {
            return false;
        };
        let mut head = [0u8; 96];
        let n = f.read(&mut head).unwrap_or(0);
        let head = String::from_utf8_lossy(head.get(..n).unwrap_or_default()).into_owned();
        let compact: String = head.chars().filter(|c| !c.is_whitespace()).collect();
        // Any version: an older manifest is then refused by `load` with its version named,
        // not read as data.
        let family = FORMAT.rsplit_once('/').map_or(FORMAT, |(f, _)| f);
        compact.starts_with(&format!("{{\"format\":\"{family}/"))
    }
}

fn default_cap() -> u64 {
    record::DEFAULT_MAX_RECORD_BYTES as u64
}

fn json_type(f: &record::Field) -> &'static str {
    if f.is_string {
        return "string";
    }
    match f.value.as_bytes().first() {
        Some(b'n') => "null",
        Some(b't' | b'f') => "bool",
        Some(b'[') => "array",
        Some(b'{') => "object",
        _ => "number",
    }
}

/// Incremental state of a manifest build.
struct Builder {
    columns: Vec<Column>,
    index: HashMap<String, usize>,
    merkle: MerkleBuilder,
    key: Option<String>,
    label: Option<(String, BTreeMap<String, u64>)>,
    missing_key: u64,
    /// Parsed records seen so far.
    parsed: u64,
}

impl Builder {
    fn new(opts: &ManifestOptions) -> Self {
        Builder {
            columns: Vec::new(),
            index: HashMap::new(),
            merkle: MerkleBuilder::new(),
            key: opts.key.clone(),
            label: opts.label.clone().map(|l| (l, BTreeMap::new())),
            missing_key: 0,
            parsed: 0,
        }
    }

    fn entry(&mut self, r: &Record) -> RecordEntry {
        let digest = r.digest();
        self.merkle.push(&digest);
        if let Some(u) = &r.unreadable {
            return RecordEntry {
                line: r.line,
                file: r.file.clone(),
                key: None,
                digest: hex::encode(digest),
                unreadable: Some(u.reason.clone()),
                fields: vec![None; self.columns.len()],
            };
        }
        self.parsed += 1;
        let mut fields: Vec<Option<String>> = vec![None; self.columns.len()];
        for f in &r.fields {
            let i = match self.index.get(&f.name) {
                Some(&i) => i,
                None => {
                    let i = self.columns.len();
                    self.columns.push(Column {
                        name: f.name.clone(),
                        types: BTreeMap::new(),
                        missing: self.parsed - 1,
                    });
                    self.index.insert(f.name.clone(), i);
                    fields.push(None);
                    i
                }
            };
            if let Some(c) = self.columns.get_mut(i) {
                *c.types.entry(json_type(f).to_string()).or_default() += 1;
            }
            if let Some(slot) = fields.get_mut(i) {
                *slot = Some(format!("{:016x}", field_digest(f)));
            }
        }
        for (c, v) in self.columns.iter_mut().zip(&fields) {
            if v.is_none() {
                c.missing += 1;
            }
        }
        if let Some((col, counts)) = &mut self.label {
            let v = r
                .get(col)
                .map(|f| f.value.clone())
                .unwrap_or_else(|| "<missing>".into());
            *counts.entry(v).or_default() += 1;
        }
        let key = self
            .key
            .as_ref()
            .and_then(|k| r.get(k).map(|f| f.value.clone()));
        if self.key.is_some() && key.is_none() {
            self.missing_key += 1;
        }
        RecordEntry {
            line: r.line,
            file: r.file.clone(),
            key,
            digest: hex::encode(digest),
            unreadable: None,
            fields,
        }
    }

    fn finish(
        self,
        source: &str,
        kind: DatasetKind,
        mut counts: ReadSummary,
        cap: usize,
    ) -> Manifest {
        if self.missing_key > 0 {
            if let Some(k) = &self.key {
                counts.bad_rows.push(record::BadRow {
                    line: 0,
                    message: format!("{} record(s) lack the key column `{k}`", self.missing_key),
                });
            }
        }
        Manifest {
            format: FORMAT.into(),
            source: source.into(),
            kind,
            record_digest: RECORD_DIGEST.into(),
            key: self.key,
            records: Vec::new(),
            merkle_root: hex::encode(self.merkle.root()),
            counts,
            max_record_bytes: cap as u64,
            columns: self.columns,
            label: self
                .label
                .map(|(column, counts)| LabelDistribution { column, counts }),
        }
    }
}

/// Build a manifest in memory.
pub fn build_manifest(path: &Path, opts: &ManifestOptions) -> Result<Manifest> {
    let mut b = Builder::new(opts);
    let mut records = Vec::new();
    let include = opts.include_records;
    let (kind, summary) = record::read_path(path, &opts.read, &mut |r| {
        let e = b.entry(&r);
        if include {
            records.push(e);
        }
        Ok(())
    })?;
    let mut m = b.finish(
        &path.display().to_string(),
        kind,
        summary,
        opts.read.max_record_bytes,
    );
    m.records = records;
    Ok(m)
}

/// Build a manifest and write it as JSON to `out`, streaming the records (memory does not grow
/// with the dataset). Returns the manifest without its records.
pub fn write_manifest(
    path: &Path,
    opts: &ManifestOptions,
    out: &mut dyn Write,
) -> Result<Manifest> {
    let name = path.display().to_string();
    let io = |e: std::io::Error| Error::io("manifest output", e);
    let kind = match opts.read.kind {
        Some(k) => k,
        None => DatasetKind::detect(path)?,
    };
    write!(
        out,
        "{{\"format\":{},\"source\":{},\"kind\":\"{}\",\"record_digest\":{},\n\"records\":[",
        json(&FORMAT),
        json(&name),
        kind.as_str(),
        json(&RECORD_DIGEST)
    )
    .map_err(io)?;
    let mut b = Builder::new(opts);
    let mut first = true;
    let include = opts.include_records;
    let read = ReadOptions {
        kind: Some(kind),
        ..opts.read.clone()
    };
    let (_, summary) = record::read_path(path, &read, &mut |r| {
        let e = b.entry(&r);
        if include {
            let sep = if first { "\n" } else { ",\n" };
            first = false;
            let text =
                serde_json::to_string(&e).map_err(|e| Error::format(&name, e.to_string()))?;
            out.write_all(sep.as_bytes()).map_err(io)?;
            out.write_all(text.as_bytes()).map_err(io)?;
        }
        Ok(())
    })?;
    let m = b.finish(&name, kind, summary, opts.read.max_record_bytes);
    let mut tail = serde_json::Map::new();
    if let Some(k) = &m.key {
        tail.insert("key".into(), serde_json::json!(k));
    }
    tail.insert("merkle_root".into(), serde_json::json!(m.merkle_root));
    tail.insert("counts".into(), serde_json::json!(m.counts));
    tail.insert(
        "max_record_bytes".into(),
        serde_json::json!(m.max_record_bytes),
    );
    tail.insert("columns".into(), serde_json::json!(m.columns));
    if let Some(l) = &m.label {
        tail.insert("label".into(), serde_json::json!(l));
    }
    let tail = serde_json::to_string_pretty(&serde_json::Value::Object(tail))
        .map_err(|e| Error::format(&name, e.to_string()))?;
    let inner = tail
        .strip_prefix('{')
        .and_then(|t| t.strip_suffix('}'))
        .unwrap_or("");
    write!(out, "\n],{inner}}}\n").map_err(io)?;
    out.flush().map_err(io)?;
    Ok(m)
}

fn json<T: Serialize + ?Sized>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle;

    #[test]
    fn manifest_streams_and_round_trips() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("d.jsonl");
        std::fs::write(
            &p,
            "{\"id\":1,\"text\":\"a\",\"label\":\"pos\"}\n{\"id\":2,\"text\":\"b\",\"label\":\"neg\"}\nnot json\n{\"id\":3,\"text\":\"c\",\"label\":\"pos\",\"extra\":true}\n",
        )
        .unwrap();
        let opts = ManifestOptions {
            key: Some("id".into()),
            label: Some("label".into()),
            include_records: true,
            ..Default::default()
        };
        let mem = build_manifest(&p, &opts).unwrap();
        let mut out = Vec::new();
        let streamed = write_manifest(&p, &opts, &mut out).unwrap();
        let mp = d.path().join("m.json");
        std::fs::write(&mp, &out).unwrap();
        assert!(Manifest::sniff(&mp));
        assert!(!Manifest::sniff(&p));
        // A manifest of an older version is recognised, then refused naming its version.
        let old = d.path().join("old.json");
        std::fs::write(
            &old,
            "{\"format\":\"lantern.data.manifest/v1\",\"source\":\"x\"}",
        )
        .unwrap();
        assert!(Manifest::sniff(&old));
        let e = Manifest::load(&old).unwrap_err().to_string();
        assert!(
            e.contains("unsupported format `lantern.data.manifest/v1`"),
            "{e}"
        );
        let loaded = Manifest::load(&mp).unwrap();
        assert_eq!(loaded, mem);
        assert_eq!(streamed.merkle_root, mem.merkle_root);
        assert_eq!(mem.counts.records, 3);
        assert_eq!(mem.counts.bad_records, 1);
        assert_eq!(mem.counts.bad_rows[0].line, 3);
        assert_eq!(
            mem.records.len(),
            4,
            "the unreadable row is listed in place"
        );
        assert_eq!(mem.records[2].line, 3);
        assert!(mem.records[2]
            .unreadable
            .as_deref()
            .unwrap()
            .contains("not a json object"));
        assert_eq!(
            mem.records[2].digest,
            hex::encode(crate::record::raw_digest(b"not json"))
        );
        assert_eq!(mem.records[3].line, 4);
        assert_eq!(mem.records[1].key.as_deref(), Some("2"));
        let label = mem.label.as_ref().unwrap();
        assert_eq!(label.counts["pos"], 2);
        assert_eq!(label.counts["neg"], 1);
        let extra = mem.columns.iter().find(|c| c.name == "extra").unwrap();
        assert_eq!(extra.missing, 2);
        assert_eq!(extra.types["bool"], 1);
        // Root over the listed digests.
        let digests: Vec<Vec<u8>> = mem
            .records
            .iter()
            .map(|r| hex::decode(&r.digest).unwrap())
            .collect();
        let leaves: Vec<_> = digests.iter().map(|d| merkle::leaf_hash(d)).collect();
        assert_eq!(
            mem.merkle_root,
            hex::encode(lantern_core::merkle::root_of(&leaves))
        );
    }

    #[test]
    fn one_changed_record_changes_the_root_only_there() {
        let d = tempfile::tempdir().unwrap();
        let a = d.path().join("a.csv");
        let b = d.path().join("b.csv");
        std::fs::write(&a, "text,label\nx,1\ny,0\n").unwrap();
        std::fs::write(&b, "text,label\nx,1\ny,1\n").unwrap();
        let o = ManifestOptions {
            include_records: true,
            ..Default::default()
        };
        let (ma, mb) = (
            build_manifest(&a, &o).unwrap(),
            build_manifest(&b, &o).unwrap(),
        );
        assert_ne!(ma.merkle_root, mb.merkle_root);
        assert_eq!(ma.records[0].digest, mb.records[0].digest);
        assert_ne!(ma.records[1].digest, mb.records[1].digest);
        assert_eq!(ma.records[1].fields[0], mb.records[1].fields[0]);
        assert_ne!(ma.records[1].fields[1], mb.records[1].fields[1]);
    }
}
