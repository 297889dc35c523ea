//! Inputs for Lantern scans: directory trees (honouring .gitignore), archives with bounds,
//! Jupyter notebooks, git history and stdin, as a stream of [`Blob`]s with locations.
//!
//! Every input ends up as calls to a [`Visitor`]: [`Visitor::blob`] for each piece of content
//! (a file, an archive member, a notebook cell, a git blob), [`Visitor::warning`] for inputs that
//! could not be read completely (corrupt archives, zip bombs, invalid notebooks, unreadable
//! files). A malformed input never aborts the run; only a root that cannot be opened at all is an
//! [`Error`].
//!
//! Archives are recognised by their magic bytes ([`sniff_archive`]), expanded recursively up to
//! [`WalkOptions::max_archive_depth`] levels, and every decompressed byte is counted against the
//! limits of [`WalkOptions`] while it is read: declared sizes are never trusted.

#![cfg_attr(test, allow(clippy::unwrap_used))]

mod archive;
pub mod decode;
mod dir;
#[cfg(feature = "git")]
mod git;
mod notebook;
mod sniff;
pub mod window;

pub use archive::ArchiveKind;
pub use sniff::{is_binary, sniff_archive, sniff_unsupported};
pub use window::{Window, WINDOW, WINDOW_MARGIN, WINDOW_OVERLAP};

use lantern_core::{Location, Warning};
use std::io::Read;
use std::path::{Path, PathBuf};

/// How many leading bytes a [`Blob::partial`] blob carries.
pub const PARTIAL_HEAD: usize = 64 * 1024;

