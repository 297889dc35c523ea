//! Bounded, recursive expansion of zip, tar and gzip archives (and notebooks found in them),
//! counting every decompressed byte against the limits of [`WalkOptions`] while reading.

use crate::notebook;
use crate::sniff::sniff_archive;
use crate::{Blob, BlobKind, Visitor, WalkOptions, PARTIAL_HEAD};
use lantern_core::{Location, Warning};
use std::cell::Cell;
use std::io::{self, Cursor, Read};
use std::path::PathBuf;

/// Entries below this many decompressed bytes are never called bombs, whatever their ratio:
/// real data compresses beyond 100:1 (a 1.3 MB sparse matrix in a scipy test `.npz` does
/// 145:1), and memory is bounded by `max_file_size` and `max_archive_bytes` anyway; the ratio
/// only stops a bomb early, before it wastes the whole byte budget.
const RATIO_GRACE: u64 = 32 * 1024 * 1024;

/// Archive formats Lantern expands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArchiveKind {
    /// Zip and its derivatives: wheel, jar, apk, nupkg, torch checkpoints, docx.
    Zip,
    /// A gzip stream: a `.tar.gz`/`.tgz` (expanded as tar) or a single gzipped file.
    Gzip,
    /// A POSIX or GNU tar archive (also `docker save` images and OCI layers).
    Tar,
}

/// The error a [`Limited`] reader returns when a limit trips; the warning is already emitted.
#[derive(Debug)]
struct LimitReached;

impl std::fmt::Display for LimitReached {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("archive limit reached")
    }
}

impl std::error::Error for LimitReached {}

/// State shared by the expansion of one top-level input: budgets and the visitor.
pub(crate) struct Ctx<'a> {
    opts: &'a WalkOptions,
    v: &'a dyn Visitor,
    /// Bytes decompressed so far, all levels together.
    bytes: Cell<u64>,
    /// Entries seen so far, all levels together.
    entries: Cell<u64>,
    /// A whole-input limit (bytes, entries) tripped: stop everything.
    stopped: Cell<bool>,
    /// How many times a limit tripped or a dead reader was read again; a read error that
    /// happens while this changes was caused by a limit, already reported.
    trips: Cell<u64>,
}

impl<'a> Ctx<'a> {
    /// A fresh budget for one top-level input.
    pub(crate) fn new(opts: &'a WalkOptions, v: &'a dyn Visitor) -> Self {
        Ctx {
            opts,
            v,
            bytes: Cell::new(0),
            entries: Cell::new(0),
            stopped: Cell::new(false),
            trips: Cell::new(0),
        }
    }

    /// Report content left unchecked (a limit, a corrupt or encrypted entry) at `path`.
    fn warn(&self, path: &str, message: impl Into<String>) {
        self.v.incomplete(path, &message.into());
    }

    /// Report a read error unless it was caused by a limit (already reported).
    fn read_error(&self, path: &str, trips_before: u64, what: &str, e: &dyn std::fmt::Display) {
        if self.trips.get() == trips_before {
            self.warn(path, format!("truncated or corrupt {what}: {e}"));
        }
    }

    /// Deliver a whole in-memory input: a valid notebook as its cells, an archive as itself
    /// ([`BlobKind::Archive`]) plus its members, anything else as one blob of `kind`.
    /// `level` is the archive nesting level of `loc` (0 for a file on disk).
    pub(crate) fn deliver(
        &self,
        loc: Location,
        data: Vec<u8>,
        kind: BlobKind,
        disk_path: Option<PathBuf>,
        level: u32,
    ) {
        let what = self.expand(&loc, &data, level);
        if what == Expanded::Notebook {
            return;
        }
        let kind = if what == Expanded::Archive {
            BlobKind::Archive
        } else {
            kind
        };
        self.v.blob(Blob {
            location: loc,
            size: data.len() as u64,
            data,
            partial: false,
            disk_path,
            kind,
            window: None,
        });
    }

