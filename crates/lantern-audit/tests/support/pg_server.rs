//! A real PostgreSQL server for tests: initialised in a temp dir with Debian's server binaries
//! (as root it runs as the `postgres` user, since initdb refuses root), on a free loopback
//! port, stopped and started again on demand. Shared by lantern-audit's and lantern-guard's
//! PostgreSQL tests (`#[path]`-included: test-only code, not a crate of its own).

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Stdio};

fn pg_bin(name: &str) -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path().join("bin").join(name))
                .filter(|p| p.exists())
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found.pop().unwrap_or_else(|| {
        panic!("PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin: install postgresql (CI runs .ci/setup-services)")
    })
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Runs a server binary, as the `postgres` user when we are root (initdb refuses root).
fn run_pg(args: &[&str]) -> std::process::Output {
    let bin = pg_bin(args[0]);
    let mut c = if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(bin);
        c
    } else {
        Command::new(bin)
    };
    c.args(&args[1..])
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", args[0]))
}

pub struct Server {
    data: PathBuf,
    _dir: tempfile::TempDir,
    port: u16,
}

impl Server {
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        if is_root() {
            let ok = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .map(|s| s.success());
            assert_eq!(
                ok.ok(),
                Some(true),
                "chown to postgres failed (is the postgres user present?)"
            );
        }
        let data = dir.path().join("data");
        let d = data.to_str().unwrap_or("");
        let out = run_pg(&[
            "initdb",
            "-D",
            d,
            "-A",
            "trust",
            "-U",
            "lantern",
            "--no-sync",
        ]);
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or(0);
        let s = Self {
            data,
            _dir: dir,
            port,
        };
        s.up();
        s
    }

    pub fn up(&self) {
        let d = self.data.to_str().unwrap_or("");
        // fsync=off only speeds up this test server; the store relies on commit semantics, not on it
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port, d
        );
        let log = self.data.join("server.log");
        let out = run_pg(&[
            "pg_ctl",
            "-D",
            d,
            "-o",
            &opts,
            "-l",
            log.to_str().unwrap_or(""),
            "-w",
            "-t",
            "30",
            "start",
        ]);
        assert!(
            out.status.success(),
            "pg_ctl start failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn down(&self) {
        let _ = run_pg(&[
            "pg_ctl",
            "-D",
            self.data.to_str().unwrap_or(""),
            "-m",
            "immediate",
            "-w",
            "stop",
        ]);
    }

    pub fn url(&self) -> String {
        format!(
            "host=127.0.0.1 port={} user=lantern dbname=postgres connect_timeout=5",
            self.port
        )
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.down();
    }
}
