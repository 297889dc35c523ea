//! Static analysis of model files (pickle, PyTorch, joblib, NumPy, Keras, ONNX, GGUF,
//! safetensors, TensorFlow) for unsafe serialized code, never executing or unpickling.
//!
//! Entry points: [`detect`] sniffs a blob's format from its first bytes, [`scan_bytes`] scans an
//! in-memory blob and [`scan_path`] a file on disk with seeks (reading pickles and headers, never
//! tensor data). Import classification is data: `policy/pickle.toml`, extended by [`Policy`].

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod compress;
mod input;
pub mod pickle;
pub mod policy;
pub mod rules;
pub mod source;
pub mod zip;

mod gguf;
mod keras;
mod numpy;
mod proto;
mod resume;
mod safetensors;
mod tar;
mod wire;

pub use policy::{Policy, Verdict};
pub use rules::Rule;

use lantern_core::{Category, Finding, Location, Severity, Warning};
use source::{FileSource, Mem, Source};
use std::collections::BTreeMap;

/// Largest output of a decompressed stream (joblib files and other compressed models); over
/// it, the rest is not analysed and a warning says so. Keeps a decompression bomb under the
/// scanner's memory budget.
const MAX_INFLATE: u64 = 160 * 1024 * 1024;
/// Largest Keras `config.json` parsed (real ones are kilobytes to a few megabytes).
const MAX_CONFIG: u64 = 32 * 1024 * 1024;
/// Nesting of containers inside containers.
const MAX_DEPTH: u32 = 4;
/// Bytes given to [`detect`].
pub const HEAD_LEN: usize = 64 * 1024;

/// Errors of the model scanner's parsers (reported as warnings, never aborting a run).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be read.
    #[error(transparent)]
    Io(#[from] lantern_core::IoError),
    /// The file is not a valid instance of its format.
    #[error("{path}: malformed {format} at offset {offset}: {message}")]
    Malformed {
        /// The file involved.
        path: String,
        /// Format name.
        format: &'static str,
        /// Byte offset of the problem.
        offset: u64,
        /// What is wrong.
        message: String,
    },
}

/// A model file format recognised by [`detect`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ModelFormat {
    /// A raw pickle stream (`.pkl`, legacy `.pt`/`.bin`, uncompressed joblib).
    Pickle,
    /// A PyTorch zip checkpoint (`archive/data.pkl` + storages), also TorchScript.
    TorchZip,
    /// The legacy PyTorch tar format (`sys_info`, `pickle`, `storages`, `tensors`).
    TorchTar,
    /// A compressed joblib file (zlib, gzip, xz, lz4 magic with a pickle inside).
    Joblib,
    /// A NumPy `.npy` array.
    Numpy,
    /// A NumPy `.npz` archive (zip of `.npy`).
    Npz,
    /// A Keras v3 `.keras` zip (`config.json`, `model.weights.h5`).
    KerasZip,
    /// HDF5 (Keras `.h5`).
    Hdf5,
    /// TensorFlow SavedModel protobuf (`saved_model.pb`).
    SavedModel,
    /// ONNX protobuf.
    Onnx,
    /// GGUF (llama.cpp).
    Gguf,
    /// safetensors.
    Safetensors,
}

impl ModelFormat {
    /// Short lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            ModelFormat::Pickle => "pickle",
            ModelFormat::TorchZip => "pytorch-zip",
            ModelFormat::TorchTar => "pytorch-tar",
            ModelFormat::Joblib => "joblib",
            ModelFormat::Numpy => "npy",
            ModelFormat::Npz => "npz",
            ModelFormat::KerasZip => "keras",
            ModelFormat::Hdf5 => "hdf5",
            ModelFormat::SavedModel => "savedmodel",
            ModelFormat::Onnx => "onnx",
            ModelFormat::Gguf => "gguf",
            ModelFormat::Safetensors => "safetensors",
        }
    }
}

/// Findings and warnings of one scan.
#[derive(Debug, Clone, Default)]
pub struct ModelReport {
    /// Findings, `Category::Model`.
    pub findings: Vec<Finding>,
    /// Inputs that could not be fully analysed.
    pub warnings: Vec<Warning>,
}

impl ModelReport {
    fn warn(&mut self, loc: &Location, msg: impl Into<String>) {
        self.warnings.push(Warning::new(loc.path.clone(), msg));
    }

    fn io_warn(&mut self, loc: &Location, source: std::io::Error) {
        let e = Error::Io(lantern_core::IoError::new(&loc.path, source));
        self.warnings
            .push(Warning::new(loc.path.clone(), e.to_string()));
    }

    /// A finding of `rule`, with the rule's title and severity.
    fn finding(&mut self, rule: Rule, loc: Location, detail: impl Into<String>) -> &mut Finding {
        let f = Finding::new(
            rule.id(),
            rule.title(),
            Category::Model,
            rule.severity(),
            loc,
        );
        self.findings.push(f.with_detail(detail));
        let n = self.findings.len() - 1;
        &mut self.findings[n]
    }
}

fn ext(name: &str) -> String {
    let base = name.rsplit(['/', '!', '\\']).next().unwrap_or(name);
    base.rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default()
}

const PICKLE_EXTS: &[&str] = &[
    "pkl", "pickle", "pt", "pth", "bin", "ckpt", "joblib", "dat", "data", "model", "sav", "p",
    "mar", "pck", "pcl", "db",
];

/// Whether `head` is a pickle by what the unpickler would accept: its opcodes are valid up to
/// a STOP (or the end of `head` when the blob goes on), with evidence it is not a text or binary
/// file that happens to start with a few opcode bytes: an import, a PROTO header, a pickle
/// extension, or a long run of valid opcodes.
fn is_pickle(head: &[u8], complete: bool, ext: &str) -> bool {
    let Some(p) = pickle::sniff(head, complete) else {
        return false;
    };
    let known_ext = PICKLE_EXTS.contains(&ext);
    if p.broken {
        // Rejected further on: what came before still runs when the file is loaded.
        return p.imports > 0 && p.opcodes >= 3;
    }
    // PROTO and one more valid opcode: a pickle (the next value may be too big for `head`).
    (p.stopped && (p.imports > 0 || p.proto_header || known_ext))
        || (p.proto_header && p.opcodes >= 2)
        || (p.opcodes >= 3 && p.imports > 0)
        || (known_ext && p.opcodes >= 8)
        || p.opcodes >= 256
}

/// What a compressed stream holds, from its decompressed first bytes: a model format, or a
/// tar archive (whose members may be models). gzip tarballs are left to the walker, which
/// expands them itself.
fn detect_compressed(head: &[u8], name: &str, codec: compress::Codec) -> Option<ModelFormat> {
    let (out, stop) = compress::inflate(head, codec, HEAD_LEN as u64);
    if out.is_empty() {
        // zlib and gzip decode as they read: nothing out of 64 KiB is no such stream (two
        // pickle bytes, `(S`, make a valid zlib header).
        let streaming = matches!(codec, compress::Codec::Zlib | compress::Codec::Gzip);
        if streaming && matches!(stop, Some(compress::Stop::Error(_))) {
            return None;
        }
        // Block decoders (xz, lzma, bzip2, lz4) may yield nothing from a cut stream: a big
        // one is decompressed (bounded) and sniffed by the scan itself.
        let cut = head.len() >= HEAD_LEN;
        return cut.then_some(ModelFormat::Joblib);
    }
    if tar::is_tar_header(&out) {
        return (codec != compress::Codec::Gzip).then_some(ModelFormat::Joblib);
    }
    let complete = stop.is_none() && head.len() < HEAD_LEN;
    let inner = strip_compression_ext(name);
    if is_pickle(&out, complete, &ext(inner)) {
        return Some(ModelFormat::Joblib);
    }
    if detect_with(&out, inner, false).is_some() {
        return Some(ModelFormat::Joblib);
    }
    // A pickle whose first value runs past the decompressed head: the scan decompresses on
    // (bounded) and sniffs the whole stream (see `detect_source`).
    let more =
        matches!(stop, Some(compress::Stop::Limit)) || (stop.is_some() && head.len() >= HEAD_LEN);
    let cut = more && pickle::sniff(&out, false).is_some_and(|p| p.cut_at.is_some());
    cut.then_some(ModelFormat::Joblib)
}