    /// Expand `data` (at nesting `level`) if it is a notebook or an archive; say which.
    pub(crate) fn expand(&self, loc: &Location, data: &[u8], level: u32) -> Expanded {
        if self.opts.notebooks && notebook::is_notebook_path(&loc.path) {
            match notebook::split(data) {
                Ok(cells) => {
                    for cell in cells {
                        notebook::deliver(loc, cell, self.v);
                    }
                    return Expanded::Notebook;
                }
                Err(e) => {
                    // Still scanned whole, as text.
                    let message = format!("invalid notebook: {e}");
                    self.v.warning(Warning::new(&loc.path, message));
                    return Expanded::Nothing;
                }
            }
        }
        let Some(kind) = sniff_archive(data) else {
            return Expanded::Nothing;
        };
        if !self.opts.expand_archives || self.stopped.get() {
            return Expanded::Archive;
        }
        if level >= self.opts.max_archive_depth {
            self.warn(
                &loc.path,
                format!(
                    "archive nested deeper than {} levels: not expanded",
                    self.opts.max_archive_depth
                ),
            );
            return Expanded::Archive;
        }
        match kind {
            ArchiveKind::Zip => self.expand_zip(loc, Cursor::new(data), level + 1),
            ArchiveKind::Gzip | ArchiveKind::Tar => {
                self.expand_stream(loc, &mut Cursor::new(data), kind, level + 1)
            }
        }
        Expanded::Archive
    }

    /// Expand an archive file on disk that is larger than `max_file_size`: tar and gzip as a
    /// stream, zip by seeking, within the expansion limits (its members are what matters).
    pub(crate) fn expand_file(&self, loc: &Location, f: std::fs::File, kind: ArchiveKind) {
        let mut r = io::BufReader::new(f);
        match kind {
            ArchiveKind::Zip if self.may_expand_top(loc) => self.expand_zip(loc, r, 1),
            ArchiveKind::Zip => {}
            ArchiveKind::Gzip | ArchiveKind::Tar => self.expand_reader(loc, &mut r, kind),
        }
    }

    /// Expand a tar or gzip archive read from a stream (a big file, standard input larger than
    /// `max_file_size`), within the expansion limits.
    pub(crate) fn expand_reader(&self, loc: &Location, r: &mut dyn Read, kind: ArchiveKind) {
        if self.may_expand_top(loc) {
            self.expand_stream(loc, r, kind, 1);
        }
    }

    /// Whether a top-level archive is expanded at all (options, a depth limit of 0).
    fn may_expand_top(&self, loc: &Location) -> bool {
        if !self.opts.expand_archives {
            return false;
        }
        if self.opts.max_archive_depth == 0 {
            self.warn(
                &loc.path,
                "archive nested deeper than 0 levels: not expanded",
            );
            return false;
        }
        true
    }

    /// Count one more entry; `false` (after a warning) when the entry limit is reached.
    fn count_entry(&self, loc: &Location) -> bool {
        if self.stopped.get() {
            return false;
        }
        let n = self.entries.get() + 1;
        self.entries.set(n);
        if n > self.opts.max_archive_entries {
            self.stopped.set(true);
            self.warn(
                &loc.path,
                format!(
                    "archive has more than {} entries: expansion stopped",
                    self.opts.max_archive_entries
                ),
            );
            return false;
        }
        true
    }

    /// Expand a zip (in memory or a file on disk); members are at nesting `level`.
    fn expand_zip<R: Read + io::Seek>(&self, loc: &Location, mut r: R, level: u32) {
        let mut za = match zip::ZipArchive::new(&mut r) {
            Ok(za) => za,
            Err(e) => {
                self.warn(
                    &loc.path,
                    format!("truncated or corrupt zip: {e}; reading entries from local headers"),
                );
                if r.seek(io::SeekFrom::Start(0)).is_ok() {
                    self.expand_zip_stream(loc, &mut r, level);
                }
                return;
            }
        };
        for i in 0..za.len() {
            if self.stopped.get() {
                return;
            }
            let (name, compressed, size) = match za.by_index_raw(i) {
                Ok(f) => {
                    if f.is_dir() {
                        continue;
                    }
                    if f.encrypted() {
                        self.warn(&loc.child(f.name()).path, "encrypted zip entry: skipped");
                        continue;
                    }
                    (f.name().to_string(), f.compressed_size(), f.size())
                }
                Err(e) => {
                    self.warn(&loc.path, format!("corrupt zip entry #{i}: {e}"));
                    continue;
                }
            };
            let member = loc.child(&name);
            if !self.count_entry(&member) {
                return;
            }
            let before = self.trips.get();
            match za.by_index(i) {
                Ok(f) => {
                    let mut lim =
                        Limited::new(f, self, member.path.clone(), Compressed::Fixed(compressed));
                    self.member(member, &mut lim, level, "zip entry", Some(size));
                }
                // Unsupported methods (bzip2, lzma, zstd) and corrupt headers.
                Err(e) if self.trips.get() == before => {
                    self.warn(&member.path, format!("cannot read zip entry: {e}"))
                }
                Err(_) => {}
            }
        }
    }

