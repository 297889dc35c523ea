//! The local append-only store: `records.log` and `checkpoints.log` made of CRC-framed entries,
//! a writer thread with group-commit fsync, and the offline `verify` and `prove` operations.

use crate::checkpoint::{Checkpoint, NoteVerifier, Signer, MAX_NOTE_BYTES};
use crate::merkle::{self, leaf_hash, Hash, Tree};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// File holding the records.
pub const RECORDS_FILE: &str = "records.log";
/// File holding the signed checkpoints.
pub const CHECKPOINTS_FILE: &str = "checkpoints.log";
/// File holding the verifier key written at creation (convenience only: pin the key out of band).
pub const PUBKEY_FILE: &str = "log.pub";
/// Largest record accepted.
pub const MAX_RECORD_BYTES: usize = 1 << 20;
const HEADER: usize = 8;

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io(lantern_core::IoError::new(path.display(), source))
}

/// The header of a frame holding `payload`: its length, then its CRC-32, little-endian.
fn frame_header(payload: &[u8]) -> [u8; HEADER] {
    let mut h = [0u8; HEADER];
    h[..4].copy_from_slice(&(payload.len() as u32).to_le_bytes());
    h[4..].copy_from_slice(&crc32fast::hash(payload).to_le_bytes());
    h
}

fn frame(payload: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&frame_header(payload));
    out.extend_from_slice(payload);
}

/// How a frame file ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tail {
    /// The last frame is whole; zeros may follow it (room the writer made ahead).
    Clean,
    /// An incomplete or checksum-failing last frame starting at this offset (a torn write).
    Torn(u64),
}

/// Whether the next `left` bytes of `r` (the rest of the file) are all zero.
fn rest_is_zero(r: &mut impl Read, mut left: u64) -> std::io::Result<bool> {
    let mut buf = [0u8; 8192];
    while left > 0 {
        let n = left.min(buf.len() as u64) as usize;
        r.read_exact(&mut buf[..n])?;
        if buf[..n].iter().any(|&b| b != 0) {
            return Ok(false);
        }
        left -= n as u64;
    }
    Ok(true)
}

/// Streams the frames of a file to `f` (offset, payload); stops at a torn tail. Returns how the
/// file ends and the offset just past its last whole frame (the log's end: the writer keeps
/// zeroed room after it, see [`PREALLOC_MAX`]).
///
/// The end is the first frame header that is all zeros with only zeros after it (no frame is
/// empty: empty records and notes are refused). A damaged frame (checksum mismatch, a zero or
/// oversized length) followed only by zeros, or running past the end of the file, is a torn
/// tail: a write that had not been synced, so not acknowledged. A damaged frame with anything
/// but zeros after it is an [`Error::Corrupt`]: the writer never writes past its end, so that
/// is damage, not a crash, and nothing is cut.
fn read_frames(
    path: &Path,
    max: usize,
    mut f: impl FnMut(u64, Vec<u8>) -> Result<()>,
) -> Result<(Tail, u64)> {
    let file = File::open(path).map_err(io_err(path))?;
    let len = file.metadata().map_err(io_err(path))?.len();
    let mut r = BufReader::with_capacity(1 << 16, file);
    let mut off = 0u64;
    let corrupt = |offset: u64, message: String| Error::Corrupt {
        path: path.display().to_string(),
        offset,
        message,
    };
    loop {
        if off == len {
            return Ok((Tail::Clean, off));
        }
        if len - off < HEADER as u64 {
            let zero = rest_is_zero(&mut r, len - off).map_err(io_err(path))?;
            return Ok((if zero { Tail::Clean } else { Tail::Torn(off) }, off));
        }
        let mut h = [0u8; HEADER];
        r.read_exact(&mut h).map_err(io_err(path))?;
        let n = u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as u64;
        let crc = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
        let end = off + HEADER as u64 + n;
        if end > len {
            return Ok((Tail::Torn(off), off));
        }
        if n == 0 || n as usize > max {
            // the zeroed room after the last frame, or a damaged header
            let after = off + HEADER as u64;
            if !rest_is_zero(&mut r, len - after).map_err(io_err(path))? {
                let what = if n == 0 {
                    "a zero-length frame".to_string()
                } else {
                    format!("frame length {n} exceeds the limit of {max}")
                };
                return Err(corrupt(off, format!("{what}, with data after it")));
            }
            let tail = if h == [0; HEADER] {
                Tail::Clean
            } else {
                Tail::Torn(off)
            };
            return Ok((tail, off));
        }
        let mut payload = vec![0u8; n as usize];
        r.read_exact(&mut payload).map_err(io_err(path))?;
        if crc32fast::hash(&payload) != crc {
            if rest_is_zero(&mut r, len - end).map_err(io_err(path))? {
                return Ok((Tail::Torn(off), off));
            }
            return Err(corrupt(off, "checksum mismatch".into()));
        }
        f(off, payload)?;
        off = end;
    }
}

fn open_append(path: &Path) -> Result<File> {
    OpenOptions::new()
        .create(true)
        .read(true)
        .append(true)
        .open(path)
        .map_err(io_err(path))
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))
}

/// Options of a [`LocalLog`].
#[derive(Debug, Clone)]
pub struct LogOptions {
    /// Origin line of the checkpoints (identifies the log).
    pub origin: String,
    /// Sign a checkpoint after this many new records.
    pub checkpoint_every: u64,
    /// Sign a checkpoint at least this often while there are unsealed records.
    pub checkpoint_interval: Duration,
    /// Most records written per fsync.
    pub max_batch: usize,
    /// Group-commit window: after the first record of a batch arrives, the writer waits this
    /// long for more before writing and syncing them together (zero: sync at once). Records are
    /// acknowledged only after the sync either way; a longer window means fewer `fdatasync`
    /// calls under load and acknowledgements that come up to this much later.
    pub commit_delay: Duration,
    /// Most records [`LocalLog::append_deferred`] holds for the writer; past it appends are
    /// refused (and counted as failures) instead of growing memory without bound when the disk
    /// cannot keep up.
    pub max_backlog: usize,
    /// Niceness the writer thread lowers itself to (0: unchanged; Linux only). For callers whose
    /// responses do not wait for the log, so that under CPU contention their request threads
    /// run first; the writer then gathers larger batches.
    pub writer_nice: i32,
}

impl Default for LogOptions {
    fn default() -> Self {
        Self {
            origin: "lantern/audit".into(),
            checkpoint_every: 1000,
            checkpoint_interval: Duration::from_secs(1),
            max_batch: 4096,
            commit_delay: Duration::ZERO,
            max_backlog: 1 << 16,
            writer_nice: 0,
        }
    }
}

/// Callback receiving the index of a durable record (or the failure).
pub type Ack = Box<dyn FnOnce(Result<u64>) + Send>;

/// A command for a log's writer thread.
pub(crate) enum Cmd {
    Append(Vec<u8>, Ack),
    Checkpoint(mpsc::Sender<Result<String>>),
    /// Records are waiting in the shared batch of [`LocalLog::append_deferred`].
    Wake,
}

/// Records queued with [`LocalLog::append_deferred`], waiting for the writer thread.
#[derive(Default)]
struct Deferred {
    /// Their frames, one after the other: each header holds the payload's length, and the writer
    /// fills in the checksum.
    frames: Vec<u8>,
    /// How many records `frames` holds.
    records: usize,
    /// The writer has been told (with `Cmd::Wake`) that `frames` is not empty.
    notified: bool,
    /// Where records that could not be made durable are counted.
    failures: Option<std::sync::Arc<std::sync::atomic::AtomicU64>>,
}

