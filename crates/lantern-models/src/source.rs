//! Random-access byte sources: an in-memory blob or a file read with seeks, so that big
//! checkpoints are scanned by reading headers and pickles only, never the tensor data.

use std::cell::RefCell;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};

/// Bytes that can be read at any offset.
pub trait Source {
    /// Total length in bytes.
    fn len(&self) -> u64;
    /// Read up to `len` bytes at `off` (fewer at the end of the source).
    fn read_at(&self, off: u64, len: usize) -> io::Result<Vec<u8>>;
    /// Whether the source is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The whole source if it is already in memory.
    fn as_slice(&self) -> Option<&[u8]> {
        None
    }
}

/// An in-memory blob.
pub struct Mem<'a>(pub &'a [u8]);

impl Source for Mem<'_> {
    fn len(&self) -> u64 {
        self.0.len() as u64
    }
    fn read_at(&self, off: u64, len: usize) -> io::Result<Vec<u8>> {
        let start = usize::try_from(off).unwrap_or(usize::MAX).min(self.0.len());
        let end = start.saturating_add(len).min(self.0.len());
        Ok(self.0[start..end].to_vec())
    }
    fn as_slice(&self) -> Option<&[u8]> {
        Some(self.0)
    }
}

/// A file on disk, read with seeks.
pub struct FileSource {
    file: RefCell<File>,
    len: u64,
}

impl FileSource {
    /// Open a file.
    pub fn open(path: &std::path::Path) -> io::Result<Self> {
        let file = File::open(path)?;
        let len = file.metadata()?.len();
        Ok(FileSource {
            file: RefCell::new(file),
            len,
        })
    }
}

impl Source for FileSource {
    fn len(&self) -> u64 {
        self.len
    }
    fn read_at(&self, off: u64, len: usize) -> io::Result<Vec<u8>> {
        if off >= self.len {
            return Ok(Vec::new());
        }
        let n = (len as u64).min(self.len - off) as usize;
        let mut f = self.file.borrow_mut();
        f.seek(SeekFrom::Start(off))?;
        let mut buf = Vec::with_capacity(n);
        f.by_ref().take(n as u64).read_to_end(&mut buf)?;
        Ok(buf)
    }
}

/// A window `[start, start + len)` of another source (a stored archive member), read lazily.
pub struct Window<'a> {
    inner: &'a dyn Source,
    start: u64,
    len: u64,
}

impl<'a> Window<'a> {
    /// The part of `inner` from `start`, `len` bytes long (clamped to the end of `inner`).
    pub fn new(inner: &'a dyn Source, start: u64, len: u64) -> Self {
        let start = start.min(inner.len());
        let len = len.min(inner.len() - start);
        Window { inner, start, len }
    }
}

impl Source for Window<'_> {
    fn len(&self) -> u64 {
        self.len
    }
    fn read_at(&self, off: u64, len: usize) -> io::Result<Vec<u8>> {
        if off >= self.len {
            return Ok(Vec::new());
        }
        let n = (len as u64).min(self.len - off) as usize;
        self.inner.read_at(self.start + off, n)
    }
    fn as_slice(&self) -> Option<&[u8]> {
        let s = self.inner.as_slice()?;
        let start = usize::try_from(self.start).ok()?;
        let end = start.checked_add(usize::try_from(self.len).ok()?)?;
        s.get(start..end)
    }
}

/// A sequential reader that owns its [`Window`] (an archive member read as a stream).
pub struct WindowReader<'a> {
    w: Window<'a>,
    pos: u64,
}

impl<'a> WindowReader<'a> {
    /// Read `w` from its start.
    pub fn new(w: Window<'a>) -> Self {
        WindowReader { w, pos: 0 }
    }
}

impl Read for WindowReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        read_chunk(&self.w, &mut self.pos, buf)
    }
}

/// Read the next chunk (at most 64 KiB) of `src` at `*pos` into `buf`, advancing `*pos`.
fn read_chunk(src: &dyn Source, pos: &mut u64, buf: &mut [u8]) -> io::Result<usize> {
    let chunk = src.read_at(*pos, buf.len().min(64 * 1024))?;
    buf[..chunk.len()].copy_from_slice(&chunk);
    *pos += chunk.len() as u64;
    Ok(chunk.len())
}

/// A sequential reader over a [`Source`], reading in 64 KiB chunks.
pub struct SourceReader<'a> {
    src: &'a dyn Source,
    pos: u64,
}

impl<'a> SourceReader<'a> {
    /// Read `src` from its start.
    pub fn new(src: &'a dyn Source) -> Self {
        SourceReader { src, pos: 0 }
    }
}

impl Read for SourceReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        read_chunk(self.src, &mut self.pos, buf)
    }
}
