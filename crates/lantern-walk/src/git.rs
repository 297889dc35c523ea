//! Git history (gix, pure Rust): every blob reachable from any ref, each delivered once,
//! attributed to the oldest commit (topological order) whose tree holds it.

use crate::archive::Ctx;
use crate::window::{self, WINDOW};
use crate::{BlobKind, Error, Result, Visitor, WalkOptions};
use gix::ObjectId;
use lantern_core::{CommitInfo, Location};
use rayon::prelude::*;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::path::Path;

/// One commit of the history, decoded once.
struct Commit {
    id: ObjectId,
    tree: ObjectId,
    parents: Vec<ObjectId>,
    /// Committer-independent author time (seconds since the epoch), to order siblings.
    time: i64,
    info: CommitInfo,
}

/// A blob to read, with the first place it was seen.
struct Job {
    blob: ObjectId,
    path: String,
    /// Index of the commit in the commit list; `None` for an object a ref points at directly.
    commit: Option<usize>,
}

pub(crate) fn walk_git(repo_path: &Path, opts: &WalkOptions, v: &dyn Visitor) -> Result<()> {
    let shown = repo_path.to_string_lossy().into_owned();
    let git_err = |message: String| Error::Git {
        path: shown.clone(),
        message,
    };
    let mut repo = gix::discover(repo_path).map_err(|e| git_err(e.to_string()))?;
    repo.object_cache_size_if_unset(32 * 1024 * 1024);

    let tips = tips(&repo, &shown, v).map_err(git_err)?;
    let commits = collect_commits(&repo, tips.commits, &shown, v);
    let order = oldest_first(&commits);
    let jobs = collect_blobs(&repo, &commits, &order, &tips.loose, &shown, v);

    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads)
        .build()
        .map_err(|e| git_err(format!("cannot start threads: {e}")))?;
    let sync = repo.into_sync();
    pool.install(|| {
        jobs.par_iter().for_each_init(
            || sync.to_thread_local(),
            |repo, job| read_blob(repo, job, &commits, opts, v),
        )
    });
    Ok(())
}

/// What the refs point at: commits (history) and, for refs that point directly at a blob or a
/// tree (`git tag t $(git hash-object -w f)`), those objects with the ref's name.
#[derive(Default)]
struct Tips {
    commits: Vec<ObjectId>,
    loose: Vec<(ObjectId, String)>,
}

/// Commit ids of HEAD and every ref (branches, tags peeled, remotes, stash), and the blobs and
/// trees that refs point at directly.
fn tips(repo: &gix::Repository, shown: &str, v: &dyn Visitor) -> Result<Tips, String> {
    let mut tips = Tips::default();
    if let Ok(id) = repo.head_id() {
        tips.commits.push(id.detach());
    }
    let platform = repo.references().map_err(|e| e.to_string())?;
    for r in platform.all().map_err(|e| e.to_string())? {
        let mut r = match r {
            Ok(r) => r,
            Err(e) => {
                v.incomplete(shown, &format!("unreadable ref: {e}"));
                continue;
            }
        };
        let name = r.name().as_bstr().to_string();
        let id = match r.peel_to_id_in_place() {
            Ok(id) => id.detach(),
            Err(e) => {
                v.incomplete(shown, &format!("ref {name}: {e}"));
                continue;
            }
        };
        match repo.find_header(id).map(|h| h.kind()) {
            Ok(gix::object::Kind::Commit) => tips.commits.push(id),
            Ok(gix::object::Kind::Blob | gix::object::Kind::Tree) => tips.loose.push((id, name)),
            Ok(gix::object::Kind::Tag) => {}
            Err(e) => v.incomplete(shown, &format!("ref {name}: {e}")),
        }
    }
    Ok(tips)
}