/// `model.joblib.xz` -> `model.joblib`.
fn strip_compression_ext(name: &str) -> &str {
    match name.rsplit_once('.') {
        Some((stem, e))
            if matches!(
                e.to_ascii_lowercase().as_str(),
                "gz" | "z" | "xz" | "lzma" | "bz2" | "lz4" | "zst" | "zstd"
            ) =>
        {
            stem
        }
        _ => name,
    }
}

/// Sniff a blob's model format from its first bytes (`head`, up to 64 KiB); `name` (the display
/// path) is a hint only, used for formats without a magic number.
pub fn detect(head: &[u8], name: &str) -> Option<ModelFormat> {
    detect_with(head, name, true)
}

/// [`detect`] with the whole blob at hand (`src`, whose first bytes are `head`): a pickle
/// whose first values run past `head` (a protocol 0/1 pickle, no header, starting with a long
/// string) is sniffed on past them, and is one when an import follows.
pub fn detect_source(src: &dyn Source, head: &[u8], name: &str) -> Option<ModelFormat> {
    if let Some(f) = detect(head, name) {
        return Some(f);
    }
    if head.len() < HEAD_LEN || src.len() <= HEAD_LEN as u64 || is_storage_member(name) {
        return None;
    }
    let (p, skipped) = resume::sniff_source(src, &head[..HEAD_LEN])?;
    (skipped > 0 && p.imports > 0 && p.opcodes >= 3).then_some(ModelFormat::Pickle)
}

/// Whether `head`, the first bytes of a blob of `size` bytes that is not at hand in full (an
/// archive member over the size limit), may begin a pickle whose first values run past it: the
/// VM accepts it up to its end, inside an opcode whose argument fits in the blob. The caller
/// reports such a blob as not scanned rather than passing it as clean.
pub fn may_be_long_pickle(head: &[u8], size: u64) -> bool {
    if head.len() < HEAD_LEN || size <= HEAD_LEN as u64 || detect(head, "").is_some() {
        return false;
    }
    let Some(cut) = pickle::sniff(&head[..HEAD_LEN], false).and_then(|p| p.cut_at) else {
        return false;
    };
    let width = match head.get(cut) {
        Some(b'T' | b'B' | b'X' | 0x8b) => 4,
        Some(0x8d | 0x8e | 0x96) => 8,
        _ => return true,
    };
    let Some(len) = head.get(cut + 1..cut + 1 + width) else {
        return true;
    };
    let n = len.iter().rev().fold(0u64, |a, &b| (a << 8) | u64::from(b));
    n.saturating_add((cut + 1 + width) as u64) <= size
}

/// The size a gzip stream declares for its content (its ISIZE trailer, modulo 4 GiB), read
/// from `data` when it is the whole blob, else from the end of the file at `path`. `None` when
/// the blob is no gzip stream or its end cannot be read. A caller whose archive walker gunzips
/// streams of up to some size, and scans their content as a member, skips the stream itself
/// (else every finding is reported twice: at the stream and at the member).
pub fn gunzipped_size(data: &[u8], whole: bool, path: Option<&std::path::Path>) -> Option<u64> {
    if compress::codec(data) != Some(compress::Codec::Gzip) {
        return None;
    }
    let tail = if whole {
        data.get(data.len().checked_sub(4)?..)?.to_vec()
    } else {
        let src = FileSource::open(path?).ok()?;
        src.read_at(src.len().checked_sub(4)?, 4).ok()?
    };
    let b: [u8; 4] = tail.as_slice().try_into().ok()?;
    Some(u64::from(u32::from_le_bytes(b)))
}

/// [`detect_source`] for a file on disk, opened only when `head` could begin such a pickle.
pub fn detect_path(path: &std::path::Path, head: &[u8], name: &str) -> Option<ModelFormat> {
    if let Some(f) = detect(head, name) {
        return Some(f);
    }
    let cut = head.len() >= HEAD_LEN
        && pickle::sniff(&head[..HEAD_LEN], false).is_some_and(|p| p.cut_at.is_some());
    if !cut {
        return None;
    }
    let src = FileSource::open(path).ok()?;
    detect_source(&src, head, name)
}

/// [`detect`], looking inside compressed streams when `decompress` is set.
fn detect_with(head: &[u8], name: &str, decompress: bool) -> Option<ModelFormat> {
    let head = &head[..head.len().min(HEAD_LEN)];
    if is_storage_member(name) {
        return None;
    }
    let e = ext(name);
    let lname = name.to_ascii_lowercase();
    if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
        let has = |s: &[u8]| memchr::memmem::find(head, s).is_some();
        if has(b"data.pkl") || has(b"constants.pkl") {
            return Some(ModelFormat::TorchZip);
        }
        let first_name = head
            .get(
                30..30
                    + u16::from_le_bytes([head.get(26).copied()?, head.get(27).copied()?]) as usize,
            )
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .unwrap_or_default();
        if first_name.ends_with(".npy") {
            return Some(ModelFormat::Npz);
        }
        if e == "keras" || has(b"model.weights.h5") {
            return Some(ModelFormat::KerasZip);
        }
        if e == "npz" {
            return Some(ModelFormat::Npz);
        }
        if PICKLE_EXTS.contains(&e.as_str()) || has(b".pkl") {
            return Some(ModelFormat::TorchZip);
        }
        return None;
    }
    if head.starts_with(numpy::MAGIC) {
        return Some(ModelFormat::Numpy);
    }
    if head.starts_with(b"\x89HDF\r\n\x1a\n") {
        return Some(ModelFormat::Hdf5);
    }
    if head.starts_with(b"GGUF") {
        return Some(ModelFormat::Gguf);
    }
    if tar::is_tar_header(head) {
        let has = |s: &[u8]| memchr::memmem::find(head.get(..512)?, s).map(|_| ());
        if has(b"sys_info").is_some()
            || has(b"pickle").is_some()
            || has(b"storages").is_some()
            || has(b"tensors").is_some()
        {
            return Some(ModelFormat::TorchTar);
        }
        return None;
    }
    if head.len() >= 10 && head[8] == b'{' && matches!(head[9], b'"' | b' ' | b'\n' | b'}') {
        let n = u64::from_le_bytes([
            head[0], head[1], head[2], head[3], head[4], head[5], head[6], head[7],
        ]);
        if (2..(1 << 40)).contains(&n) {
            return Some(ModelFormat::Safetensors);
        }
    }
    if let Some(c) = compress::codec(head).filter(|_| decompress) {
        // A few pickle and text bytes also form a valid zlib header: fall through when the
        // stream does not decompress to anything known.
        if let Some(f) = detect_compressed(head, name, c) {
            return Some(f);
        }
    }
    if is_pickle(head, head.len() < HEAD_LEN, &e) {
        return Some(ModelFormat::Pickle);
    }
    detect_protobuf(head, &lname, &e)
}