type SharedBatch = std::sync::Arc<std::sync::Mutex<Deferred>>;

/// Most bytes of records [`LocalLog::append_deferred`] holds for the writer (past it, appends are
/// refused like those past [`LogOptions::max_backlog`] records).
pub const MAX_DEFERRED_BYTES: usize = 256 << 20;

/// Zeroed room the writer first keeps after the records (see `Writer::write_batch`).
pub const PREALLOC_MIN: u64 = 64 << 10;
/// Most zeroed room the writer adds after the records at a time.
pub const PREALLOC_MAX: u64 = 4 << 20;
static ZEROS: [u8; 64 << 10] = [0; 64 << 10];

/// Most room the writer keeps in its spare buffer of deferred records between batches.
const SPARE_KEPT: usize = 4 << 20;

fn lock(shared: &SharedBatch) -> std::sync::MutexGuard<'_, Deferred> {
    match shared.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// Lowers the calling thread's priority to niceness `nice` (nothing for 0 or less, or when it
/// already runs at that niceness or lower priority). A failure is logged: the writer works the
/// same at any priority.
fn lower_priority(nice: i32) {
    if nice <= 0 {
        return;
    }
    #[cfg(target_os = "linux")]
    {
        // on Linux a thread id names that one thread to setpriority(2)
        let tid = rustix::thread::gettid();
        let nice = nice.min(19);
        // only ever lower it (a process started under a higher niceness keeps it)
        if rustix::process::getpriority_process(Some(tid)).is_ok_and(|now| now >= nice) {
            return;
        }
        if let Err(e) = rustix::process::setpriority_process(Some(tid), nice) {
            tracing::warn!(error = %e, nice, "audit writer priority not lowered");
        }
    }
}

/// The client side of a log's writer thread, shared by the local and PostgreSQL stores:
/// queueing appends, waiting for durability, asking for checkpoints, and joining on drop.
pub(crate) struct WriterHandle {
    tx: Option<mpsc::Sender<Cmd>>,
    thread: Option<JoinHandle<()>>,
}

impl WriterHandle {
    /// Start the writer thread `run` under `name`.
    pub(crate) fn spawn(
        name: &str,
        nice: i32,
        run: impl FnOnce(mpsc::Receiver<Cmd>) + Send + 'static,
    ) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::channel::<Cmd>();
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                lower_priority(nice);
                run(rx)
            })?;
        Ok(Self {
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    /// Queues a record; `ack` is called by the writer once the record is durable.
    pub(crate) fn append(&self, record: Vec<u8>, ack: Ack) {
        match &self.tx {
            Some(tx) => {
                if let Err(mpsc::SendError(Cmd::Append(_, ack))) = tx.send(Cmd::Append(record, ack))
                {
                    ack(Err(Error::Append("audit writer has stopped".into())));
                }
            }
            None => ack(Err(Error::Append("audit log is closed".into()))),
        }
    }

    /// Tells the writer that the shared batch has records (a stopped writer is not an error
    /// here: its final drain takes them).
    pub(crate) fn wake(&self) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(Cmd::Wake);
        }
    }

    /// Appends a record and waits until it is durable; returns its index.
    pub(crate) fn append_blocking(&self, record: Vec<u8>) -> Result<u64> {
        let (tx, rx) = mpsc::channel();
        self.append(
            record,
            Box::new(move |r| {
                let _ = tx.send(r);
            }),
        );
        rx.recv()
            .map_err(|_| Error::Append("audit writer has stopped".into()))?
    }

    /// Asks the writer for a signed checkpoint of everything appended so far.
    pub(crate) fn checkpoint(&self) -> Result<String> {
        let (tx, rx) = mpsc::channel();
        self.tx
            .as_ref()
            .ok_or_else(|| Error::Append("audit log is closed".into()))?
            .send(Cmd::Checkpoint(tx))
            .map_err(|_| Error::Append("audit writer has stopped".into()))?;
        rx.recv()
            .map_err(|_| Error::Append("audit writer has stopped".into()))?
    }
}