/// All commits reachable from `tips`; missing ones (shallow clones) are reported once.
fn collect_commits(
    repo: &gix::Repository,
    tips: Vec<ObjectId>,
    shown: &str,
    v: &dyn Visitor,
) -> Vec<Commit> {
    let mut seen: HashSet<ObjectId> = HashSet::new();
    let mut out = Vec::new();
    let mut stack = tips;
    let mut missing = 0u64;
    let shallow: HashSet<ObjectId> = repo
        .shallow_commits()
        .ok()
        .flatten()
        .map(|s| s.iter().copied().collect())
        .unwrap_or_default();
    while let Some(id) = stack.pop() {
        if !seen.insert(id) {
            continue;
        }
        let commit = match repo.find_commit(id) {
            Ok(c) => c,
            Err(_) => {
                missing += 1;
                continue;
            }
        };
        let decoded = match commit.decode() {
            Ok(d) => d,
            Err(e) => {
                v.incomplete(shown, &format!("commit {id}: corrupt: {e}"));
                continue;
            }
        };
        let author = decoded.author().trim();
        let time = author.time().unwrap_or_default();
        let parents: Vec<ObjectId> = if shallow.contains(&id) {
            Vec::new()
        } else {
            decoded.parents().collect()
        };
        stack.extend(parents.iter().copied());
        out.push(Commit {
            id,
            tree: decoded.tree(),
            parents,
            time: time.seconds,
            info: CommitInfo {
                id: id.to_string(),
                author: format!("{} <{}>", author.name, author.email),
                date: rfc3339(time.seconds, time.offset),
            },
        });
    }
    if missing > 0 {
        v.incomplete(
            shown,
            &format!("{missing} commits referenced but missing (incomplete clone): their history was not scanned"),
        );
    }
    if !shallow.is_empty() {
        v.incomplete(
            shown,
            &format!(
                "shallow clone ({} boundary commit(s)): history before them was not scanned; \
                 fetch it with `git fetch --unshallow` (actions/checkout: fetch-depth: 0)",
                shallow.len()
            ),
        );
    }
    out
}

/// Format a git time as RFC 3339 in its own offset.
fn rfc3339(seconds: i64, offset: i32) -> String {
    let fmt = time::format_description::well_known::Rfc3339;
    time::OffsetDateTime::from_unix_timestamp(seconds)
        .ok()
        .and_then(|t| {
            let off = time::UtcOffset::from_whole_seconds(offset).ok()?;
            t.to_offset(off).format(&fmt).ok()
        })
        .unwrap_or_else(|| format!("@{seconds}"))
}

/// Indices of `commits` in topological order, parents before children, older author time first
/// among commits that are ready together.
fn oldest_first(commits: &[Commit]) -> Vec<usize> {
    let index: HashMap<ObjectId, usize> =
        commits.iter().enumerate().map(|(i, c)| (c.id, i)).collect();
    let mut pending = vec![0usize; commits.len()];
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); commits.len()];
    for (i, c) in commits.iter().enumerate() {
        for p in &c.parents {
            if let Some(&pi) = index.get(p) {
                if let Some(n) = pending.get_mut(i) {
                    *n += 1;
                }
                if let Some(ch) = children.get_mut(pi) {
                    ch.push(i);
                }
            }
        }
    }
    let mut ready: BinaryHeap<Reverse<(i64, usize)>> = commits
        .iter()
        .enumerate()
        .filter(|(i, _)| pending.get(*i) == Some(&0))
        .map(|(i, c)| Reverse((c.time, i)))
        .collect();
    let mut order = Vec::with_capacity(commits.len());
    while let Some(Reverse((_, i))) = ready.pop() {
        order.push(i);
        for &ch in children.get(i).map(Vec::as_slice).unwrap_or(&[]) {
            if let Some(n) = pending.get_mut(ch) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    if let Some(c) = commits.get(ch) {
                        ready.push(Reverse((c.time, ch)));
                    }
                }
            }
        }
    }
    order
}

/// Objects already listed, so each tree is walked and each blob read once.
#[derive(Default)]
struct Seen {
    trees: HashSet<ObjectId>,
    blobs: HashSet<ObjectId>,
}

