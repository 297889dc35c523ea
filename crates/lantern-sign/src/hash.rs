//! Streaming digests of whole files and of byte ranges: read into one fixed-size buffer per
//! thread, mapped in bounded windows, or read by a helper thread while the caller hashes, so
//! memory stays bounded whatever the model size.

use crate::error::{Error, Result};
use sha2::Digest as _;
use std::cell::RefCell;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// Size of the per-thread read buffer.
pub const READ_BUFFER: usize = 4 << 20;

/// A content hash algorithm, named as the OpenSSF Model Signing format names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashAlgo {
    /// SHA-256 (`"sha256"`), the default.
    Sha256,
    /// BLAKE2b-512 (`"blake2b"`; model-signing's configuration calls it `"blake2"`).
    Blake2b,
    /// BLAKE3 (`"blake3"`).
    Blake3,
}

impl HashAlgo {
    /// Name recorded in manifests (`hash_type` and resource `algorithm`).
    pub fn name(self) -> &'static str {
        match self {
            HashAlgo::Sha256 => "sha256",
            HashAlgo::Blake2b => "blake2b",
            HashAlgo::Blake3 => "blake3",
        }
    }

    /// Parses a `hash_type` / algorithm name.
    pub fn from_name(name: &str) -> Result<Self> {
        match name {
            "sha256" => Ok(HashAlgo::Sha256),
            "blake2" | "blake2b" => Ok(HashAlgo::Blake2b),
            "blake3" => Ok(HashAlgo::Blake3),
            other => Err(Error::Unsupported {
                what: "hash algorithm",
                value: other.to_string(),
            }),
        }
    }

    /// A fresh streaming hasher.
    pub fn hasher(self) -> Hasher {
        match self {
            HashAlgo::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
            HashAlgo::Blake2b => Hasher::Blake2b(blake2::Blake2b512::new()),
            HashAlgo::Blake3 => Hasher::Blake3(Box::new(blake3::Hasher::new())),
        }
    }

    /// One-shot digest of a byte slice.
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        let mut h = self.hasher();
        h.update(data);
        h.finish()
    }
}

/// A streaming hasher for one of the supported algorithms.
pub enum Hasher {
    /// SHA-256 state.
    Sha256(sha2::Sha256),
    /// BLAKE2b state.
    Blake2b(blake2::Blake2b512),
    /// BLAKE3 state.
    Blake3(Box<blake3::Hasher>),
}

impl Hasher {
    /// Absorbs bytes.
    pub fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(data),
            Hasher::Blake2b(h) => h.update(data),
            Hasher::Blake3(h) => {
                h.update(data);
            }
        }
    }

    /// Returns the digest.
    pub fn finish(self) -> Vec<u8> {
        match self {
            Hasher::Sha256(h) => h.finalize().to_vec(),
            Hasher::Blake2b(h) => h.finalize().to_vec(),
            Hasher::Blake3(h) => h.finalize().as_bytes().to_vec(),
        }
    }
}

thread_local! {
    static BUFFER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Hashes `len` bytes of `path` from `offset`, or the whole file to its end when `len` is `None`.
/// `progress` is called with the number of bytes consumed after each read.
pub fn hash_file_range(
    path: &Path,
    algo: HashAlgo,
    offset: u64,
    len: Option<u64>,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Vec<u8>> {
    let mut hasher = algo.hasher();
    feed_range(path, &mut hasher, offset, len, progress)?;
    Ok(hasher.finish())
}

/// Moves `file` to `pos` (a no-op at 0 on a freshly opened file).
fn seek_to(file: &mut File, pos: u64, path: &Path) -> Result<()> {
    if pos > 0 {
        file.seek(SeekFrom::Start(pos))
            .map_err(|e| Error::io("seeking in", path, e))?;
    }
    Ok(())
}

/// One `read(2)` of at most `want` bytes (and at most `buf.len()`) into the front of `buf`,
/// retried when interrupted; `Ok(0)` at the end of the file.
fn read_once(file: &mut File, buf: &mut [u8], want: u64, path: &Path) -> Result<usize> {
    let want = usize::try_from(want).unwrap_or(usize::MAX).min(buf.len());
    let Some(slice) = buf.get_mut(..want) else {
        return Ok(0);
    };
    loop {
        match file.read(slice) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io("reading", path, e)),
            Ok(n) => return Ok(n),
        }
    }
}