    /// Expand a zip whose central directory is missing or corrupt from its local headers.
    fn expand_zip_stream(&self, loc: &Location, mut cur: &mut dyn Read, level: u32) {
        let mut read_any = false;
        loop {
            if self.stopped.get() {
                return;
            }
            let before = self.trips.get();
            match zip::read::read_zipfile_from_stream(&mut cur) {
                Ok(Some(f)) => {
                    read_any = true;
                    if f.is_dir() {
                        continue;
                    }
                    let member = loc.child(f.name());
                    if f.encrypted() {
                        self.warn(&member.path, "encrypted zip entry: skipped");
                        continue;
                    }
                    if !self.count_entry(&member) {
                        return;
                    }
                    let compressed = f.compressed_size();
                    let mut lim =
                        Limited::new(f, self, member.path.clone(), Compressed::Fixed(compressed));
                    self.member(member, &mut lim, level, "zip entry", None);
                }
                Ok(None) => return,
                Err(e) => {
                    // The end of the readable part: report unless nothing at all was readable
                    // (already reported by the caller) and stop.
                    if read_any {
                        self.read_error(&loc.path, before, "zip", &e);
                    }
                    return;
                }
            }
        }
    }

    /// Expand a tar or gzip stream; members are at nesting `level`.
    fn expand_stream(&self, loc: &Location, r: &mut dyn Read, kind: ArchiveKind, level: u32) {
        match kind {
            ArchiveKind::Tar => self.expand_tar(loc, r, level),
            ArchiveKind::Gzip => self.expand_gzip(loc, r, level),
            // A zip needs random access: the caller buffers it.
            ArchiveKind::Zip => {}
        }
    }

