//! Git attribution through the `git` command line: `git blame --porcelain` maps each line of
//! the working-tree file to the commit and author that last changed it, and `git show REV:PATH`
//! reads an older version of a dataset.

use crate::{Error, Result};
use lantern_core::CommitInfo;
use std::collections::HashMap;
use std::path::Path;
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
}
