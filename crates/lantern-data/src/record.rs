//! Streaming dataset readers: CSV/TSV, JSON Lines, Parquet and folders of files, one [`Record`]
//! at a time. Bad rows (ragged, malformed, oversized) are counted with their row numbers.

use crate::{Error, Result};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// Default largest record accepted, in bytes; longer lines are skipped and counted as bad.
pub const DEFAULT_MAX_RECORD_BYTES: usize = 64 << 20;
/// How many bad rows are listed individually (all are counted).
pub const MAX_BAD_ROWS_LISTED: usize = 1000;

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

/// One field of a record: a string value, or any other JSON value in compact form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// Column name.
    pub name: String,
    /// The value: the string itself, or compact JSON for numbers, booleans, arrays, objects.
    pub value: String,
    /// Whether the value is a string (as opposed to compact JSON / null).
    pub is_string: bool,
}

/// One record of a dataset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// 0-based index among the records read successfully.
    pub index: u64,
    /// 1-based line (CSV/JSONL: the line the record starts on; Parquet: the row number;
    /// folders: 0).
    pub line: u64,
    /// For folder datasets, the file's path relative to the folder (`/`-separated).
    pub file: Option<String>,
    /// Fields in source order.
    pub fields: Vec<Field>,
}

impl Record {
    /// The value of a field by name.
    pub fn get(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// Content digest of the record: sha256 over its fields sorted by name, each as
    /// length-prefixed name, a type tag and length-prefixed value. Independent of field order
    /// and of the record's position.
    pub fn digest(&self) -> [u8; 32] {
        let mut order: Vec<&Field> = self.fields.iter().collect();
        order.sort_by(|a, b| a.name.cmp(&b.name));
        let mut h = Sha256::new();
        for f in order {
            h.update((f.name.len() as u64).to_le_bytes());
            h.update(f.name.as_bytes());
            h.update([if f.is_string { b's' } else { b'j' }]);
            h.update((f.value.len() as u64).to_le_bytes());
            h.update(f.value.as_bytes());
        }
        h.finalize().into()
    }
}

/// 64-bit digest of one field value (truncated sha256 with a type tag), used to name changed
/// fields in diffs.
pub fn field_digest(f: &Field) -> u64 {
    let mut h = Sha256::new();
    h.update([if f.is_string { b's' } else { b'j' }]);
    h.update(f.value.as_bytes());
    let d = h.finalize();
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    u64::from_be_bytes(b)
}

/// A row that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BadRow {
    /// 1-based line or row number (0 for a file of a folder, named in the message).
    pub line: u64,
    /// Why it was rejected.
    pub message: String,
}

/// Counts of what a read saw.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ReadSummary {
    /// Records read successfully.
    pub records: u64,
    /// Rows that could not be read.
    pub bad_records: u64,
    /// Records whose bytes were not valid UTF-8 and were decoded as Latin-1.
    pub reencoded: u64,
    /// Blank lines skipped.
    pub blank_lines: u64,
    /// Bytes of input consumed.
    pub bytes: u64,
    /// The first bad rows, with the reason.
    pub bad_rows: Vec<BadRow>,
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
    /// Largest record accepted, in bytes.
    pub max_record_bytes: usize,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            kind: None,
            max_record_bytes: DEFAULT_MAX_RECORD_BYTES,
        }
    }
}

/// Decode bytes as UTF-8, falling back to Latin-1 (which never fails) for mixed encodings.
/// Returns the text and whether the fallback was used.
pub fn decode(bytes: &[u8]) -> (String, bool) {
    match std::str::from_utf8(bytes) {
        Ok(s) => (s.to_string(), false),
        Err(_) => (bytes.iter().map(|&b| b as char).collect(), true),
    }
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
    let summary = match kind {
        DatasetKind::Folder => read_folder(path, opts, f)?,
        DatasetKind::Parquet => {
            let file = File::open(path).map_err(|e| Error::io(&display, e))?;
            read_parquet(&display, file, f)?
        }
        DatasetKind::Csv | DatasetKind::Tsv | DatasetKind::Jsonl => {
            let file = File::open(path).map_err(|e| Error::io(&display, e))?;
            let gz = display.to_ascii_lowercase().ends_with(".gz");
            let reader: Box<dyn Read> = if gz {
                Box::new(flate2::read::MultiGzDecoder::new(file))
            } else {
                Box::new(file)
            };
            read_reader(&display, kind, reader, opts, f)?
        }
    };
    Ok((kind, summary))
}

