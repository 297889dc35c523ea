//! End-to-end tests of the bounds of `lantern bom`, `sign` and `verify` on hostile inputs:
//! requirement includes outside the project, files that change while they are hashed,
//! directory symlinks, oversized signature files and names with terminal escapes.
#![allow(clippy::unwrap_used)]

use assert_cmd::Command;
use std::path::Path;
use std::time::Duration;

fn lantern() -> Command {
    let mut c = Command::cargo_bin("lantern").unwrap();
    c.env("NO_COLOR", "1").timeout(Duration::from_secs(120));
    c
}

fn write(root: &Path, rel: &str, bytes: impl AsRef<[u8]>) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, bytes).unwrap();
}

#[test]
fn bom_refuses_requirement_includes_outside_the_root() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "outside.txt", "leakedpkg==1.0\n");
    write(
        d.path(),
        "proj/requirements.txt",
        "requests==2.31.0\n-r ../outside.txt\n-r /etc/passwd\n--requirement=/proc/self/environ\n-r sub/extra.txt\n",
    );
    write(d.path(), "proj/sub/extra.txt", "numpy==1.26.4\n");
    #[cfg(unix)]
    std::os::unix::fs::symlink("../../outside.txt", d.path().join("proj/sub/link.txt")).unwrap();
    #[cfg(unix)]
    write(d.path(), "proj/requirements-dev.txt", "-r sub/link.txt\n");
    let out = lantern()
        .current_dir(d.path())
        .args(["bom", "proj"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let bom = String::from_utf8_lossy(&out.stdout);
    assert!(bom.contains("pkg:pypi/requests@2.31.0"), "{bom}");
    assert!(bom.contains("pkg:pypi/numpy@1.26.4"), "{bom}");
    assert!(!bom.contains("leakedpkg"), "{bom}");
    assert!(!bom.contains("pkg:pypi/root"), "{bom}");
    let err = String::from_utf8_lossy(&out.stderr);
    for name in ["../outside.txt", "/etc/passwd", "/proc/self/environ"] {
        assert!(
            err.contains(&format!(
                "included requirements file `{name}` is outside the scanned root: not read"
            )),
            "{name}: {err}"
        );
    }
    #[cfg(unix)]
    assert!(
        err.contains("requirements-dev.txt: included requirements file `sub/link.txt` is outside"),
        "{err}"
    );
}

/// A key pair in `dir` (`k.pem`, `k.pub`).
fn keygen(dir: &Path) {
    lantern()
        .current_dir(dir)
        .args(["keygen", "--type", "p256", "--out", "k"])
        .assert()
        .success();
}

#[cfg(unix)]
#[test]
fn sign_refuses_directory_symlinks_even_with_allow_symlinks() {
    let d = tempfile::tempdir().unwrap();
    keygen(d.path());
    write(d.path(), "m/weights/w.bin", "weights");
    std::os::unix::fs::symlink("weights", d.path().join("m/alias")).unwrap();
    let out = lantern()
        .current_dir(d.path())
        .args(["sign", "m", "--key", "k.pem", "--allow-symlinks", "-q"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("alias: symlink to a directory; signatures cannot cover it"),
        "{err}"
    );
    assert!(!d.path().join("model.sig").exists());
}

#[test]
fn oversized_signature_files_are_refused_unread() {
    let d = tempfile::tempdir().unwrap();
    keygen(d.path());
    write(d.path(), "m/w.bin", "weights");
    let f = std::fs::File::create(d.path().join("huge.sig")).unwrap();
    f.set_len(200 << 20).unwrap(); // sparse: 200 MiB claimed, nothing to read
    let out = lantern()
        .current_dir(d.path())
        .args(["verify", "m", "--signature", "huge.sig", "--key", "k.pub"])
        .timeout(Duration::from_secs(20))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("signature file larger than 16 MiB: refused"),
        "{err}"
    );
}

#[test]
fn sign_writes_model_sig_in_the_current_directory_as_model_signing_does() {
    let d = tempfile::tempdir().unwrap();
    keygen(d.path());
    write(d.path(), "my-model/w.bin", "weights");
    lantern()
        .current_dir(d.path())
        .args(["sign", "my-model/", "--key", "k.pem", "-q"])
        .assert()
        .success();
    assert!(d.path().join("model.sig").is_file());
    assert!(!d.path().join("my-model/model.sig").exists());
    // The README's verify line.
    lantern()
        .current_dir(d.path())
        .args([
            "verify",
            "my-model/",
            "--signature",
            "model.sig",
            "--key",
            "k.pub",
        ])
        .assert()
        .code(0);
}

#[cfg(unix)]
#[test]
fn verify_escapes_file_names() {
    let d = tempfile::tempdir().unwrap();
    keygen(d.path());
    write(d.path(), "m/w.bin", "weights");
    lantern()
        .current_dir(d.path())
        .args(["sign", "m", "--key", "k.pem", "-q"])
        .assert()
        .success();
    // A name that would erase its own line and print a fake success.
    let evil = "x\r\x1b[2Kverified: m (1 files)\x1b[8m";
    write(d.path(), &format!("m/{evil}"), "added");
    let out = lantern()
        .current_dir(d.path())
        .args(["verify", "m", "--signature", "model.sig", "--key", "k.pub"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains('\x1b') && !text.contains('\r'), "{text:?}");
    assert!(
        text.contains("added    x\\x0d\\x1b[2Kverified: m (1 files)\\x1b[8m"),
        "{text}"
    );
}

#[cfg(unix)]
#[test]
fn a_fifo_given_as_signature_or_key_is_refused_without_blocking() {
    let d = tempfile::tempdir().unwrap();
    keygen(d.path());
    write(d.path(), "m/w.bin", "weights");
    let st = std::process::Command::new("mkfifo")
        .arg(d.path().join("pipe"))
        .status()
        .unwrap();
    assert!(st.success());
    for args in [
        ["verify", "m", "--signature", "pipe", "--key", "k.pub"],
        ["verify", "m", "--signature", "k.pub", "--key", "pipe"],
    ] {
        let out = lantern()
            .current_dir(d.path())
            .args(args)
            .timeout(Duration::from_secs(30))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("pipe: not a regular file"), "{args:?}: {err}");
    }
}
