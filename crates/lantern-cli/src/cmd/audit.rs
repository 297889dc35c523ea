//! `lantern audit`: verify the guard's tamper-evident audit log, prove inclusion of a record,
//! check a proof, export the latest signed checkpoint, and make checkpoint signing keys.

use anyhow::{bail, Context};
use clap::Subcommand;
use lantern_audit::{store, InclusionProof, NoteVerifier, Signer};
use std::path::{Path, PathBuf};

/// Arguments of `lantern audit`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(clap::Args)]
struct KeyArgs {
    /// Verifier key (`name+id+base64`), pinned out of band
    #[arg(long, conflicts_with = "key_file")]
    key: Option<String>,
    /// File holding the verifier key
    #[arg(long)]
    key_file: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Check every record against the signed checkpoints: detects edits, insertions, deletions,
    /// reordering and truncation (exit 1 on any)
    Verify {
        /// Audit log directory
        #[arg(long, required_unless_present = "postgres")]
        log: Option<PathBuf>,
        /// Verify the log stored in PostgreSQL instead (connection string)
        #[arg(long, conflicts_with = "log")]
        postgres: Option<String>,
        #[command(flatten)]
        key: KeyArgs,
        /// Signed checkpoint kept outside the log (exported earlier); repeatable
        #[arg(long)]
        trusted: Vec<PathBuf>,
        /// Print the report as JSON
        #[arg(long)]
        json: bool,
    },
    /// Print an inclusion proof (JSON) of record INDEX against the latest checkpoint covering it
    Prove {
        /// Audit log directory
        #[arg(long, required_unless_present = "postgres")]
        log: Option<PathBuf>,
        /// Prove a record of the log stored in PostgreSQL instead (connection string; needs --key)
        #[arg(long, conflicts_with = "log")]
        postgres: Option<String>,
        /// Record index (0-based)
        index: u64,
        #[command(flatten)]
        key: KeyArgs,
    },
    /// Check an inclusion proof produced by `prove` (exit 1 if it does not hold)
    CheckProof {
        /// Proof file (JSON)
        proof: PathBuf,
        #[command(flatten)]
        key: KeyArgs,
    },
    /// Print the latest valid signed checkpoint (store it elsewhere; pass it to `verify --trusted`)
    Checkpoint {
        /// Audit log directory
        #[arg(long, required_unless_present = "postgres")]
        log: Option<PathBuf>,
        /// Read the log stored in PostgreSQL instead (connection string; needs --key)
        #[arg(long, conflicts_with = "log")]
        postgres: Option<String>,
        #[command(flatten)]
        key: KeyArgs,
    },
    /// Create an Ed25519 checkpoint signing key; prints the verifier key
    Keygen {
        /// Key name (the log origin, e.g. example.com/lantern-guard)
        #[arg(long)]
        name: String,
        /// Where to write the private key (mode 0600)
        #[arg(long)]
        out: PathBuf,
    },
}

fn verifier(k: &KeyArgs, log: Option<&Path>) -> anyhow::Result<NoteVerifier> {
    if let Some(s) = &k.key {
        return NoteVerifier::parse(s).context("parsing --key");
    }
    if let Some(p) = &k.key_file {
        let s = std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
        return NoteVerifier::parse(&s).with_context(|| format!("parsing {}", p.display()));
    }
    match log {
        Some(dir) => {
            eprintln!(
                "lantern: warning: using the verifier key stored in {}; pin it with --key to detect an attacker who can also rewrite that file",
                dir.display()
            );
            store::stored_verifier(dir).context("reading the log's verifier key")
        }
        None => bail!("give the verifier key with --key or --key-file"),
    }
}

/// Runs `lantern audit`.
pub fn run(args: Args) -> anyhow::Result<u8> {
    match args.command {
        Cmd::Verify {
            log,
            postgres,
            key,
            trusted,
            json,
        } => {
            let v = verifier(&key, log.as_deref())?;
            let mut notes = Vec::new();
            for t in &trusted {
                notes.push(
                    std::fs::read_to_string(t)
                        .with_context(|| format!("reading {}", t.display()))?,
                );
            }
            let (rep, name) = match (&log, &postgres) {
                (Some(dir), _) => (
                    lantern_audit::verify(dir, &v, &notes)
                        .with_context(|| format!("verifying {}", dir.display()))?,
                    dir.display().to_string(),
                ),
                (None, Some(url)) => (
                    lantern_audit::verify_pg(url, &v, &notes)
                        .context("verifying the PostgreSQL log")?,
                    "postgresql".to_string(),
                ),
                (None, None) => bail!("give --log DIR or --postgres URL"),
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&rep)?);
            } else {
                println!(
                    "{}: {} records, {} valid checkpoints, sealed up to {}{}",
                    name,
                    rep.records,
                    rep.checkpoints,
                    rep.sealed,
                    rep.sealed_root
                        .as_deref()
                        .map(|r| format!(" (root {r})"))
                        .unwrap_or_default()
                );
                for w in &rep.warnings {
                    println!("warning: {w}");
                }
                for p in &rep.problems {
                    println!("TAMPERED: {p}");
                }
                println!(
                    "{}",
                    if rep.ok() {
                        "verified"
                    } else {
                        "verification FAILED"
                    }
                );
            }
            Ok(if rep.ok() { 0 } else { 1 })
        }
        Cmd::Prove {
            log,
            postgres,
            index,
            key,
        } => {
            let v = verifier(&key, log.as_deref())?;
            let proof = match (&log, &postgres) {
                (Some(dir), _) => lantern_audit::prove(dir, &v, index),
                (None, Some(url)) => lantern_audit::prove_pg(url, &v, index),
                (None, None) => bail!("give --log DIR or --postgres URL"),
            }
            .with_context(|| format!("proving record {index}"))?;
            println!("{}", serde_json::to_string_pretty(&proof)?);
            Ok(0)
        }
        Cmd::CheckProof { proof, key } => {
            let v = verifier(&key, None)?;
            let text = std::fs::read_to_string(&proof)
                .with_context(|| format!("reading {}", proof.display()))?;
            let p: InclusionProof = serde_json::from_str(&text)
                .with_context(|| format!("parsing {}", proof.display()))?;
            match p.verify(&v) {
                Ok(()) => {
                    println!(
                        "record {} is included in the signed tree of size {}",
                        p.index, p.tree_size
                    );
                    Ok(0)
                }
                Err(e) => {
                    println!("proof FAILED: {e}");
                    Ok(1)
                }
            }
        }
        Cmd::Checkpoint { log, postgres, key } => {
            let v = verifier(&key, log.as_deref())?;
            let (note, name) = match (&log, &postgres) {
                (Some(dir), _) => (
                    store::latest_checkpoint(dir, &v)?,
                    dir.display().to_string(),
                ),
                (None, Some(url)) => (
                    lantern_audit::latest_checkpoint_pg(url, &v)?,
                    "postgresql log".to_string(),
                ),
                (None, None) => bail!("give --log DIR or --postgres URL"),
            };
            match note {
                Some(n) => {
                    print!("{n}");
                    Ok(0)
                }
                None => bail!("{name}: no valid signed checkpoint"),
            }
        }
        Cmd::Keygen { name, out } => {
            let s = Signer::generate(&name)?;
            write_private(&out, &format!("{}\n", s.to_private_string()))?;
            println!("{}", s.verifier().to_string_form());
            Ok(0)
        }
    }
}

fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    let mut f = o
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
