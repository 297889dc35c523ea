//! Streaming dataset readers: CSV/TSV, JSON Lines, Parquet and folders of files, one [`Record`]
//! at a time, each in one canonical form whatever the format, so that the same records give
//! the same digests and Merkle root in every format, and every byte of the input is covered.
//!
//! # Canonical record form
//!
//! A record is a list of fields `(name, value)`; its digest is
//! `sha256("R" || for each field, sorted by name (stably; duplicate names are all kept):
//! u64le(len name) name tag u64le(len value) value)`. The value and its tag are:
//!
//! * `s` — a string, its UTF-8 bytes. CSV/TSV cells are always strings (CSV has no types:
//!   `50` in a CSV is the string `"50"`); JSON strings; Parquet UTF-8 columns; a folder file's
//!   path, sha256, label and text.
//! * `b` — a string that is not valid UTF-8 (a CSV cell, a Parquet binary column, a folder
//!   text file), its exact bytes; it is analysed as text with U+FFFD replacements.
//! * `j` — any other value in canonical compact text ([`crate::jsontext`]): numbers as their
//!   exact source text (`50`, `1.0` and `1e2` differ; integers of any width are exact), `true`,
//!   `false`, `null`, arrays, objects with sorted keys. Parquet numbers are written as
//!   integers in decimal and floats in shortest round-trip form (`0.5`, `1.0`, `1e300`);
//!   values JSON cannot hold are bare tokens, which no JSON text can produce: `NaN`,
//!   `Infinity`, `@decimal(12.50)`, `@bytes(hex)` inside lists, dates and times as their
//!   stored integer (`@date(19753)`: days since 1970).
//!
//! Types are part of the digest: a Parquet `int64` 50 and a CSV `"50"` differ (a type change
//! is a change); a Parquet file of string columns gives the same digests as the CSV.
//!
//! A row that cannot be parsed (a ragged CSV row, a JSON Lines line that is not a UTF-8 JSON
//! object, a row longer than [`ReadOptions::max_record_bytes`]) is not dropped: it is counted
//! in [`ReadSummary::bad_records`], listed, and digested as `sha256("U" || its bytes)` (the
//! row's bytes without its line terminator; over-long rows hashed streaming, never held); in
//! a CSV/TSV the column names come between (`u64le(count)` then each `u64le(len) name`), so
//! a header edit changes the digests of unreadable rows too.
//! What carries no data is skipped: blank lines, line terminators (`\r\n` or `\n`), a UTF-8
//! byte-order mark, whitespace between JSON tokens, version-control folders (`.git`, `.hg`,
//! `.svn`) inside a dataset folder.

use crate::{Error, Result};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

#[doc(hidden)]
pub use crate::pq::in_guarded_parquet_call;

/// Default largest record accepted, in bytes; longer rows are digested as raw bytes and
/// counted as unreadable.
pub const DEFAULT_MAX_RECORD_BYTES: usize = 64 << 20;
/// How many bad rows are listed individually (all are counted).
pub const MAX_BAD_ROWS_LISTED: usize = 1000;
/// Characters of an unreadable row kept to show it.
const PREVIEW_CHARS: usize = 200;
/// Layout of a dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DatasetKind {
    /// Delimited text with a header row (CSV, TSV).
    Csv,
    /// Tab-separated values with a header row.
    Tsv,
    /// One JSON object per line (also `.json` holding JSON Lines).
    Jsonl,
    /// Apache Parquet, read row group by row group.
    Parquet,
    /// A directory: one record per file (text or image folders, class sub-folders as labels).
    Folder,
}

impl DatasetKind {
    /// Guess the layout from the path (directory, extension, then the first bytes).
    pub fn detect(path: &Path) -> Result<Self> {
        if path.is_dir() {
            return Ok(DatasetKind::Folder);
        }
        if let Some(k) = Self::from_name(&path.to_string_lossy()) {
            return Ok(k);
        }
        let mut head = [0u8; 4];
        let mut f = File::open(path).map_err(|e| Error::io(path.display(), e))?;
        let n = f
            .read(&mut head)
            .map_err(|e| Error::io(path.display(), e))?;
        Ok(match head.get(..n) {
            Some(b"PAR1") => DatasetKind::Parquet,
            Some([b'{', ..]) => DatasetKind::Jsonl,
            _ => DatasetKind::Csv,
        })
    }

