//! Git attribution through the `git` command line: `git blame --porcelain` maps each line of
//! the working-tree file to the commit and author that last changed it, and `git show REV:PATH`
//! reads an older version of a dataset; `git blame --reverse` finds the commit that removed a
//! line of an older version.

use crate::{Error, Result};
use lantern_core::CommitInfo;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Line (1-based) → commit that last touched it, for a file in a git work tree.
/// `None` when the file is not tracked by git (or git is not installed).
pub fn blame(path: &Path) -> Option<HashMap<u64, CommitInfo>> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path.file_name()?;
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["blame", "--porcelain", "--"])
        .arg(name)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    Some(parse_porcelain(&out.stdout))
}

/// Run git in `dir`; its standard output when it succeeds.
fn git_out(dir: &Path, args: &[&str]) -> Option<Vec<u8>> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status.success().then_some(out.stdout)
}

/// The top of the work tree holding `dir`, and `path` as written in `REV:PATH` (relative to
/// the top, or to `dir` when it starts with `./` or `../`) made relative to the top.
fn repo_path(dir: &Path, path: &str) -> Option<(PathBuf, String)> {
    let top = git_out(dir, &["rev-parse", "--show-toplevel"])?;
    let top = PathBuf::from(String::from_utf8_lossy(&top).trim_end_matches('\n'));
    if !(path.starts_with("./") || path.starts_with("../")) {
        return Some((top, path.to_string()));
    }
    let prefix = git_out(dir, &["rev-parse", "--show-prefix"])?;
    let mut parts: Vec<String> = String::from_utf8_lossy(&prefix)
        .trim_end_matches('\n')
        .split('/')
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            c => parts.push(c.to_string()),
        }
    }
    Some((top, parts.join("/")))
}

/// Full commit id of a revision.
fn commit_id(dir: &Path, rev: &str) -> Option<String> {
    let spec = format!("{rev}^{{commit}}");
    let out = git_out(dir, &["rev-parse", "--verify", "--quiet", &spec])?;
    let id = String::from_utf8_lossy(&out).trim().to_string();
    (!id.is_empty()).then_some(id)
}

/// Line (1-based) → commit that last touched it, for `path` (as in `REV:PATH`) at revision
/// `rev` of the repository holding `dir`. `None` when git cannot blame it.
pub fn blame_at(dir: &Path, rev: &str, path: &str) -> Option<HashMap<u64, CommitInfo>> {
    let (top, rel) = repo_path(dir, path)?;
    let out = git_out(&top, &["blame", "--porcelain", rev, "--", &rel])?;
    Some(parse_porcelain(&out))
}

/// For `path` at revision `old` (as in `OLD:PATH`), the commit that removed each line that is
/// gone by `new` (a revision; the work tree's `HEAD` when `None`): line of the old version
/// (1-based) → removing commit. `git blame --reverse OLD..NEW` gives the last commit where the
/// line still existed; the removing commit is the first commit after it, on the ancestry path
/// to NEW, that touches the path. Lines still present at NEW are absent from the map (in the
/// work tree case they were removed by an uncommitted edit). `None` when git cannot tell.
pub fn removals(
    dir: &Path,
    old: &str,
    path: &str,
    new: Option<&str>,
) -> Option<HashMap<u64, CommitInfo>> {
    let (top, rel) = repo_path(dir, path)?;
    let old_id = commit_id(&top, old)?;
    let new_id = commit_id(&top, new.unwrap_or("HEAD"))?;
    let range = format!("{old_id}..{new_id}");
    let out = git_out(
        &top,
        &["blame", "--reverse", "--porcelain", &range, "--", &rel],
    )?;
    let last_seen = parse_porcelain(&out);
    let mut child: HashMap<String, Option<CommitInfo>> = HashMap::new();
    let mut map = HashMap::new();
    for (line, c) in last_seen {
        if c.id == new_id {
            continue;
        }
        let by = child
            .entry(c.id.clone())
            .or_insert_with(|| next_commit(&top, &c.id, &new_id, &rel));
        if let Some(by) = by {
            map.insert(line, by.clone());
        }
    }
    Some(map)
}

