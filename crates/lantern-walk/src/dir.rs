//! Parallel directory walk (ignore crate): ignore files, exclude globs, no symlink following,
//! display paths relative to the root as given, big files delivered as partial heads.

use crate::archive::Ctx;
use crate::sniff::sniff_archive;
use crate::window::{self, WINDOW};
use crate::{Blob, BlobKind, Error, Result, Visitor, WalkOptions, PARTIAL_HEAD};
use globset::{Glob, GlobSet, GlobSetBuilder};
use ignore::{WalkBuilder, WalkState};
use lantern_core::Location;
use std::fs::File;
use std::path::{Path, PathBuf};

/// The `exclude` patterns, compiled: `files` matches paths, `dirs` prunes whole directories
/// (patterns `x/**` also match the directory `x` itself).
struct Exclude {
    files: GlobSet,
    dirs: GlobSet,
}

impl Exclude {
    fn new(patterns: &[String]) -> Result<Self> {
        let mut files = GlobSetBuilder::new();
        let mut dirs = GlobSetBuilder::new();
        for p in patterns {
            let glob_err = |e: globset::Error| Error::Glob {
                pattern: p.clone(),
                message: e.kind().to_string(),
            };
            let trimmed = p.trim_start_matches("./");
            let g = Glob::new(trimmed).map_err(glob_err)?;
            files.add(g.clone());
            dirs.add(g);
            if let Some(dir) = trimmed.strip_suffix("/**") {
                if !dir.is_empty() {
                    dirs.add(Glob::new(dir).map_err(glob_err)?);
                }
            }
        }
        let build = |b: GlobSetBuilder| {
            b.build().map_err(|e| Error::Glob {
                pattern: patterns.join(", "),
                message: e.kind().to_string(),
            })
        };
        Ok(Exclude {
            files: build(files)?,
            dirs: build(dirs)?,
        })
    }

    fn excluded(&self, rel: &Path, is_dir: bool) -> bool {
        if rel.as_os_str().is_empty() {
            return false;
        }
        if is_dir {
            self.dirs.is_match(rel)
        } else {
            self.files.is_match(rel)
        }
    }
}

/// The display path of `p` found under `root`: as the walker built it (root joined with the
/// relative path), without the `./` when the root is `.`.
fn display(root: &Path, p: &Path) -> String {
    if root == Path::new(".") {
        if let Ok(rel) = p.strip_prefix(".") {
            if !rel.as_os_str().is_empty() {
                return rel.to_string_lossy().into_owned();
            }
        }
    }
    p.to_string_lossy().into_owned()
}

/// The message of an ignore-crate error and the path it names, if any.
fn ignore_error(e: &ignore::Error) -> (Option<String>, String) {
    match e {
        ignore::Error::WithPath { path, err } => (
            Some(path.to_string_lossy().into_owned()),
            ignore_error(err).1,
        ),
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
            ignore_error(err)
        }
        other => (None, other.to_string()),
    }
}

pub(crate) fn walk_paths(roots: &[PathBuf], opts: &WalkOptions, v: &dyn Visitor) -> Result<()> {
    for root in roots {
        if std::fs::symlink_metadata(root).is_err() && !root.exists() {
            return Err(Error::NotFound {
                path: root.to_string_lossy().into_owned(),
            });
        }
    }
    let exclude = Exclude::new(&opts.exclude)?;
    for root in roots {
        let meta = std::fs::metadata(root)
            .map_err(|source| Error::Io(lantern_core::IoError::new(root.display(), source)))?;
        if let Some(kind) = special_kind(meta.file_type()) {
            special_file(&root.to_string_lossy(), kind, v);
            continue;
        }
        if !meta.is_dir() {
            // A file named on the command line is scanned whatever the ignore files say.
            visit_file(root, root.to_string_lossy().into_owned(), opts, v);
            continue;
        }
        walk_dir(root, &exclude, opts, v);
    }
    Ok(())
}

fn walk_dir(root: &Path, exclude: &Exclude, opts: &WalkOptions, v: &dyn Visitor) {
    let honour = !opts.no_ignore;
    let walker = WalkBuilder::new(root)
        .hidden(false)
        .ignore(honour)
        .git_ignore(honour)
        .git_exclude(honour)
        .git_global(false)
        .parents(honour)
        .require_git(false)
        .follow_links(false)
        .threads(opts.threads)
        .filter_entry(|e| !(e.file_name() == ".git" && e.file_type().is_some_and(|t| t.is_dir())))
        .build_parallel();
    walker.run(|| {
        Box::new(move |res| {
            let entry = match res {
                Ok(e) => e,
                Err(e) => {
                    let (path, msg) = ignore_error(&e);
                    let path = path.unwrap_or_else(|| root.to_string_lossy().into_owned());
                    v.incomplete(&path, &msg);
                    return WalkState::Continue;
                }
            };
            let Some(ft) = entry.file_type() else {
                return WalkState::Continue;
            };
            let rel = entry.path().strip_prefix(root).unwrap_or(entry.path());
            if ft.is_dir() {
                if exclude.excluded(rel, true) {
                    return WalkState::Skip;
                }
                return WalkState::Continue;
            }
            let shown = display(root, entry.path());
            if exclude.excluded(rel, false) {
                return WalkState::Continue;
            }
            if ft.is_symlink() {
                v.skipped(&shown, "symlink not followed");
                return WalkState::Continue;
            }
            if let Some(kind) = special_kind(ft) {
                special_file(&shown, kind, v);
                return WalkState::Continue;
            }
            visit_file(entry.path(), shown, opts, v);
            WalkState::Continue
        })
    });
}