fn detect_protobuf(head: &[u8], lname: &str, e: &str) -> Option<ModelFormat> {
    // SavedModel: field 1 (schema version, varint) then field 2 (meta graphs).
    if lname.ends_with("saved_model.pb") && head.first() == Some(&0x08) {
        return Some(ModelFormat::SavedModel);
    }
    if e == "onnx" && !head.is_empty() {
        return Some(ModelFormat::Onnx);
    }
    // ONNX ModelProto as written by exporters: ir_version (field 1, 3..=12) then
    // producer_name (field 2) holding a short printable string.
    if head.len() >= 5 && head[0] == 0x08 && (3..=12).contains(&head[1]) && head[2] == 0x12 {
        let n = head[3] as usize;
        let ok = n > 0
            && head
                .get(4..4 + n)
                .is_some_and(|p| p.iter().all(|c| c.is_ascii_graphic() || *c == b' '));
        if ok {
            return Some(ModelFormat::Onnx);
        }
    }
    None
}

/// Scan an in-memory blob (an archive member or a small file).
pub fn scan_bytes(data: &[u8], loc: &Location, policy: &Policy) -> ModelReport {
    let mut rep = ModelReport::default();
    scan_source(&Mem(data), loc, policy, 0, &mut rep);
    rep
}

/// Scan a file on disk with seeks: for big checkpoints only the pickles and headers are read,
/// never the tensor data.
pub fn scan_path(path: &std::path::Path, loc: &Location, policy: &Policy) -> ModelReport {
    let mut rep = ModelReport::default();
    match FileSource::open(path) {
        Ok(src) => scan_source(&src, loc, policy, 0, &mut rep),
        Err(e) => rep.io_warn(loc, e),
    }
    rep
}

/// Scan any random-access [`Source`] (what [`scan_path`] and [`scan_bytes`] use).
pub fn scan_source_with(src: &dyn Source, loc: &Location, policy: &Policy) -> ModelReport {
    let mut rep = ModelReport::default();
    scan_source(src, loc, policy, 0, &mut rep);
    rep
}

fn scan_source(
    src: &dyn Source,
    loc: &Location,
    policy: &Policy,
    depth: u32,
    rep: &mut ModelReport,
) {
    if depth > MAX_DEPTH {
        rep.warn(
            loc,
            format!("nesting deeper than {MAX_DEPTH} levels not scanned"),
        );
        return;
    }
    let head = match src.read_at(0, HEAD_LEN) {
        Ok(h) => h,
        Err(e) => {
            rep.io_warn(loc, e);
            return;
        }
    };
    let Some(fmt) = detect_source(src, &head, &loc.path) else {
        return;
    };
    match fmt {
        ModelFormat::Pickle => scan_pickle_source(src, loc, policy, depth, rep),
        ModelFormat::TorchZip | ModelFormat::Npz | ModelFormat::KerasZip => {
            scan_zip(src, loc, policy, depth, fmt, rep)
        }
        ModelFormat::TorchTar => scan_tar(src, loc, policy, depth, rep),
        ModelFormat::Joblib => scan_compressed(src, loc, policy, depth, rep),
        ModelFormat::Numpy => scan_npy(src, loc, policy, depth, rep),
        ModelFormat::Hdf5 => scan_hdf5(src, loc, rep),
        ModelFormat::SavedModel => scan_saved_model(src, loc, rep),
        ModelFormat::Onnx => scan_onnx(src, loc, rep),
        ModelFormat::Gguf => scan_gguf(src, loc, rep),
        ModelFormat::Safetensors => {
            for p in safetensors::check(src) {
                rep.finding(p.rule, loc.clone(), p.detail);
            }
        }
    }
}

fn scan_pickle_source(
    src: &dyn Source,
    loc: &Location,
    policy: &Policy,
    depth: u32,
    rep: &mut ModelReport,
) {
    let ctx = Ctx { loc, policy, depth };
    ctx.pickle_stream(&mut source::SourceReader::new(src), 0, Some(src), rep);
    // Polyglot: a pickle that is also a zip (torch.load unpickles it, zip-aware scanners
    // look only at the members), or a zip whose members are scanned by other tools.
    if zip::has_eocd(src) {
        rep.finding(
            Rule::ModelPolyglot,
            loc.clone(),
            "pickle stream followed by a zip archive",
        );
        // `Pickle` tells scan_zip the prefix was already analysed.
        scan_zip(src, loc, policy, depth, ModelFormat::Pickle, rep);
    }
}

/// Where and how a pickle stream is reported.
struct Ctx<'a> {
    loc: &'a Location,
    policy: &'a Policy,
    depth: u32,
}

impl Ctx<'_> {
    /// Analyse the pickles of `reader` (in bounded memory, reading no further than they go),
    /// report at `loc` with offsets shifted by `shift` (where the stream starts in the blob),
    /// and scan archives embedded in bytes values as containers: from memory when kept, else
    /// from `random` (the stream's bytes, when it is a plain window of a source), else say
    /// they were not scanned.
    fn pickle_stream(
        &self,
        reader: &mut dyn std::io::Read,
        shift: u64,
        random: Option<&dyn Source>,
        rep: &mut ModelReport,
    ) {
        let a = pickle::analyse_reader(reader);
        self.report(a, shift, random, rep);
    }

    /// [`Ctx::pickle_stream`] of a decompressed stream (no random access); when `gated` (its
    /// head showed no evidence of a pickle) it is reported only when imports follow, as
    /// [`detect_source`] asks.
    fn pickle_stream_if(&self, reader: &mut dyn std::io::Read, gated: bool, rep: &mut ModelReport) {
        let a = pickle::analyse_reader(reader);
        if gated && (a.imports.is_empty() || a.opcodes < 3) {
            return;
        }
        self.report(a, 0, None, rep);
    }

    fn report(
        &self,
        mut a: pickle::Analysis,
        shift: u64,
        random: Option<&dyn Source>,
        rep: &mut ModelReport,
    ) {
        if let Some(e) = a.read_error.take() {
            rep.warn(
                self.loc,
                format!("read error inside the pickle stream: {e}"),
            );
        }
        for i in &mut a.imports {
            i.offset += shift;
        }
        let mut embedded = Vec::new();
        for is in &mut a.issues {
            match is {
                pickle::Issue::Malformed { offset, .. }
                | pickle::Issue::Unresolved { offset, .. }
                | pickle::Issue::GlobalMutation { offset, .. }
                | pickle::Issue::Extension { offset, .. } => *offset += shift,
                pickle::Issue::EmbeddedArchive { offset, len, data } => {
                    embedded.push((*offset, *len, data.take()));
                    *offset += shift;
                }
            }
        }
        pickle_findings(&a, self.loc, self.policy, rep);
        for (off, len, data) in embedded {
            let child = self.loc.child(&format!("bytes@{}", off + shift));
            match (data, random) {
                (Some(d), _) => scan_source(&Mem(&d), &child, self.policy, self.depth + 1, rep),
                (None, Some(r)) => {
                    let w = source::Window::new(r, off, len);
                    scan_source(&w, &child, self.policy, self.depth + 1, rep);
                }
                (None, None) => rep.warn(
                    &child,
                    format!("zip archive of {len} bytes inside a compressed pickle: not scanned"),
                ),
            }
        }
    }
}

/// One imported name of a pickle, over all its occurrences.
struct ImportUse<'a> {
    first: &'a pickle::Import,
    occurrences: u64,
    call: Option<&'a str>,
    usage: pickle::Usage,
}

