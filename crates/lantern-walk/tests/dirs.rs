//! Directory walks on trees built in temp dirs: ignore files, excludes, display paths, big
//! files, symlinks, stdin and notebooks on disk.

#![allow(clippy::unwrap_used)]

mod common;

use common::Collect;
use lantern_walk::{walk_paths, walk_reader, BlobKind, Error, WalkOptions, PARTIAL_HEAD};
use std::fs;
use std::path::{Path, PathBuf};

fn write(root: &Path, rel: &str, data: &[u8]) {
    let p = root.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, data).unwrap();
}

/// Display paths relative to `root`, sorted.
fn rel_paths(c: &Collect, root: &Path) -> Vec<String> {
    let prefix = format!("{}/", root.display());
    let mut v: Vec<String> = c
        .paths()
        .into_iter()
        .map(|p| p.strip_prefix(&prefix).unwrap_or(&p).to_string())
        .collect();
    v.sort();
    v
}

fn tree() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let r = d.path();
    write(r, ".gitignore", b"secret.txt\nbuild/\n");
    write(r, "a.py", b"print(1)\n");
    write(r, "secret.txt", b"ignored\n");
    write(r, "build/out.js", b"var x;\n");
    write(r, ".env", b"OPENAI_API_KEY=sk-test\n");
    write(r, "sub/.ignore", b"*.log\n");
    write(r, "sub/run.log", b"log\n");
    write(r, "sub/b.txt", b"b\n");
    write(r, ".git/config", b"[core]\n");
    write(r, ".git/info/exclude", b"excluded-by-git.txt\n");
    write(r, "excluded-by-git.txt", b"x\n");
    d
}

#[test]
fn gitignore_honoured_hidden_scanned_git_dir_never() {
    let d = tree();
    let c = Collect::default();
    walk_paths(&[d.path().to_path_buf()], &WalkOptions::default(), &c).unwrap();
    assert_eq!(
        rel_paths(&c, d.path()),
        vec![".env", ".gitignore", "a.py", "sub/.ignore", "sub/b.txt"]
    );
    assert!(c.warnings().is_empty(), "{:?}", c.warnings());
    let b = c.blob(&format!("{}/a.py", d.path().display()));
    assert_eq!(b.data, b"print(1)\n");
    assert_eq!(b.kind, BlobKind::File);
    assert_eq!(b.size, 9);
    assert!(!b.partial);
    assert_eq!(
        b.disk_path.as_deref(),
        Some(d.path().join("a.py").as_path())
    );
}

#[test]
fn no_ignore_scans_everything_but_git_dir() {
    let d = tree();
    let c = Collect::default();
    let opts = WalkOptions {
        no_ignore: true,
        ..Default::default()
    };
    walk_paths(&[d.path().to_path_buf()], &opts, &c).unwrap();
    assert_eq!(
        rel_paths(&c, d.path()),
        vec![
            ".env",
            ".gitignore",
            "a.py",
            "build/out.js",
            "excluded-by-git.txt",
            "secret.txt",
            "sub/.ignore",
            "sub/b.txt",
            "sub/run.log"
        ]
    );
}

#[test]
fn exclude_globs_relative_to_root() {
    let d = tempfile::tempdir().unwrap();
    let r = d.path();
    write(r, "vendor/lib/x.js", b"x");
    write(r, "src/app.min.js", b"x");
    write(r, "src/app.js", b"x");
    write(r, "docs/vendor.md", b"x");
    let c = Collect::default();
    let opts = WalkOptions {
        exclude: vec!["vendor/**".into(), "*.min.js".into()],
        ..Default::default()
    };
    walk_paths(&[r.to_path_buf()], &opts, &c).unwrap();
    assert_eq!(rel_paths(&c, r), vec!["docs/vendor.md", "src/app.js"]);
}

#[test]
fn invalid_exclude_is_an_error() {
    let d = tempfile::tempdir().unwrap();
    let opts = WalkOptions {
        exclude: vec!["a[".into()],
        ..Default::default()
    };
    let e = walk_paths(&[d.path().to_path_buf()], &opts, &Collect::default()).unwrap_err();
    assert!(
        matches!(e, Error::Glob { ref pattern, .. } if pattern == "a["),
        "{e}"
    );
}

#[test]
fn missing_root_is_an_error_naming_it() {
    let d = tempfile::tempdir().unwrap();
    let missing = d.path().join("nope");
    let c = Collect::default();
    let e = walk_paths(
        &[d.path().to_path_buf(), missing.clone()],
        &WalkOptions::default(),
        &c,
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("{}: no such file or directory", missing.display())
    );
    assert!(c.paths().is_empty(), "nothing visited before the error");
}