/// Errors that stop a walk before it starts: a root that does not exist or cannot be opened,
/// an invalid exclude pattern, a directory that is not a git repository. Problems with single
/// inputs are reported as [`Warning`]s instead.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A root given to [`walk_paths`] does not exist.
    #[error("{path}: no such file or directory")]
    NotFound {
        /// The root as given.
        path: String,
    },
    /// A root could not be read.
    #[error(transparent)]
    Io(#[from] lantern_core::IoError),
    /// An exclude glob does not parse.
    #[error("invalid exclude pattern `{pattern}`: {message}")]
    Glob {
        /// The pattern as given.
        pattern: String,
        /// What is wrong with it.
        message: String,
    },
    /// A git repository could not be opened or its refs listed.
    #[error("{path}: git: {message}")]
    Git {
        /// The repository path as given.
        path: String,
        /// What went wrong.
        message: String,
    },
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What to walk and within which limits. Built by the CLI from flags and `lantern.toml` `[scan]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalkOptions {
    /// `false`: honour `.gitignore`, `.ignore` and `.git/info/exclude` (also outside a git
    /// repository). Hidden files such as `.env` are always scanned; `.git/` directories never.
    pub no_ignore: bool,
    /// Glob patterns of paths (relative to each root) never scanned, e.g. `vendor/**`.
    pub exclude: Vec<String>,
    /// Most bytes of one input scanned: text beyond it is reported as incomplete (text over
    /// [`WINDOW`] is delivered as windows up to it); other larger files are delivered as
    /// [`Blob::partial`] heads (first 64 KiB), archives among them expanded as streams.
    pub max_file_size: u64,
    /// Expand archives (zip, tar, gzip) recursively.
    pub expand_archives: bool,
    /// How many nested archive levels are expanded (`a.zip!b.tgz!c.js` is two levels).
    pub max_archive_depth: u32,
    /// Total bytes decompressed out of one top-level archive, at all nesting levels together.
    pub max_archive_bytes: u64,
    /// Per-entry decompressed/compressed ratio above which an entry is a bomb (checked once the
    /// entry has produced more than 32 MiB).
    pub max_archive_ratio: u64,
    /// Entries expanded out of one top-level archive, at all nesting levels together.
    pub max_archive_entries: u64,
    /// Split `.ipynb` notebooks into one blob per cell source and one per cell output.
    pub notebooks: bool,
    /// Worker threads; `0` uses all cores.
    pub threads: usize,
}

impl Default for WalkOptions {
    fn default() -> Self {
        WalkOptions {
            no_ignore: false,
            exclude: Vec::new(),
            max_file_size: 50 * 1024 * 1024,
            expand_archives: true,
            max_archive_depth: 4,
            max_archive_bytes: 1024 * 1024 * 1024,
            max_archive_ratio: 100,
            max_archive_entries: 100_000,
            notebooks: true,
            threads: 0,
        }
    }
}

/// One piece of content to analyse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    /// Display path (relative to the root as given), archive members as `outer!inner`, notebook
    /// cells with `cell`/`cell_part`, git blobs with `commit`.
    pub location: Location,
    /// The content; for a [`Blob::partial`] blob only the first [`PARTIAL_HEAD`] bytes.
    pub data: Vec<u8>,
    /// `true` when the content is larger than `max_file_size` (or could only be read in part):
    /// `data` holds the head only.
    pub partial: bool,
    /// The file on disk when the blob is a whole file on disk, so analysers of big files (models)
    /// can open it and seek. `None` for archive members, cells, git blobs and stdin.
    pub disk_path: Option<PathBuf>,
    /// Real size in bytes (of the whole content, also for partial blobs).
    pub size: u64,
    /// Where the blob comes from.
    pub kind: BlobKind,
    /// Set when the blob is one window of a text input larger than [`WINDOW`]: `data` is that
    /// window, `size` the whole input's size. Analysers pass what they find through
    /// [`Window::rebase`].
    pub window: Option<Window>,
}

/// Where a [`Blob`] comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BlobKind {
    /// A plain file on disk.
    File,
    /// A member of an archive.
    ArchiveMember,
    /// An archive itself (on disk, in an archive or in git), delivered in addition to its members
    /// so model scanners can inspect zip-based formats such as torch checkpoints.
    Archive,
    /// One notebook cell's source or outputs.
    NotebookCell,
    /// A blob from git history.
    GitBlob,
    /// Standard input.
    Stdin,
}

/// Receives what a walk finds. Called from many threads at once.
pub trait Visitor: Sync {
    /// One piece of content.
    fn blob(&self, blob: Blob);
    /// An input that could not be read completely.
    fn warning(&self, w: Warning);
    /// An input deliberately not scanned (a symlink), with the reason.
    fn skipped(&self, _path: &str, _reason: &str) {}
    /// Content that should have been inspected and was not, or only in part: a size, depth,
    /// count or expansion limit, an unreadable or corrupt input, an encrypted entry, an
    /// unsupported compression, history missing from a shallow clone. Scanners turn it into a
    /// finding so a run never passes silently; by default it is a [`Visitor::warning`].
    fn incomplete(&self, path: &str, reason: &str) {
        self.warning(Warning::new(path, reason));
    }
    /// [`Visitor::incomplete`] at a full location (a git blob's commit and path).
    fn incomplete_at(&self, loc: &Location, reason: &str) {
        self.incomplete(&loc.path, reason);
    }
}

/// Walk files and directories. Directories are walked in parallel honouring ignore files and
/// `exclude`; files given explicitly are always scanned. A root that does not exist is an error
/// naming it (checked for every root before anything is visited).
pub fn walk_paths(roots: &[PathBuf], opts: &WalkOptions, v: &dyn Visitor) -> Result<()> {
    dir::walk_paths(roots, opts, v)
}

/// Walk the history of the git repository at (or above) `repo`: every blob reachable from any
/// ref, HEAD or stash, each unique blob once, attributed to the oldest commit (in topological
/// order) whose tree contains it.
pub fn walk_git(repo: &Path, opts: &WalkOptions, v: &dyn Visitor) -> Result<()> {
    #[cfg(feature = "git")]
    return git::walk_git(repo, opts, v);
    #[cfg(not(feature = "git"))]
    {
        let _ = (opts, v);
        Err(Error::Git {
            path: repo.to_string_lossy().into_owned(),
            message: "lantern-walk built without the `git` feature".into(),
        })
    }
}

/// Read one input from a stream (stdin as `-`), reading at most `max_file_size` bytes of it.
/// Text longer than [`WINDOW`] is delivered as overlapping windows (memory stays bounded);
/// archives and notebooks are expanded like files: a tar or gzip stream as it is read, within
/// the expansion limits, a zip (which needs random access) from memory up to `max_file_size`.
/// Other binary input is kept whole up to `max_file_size` for the model scanners. What lies
/// beyond `max_file_size` is not read (an endless stream ends the read) and is reported.
pub fn walk_reader(
    name: &str,
    r: &mut dyn Read,
    opts: &WalkOptions,
    v: &dyn Visitor,
) -> Result<()> {
    let io_err = |source| Error::Io(lantern_core::IoError::new(name, source));
    let in_memory = opts.max_file_size.min(WINDOW as u64);
    let cap = in_memory.saturating_add(1);
    let mut data = read_capped(r, cap, cap).map_err(io_err)?;
    let location = Location::path(name);
    let kind = sniff_archive(&data);
    if data.len() as u64 > in_memory && kind.is_none() && window::is_text_head(&data) {
        let input = window::Input {
            location,
            kind: BlobKind::Stdin,
            disk_path: None,
            size: None,
        };
        let w = window::deliver(&input, data, r, opts.max_file_size, v).map_err(io_err)?;
        if w.truncated {
            v.incomplete(name, &window::too_big_stream(opts.max_file_size));
        }
        return Ok(());
    }
    if data.len() as u64 > in_memory && !matches!(kind, Some(ArchiveKind::Tar | ArchiveKind::Gzip))
    {
        // Binary data and zips: whole, up to the limit.
        let more = opts.max_file_size.saturating_add(1) - data.len() as u64;
        r.take(more).read_to_end(&mut data).map_err(io_err)?;
    }
    if data.len() as u64 <= opts.max_file_size {
        archive::Ctx::new(opts, v).deliver(location, data, BlobKind::Stdin, None, 0);
        return Ok(());
    }
    // A partial blob carries the first PARTIAL_HEAD bytes, even when max_file_size is smaller.
    if data.len() < PARTIAL_HEAD {
        let want = (PARTIAL_HEAD - data.len()) as u64;
        r.take(want).read_to_end(&mut data).map_err(io_err)?;
    }
    let mut size = data.len() as u64;
    if let Some(k @ (ArchiveKind::Tar | ArchiveKind::Gzip)) = kind {
        let mut whole = std::io::Cursor::new(&data).chain(&mut *r);
        archive::Ctx::new(opts, v).expand_reader(&location, &mut whole, k);
        size = size.max(opts.max_file_size.saturating_add(1));
    } else if kind == Some(ArchiveKind::Zip) && opts.expand_archives {
        v.incomplete(
            name,
            &format!(
                "zip read from a stream larger than max_file_size ({} bytes): not expanded",
                opts.max_file_size
            ),
        );
    }
    data.truncate(PARTIAL_HEAD);
    v.blob(Blob {
        location,
        data,
        partial: true,
        disk_path: None,
        size,
        kind: if kind.is_some() {
            BlobKind::Archive
        } else {
            BlobKind::Stdin
        },
        window: None,
    });
    Ok(())
}

/// Read `r` to its end or to `cap` bytes, whichever comes first, into a buffer sized once for
/// `hint` bytes (a file's size, or `cap` for a stream): reading then never reallocates, and a
/// reallocation briefly holds two copies, which at 128 MiB is what peak memory is made of. The
/// reservation is address space only until bytes arrive.
pub(crate) fn read_capped(r: &mut dyn Read, cap: u64, hint: u64) -> std::io::Result<Vec<u8>> {
    let mut data = Vec::new();
    if let Ok(want) = usize::try_from(hint.min(cap)) {
        // A reservation the allocator refuses only costs the reallocations it would have saved.
        let _ = data.try_reserve_exact(want);
    }
    r.take(cap).read_to_end(&mut data)?;
    Ok(data)
}

/// Expand an in-memory blob: deliver the members of an archive (recursively) or the cells of a
/// notebook (when `loc.path` ends in `.ipynb`). The blob itself is not delivered. Problems are
/// warnings naming the nested path.
pub fn expand_bytes(loc: &Location, data: &[u8], opts: &WalkOptions, v: &dyn Visitor) {
    archive::Ctx::new(opts, v).expand(loc, data, 0);
}