    fn expand_tar(&self, loc: &Location, r: &mut dyn Read, level: u32) {
        let mut ar = tar::Archive::new(r);
        let before = self.trips.get();
        let entries = match ar.entries() {
            Ok(e) => e,
            Err(e) => {
                self.read_error(&loc.path, before, "tar", &e);
                return;
            }
        };
        for entry in entries {
            if self.stopped.get() {
                return;
            }
            let before = self.trips.get();
            let mut entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    self.read_error(&loc.path, before, "tar", &e);
                    return;
                }
            };
            let et = entry.header().entry_type();
            if !(et.is_file() || et.is_contiguous()) {
                continue;
            }
            let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            let member = loc.child(&name);
            if !self.count_entry(&member) {
                return;
            }
            let declared = entry.size();
            let exact = Exact {
                inner: &mut entry,
                declared,
                read: 0,
            };
            let mut lim = Limited::new(exact, self, member.path.clone(), Compressed::None);
            self.member(member, &mut lim, level, "tar entry", Some(declared));
            if self.trips.get() != before {
                // The underlying stream hit a limit: the rest is not readable.
                return;
            }
        }
    }

    fn expand_gzip(&self, loc: &Location, r: &mut dyn Read, level: u32) {
        let consumed = Cell::new(0u64);
        let counting = Counting {
            inner: r,
            count: &consumed,
        };
        let mut dec = flate2::read::MultiGzDecoder::new(counting);
        let before = self.trips.get();
        let mut head = Vec::with_capacity(512);
        let res = {
            let mut lim = Limited::new(
                &mut dec,
                self,
                loc.path.clone(),
                Compressed::Counter(&consumed),
            );
            read_up_to(&mut lim, &mut head, 512)
        };
        if let Err(e) = res {
            self.read_error(&loc.path, before, "gzip", &e);
            return;
        }
        let inner_name = dec
            .header()
            .and_then(|h| h.filename())
            .map(|f| String::from_utf8_lossy(f).into_owned())
            .filter(|f| !f.is_empty() && !f.contains('\0'))
            .unwrap_or_else(|| gunzipped_name(&loc.path));
        let mut lim = Limited::new(
            &mut dec,
            self,
            loc.path.clone(),
            Compressed::Counter(&consumed),
        );
        let mut chained = Cursor::new(head.as_slice()).chain(&mut lim);
        if sniff_archive(&head) == Some(ArchiveKind::Tar) {
            // A .tar.gz: its members are named directly under the .tgz (`pkg.tgz!package/a.js`).
            self.expand_tar(loc, &mut chained, level);
        } else {
            let member = loc.child(&inner_name);
            if self.count_entry(&member) {
                self.member(member, &mut chained, level, "gzip", None);
            }
        }
    }

    /// Read one archive member and deliver it. Members up to `max_file_size` are read in full
    /// and expanded like files; larger ones go to [`Ctx::large_member`]. `declared` is the
    /// size the archive states for the member: when it is over the limit only the head is
    /// read (a lie costs the liar a partial blob, never more memory).
    fn member(
        &self,
        loc: Location,
        r: &mut dyn Read,
        level: u32,
        what: &str,
        declared: Option<u64>,
    ) {
        let before = self.trips.get();
        let max = self.opts.max_file_size;
        let first = match declared {
            Some(d) if d > max => (PARTIAL_HEAD as u64).min(max.saturating_add(1)),
            _ => max.saturating_add(1),
        };
        let mut buf = Vec::new();
        if let Some(d) = declared.and_then(|d| usize::try_from(d.min(first)).ok()) {
            // Sized once from the declared size (bounded by the limit): no reallocation copies.
            let _ = buf.try_reserve_exact(d.saturating_add(1));
        }
        if let Err(e) = read_up_to(r, &mut buf, first) {
            self.read_error(&loc.path, before, what, &e);
            if self.trips.get() == before && !buf.is_empty() {
                // A truncated member: what was read is still worth scanning.
                let size = buf.len() as u64;
                buf.truncate(PARTIAL_HEAD);
                self.v.blob(Blob {
                    location: loc,
                    data: buf,
                    partial: true,
                    disk_path: None,
                    size,
                    kind: BlobKind::ArchiveMember,
                    window: None,
                });
            }
            return;
        }
        if (buf.len() as u64) < first {
            self.deliver(loc, buf, BlobKind::ArchiveMember, None, level);
            return;
        }
        self.large_member(loc, r, buf, level, what, declared);
    }

    /// A member larger than `max_file_size`, of which `buf` holds the first bytes: a tar or
    /// gzip member is expanded as a stream (docker image layers); anything else is delivered
    /// as a partial blob of its first [`PARTIAL_HEAD`] bytes without reading the rest.
    fn large_member(
        &self,
        loc: Location,
        r: &mut dyn Read,
        mut buf: Vec<u8>,
        level: u32,
        what: &str,
        declared: Option<u64>,
    ) {
        let before = self.trips.get();
        let max = self.opts.max_file_size;
        if buf.len() < PARTIAL_HEAD {
            let want = (PARTIAL_HEAD - buf.len()) as u64;
            if let Err(e) = read_up_to(r, &mut buf, want) {
                self.read_error(&loc.path, before, what, &e);
                return;
            }
        }
        let kind = sniff_archive(&buf);
        let stream = matches!(kind, Some(ArchiveKind::Tar | ArchiveKind::Gzip))
            && self.opts.expand_archives
            && level < self.opts.max_archive_depth;
        let mut head = buf.get(..PARTIAL_HEAD).unwrap_or(&buf).to_vec();
        head.shrink_to_fit();
        let mut size = declared.unwrap_or(0).max(buf.len() as u64);
        match kind {
            Some(k) if stream => {
                let counted = Cell::new(0u64);
                let mut rest = Counting {
                    inner: r,
                    count: &counted,
                };
                let mut chained = Cursor::new(buf.as_slice()).chain(&mut rest);
                self.expand_stream(&loc, &mut chained, k, level + 1);
                // Whatever the inner archive did not read still belongs to the member.
                let drained = io::copy(&mut rest, &mut io::sink());
                size = buf.len() as u64 + counted.get();
                if let Err(e) = drained {
                    self.read_error(&loc.path, before, what, &e);
                    if self.trips.get() != before {
                        return;
                    }
                }
            }
            Some(_) if self.opts.expand_archives => {
                let why = if level >= self.opts.max_archive_depth {
                    format!(
                        "archive nested deeper than {} levels: not expanded",
                        self.opts.max_archive_depth
                    )
                } else {
                    format!("zip member larger than max_file_size ({max} bytes): not expanded")
                };
                self.warn(&loc.path, why);
            }
            _ => {}
        }
        drop(buf);
        self.v.blob(Blob {
            location: loc,
            data: head,
            partial: true,
            disk_path: None,
            size: size.max(max.saturating_add(1)),
            kind: if kind.is_some() {
                BlobKind::Archive
            } else {
                BlobKind::ArchiveMember
            },
            window: None,
        });
    }
}

/// What [`Ctx::expand`] did with a blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expanded {
    /// Not an archive nor a valid notebook.
    Nothing,
    /// An archive (members delivered unless a limit or option prevented it).
    Archive,
    /// A valid notebook, delivered as cells.
    Notebook,
}