/// What kind of special file `ft` is (FIFO, device, socket), or `None` for a regular file,
/// directory or symlink. Special files are never opened: a FIFO blocks, a device never ends.
fn special_kind(ft: std::fs::FileType) -> Option<&'static str> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ft.is_fifo() {
            return Some("named pipe (FIFO)");
        }
        if ft.is_char_device() {
            return Some("character device");
        }
        if ft.is_block_device() {
            return Some("block device");
        }
        if ft.is_socket() {
            return Some("socket");
        }
    }
    (!ft.is_file() && !ft.is_dir() && !ft.is_symlink()).then_some("special file")
}

/// Report a special file: not read, so not checked.
pub(crate) fn special_file(shown: &str, kind: &str, v: &dyn Visitor) {
    v.incomplete(
        shown,
        &format!("{kind}: not read (pipe it to `lantern scan -` to scan it)"),
    );
}

/// Read one file on disk and deliver it (expanding archives and notebooks). A file larger than
/// [`WINDOW`] is read as a stream: archives are expanded from disk, text is delivered as
/// overlapping windows up to `max_file_size` (the rest reported as not checked), and other
/// binary files as their first 64 KiB with `partial` set (model scanners read them from disk).
fn visit_file(path: &Path, shown: String, opts: &WalkOptions, v: &dyn Visitor) {
    let warn = |e: std::io::Error| v.incomplete(&shown, &format!("cannot read: {e}"));
    let mut f = match File::open(path) {
        Ok(f) => f,
        Err(e) => return warn(e),
    };
    let meta = match f.metadata() {
        Ok(m) => m,
        Err(e) => return warn(e),
    };
    if let Some(kind) = special_kind(meta.file_type()) {
        return special_file(&shown, kind, v);
    }
    let size = meta.len();
    // Bound by the limits, not by the size seen a moment ago: the file may be growing.
    let in_memory = opts.max_file_size.min(WINDOW as u64);
    let cap = in_memory.saturating_add(1);
    let data = match crate::read_capped(&mut f, cap, size.min(in_memory).saturating_add(1)) {
        Ok(d) => d,
        Err(e) => return warn(e),
    };
    if data.len() as u64 <= in_memory {
        let location = Location::path(shown);
        Ctx::new(opts, v).deliver(location, data, BlobKind::File, Some(path.to_path_buf()), 0);
        return;
    }
    let location = Location::path(shown);
    let archive = sniff_archive(&data);
    if archive.is_none() && window::is_text_head(&data) {
        return text_windows(path, location, data, &mut f, size, opts, v);
    }
    if let Some(k) = archive {
        match File::open(path) {
            Ok(whole) => Ctx::new(opts, v).expand_file(&location, whole, k),
            Err(e) => v.incomplete(&location.path, &format!("cannot read: {e}")),
        }
    }
    let mut head = data;
    head.truncate(PARTIAL_HEAD);
    v.blob(Blob {
        location,
        data: head,
        partial: true,
        disk_path: Some(path.to_path_buf()),
        size: size.max(head_len_bound(opts)),
        kind: if archive.is_some() {
            BlobKind::Archive
        } else {
            BlobKind::File
        },
        window: None,
    });
}

/// The smallest size a partial blob reports: more than what was read, so it never looks whole.
fn head_len_bound(opts: &WalkOptions) -> u64 {
    opts.max_file_size.min(WINDOW as u64).saturating_add(1)
}

/// Deliver a big text file as windows (its first window already read into `head`).
fn text_windows(
    path: &Path,
    location: Location,
    head: Vec<u8>,
    f: &mut File,
    size: u64,
    opts: &WalkOptions,
    v: &dyn Visitor,
) {
    let input = window::Input {
        location,
        kind: BlobKind::File,
        disk_path: Some(path.to_path_buf()),
        size: Some(size),
    };
    let shown = &input.location.path;
    // At least a 64 KiB head, as for binary files: model sniffers need it to recognise a
    // pickle whose first value is long (and then read the file from disk).
    let limit = opts.max_file_size.max(PARTIAL_HEAD as u64);
    match window::deliver(&input, head, f, limit, v) {
        Ok(w) if w.truncated || size > opts.max_file_size => {
            v.incomplete(shown, &window::too_big(size, opts.max_file_size, w.scanned))
        }
        Ok(_) => {}
        Err(e) => v.incomplete(shown, &format!("cannot read: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_paths_relative_to_root_as_given() {
        assert_eq!(display(Path::new("."), Path::new("./src/a.py")), "src/a.py");
        assert_eq!(
            display(Path::new("examples"), Path::new("examples/a.py")),
            "examples/a.py"
        );
        assert_eq!(
            display(Path::new("./src"), Path::new("./src/a.py")),
            "./src/a.py"
        );
        assert_eq!(
            display(Path::new("/abs"), Path::new("/abs/x/y")),
            "/abs/x/y"
        );
    }

    #[test]
    fn exclude_prunes_directories_of_double_star_patterns() {
        let e = Exclude::new(&["vendor/**".into(), "./build".into(), "*.min.js".into()]).unwrap();
        assert!(e.excluded(Path::new("vendor"), true));
        assert!(e.excluded(Path::new("vendor/a/b.js"), false));
        assert!(e.excluded(Path::new("build"), true));
        assert!(e.excluded(Path::new("deep/x.min.js"), false));
        assert!(!e.excluded(Path::new("src/vendor.rs"), false));
        assert!(!e.excluded(Path::new(""), true));
    }
}