    /// The layout implied by a file name's extension (a trailing `.gz` is looked through).
    pub fn from_name(name: &str) -> Option<Self> {
        let lower = name.to_ascii_lowercase();
        let base = lower.strip_suffix(".gz").unwrap_or(&lower);
        let ext = base.rsplit_once('.').map(|(_, e)| e)?;
        match ext {
            "csv" => Some(DatasetKind::Csv),
            "tsv" | "tab" => Some(DatasetKind::Tsv),
            "jsonl" | "ndjson" | "json" => Some(DatasetKind::Jsonl),
            "parquet" | "pq" => Some(DatasetKind::Parquet),
            _ => None,
        }
    }

    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            DatasetKind::Csv => "csv",
            DatasetKind::Tsv => "tsv",
            DatasetKind::Jsonl => "jsonl",
            DatasetKind::Parquet => "parquet",
            DatasetKind::Folder => "folder",
        }
    }
}

/// One field of a record (see the module comment for the canonical form).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// Column name.
    pub name: String,
    /// The value: the string itself (with U+FFFD for bytes that are not UTF-8), or the
    /// canonical text of a number, boolean, null, array, object or typed value.
    pub value: String,
    /// Whether the value is a string (as opposed to a number, boolean, null, ...).
    pub is_string: bool,
    /// The exact bytes of a string that is not valid UTF-8; digested instead of `value`.
    pub bytes: Option<Box<[u8]>>,
}

impl Field {
    /// A string field.
    pub fn text(name: impl Into<String>, value: impl Into<String>) -> Self {
        Field {
            name: name.into(),
            value: value.into(),
            is_string: true,
            bytes: None,
        }
    }

    /// A field holding a value other than a string, in canonical text.
    pub fn other(name: impl Into<String>, value: impl Into<String>) -> Self {
        Field {
            name: name.into(),
            value: value.into(),
            is_string: false,
            bytes: None,
        }
    }

    /// A string field from bytes: text when they are UTF-8, else the bytes themselves.
    pub fn from_bytes(name: impl Into<String>, raw: &[u8]) -> Self {
        match std::str::from_utf8(raw) {
            Ok(s) => Field::text(name, s),
            Err(_) => Field {
                name: name.into(),
                value: String::from_utf8_lossy(raw).into_owned(),
                is_string: true,
                bytes: Some(raw.into()),
            },
        }
    }

    /// The type tag and the bytes digested for the value.
    fn canonical(&self) -> (u8, &[u8]) {
        match (&self.bytes, self.is_string) {
            (Some(b), _) => (b'b', b),
            (None, true) => (b's', self.value.as_bytes()),
            (None, false) => (b'j', self.value.as_bytes()),
        }
    }
}

/// Why a row could not be parsed, and its digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable {
    /// Why the row was not parsed.
    pub reason: String,
    /// `sha256("U" || bytes)` over the row's bytes.
    pub digest: [u8; 32],
    /// Length of the row in bytes.
    pub len: u64,
    /// The row's first characters (U+FFFD for bytes that are not UTF-8), to show it.
    pub preview: String,
}

/// One record of a dataset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// 0-based position among the records given to the caller.
    pub index: u64,
    /// 1-based line (CSV/JSONL: the line the record starts on; Parquet: the row number;
    /// folders: 0).
    pub line: u64,
    /// For folder datasets, the file's path relative to the folder (`/`-separated).
    pub file: Option<String>,
    /// Fields in source order (empty for an unreadable row).
    pub fields: Vec<Field>,
    /// Set for a row that could not be parsed (only given when
    /// [`ReadOptions::deliver_unreadable`] is set).
    pub unreadable: Option<Unreadable>,
}

impl Record {
    /// The value of a field by name.
    pub fn get(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// Content digest of the record in the canonical form (module comment): independent of
    /// field order and of the record's position; the raw digest for an unreadable row.
    pub fn digest(&self) -> [u8; 32] {
        if let Some(u) = &self.unreadable {
            return u.digest;
        }
        let mut order: Vec<&Field> = self.fields.iter().collect();
        order.sort_by(|a, b| a.name.cmp(&b.name));
        let mut h = Sha256::new();
        h.update(b"R");
        for f in order {
            let (tag, value) = f.canonical();
            h.update((f.name.len() as u64).to_le_bytes());
            h.update(f.name.as_bytes());
            h.update([tag]);
            h.update((value.len() as u64).to_le_bytes());
            h.update(value);
        }
        h.finalize().into()
    }
}

/// `sha256("U" || bytes)`: the digest of an unreadable row.
pub fn raw_digest(bytes: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"U");
    h.update(bytes);
    h.finalize().into()
}

/// 64-bit digest of one field value (truncated sha256 over its tag and bytes), used to name
/// changed fields in diffs.
pub fn field_digest(f: &Field) -> u64 {
    let (tag, value) = f.canonical();
    let mut h = Sha256::new();
    h.update([tag]);
    h.update(value);
    let d = h.finalize();
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    u64::from_be_bytes(b)
}

/// A row that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BadRow {
    /// 1-based line or row number.
    pub line: u64,
    /// Why it was rejected.
    pub message: String,
}