/// Reads `len` bytes of `path` from `offset` (to the end when `None`) into `hasher`, through the
/// per-thread buffer.
fn feed_range(
    path: &Path,
    hasher: &mut Hasher,
    offset: u64,
    len: Option<u64>,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<()> {
    let mut file = File::open(path).map_err(|e| Error::io("opening", path, e))?;
    seek_to(&mut file, offset, path)?;
    BUFFER.with(|cell| -> Result<()> {
        let mut buf = cell.borrow_mut();
        if buf.len() < READ_BUFFER {
            buf.resize(READ_BUFFER, 0);
        }
        let mut remaining = len;
        loop {
            let want = match remaining {
                Some(0) => break,
                Some(r) => r,
                None => u64::MAX,
            };
            let n = read_once(&mut file, &mut buf, want, path)?;
            if n == 0 {
                if let (Some(_), Some(expected)) = (remaining, len) {
                    return Err(Error::ShortRead {
                        path: path.to_path_buf(),
                        offset,
                        expected,
                    });
                }
                break;
            }
            if let Some(chunk) = buf.get(..n) {
                hasher.update(chunk);
            }
            progress(n as u64);
            if let Some(r) = remaining.as_mut() {
                *r -= n as u64;
            }
        }
        Ok(())
    })
}

/// How the bytes of a file reach the hasher.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IoMode {
    /// `read(2)` into a per-thread buffer (the kernel copies from the page cache).
    #[default]
    Read,
    /// Memory-map the file in [`MAP_WINDOW`]-sized windows and hash the mapping directly (no copy);
    /// small ranges are still read. Call [`install_sigbus_guard`] first: a file that shrinks while
    /// it is mapped raises `SIGBUS`.
    Mapped,
}

/// Ranges shorter than this are read even in [`IoMode::Mapped`] (mapping costs more than copying).
pub const MAP_MIN: u64 = 4 << 20;
/// Bytes mapped at a time, so a mapping never pins more than this much of the page cache per
/// thread (and the resident set stays bounded).
pub const MAP_WINDOW: u64 = 32 << 20;
/// Bytes hashed between two progress reports.
const PROGRESS_STEP: usize = 1 << 20;
/// Buffer size and count of the pipelined reader.
const PIPE_BUFFER: usize = 1 << 20;
const PIPE_BUFFERS: usize = 4;

/// Size of `file` and the end of the range `[offset, offset + len)` (to the end of the file when
/// `len` is `None`), or a short-read error when the file is shorter than the range.
fn range_end(file: &File, path: &Path, offset: u64, len: Option<u64>) -> Result<u64> {
    let size = file
        .metadata()
        .map_err(|e| Error::io("reading metadata of", path, e))?
        .len();
    match len {
        None => Ok(size.max(offset)),
        Some(l) => {
            let end = offset.saturating_add(l);
            if end > size {
                Err(Error::ShortRead {
                    path: path.to_path_buf(),
                    offset,
                    expected: l,
                })
            } else {
                Ok(end)
            }
        }
    }
}