/// Walk every commit's tree in `order`, then the trees and blobs refs point at directly,
/// listing each blob the first time it is seen. Subtrees already walked are skipped whole: all
/// their blobs are already listed.
fn collect_blobs(
    repo: &gix::Repository,
    commits: &[Commit],
    order: &[usize],
    loose: &[(ObjectId, String)],
    shown: &str,
    v: &dyn Visitor,
) -> Vec<Job> {
    let mut seen = Seen::default();
    let mut jobs = Vec::new();
    for &ci in order {
        let Some(c) = commits.get(ci) else { continue };
        list_tree(repo, c.tree, "", Some(ci), &mut seen, &mut jobs, shown, v);
    }
    for (id, name) in loose {
        let is_tree = repo
            .find_header(*id)
            .is_ok_and(|h| h.kind() == gix::object::Kind::Tree);
        if is_tree {
            list_tree(repo, *id, name, None, &mut seen, &mut jobs, shown, v);
        } else if seen.blobs.insert(*id) {
            jobs.push(Job {
                blob: *id,
                path: name.clone(),
                commit: None,
            });
        }
    }
    jobs
}

/// List the blobs of the tree `root` (paths under `prefix`) not seen before.
#[allow(clippy::too_many_arguments)]
fn list_tree(
    repo: &gix::Repository,
    root: ObjectId,
    prefix: &str,
    commit: Option<usize>,
    seen: &mut Seen,
    jobs: &mut Vec<Job>,
    shown: &str,
    v: &dyn Visitor,
) {
    let mut stack = vec![(root, prefix.to_string())];
    while let Some((tree_id, prefix)) = stack.pop() {
        if !seen.trees.insert(tree_id) {
            continue;
        }
        let tree = match repo.find_tree(tree_id) {
            Ok(t) => t,
            Err(e) => {
                v.incomplete(shown, &format!("tree {tree_id}: {e}"));
                continue;
            }
        };
        let decoded = match tree.decode() {
            Ok(d) => d,
            Err(e) => {
                v.incomplete(shown, &format!("tree {tree_id}: corrupt: {e}"));
                continue;
            }
        };
        for e in &decoded.entries {
            let path = if prefix.is_empty() {
                e.filename.to_string()
            } else {
                format!("{prefix}/{}", e.filename)
            };
            if e.mode.is_tree() {
                stack.push((e.oid.to_owned(), path));
            } else if e.mode.is_blob() && seen.blobs.insert(e.oid.to_owned()) {
                jobs.push(Job {
                    blob: e.oid.to_owned(),
                    path,
                    commit,
                });
            }
            // Symlinks and submodule commits are not content of this repository.
        }
    }
}

fn read_blob(
    repo: &mut gix::Repository,
    job: &Job,
    commits: &[Commit],
    opts: &WalkOptions,
    v: &dyn Visitor,
) {
    let commit = job.commit.and_then(|c| commits.get(c));
    let location = Location {
        path: job.path.clone(),
        commit: commit.map(|c| c.info.clone()),
        ..Default::default()
    };
    let size = match repo.find_header(job.blob) {
        Ok(h) => h.size(),
        Err(e) => return v.incomplete_at(&location, &format!("blob {}: {e}", job.blob)),
    };
    if size > opts.max_file_size.min(WINDOW as u64) {
        return big_blob(repo, job.blob, location, size, opts, v);
    }
    in_memory(repo, job.blob, location, opts, v);
}

/// Read a blob into memory and deliver it.
fn in_memory(
    repo: &gix::Repository,
    id: ObjectId,
    location: Location,
    opts: &WalkOptions,
    v: &dyn Visitor,
) {
    match repo.find_object(id) {
        Ok(o) => {
            let data = o.detach().data;
            Ctx::new(opts, v).deliver(location, data, BlobKind::GitBlob, None, 0);
        }
        Err(e) => v.incomplete_at(&location, &format!("blob {id}: {e}")),
    }
}