/// Counts of what a read saw.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ReadSummary {
    /// Records parsed.
    pub records: u64,
    /// Rows that could not be parsed (digested as raw bytes).
    pub bad_records: u64,
    /// Records holding a string that is not valid UTF-8 (digested as bytes).
    pub non_utf8: u64,
    /// Blank lines skipped.
    pub blank_lines: u64,
    /// Bytes of input consumed.
    pub bytes: u64,
    /// The first bad rows, with the reason.
    pub bad_rows: Vec<BadRow>,
    /// The column names of a CSV/TSV header row (compared by `--verify` and `diff`: a
    /// header with no data rows under it is in no record digest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<Vec<String>>,
}

impl ReadSummary {
    fn bad(&mut self, line: u64, message: impl Into<String>) {
        self.bad_records += 1;
        if self.bad_rows.len() < MAX_BAD_ROWS_LISTED {
            self.bad_rows.push(BadRow {
                line,
                message: message.into(),
            });
        }
    }
}

/// Options of a read.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// Force a layout instead of detecting it.
    pub kind: Option<DatasetKind>,
    /// Largest record parsed, in bytes (longer ones are digested as raw bytes).
    pub max_record_bytes: usize,
    /// Give unreadable rows to the caller as records with [`Record::unreadable`] set (for
    /// digests: manifests, diffs); when unset they are only counted.
    pub deliver_unreadable: bool,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            kind: None,
            max_record_bytes: DEFAULT_MAX_RECORD_BYTES,
            deliver_unreadable: true,
        }
    }
}

/// Where a reader sends what it reads: records to the caller, counts to the summary.
pub(crate) struct Sink<'a> {
    f: &'a mut dyn FnMut(Record) -> Result<()>,
    pub(crate) s: ReadSummary,
    next: u64,
    deliver_unreadable: bool,
}

impl<'a> Sink<'a> {
    fn new(opts: &ReadOptions, f: &'a mut dyn FnMut(Record) -> Result<()>) -> Self {
        Sink {
            f,
            s: ReadSummary::default(),
            next: 0,
            deliver_unreadable: opts.deliver_unreadable,
        }
    }

    /// A parsed record.
    pub(crate) fn record(
        &mut self,
        line: u64,
        file: Option<String>,
        fields: Vec<Field>,
    ) -> Result<()> {
        if fields.iter().any(|f| f.bytes.is_some()) {
            self.s.non_utf8 += 1;
        }
        self.s.records += 1;
        let r = Record {
            index: self.next,
            line,
            file,
            fields,
            unreadable: None,
        };
        self.next += 1;
        (self.f)(r)
    }

    /// A row that could not be parsed.
    pub(crate) fn unreadable(
        &mut self,
        line: u64,
        file: Option<String>,
        u: Unreadable,
    ) -> Result<()> {
        self.s.bad(line, u.reason.clone());
        if !self.deliver_unreadable {
            return Ok(());
        }
        let r = Record {
            index: self.next,
            line,
            file,
            fields: Vec::new(),
            unreadable: Some(u),
        };
        self.next += 1;
        (self.f)(r)
    }
}

/// The bytes of one row as they are read: kept up to a cap, then digested streaming (memory
/// stays bounded whatever the row's length). Line terminators at the end are left out, and at
/// the start too when `skip_leading` is set (blank lines before a CSV record).
pub(crate) struct RawRow {
    cap: usize,
    skip_leading: bool,
    started: bool,
    /// 1-based line of the row's first byte.
    pub(crate) line: u64,
    buf: Vec<u8>,
    tail: Vec<u8>,
    hasher: Option<Sha256>,
    len: u64,
    /// Digested between the `U` and the row's bytes (a CSV's column names).
    context: Vec<u8>,
}

/// Trailing line-terminator bytes held back at most; a longer run is part of the row.
const MAX_TAIL: usize = 4096;

fn is_eol(c: u8) -> bool {
    c == b'\n' || c == b'\r'
}

impl RawRow {
    pub(crate) fn new(cap: usize, skip_leading: bool) -> Self {
        RawRow {
            cap,
            skip_leading,
            started: false,
            line: 0,
            buf: Vec::new(),
            tail: Vec::new(),
            hasher: None,
            len: 0,
            context: Vec::new(),
        }
    }

    /// Bind every later row's digest to `names` (a CSV's header): a row digested as raw
    /// bytes is read under those column names, so changing them must change its digest.
    pub(crate) fn set_context(&mut self, names: &[String]) {
        self.context.clear();
        self.context
            .extend_from_slice(&(names.len() as u64).to_le_bytes());
        for n in names {
            self.context
                .extend_from_slice(&(n.len() as u64).to_le_bytes());
            self.context.extend_from_slice(n.as_bytes());
        }
    }