/// Read a CSV, TSV or JSON Lines stream (`name` is used in messages).
pub fn read_reader(
    name: &str,
    kind: DatasetKind,
    reader: impl Read,
    opts: &ReadOptions,
    f: &mut dyn FnMut(Record) -> Result<()>,
) -> Result<ReadSummary> {
    match kind {
        DatasetKind::Jsonl => read_jsonl(name, BufReader::with_capacity(1 << 16, reader), opts, f),
        DatasetKind::Csv => read_csv(name, reader, b',', opts, f),
        DatasetKind::Tsv => read_csv(name, reader, b'\t', opts, f),
        DatasetKind::Parquet => {
            let mut data = Vec::new();
            let mut r = reader;
            r.read_to_end(&mut data).map_err(|e| Error::io(name, e))?;
            read_parquet(name, bytes::Bytes::from(data), f)
        }
        DatasetKind::Folder => Err(Error::format(name, "a folder cannot be read from a stream")),
    }
}

/// Read one line into `buf` (without the newline), never holding more than `max` bytes.
/// Returns `None` at end of input, else the bytes consumed and whether the line was too long.
fn read_line_bounded(
    r: &mut impl BufRead,
    buf: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<Option<(u64, bool)>> {
    buf.clear();
    let mut consumed = 0u64;
    let mut too_long = false;
    loop {
        let avail = match r.fill_buf() {
            Ok(a) => a,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if avail.is_empty() {
            return Ok(if consumed == 0 {
                None
            } else {
                Some((consumed, too_long))
            });
        }
        let (chunk, done) = match memchr::memchr(b'\n', avail) {
            Some(i) => (i + 1, true),
            None => (avail.len(), false),
        };
        let body = avail.get(..chunk).unwrap_or_default();
        let body = if done {
            body.get(..body.len().saturating_sub(1)).unwrap_or_default()
        } else {
            body
        };
        if !too_long {
            if buf.len() + body.len() > max {
                too_long = true;
                buf.clear();
            } else {
                buf.extend_from_slice(body);
            }
        }
        r.consume(chunk);
        consumed += chunk as u64;
        if done {
            return Ok(Some((consumed, too_long)));
        }
    }
}

fn json_field(name: String, v: serde_json::Value) -> Field {
    match v {
        serde_json::Value::String(s) => Field {
            name,
            value: s,
            is_string: true,
        },
        other => Field {
            name,
            value: other.to_string(),
            is_string: false,
        },
    }
}

fn read_jsonl(
    name: &str,
    mut r: impl BufRead,
    opts: &ReadOptions,
    f: &mut dyn FnMut(Record) -> Result<()>,
) -> Result<ReadSummary> {
    let mut s = ReadSummary::default();
    let mut buf = Vec::new();
    let mut line = 0u64;
    while let Some((n, too_long)) = read_line_bounded(&mut r, &mut buf, opts.max_record_bytes)
        .map_err(|e| Error::io(name, e))?
    {
        line += 1;
        s.bytes += n;
        if too_long {
            s.bad(
                line,
                format!("record longer than {} bytes", opts.max_record_bytes),
            );
            continue;
        }
        let body = buf.strip_suffix(b"\r").unwrap_or(&buf);
        let body = if line == 1 {
            body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body)
        } else {
            body
        };
        if body.iter().all(|b| b.is_ascii_whitespace()) {
            s.blank_lines += 1;
            continue;
        }
        let parsed = match serde_json::from_slice::<serde_json::Value>(body) {
            Ok(v) => Ok(v),
            Err(e) => {
                let (text, fallback) = decode(body);
                if fallback {
                    match serde_json::from_str::<serde_json::Value>(&text) {
                        Ok(v) => {
                            s.reencoded += 1;
                            Ok(v)
                        }
                        Err(e) => Err(e),
                    }
                } else {
                    Err(e)
                }
            }
        };
        let value = match parsed {
            Ok(v) => v,
            Err(e) => {
                s.bad(line, format!("invalid json: {e}"));
                continue;
            }
        };
        let serde_json::Value::Object(map) = value else {
            s.bad(line, "not a json object");
            continue;
        };
        let fields = map.into_iter().map(|(k, v)| json_field(k, v)).collect();
        let rec = Record {
            index: s.records,
            line,
            file: None,
            fields,
        };
        s.records += 1;
        f(rec)?;
    }
    Ok(s)
}

fn read_csv(
    name: &str,
    reader: impl Read,
    delimiter: u8,
    opts: &ReadOptions,
    f: &mut dyn FnMut(Record) -> Result<()>,
) -> Result<ReadSummary> {
    let mut s = ReadSummary::default();
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(reader);
    let mut rec = csv::ByteRecord::new();
    let mut header: Option<Vec<String>> = None;
    loop {
        match rdr.read_byte_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                if matches!(e.kind(), csv::ErrorKind::Io(_)) {
                    return Err(Error::format(name, format!("line {line}: {e}")));
                }
                s.bad(line, format!("unreadable csv row: {e}"));
                continue;
            }
        }
        let line = rec.position().map(|p| p.line()).unwrap_or(0);
        s.bytes = rec.position().map(|p| p.byte()).unwrap_or(s.bytes) + rec.as_slice().len() as u64;
        let Some(cols) = &header else {
            let mut names: Vec<String> = Vec::with_capacity(rec.len());
            for (i, raw) in rec.iter().enumerate() {
                let raw = if i == 0 {
                    raw.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(raw)
                } else {
                    raw
                };
                let (mut n, _) = decode(raw);
                n = n.trim().to_string();
                if n.is_empty() {
                    n = format!("column_{}", i + 1);
                }
                while names.contains(&n) {
                    n.push('_');
                }
                names.push(n);
            }
            header = Some(names);
            continue;
        };
        if rec.len() == 1 && rec.get(0).is_some_and(|c| c.is_empty()) {
            s.blank_lines += 1;
            continue;
        }
        if rec.len() != cols.len() {
            s.bad(
                line,
                format!(
                    "ragged row: {} field(s), the header has {}",
                    rec.len(),
                    cols.len()
                ),
            );
            continue;
        }
        if rec.as_slice().len() > opts.max_record_bytes {
            s.bad(
                line,
                format!("record longer than {} bytes", opts.max_record_bytes),
            );
            continue;
        }
        let mut any_fallback = false;
        let fields = cols
            .iter()
            .zip(rec.iter())
            .map(|(n, raw)| {
                let (value, fb) = decode(raw);
                any_fallback |= fb;
                Field {
                    name: n.clone(),
                    value,
                    is_string: true,
                }
            })
            .collect();
        if any_fallback {
            s.reencoded += 1;
        }
        let r = Record {
            index: s.records,
            line,
            file: None,
            fields,
        };
        s.records += 1;
        f(r)?;
    }
    if header.is_none() {
        return Err(Error::format(name, "empty csv: no header row"));
    }
    Ok(s)
}