/// Group the imports by name, in order of first appearance.
fn group_imports(a: &pickle::Analysis) -> Vec<ImportUse<'_>> {
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    let mut out: Vec<ImportUse<'_>> = Vec::new();
    for imp in &a.imports {
        let full = imp.full_name();
        if let Some(u) = index.get(&full).and_then(|&i| out.get_mut(i)) {
            u.occurrences += 1;
            u.usage = u.usage.max(imp.usage);
            if u.call.is_none() {
                u.call = imp.call.as_deref();
            }
            continue;
        }
        index.insert(full, out.len());
        out.push(ImportUse {
            first: imp,
            occurrences: 1,
            call: imp.call.as_deref(),
            usage: imp.usage,
        });
    }
    out
}

/// Rule, title, severity and reason of an import outside the policy, by what loading does
/// with it (the severity contract of the README).
fn unknown_import(usage: pickle::Usage) -> (Rule, &'static str) {
    match usage {
        pickle::Usage::Called => (
            Rule::PickleUnknownGlobal,
            "called on load with arguments chosen by the file",
        ),
        pickle::Usage::Instantiated => (
            Rule::PickleUnknownClass,
            "instance allocated without calling its constructor (cls.__new__(cls)), its state \
             set afterwards, as the pickler writes any plain object",
        ),
        pickle::Usage::Referenced => (
            Rule::PickleUnknownClass,
            "imported and stored as a value, never called by the pickle",
        ),
    }
}

/// Turn a pickle analysis into findings at `loc` (offsets set per import).
pub fn pickle_findings(
    a: &pickle::Analysis,
    loc: &Location,
    policy: &Policy,
    rep: &mut ModelReport,
) {
    for u in group_imports(a) {
        let imp = u.first;
        let full = imp.full_name();
        let at = Location {
            offset: Some(imp.offset),
            ..loc.clone()
        };
        let detail = u
            .call
            .map(str::to_string)
            .unwrap_or_else(|| format!("import {full}"));
        let (rule, family, reason, resolved) = match policy.classify(&imp.module, &imp.name) {
            Verdict::Allowed => continue,
            Verdict::Dangerous {
                family,
                reason,
                resolved,
            } => (Rule::PickleDangerousCall, Some(family), reason, resolved),
            Verdict::Unknown => {
                let (rule, reason) = unknown_import(u.usage);
                (rule, None, reason.to_string(), None)
            }
        };
        // A re-export is reported as what it resolves to: `random._os.system("id")` reads as
        // `os.system("id")`.
        let detail = match &resolved {
            Some(r) => format!("{} (as {full})", detail.replacen(&full, r, 1)),
            None => detail,
        };
        let f = rep.finding(rule, at, detail);
        f.properties
            .insert("global".into(), serde_json::json!(full));
        f.properties
            .insert("called".into(), serde_json::json!(u.call.is_some()));
        if u.occurrences > 1 {
            f.properties
                .insert("occurrences".into(), serde_json::json!(u.occurrences));
        }
        if imp.nested {
            f.properties
                .insert("nested".into(), serde_json::json!(true));
        }
        if let Some(r) = resolved {
            f.properties
                .insert("resolves_to".into(), serde_json::json!(r));
        }
        if let Some(family) = family {
            f.properties
                .insert("family".into(), serde_json::json!(family));
        }
        f.properties
            .insert("reason".into(), serde_json::json!(reason));
    }
    for issue in &a.issues {
        match issue {
            pickle::Issue::Malformed { offset, message } => {
                rep.finding(
                    Rule::PickleMalformed,
                    Location {
                        offset: Some(*offset),
                        ..loc.clone()
                    },
                    format!("at offset {offset}: {message}"),
                );
            }
            pickle::Issue::Unresolved { offset, operands } => {
                rep.finding(
                    Rule::PickleUnresolvedGlobal,
                    Location {
                        offset: Some(*offset),
                        ..loc.clone()
                    },
                    format!("STACK_GLOBAL {operands}"),
                );
            }
            pickle::Issue::GlobalMutation { offset, rendering } => {
                rep.finding(
                    Rule::PickleGlobalMutation,
                    Location {
                        offset: Some(*offset),
                        ..loc.clone()
                    },
                    rendering.clone(),
                );
            }
            pickle::Issue::EmbeddedArchive { .. } => {
                // Scanned as a container by the caller, which holds the bytes.
            }
            pickle::Issue::Extension { offset, code } => {
                rep.finding(
                    Rule::PickleExtensionCode,
                    Location {
                        offset: Some(*offset),
                        ..loc.clone()
                    },
                    format!("EXT code {code}"),
                );
            }
        }
    }
}

/// Whether a member of a torch zip is tensor storage (never read).
/// Raw tensor storage of a torch zip, delivered as an archive member: never a model.
fn is_storage_member(name: &str) -> bool {
    let member = name.rsplit('!').next().unwrap_or(name);
    name.contains('!') && is_storage(member)
}

fn is_storage(name: &str) -> bool {
    let mut parts = name.rsplit('/');
    let last = parts.next().unwrap_or("");
    let parent = parts.next().unwrap_or("");
    (parent == "data" && !last.is_empty() && last.bytes().all(|b| b.is_ascii_digit()))
        || name.contains("/.data/")
        || last == "byteorder"
        || last == "version"
        || last == ".format_version"
        || last == ".storage_alignment"
        || last == "serialization_id"
}

fn scan_zip(
    src: &dyn Source,
    loc: &Location,
    policy: &Policy,
    depth: u32,
    fmt: ModelFormat,
    rep: &mut ModelReport,
) {
    let ar = zip::read_archive(src);
    for p in &ar.problems {
        rep.warn(loc, format!("zip: {p}"));
    }
    if ar.recovered && !ar.entries.is_empty() {
        rep.finding(
            Rule::ZipBrokenCentralDirectory,
            loc.clone(),
            format!("{} members recovered from local headers", ar.entries.len()),
        );
    }
    if ar.prefix > 0 && fmt != ModelFormat::Pickle {
        // Data before the first member: torch sniffs the first bytes and may unpickle them.
        let w = source::Window::new(src, 0, ar.prefix);
        if let Ok(head) = w.read_at(0, HEAD_LEN) {
            if detect(&head, "prefix.pkl") == Some(ModelFormat::Pickle) {
                rep.finding(
                    Rule::ModelPolyglot,
                    loc.clone(),
                    format!("{} bytes of pickle before the zip archive", ar.prefix),
                );
                let ctx = Ctx { loc, policy, depth };
                ctx.pickle_stream(&mut source::SourceReader::new(&w), 0, Some(&w), rep);
            }
        }
    }
    let flagged: Vec<&zip::Entry> = ar
        .entries
        .iter()
        .filter(|e| e.flags & 0x0041 != 0)
        .collect();
    if let Some(first) = flagged.first() {
        rep.finding(
            Rule::ZipOddFlags,
            loc.clone(),
            format!(
                "{} members with encryption flags, first `{}` (0x{:04x})",
                flagged.len(),
                first.name,
                first.flags
            ),
        );
    }
    for e in &ar.entries {
        let names: Vec<&str> = std::iter::once(e.name.as_str())
            .chain(e.local_name.as_deref())
            .collect();
        if let Some(ln) = &e.local_name {
            rep.finding(
                Rule::ZipNameMismatch,
                loc.child(&e.name),
                format!("central `{}`, local `{}`", e.name, ln),
            );
        }
        let mloc = loc.child(&e.name);
        let is_pkl = names
            .iter()
            .any(|n| n.ends_with(".pkl") || n.ends_with(".pickle"));
        if !is_pkl
            && names
                .iter()
                .all(|n| is_storage(n) || n.ends_with(".weights.h5"))
        {
            continue;
        }
        if e.name.ends_with('/') {
            continue;
        }
        if names
            .iter()
            .any(|n| n.rsplit('/').next() == Some("config.json"))
        {
            match zip::read_entry(src, e, MAX_CONFIG) {
                Ok(data) => match serde_json::from_slice::<serde_json::Value>(&data) {
                    Ok(cfg) => keras_findings(&cfg, &mloc, rep),
                    Err(err) => rep.warn(&mloc, format!("config.json is not JSON: {err}")),
                },
                Err(err) => rep.warn(&mloc, format!("cannot read member: {err}")),
            }
            continue;
        }
        if is_pkl {
            let ctx = Ctx {
                loc: &mloc,
                policy,
                depth,
            };
            match zip::entry_reader(src, e) {
                Ok((mut r, w)) => {
                    ctx.pickle_stream(&mut r, 0, w.as_ref().map(|w| w as &dyn Source), rep)
                }
                Err(err) => rep.warn(&mloc, format!("cannot read member: {err}")),
            }
            continue;
        }
        scan_zip_other(src, e, &mloc, policy, depth, rep);
    }
}

