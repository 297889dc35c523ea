//! PostgreSQL storage of the audit log for scale-out: several guard replicas append to one log.
//! Each batch is one transaction under an advisory lock (indices stay dense and ordered), the
//! replica first catches its Merkle tree up with records appended by the others, and the commit
//! (with PostgreSQL's default `synchronous_commit = on`, i.e. WAL flushed) precedes the
//! acknowledgements. Checkpoints are signed in the same way and stored in a second table.

use crate::checkpoint::{Checkpoint, NoteVerifier, Signer};
use crate::merkle::{leaf_hash, Hash, Tree};
use crate::store::{
    check_checkpoints, latest_in, prove_in, Ack, Cmd, InclusionProof, LogOptions, VerifyReport,
    WriterHandle,
};
use crate::{Error, Result};
use postgres::{Client, NoTls};
use std::sync::mpsc;
use std::time::Instant;

const LOCK_KEY: i64 = 0x4c61_6e74_6572_6e01;
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS lantern_audit_records (
    idx BIGINT PRIMARY KEY,
    data BYTEA NOT NULL,
    leaf BYTEA NOT NULL
);
CREATE TABLE IF NOT EXISTS lantern_audit_checkpoints (
    id BIGSERIAL PRIMARY KEY,
    size BIGINT NOT NULL,
    note TEXT NOT NULL
);";

fn pg_err(e: postgres::Error) -> Error {
    Error::Append(format!("postgresql: {e}"))
}

fn connect(url: &str) -> Result<Client> {
    let mut c = Client::connect(url, NoTls).map_err(pg_err)?;
    c.batch_execute(SCHEMA).map_err(pg_err)?;
    Ok(c)
}

/// Fetches leaf hashes with index ≥ the tree's size into `tree`; checks the stored leaf hash
/// against the data when `check` is set.
fn catch_up(c: &mut impl postgres::GenericClient, tree: &mut Tree) -> Result<()> {
    let rows = c
        .query(
            "SELECT idx, data, leaf FROM lantern_audit_records WHERE idx >= $1 ORDER BY idx",
            &[&(tree.size() as i64)],
        )
        .map_err(pg_err)?;
    for r in rows {
        let idx: i64 = r.get(0);
        if idx as u64 != tree.size() {
            return Err(Error::Tampered {
                path: "postgresql".into(),
                message: format!("record index gap at {}", tree.size()),
            });
        }
        let data: Vec<u8> = r.get(1);
        tree.push_hash(leaf_hash(&data));
    }
    Ok(())
}

/// An audit log stored in PostgreSQL, served by a writer thread (same API as `LocalLog`).
pub struct PgLog {
    writer: WriterHandle,
}

struct PgWriter {
    url: String,
    client: Option<Client>,
    tree: Tree,
    signer: Signer,
    opts: LogOptions,
    sealed: u64,
    last_cp: Instant,
}

impl PgLog {
    /// Connects, creates the tables if needed and checks the stored records against the latest
    /// checkpoint signed by `signer`.
    pub fn open(url: &str, signer: Signer, opts: LogOptions) -> Result<Self> {
        let mut client = connect(url)?;
        let mut tree = Tree::new();
        catch_up(&mut client, &mut tree)?;
        let v = signer.verifier();
        let mut sealed = 0;
        let rows = client
            .query(
                "SELECT note FROM lantern_audit_checkpoints ORDER BY size DESC, id DESC LIMIT 1",
                &[],
            )
            .map_err(pg_err)?;
        if let Some(r) = rows.first() {
            let note: String = r.get(0);
            if let Ok(cp) = v.open(&note) {
                if tree.root_at(cp.size) != Some(cp.root) {
                    return Err(Error::Tampered {
                        path: "postgresql".into(),
                        message: format!(
                            "the first {} records do not match the latest signed checkpoint",
                            cp.size
                        ),
                    });
                }
                sealed = cp.size;
            }
        }
        let mut w = PgWriter {
            url: url.to_string(),
            client: Some(client),
            tree,
            signer,
            opts,
            sealed,
            last_cp: Instant::now(),
        };
        let writer =
            WriterHandle::spawn("lantern-audit-pg", w.opts.writer_nice, move |rx| w.run(rx))
                .map_err(|e| Error::Io(lantern_core::IoError::new("thread", e)))?;
        Ok(Self { writer })
    }

    /// Queues a record; `ack` is called once its transaction has committed.
    pub fn append(&self, record: Vec<u8>, ack: Ack) {
        self.writer.append(record, ack)
    }