thread_local! {
    /// Depth of guarded calls into the parquet crate on this thread.
    static IN_PARQUET: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Whether this thread is inside a call into the parquet crate whose panics are caught and
/// reported as unreadable data (lets a fuzzer's panic hook tell those from real bugs).
#[doc(hidden)]
pub fn in_guarded_parquet_call() -> bool {
    IN_PARQUET.with(|c| c.get() > 0)
}

/// Run a call into the parquet crate, turning a panic into an error message. parquet-rs
/// asserts on some malformed files (found by fuzzing: e.g. a definition level above the
/// column's maximum panics in `TripletIter::current_value`); a malformed file must be a
/// reported problem, not an abort.
fn parquet_guard<T>(call: impl FnOnce() -> T) -> std::result::Result<T, String> {
    IN_PARQUET.with(|c| c.set(c.get() + 1));
    let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(call));
    IN_PARQUET.with(|c| c.set(c.get().saturating_sub(1)));
    res.map_err(|p| {
        let msg = p
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        format!("the parquet reader failed on malformed data: {msg}")
    })
}

/// Check every column chunk's dictionary page before the record reader sees it: parquet-rs
/// allocates the dictionary from the page header's value count without comparing it with the
/// page's bytes (found by fuzzing: a 16-byte edit made it allocate gigabytes). A plain-encoded
/// value takes at least one bit (booleans), four bytes (32-bit numbers, byte arrays' length
/// prefix), eight or twelve bytes, or the fixed length; a count the page cannot hold is
/// rejected. Data pages are skipped by their headers, not decoded.
fn check_dictionaries<R: parquet::file::reader::ChunkReader + 'static>(
    reader: &parquet::file::reader::SerializedFileReader<R>,
) -> std::result::Result<(), String> {
    use parquet::basic::Type as Physical;
    use parquet::column::page::Page;
    use parquet::file::reader::FileReader;
    let schema = reader.metadata().file_metadata().schema_descr_ptr();
    for g in 0..reader.num_row_groups() {
        let rg = reader.get_row_group(g).map_err(|e| e.to_string())?;
        for c in 0..rg.num_columns().min(schema.num_columns()) {
            let mut pages = rg.get_column_page_reader(c).map_err(|e| e.to_string())?;
            let Some(first) = pages.peek_next_page().map_err(|e| e.to_string())? else {
                continue;
            };
            if !first.is_dict {
                continue;
            }
            let Some(Page::DictionaryPage {
                buf, num_values, ..
            }) = pages.get_next_page().map_err(|e| e.to_string())?
            else {
                continue;
            };
            let col = schema.column(c);
            let bytes = buf.len() as u64;
            let fits = match col.physical_type() {
                Physical::BOOLEAN => bytes.saturating_mul(8),
                Physical::INT32 | Physical::FLOAT | Physical::BYTE_ARRAY => bytes / 4,
                Physical::INT64 | Physical::DOUBLE => bytes / 8,
                Physical::INT96 => bytes / 12,
                Physical::FIXED_LEN_BYTE_ARRAY => {
                    bytes / u64::try_from(col.type_length()).unwrap_or(1).max(1)
                }
            };
            if u64::from(num_values) > fits {
                return Err(format!(
                    "row group {g}, column {}: dictionary page claims {num_values} value(s) in {bytes} byte(s)",
                    col.path()
                ));
            }
        }
    }
    Ok(())
}