#[test]
fn file_root_keeps_its_path_as_given_even_if_ignored() {
    let d = tree();
    let file = d.path().join("secret.txt");
    let c = Collect::default();
    walk_paths(std::slice::from_ref(&file), &WalkOptions::default(), &c).unwrap();
    assert_eq!(c.paths(), vec![file.display().to_string()]);
}

#[test]
fn big_files_are_partial_heads_with_disk_path() {
    let d = tempfile::tempdir().unwrap();
    let big: Vec<u8> = (0..200_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    write(d.path(), "big.txt", &big);
    // A zip over the limit is still expanded, from disk; its members obey the same limit.
    let z = common::zip_stored(&[("inner.txt", &big), ("small.txt", b"hi\n")]);
    write(d.path(), "big.zip", &z);
    let c = Collect::default();
    let opts = WalkOptions {
        max_file_size: 100_000,
        ..Default::default()
    };
    walk_paths(&[d.path().to_path_buf()], &opts, &c).unwrap();
    // Text over the limit: its first max_file_size bytes as one (last) window, the rest
    // reported as not checked.
    let shown = format!("{}/big.txt", d.path().display());
    let b = c.blob(&shown);
    assert!(!b.partial);
    assert_eq!(b.size, 200_000);
    assert_eq!(&b.data[..], &big[..100_000]);
    let w = b.window.unwrap();
    assert_eq!((w.index, w.offset, w.last, w.len), (0, 0, true, 100_000));
    assert_eq!(b.disk_path, Some(d.path().join("big.txt")));
    let warned = c.warnings.lock().unwrap().clone();
    assert!(
        warned.iter().any(|x| x.path == shown
            && x.message == "text larger than max_file_size (200000 > 100000 bytes): only the first 100000 bytes scanned"),
        "{warned:?}"
    );
    let z = c.blob(&format!("{}/big.zip", d.path().display()));
    assert!(z.partial);
    assert_eq!(z.kind, BlobKind::Archive);
    assert_eq!(z.disk_path, Some(d.path().join("big.zip")));
    let inner = c.blob(&format!("{}/big.zip!inner.txt", d.path().display()));
    assert!(inner.partial);
    assert_eq!(inner.size, 200_000);
    assert_eq!(inner.data.len(), PARTIAL_HEAD);
    let small = c.blob(&format!("{}/big.zip!small.txt", d.path().display()));
    assert!(!small.partial);
    assert_eq!(small.data, b"hi\n");
    assert_eq!(c.paths().len(), 4, "{:?}", c.paths());
}

#[cfg(unix)]
#[test]
fn symlinks_not_followed_and_loops_do_not_hang() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "dir/a.txt", b"a");
    std::os::unix::fs::symlink(d.path().join("dir"), d.path().join("dir/loop")).unwrap();
    std::os::unix::fs::symlink(d.path().join("dir/a.txt"), d.path().join("link.txt")).unwrap();
    let c = Collect::default();
    walk_paths(&[d.path().to_path_buf()], &WalkOptions::default(), &c).unwrap();
    assert_eq!(rel_paths(&c, d.path()), vec!["dir/a.txt"]);
    let mut skipped: Vec<String> = c
        .skipped
        .lock()
        .unwrap()
        .iter()
        .map(|s| s.0.clone())
        .collect();
    skipped.sort();
    assert_eq!(
        skipped,
        vec![
            format!("{}/dir/loop", d.path().display()),
            format!("{}/link.txt", d.path().display())
        ]
    );
}

#[test]
fn several_roots_each_keep_their_prefix() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "one/x.txt", b"1");
    write(d.path(), "two/y.txt", b"2");
    let roots: Vec<PathBuf> = vec![d.path().join("one"), d.path().join("two")];
    let c = Collect::default();
    walk_paths(&roots, &WalkOptions::default(), &c).unwrap();
    assert_eq!(rel_paths(&c, d.path()), vec!["one/x.txt", "two/y.txt"]);
}

#[test]
fn notebook_on_disk_is_split_into_cells() {
    let d = tempfile::tempdir().unwrap();
    let nb = br#"{"nbformat":4,"nbformat_minor":5,"metadata":{},"cells":[
      {"cell_type":"markdown","metadata":{},"source":["intro"]},
      {"cell_type":"code","metadata":{},"execution_count":1,"source":["print(key)"],
       "outputs":[{"output_type":"stream","name":"stdout","text":["AKIAEXAMPLE"]}]}]}"#;
    write(d.path(), "nb/Train.ipynb", nb);
    let c = Collect::default();
    walk_paths(&[d.path().to_path_buf()], &WalkOptions::default(), &c).unwrap();
    let blobs = c.blobs.lock().unwrap().clone();
    let mut cells: Vec<(Option<u32>, Option<String>, String)> = blobs
        .iter()
        .map(|b| {
            assert_eq!(b.kind, BlobKind::NotebookCell);
            assert_eq!(
                b.location.path,
                format!("{}/nb/Train.ipynb", d.path().display())
            );
            (
                b.location.cell,
                b.location.cell_part.clone(),
                String::from_utf8(b.data.clone()).unwrap(),
            )
        })
        .collect();
    cells.sort();
    assert_eq!(
        cells,
        vec![
            (Some(0), Some("source".into()), "intro".into()),
            (Some(1), Some("output".into()), "AKIAEXAMPLE".into()),
            (Some(1), Some("source".into()), "print(key)".into()),
        ]
    );
}