/// The first commit after `from`, on the ancestry path to `to`, that touches `path`.
fn next_commit(top: &Path, from: &str, to: &str, path: &str) -> Option<CommitInfo> {
    let range = format!("{from}..{to}");
    let out = git_out(
        top,
        &[
            "log",
            "--reverse",
            "--ancestry-path",
            "--format=%H%x00%an%x00%ae%x00%at",
            &range,
            "--",
            path,
        ],
    )?;
    let text = String::from_utf8_lossy(&out);
    let first = text.lines().next()?;
    let mut it = first.split('\0');
    let (id, name, mail, time) = (it.next()?, it.next()?, it.next()?, it.next()?);
    Some(CommitInfo {
        id: id.to_string(),
        author: format!("{name} <{mail}>"),
        date: time
            .parse::<i64>()
            .map(rfc3339_utc)
            .unwrap_or_else(|_| time.to_string()),
    })
}

/// Parse `git blame --porcelain` output.
pub fn parse_porcelain(out: &[u8]) -> HashMap<u64, CommitInfo> {
    let text = String::from_utf8_lossy(out);
    let mut commits: HashMap<String, (String, String, String)> = HashMap::new();
    let mut lines = HashMap::new();
    let mut cur: Option<(String, u64)> = None;
    for l in text.lines() {
        if let Some(content) = l.strip_prefix('\t') {
            let _ = content;
            if let Some((id, line)) = cur.take() {
                let (name, mail, time) = commits.get(&id).cloned().unwrap_or_default();
                let author = if mail.is_empty() {
                    name
                } else {
                    format!("{name} {mail}")
                };
                lines.insert(
                    line,
                    CommitInfo {
                        id,
                        author,
                        date: time,
                    },
                );
            }
            continue;
        }
        let mut parts = l.split(' ');
        let first = parts.next().unwrap_or("");
        if first.len() == 40 && first.bytes().all(|b| b.is_ascii_hexdigit()) {
            let _orig = parts.next();
            if let Some(fin) = parts.next().and_then(|s| s.parse::<u64>().ok()) {
                commits.entry(first.to_string()).or_default();
                cur = Some((first.to_string(), fin));
            }
            continue;
        }
        let Some((id, _)) = &cur else { continue };
        let Some(entry) = commits.get_mut(id) else {
            continue;
        };
        if let Some(v) = l.strip_prefix("author ") {
            entry.0 = v.to_string();
        } else if let Some(v) = l.strip_prefix("author-mail ") {
            entry.1 = v.to_string();
        } else if let Some(v) = l.strip_prefix("author-time ") {
            entry.2 = v
                .parse::<i64>()
                .map(rfc3339_utc)
                .unwrap_or_else(|_| v.to_string());
        }
    }
    lines
}