impl Drop for WriterHandle {
    fn drop(&mut self) {
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A local append-only audit log served by a writer thread (see the crate docs for the fsync
/// policy). Dropping it flushes pending records and signs a final checkpoint.
pub struct LocalLog {
    writer: WriterHandle,
    deferred: SharedBatch,
    max_backlog: usize,
    dir: PathBuf,
    size_at_open: u64,
}

struct Writer {
    deferred: SharedBatch,
    dir: PathBuf,
    records: File,
    /// Where the next frame goes: just past the last whole frame.
    end: u64,
    /// The records file's length: zeros from `end` to here, written and synced ahead.
    room: u64,
    checkpoints: File,
    tree: Tree,
    signer: Signer,
    opts: LogOptions,
    sealed: u64,
    last_cp: Instant,
    failed: Option<String>,
    /// The deferred records' buffer the writer gives back each time it takes theirs.
    spare: Vec<u8>,
}

impl LocalLog {
    /// Opens (or creates) the log in `dir`, recovering from a torn tail and checking the stored
    /// records against the latest checkpoint signed by `signer`.
    pub fn open(dir: &Path, signer: Signer, opts: LogOptions) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        let rpath = dir.join(RECORDS_FILE);
        let cpath = dir.join(CHECKPOINTS_FILE);
        let created = !rpath.exists();
        let records = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&rpath)
            .map_err(io_err(&rpath))?;
        let checkpoints = open_append(&cpath)?;
        if created {
            std::fs::write(
                dir.join(PUBKEY_FILE),
                signer.verifier().to_string_form() + "\n",
            )
            .map_err(io_err(&dir.join(PUBKEY_FILE)))?;
            sync_dir(dir)?;
        }
        let mut tree = Tree::new();
        let (tail, good) = read_frames(&rpath, MAX_RECORD_BYTES, |_, p| {
            tree.push(&p);
            Ok(())
        })?;
        if let Tail::Torn(off) = tail {
            tracing::warn!(path = %rpath.display(), offset = off, "cutting torn unacknowledged tail");
            records.set_len(good).map_err(io_err(&rpath))?;
            records.sync_all().map_err(io_err(&rpath))?;
        }
        // the zeroed room the writer made ahead is kept (the file is never shorter than `good`)
        let room = records.metadata().map_err(io_err(&rpath))?.len();
        let verifier = signer.verifier();
        let mut last: Option<Checkpoint> = None;
        let (ctail, cgood) = read_frames(&cpath, MAX_NOTE_BYTES, |_, p| {
            let note = String::from_utf8_lossy(&p);
            if let Ok(cp) = verifier.open(&note) {
                last = Some(cp);
            }
            Ok(())
        })?;
        if let Tail::Torn(_) = ctail {
            checkpoints.set_len(cgood).map_err(io_err(&cpath))?;
            checkpoints.sync_all().map_err(io_err(&cpath))?;
        }
        let mut sealed = 0;
        if let Some(cp) = last {
            let tampered = |m: String| Error::Tampered {
                path: dir.display().to_string(),
                message: m,
            };
            match tree.root_at(cp.size) {
                None => {
                    return Err(tampered(format!(
                        "checkpoint covers {} records but only {} are stored",
                        cp.size,
                        tree.size()
                    )))
                }
                Some(r) if r != cp.root => {
                    return Err(tampered(format!(
                        "root of the first {} records differs",
                        cp.size
                    )))
                }
                Some(_) => sealed = cp.size,
            }
        }
        let size_at_open = tree.size();
        let deferred = SharedBatch::default();
        let mut w = Writer {
            deferred: deferred.clone(),
            dir: dir.to_path_buf(),
            records,
            end: good,
            room,
            checkpoints,
            tree,
            signer,
            opts,
            sealed,
            last_cp: Instant::now(),
            failed: None,
            spare: Vec::new(),
        };
        let nice = w.opts.writer_nice;
        let max_backlog = w.opts.max_backlog;
        let writer = WriterHandle::spawn("lantern-audit-writer", nice, move |rx| w.run(rx))
            .map_err(io_err(dir))?;
        Ok(Self {
            writer,
            deferred,
            max_backlog,
            dir: dir.to_path_buf(),
            size_at_open,
        })
    }

    /// Number of records present when the log was opened.
    pub fn size_at_open(&self) -> u64 {
        self.size_at_open
    }

    /// The log directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Queues a record without an acknowledgement, for callers that do not wait for durability
    /// (the guard): the payload is copied into a buffer shared with the writer thread, which
    /// checksums, hashes and writes it with its next batch. No channel message, allocation or
    /// callback per record: the writer is woken once per batch, and nothing the caller allocated
    /// is freed on the writer's thread. The record is durable once the batch's `fdatasync`
    /// returns, like any other; records are in the order of their calls. An empty payload, one
    /// over [`MAX_RECORD_BYTES`], and a record that cannot be made durable, are counted in the
    /// counter given to [`LocalLog::count_deferred_failures`].
    ///
    /// Returns `false`, dropping the record and counting it as a failure, when it is empty or too
    /// large, or when [`LogOptions::max_backlog`] records or [`MAX_DEFERRED_BYTES`] bytes are
    /// already waiting.
    pub fn append_deferred(&self, payload: &[u8]) -> bool {
        let mut u = lock(&self.deferred);
        if payload.is_empty()
            || payload.len() > MAX_RECORD_BYTES
            || u.records >= self.max_backlog
            || u.frames.len() + HEADER + payload.len() > MAX_DEFERRED_BYTES
        {
            if let Some(f) = &u.failures {
                f.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            return false;
        }
        // the length now (it fits: at most `MAX_RECORD_BYTES`), the checksum on the writer
        let mut header = [0u8; HEADER];
        header[..4].copy_from_slice(&(payload.len() as u32).to_le_bytes());
        u.frames.extend_from_slice(&header);
        u.frames.extend_from_slice(payload);
        u.records += 1;
        if !u.notified {
            u.notified = true;
            drop(u);
            self.writer.wake();
        }
        true
    }

    /// Records queued with [`LocalLog::append_deferred`] that the writer has not taken yet.
    pub fn backlog(&self) -> usize {
        lock(&self.deferred).records
    }

    /// Where [`LocalLog::append_deferred`] counts the records it could not make durable.
    pub fn count_deferred_failures(&self, counter: std::sync::Arc<std::sync::atomic::AtomicU64>) {
        lock(&self.deferred).failures = Some(counter);
    }

    /// Queues a record; `ack` is called from the writer thread once it is durable on disk.
    pub fn append(&self, record: Vec<u8>, ack: Ack) {
        match check_record_size(&record) {
            Ok(()) => self.writer.append(record, ack),
            Err(e) => ack(Err(e)),
        }
    }

    /// Appends a record and waits until it is durable; returns its index.
    pub fn append_blocking(&self, record: Vec<u8>) -> Result<u64> {
        check_record_size(&record)?;
        self.writer.append_blocking(record)
    }

    /// Signs a checkpoint of everything appended so far and returns the signed note.
    pub fn checkpoint(&self) -> Result<String> {
        self.writer.checkpoint()
    }
}

fn check_record_size(record: &[u8]) -> Result<()> {
    if record.len() > MAX_RECORD_BYTES {
        return Err(Error::Append(format!(
            "record of {} bytes exceeds {MAX_RECORD_BYTES}",
            record.len()
        )));
    }
    Ok(())
}

/// Waits for the first command of the next batch: until the next checkpoint is due while some
/// records are not covered by one, otherwise up to an hour. When it is an append, then sleeps
/// for the group-commit window (appends queued meanwhile do not wake the writer: nobody waits on
/// the channel while it sleeps). `None` once every sender is gone; `Some(None)` on a timeout.
pub(crate) fn next_batch_start(
    rx: &mpsc::Receiver<Cmd>,
    unsealed: bool,
    last_cp: Instant,
    opts: &LogOptions,
) -> Option<Option<Cmd>> {
    let wait = if unsealed {
        opts.checkpoint_interval.saturating_sub(last_cp.elapsed())
    } else {
        Duration::from_secs(3600)
    };
    let first = match rx.recv_timeout(wait) {
        Ok(c) => Some(c),
        Err(mpsc::RecvTimeoutError::Timeout) => None,
        Err(mpsc::RecvTimeoutError::Disconnected) => return None,
    };
    if opts.commit_delay > Duration::ZERO && matches!(first, Some(Cmd::Append(..) | Cmd::Wake)) {
        std::thread::sleep(opts.commit_delay);
    }
    Some(first)
}

impl Writer {
    fn run(&mut self, rx: mpsc::Receiver<Cmd>) {
        let mut buf = Vec::with_capacity(1 << 16);
        let mut acks: Vec<Ack> = Vec::new();
        let mut hashes: Vec<Hash> = Vec::new();
        let mut control: Vec<mpsc::Sender<Result<String>>> = Vec::new();
        loop {
            let unsealed = self.sealed < self.tree.size();
            let Some(first) = next_batch_start(&rx, unsealed, self.last_cp, &self.opts) else {
                break;
            };
            let mut next = first;
            while let Some(cmd) = next.take() {
                match cmd {
                    Cmd::Append(rec, ack) => {
                        frame(&rec, &mut buf);
                        hashes.push(leaf_hash(&rec));
                        acks.push(ack);
                    }
                    Cmd::Checkpoint(tx) => control.push(tx),
                    Cmd::Wake => {}
                }
                if acks.len() < self.opts.max_batch {
                    next = rx.try_recv().ok();
                }
            }
            let deferred = self.run_deferred(&mut buf, &mut hashes);
            self.commit(&mut buf, &mut hashes, &mut acks, deferred);
            let forced = !control.is_empty();
            let due = self.sealed < self.tree.size()
                && (self.tree.size() - self.sealed >= self.opts.checkpoint_every
                    || self.last_cp.elapsed() >= self.opts.checkpoint_interval);
            if forced || due {
                let r = self.sign_checkpoint();
                if let Err(e) = &r {
                    tracing::error!(error = %e, "signing audit checkpoint");
                }
                let msg = r.map_err(|e| e.to_string());
                for tx in control.drain(..) {
                    let _ = tx.send(msg.clone().map_err(Error::Append));
                }
            }
        }
        // drain: the channel is closed and everything queued through it has been committed;
        // take what is left in the shared batch, then seal it all
        let deferred = self.run_deferred(&mut buf, &mut hashes);
        self.commit(&mut buf, &mut hashes, &mut acks, deferred);
        if self.sealed < self.tree.size() {
            if let Err(e) = self.sign_checkpoint() {
                tracing::error!(error = %e, "signing final audit checkpoint");
            }
        }
    }

    /// Takes the deferred records queued so far: checksums their frames, puts them behind `buf`
    /// (after the acknowledged records' frames) and their leaf hashes behind theirs. Returns how
    /// many records it added.
    fn run_deferred(&mut self, buf: &mut Vec<u8>, hashes: &mut Vec<Hash>) -> usize {
        let mut frames = {
            let mut u = lock(&self.deferred);
            u.notified = false;
            u.records = 0;
            // the spare buffer goes back for the next appends: neither side allocates anew
            std::mem::replace(&mut u.frames, std::mem::take(&mut self.spare))
        };
        let mut added = 0;
        let mut at = 0;
        while let Some(len) = frames.get(at..at + 4) {
            let n = u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
            let Some(payload) = frames.get(at + HEADER..at + HEADER + n) else {
                // cannot happen: `append_deferred` writes whole frames
                break;
            };
            hashes.push(leaf_hash(payload));
            let crc = crc32fast::hash(payload).to_le_bytes();
            frames[at + 4..at + HEADER].copy_from_slice(&crc);
            at += HEADER + n;
            added += 1;
        }
        buf.extend_from_slice(frames.get(..at).unwrap_or_default());
        frames.clear();
        // a backlog's worth of room is not kept after the backlog is gone
        if frames.capacity() > SPARE_KEPT {
            frames = Vec::new();
        }
        self.spare = frames;
        added
    }

    /// Writes and syncs `buf` (the frames of `acks` followed by `deferred` more records), pushes
    /// their leaf hashes into the tree and acknowledges them.
    fn commit(
        &mut self,
        buf: &mut Vec<u8>,
        hashes: &mut Vec<Hash>,
        acks: &mut Vec<Ack>,
        deferred: usize,
    ) {
        if acks.is_empty() && deferred == 0 {
            return;
        }
        let path = self.dir.join(RECORDS_FILE);
        let result = match &self.failed {
            Some(m) => Err(m.clone()),
            None => self
                .write_batch(buf)
                .map_err(|e| format!("{}: {e}", path.display())),
        };
        buf.clear();
        match result {
            Ok(()) => {
                let mut acks = acks.drain(..);
                for h in hashes.drain(..) {
                    let i = self.tree.push_hash(h);
                    if let Some(ack) = acks.next() {
                        ack(Ok(i));
                    }
                }
            }
            Err(m) => {
                // A failed write may have left a partial frame: stop appending (fail closed)
                // until the log is reopened, which cuts the torn tail.
                if self.failed.is_none() {
                    tracing::error!(error = %m, "audit log write failed; refusing appends until reopened");
                }
                self.failed = Some(m.clone());
                hashes.clear();
                for ack in acks.drain(..) {
                    ack(Err(Error::Append(m.clone())));
                }
                if let Some(f) = &lock(&self.deferred).failures {
                    f.fetch_add(deferred as u64, std::sync::atomic::Ordering::Relaxed);
                }
            }
        }
    }

    /// Writes `buf` at the end of the records and syncs it. The records file is kept longer than
    /// its records, with zeros written and synced ahead ([`PREALLOC_MIN`] growing to
    /// [`PREALLOC_MAX`]): a sync that changes only data, not the file's size, skips the inode
    /// write, which halves the CPU and the time of each `fdatasync` on ext4 (`bench/results/guard.md`).
    fn write_batch(&mut self, buf: &[u8]) -> std::io::Result<()> {
        use std::io::{Seek, SeekFrom};
        let end = self.end + buf.len() as u64;
        self.records.seek(SeekFrom::Start(self.end))?;
        self.records.write_all(buf)?;
        let mut room = self.room.max(end);
        if end > self.room {
            // the room grows with the file (a small log stays small), up to PREALLOC_MAX at a
            // time; a failure here (a full disk) costs only the room, not the batch
            let step = self.room.clamp(PREALLOC_MIN, PREALLOC_MAX);
            let target = (end + step).div_ceil(4096) * 4096;
            // the file's cursor is at `end`, past the room there was
            let mut at = end;
            while at < target {
                let n = (target - at).min(ZEROS.len() as u64) as usize;
                if let Err(e) = self.records.write_all(&ZEROS[..n]) {
                    tracing::warn!(error = %e, "audit log: no room made ahead of the records");
                    break;
                }
                at += n as u64;
                room = at;
            }
        }
        self.records.sync_data()?;
        self.end = end;
        self.room = room;
        Ok(())
    }

    fn sign_checkpoint(&mut self) -> Result<String> {
        if let Some(m) = &self.failed {
            return Err(Error::Append(m.clone()));
        }
        let cp = Checkpoint {
            origin: self.opts.origin.clone(),
            size: self.tree.size(),
            root: self.tree.root(),
        };
        let note = self.signer.sign(&cp);
        let mut buf = Vec::with_capacity(note.len() + HEADER);
        frame(note.as_bytes(), &mut buf);
        let path = self.dir.join(CHECKPOINTS_FILE);
        self.checkpoints
            .write_all(&buf)
            .and_then(|_| self.checkpoints.sync_data())
            .map_err(io_err(&path))?;
        self.sealed = cp.size;
        self.last_cp = Instant::now();
        Ok(note)
    }
}

/// The outcome of [`verify`].
#[derive(Debug, Clone, Default, Serialize)]
pub struct VerifyReport {
    /// Records readable in the log.
    pub records: u64,
    /// Checkpoints whose signature verified.
    pub checkpoints: u64,
    /// Largest tree size covered by a valid checkpoint that matches the records.
    pub sealed: u64,
    /// Root hash (hex) of that checkpoint.
    pub sealed_root: Option<String>,
    /// Evidence of tampering: edits, deletions, truncation, forged or rolled-back checkpoints.
    pub problems: Vec<String>,
    /// Benign observations (a torn unacknowledged tail, records not yet sealed).
    pub warnings: Vec<String>,
}

impl VerifyReport {
    /// True when no tampering was found.
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

fn read_tree(dir: &Path, report: &mut VerifyReport) -> Result<Tree> {
    let rpath = dir.join(RECORDS_FILE);
    let mut tree = Tree::new();
    match read_frames(&rpath, MAX_RECORD_BYTES, |_, p| {
        tree.push(&p);
        Ok(())
    }) {
        Ok((Tail::Clean, _)) => {}
        Ok((Tail::Torn(off), _)) => report
            .warnings
            .push(format!("{}: incomplete last frame at offset {off} (a crash before acknowledgement, or truncation)", rpath.display())),
        Err(e @ Error::Corrupt { .. }) => report.problems.push(format!("{e} (records after it are unreadable)")),
        Err(e) => return Err(e),
    }
    report.records = tree.size();
    Ok(tree)
}

/// Checks signed checkpoint notes (from the log, then `trusted` ones) against the tree of the
/// stored records, filling `report` (shared by the local and PostgreSQL stores).
pub(crate) fn check_checkpoints(
    tree: &Tree,
    mut notes: Vec<(String, String)>,
    verifier: &NoteVerifier,
    trusted: &[String],
    report: &mut VerifyReport,
) {
    for (i, t) in trusted.iter().enumerate() {
        notes.push((format!("trusted checkpoint #{}", i + 1), t.clone()));
    }
    let mut max_seen = 0u64;
    for (whence, note) in &notes {
        let cp = match verifier.open(note) {
            Ok(cp) => cp,
            Err(e) => {
                report.problems.push(format!("{whence}: {e}"));
                continue;
            }
        };
        report.checkpoints += 1;
        if !whence.starts_with("trusted") {
            if cp.size < max_seen {
                report.problems.push(format!(
                    "{whence}: tree size goes back from {max_seen} to {}",
                    cp.size
                ));
            }
            max_seen = max_seen.max(cp.size);
        }
        match tree.root_at(cp.size) {
            None => report.problems.push(format!(
                "{whence}: signed checkpoint covers {} records but the log holds only {} (truncated or records deleted)",
                cp.size,
                tree.size()
            )),
            Some(root) if root != cp.root => report.problems.push(format!(
                "{whence}: the first {} records do not hash to the signed root (a record was edited, inserted, reordered or deleted)",
                cp.size
            )),
            Some(root) => {
                if cp.size >= report.sealed {
                    report.sealed = cp.size;
                    report.sealed_root = Some(hex::encode(root));
                }
            }
        }
    }
    if report.checkpoints == 0 && tree.size() > 0 {
        report
            .problems
            .push("no valid signed checkpoint: nothing in the log is sealed".into());
    } else if report.sealed < tree.size() && report.problems.is_empty() {
        report.warnings.push(format!(
            "{} records after the last checkpoint are not yet sealed",
            tree.size() - report.sealed
        ));
    }
}

/// Verifies the log in `dir` against every checkpoint signed by `verifier` in the log, plus
/// `trusted` signed checkpoint notes kept outside the log (witnessed or exported copies), which
/// detect a log rewritten wholesale.
pub fn verify(dir: &Path, verifier: &NoteVerifier, trusted: &[String]) -> Result<VerifyReport> {
    let mut report = VerifyReport::default();
    let tree = read_tree(dir, &mut report)?;
    let cpath = dir.join(CHECKPOINTS_FILE);
    let mut notes: Vec<(String, String)> = Vec::new();
    match read_frames(&cpath, MAX_NOTE_BYTES, |off, p| {
        notes.push((
            format!("{} offset {off}", cpath.display()),
            String::from_utf8_lossy(&p).into_owned(),
        ));
        Ok(())
    }) {
        Ok((Tail::Clean, _)) => {}
        Ok((Tail::Torn(off), _)) => report.warnings.push(format!(
            "{}: incomplete last frame at offset {off}",
            cpath.display()
        )),
        Err(e @ Error::Corrupt { .. }) => report.problems.push(e.to_string()),
        Err(Error::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => report
            .problems
            .push(format!("{}: missing", cpath.display())),
        Err(e) => return Err(e),
    }
    check_checkpoints(&tree, notes, verifier, trusted, &mut report);
    Ok(report)
}

/// An inclusion proof of one record against a signed checkpoint.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct InclusionProof {
    /// Index of the record (0-based).
    pub index: u64,
    /// The record (UTF-8, as stored).
    pub record: String,
    /// Hex RFC 9162 leaf hash of the record.
    pub leaf_hash: String,
    /// Tree size of the checkpoint.
    pub tree_size: u64,
    /// Hex audit path, leaf to root.
    pub path: Vec<String>,
    /// The signed checkpoint note.
    pub checkpoint: String,
}

impl InclusionProof {
    /// Checks the proof: the checkpoint signature, the leaf hash of the record and the audit path.
    pub fn verify(&self, verifier: &NoteVerifier) -> Result<()> {
        let cp = verifier.open(&self.checkpoint)?;
        let bad = |m: &str| Error::Tampered {
            path: "proof".into(),
            message: m.into(),
        };
        if cp.size != self.tree_size {
            return Err(bad("tree size differs from the checkpoint"));
        }
        let leaf = leaf_hash(self.record.as_bytes());
        if hex::encode(leaf) != self.leaf_hash {
            return Err(bad("record does not match its leaf hash"));
        }
        let mut path = Vec::with_capacity(self.path.len());
        for p in &self.path {
            let h: Hash = hex::decode(p)
                .ok()
                .and_then(|v| v.try_into().ok())
                .ok_or_else(|| bad("bad hash in path"))?;
            path.push(h);
        }
        if merkle::verify_inclusion(&leaf, self.index, self.tree_size, &path, &cp.root) {
            Ok(())
        } else {
            Err(bad("audit path does not lead to the signed root"))
        }
    }
}

/// Builds an inclusion proof for record `index` against the latest valid checkpoint covering it.
pub fn prove(dir: &Path, verifier: &NoteVerifier, index: u64) -> Result<InclusionProof> {
    let rpath = dir.join(RECORDS_FILE);
    let mut tree = Tree::new();
    let mut record = None;
    read_frames(&rpath, MAX_RECORD_BYTES, |_, p| {
        if tree.size() == index {
            record = Some(String::from_utf8_lossy(&p).into_owned());
        }
        tree.push(&p);
        Ok(())
    })?;
    let mut notes = Vec::new();
    read_frames(&dir.join(CHECKPOINTS_FILE), MAX_NOTE_BYTES, |_, p| {
        notes.push(String::from_utf8_lossy(&p).into_owned());
        Ok(())
    })?;
    prove_in(&tree, record, index, notes, verifier)
}

/// The inclusion proof of `record` (record `index` of `tree`) against the largest of `notes`
/// that `verifier` accepts, covers the record and matches the tree; shared by the local and
/// PostgreSQL stores.
pub(crate) fn prove_in(
    tree: &Tree,
    record: Option<String>,
    index: u64,
    notes: impl IntoIterator<Item = String>,
    verifier: &NoteVerifier,
) -> Result<InclusionProof> {
    let record = record.ok_or_else(|| {
        Error::NotFound(format!(
            "record {index} not in log of {} records",
            tree.size()
        ))
    })?;
    let mut best: Option<(Checkpoint, String)> = None;
    for note in notes {
        if let Ok(cp) = verifier.open(&note) {
            if cp.size > index
                && tree.root_at(cp.size) == Some(cp.root)
                && best.as_ref().is_none_or(|(b, _)| cp.size > b.size)
            {
                best = Some((cp, note));
            }
        }
    }
    let (cp, note) = best.ok_or_else(|| {
        Error::NotFound(format!(
            "no valid signed checkpoint covers record {index} yet"
        ))
    })?;
    let path = tree
        .inclusion_proof(index, cp.size)
        .ok_or_else(|| Error::NotFound(format!("record {index}")))?;
    Ok(InclusionProof {
        index,
        leaf_hash: hex::encode(leaf_hash(record.as_bytes())),
        record,
        tree_size: cp.size,
        path: path.iter().map(hex::encode).collect(),
        checkpoint: note,
    })
}

/// The latest checkpoint note in the log whose signature verifies and whose root matches the
/// stored records (to export to witnesses or keep as a trusted checkpoint).
pub fn latest_checkpoint(dir: &Path, verifier: &NoteVerifier) -> Result<Option<String>> {
    let mut tree = Tree::new();
    read_frames(&dir.join(RECORDS_FILE), MAX_RECORD_BYTES, |_, p| {
        tree.push(&p);
        Ok(())
    })?;
    let mut notes = Vec::new();
    read_frames(&dir.join(CHECKPOINTS_FILE), MAX_NOTE_BYTES, |_, p| {
        notes.push(String::from_utf8_lossy(&p).into_owned());
        Ok(())
    })?;
    Ok(latest_in(&tree, notes, verifier))
}

/// The largest of `notes` that `verifier` accepts and whose root matches `tree`.
pub(crate) fn latest_in(
    tree: &Tree,
    notes: impl IntoIterator<Item = String>,
    verifier: &NoteVerifier,
) -> Option<String> {
    let mut best: Option<(u64, String)> = None;
    for note in notes {
        if let Ok(cp) = verifier.open(&note) {
            if tree.root_at(cp.size) == Some(cp.root)
                && best.as_ref().is_none_or(|(s, _)| cp.size >= *s)
            {
                best = Some((cp.size, note));
            }
        }
    }
    best.map(|(_, n)| n)
}

/// Reads the verifier key stored in the log directory at creation.
pub fn stored_verifier(dir: &Path) -> Result<NoteVerifier> {
    let p = dir.join(PUBKEY_FILE);
    let mut s = String::new();
    File::open(&p)
        .and_then(|mut f| f.read_to_string(&mut s))
        .map_err(io_err(&p))?;
    NoteVerifier::parse(&s)
}

/// Reads every record of the log (memory bounded by the file's size).
pub fn read_records(dir: &Path) -> Result<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    read_frames(&dir.join(RECORDS_FILE), MAX_RECORD_BYTES, |_, p| {
        out.push(p);
        Ok(())
    })?;
    Ok(out)
}

/// Reads record `index` of the log (for display).
pub fn read_record(dir: &Path, index: u64) -> Result<Vec<u8>> {
    let rpath = dir.join(RECORDS_FILE);
    let mut i = 0u64;
    let mut out = None;
    read_frames(&rpath, MAX_RECORD_BYTES, |_, p| {
        if i == index {
            out = Some(p);
        }
        i += 1;
        Ok(())
    })?;
    out.ok_or_else(|| Error::NotFound(format!("record {index} not in log of {i} records")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> Signer {
        Signer::generate("test.lantern/audit").unwrap_or_else(|e| panic!("{e}"))
    }

    fn fill(dir: &Path, s: &Signer, n: usize) -> Vec<u64> {
        let opts = LogOptions {
            checkpoint_every: 10,
            ..LogOptions::default()
        };
        let log = open_with(dir, s, opts);
        let idx = (0..n)
            .map(|i| {
                log.append_blocking(format!("{{\"n\":{i}}}").into_bytes())
                    .unwrap_or(u64::MAX)
            })
            .collect();
        drop(log);
        idx
    }

    /// Where the records of the file at `p` end (the zeroed room after them excluded).
    fn log_end(p: &Path) -> u64 {
        read_frames(p, MAX_RECORD_BYTES, |_, _| Ok(()))
            .unwrap_or_else(|e| panic!("{e}"))
            .1
    }

    /// Overwrites the bytes of the file at `p` from `at` with `bytes`.
    fn write_at(p: &Path, at: u64, bytes: &[u8]) {
        use std::io::{Seek, SeekFrom};
        let mut f = OpenOptions::new()
            .write(true)
            .open(p)
            .unwrap_or_else(|e| panic!("{e}"));
        f.seek(SeekFrom::Start(at))
            .and_then(|_| f.write_all(bytes))
            .unwrap_or_else(|e| panic!("{e}"));
    }

    /// Rewrites one record frame in place with a valid CRC (an attacker with write access).
    fn rewrite(dir: &Path, index: usize, payload: &[u8]) {
        let p = dir.join(RECORDS_FILE);
        let mut frames = Vec::new();
        read_frames(&p, MAX_RECORD_BYTES, |_, f| {
            frames.push(f);
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
        frames[index] = payload.to_vec();
        let mut buf = Vec::new();
        for f in &frames {
            frame(f, &mut buf);
        }
        std::fs::write(&p, buf).unwrap_or_else(|e| panic!("{e}"));
    }

    /// Opens the log in `dir`, signed with a copy of `s`, with options `opts`.
    fn try_open(dir: &Path, s: &Signer, opts: LogOptions) -> Result<LocalLog> {
        LocalLog::open(
            dir,
            Signer::parse(&s.to_private_string()).unwrap_or_else(|e| panic!("{e}")),
            opts,
        )
    }

    /// The log in `dir`, signed with a copy of `s`, with options `opts`.
    fn open_with(dir: &Path, s: &Signer, opts: LogOptions) -> LocalLog {
        try_open(dir, s, opts).unwrap_or_else(|e| panic!("{e}"))
    }

    /// A new log with options `opts` in a temporary directory, and its signer.
    fn temp_log(opts: LogOptions) -> (tempfile::TempDir, Signer, LocalLog) {
        let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let s = signer();
        let log = open_with(d.path(), &s, opts);
        (d, s, log)
    }

    /// The log in `dir`, signed with a copy of `s`, with a group-commit window of `ms`.
    fn open_with_delay(dir: &Path, s: &Signer, ms: u64) -> LocalLog {
        open_with(
            dir,
            s,
            LogOptions {
                commit_delay: Duration::from_millis(ms),
                ..LogOptions::default()
            },
        )
    }

    #[test]
    fn group_commit_window_acknowledges_every_record_once() {
        let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let s = signer();
        let log = std::sync::Arc::new(open_with_delay(d.path(), &s, 5));
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let log = log.clone();
                std::thread::spawn(move || {
                    (0..10)
                        .map(|i| {
                            log.append_blocking(format!("{{\"t\":{t},\"i\":{i}}}").into_bytes())
                                .unwrap_or_else(|e| panic!("{e}"))
                        })
                        .collect::<Vec<u64>>()
                })
            })
            .collect();
        let mut idx: Vec<u64> = threads
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|_| panic!("append thread")))
            .collect();
        idx.sort_unstable();
        assert_eq!(idx, (0..40).collect::<Vec<u64>>());
        drop(log);
        let rep = verify(d.path(), &s.verifier(), &[]).unwrap_or_else(|e| panic!("{e}"));
        assert!(rep.ok(), "{rep:?}");
        assert_eq!((rep.records, rep.sealed), (40, 40));
    }

    #[test]
    fn deferred_appends_are_framed_hashed_and_flushed_with_acked_ones() {
        let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let s = signer();
        let log = std::sync::Arc::new(open_with_delay(d.path(), &s, 1));
        let failures = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        log.count_deferred_failures(failures.clone());
        let threads: Vec<_> = (0..3)
            .map(|t| {
                let log = log.clone();
                std::thread::spawn(move || {
                    for i in 0..300 {
                        if t == 0 && i % 50 == 0 {
                            log.append_blocking(format!("acked {i}").into_bytes())
                                .unwrap_or_else(|e| panic!("{e}"));
                        }
                        log.append_deferred(format!("t{t} r{i}").as_bytes());
                        if i % 100 == 0 {
                            std::thread::sleep(Duration::from_millis(2));
                        }
                    }
                })
            })
            .collect();
        for h in threads {
            h.join().unwrap_or_else(|_| panic!("append thread"));
        }
        // refused: a record over the limit, and an empty one (neither leaves bytes)
        assert!(!log.append_deferred(&vec![b'x'; MAX_RECORD_BYTES + 1]));
        assert!(!log.append_deferred(b""));
        assert!(log.append_deferred(b"last"));
        // dropped right after the last append: the writer's drain must still take it
        drop(log);
        assert_eq!(failures.load(std::sync::atomic::Ordering::Relaxed), 2);
        let rep = verify(d.path(), &s.verifier(), &[]).unwrap_or_else(|e| panic!("{e}"));
        assert!(rep.ok(), "{rep:?}");
        assert_eq!((rep.records, rep.sealed), (907, 907));
        let records: Vec<String> = read_records(d.path())
            .unwrap_or_else(|e| panic!("{e}"))
            .into_iter()
            .map(|r| String::from_utf8_lossy(&r).into_owned())
            .collect();
        assert_eq!(records.last().map(String::as_str), Some("last"));
        for t in 0..3 {
            // each thread's records, in its order
            let mine: Vec<&String> = records
                .iter()
                .filter(|r| r.starts_with(&format!("t{t} ")))
                .collect();
            let want: Vec<String> = (0..300).map(|i| format!("t{t} r{i}")).collect();
            assert_eq!(mine, want.iter().collect::<Vec<_>>());
        }
        assert_eq!(records.iter().filter(|r| r.starts_with("acked")).count(), 6);
        // and the records reopen into the same tree (checksums and leaf hashes agree)
        let reopened = open_with(d.path(), &s, LogOptions::default());
        assert_eq!(reopened.size_at_open(), 907);
    }

    #[test]
    fn deferred_appends_past_the_backlog_are_refused_and_counted() {
        // the writer sleeps through a long group-commit window after the first wake-up, so the
        // appends made meanwhile wait in the backlog
        let (d, s, log) = temp_log(LogOptions {
            commit_delay: Duration::from_millis(1500),
            max_backlog: 3,
            ..LogOptions::default()
        });
        let failures = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        log.count_deferred_failures(failures.clone());
        let accepted: Vec<bool> = (0..5)
            .map(|i| log.append_deferred(format!("job {i}").as_bytes()))
            .collect();
        assert_eq!(accepted, [true, true, true, false, false]);
        assert_eq!(log.backlog(), 3);
        assert_eq!(failures.load(std::sync::atomic::Ordering::Relaxed), 2);
        drop(log);
        let rep = verify(d.path(), &s.verifier(), &[]).unwrap_or_else(|e| panic!("{e}"));
        assert!(rep.ok(), "{rep:?}");
        assert_eq!(rep.records, 3);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_writer_thread_runs_at_the_niceness_asked_for() {
        let (_d, _s, log) = temp_log(LogOptions {
            writer_nice: 7,
            ..LogOptions::default()
        });
        // the writer is up once it has made a record durable
        log.append_blocking(b"hello".to_vec())
            .unwrap_or_else(|e| panic!("{e}"));
        // the niceness in a thread's `stat`: field 19, the 17th after the `(comm)` field
        let nice_of = |stat: &str| -> Option<i64> {
            let rest = stat.rsplit_once(')')?.1;
            rest.split_whitespace().nth(16)?.parse().ok()
        };
        let me = std::process::id();
        let nices: Vec<(String, i64)> = std::fs::read_dir(format!("/proc/{me}/task"))
            .unwrap_or_else(|e| panic!("{e}"))
            .flatten()
            .filter_map(|t| {
                let comm = std::fs::read_to_string(t.path().join("comm")).ok()?;
                let stat = std::fs::read_to_string(t.path().join("stat")).ok()?;
                Some((comm.trim().to_string(), nice_of(&stat)?))
            })
            .collect();
        let writers: Vec<i64> = nices
            .iter()
            .filter(|(c, _)| c == "lantern-audit-w")
            .map(|(_, n)| *n)
            .collect();
        // the calling thread keeps its own niceness; the writer takes 7 unless that is no lower
        // a priority (other tests' writers in this process keep the process's niceness)
        let own = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
        let own_nice = nice_of(&own).unwrap_or_else(|| panic!("no niceness in {own}"));
        assert!(writers.contains(&own_nice.max(7)), "{nices:?}");
        drop(log);
    }

    #[test]
    fn deferred_records_are_written_in_order_and_failures_counted() {
        let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let s = signer();
        let log = open_with_delay(d.path(), &s, 1);
        let failures = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        log.count_deferred_failures(failures.clone());
        for i in 0..500 {
            assert!(log.append_deferred(format!("job {i}").as_bytes()));
            if i % 100 == 0 {
                // refused: empty, and one byte over the limit
                assert!(!log.append_deferred(b""));
                assert!(!log.append_deferred(&vec![b'x'; MAX_RECORD_BYTES + 1]));
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        drop(log);
        assert_eq!(failures.load(std::sync::atomic::Ordering::Relaxed), 10);
        let rep = verify(d.path(), &s.verifier(), &[]).unwrap_or_else(|e| panic!("{e}"));
        assert!(rep.ok(), "{rep:?}");
        let records: Vec<String> = read_records(d.path())
            .unwrap_or_else(|e| panic!("{e}"))
            .into_iter()
            .map(|r| String::from_utf8_lossy(&r).into_owned())
            .collect();
        let want: Vec<String> = (0..500).map(|i| format!("job {i}")).collect();
        assert_eq!(records, want);
    }

    #[test]
    fn append_verify_prove_roundtrip() {
        let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let s = signer();
        let idx = fill(d.path(), &s, 25);
        assert_eq!(idx, (0..25).collect::<Vec<u64>>());
        let rep = verify(d.path(), &s.verifier(), &[]).unwrap_or_else(|e| panic!("{e}"));
        assert!(rep.ok(), "{rep:?}");
        assert_eq!((rep.records, rep.sealed), (25, 25));
        assert!(rep.checkpoints >= 3);
        let proof = prove(d.path(), &s.verifier(), 17).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(proof.record, "{\"n\":17}");
        assert_eq!(proof.tree_size, 25);
        assert!(proof.verify(&s.verifier()).is_ok());
        let mut forged = proof.clone();
        forged.record = "{\"n\":18}".into();
        forged.leaf_hash = hex::encode(leaf_hash(forged.record.as_bytes()));
        assert!(forged.verify(&s.verifier()).is_err());
        // reopening continues the same tree
        let more = fill(d.path(), &s, 2);
        assert_eq!(more, vec![25, 26]);
        assert!(verify(d.path(), &s.verifier(), &[])
            .map(|r| r.ok())
            .unwrap_or(false));
    }

    #[test]
    fn edit_with_valid_crc_is_detected() {
        let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let s = signer();
        fill(d.path(), &s, 20);
        rewrite(d.path(), 3, b"{\"n\":333}");
        let rep = verify(d.path(), &s.verifier(), &[]).unwrap_or_else(|e| panic!("{e}"));
        assert!(!rep.ok());
        assert!(
            rep.problems
                .iter()
                .any(|p| p.contains("do not hash to the signed root")),
            "{rep:?}"
        );
        // and the writer refuses to reopen a log that contradicts its checkpoint
        assert!(matches!(
            try_open(d.path(), &s, LogOptions::default()),
            Err(Error::Tampered { .. })
        ));
    }

    #[test]
    fn truncation_and_deletion_are_detected() {
        let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let s = signer();
        fill(d.path(), &s, 20);
        let p = d.path().join(RECORDS_FILE);
        let len = log_end(&p);
        // cut exactly two whole frames off the end
        let frame_len = (HEADER + "{\"n\":19}".len()) as u64 * 2;
        let f = OpenOptions::new()
            .write(true)
            .open(&p)
            .unwrap_or_else(|e| panic!("{e}"));
        f.set_len(len - frame_len).unwrap_or_else(|e| panic!("{e}"));
        let rep = verify(d.path(), &s.verifier(), &[]).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            rep.problems
                .iter()
                .any(|m| m.contains("covers 20 records but the log holds only 18")),
            "{rep:?}"
        );
    }

    #[test]
    fn corrupt_middle_frame_and_forged_checkpoint_are_problems() {
        let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let s = signer();
        fill(d.path(), &s, 12);
        let p = d.path().join(RECORDS_FILE);
        let mut bytes = std::fs::read(&p).unwrap_or_default();
        bytes[HEADER + 2] ^= 0x20;
        std::fs::write(&p, &bytes).unwrap_or_else(|e| panic!("{e}"));
        let rep = verify(d.path(), &s.verifier(), &[]).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            rep.problems
                .iter()
                .any(|m| m.contains("corrupt frame at offset 0")),
            "{rep:?}"
        );
        // a checkpoint signed by another key is rejected
        let other = signer();
        let note = other.sign(&Checkpoint {
            origin: "x".into(),
            size: 1,
            root: [0; 32],
        });
        let rep = verify(d.path(), &s.verifier(), &[note]).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            rep.problems
                .iter()
                .any(|m| m.contains("trusted checkpoint #1: bad signature")),
            "{rep:?}"
        );
    }

    #[test]
    fn wholesale_rewrite_is_caught_by_a_trusted_checkpoint() {
        let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let s = signer();
        fill(d.path(), &s, 5);
        let (tx, rx) = mpsc::channel();
        {
            let log = open_with(d.path(), &s, LogOptions::default());
            tx.send(log.checkpoint().unwrap_or_default()).unwrap_or(());
        }
        let exported = rx.recv().unwrap_or_default();
        // the attacker holds the key, deletes the log and writes a different history
        std::fs::remove_dir_all(d.path()).unwrap_or(());
        fill(d.path(), &s, 1);
        rewrite(d.path(), 0, b"{\"n\":\"forged\"}");
        std::fs::remove_file(d.path().join(CHECKPOINTS_FILE)).unwrap_or(());
        fill(d.path(), &s, 5);
        assert!(verify(d.path(), &s.verifier(), &[])
            .map(|r| r.ok())
            .unwrap_or(false));
        let rep = verify(d.path(), &s.verifier(), &[exported]).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            rep.problems
                .iter()
                .any(|m| m.contains("trusted checkpoint #1")),
            "{rep:?}"
        );
    }

    #[test]
    fn torn_tail_is_cut_on_reopen() {
        let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let s = signer();
        fill(d.path(), &s, 3);
        let p = d.path().join(RECORDS_FILE);
        // a crash mid-write: the start of a frame landed in the zeroed room after the records
        write_at(&p, log_end(&p), &[200, 0, 0, 0, 1, 2]);
        let rep = verify(d.path(), &s.verifier(), &[]).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            rep.ok()
                && rep
                    .warnings
                    .iter()
                    .any(|w| w.contains("incomplete last frame")),
            "{rep:?}"
        );
        assert_eq!(fill(d.path(), &s, 1), vec![3]);
        let rep = verify(d.path(), &s.verifier(), &[]).unwrap_or_else(|e| panic!("{e}"));
        assert!(rep.ok() && rep.warnings.is_empty(), "{rep:?}");
    }