    /// Appends and waits for the commit; returns the record's index.
    pub fn append_blocking(&self, record: Vec<u8>) -> Result<u64> {
        self.writer.append_blocking(record)
    }

    /// Signs and stores a checkpoint of everything committed so far (by any replica).
    pub fn checkpoint(&self) -> Result<String> {
        self.writer.checkpoint()
    }
}

impl PgWriter {
    fn client(&mut self) -> Result<&mut Client> {
        if self.client.as_ref().is_none_or(Client::is_closed) {
            self.client = Some(connect(&self.url)?);
        }
        self.client
            .as_mut()
            .ok_or_else(|| Error::Append("postgresql: not connected".into()))
    }

    fn run(&mut self, rx: mpsc::Receiver<Cmd>) {
        loop {
            let unsealed = self.sealed < self.tree.size();
            let Some(first) =
                crate::store::next_batch_start(&rx, unsealed, self.last_cp, &self.opts)
            else {
                break;
            };
            let mut batch: Vec<(Vec<u8>, Ack)> = Vec::new();
            let mut control = Vec::new();
            let mut next = first;
            while let Some(cmd) = next.take() {
                match cmd {
                    Cmd::Append(r, a) => batch.push((r, a)),
                    Cmd::Checkpoint(tx) => control.push(tx),
                    Cmd::Wake => {}
                }
                if batch.len() < self.opts.max_batch {
                    next = rx.try_recv().ok();
                }
            }
            if !batch.is_empty() {
                let recs: Vec<&[u8]> = batch.iter().map(|(r, _)| r.as_slice()).collect();
                match self.commit(&recs) {
                    Ok(first) => {
                        for (i, (_, ack)) in batch.into_iter().enumerate() {
                            ack(Ok(first + i as u64));
                        }
                    }
                    Err(e) => {
                        // the transaction rolled back: nothing of this batch is stored
                        self.client = None;
                        let m = e.to_string();
                        for (_, ack) in batch {
                            ack(Err(Error::Append(m.clone())));
                        }
                    }
                }
            }
            let due = self.sealed < self.tree.size()
                && (self.tree.size() - self.sealed >= self.opts.checkpoint_every
                    || self.last_cp.elapsed() >= self.opts.checkpoint_interval);
            if due || !control.is_empty() {
                let r = self.sign_checkpoint();
                if let Err(e) = &r {
                    self.client = None;
                    tracing::error!(error = %e, "signing audit checkpoint in postgresql");
                    // retry later rather than spinning
                    self.last_cp = Instant::now();
                }
                let msg = r.map_err(|e| e.to_string());
                for tx in control {
                    let _ = tx.send(msg.clone().map_err(Error::Append));
                }
            }
        }
        if self.sealed < self.tree.size() {
            let _ = self.sign_checkpoint();
        }
    }

    fn commit(&mut self, recs: &[&[u8]]) -> Result<u64> {
        self.client()?;
        let Some(mut c) = self.client.take() else {
            return Err(Error::Append("postgresql: not connected".into()));
        };
        let r = commit_in(&mut c, &mut self.tree, recs);
        self.client = Some(c);
        r
    }

    fn sign_checkpoint(&mut self) -> Result<String> {
        self.client()?;
        let Some(mut c) = self.client.take() else {
            return Err(Error::Append("postgresql: not connected".into()));
        };
        let r = sign_in(&mut c, &mut self.tree, &self.signer, &self.opts.origin);
        self.client = Some(c);
        let (size, note) = r?;
        self.sealed = size;
        self.last_cp = Instant::now();
        Ok(note)
    }
}

/// One batch in one transaction: lock, catch up with other replicas, insert, commit. The tree
/// takes the new leaves only after the commit succeeded.
fn commit_in(c: &mut Client, tree: &mut Tree, recs: &[&[u8]]) -> Result<u64> {
    let mut t = c.transaction().map_err(pg_err)?;
    t.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY])
        .map_err(pg_err)?;
    catch_up(&mut t, tree)?;
    let first = tree.size();
    let stmt = t
        .prepare("INSERT INTO lantern_audit_records (idx, data, leaf) VALUES ($1, $2, $3)")
        .map_err(pg_err)?;
    let mut hashes: Vec<Hash> = Vec::with_capacity(recs.len());
    for (i, r) in recs.iter().enumerate() {
        let h = leaf_hash(r);
        t.execute(&stmt, &[&((first + i as u64) as i64), r, &h.as_slice()])
            .map_err(pg_err)?;
        hashes.push(h);
    }
    t.commit().map_err(pg_err)?;
    for h in hashes {
        tree.push_hash(h);
    }
    Ok(first)
}