/// Read from `r` into `buf` until EOF or `limit` bytes. Memory grows with the bytes actually read.
fn read_up_to(r: &mut dyn Read, buf: &mut Vec<u8>, limit: u64) -> io::Result<()> {
    r.take(limit).read_to_end(buf).map(|_| ())
}

/// The name of the file inside a gzip without a stored name: `x.gz` → `x`, `x.tgz` → `x.tar`.
fn gunzipped_name(path: &str) -> String {
    let base = path.rsplit(['!', '/']).next().unwrap_or(path);
    let lower = base.to_ascii_lowercase();
    for (ext, add) in [(".tgz", ".tar"), (".gz", ""), (".gzip", ""), (".z", "")] {
        if lower.ends_with(ext) {
            let stem = base
                .get(..base.len().saturating_sub(ext.len()))
                .unwrap_or("");
            if !stem.is_empty() {
                return format!("{stem}{add}");
            }
        }
    }
    "(gunzipped)".to_string()
}

/// Counts the bytes read through it.
struct Counting<'c, R> {
    inner: R,
    count: &'c Cell<u64>,
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.set(self.count.get() + n as u64);
        Ok(n)
    }
}

/// Fails with `UnexpectedEof` when the stream ends before the size its header declared (a
/// truncated tar entry would otherwise look complete).
struct Exact<R> {
    inner: R,
    declared: u64,
    read: u64,
}

impl<R: Read> Read for Exact<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if n == 0 && !buf.is_empty() && self.read < self.declared {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("data ends after {} of {} bytes", self.read, self.declared),
            ));
        }
        Ok(n)
    }
}

/// The compressed size an entry's ratio is measured against.
enum Compressed<'c> {
    /// Known up front (zip entry; bounded by the archive's real size).
    Fixed(u64),
    /// Compressed bytes consumed so far (gzip stream).
    Counter(&'c Cell<u64>),
    /// Not compressed (tar entry): no ratio check.
    None,
}

/// Enforces the byte and ratio limits on one decompressing reader.
struct Limited<'c, 'a, R> {
    inner: R,
    ctx: &'c Ctx<'a>,
    path: String,
    compressed: Compressed<'c>,
    produced: u64,
    dead: bool,
}

impl<'c, 'a, R: Read> Limited<'c, 'a, R> {
    fn new(inner: R, ctx: &'c Ctx<'a>, path: String, compressed: Compressed<'c>) -> Self {
        Limited {
            inner,
            ctx,
            path,
            compressed,
            produced: 0,
            dead: false,
        }
    }

    fn trip(&mut self, message: Option<String>) -> io::Error {
        self.dead = true;
        self.ctx.trips.set(self.ctx.trips.get() + 1);
        if let Some(m) = message {
            self.ctx.warn(&self.path, m);
        }
        io::Error::other(LimitReached)
    }
}

impl<R: Read> Read for Limited<'_, '_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.dead || self.ctx.stopped.get() {
            return Err(self.trip(None));
        }
        let n = self.inner.read(buf)?;
        self.produced += n as u64;
        let total = self.ctx.bytes.get() + n as u64;
        self.ctx.bytes.set(total);
        let opts = self.ctx.opts;
        if total > opts.max_archive_bytes {
            self.ctx.stopped.set(true);
            return Err(self.trip(Some(format!(
                "archive expands beyond {} bytes in total: expansion stopped",
                opts.max_archive_bytes
            ))));
        }
        if self.produced > RATIO_GRACE {
            let compressed = match &self.compressed {
                Compressed::Fixed(c) => Some(*c),
                Compressed::Counter(c) => Some(c.get()),
                Compressed::None => None,
            };
            if let Some(c) = compressed {
                if self.produced > c.max(1).saturating_mul(opts.max_archive_ratio) {
                    return Err(self.trip(Some(format!(
                        "zip bomb: entry expands beyond ratio {} ({} bytes from {} compressed)",
                        opts.max_archive_ratio, self.produced, c
                    ))));
                }
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gunzipped_names() {
        assert_eq!(gunzipped_name("a/b/data.csv.gz"), "data.csv");
        assert_eq!(gunzipped_name("x.zip!pkg-1.0.tgz"), "pkg-1.0.tar");
        assert_eq!(gunzipped_name("blobs/sha256/abcd"), "(gunzipped)");
        assert_eq!(gunzipped_name(".gz"), "(gunzipped)");
    }
}