fn read_parquet<R: parquet::file::reader::ChunkReader + 'static>(
    name: &str,
    input: R,
    f: &mut dyn FnMut(Record) -> Result<()>,
) -> Result<ReadSummary> {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use parquet::record::Field as PField;
    let mut s = ReadSummary::default();
    let reader = parquet_guard(|| SerializedFileReader::new(input))
        .map_err(|e| Error::format(name, format!("not a readable parquet file: {e}")))?
        .map_err(|e| Error::format(name, format!("not a readable parquet file: {e}")))?;
    parquet_guard(|| check_dictionaries(&reader))
        .and_then(|r| r)
        .map_err(|e| Error::format(name, format!("not a readable parquet file: {e}")))?;
    let meta = reader.metadata();
    let total: i64 = meta.row_groups().iter().map(|g| g.num_rows()).sum();
    let mut rows = parquet_guard(|| reader.get_row_iter(None))
        .map_err(|e| Error::format(name, format!("unreadable parquet schema: {e}")))?
        .map_err(|e| Error::format(name, format!("unreadable parquet schema: {e}")))?;
    let mut line = 0u64;
    loop {
        let row = match parquet_guard(|| rows.next()) {
            Ok(Some(row)) => row.map_err(|e| e.to_string()),
            Ok(None) => break,
            Err(panic) => Err(panic),
        };
        line += 1;
        let row = match row {
            Ok(r) => r,
            Err(e) => {
                s.bad(line, format!("unreadable parquet row: {e}"));
                // The column readers cannot resynchronise after a decoding error.
                let left = u64::try_from(total).unwrap_or(0).saturating_sub(line);
                if left > 0 {
                    s.bad_records += left;
                    s.bad(line + 1, format!("{left} following row(s) not read"));
                    s.bad_records -= 1;
                }
                break;
            }
        };
        let fields = parquet_guard(|| {
            row.get_column_iter()
                .map(|(n, v)| match v {
                    PField::Str(t) => Field {
                        name: n.clone(),
                        value: t.clone(),
                        is_string: true,
                    },
                    other => Field {
                        name: n.clone(),
                        value: other.to_json_value().to_string(),
                        is_string: false,
                    },
                })
                .collect::<Vec<Field>>()
        });
        let fields = match fields {
            Ok(f) => f,
            Err(e) => {
                s.bad(line, format!("unreadable parquet row: {e}"));
                continue;
            }
        };
        let rec = Record {
            index: s.records,
            line,
            file: None,
            fields,
        };
        s.records += 1;
        f(rec)?;
    }
    Ok(s)
}

/// File extensions read as images (digested, never decoded as text).
const IMAGE_EXTS: &[&str] = &[
    "png", "jpg", "jpeg", "gif", "bmp", "webp", "tif", "tiff", "ico", "heic", "avif",
];

fn walk_files(dir: &Path, depth: u32, out: &mut Vec<PathBuf>, s: &mut ReadSummary) {
    if depth > 64 {
        s.bad(0, format!("{}: folder nesting too deep", dir.display()));
        return;
    }
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            s.bad(0, format!("{}: {e}", dir.display()));
            return;
        }
    };
    let mut list: Vec<_> = entries.filter_map(|e| e.ok()).collect();
    list.sort_by_key(|e| e.file_name());
    for e in list {
        let name = e.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        let Ok(ft) = e.file_type() else { continue };
        let p = e.path();
        if ft.is_dir() {
            walk_files(&p, depth + 1, out, s);
        } else if ft.is_file() {
            out.push(p);
        }
    }
}