/// A zip member that is neither a pickle, storage nor a Keras config: a nested model (npy in
/// npz, pickles under other names, archives). Stored members are scanned in place (seeks
/// only); deflated ones are inflated only when they are models, streamed where the format
/// allows.
fn scan_zip_other(
    src: &dyn Source,
    e: &zip::Entry,
    mloc: &Location,
    policy: &Policy,
    depth: u32,
    rep: &mut ModelReport,
) {
    // Other members: nested models (npy in npz, pickles under other names, archives).
    // Sniff the first bytes; stored members are then scanned in place (seeks only),
    // deflated ones are inflated (bounded) only when they are models.
    let head = match zip::read_entry_head(src, e, HEAD_LEN) {
        Ok(d) => d,
        Err(err) => {
            rep.warn(mloc, format!("cannot read member: {err}"));
            return;
        }
    };
    if e.method == 0 {
        let avail = src.len().saturating_sub(e.data_offset);
        let w = source::Window::new(src, e.data_offset, e.compressed.min(avail));
        if detect_source(&w, &head, &mloc.path).is_some() {
            scan_source(&w, mloc, policy, depth + 1, rep);
        }
        return;
    }
    // A deflated member cut inside a pickle opcode's argument is read in full to sniff on.
    let cut = || {
        head.len() >= HEAD_LEN
            && !is_storage_member(&mloc.path)
            && pickle::sniff(&head, false).is_some_and(|p| p.cut_at.is_some())
    };
    let found = detect(&head, &mloc.path);
    if found.is_none() && !cut() {
        return;
    }
    if found == Some(ModelFormat::Pickle) {
        // Inflated as the analysis reads it, never held whole.
        let ctx = Ctx {
            loc: mloc,
            policy,
            depth: depth + 1,
        };
        match zip::entry_reader(src, e) {
            Ok((mut r, _)) => ctx.pickle_stream(&mut r, 0, None, rep),
            Err(err) => rep.warn(mloc, format!("cannot read member: {err}")),
        }
        return;
    }
    if found == Some(ModelFormat::Numpy) {
        scan_npy_member(src, e, &head, mloc, policy, depth + 1, rep);
        return;
    }
    // Other formats need random access: inflated whole, within the inflate budget.
    match zip::read_entry(src, e, MAX_INFLATE) {
        Ok(d) => scan_source(&Mem(&d), mloc, policy, depth + 1, rep),
        Err(err) => rep.warn(mloc, format!("cannot read member: {err}")),
    }
}

fn scan_tar(src: &dyn Source, loc: &Location, policy: &Policy, depth: u32, rep: &mut ModelReport) {
    let (members, problems) = tar::list(src);
    for p in problems {
        rep.warn(loc, format!("tar: {p}"));
    }
    for m in members {
        let mloc = loc.child(&m.name);
        let base = m.name.rsplit('/').next().unwrap_or(&m.name);
        let w = source::Window::new(src, m.offset, m.size);
        if matches!(base, "pickle" | "sys_info" | "storages" | "tensors") {
            // `storages` and `tensors` start with pickles followed by raw data: the analysis
            // reads the pickles only (it stops at the first non-pickle byte).
            let ctx = Ctx {
                loc: &mloc,
                policy,
                depth,
            };
            ctx.pickle_stream(&mut source::SourceReader::new(&w), 0, Some(&w), rep);
            continue;
        }
        scan_source(&w, &mloc, policy, depth + 1, rep);
    }
}

/// A compressed stream, scanned as what it holds. A pickle is decompressed as the analysis
/// reads it (any size, bounded memory, and no further than the pickles go); anything else (a
/// tar of models, a `.npy` chunk, another compressed stream) is decompressed up to
/// `MAX_INFLATE` bytes, a warning saying when the rest was not analysed.
fn scan_compressed(
    src: &dyn Source,
    loc: &Location,
    policy: &Policy,
    depth: u32,
    rep: &mut ModelReport,
) {
    let head = match src.read_at(0, 64) {
        Ok(h) => h,
        Err(e) => {
            rep.io_warn(loc, e);
            return;
        }
    };
    let Some(codec) = compress::codec(&head) else {
        return;
    };
    // The compressed input is read sequentially, never held whole.
    let input = || source::SourceReader::new(src);
    let (first, stop) = compress::inflate_from(input(), codec, HEAD_LEN as u64);
    let complete = stop.is_none();
    let inner = strip_compression_ext(&loc.path);
    let sure = is_pickle(&first, complete, &ext(inner));
    // A pickle whose first value runs past the head is one when imports follow.
    let cut = !sure
        && !complete
        && !tar::is_tar_header(&first)
        && detect_with(&first, inner, false).is_none()
        && pickle::sniff(&first, false).is_some_and(|p| p.cut_at.is_some());
    if sure || cut {
        if let Some(mut r) = compress::stream(input(), codec) {
            let ctx = Ctx {
                loc,
                policy,
                depth: depth + 1,
            };
            ctx.pickle_stream_if(&mut r, cut, rep);
            return;
        }
    }
    drop(first);
    scan_inflated(src, codec, loc, policy, depth, rep);
}

/// [`scan_compressed`] for content other than a pickle, or a codec decoded in one go.
fn scan_inflated(
    src: &dyn Source,
    codec: compress::Codec,
    loc: &Location,
    policy: &Policy,
    depth: u32,
    rep: &mut ModelReport,
) {
    let (out, stop) = compress::inflate_from(source::SourceReader::new(src), codec, MAX_INFLATE);
    if let Some(compress::Stop::Error(e)) = &stop {
        if out.is_empty() {
            rep.warn(
                loc,
                format!("{}: decompression failed: {e}", codec.as_str()),
            );
            return;
        }
    }
    // Content that is neither a tarball nor a model (a compressed log) is not ours to report.
    let is_tar = tar::is_tar_header(&out);
    if !is_tar && detect_source(&Mem(&out), &out, &loc.path).is_none() {
        return;
    }
    match stop {
        Some(compress::Stop::Limit) => rep.warn(
            loc,
            format!(
                "{}: decompresses past {MAX_INFLATE} bytes; only the first {MAX_INFLATE} analysed",
                codec.as_str()
            ),
        ),
        Some(compress::Stop::Error(e)) => rep.warn(
            loc,
            format!("{}: decompression stopped early: {e}", codec.as_str()),
        ),
        None => {}
    }
    if is_tar {
        scan_tar(&Mem(&out), loc, policy, depth + 1, rep);
        return;
    }
    scan_source(&Mem(&out), loc, policy, depth + 1, rep);
}