    /// Forget the row, keeping the buffers.
    pub(crate) fn reset(&mut self) {
        self.started = false;
        self.buf.clear();
        self.tail.clear();
        self.hasher = None;
        self.len = 0;
    }

    /// Whether the row outgrew the cap (its bytes are no longer held).
    pub(crate) fn overflowed(&self) -> bool {
        self.hasher.is_some()
    }

    /// The row's bytes (empty once overflowed).
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Take `bytes` read from the input; `newlines` counts every `\n` consumed (for line
    /// numbers).
    pub(crate) fn push(&mut self, mut bytes: &[u8], newlines: &mut u64) {
        if !self.started {
            let first = if self.skip_leading {
                bytes.iter().position(|&c| !is_eol(c))
            } else {
                (!bytes.is_empty()).then_some(0)
            };
            let Some(k) = first else {
                *newlines += memchr::memchr_iter(b'\n', bytes).count() as u64;
                return;
            };
            let (lead, rest) = bytes.split_at(k);
            *newlines += memchr::memchr_iter(b'\n', lead).count() as u64;
            self.line = *newlines + 1;
            self.started = true;
            bytes = rest;
        }
        *newlines += memchr::memchr_iter(b'\n', bytes).count() as u64;
        match bytes.iter().rposition(|&c| !is_eol(c)) {
            Some(j) => {
                let tail = std::mem::take(&mut self.tail);
                self.append(&tail);
                self.tail = tail;
                self.tail.clear();
                let (body, rest) = bytes.split_at(j + 1);
                self.append(body);
                self.tail.extend_from_slice(rest);
            }
            None => self.tail.extend_from_slice(bytes),
        }
        if self.tail.len() > MAX_TAIL {
            let over = self.tail.len() - MAX_TAIL;
            let tail = std::mem::take(&mut self.tail);
            self.append(tail.get(..over).unwrap_or_default());
            self.tail = tail.get(over..).unwrap_or_default().to_vec();
        }
    }

    fn append(&mut self, b: &[u8]) {
        if b.is_empty() {
            return;
        }
        self.len += b.len() as u64;
        if let Some(h) = &mut self.hasher {
            h.update(b);
        } else if self.buf.len() + b.len() > self.cap {
            let mut h = Sha256::new();
            h.update(b"U");
            h.update(&self.context);
            h.update(&self.buf);
            h.update(b);
            self.buf.clear();
            self.hasher = Some(h);
        } else {
            self.buf.extend_from_slice(b);
        }
    }

    /// The row as an unreadable record.
    pub(crate) fn unreadable(&mut self, reason: String) -> Unreadable {
        let digest = match self.hasher.take() {
            Some(h) => h.finalize().into(),
            None => {
                let mut h = Sha256::new();
                h.update(b"U");
                h.update(&self.context);
                h.update(&self.buf);
                h.finalize().into()
            }
        };
        Unreadable {
            reason,
            digest,
            len: self.len,
            preview: preview(&self.buf),
        }
    }
}

/// The first characters of bytes, for display.
pub(crate) fn preview(bytes: &[u8]) -> String {
    let cut = bytes.get(..PREVIEW_CHARS * 4).unwrap_or(bytes);
    String::from_utf8_lossy(cut)
        .chars()
        .take(PREVIEW_CHARS)
        .collect()
}

/// Read every record of the dataset at `path`, calling `f` for each, streaming.
pub fn read_path(
    path: &Path,
    opts: &ReadOptions,
    f: &mut dyn FnMut(Record) -> Result<()>,
) -> Result<(DatasetKind, ReadSummary)> {
    let kind = match opts.kind {
        Some(k) => k,
        None => DatasetKind::detect(path)?,
    };
    let display = path.display().to_string();
    let mut sink = Sink::new(opts, f);
    match kind {
        DatasetKind::Folder => read_folder(path, opts.max_record_bytes, &mut sink)?,
        DatasetKind::Parquet => {
            let file = File::open(path).map_err(|e| Error::io(&display, e))?;
            crate::pq::read_parquet(&display, file, &mut sink)?
        }
        DatasetKind::Csv | DatasetKind::Tsv | DatasetKind::Jsonl => {
            let file = File::open(path).map_err(|e| Error::io(&display, e))?;
            let gz = display.to_ascii_lowercase().ends_with(".gz");
            let reader: Box<dyn Read> = if gz {
                Box::new(flate2::read::MultiGzDecoder::new(file))
            } else {
                Box::new(file)
            };
            read_text(&display, kind, reader, opts, &mut sink)?
        }
    };
    Ok((kind, sink.s))
}

/// Read a CSV, TSV, JSON Lines or Parquet stream (`name` is used in messages).
pub fn read_reader(
    name: &str,
    kind: DatasetKind,
    reader: impl Read,
    opts: &ReadOptions,
    f: &mut dyn FnMut(Record) -> Result<()>,
) -> Result<ReadSummary> {
    let mut sink = Sink::new(opts, f);
    if kind == DatasetKind::Parquet {
        let mut data = Vec::new();
        let mut r = reader;
        r.read_to_end(&mut data).map_err(|e| Error::io(name, e))?;
        crate::pq::read_parquet(name, bytes::Bytes::from(data), &mut sink)?;
    } else {
        read_text(name, kind, reader, opts, &mut sink)?;
    }
    Ok(sink.s)
}

fn read_text(
    name: &str,
    kind: DatasetKind,
    reader: impl Read,
    opts: &ReadOptions,
    sink: &mut Sink,
) -> Result<()> {
    let cap = opts.max_record_bytes;
    match kind {
        DatasetKind::Jsonl => {
            read_jsonl(name, BufReader::with_capacity(1 << 16, reader), cap, sink)
        }
        DatasetKind::Csv => crate::csvread::read_csv(name, reader, b',', cap, sink),
        DatasetKind::Tsv => crate::csvread::read_csv(name, reader, b'\t', cap, sink),
        DatasetKind::Parquet | DatasetKind::Folder => Err(Error::format(
            name,
            format!("a {} cannot be read as text", kind.as_str()),
        )),
    }
}

/// Read one line into `raw` (without the `\n`), never holding more than its cap. Returns the
/// bytes consumed, `None` at end of input.
fn read_line(
    r: &mut impl BufRead,
    raw: &mut RawRow,
    newlines: &mut u64,
) -> std::io::Result<Option<u64>> {
    raw.reset();
    let mut consumed = 0u64;
    loop {
        let avail = match r.fill_buf() {
            Ok(a) => a,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if avail.is_empty() {
            return Ok((consumed > 0).then_some(consumed));
        }
        let (chunk, done) = match memchr::memchr(b'\n', avail) {
            Some(i) => (i + 1, true),
            None => (avail.len(), false),
        };
        let body = avail.get(..chunk - usize::from(done)).unwrap_or_default();
        raw.push(body, newlines);
        r.consume(chunk);
        consumed += chunk as u64;
        if done {
            *newlines += 1;
            return Ok(Some(consumed));
        }
    }
}

/// The fields of one JSON Lines row, or why it is not a JSON object.
fn jsonl_fields(body: &[u8]) -> std::result::Result<Vec<Field>, String> {
    let text = std::str::from_utf8(body)
        .map_err(|e| format!("not UTF-8 (JSON text must be UTF-8): {e}"))?;
    let pairs = crate::jsontext::parse_object(text)?;
    Ok(pairs
        .into_iter()
        .map(|(k, v)| match v {
            crate::jsontext::Value::Text(s) => Field::text(k, s),
            crate::jsontext::Value::Other(s) => Field::other(k, s),
        })
        .collect())
}

fn read_jsonl(name: &str, mut r: impl BufRead, cap: usize, sink: &mut Sink) -> Result<()> {
    let mut raw = RawRow::new(cap, false);
    let mut newlines = 0u64;
    let mut line = 0u64;
    let mut first = true;
    while let Some(n) =
        read_line(&mut r, &mut raw, &mut newlines).map_err(|e| Error::io(name, e))?
    {
        sink.s.bytes += n;
        line += 1;
        if raw.overflowed() {
            let u = raw.unreadable(format!("record longer than {cap} bytes"));
            sink.unreadable(line, None, u)?;
            first = false;
            continue;
        }
        let body = raw.bytes();
        let body = if first {
            body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body)
        } else {
            body
        };
        first = false;
        if body.iter().all(|b| b.is_ascii_whitespace()) {
            sink.s.blank_lines += 1;
            continue;
        }
        match jsonl_fields(body) {
            Ok(fields) => sink.record(line, None, fields)?,
            Err(why) => {
                let u = raw.unreadable(why);
                sink.unreadable(line, None, u)?;
            }
        }
    }
    Ok(())
}

/// File extensions read as images (digested, never decoded as text).
const IMAGE_EXTS: &[&str] = &[
    "png", "jpg", "jpeg", "gif", "bmp", "webp", "tif", "tiff", "ico", "heic", "avif",
];

/// Deepest folder nesting followed.
const MAX_FOLDER_DEPTH: u32 = 64;

/// Version-control folders skipped in a dataset folder (their contents are not data).
const VCS_DIRS: &[&str] = &[".git", ".hg", ".svn"];

/// Every file under `dir`, sorted by name at each level, hidden ones included (loaders such
/// as torchvision's `ImageFolder` read them) but not version-control folders; symbolic links
/// followed (as dataset loaders do). A folder that cannot be listed or an entry that is not a
/// regular file or folder is an error: a dataset must be read in full.
fn walk_files(dir: &Path, depth: u32, out: &mut Vec<PathBuf>) -> Result<()> {
    if depth > MAX_FOLDER_DEPTH {
        return Err(Error::format(
            dir.display(),
            "folders nested too deeply (a symbolic link cycle?)",
        ));
    }
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir.display(), e))?;
    let mut list = Vec::new();
    for e in entries {
        list.push(e.map_err(|e| Error::io(dir.display(), e))?);
    }
    list.sort_by_key(|e| e.file_name());
    for e in list {
        let p = e.path();
        let meta = std::fs::metadata(&p).map_err(|e| Error::io(p.display(), e))?;
        if meta.is_dir() {
            if VCS_DIRS.iter().any(|v| e.file_name() == *v) {
                continue;
            }
            walk_files(&p, depth + 1, out)?;
        } else if meta.is_file() {
            out.push(p);
        } else {
            return Err(Error::format(p.display(), "not a regular file or folder"));
        }
    }
    Ok(())
}