/// Hashes a range of `path` as [`hash_file_range`] does, by mapping it in windows when `mode` is
/// [`IoMode::Mapped`] and the range is at least [`MAP_MIN`] bytes (reading it otherwise, or when
/// the mapping fails).
pub fn hash_range(
    path: &Path,
    algo: HashAlgo,
    offset: u64,
    len: Option<u64>,
    mode: IoMode,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Vec<u8>> {
    if mode == IoMode::Read || len.is_some_and(|l| l < MAP_MIN) {
        return hash_file_range(path, algo, offset, len, progress);
    }
    let file = File::open(path).map_err(|e| Error::io("opening", path, e))?;
    let end = range_end(&file, path, offset, len)?;
    if end - offset < MAP_MIN {
        return hash_file_range(path, algo, offset, len, progress);
    }
    let mut hasher = algo.hasher();
    let mut pos = offset;
    while pos < end {
        let window = (end - pos).min(MAP_WINDOW);
        let Some(map) = map_window(&file, pos, window) else {
            // Mapping refused (exotic filesystem, address space): read the rest instead.
            feed_range(path, &mut hasher, pos, Some(end - pos), progress)?;
            break;
        };
        for chunk in map.chunks(PROGRESS_STEP) {
            hasher.update(chunk);
            progress(chunk.len() as u64);
        }
        pos += window;
    }
    Ok(hasher.finish())
}

/// A read-only mapping of `len` bytes of `file` from `offset`, advised for sequential access.
#[allow(unsafe_code)]
fn map_window(file: &File, offset: u64, len: u64) -> Option<memmap2::Mmap> {
    let len = usize::try_from(len).ok()?;
    // SAFETY: the mapping is read-only and private to this function's caller, which only reads
    // it as a byte slice while `file` is open. The one hazard of file mappings, the file being
    // truncated underneath, raises SIGBUS rather than yielding stale memory; the CLI installs
    // `install_sigbus_guard` to turn that into a clear error and exit code 2.
    let map = unsafe {
        memmap2::MmapOptions::new()
            .offset(offset)
            .len(len)
            .populate()
            .map(file)
    }
    .ok()?;
    #[cfg(unix)]
    {
        let _ = map.advise(memmap2::Advice::Sequential);
    }
    Some(map)
}

/// Hashes a range of `path` with a reader thread filling buffers while the calling thread hashes
/// them, so one large file keeps two cores busy (copying and hashing) instead of one.
pub fn hash_range_pipelined(
    path: &Path,
    algo: HashAlgo,
    offset: u64,
    len: Option<u64>,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Vec<u8>> {
    use std::sync::mpsc::sync_channel;
    let mut file = File::open(path).map_err(|e| Error::io("opening", path, e))?;
    let end = range_end(&file, path, offset, len)?;
    seek_to(&mut file, offset, path)?;
    let total = end - offset;
    let (full_tx, full_rx) = sync_channel::<Result<(Vec<u8>, usize)>>(PIPE_BUFFERS);
    let (empty_tx, empty_rx) = sync_channel::<Vec<u8>>(PIPE_BUFFERS);
    for _ in 0..PIPE_BUFFERS {
        // The channel has room for every buffer, so this cannot block or fail.
        let _ = empty_tx.send(vec![0u8; PIPE_BUFFER]);
    }
    let mut hasher = algo.hasher();
    std::thread::scope(|scope| -> Result<()> {
        scope.spawn(move || {
            let mut remaining = total;
            while remaining > 0 {
                let Ok(mut buf) = empty_rx.recv() else {
                    return; // the hasher stopped
                };
                let res = match read_once(&mut file, &mut buf, remaining, path) {
                    Ok(0) => Err(Error::ShortRead {
                        path: path.to_path_buf(),
                        offset,
                        expected: total,
                    }),
                    other => other,
                };
                let failed = res.is_err();
                if let Ok(n) = res {
                    remaining -= n as u64;
                }
                if full_tx.send(res.map(|n| (buf, n))).is_err() || failed {
                    return;
                }
            }
        });
        let mut seen = 0u64;
        while seen < total {
            let Ok(msg) = full_rx.recv() else {
                break;
            };
            let (buf, n) = msg?;
            if let Some(chunk) = buf.get(..n) {
                hasher.update(chunk);
            }
            progress(n as u64);
            seen += n as u64;
            // The reader may have finished; a closed channel is fine.
            let _ = empty_tx.send(buf);
        }
        drop(full_rx);
        if seen < total {
            return Err(Error::ShortRead {
                path: path.to_path_buf(),
                offset,
                expected: total,
            });
        }
        Ok(())
    })?;
    Ok(hasher.finish())
}

/// Bytes mapped at a time by a [`Lane`]: two lanes per thread, so half a [`MAP_WINDOW`] keeps
/// the resident set where one lane per thread had it.
pub const LANE_WINDOW: u64 = MAP_WINDOW / 2;
/// Bytes read per step by a [`Lane`] in read mode.
const LANE_BUFFER: usize = 1 << 20;

/// One unit's bytes delivered a chunk at a time to the two-lane SHA-256 scheduler
/// ([`hash_paired`]): mapped in [`LANE_WINDOW`] windows or read into a buffer of its own.
struct Lane<'p> {
    path: &'p Path,
    file: File,
    offset: u64,
    expected: Option<u64>,
    /// Next file offset to fetch.
    pos: u64,
    /// End of the range (`u64::MAX`: read to the end of the file).
    end: u64,
    source: Source,
    /// Consumed bytes of the current chunk.
    at: usize,
    state: crate::sha256x2::Sha256,
}

enum Source {
    Read { buf: Vec<u8>, filled: usize },
    Map(Option<memmap2::Mmap>),
}

/// The bytes of `source`'s current chunk from `at` on.
fn unconsumed(source: &Source, at: usize) -> &[u8] {
    let chunk = match source {
        Source::Read { buf, filled } => buf.get(..*filled).unwrap_or_default(),
        Source::Map(Some(m)) => &m[..],
        Source::Map(None) => &[],
    };
    chunk.get(at..).unwrap_or_default()
}

impl<'p> Lane<'p> {
    fn open(path: &'p Path, offset: u64, len: Option<u64>, mode: IoMode) -> Result<Self> {
        let mut file = File::open(path).map_err(|e| Error::io("opening", path, e))?;
        let end = range_end(&file, path, offset, len)?;
        let map = mode == IoMode::Mapped && end - offset >= MAP_MIN;
        let source = if map {
            Source::Map(None)
        } else {
            seek_to(&mut file, offset, path)?;
            Source::Read {
                buf: Vec::new(),
                filled: 0,
            }
        };
        Ok(Lane {
            path,
            file,
            offset,
            expected: len,
            pos: offset,
            // Reads of a whole file go on to its end, as `hash_file_range` does.
            end: if map || len.is_some() { end } else { u64::MAX },
            source,
            at: 0,
            state: crate::sha256x2::Sha256::new(),
        })
    }

    /// The current chunk's unconsumed bytes.
    fn current(&self) -> &[u8] {
        unconsumed(&self.source, self.at)
    }

    /// The hash state and the current chunk, borrowed together.
    fn split(&mut self) -> (&mut crate::sha256x2::Sha256, &[u8]) {
        (&mut self.state, unconsumed(&self.source, self.at))
    }

    /// Makes sure the current chunk has bytes; `false` at the end of the range.
    fn fill(&mut self) -> Result<bool> {
        if !self.current().is_empty() {
            return Ok(true);
        }
        if self.pos >= self.end {
            return Ok(false);
        }
        self.at = 0;
        if let Source::Map(slot) = &mut self.source {
            *slot = None; // unmap the finished window first
            let window = (self.end - self.pos).min(LANE_WINDOW);
            if let Some(map) = map_window(&self.file, self.pos, window) {
                *slot = Some(map);
                self.pos += window;
                return Ok(true);
            }
            // Mapping refused: read the rest.
            seek_to(&mut self.file, self.pos, self.path)?;
            self.source = Source::Read {
                buf: Vec::new(),
                filled: 0,
            };
        }
        let Source::Read { buf, filled } = &mut self.source else {
            return Ok(false);
        };
        if buf.is_empty() {
            buf.resize(LANE_BUFFER, 0);
        }
        let n = read_once(&mut self.file, buf, self.end - self.pos, self.path)?;
        *filled = n;
        if n > 0 {
            self.pos += n as u64;
            return Ok(true);
        }
        if self.end == u64::MAX {
            self.end = self.pos;
            return Ok(false);
        }
        Err(Error::ShortRead {
            path: self.path.to_path_buf(),
            offset: self.offset,
            expected: self.expected.unwrap_or(self.end - self.offset),
        })
    }
}

/// SHA-256 of many ranges, two at a time on the calling thread: while two ranges are open their
/// blocks are compressed interleaved ([`crate::sha256x2::update_pair`]), which nearly doubles a
/// core's hashing speed with SHA-NI. `next` hands out the next range to hash (an index for the
/// caller and the range), `None` when there is no more work. Returns `(index, digest)` pairs.
pub fn hash_paired<'p>(
    mut next: impl FnMut() -> Option<(usize, &'p Path, u64, Option<u64>)>,
    mode: IoMode,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Vec<(usize, Vec<u8>)>> {
    let mut lanes: Vec<(usize, Lane<'p>)> = Vec::with_capacity(2);
    let mut done = Vec::new();
    let mut exhausted = false;
    loop {
        while lanes.len() < 2 && !exhausted {
            match next() {
                Some((i, path, offset, len)) => {
                    lanes.push((i, Lane::open(path, offset, len, mode)?))
                }
                None => exhausted = true,
            }
        }
        // Retire finished lanes; a freed slot is refilled before hashing on.
        let mut k = 0;
        let mut retired = false;
        while let Some((_, lane)) = lanes.get_mut(k) {
            if lane.fill()? {
                k += 1;
            } else {
                let (i, lane) = lanes.swap_remove(k);
                done.push((i, lane.state.finalize().to_vec()));
                retired = true;
            }
        }
        if retired && !exhausted {
            continue;
        }
        match lanes.as_mut_slice() {
            [] => break,
            [(_, a)] => {
                let (state, chunk) = a.split();
                let n = chunk.len().min(PROGRESS_STEP);
                state.update(chunk.get(..n).unwrap_or_default());
                a.at += n;
                progress(n as u64);
            }
            [(_, a), (_, b), ..] => {
                let (sa, ca) = a.split();
                let (sb, cb) = b.split();
                let n = ca.len().min(cb.len()).min(PROGRESS_STEP);
                crate::sha256x2::update_pair(
                    sa,
                    ca.get(..n).unwrap_or_default(),
                    sb,
                    cb.get(..n).unwrap_or_default(),
                );
                a.at += n;
                b.at += n;
                progress(2 * n as u64);
            }
        }
    }
    Ok(done)
}

/// Installs (once per process) a `SIGBUS` handler that reports a file shrinking while it was
/// memory-mapped for hashing and exits with status 2, instead of the default crash. Nothing is
/// written before hashing ends, so no partial signature is left behind. A no-op off Unix.
#[allow(unsafe_code)]
pub fn install_sigbus_guard() {
    #[cfg(unix)]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        extern "C" fn on_sigbus(_: libc::c_int) {
            const MSG: &[u8] =
                b"error: a model file shrank while it was being hashed (memory-mapped); \
nothing was written. Re-run when the files are stable, or pass --no-mmap.\n";
            // SAFETY: write(2) and _exit(2) are async-signal-safe; MSG is a static buffer.
            unsafe {
                libc::write(2, MSG.as_ptr().cast(), MSG.len());
                libc::_exit(2);
            }
        }
        ONCE.call_once(|| {
            // SAFETY: a zeroed sigaction is a valid "no flags, empty mask" value; the handler
            // only calls async-signal-safe functions.
            unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = on_sigbus as extern "C" fn(libc::c_int) as usize;
                libc::sigemptyset(&mut action.sa_mask);
                libc::sigaction(libc::SIGBUS, &action, std::ptr::null_mut());
            }
        });
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn known_sha256_of_file_and_range() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::File::create(&p)
            .unwrap()
            .write_all(b"0123abcd")
            .unwrap();
        // Values from model-signing's own doc examples.
        let whole = hash_file_range(&p, HashAlgo::Sha256, 4, Some(4), &|_| {}).unwrap();
        assert_eq!(
            hex::encode(whole),
            "88d4266fd4e6338d13b845fcf289579d209c897823b9217da3e161936f031589"
        );
        let all = hash_file_range(&p, HashAlgo::Sha256, 0, None, &|_| {}).unwrap();
        assert_eq!(all, HashAlgo::Sha256.digest(b"0123abcd"));
    }

    #[test]
    fn short_read_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"abc").unwrap();
        let err = hash_file_range(&p, HashAlgo::Sha256, 1, Some(10), &|_| {}).unwrap_err();
        assert!(
            matches!(err, Error::ShortRead { expected: 10, .. }),
            "{err}"
        );
    }

    #[test]
    fn progress_counts_every_byte_across_buffer_boundaries() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        let data = vec![7u8; READ_BUFFER + 123];
        std::fs::write(&p, &data).unwrap();
        let seen = std::sync::atomic::AtomicU64::new(0);
        let d = hash_file_range(&p, HashAlgo::Blake3, 0, None, &|n| {
            seen.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        })
        .unwrap();
        assert_eq!(seen.into_inner(), data.len() as u64);
        assert_eq!(d, blake3::hash(&data).as_bytes().to_vec());
    }

    #[test]
    fn algorithm_names_round_trip() {
        for a in [HashAlgo::Sha256, HashAlgo::Blake2b, HashAlgo::Blake3] {
            assert_eq!(HashAlgo::from_name(a.name()).unwrap(), a);
        }
        assert_eq!(HashAlgo::from_name("blake2").unwrap(), HashAlgo::Blake2b);
        assert!(HashAlgo::from_name("md5").is_err());
    }

    /// A file bigger than one mapping window with a non-repeating pattern, so a window mapped at
    /// the wrong offset changes the digest.
    fn patterned(dir: &Path, len: usize) -> std::path::PathBuf {
        let p = dir.join("big");
        let data: Vec<u8> = (0..len as u64)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        std::fs::write(&p, &data).unwrap();
        p
    }

    #[test]
    fn mapped_and_pipelined_digests_equal_read_digests() {
        let dir = tempfile::tempdir().unwrap();
        let len = (MAP_WINDOW + MAP_MIN + 12_345) as usize;
        let p = patterned(dir.path(), len);
        let ranges: [(u64, Option<u64>); 5] = [
            (0, None),
            (7, None),
            (1_000_001, Some(MAP_WINDOW + 3)),
            (0, Some(MAP_MIN - 1)),
            (len as u64, None),
        ];
        for (off, l) in ranges {
            let want = hash_file_range(&p, HashAlgo::Sha256, off, l, &|_| {}).unwrap();
            for mode in [IoMode::Read, IoMode::Mapped] {
                let seen = std::sync::atomic::AtomicU64::new(0);
                let got = hash_range(&p, HashAlgo::Sha256, off, l, mode, &|n| {
                    seen.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
                })
                .unwrap();
                assert_eq!(got, want, "{mode:?} {off} {l:?}");
                let expect_bytes = l.unwrap_or(len as u64 - off);
                assert_eq!(seen.into_inner(), expect_bytes, "{mode:?} {off} {l:?}");
            }
            let piped = hash_range_pipelined(&p, HashAlgo::Sha256, off, l, &|_| {}).unwrap();
            assert_eq!(piped, want, "pipelined {off} {l:?}");
        }
    }

    #[test]
    fn ranges_past_the_end_are_short_reads_in_every_mode() {
        let dir = tempfile::tempdir().unwrap();
        let len = (MAP_MIN * 2) as usize;
        let p = patterned(dir.path(), len);
        let l = Some(MAP_MIN * 2);
        for mode in [IoMode::Read, IoMode::Mapped] {
            let err = hash_range(&p, HashAlgo::Sha256, 5, l, mode, &|_| {}).unwrap_err();
            assert!(matches!(err, Error::ShortRead { .. }), "{mode:?}: {err}");
        }
        let err = hash_range_pipelined(&p, HashAlgo::Sha256, 5, l, &|_| {}).unwrap_err();
        assert!(matches!(err, Error::ShortRead { .. }), "{err}");
        let missing = dir.path().join("missing");
        let err = hash_range_pipelined(&missing, HashAlgo::Sha256, 0, None, &|_| {}).unwrap_err();
        assert!(err.to_string().contains("missing"), "{err}");
    }

    /// Runs `hash_paired` over `ranges` and returns the digests in range order.
    fn paired(path: &Path, ranges: &[(u64, Option<u64>)], mode: IoMode) -> Result<Vec<Vec<u8>>> {
        let mut it = ranges.iter().enumerate();
        let seen = std::sync::atomic::AtomicU64::new(0);
        let mut out = hash_paired(
            || it.next().map(|(i, &(o, l))| (i, path, o, l)),
            mode,
            &|n| {
                seen.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
            },
        )?;
        out.sort();
        let want: u64 = ranges
            .iter()
            .map(|&(o, l)| l.unwrap_or(std::fs::metadata(path).unwrap().len() - o))
            .sum();
        assert_eq!(seen.into_inner(), want, "progress counts every byte");
        Ok(out.into_iter().map(|(_, d)| d).collect())
    }

    #[test]
    fn paired_lanes_give_the_read_digests() {
        let dir = tempfile::tempdir().unwrap();
        let len = (MAP_WINDOW + MAP_MIN + 12_345) as usize;
        let p = patterned(dir.path(), len);
        // Ranges of unequal sizes crossing window boundaries, odd offsets, tiny and empty ones,
        // and the whole file.
        let ranges = [
            (0, None),
            (7, Some(MAP_WINDOW + 3)),
            (MAP_MIN + 1, Some(MAP_MIN - 1)),
            (100, Some(0)),
            (3, Some(65)),
            (len as u64 - 10, None),
            (MAP_MIN, Some(MAP_MIN)),
        ];
        for mode in [IoMode::Read, IoMode::Mapped] {
            let got = paired(&p, &ranges, mode).unwrap();
            for (&(o, l), d) in ranges.iter().zip(&got) {
                let want = hash_file_range(&p, HashAlgo::Sha256, o, l, &|_| {}).unwrap();
                assert_eq!(d, &want, "{mode:?} range {o}+{l:?}");
            }
        }
        // Past the end: a short read in both modes; a missing file names itself.
        for mode in [IoMode::Read, IoMode::Mapped] {
            let err = paired(&p, &[(0, Some(10)), (5, Some(len as u64))], mode).unwrap_err();
            assert!(matches!(err, Error::ShortRead { .. }), "{mode:?}: {err}");
            let missing = dir.path().join("missing");
            let err = paired(&missing, &[(0, None)], mode).unwrap_err();
            assert!(err.to_string().contains("missing"), "{err}");
        }
        let empty = dir.path().join("empty");
        std::fs::write(&empty, b"").unwrap();
        let got = paired(&empty, &[(0, None), (0, Some(0))], IoMode::Mapped).unwrap();
        assert_eq!(got, vec![HashAlgo::Sha256.digest(b""); 2]);
    }

    #[test]
    fn empty_file_hashes_in_every_mode() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("empty");
        std::fs::write(&p, b"").unwrap();
        let want = HashAlgo::Sha256.digest(b"");
        for mode in [IoMode::Read, IoMode::Mapped] {
            assert_eq!(
                hash_range(&p, HashAlgo::Sha256, 0, None, mode, &|_| {}).unwrap(),
                want
            );
        }
        assert_eq!(
            hash_range_pipelined(&p, HashAlgo::Sha256, 0, None, &|_| {}).unwrap(),
            want
        );
    }

    /// A file truncated while it is mapped raises SIGBUS; with the guard installed the process
    /// reports it and exits 2 instead of dying on the signal. Runs the scenario in a child process
    /// (this same test binary), because the guard ends the process.
    #[cfg(unix)]
    #[test]
    fn file_truncated_under_a_mapping_exits_2_with_a_message() {
        const CHILD: &str = "LANTERN_TEST_SIGBUS_FILE";
        if let Some(path) = std::env::var_os(CHILD) {
            let path = std::path::PathBuf::from(path);
            install_sigbus_guard();
            let cut = std::sync::atomic::AtomicBool::new(false);
            let _ = hash_range(&path, HashAlgo::Sha256, 0, None, IoMode::Mapped, &|_| {
                if !cut.swap(true, std::sync::atomic::Ordering::Relaxed) {
                    let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
                    f.set_len(0).unwrap();
                }
            });
            // Not reached: the next chunk of the mapping is gone.
            std::process::exit(0);
        }
        let dir = tempfile::tempdir().unwrap();
        let p = patterned(dir.path(), (MAP_MIN * 2) as usize);
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "hash::tests::file_truncated_under_a_mapping_exits_2_with_a_message",
                "--test-threads=1",
            ])
            .env(CHILD, &p)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
        assert!(
            stderr.contains("shrank while it was being hashed"),
            "{stderr}"
        );
    }
}