fn scan_npy(src: &dyn Source, loc: &Location, policy: &Policy, depth: u32, rep: &mut ModelReport) {
    let head = match src.read_at(0, HEAD_LEN) {
        Ok(h) => h,
        Err(e) => {
            rep.io_warn(loc, e);
            return;
        }
    };
    let Some(h) = npy_header(&head, loc, rep) else {
        return;
    };
    if h.object {
        let w = source::Window::new(src, h.data_offset, src.len());
        let ctx = Ctx { loc, policy, depth };
        ctx.pickle_stream(
            &mut source::SourceReader::new(&w),
            h.data_offset,
            Some(&w),
            rep,
        );
        return;
    }
    npy_size_check(&h, src.len(), loc, rep);
}

/// A deflated `.npy` member of a zip (`.npz`), inflated as it is read and never held: the
/// header from `head`, an object array's pickle streamed, other data counted and discarded.
fn scan_npy_member(
    src: &dyn Source,
    e: &zip::Entry,
    head: &[u8],
    loc: &Location,
    policy: &Policy,
    depth: u32,
    rep: &mut ModelReport,
) {
    let Some(h) = npy_header(head, loc, rep) else {
        return;
    };
    let mut r = match zip::entry_reader(src, e) {
        Ok((r, _)) => r,
        Err(err) => return rep.warn(loc, format!("cannot read member: {err}")),
    };
    let mut skip = std::io::Read::take(&mut r, h.data_offset);
    match std::io::copy(&mut skip, &mut std::io::sink()) {
        Ok(n) if n == h.data_offset => {}
        Ok(_) => return rep.warn(loc, "member ends inside its npy header"),
        Err(err) => return rep.io_warn(loc, err),
    }
    if h.object {
        let ctx = Ctx { loc, policy, depth };
        ctx.pickle_stream(&mut r, h.data_offset, None, rep);
        return;
    }
    match std::io::copy(&mut r, &mut std::io::sink()) {
        Ok(n) => npy_size_check(&h, h.data_offset + n, loc, rep),
        Err(err) => rep.io_warn(loc, err),
    }
}

/// Whether `head` starts a `.npy` array whose dtype holds no Python objects: what follows its
/// header is raw numbers that `np.load` never unpickles, so a head is all there is to check.
pub fn is_numeric_npy(head: &[u8]) -> bool {
    head.starts_with(numpy::MAGIC) && numpy::parse_header(head).is_ok_and(|h| !h.object)
}

/// The parsed npy header, or a malformed finding. An object array is reported here:
/// np.load(allow_pickle=True) runs the pickle that follows the header.
fn npy_header(head: &[u8], loc: &Location, rep: &mut ModelReport) -> Option<numpy::Header> {
    let h = match numpy::parse_header(head) {
        Ok(h) => h,
        Err(e) => {
            let err = Error::Malformed {
                path: loc.path.clone(),
                format: "npy header",
                offset: 0,
                message: e,
            };
            rep.finding(Rule::NumpyMalformed, loc.clone(), err.to_string());
            return None;
        }
    };
    if h.object {
        rep.finding(
            Rule::NumpyObjectArray,
            loc.clone(),
            format!("descr {}", h.descr),
        );
    }
    Some(h)
}

/// Shape times item size must match the `len` bytes of the array file.
fn npy_size_check(h: &numpy::Header, len: u64, loc: &Location, rep: &mut ModelReport) {
    let Some(item) = h.itemsize else { return };
    let count = h.shape.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d));
    let want = count.and_then(|c| c.checked_mul(item));
    let have = len.saturating_sub(h.data_offset);
    if want != Some(have) {
        rep.finding(
            Rule::NumpyInconsistent,
            loc.clone(),
            format!(
                "shape {:?} of {} needs {} bytes, file has {have}",
                h.shape,
                h.descr,
                want.map(|w| w.to_string())
                    .unwrap_or_else(|| "overflowing".into())
            ),
        );
    }
}

fn scan_gguf(src: &dyn Source, loc: &Location, rep: &mut ModelReport) {
    let g = gguf::parse(src);
    for p in &g.problems {
        rep.finding(Rule::GgufMalformed, loc.clone(), p.clone());
    }
    for (key, t) in &g.templates {
        for (pat, critical, snippet) in gguf::template_issues(t) {
            let f = rep.finding(
                Rule::GgufTemplateInjection,
                loc.clone(),
                format!("{key}: `{pat}` in …{snippet}…"),
            );
            if !critical {
                f.severity = Severity::Medium;
            }
            f.properties
                .insert("pattern".into(), serde_json::json!(pat));
        }
    }
}

/// The fields of a protobuf model the checks use, read as a stream: weights are discarded
/// while reading, so memory follows the graph. Malformed wire data is a `malformed` finding;
/// a graph over [`wire::MAX_COMPACT`] bytes is a warning (not fully checked).
fn compact_proto(
    src: &dyn Source,
    loc: &Location,
    rep: &mut ModelReport,
    kind: wire::Kind,
    malformed: Rule,
) -> Option<Vec<u8>> {
    let r = std::io::BufReader::with_capacity(256 * 1024, source::SourceReader::new(src));
    match wire::compact(r, kind, src.len(), wire::MAX_COMPACT) {
        Ok(d) => Some(d),
        Err(wire::WireError::Io(e)) => {
            rep.io_warn(loc, e);
            None
        }
        Err(e @ wire::WireError::Limit(_)) => {
            rep.warn(loc, e.to_string());
            None
        }
        Err(e @ wire::WireError::Malformed { .. }) => {
            rep.finding(malformed, loc.clone(), e.to_string());
            None
        }
    }
}

fn scan_onnx(src: &dyn Source, loc: &Location, rep: &mut ModelReport) {
    use prost::Message;
    let Some(data) = compact_proto(src, loc, rep, wire::Kind::OnnxModel, Rule::OnnxMalformed)
    else {
        return;
    };
    let m = match proto::OnnxModel::decode(&data[..]) {
        Ok(m) => m,
        Err(e) => {
            rep.finding(Rule::OnnxMalformed, loc.clone(), e.to_string());
            return;
        }
    };
    let mut seen = std::collections::BTreeSet::new();
    for o in &m.opset_import {
        if !proto::STANDARD_ONNX_DOMAINS.contains(&o.domain.as_str())
            && seen.insert(o.domain.clone())
        {
            rep.finding(
                Rule::OnnxCustomOp,
                loc.clone(),
                format!("opset import of domain `{}`", o.domain),
            );
        }
    }
    for (path, n) in proto::onnx_nodes(&m, 1_000_000) {
        if !proto::STANDARD_ONNX_DOMAINS.contains(&n.domain.as_str())
            && seen.insert(n.domain.clone())
        {
            rep.finding(
                Rule::OnnxCustomOp,
                loc.clone(),
                format!(
                    "{path}: node `{}` op `{}` in domain `{}`",
                    n.name, n.op_type, n.domain
                ),
            );
        }
    }
    for t in proto::onnx_external_tensors(&m) {
        for kv in &t.external_data {
            if kv.key == "location" && proto::location_escapes(&kv.value) {
                rep.finding(
                    Rule::OnnxExternalDataEscape,
                    loc.clone(),
                    format!("tensor `{}` reads `{}`", t.name, kv.value),
                );
            }
        }
    }
}