/// The sha256 of a file, its size and its first `max` bytes (all of it when it fits).
fn hash_file(p: &Path, max: usize) -> Result<([u8; 32], u64, Option<Vec<u8>>)> {
    let mut file = File::open(p).map_err(|e| Error::io(p.display(), e))?;
    let mut h = Sha256::new();
    let mut kept: Vec<u8> = Vec::new();
    let mut size = 0u64;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                let chunk = buf.get(..n).unwrap_or_default();
                h.update(chunk);
                size += n as u64;
                if kept.len() + n <= max {
                    kept.extend_from_slice(chunk);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::io(p.display(), e)),
        }
    }
    let whole = (size as usize <= max).then_some(kept);
    Ok((h.finalize().into(), size, whole))
}

/// A path component's bytes (exact on Unix, where names need not be UTF-8).
fn name_bytes(c: &std::ffi::OsStr) -> Vec<u8> {
    c.as_encoded_bytes().to_vec()
}

fn read_folder(root: &Path, max: usize, sink: &mut Sink) -> Result<()> {
    let mut files = Vec::new();
    walk_files(root, 0, &mut files)?;
    for p in files {
        let rel: Vec<Vec<u8>> = p
            .strip_prefix(root)
            .unwrap_or(&p)
            .components()
            .map(|c| name_bytes(c.as_os_str()))
            .collect();
        let rel_path = rel.join(&b'/');
        let (digest, size, whole) = hash_file(&p, max)?;
        sink.s.bytes += size;
        let path_field = Field::from_bytes("path", &rel_path);
        let ext = path_field
            .value
            .rsplit_once('.')
            .map(|(_, e)| e.to_ascii_lowercase())
            .unwrap_or_default();
        let display_path = path_field.value.clone();
        let mut fields = vec![
            path_field,
            Field::text("sha256", hex::encode(digest)),
            Field::other("bytes", size.to_string()),
        ];
        if rel.len() > 1 {
            if let Some(parent) = rel.get(rel.len() - 2) {
                fields.push(Field::from_bytes("label", parent));
            }
        }
        if let Some(kept) = whole.filter(|k| !IMAGE_EXTS.contains(&ext.as_str()) && !k.contains(&0))
        {
            fields.push(Field::from_bytes("text", &kept));
        }
        sink.record(0, Some(display_path), fields)?;
    }
    Ok(())
}