    #[test]
    fn zeroed_room_follows_the_records_and_reopening_appends_at_their_end() {
        let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let s = signer();
        fill(d.path(), &s, 3);
        let p = d.path().join(RECORDS_FILE);
        let end = log_end(&p);
        let len = std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
        assert!(
            len >= end + PREALLOC_MIN,
            "no room after the records: {len} <= {end}"
        );
        let bytes = std::fs::read(&p).unwrap_or_default();
        assert!(bytes[end as usize..].iter().all(|&b| b == 0));
        // reopened twice: the records go on from the end, not after the room
        assert_eq!(fill(d.path(), &s, 2), vec![3, 4]);
        assert_eq!(fill(d.path(), &s, 1), vec![5]);
        let recs = read_records(d.path()).unwrap_or_default();
        let want: Vec<Vec<u8>> = [0, 1, 2, 0, 1, 0]
            .iter()
            .map(|i| format!("{{\"n\":{i}}}").into_bytes())
            .collect();
        assert_eq!(recs, want);
        let rep = verify(d.path(), &s.verifier(), &[]).unwrap_or_else(|e| panic!("{e}"));
        assert!(rep.ok() && rep.warnings.is_empty(), "{rep:?}");
        // a log grown past its room gets more, and still reads back whole
        let log = open_with(d.path(), &s, LogOptions::default());
        let big = vec![b'x'; 100 << 10];
        for _ in 0..3 {
            log.append_blocking(big.clone()).unwrap_or(u64::MAX);
        }
        drop(log);
        let len2 = std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
        assert!(len2 > log_end(&p) && log_end(&p) > 300 << 10);
        assert_eq!(read_records(d.path()).map(|r| r.len()).unwrap_or(0), 9);
    }