fn scan_saved_model(src: &dyn Source, loc: &Location, rep: &mut ModelReport) {
    use prost::Message;
    let Some(data) = compact_proto(src, loc, rep, wire::Kind::SavedModel, Rule::TfMalformed) else {
        return;
    };
    let m = match proto::SavedModel::decode(&data[..]) {
        Ok(m) => m,
        Err(e) => {
            rep.finding(Rule::TfMalformed, loc.clone(), e.to_string());
            return;
        }
    };
    let mut seen = std::collections::BTreeSet::new();
    for mg in &m.meta_graphs {
        let Some(g) = &mg.graph_def else { continue };
        let fnodes = g
            .library
            .iter()
            .flat_map(|l| l.function.iter())
            .flat_map(|f| {
                let name = f
                    .signature
                    .as_ref()
                    .map(|s| s.name.clone())
                    .unwrap_or_default();
                f.node_def
                    .iter()
                    .map(move |n| (format!("function {name}"), n))
            });
        let nodes = g
            .node
            .iter()
            .map(|n| ("graph".to_string(), n))
            .chain(fnodes);
        for (where_, n) in nodes {
            if let Some((op, rule)) = proto::TF_RISKY_OPS.iter().find(|(op, _)| *op == n.op) {
                if seen.insert((op.to_string(), n.name.clone())) {
                    let detail = format!("{where_}: node `{}` op {op}", n.name);
                    rep.finding(*rule, loc.clone(), detail);
                }
            }
        }
    }
}

fn keras_findings(cfg: &serde_json::Value, loc: &Location, rep: &mut ModelReport) {
    for i in keras::check_config(cfg) {
        rep.finding(i.rule, loc.clone(), i.detail);
    }
}