/// A blob too big to hold in memory: text is streamed (`git cat-file`, as gix reads objects
/// whole) and delivered as windows up to `max_file_size`; binary blobs up to `max_file_size`
/// are read into memory for the model scanners, bigger ones reported as not scanned.
fn big_blob(
    repo: &gix::Repository,
    id: ObjectId,
    location: Location,
    size: u64,
    opts: &WalkOptions,
    v: &dyn Visitor,
) {
    let too_big = |loc: &Location| {
        let msg = format!(
            "blob {id} larger than max_file_size ({size} > {} bytes): not scanned",
            opts.max_file_size
        );
        v.incomplete_at(loc, &msg);
    };
    let streamed = match CatFile::spawn(repo.git_dir(), id) {
        Ok(mut child) => child.stream_text(&location, size, opts, v),
        Err(_) => Streamed::NotText,
    };
    match streamed {
        Streamed::Done => {}
        Streamed::Failed(e) => v.incomplete_at(&location, &format!("blob {id}: {e}")),
        Streamed::NotText if size <= opts.max_file_size => in_memory(repo, id, location, opts, v),
        Streamed::NotText => too_big(&location),
    }
}

/// What [`CatFile::stream_text`] did.
enum Streamed {
    /// Delivered as windows (and reported when cut at the limit).
    Done,
    /// Not text, or `git` could not stream it: read it another way.
    NotText,
    /// Reading failed part way.
    Failed(String),
}

/// A `git cat-file blob` child streaming one blob.
struct CatFile {
    child: std::process::Child,
}

impl CatFile {
    fn spawn(git_dir: &Path, id: ObjectId) -> std::io::Result<Self> {
        let child = std::process::Command::new("git")
            .arg("--git-dir")
            .arg(git_dir)
            .args(["cat-file", "blob"])
            .arg(id.to_string())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()?;
        Ok(CatFile { child })
    }

    /// Deliver the blob as windows when its head is text.
    fn stream_text(
        &mut self,
        location: &Location,
        size: u64,
        opts: &WalkOptions,
        v: &dyn Visitor,
    ) -> Streamed {
        let Some(mut out) = self.child.stdout.take() else {
            return Streamed::NotText;
        };
        let in_memory = opts.max_file_size.min(WINDOW as u64);
        let head = match crate::read_capped(&mut out, in_memory + 1, in_memory + 1) {
            Ok(h) if h.len() as u64 > in_memory => h,
            // git could not read it (or it shrank): let gix say why.
            _ => return Streamed::NotText,
        };
        if !window::is_text_head(&head) {
            return Streamed::NotText;
        }
        let input = window::Input {
            location: location.clone(),
            kind: BlobKind::GitBlob,
            disk_path: None,
            size: Some(size),
        };
        match window::deliver(&input, head, &mut out, opts.max_file_size, v) {
            Ok(w) if w.truncated => {
                v.incomplete_at(
                    location,
                    &window::too_big(size, opts.max_file_size, w.scanned),
                );
                Streamed::Done
            }
            Ok(w) if w.scanned < size => Streamed::Failed(format!(
                "git cat-file ended after {} of {size} bytes",
                w.scanned
            )),
            Ok(_) => Streamed::Done,
            Err(e) => Streamed::Failed(e.to_string()),
        }
    }
}

impl Drop for CatFile {
    fn drop(&mut self) {
        // Not read to its end: stop it rather than wait for it.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commit(n: u8, parents: &[u8], time: i64) -> Commit {
        let id = |b: u8| ObjectId::Sha1([b; 20]);
        Commit {
            id: id(n),
            tree: id(200),
            parents: parents.iter().map(|&p| id(p)).collect(),
            time,
            info: CommitInfo {
                id: id(n).to_string(),
                author: String::new(),
                date: String::new(),
            },
        }
    }

    #[test]
    fn parents_come_first_even_with_clock_skew() {
        // A <- B (dated before A) <- C ; A <- D ; E merges C and D; a missing parent 9 is ignored.
        let commits = vec![
            commit(5, &[3, 4], 400),
            commit(3, &[2], 300),
            commit(2, &[1], 50),
            commit(4, &[1, 9], 200),
            commit(1, &[], 100),
        ];
        let order: Vec<u8> = oldest_first(&commits)
            .into_iter()
            .map(|i| commits[i].id.as_bytes()[0])
            .collect();
        assert_eq!(order, vec![1, 2, 4, 3, 5]);
    }

    #[test]
    fn rfc3339_keeps_the_offset() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_704_191_400, 7200), "2024-01-02T12:30:00+02:00");
        assert_eq!(rfc3339(i64::MAX, 0), format!("@{}", i64::MAX));
    }
}
