//! Git history walks on repositories made with the `git` command line in a temp dir.

#![cfg(feature = "git")]
#![allow(clippy::unwrap_used)]

mod common;

use common::Collect;
use lantern_walk::{walk_git, BlobKind, Error, WalkOptions};
use std::path::Path;
use std::process::Command;

fn git(dir: &Path, args: &[&str], date: &str) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Ada Lovelace")
        .env("GIT_AUTHOR_EMAIL", "ada@example.com")
        .env("GIT_COMMITTER_NAME", "Ada Lovelace")
        .env("GIT_COMMITTER_EMAIL", "ada@example.com")
        .env("GIT_AUTHOR_DATE", date)
        .env("GIT_COMMITTER_DATE", date)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .expect("the git command line is needed for this test");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

const KEY: &[u8] = b"AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n";

#[test]
fn deleted_secret_is_found_with_its_commit() {
    let d = tempfile::tempdir().unwrap();
    let r = d.path();
    git(r, &["init", "-q", "-b", "main"], "2024-01-01T00:00:00Z");
    std::fs::write(r.join("README.md"), "hello\n").unwrap();
    git(r, &["add", "README.md"], "2024-01-01T00:00:00Z");
    git(
        r,
        &["commit", "-q", "-m", "first"],
        "2024-01-01T10:00:00+0000",
    );
    std::fs::create_dir(r.join("config")).unwrap();
    std::fs::write(r.join("config/.env"), KEY).unwrap();
    git(r, &["add", "config/.env"], "2024-01-02T00:00:00Z");
    git(
        r,
        &["commit", "-q", "-m", "add key"],
        "2024-01-02T12:30:00+0200",
    );
    let added = git(r, &["rev-parse", "HEAD"], "");
    git(r, &["rm", "-q", "config/.env"], "2024-01-03T00:00:00Z");
    git(
        r,
        &["commit", "-q", "-m", "remove key"],
        "2024-01-03T09:00:00+0000",
    );
    // A second branch with its own file; README unchanged there.
    git(
        r,
        &["checkout", "-q", "-b", "feature", "HEAD~2"],
        "2024-01-04T00:00:00Z",
    );
    std::fs::write(r.join("feature.py"), "token = 'abc'\n").unwrap();
    git(r, &["add", "feature.py"], "2024-01-04T00:00:00Z");
    git(
        r,
        &["commit", "-q", "-m", "feature"],
        "2024-01-04T08:00:00-0500",
    );
    let feature = git(r, &["rev-parse", "HEAD"], "");
    git(r, &["checkout", "-q", "main"], "2024-01-05T00:00:00Z");

    let c = Collect::default();
    walk_git(r, &WalkOptions::default(), &c).unwrap();
    assert!(c.warnings().is_empty(), "{:?}", c.warnings());
    // Each unique blob once: README, the key, feature.py.
    assert_eq!(c.paths(), vec!["README.md", "config/.env", "feature.py"]);

    let env = c.blob("config/.env");
    assert_eq!(env.kind, BlobKind::GitBlob);
    assert_eq!(env.data, KEY);
    assert!(env.disk_path.is_none());
    let commit = env.location.commit.unwrap();
    assert_eq!(commit.id, added);
    assert_eq!(commit.author, "Ada Lovelace <ada@example.com>");
    assert_eq!(commit.date, "2024-01-02T12:30:00+02:00");

    let f = c.blob("feature.py").location.commit.unwrap();
    assert_eq!(f.id, feature);
    assert_eq!(f.date, "2024-01-04T08:00:00-05:00");
    // README is attributed to the first commit, not to the later ones holding the same blob.
    assert_eq!(
        c.blob("README.md").location.commit.unwrap().date,
        "2024-01-01T10:00:00Z"
    );
}

#[test]
fn archives_in_history_are_expanded_and_big_blobs_scanned_to_the_limit() {
    let d = tempfile::tempdir().unwrap();
    let r = d.path();
    git(r, &["init", "-q", "-b", "main"], "2024-01-01T00:00:00Z");
    std::fs::write(r.join("pkg.zip"), common::zip(&[("inner/.env", b"K=1\n")])).unwrap();
    std::fs::write(r.join("big.bin"), vec![b'x'; 5000]).unwrap();
    git(r, &["add", "."], "2024-01-01T00:00:00Z");
    git(r, &["commit", "-q", "-m", "c"], "2024-01-01T00:00:00Z");
    // A tag on a commit and a stash-less lightweight ref do not duplicate blobs.
    git(r, &["tag", "-a", "v1", "-m", "v1"], "2024-01-01T00:00:00Z");

    let c = Collect::default();
    let opts = WalkOptions {
        max_file_size: 1000,
        ..Default::default()
    };
    walk_git(r, &opts, &c).unwrap();
    assert_eq!(c.paths(), vec!["big.bin", "pkg.zip", "pkg.zip!inner/.env"]);
    // Text over the limit: streamed, its first max_file_size bytes delivered as one window.
    let big = c.blob("big.bin");
    assert_eq!(big.data.len(), 1000);
    assert_eq!((big.size, big.window.map(|w| w.last)), (5000, Some(true)));
    assert!(big.location.commit.is_some(), "windows keep the commit");
    assert_eq!(c.blob("pkg.zip").kind, BlobKind::Archive);
    let inner = c.blob("pkg.zip!inner/.env");
    assert_eq!(inner.data, b"K=1\n");
    assert!(inner.location.commit.is_some(), "members keep the commit");
    // The rest: reported as not checked (a warning for this visitor), not skipped.
    assert!(c.skipped.lock().unwrap().is_empty());
    assert!(
        c.warned("big.bin", "larger than max_file_size"),
        "{:?}",
        c.warnings()
    );
}

#[test]
fn stashed_changes_are_scanned() {
    let d = tempfile::tempdir().unwrap();
    let r = d.path();
    git(r, &["init", "-q", "-b", "main"], "2024-01-01T00:00:00Z");
    std::fs::write(r.join("app.py"), "x = 1\n").unwrap();
    git(r, &["add", "app.py"], "2024-01-01T00:00:00Z");
    git(r, &["commit", "-q", "-m", "c"], "2024-01-01T00:00:00Z");
    std::fs::write(r.join("app.py"), "token = 'stashed-secret'\n").unwrap();
    git(r, &["stash", "-q"], "2024-02-01T00:00:00Z");
    let stash = git(r, &["rev-parse", "refs/stash"], "");
    assert_eq!(std::fs::read(r.join("app.py")).unwrap(), b"x = 1\n");

    let c = Collect::default();
    walk_git(r, &WalkOptions::default(), &c).unwrap();
    let blobs = c.blobs.lock().unwrap().clone();
    let stashed = blobs
        .iter()
        .find(|b| b.data == b"token = 'stashed-secret'\n")
        .expect("the stashed version is delivered");
    assert_eq!(stashed.location.path, "app.py");
    assert_eq!(stashed.location.commit.as_ref().unwrap().id, stash);
    assert_eq!(blobs.len(), 2, "committed and stashed versions, once each");
}

#[test]
fn not_a_repository_is_an_error() {
    let d = tempfile::tempdir().unwrap();
    let e = walk_git(d.path(), &WalkOptions::default(), &Collect::default()).unwrap_err();
    assert!(matches!(e, Error::Git { .. }), "{e}");
}