    #[test]
    fn data_in_the_room_after_the_end_is_damage_not_a_torn_tail() {
        let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let s = signer();
        fill(d.path(), &s, 4);
        let p = d.path().join(RECORDS_FILE);
        let end = log_end(&p);
        // zeros where a frame should start, then data: nothing may be cut
        write_at(&p, end + 100, b"junk");
        let before = std::fs::read(&p).unwrap_or_default();
        let rep = verify(d.path(), &s.verifier(), &[]).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            rep.problems.iter().any(|m| m.contains(&format!(
                "corrupt frame at offset {end}: a zero-length frame"
            ))),
            "{rep:?}"
        );
        assert!(matches!(
            try_open(d.path(), &s, LogOptions::default()),
            Err(Error::Corrupt { .. })
        ));
        assert_eq!(std::fs::read(&p).unwrap_or_default(), before);
        // a damaged frame with the next frame after it is damage too, even near the end
        let mut bytes = before.clone();
        bytes[end as usize + 100..end as usize + 104].fill(0);
        let second = HEADER + "{\"n\":0}".len();
        bytes[second + HEADER + 2] ^= 0x20;
        std::fs::write(&p, &bytes).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(
            read_frames(&p, MAX_RECORD_BYTES, |_, _| Ok(())),
            Err(Error::Corrupt { offset, .. }) if offset == second as u64
        ));
    }

    #[test]
    fn a_torn_frame_in_the_room_is_cut_on_reopen() {
        let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let s = signer();
        fill(d.path(), &s, 2);
        let p = d.path().join(RECORDS_FILE);
        let end = log_end(&p);
        // a whole header whose payload never reached the disk (zeros: checksum mismatch)
        let mut torn = Vec::new();
        frame(b"{\"n\":\"lost\"}", &mut torn);
        write_at(&p, end, &torn[..HEADER]);
        assert_eq!(
            read_frames(&p, MAX_RECORD_BYTES, |_, _| Ok(()))
                .map(|r| r.0)
                .ok(),
            Some(Tail::Torn(end))
        );
        assert_eq!(fill(d.path(), &s, 1), vec![2]);
        let rep = verify(d.path(), &s.verifier(), &[]).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            rep.ok() && rep.warnings.is_empty() && rep.records == 3,
            "{rep:?}"
        );
    }
}
