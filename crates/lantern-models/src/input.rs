//! The pickle VM's input: a stream read through a bounded buffer, so that a pickle of any size
//! (a file read sequentially, a decompressing reader, a member of an archive) is analysed in
//! constant memory. Short arguments are handed out whole; long ones are skipped (or read
//! through a limited sub-reader) and only their first bytes kept.

use std::io::{self, Read};

/// Bytes asked of the reader at a time.
const CHUNK: usize = 64 * 1024;
/// Consumed bytes kept at the front of the buffer before it is compacted.
const COMPACT_AT: usize = 1024 * 1024;
/// Longest argument read whole into memory; longer ones are skipped (see [`Input::skip`]).
pub(crate) const READ_WHOLE: u64 = 16 * 1024 * 1024;
/// Bytes kept of a line longer than this (its first bytes and its last byte).
pub(crate) const LINE_KEEP: usize = 1024 * 1024;

/// A byte stream with a cursor, read ahead through a bounded buffer.
pub(crate) struct Input<'r> {
    reader: &'r mut dyn Read,
    buf: Vec<u8>,
    /// Cursor in `buf`.
    at: usize,
    /// Stream offset of `buf[0]`.
    start: u64,
    eof: bool,
    /// The reader's error, when one ended the stream.
    error: Option<io::Error>,
}

impl<'r> Input<'r> {
    /// Read `reader` from its current position (offset 0).
    pub(crate) fn new(reader: &'r mut dyn Read) -> Self {
        Input {
            reader,
            buf: Vec::new(),
            at: 0,
            start: 0,
            eof: false,
            error: None,
        }
    }

    /// Offset of the next byte in the stream.
    pub(crate) fn pos(&self) -> u64 {
        self.start + self.at as u64
    }

    /// The error that ended the stream, if any (taken once).
    pub(crate) fn take_error(&mut self) -> Option<io::Error> {
        self.error.take()
    }

    /// Ensure `n` unread bytes are buffered, or as many as the stream has left; returns how
    /// many are.
    fn fill(&mut self, n: usize) -> usize {
        if self.at >= COMPACT_AT {
            self.buf.drain(..self.at);
            self.start += self.at as u64;
            self.at = 0;
        }
        while self.buf.len() - self.at < n && !self.eof {
            let have = self.buf.len();
            let want = (n - (have - self.at)).max(CHUNK);
            self.buf.resize(have + want, 0);
            match self.reader.read(&mut self.buf[have..]) {
                Ok(0) => {
                    self.buf.truncate(have);
                    self.eof = true;
                }
                Ok(k) => self.buf.truncate(have + k),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => self.buf.truncate(have),
                Err(e) => {
                    self.buf.truncate(have);
                    self.error = Some(e);
                    self.eof = true;
                }
            }
        }
        (self.buf.len() - self.at).min(n)
    }

    /// The next `n` bytes (at most [`READ_WHOLE`] plus a little) without consuming them; fewer
    /// at the end of the stream.
    pub(crate) fn peek(&mut self, n: usize) -> &[u8] {
        let k = self.fill(n);
        &self.buf[self.at..self.at + k]
    }

    /// Consume `n` bytes; `None` (nothing consumed) when the stream ends first.
    pub(crate) fn consume(&mut self, n: usize) -> Option<&[u8]> {
        if self.fill(n) < n {
            return None;
        }
        let s = self.at;
        self.at += n;
        Some(&self.buf[s..s + n])
    }

    /// Consume `n` bytes without keeping them; returns how many there were (fewer when the
    /// stream ends first).
    pub(crate) fn skip(&mut self, n: u64) -> u64 {
        let mut left = n;
        while left > 0 {
            let k = self.fill(CHUNK.min(usize::try_from(left).unwrap_or(CHUNK)));
            if k == 0 {
                break;
            }
            self.at += k;
            left -= k as u64;
        }
        n - left
    }

    /// Consume a line and its `\n`; a line longer than [`LINE_KEEP`] keeps its first bytes
    /// and its last one. `None` when the stream ends before a newline.
    pub(crate) fn line(&mut self) -> Option<Vec<u8>> {
        let mut kept = Vec::new();
        let mut last = None;
        loop {
            let avail = self.fill(1);
            if avail == 0 {
                return None;
            }
            let rest = &self.buf[self.at..];
            let (chunk, done) = match memchr::memchr(b'\n', rest) {
                Some(i) => (&rest[..i], true),
                None => (rest, false),
            };
            let room = LINE_KEEP.saturating_sub(kept.len());
            kept.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if let Some(&b) = chunk.last() {
                last = Some(b);
            }
            let overflow = chunk.len() > room;
            self.at += chunk.len() + usize::from(done);
            if overflow || kept.len() >= LINE_KEEP {
                // Keep the closing quote of a long string literal.
                if let (Some(b), true) = (last, kept.len() >= LINE_KEEP) {
                    kept.truncate(LINE_KEEP - 1);
                    kept.push(b);
                }
            }
            if done {
                return Some(kept);
            }
        }
    }
}

impl Read for Input<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let k = self.fill(out.len().min(CHUNK));
        out[..k].copy_from_slice(&self.buf[self.at..self.at + k]);
        self.at += k;
        if k == 0 {
            if let Some(e) = self.error.take() {
                return Err(e);
            }
        }
        Ok(k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_skips_and_lines_track_the_offset() {
        let data: Vec<u8> = b"abc\nxyz"
            .iter()
            .copied()
            .chain(std::iter::repeat_n(b'q', 200_000))
            .chain(*b"\nend")
            .collect();
        let mut r = &data[..];
        let mut i = Input::new(&mut r);
        assert_eq!(i.line().as_deref(), Some(&b"abc"[..]));
        assert_eq!(i.pos(), 4);
        assert_eq!(i.consume(3), Some(&b"xyz"[..]));
        assert_eq!(i.skip(200_000), 200_000);
        assert_eq!(i.line().as_deref(), Some(&b""[..]));
        assert_eq!(i.peek(10), b"end");
        assert_eq!(i.consume(4), None);
        assert_eq!(i.consume(3), Some(&b"end"[..]));
        assert_eq!(i.skip(5), 0);
    }

    #[test]
    fn a_long_line_keeps_its_head_and_last_byte() {
        let mut data = b"'".to_vec();
        data.extend(std::iter::repeat_n(b'a', 3 * LINE_KEEP));
        data.extend_from_slice(b"'\nN");
        let mut r = &data[..];
        let mut i = Input::new(&mut r);
        let l = i.line().unwrap();
        assert_eq!(l.len(), LINE_KEEP);
        assert_eq!((l[0], l[l.len() - 1]), (b'\'', b'\''));
        assert_eq!(i.consume(1), Some(&b"N"[..]));
        assert_eq!(i.pos(), data.len() as u64);
    }
}