fn scan_hdf5(src: &dyn Source, loc: &Location, rep: &mut ModelReport) {
    // The model_config attribute lives in the metadata written before the weights; read the
    // first 64 MiB (or the whole file when smaller) and parse the JSON objects found there.
    let n = src.len().min(64 * 1024 * 1024) as usize;
    let data = match src.read_at(0, n) {
        Ok(d) => d,
        Err(e) => {
            rep.io_warn(loc, e);
            return;
        }
    };
    for cfg in keras::configs_in_bytes(&data) {
        keras_findings(&cfg, loc, rep);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detect_by_magic_not_extension() {
        assert_eq!(
            detect(b"\x80\x02}q\x00.", "weights.txt"),
            Some(ModelFormat::Pickle)
        );
        assert_eq!(
            detect(b"cos\nsystem\n(S'id'\ntR.", "x"),
            Some(ModelFormat::Pickle)
        );
        assert_eq!(
            detect(b"GGUF\x03\x00\x00\x00", "a"),
            Some(ModelFormat::Gguf)
        );
        assert_eq!(detect(b"\x93NUMPY\x01\x00", "a"), Some(ModelFormat::Numpy));
        assert_eq!(detect(b"hello world", "a.txt"), None);
        assert_eq!(detect(b"(lp0\n.", "a.txt"), None);
        // raw float storage inside a checkpoint is never sniffed as a pickle
        assert_eq!(detect(b"\x80\x02}q\x00.", "m.pt!archive/data/3"), None);
        assert_eq!(detect(b"\x80\x02\xff\xff", "x.bin"), None);
    }

    #[test]
    fn scan_bytes_reports_dangerous_call_with_offset() {
        let loc = Location::path("evil.pkl");
        let r = scan_bytes(
            b"\x80\x02cos\nsystem\nX\x02\x00\x00\x00id\x85R.",
            &loc,
            &Policy::default(),
        );
        assert_eq!(r.findings.len(), 1);
        let f = &r.findings[0];
        assert_eq!(f.rule_id, "pickle.dangerous-call");
        assert_eq!(f.severity, Severity::Critical);
        assert_eq!(f.detail.as_deref(), Some("os.system(\"id\")"));
        assert_eq!(f.locations[0].offset, Some(2));
    }

    #[test]
    fn lz4_joblib_is_decompressed_and_scanned() {
        use std::io::Write;
        let mut enc = lz4_flex::frame::FrameEncoder::new(Vec::new());
        enc.write_all(b"\x80\x02cos\nsystem\nX\x02\x00\x00\x00id\x85R.")
            .unwrap();
        let data = enc.finish().unwrap();
        assert_eq!(detect(&data, "m.joblib"), Some(ModelFormat::Joblib));
        let r = scan_bytes(&data, &Location::path("m.joblib"), &Policy::default());
        assert_eq!(r.findings.len(), 1, "{:?}", r);
        assert_eq!(r.findings[0].detail.as_deref(), Some("os.system(\"id\")"));
    }

    #[test]
    fn storage_names() {
        assert!(is_storage("archive/data/0"));
        assert!(is_storage("archive/version"));
        assert!(!is_storage("archive/data.pkl"));
        assert!(!is_storage("archive/code/x.py"));
    }

    fn one(data: &[u8]) -> ModelReport {
        scan_bytes(data, &Location::path("x.pkl"), &Policy::default())
    }

    #[test]
    fn reexported_os_system_is_reported_as_os_system() {
        for (p, via) in [
            (
                &b"\x80\x02crandom\n_os.system\nX\x02\x00\x00\x00id\x85R."[..],
                "random._os.system",
            ),
            (
                &b"\x80\x02ctorch.serialization\nos.system\nX\x02\x00\x00\x00id\x85R."[..],
                "torch.serialization.os.system",
            ),
        ] {
            let r = one(p);
            assert_eq!(r.findings.len(), 1, "{r:?}");
            let f = &r.findings[0];
            assert_eq!(f.rule_id, "pickle.dangerous-call");
            assert_eq!(f.severity, Severity::Critical);
            assert_eq!(
                f.detail.as_deref(),
                Some(format!("os.system(\"id\") (as {via})").as_str())
            );
            assert_eq!(f.properties["resolves_to"], "os.system");
            assert_eq!(f.properties["family"], "process");
        }
    }

    #[test]
    fn severity_follows_what_loading_does_with_an_unknown_global() {
        // called with arguments: high
        let r = one(b"\x80\x02cmypkg\nbuild\nK\x03\x85R.");
        assert_eq!(r.findings[0].rule_id, "pickle.unknown-global");
        assert_eq!(r.findings[0].severity, Severity::High);
        assert_eq!(r.findings[0].detail.as_deref(), Some("mypkg.build(3)"));
        // instantiated without arguments (how any plain object pickles): info with the reason
        let r = one(b"\x80\x02cmypkg\nNet\n)\x81}b.");
        assert_eq!(r.findings[0].rule_id, "pickle.unknown-class");
        assert_eq!(r.findings[0].severity, Severity::Info);
        assert!(r.findings[0].properties["reason"]
            .as_str()
            .unwrap()
            .contains("without calling its constructor"));
        // only referenced: info
        let r = one(b"\x80\x02}X\x01\x00\x00\x00kcmypkg\nNet\ns.");
        assert_eq!(r.findings[0].severity, Severity::Info);
        assert_eq!(r.findings[0].detail.as_deref(), Some("import mypkg.Net"));
        // the same name called later in the stream is high
        let r = one(b"\x80\x02]cmypkg\nNet\nacmypkg\nNet\nK\x01\x85R.");
        assert_eq!(r.findings.len(), 1);
        assert_eq!(r.findings[0].severity, Severity::High);
        assert_eq!(r.findings[0].properties["occurrences"], 2);
    }

    #[test]
    fn http_data_classes_are_not_network_calls() {
        // a cached requests.Response with its cookie jar and policy: no finding
        let r = one(
            b"\x80\x04crequests.models\nResponse\n)\x81}(X\x07\x00\x00\x00cookies\
              crequests.cookies\nRequestsCookieJar\n)\x81}X\x07\x00\x00\x00_policy\
              chttp.cookiejar\nDefaultCookiePolicy\n)\x81}bsbX\x07\x00\x00\x00headers\
              crequests.structures\nCaseInsensitiveDict\n)\x81}bub.",
        );
        assert!(r.findings.is_empty(), "{r:?}");
        // while requests' functions stay network calls
        let r = one(b"\x80\x02crequests\nget\nX\x01\x00\x00\x00u\x85R.");
        assert_eq!(r.findings[0].rule_id, "pickle.dangerous-call");
        assert_eq!(r.findings[0].properties["family"], "network");
    }

    /// `os.system("id")` as protocol 0 after `prefix`.
    fn p0_payload(prefix: &[u8]) -> Vec<u8> {
        let mut v = prefix.to_vec();
        v.extend_from_slice(b"cos\nsystem\n(S'id'\ntR.");
        v
    }

    fn assert_critical(data: &[u8], name: &str) {
        assert!(
            detect_source(&Mem(data), data, name).is_some(),
            "{name}: {:?} not detected",
            &data[..data.len().min(64)]
        );
        let r = scan_bytes(data, &Location::path(name), &Policy::default());
        assert!(
            r.findings
                .iter()
                .any(|f| f.rule_id == "pickle.dangerous-call" && f.severity == Severity::Critical),
            "{name}: {r:?}"
        );
    }

    #[test]
    fn any_stream_the_unpickler_accepts_is_analysed() {
        for (prefix, names) in [
            (&b"\x80\x01"[..], &["a.pkl", "a.txt", "noext"][..]),
            (b"\x80\x00", &["a.pkl", "weights"]),
            (b"N0", &["m.pt", "m.pth", "m.bin", "m.ckpt", "m.model", "x"]),
            (
                b"(I1\nl0",
                &["m.pt", "m.pth", "m.bin", "m.ckpt", "m.model", "x"],
            ),
            (b"", &["a.pkl", "a.dat"]),
        ] {
            let data = p0_payload(prefix);
            for name in names {
                assert_critical(&data, name);
            }
        }
        // broken after the payload: it ran before the bad opcode
        assert_critical(b"cos\nsystem\n(S'id'\ntR\xff\xfe", "x.bin");
    }

    #[test]
    fn compressed_streams_are_opened_whatever_their_name() {
        use std::io::Write;
        let payload = b"\x80\x04\x95\x15\x00\x00\x00\x00\x00\x00\x00\x8c\x02os\x8c\x06system\x93\x8c\x02id\x85R.";
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(3));
        z.write_all(payload).unwrap();
        let z = z.finish().unwrap();
        for name in ["model.sav", "model.dat", "model", "m.joblib"] {
            assert_eq!(detect(&z, name), Some(ModelFormat::Joblib), "{name}");
            assert_critical(&z, name);
        }
        let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
        bz.write_all(payload).unwrap();
        assert_critical(&bz.finish().unwrap(), "m.joblib.bz2");
        assert_critical(&zstd::stream::encode_all(&payload[..], 3).unwrap(), "m.zst");
    }

    #[test]
    fn long_first_value_pickles_are_found_plain_and_compressed() {
        use std::io::Write;
        // BINBYTES of 300 KB of incompressible bytes, then POP and os.system("id").
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut p = b"B".to_vec();
        p.extend_from_slice(&300_000u32.to_le_bytes());
        for _ in 0..300_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            p.push(x as u8);
        }
        p.extend_from_slice(b"0cos\nsystem\n(S'id'\ntR.");
        assert_eq!(detect(&p, "w.bin"), None, "the head alone shows nothing");
        assert_eq!(
            detect_source(&Mem(&p), &p, "w.bin"),
            Some(ModelFormat::Pickle)
        );
        assert_critical(&p, "w.bin");
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(3));
        z.write_all(&p).unwrap();
        let z = z.finish().unwrap();
        assert!(z.len() > HEAD_LEN);
        assert_critical(&z, "m.joblib");
        let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
        bz.write_all(&p).unwrap();
        assert_critical(&bz.finish().unwrap(), "m.joblib.bz2");
    }

    #[test]
    fn may_be_long_pickle_needs_a_value_that_fits() {
        let mut h = b"X".to_vec();
        h.extend_from_slice(&1_000_000u32.to_le_bytes());
        h.resize(HEAD_LEN, b'A');
        assert!(may_be_long_pickle(&h, 2_000_000));
        assert!(!may_be_long_pickle(&h, 500_000), "length past the blob");
        assert!(!may_be_long_pickle(&h[..1000], 2_000_000), "short head");
        h[0] = 0xff;
        assert!(!may_be_long_pickle(&h, 2_000_000), "no opcode");
    }

    #[test]
    fn compressed_tarballs_are_not_pickles() {
        use std::io::Write;
        let mut tar = vec![0u8; 1024];
        tar[..9].copy_from_slice(b"README.md");
        tar[100..107].copy_from_slice(b"0000644");
        tar[124..135].copy_from_slice(b"00000000005");
        tar[156] = b'0';
        tar[257..263].copy_from_slice(b"ustar\0");
        tar[263..265].copy_from_slice(b"00");
        let sum: u32 = tar[..512].iter().map(|&b| u32::from(b)).sum::<u32>() + 8 * 32
            - tar[148..156].iter().map(|&b| u32::from(b)).sum::<u32>();
        tar[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        tar[512..517].copy_from_slice(b"hello");
        tar.extend(vec![0u8; 1024]);
        let mut xz = Vec::new();
        lzma_rs::xz_compress(&mut std::io::BufReader::new(&tar[..]), &mut xz).unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&tar).unwrap();
        let gz = gz.finish().unwrap();
        // gzip tarballs are the walker's; other compressed tarballs are opened here and their
        // members sniffed: a README is not a model, so nothing is reported.
        assert_eq!(detect(&gz, "release.tar.gz"), None);
        assert_eq!(detect(&xz, "release.tar.xz"), Some(ModelFormat::Joblib));
        let r = scan_bytes(&xz, &Location::path("release.tar.xz"), &Policy::default());
        assert!(r.findings.is_empty() && r.warnings.is_empty(), "{r:?}");
    }

    #[test]
    fn text_and_common_binaries_are_not_pickles() {
        for (head, name) in [
            (&b"README\nThis project"[..], "README"),
            (b"import os\nprint(os.getcwd())\n", "a.py"),
            (b"{\"a\": 1}", "a.json"),
            (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "a.png"),
            (b"cat foo.txt\nls -la\n", "run.sh"),
            (b"x = 1\n", "a.py"),
            (b"(lp0\n.", "a.txt"),
            (b"Name,Value\nx,1\n", "a.csv"),
        ] {
            assert_eq!(detect(head, name), None, "{name}");
        }
        // A big binary that starts with two opcode bytes and a huge declared length: not
        // enough evidence, even with a pickle-ish extension.
        let mut big = b"KxB\xff\xff\xff\x7f".to_vec();
        big.resize(HEAD_LEN + 10, 0);
        assert_eq!(detect(&big, "firmware.bin"), None);
    }

    #[test]
    fn a_big_compressed_file_that_holds_no_model_is_silent() {
        use std::io::Write;
        // 100 KiB of incompressible-ish text in bzip2: the 64 KiB head decodes to nothing, so
        // detection defers to the scan, which finds plain text and says nothing.
        let text: Vec<u8> = (0..200_000u32)
            .flat_map(|i| format!("{:x} ", i.wrapping_mul(2_654_435_761)).into_bytes())
            .collect();
        let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
        bz.write_all(&text).unwrap();
        let bz = bz.finish().unwrap();
        assert!(bz.len() > HEAD_LEN);
        assert_eq!(detect(&bz, "log.txt.bz2"), Some(ModelFormat::Joblib));
        let r = scan_bytes(&bz, &Location::path("log.txt.bz2"), &Policy::default());
        assert!(r.findings.is_empty() && r.warnings.is_empty(), "{r:?}");
    }
}