/// Format a Unix timestamp as RFC 3339 in UTC.
pub fn rfc3339_utc(t: i64) -> String {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    // Civil-from-days (Howard Hinnant).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// Read `REV:PATH` with `git show`, run in `dir`. Bounded by the blob's real size.
pub fn show(dir: &Path, spec: &str) -> Result<Vec<u8>> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["show", "--no-textconv"])
        .arg(spec)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::io(format!("git show {spec}"), e))?;
    if !out.status.success() {
        return Err(Error::Invalid(format!(
            "git show {spec}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(out.stdout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_porcelain_and_dates() {
        let id = "a".repeat(40);
        let id2 = "b".repeat(40);
        let text = format!(
            "{id} 1 1 2\nauthor Alice\nauthor-mail <a@x.org>\nauthor-time 1700000000\nauthor-tz +0000\nsummary s\nfilename f\n\tline one\n{id} 2 2\n\tline two\n{id2} 1 3 1\nauthor Mallory\nauthor-mail <m@x.org>\nauthor-time 0\nsummary t\nfilename f\n\tline three\n"
        );
        let m = parse_porcelain(text.as_bytes());
        assert_eq!(m.len(), 3);
        assert_eq!(m[&1].author, "Alice <a@x.org>");
        assert_eq!(m[&2].id, id);
        assert_eq!(m[&1].date, "2023-11-14T22:13:20Z");
        assert_eq!(m[&3].author, "Mallory <m@x.org>");
        assert_eq!(m[&3].date, "1970-01-01T00:00:00Z");
    }

    fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) {
        let st = Command::new("git")
            .current_dir(dir)
            .args(args)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", dir)
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(st.success(), "git {args:?}");
    }

    fn commit(dir: &Path, who: &str, time: &str) {
        let name = format!("user.name={who}");
        let mail = format!("user.email={}@example.org", who.to_lowercase());
        let date = format!("{time} +0000");
        run(
            dir,
            &["-c", &name, "-c", &mail, "commit", "-q", "-am", who],
            &[("GIT_AUTHOR_DATE", &date), ("GIT_COMMITTER_DATE", &date)],
        );
    }

    /// Three commits by three authors: Alice writes four records, Bob deletes the second,
    /// Carol deletes the fourth; then an uncommitted edit deletes the first.
    #[test]
    fn removals_name_the_commit_that_deleted_each_line() {
        let d = tempfile::tempdir().unwrap();
        let top = d.path();
        run(top, &["init", "-q"], &[]);
        let sub = top.join("data");
        std::fs::create_dir(&sub).unwrap();
        let f = sub.join("t.jsonl");
        std::fs::write(&f, "{\"i\":1}\n{\"i\":2}\n{\"i\":3}\n{\"i\":4}\n").unwrap();
        run(top, &["add", "data/t.jsonl"], &[]);
        commit(top, "Alice", "1700000000");
        std::fs::write(&f, "{\"i\":1}\n{\"i\":3}\n{\"i\":4}\n{\"i\":5}\n").unwrap();
        commit(top, "Bob", "1700000100");
        std::fs::write(&f, "{\"i\":0}\n{\"i\":1}\n{\"i\":3}\n{\"i\":5}\n").unwrap();
        commit(top, "Carol", "1700000200");
        std::fs::write(&f, "{\"i\":0}\n{\"i\":3}\n{\"i\":5}\n").unwrap();

        // Revision to revision, path relative to the top of the work tree.
        let m = removals(top, "HEAD~2", "data/t.jsonl", Some("HEAD")).unwrap();
        assert_eq!(m.len(), 2, "{m:?}");
        assert_eq!(m[&2].author, "Bob <bob@example.org>");
        assert_eq!(m[&2].date, "2023-11-14T22:15:00Z");
        assert_eq!(m[&4].author, "Carol <carol@example.org>");
        assert_ne!(m[&2].id, m[&4].id);
        // To the work tree, from a sub-directory with a `./` path: the first record's removal
        // is not committed, so it is not attributed.
        let m = removals(&sub, "HEAD~2", "./t.jsonl", None).unwrap();
        assert_eq!(m.len(), 2, "{m:?}");
        assert_eq!(m[&2].author, "Bob <bob@example.org>");
        assert_eq!(m[&4].author, "Carol <carol@example.org>");
        // Between Bob's and Carol's commits only Carol removed a line (Bob's line 3, `4`).
        let m = removals(top, "HEAD~1", "data/t.jsonl", Some("HEAD")).unwrap();
        assert_eq!(m.keys().copied().collect::<Vec<_>>(), vec![3]);
        assert_eq!(m[&3].author, "Carol <carol@example.org>");
        // Blame at a revision.
        let b = blame_at(top, "HEAD", "data/t.jsonl").unwrap();
        assert_eq!(b[&1].author, "Carol <carol@example.org>");
        assert_eq!(b[&2].author, "Alice <alice@example.org>");
        assert_eq!(b[&4].author, "Bob <bob@example.org>");
        // Not a repository.
        let other = tempfile::tempdir().unwrap();
        assert!(removals(other.path(), "HEAD~1", "t.jsonl", None).is_none());
    }
}