#[test]
fn invalid_notebook_warns_and_is_scanned_raw() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "bad.ipynb", b"{\"cells\": [ truncated");
    let c = Collect::default();
    walk_paths(&[d.path().to_path_buf()], &WalkOptions::default(), &c).unwrap();
    let path = format!("{}/bad.ipynb", d.path().display());
    assert!(c.warned(&path, "invalid notebook"), "{:?}", c.warnings());
    let b = c.blob(&path);
    assert_eq!(b.kind, BlobKind::File);
    assert_eq!(b.location.cell, None);
    assert_eq!(b.data, b"{\"cells\": [ truncated");
}

#[test]
fn stdin_small_and_partial() {
    let c = Collect::default();
    walk_reader("-", &mut &b"token=abc\n"[..], &WalkOptions::default(), &c).unwrap();
    let b = c.blob("-");
    assert_eq!(b.kind, BlobKind::Stdin);
    assert_eq!(b.data, b"token=abc\n");
    assert!(!b.partial && b.disk_path.is_none());

    let big = vec![b'x'; 300_000];
    let c = Collect::default();
    let opts = WalkOptions {
        max_file_size: 1000,
        ..Default::default()
    };
    walk_reader("-", &mut &big[..], &opts, &c).unwrap();
    let b = c.blob("-");
    // Text: the first max_file_size bytes as one window; the stream is not read past the
    // limit (an endless one, `/dev/zero`, must end), and the rest is reported.
    assert!(!b.partial && b.window.is_some_and(|w| w.last));
    assert_eq!(b.size, 1000);
    assert_eq!(b.data.len(), 1000);
    let warned = c.warnings.lock().unwrap().clone();
    assert_eq!(warned.len(), 1, "{warned:?}");
    assert!(warned[0].message.contains("only the first 1000 bytes"));
    let c = Collect::default();
    let mut zero = std::io::Read::take(std::io::repeat(0), u64::MAX);
    walk_reader("-", &mut zero, &opts, &c).unwrap();
    assert!(c.blob("-").partial);
}

#[test]
fn big_tar_gz_on_stdin_is_expanded_as_it_streams() {
    let big = vec![b'x'; 300_000];
    let tgz = common::gzip(&common::tar(&[("a.txt", &big), ("b/.env", b"K=V\n")]), None);
    let c = Collect::default();
    let opts = WalkOptions {
        max_file_size: 1000,
        ..Default::default()
    };
    walk_reader("-", &mut &tgz[..], &opts, &c).unwrap();
    assert_eq!(c.blob("-!b/.env").data, b"K=V\n");
    assert!(c.blob("-!a.txt").partial);
    assert_eq!(c.blob("-").kind, BlobKind::Archive);
}

#[cfg(unix)]
#[test]
fn special_files_are_never_opened_and_are_reported() {
    let d = tempfile::tempdir().unwrap();
    let fifo = d.path().join("pipe");
    let st = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(st.success());
    write(d.path(), "a.txt", b"a");
    for roots in [vec![d.path().to_path_buf()], vec![fifo.clone()]] {
        let c = Collect::default();
        walk_paths(&roots, &WalkOptions::default(), &c).unwrap();
        assert!(
            c.warned(&fifo.display().to_string(), "named pipe (FIFO): not read"),
            "{:?}",
            c.warnings()
        );
    }
    let c = Collect::default();
    walk_paths(&[PathBuf::from("/dev/null")], &WalkOptions::default(), &c).unwrap();
    assert!(
        c.warned("/dev/null", "character device: not read"),
        "{:?}",
        c.warnings()
    );
}

#[test]
fn stdin_archive_is_expanded() {
    let z = common::zip(&[("pkg/.env", b"SECRET=1\n")]);
    let c = Collect::default();
    walk_reader("-", &mut &z[..], &WalkOptions::default(), &c).unwrap();
    assert_eq!(c.paths(), vec!["-", "-!pkg/.env"]);
    assert_eq!(c.blob("-").kind, BlobKind::Archive);
    assert_eq!(c.blob("-!pkg/.env").data, b"SECRET=1\n");
}