/// Read every record into memory (for tests and small inputs).
pub fn read_all(path: &Path, opts: &ReadOptions) -> Result<(Vec<Record>, ReadSummary)> {
    let mut out = Vec::new();
    let (_, s) = read_path(path, opts, &mut |r| {
        out.push(r);
        Ok(())
    })?;
    Ok((out, s))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(kind: DatasetKind, text: &[u8], cap: usize) -> (Vec<Record>, ReadSummary) {
        let mut out = Vec::new();
        let s = read_reader(
            "t",
            kind,
            text,
            &ReadOptions {
                max_record_bytes: cap,
                ..ReadOptions::default()
            },
            &mut |r| {
                out.push(r);
                Ok(())
            },
        )
        .unwrap();
        (out, s)
    }

    /// The digest of an unreadable CSV row under the header `names`, written out.
    fn csv_raw(names: &[&str], row: &[u8]) -> [u8; 32] {
        let mut b = b"U".to_vec();
        b.extend_from_slice(&(names.len() as u64).to_le_bytes());
        for n in names {
            b.extend_from_slice(&(n.len() as u64).to_le_bytes());
            b.extend_from_slice(n.as_bytes());
        }
        b.extend_from_slice(row);
        Sha256::digest(&b).into()
    }

    fn parsed(recs: &[Record]) -> Vec<&Record> {
        recs.iter().filter(|r| r.unreadable.is_none()).collect()
    }

    #[test]
    fn jsonl_unreadable_rows_are_digested_in_place() {
        let long = format!("{{\"t\":\"{}\"}}", "x".repeat(100));
        let input = format!(
            "{{\"t\":\"a\",\"label\":1}}\n\n[1,2]\n{{broken\n{long}\n{{\"t\":\"caf\u{e9}\"}}\r\n"
        );
        let mut bytes = input.into_bytes();
        bytes.extend_from_slice(b"{\"t\":\"caf\xe9\"}\n");
        let (recs, s) = read(DatasetKind::Jsonl, &bytes, 64);
        assert_eq!(recs.len(), 6);
        assert_eq!((s.records, s.bad_records, s.blank_lines), (2, 4, 1));
        let lines: Vec<u64> = s.bad_rows.iter().map(|b| b.line).collect();
        assert_eq!(lines, vec![3, 4, 5, 7]);
        assert!(s.bad_rows[0].message.contains("not a json object"));
        assert!(s.bad_rows[2].message.contains("longer than 64"));
        assert!(s.bad_rows[3].message.contains("not UTF-8"));
        assert_eq!(
            recs[1].unreadable.as_ref().unwrap().digest,
            raw_digest(b"[1,2]")
        );
        assert_eq!(
            recs[3].unreadable.as_ref().unwrap().digest,
            raw_digest(long.as_bytes()),
            "an over-long row is digested streaming, same as held"
        );
        assert_eq!(
            recs[5].unreadable.as_ref().unwrap().digest,
            raw_digest(b"{\"t\":\"caf\xe9\"}")
        );
        let ok = parsed(&recs);
        assert_eq!(ok[0].line, 1);
        assert_eq!(ok[0].get("label").unwrap().value, "1");
        assert!(!ok[0].get("label").unwrap().is_string);
        assert_eq!(ok[1].get("t").unwrap().value, "caf\u{e9}");
        assert_eq!(
            recs.iter().map(|r| r.index).collect::<Vec<_>>(),
            [0, 1, 2, 3, 4, 5]
        );
        // Only counted when the caller does not want them.
        let mut n = 0;
        let s2 = read_reader(
            "t",
            DatasetKind::Jsonl,
            &bytes[..],
            &ReadOptions {
                max_record_bytes: 64,
                deliver_unreadable: false,
                ..ReadOptions::default()
            },
            &mut |_| {
                n += 1;
                Ok(())
            },
        )
        .unwrap();
        assert_eq!((n, s2.bad_records), (2, 4));
    }

    #[test]
    fn digest_ignores_field_order_but_not_types_or_number_text() {
        let (a, _) = read(
            DatasetKind::Jsonl,
            b"{\"a\":\"1\",\"b\":2}\n{\"b\":2,\"a\":\"1\"}\n{\"a\":1,\"b\":2}\n{\"a\":\"1\",\"b\":2.0}\n{\"a\":\"1\",\"b\":2,\"b\":2}\n",
            1 << 20,
        );
        assert_eq!(a[0].digest(), a[1].digest());
        for other in &a[2..] {
            assert_ne!(a[0].digest(), other.digest());
        }
        let (w, _) = read(
            DatasetKind::Jsonl,
            b"{\"n\":12345678901234567890123}\n{\"n\":12345678901234567890124}\n",
            1 << 20,
        );
        assert_ne!(w[0].digest(), w[1].digest());
    }

    #[test]
    fn csv_ragged_and_over_long_rows_are_digested_not_dropped() {
        let text = b"id,text,label\n1,\"hello\nworld\",pos\n2,short\n\n3,\"a, b\",neg\r\n4,x,y,z\n5,xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx,neg\n";
        let (recs, s) = read(DatasetKind::Csv, text, 32);
        assert_eq!((s.records, s.bad_records), (2, 3));
        let ok = parsed(&recs);
        assert_eq!(ok[0].get("text").unwrap().value, "hello\nworld");
        assert_eq!(ok[0].line, 2);
        assert_eq!(ok[1].line, 6);
        assert_eq!(ok[1].get("label").unwrap().value, "neg");
        assert_eq!(s.bad_rows[0].line, 4);
        assert!(s.bad_rows[0].message.contains("ragged"), "{:?}", s.bad_rows);
        let h = ["id", "text", "label"];
        assert_eq!(
            recs[1].unreadable.as_ref().unwrap().digest,
            csv_raw(&h, b"2,short")
        );
        assert_eq!(s.bad_rows[1].line, 7);
        assert_eq!(
            recs[3].unreadable.as_ref().unwrap().digest,
            csv_raw(&h, b"4,x,y,z")
        );
        assert!(
            s.bad_rows[2].message.contains("longer than 32"),
            "{:?}",
            s.bad_rows
        );
        assert_eq!(
            recs[4].unreadable.as_ref().unwrap().digest,
            csv_raw(&h, b"5,xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx,neg"),
            "an over-long row is digested streaming, same as held"
        );
        // The header is part of an unreadable row's digest.
        let (other, _) = read(
            DatasetKind::Csv,
            &[b"id,text,class".as_slice(), &text[13..]].concat(),
            32,
        );
        assert_ne!(other[1].digest(), recs[1].digest());
        assert_eq!(s.bytes, text.len() as u64);
    }

    #[test]
    fn csv_cells_that_are_not_utf8_are_digested_as_bytes() {
        let (a, s) = read(DatasetKind::Csv, b"t\n\xff\xfe\n", 1024);
        let (b, _) = read(DatasetKind::Csv, "t\n\u{ff}\u{fe}\n".as_bytes(), 1024);
        assert_eq!(s.non_utf8, 1);
        assert_eq!(a[0].get("t").unwrap().value, "\u{fffd}\u{fffd}");
        assert_ne!(a[0].digest(), b[0].digest());
        let (c, _) = read(DatasetKind::Csv, b"t\n\xff\xfd\n", 1024);
        assert_ne!(a[0].digest(), c[0].digest());
    }

    #[test]
    fn csv_header_names_are_exact() {
        let (a, _) = read(DatasetKind::Csv, b"a,a\n1,2\n", 1024);
        let (b, _) = read(DatasetKind::Csv, b"a,a_\n1,2\n", 1024);
        let (c, _) = read(DatasetKind::Csv, b",x\n1,2\n", 1024);
        let (d, _) = read(DatasetKind::Csv, b"column_1,x\n1,2\n", 1024);
        assert_ne!(a[0].digest(), b[0].digest());
        assert_ne!(c[0].digest(), d[0].digest());
        assert_eq!(a[0].fields[1].name, "a");
    }

    #[test]
    fn folder_labels_from_class_directories() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("pos")).unwrap();
        std::fs::create_dir_all(d.path().join("neg")).unwrap();
        std::fs::write(d.path().join("pos/a.txt"), "good film").unwrap();
        std::fs::write(d.path().join("neg/b.txt"), "bad film").unwrap();
        std::fs::write(d.path().join("neg/c.png"), b"\x89PNG\r\n\x1a\n\0\0").unwrap();
        let (recs, s) = read_all(d.path(), &ReadOptions::default()).unwrap();
        assert_eq!(s.records, 3);
        assert_eq!(recs[0].file.as_deref(), Some("neg/b.txt"));
        assert_eq!(recs[0].get("label").unwrap().value, "neg");
        assert_eq!(recs[0].get("text").unwrap().value, "bad film");
        assert!(recs[1].get("text").is_none());
        assert_eq!(recs[2].get("label").unwrap().value, "pos");
    }

    /// Hidden files are data too (loaders read them); links are followed; a fifo is refused.
    #[cfg(unix)]
    #[test]
    fn folders_cover_hidden_files_and_links_and_refuse_special_files() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("f");
        std::fs::create_dir_all(f.join("cat")).unwrap();
        std::fs::create_dir_all(f.join(".git")).unwrap();
        std::fs::write(f.join("cat/a.png"), b"png").unwrap();
        std::fs::write(f.join(".git/HEAD"), b"ref").unwrap();
        let (before, _) = read_all(&f, &ReadOptions::default()).unwrap();
        assert_eq!(before.len(), 1);
        std::fs::write(f.join("cat/.b.png"), b"hidden").unwrap();
        std::fs::write(d.path().join("outside.txt"), b"linked").unwrap();
        std::os::unix::fs::symlink(d.path().join("outside.txt"), f.join("cat/c.txt")).unwrap();
        let (recs, _) = read_all(&f, &ReadOptions::default()).unwrap();
        let files: Vec<&str> = recs.iter().filter_map(|r| r.file.as_deref()).collect();
        assert_eq!(files, ["cat/.b.png", "cat/a.png", "cat/c.txt"]);
        assert_eq!(recs[2].get("text").unwrap().value, "linked");
        let fifo = f.join("cat/pipe");
        let ok = std::process::Command::new("mkfifo").arg(&fifo).status();
        if ok.is_ok_and(|s| s.success()) {
            let err = read_all(&f, &ReadOptions::default())
                .unwrap_err()
                .to_string();
            assert!(err.contains("not a regular file"), "{err}");
        }
    }

    #[test]
    fn kind_from_names() {
        assert_eq!(
            DatasetKind::from_name("a.JSONL.gz"),
            Some(DatasetKind::Jsonl)
        );
        assert_eq!(DatasetKind::from_name("a.tsv"), Some(DatasetKind::Tsv));
        assert_eq!(
            DatasetKind::from_name("a.parquet"),
            Some(DatasetKind::Parquet)
        );
        assert_eq!(DatasetKind::from_name("README"), None);
    }
}