fn sign_in(
    c: &mut Client,
    tree: &mut Tree,
    signer: &Signer,
    origin: &str,
) -> Result<(u64, String)> {
    let mut t = c.transaction().map_err(pg_err)?;
    t.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY])
        .map_err(pg_err)?;
    catch_up(&mut t, tree)?;
    let cp = Checkpoint {
        origin: origin.to_string(),
        size: tree.size(),
        root: tree.root(),
    };
    let note = signer.sign(&cp);
    t.execute(
        "INSERT INTO lantern_audit_checkpoints (size, note) VALUES ($1, $2)",
        &[&(cp.size as i64), &note],
    )
    .map_err(pg_err)?;
    t.commit().map_err(pg_err)?;
    Ok((cp.size, note))
}

/// Verifies the PostgreSQL log at `url` like [`crate::verify`] does a local one.
pub fn verify_pg(url: &str, verifier: &NoteVerifier, trusted: &[String]) -> Result<VerifyReport> {
    let mut c = connect(url)?;
    let mut report = VerifyReport::default();
    let (tree, _, gap) = load_tree(&mut c, None)?;
    report.problems.extend(gap);
    report.records = tree.size();
    let notes: Vec<(String, String)> = c
        .query(
            "SELECT id, note FROM lantern_audit_checkpoints ORDER BY id",
            &[],
        )
        .map_err(pg_err)?
        .into_iter()
        .map(|r| {
            (
                format!("checkpoint row {}", r.get::<_, i64>(0)),
                r.get::<_, String>(1),
            )
        })
        .collect();
    check_checkpoints(&tree, notes, verifier, trusted, &mut report);
    Ok(report)
}

/// The records of the PostgreSQL log in index order, as a tree, keeping the text of record
/// `keep` when given. Reading stops at a gap in the indices, which is described in the third
/// value.
fn load_tree(c: &mut Client, keep: Option<u64>) -> Result<(Tree, Option<String>, Option<String>)> {
    let mut tree = Tree::new();
    let mut kept = None;
    let rows = c
        .query(
            "SELECT idx, data FROM lantern_audit_records ORDER BY idx",
            &[],
        )
        .map_err(pg_err)?;
    for r in rows {
        let idx: i64 = r.get(0);
        if idx as u64 != tree.size() {
            let gap = format!(
                "record index {} missing (next stored index is {idx})",
                tree.size()
            );
            return Ok((tree, kept, Some(gap)));
        }
        let data: Vec<u8> = r.get(1);
        if keep == Some(tree.size()) {
            kept = Some(String::from_utf8_lossy(&data).into_owned());
        }
        tree.push(&data);
    }
    Ok((tree, kept, None))
}

/// [`load_tree`] for proofs: a gap in the indices is an error.
fn load_whole_tree(c: &mut Client, keep: Option<u64>) -> Result<(Tree, Option<String>)> {
    match load_tree(c, keep)? {
        (tree, kept, None) => Ok((tree, kept)),
        (_, _, Some(gap)) => Err(Error::Tampered {
            path: "postgresql".into(),
            message: gap,
        }),
    }
}

/// Every stored checkpoint note, oldest first.
fn load_notes(c: &mut Client) -> Result<Vec<String>> {
    Ok(c.query(
        "SELECT note FROM lantern_audit_checkpoints ORDER BY id",
        &[],
    )
    .map_err(pg_err)?
    .into_iter()
    .map(|r| r.get::<_, String>(0))
    .collect())
}

/// Inclusion proof of record `index` of the PostgreSQL log, as [`crate::prove`] for a local one.
pub fn prove_pg(url: &str, verifier: &NoteVerifier, index: u64) -> Result<InclusionProof> {
    let mut c = connect(url)?;
    let (tree, record) = load_whole_tree(&mut c, Some(index))?;
    let notes = load_notes(&mut c)?;
    prove_in(&tree, record, index, notes, verifier)
}

/// The latest valid signed checkpoint of the PostgreSQL log, as
/// [`crate::store::latest_checkpoint`] for a local one.
pub fn latest_checkpoint_pg(url: &str, verifier: &NoteVerifier) -> Result<Option<String>> {
    let mut c = connect(url)?;
    let (tree, _) = load_whole_tree(&mut c, None)?;
    let notes = load_notes(&mut c)?;
    Ok(latest_in(&tree, notes, verifier))
}