fn read_folder(
    root: &Path,
    opts: &ReadOptions,
    f: &mut dyn FnMut(Record) -> Result<()>,
) -> Result<ReadSummary> {
    let mut s = ReadSummary::default();
    let mut files = Vec::new();
    walk_files(root, 0, &mut files, &mut s);
    for p in files {
        let rel: Vec<String> = p
            .strip_prefix(root)
            .unwrap_or(&p)
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        let rel_path = rel.join("/");
        let mut file = match File::open(&p) {
            Ok(f) => f,
            Err(e) => {
                s.bad(0, format!("{rel_path}: {e}"));
                continue;
            }
        };
        let mut h = Sha256::new();
        let mut kept: Vec<u8> = Vec::new();
        let mut size = 0u64;
        let mut buf = vec![0u8; 1 << 16];
        let mut failed = None;
        loop {
            match file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    let chunk = buf.get(..n).unwrap_or_default();
                    h.update(chunk);
                    size += n as u64;
                    if kept.len() + n <= opts.max_record_bytes {
                        kept.extend_from_slice(chunk);
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        if let Some(e) = failed {
            s.bad(0, format!("{rel_path}: {e}"));
            continue;
        }
        s.bytes += size;
        let ext = rel_path
            .rsplit_once('.')
            .map(|(_, e)| e.to_ascii_lowercase())
            .unwrap_or_default();
        let is_image = IMAGE_EXTS.contains(&ext.as_str());
        let mut fields = vec![
            Field {
                name: "path".into(),
                value: rel_path.clone(),
                is_string: true,
            },
            Field {
                name: "sha256".into(),
                value: hex::encode(h.finalize()),
                is_string: true,
            },
            Field {
                name: "bytes".into(),
                value: size.to_string(),
                is_string: false,
            },
        ];
        if rel.len() > 1 {
            if let Some(parent) = rel.get(rel.len() - 2) {
                fields.push(Field {
                    name: "label".into(),
                    value: parent.clone(),
                    is_string: true,
                });
            }
        }
        let small = size as usize <= opts.max_record_bytes;
        if !is_image && small && !kept.contains(&0) {
            let (text, fb) = decode(&kept);
            if fb {
                s.reencoded += 1;
            }
            fields.push(Field {
                name: "text".into(),
                value: text,
                is_string: true,
            });
        }
        let rec = Record {
            index: s.records,
            line: 0,
            file: Some(rel_path),
            fields,
        };
        s.records += 1;
        f(rec)?;
    }
    Ok(s)
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

    fn jsonl(text: &[u8]) -> (Vec<Record>, ReadSummary) {
        let mut out = Vec::new();
        let s = read_reader(
            "t.jsonl",
            DatasetKind::Jsonl,
            text,
            &ReadOptions {
                kind: None,
                max_record_bytes: 64,
            },
            &mut |r| {
                out.push(r);
                Ok(())
            },
        )
        .unwrap();
        (out, s)
    }

    #[test]
    fn jsonl_counts_bad_rows_with_line_numbers() {
        let long = format!("{{\"t\":\"{}\"}}", "x".repeat(100));
        let input = format!(
            "{{\"t\":\"a\",\"label\":1}}\n\n[1,2]\n{{broken\n{long}\n{{\"t\":\"caf\u{e9}\"}}\r\n"
        );
        let mut bytes = input.into_bytes();
        bytes.extend_from_slice(b"{\"t\":\"caf\xe9\"}\n");
        let (recs, s) = jsonl(&bytes);
        assert_eq!(recs.len(), 3);
        assert_eq!(s.records, 3);
        assert_eq!(s.blank_lines, 1);
        assert_eq!(s.bad_records, 3);
        let lines: Vec<u64> = s.bad_rows.iter().map(|b| b.line).collect();
        assert_eq!(lines, vec![3, 4, 5]);
        assert!(s.bad_rows[2].message.contains("longer than 64"));
        assert_eq!(recs[0].line, 1);
        assert_eq!(recs[0].get("label").unwrap().value, "1");
        assert!(!recs[0].get("label").unwrap().is_string);
        assert_eq!(recs[1].get("t").unwrap().value, "caf\u{e9}");
        assert_eq!(recs[2].line, 7);
        assert_eq!(recs[2].get("t").unwrap().value, "caf\u{e9}");
        assert_eq!(s.reencoded, 1);
    }

    #[test]
    fn digest_ignores_field_order_but_not_types() {
        let (a, _) = jsonl(b"{\"a\":\"1\",\"b\":2}\n{\"b\":2,\"a\":\"1\"}\n{\"a\":1,\"b\":2}\n");
        assert_eq!(a[0].digest(), a[1].digest());
        assert_ne!(a[0].digest(), a[2].digest());
    }

    #[test]
    fn csv_ragged_rows_and_quoted_newlines() {
        let text = b"id,text,label\n1,\"hello\nworld\",pos\n2,short\n3,\"a, b\",neg\n4,x,y,z\n";
        let mut out = Vec::new();
        let s = read_reader(
            "t.csv",
            DatasetKind::Csv,
            &text[..],
            &ReadOptions::default(),
            &mut |r| {
                out.push(r);
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].get("text").unwrap().value, "hello\nworld");
        assert_eq!(out[0].line, 2);
        assert_eq!(out[1].line, 5);
        assert_eq!(out[1].get("text").unwrap().value, "a, b");
        assert_eq!(s.bad_records, 2);
        assert_eq!(s.bad_rows[0].line, 4);
        assert!(s.bad_rows[0].message.contains("ragged"));
        assert_eq!(s.bad_rows[1].line, 6);
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

    /// A Parquet file written with the parquet crate's writer: `id` int64, `text` optional
    /// UTF-8, `score` optional double; two row groups.
    fn write_parquet(rows: &[(i64, Option<&str>, Option<f64>)]) -> Vec<u8> {
        use parquet::data_type::{ByteArray, ByteArrayType, DoubleType, Int64Type};
        use parquet::file::properties::WriterProperties;
        use parquet::file::writer::SerializedFileWriter;
        use std::sync::Arc;
        let schema = Arc::new(
            parquet::schema::parser::parse_message_type(
                "message m { required int64 id; optional binary text (UTF8); optional double score; }",
            )
            .unwrap(),
        );
        let mut out = Vec::new();
        let mut w = SerializedFileWriter::new(
            &mut out,
            schema,
            Arc::new(WriterProperties::builder().build()),
        )
        .unwrap();
        for group in rows.chunks(2) {
            let mut rg = w.next_row_group().unwrap();
            let mut col = 0;
            while let Some(mut c) = rg.next_column().unwrap() {
                match col {
                    0 => {
                        let v: Vec<i64> = group.iter().map(|r| r.0).collect();
                        c.typed::<Int64Type>().write_batch(&v, None, None).unwrap();
                    }
                    1 => {
                        let v: Vec<ByteArray> = group
                            .iter()
                            .filter_map(|r| r.1)
                            .map(ByteArray::from)
                            .collect();
                        let d: Vec<i16> = group.iter().map(|r| i16::from(r.1.is_some())).collect();
                        c.typed::<ByteArrayType>()
                            .write_batch(&v, Some(&d), None)
                            .unwrap();
                    }
                    _ => {
                        let v: Vec<f64> = group.iter().filter_map(|r| r.2).collect();
                        let d: Vec<i16> = group.iter().map(|r| i16::from(r.2.is_some())).collect();
                        c.typed::<DoubleType>()
                            .write_batch(&v, Some(&d), None)
                            .unwrap();
                    }
                }
                c.close().unwrap();
                col += 1;
            }
            rg.close().unwrap();
        }
        w.close().unwrap();
        out
    }

    fn parquet(bytes: &[u8]) -> Result<(Vec<Record>, ReadSummary)> {
        let mut out = Vec::new();
        let s = read_reader(
            "t.parquet",
            DatasetKind::Parquet,
            bytes,
            &ReadOptions::default(),
            &mut |r| {
                out.push(r);
                Ok(())
            },
        )?;
        Ok((out, s))
    }

    #[test]
    fn parquet_rows_with_nulls_across_row_groups() {
        let bytes = write_parquet(&[
            (7, Some("good film"), Some(0.5)),
            (8, None, Some(2.0)),
            (9, Some("caf\u{e9}"), None),
        ]);
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("t.parquet");
        std::fs::write(&p, &bytes).unwrap();
        let (recs, s) = read_all(&p, &ReadOptions::default()).unwrap();
        assert_eq!((s.records, s.bad_records), (3, 0));
        assert_eq!(recs[0].get("id").unwrap().value, "7");
        assert!(!recs[0].get("id").unwrap().is_string);
        assert_eq!(recs[0].get("text").unwrap().value, "good film");
        assert!(recs[0].get("text").unwrap().is_string);
        assert_eq!(recs[0].get("score").unwrap().value, "0.5");
        assert_eq!(recs[1].get("text").unwrap().value, "null");
        assert!(!recs[1].get("text").unwrap().is_string);
        assert_eq!(recs[2].get("text").unwrap().value, "caf\u{e9}");
        assert_eq!(recs[2].line, 3);
        // Same records from a stream.
        let (again, _) = parquet(&bytes).unwrap();
        assert_eq!(again, recs);
    }

    /// Fuzz regression (`fuzz/fuzz_targets/parquet.rs`): a written file with one corrupted
    /// byte in a data page makes parquet-rs panic in `TripletIter::current_value` ("cannot
    /// extract value, max definition level: 1, current level: 255"). The panic is caught and
    /// the rows are reported as unreadable, naming the file.
    #[test]
    fn parquet_reader_panic_is_a_bad_row_not_an_abort() {
        let hex: String = [
        "504152311500151015102c15021500150615061c36002808f9ffffffffffffff1808f9ffffffffffffff1111000000f9",
        "ffffffffffffff1500152c152c2c15021500150615061c3600280cefbfbdefbfbdefbfbdefbfbd180cefbfbdefbfbdef",
        "bfbdefbfbd11110000000200000002010c000000efbfbdefbfbdefbfbdefbfbd1500150c150c2c150215001506150600",
        "000200000002001500150e150e2c15021500150615061c360028010018010011110000000200000002ff001500151815",
        "182c15021500150615060000020000000200020000000200191102191808f9ffffffffffffff191808f9ffffffffffff",
        "ff15021916000019110219180cefbfbdefbfbdefbfbdefbfbd19180cefbfbdefbfbdefbfbdefbfbd1502191600292600",
        "020019110119180019180015021916022926020000191102191801001918010015021916002926000200191101191800",
        "1918001502191602192602001926020000191c1608156616000000191c166e15920116000019161800191c168002152e",
        "16000000191c16ae02154816000000191c16f602153a160000001502196c48016d150a00150425001802696400150c25",
        "02180474657874250000150a2502180573636f726500150025021804666c6167001502250418046e756d73001602191c",
        "195c26001c1504192500061918026964150016021666166626083c1808f9ffffffffffffff1808f9ffffffffffffff16",
        "002808f9ffffffffffffff1808f9ffffffffffffff1111000016c205151416b003153e0026001c150c19250006191804",
        "7465787415001602169201169201266e3c3600280cefbfbdefbfbdefbfbdefbfbd180cefbfbdefbfbdefbfbdefbfbd11",
        "11004c161829260002000016d605151c16ee0315560026001c150a1925000619180573636f726515001602162e162e26",
        "80023c36024212004c39260200000016f205151616c40415260026001c150019250006191804666c6167150016021648",
        "164826ae023c36002801001801001111004c392600020000168806151616ea04152a0026001c1502192500061918046e",
        "756d7315001602163a163a26f6023c36024212004c29260200192602000000169e061516169405152e0016a803160226",
        "0816a8031400002819706172717565742d72732076657273696f6e2035332e342e31195c1c00001c00001c00001c0000",
        "1c000000ca01000050415231",        ]
        .concat();
        let bytes = hex::decode(hex).unwrap();
        let (recs, s) = parquet(&bytes).unwrap();
        assert!(s.bad_records >= 1, "{s:?}");
        assert_eq!(s.records, recs.len() as u64);
        assert!(
            s.bad_rows[0]
                .message
                .contains("the parquet reader failed on malformed data"),
            "{:?}",
            s.bad_rows
        );
        assert!(s.bad_rows[0].message.contains("definition level"));
    }

    /// Fuzz regression: a corrupted length prefix of the definition levels in a v1 data page
    /// makes parquet-rs slice past the page (`bytes` panics "range end out of bounds" in
    /// `parse_v1_level`). Caught and reported as unreadable rows.
    #[test]
    fn parquet_level_length_past_the_page_is_a_bad_row() {
        let hex: String = [
            "504152311500151015102c15021500150615061c36002808f9ffffffffffffff1808f9ffffffffffffff1111000000f9",
            "fffffffff8ffff1500150c150c2c150215001506150600000200000002001500150c150c2c1502150015061506000002",
            "00000002001500150c150c2c150215001506150600000200530002001500151815182c15021500150615060000020000",
            "000200020000000200191102191808f9ffffffffffffff191808f9ffffffffffffff1502191600001911011918001918",
            "001502191602c92602000019110119180019180015021916022926020000191101191800191800150219160229260200",
            "001911011918001918001502191602192602001926020000191c1608156616000000191c166e152e1600001916000019",
            "1c169c01152e16000000191c16ca01152e16000000191c16f801153a160000001502196c48016d150a00150425001802",
            "696400150c2502180474657874250000150a2502180573636f726500150025021804666c6167001502250418046e756d",
            "73001602191c195c26001c1504192500061918026964150016021666166626083c1808f9ffffffffffffff1808f9ffff",
            "ffffffffff16002808f9ffffffffffffff180813ffffffffffffff11110000169004151416b202153e0026001c150c19",
            "2500061918047465787415001602162e162e266e3c36024212004c160029260200000016a404151a16f0021526002600",
            "1c150a1925000619180573636f726515001602162e162e269c013c36024212004c39260200000016be04151616960315",
            "260026001c150019250006191804666c616715001602162e162e26ca013c36024212004c39260200000016d404151616",
            "bc0315260026001c1502192500061918046e756d7315001602163a163a26f8013c36024212004c292602001926020000",
            "0016ea04151616e203152e0016aa021602260816aa021400002819706172717565742d72732076657273696f6e203533",
            "2e342e31195c1c00001c00001c00001c00001c000000a601000050415231",        ]
        .concat();
        let bytes = hex::decode(hex).unwrap();
        let (recs, s) = parquet(&bytes).unwrap();
        assert!(s.bad_records >= 1, "{s:?}");
        assert_eq!(s.records, recs.len() as u64);
        assert!(
            s.bad_rows[0].message.contains("out of bounds"),
            "{:?}",
            s.bad_rows
        );
        assert!(!in_guarded_parquet_call());
    }

    /// Fuzz regression: a dictionary page header claiming millions of int64 values in a few
    /// bytes made parquet-rs allocate them all (out of memory under the fuzzer's 2 GB limit).
    /// Rejected before the record reader runs, naming the file and the column.
    #[test]
    fn parquet_dictionary_larger_than_its_page_is_rejected() {
        let hex: String = [
            "504152311504151015224c1503150012000028b52ffd0048410000f9ffffffffffffff1506150415165c150215001502",
            "151015001500111c36002808f9ffffffffffffff1808f9ffffffffffffff111100000028b52ffd004811000000021504",
            "150a151c4c1502150012000028b52ffd0048290000010000000915061508151a5c150215001502151015041500111c36",
            "002801091801091111000000020128b52ffd004811000000021504151015224c1502150012000028b52ffd0048410000",
            "9224499224493b4015061508151a5c150215001502151015041500111c360028089224499224493b4018089224499224",
            "493b401111000000020128b52ffd004811000000021506151015225c150215001502150615041500111c360028010118",
            "01011111000000020128b52ffd004831000002000000020115041528153a4c150a150012000028b52ffd0048a10000bf",
            "0000005f0000009d00000002000000ffffffff1506151215245c150a15001502151015041504111c36002804bf000000",
            "1804ffffffff1111000000031e0a0128b52ffd00482900000303884600191102191808f9ffffffffffffff191808f9ff",
            "ffffffffffff1502191600001911021918010919180109150219160029260002001911021918089224499224493b4019",
            "18089224499224493b4015021916002926000200191102191801011918010115021916002926000200191102191804ff",
            "ffffff191804bf0000001502191600192602081926000a00191c1646157616000000191c16f401155e16000019160200",
            "191c169003157a16000000191c168a04156616000000191c16c6051574160000001504196c48016d150a001504250018",
            "02696400150c2502180474657874250000150a2502180573636f726500150025021804666c6167001502250418046e75",
            "6d73001602191c195c26001c150419350006101918026964150c160216900116b401264626081c1808f9ffffffffffff",
            "ff1808f9ffffffffffffff16002808f9ffffffffffffff1808f9ffffffffffffff1111000016d008151416ba06153e00",
            "26001c150c193500061019180474657874150c1602167216960126f40126bc011c36002801091801091111004c160229",
            "260002000016e408151c16f806152a0026001c150a193500061019180573636f7265150c160216940116b80126900326",
            "d2021c18089224499224493b4018089224499224493b40160028089224499224493b4018089224499224493b40111100",
            "4c392600020000168009151616a20715460026001c1500191506191804666c6167150c160216541666268a043c360028",
            "01011801011111004c392600020000169609151616e807152a0026001c150219350006101918046e756d73150c160a16",
            "a60116ca0126c60526f0041c1804bf0000001804ffffffff16002804bf0000001804ffffffff1111004c292602081926",
            "000a000016ac091516169208153e001690051602260816b2061400002819706172717565742d72732076657273696f6e",
            "2035332e342e31195c1c00001c00001c00001c00001c0000000802000050415231",        ]
        .concat();
        let bytes = hex::decode(hex).unwrap();
        let err = parquet(&bytes).unwrap_err().to_string();
        assert!(err.contains("t.parquet"), "{err}");
        assert!(err.contains("dictionary page claims"), "{err}");
    }

    #[test]
    fn parquet_garbage_is_an_error_naming_the_file() {
        let err = parquet(b"PAR1 not really parquet PAR1").unwrap_err();
        assert!(err.to_string().contains("t.parquet"), "{err}");
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
