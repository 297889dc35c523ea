//! Big text inputs as overlapping windows, so memory stays bounded whatever the input's size.
//!
//! A text input larger than [`WINDOW`] (a file, standard input, a git blob) is read and
//! delivered as consecutive [`Blob`]s of at most [`WINDOW`] bytes, each carrying a [`Window`]:
//! where its first byte sits in the whole input (byte offset, line and column), and which part of
//! it the window *owns*. Consecutive windows overlap by [`WINDOW_OVERLAP`] bytes:
//!
//! ```text
//!  window k   |C|.............. owned ..............|M|
//!  window k+1                                   |C|M|.......... owned ...
//! ```
//!
//! The overlap is a leading context margin `C` plus a trailing match margin `M`, each
//! [`WINDOW_MARGIN`] bytes. A window owns the matches that *start* between its context margin and
//! its match margin (the first window from its start, the last window to its end), so every
//! match no longer than `M` bytes is seen whole by the one window that owns it, with at least `C`
//! bytes of context before it, and a match cut by a window's end is never reported.
//!
//! How the margin is chosen: the secret engine runs each rule's regex only on a window around a
//! keyword hit, so no match it reports spans more than that window (16 KiB, see
//! `lantern_secrets::Scanner::MAX_MATCH_SPAN`, which a test of that crate checks against
//! [`WINDOW_MARGIN`]); the context it reads before a match (line context, allowlist markers)
//! is smaller still. 64 KiB covers both four times over for a 0.8% rescan cost per 16 MiB window.
//!
//! Analysers run on each window as on a whole blob and then call [`Window::rebase`] on what they
//! found: locations outside the owned part are dropped, the others moved to whole-input
//! coordinates, so the same match seen by two windows is one finding at one place.

use crate::{Blob, BlobKind, Visitor};
use lantern_core::{Location, Report};
use std::io::{self, Read};
use std::path::PathBuf;

/// Most bytes of a text input held in memory at once (one window).
pub const WINDOW: usize = 16 << 20;
/// Each of the two margins of the overlap between consecutive windows (see the module doc).
pub const WINDOW_MARGIN: usize = 64 << 10;
/// Bytes shared by consecutive windows: a context margin plus a match margin.
pub const WINDOW_OVERLAP: usize = 2 * WINDOW_MARGIN;

/// Where one window of a big input sits in the whole, and which matches it owns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Window {
    /// 0 for the first window of the input.
    pub index: u32,
    /// Byte offset of the window's first byte in the whole input.
    pub offset: u64,
    /// Newlines in the whole input before the window's first byte.
    pub line: u32,
    /// Bytes between the last newline before the window and its first byte (the column of
    /// that byte, 0-based).
    pub column: u32,
    /// `true` for the window that reaches the end of what is scanned.
    pub last: bool,
    /// Length of the window's data.
    pub len: usize,
}

impl Window {
    /// Whether a match starting at `rel` (a byte offset in this window's data) is this
    /// window's to report.
    pub fn owns(&self, rel: u64) -> bool {
        let from = if self.index == 0 { 0 } else { WINDOW_MARGIN };
        let to = if self.last {
            u64::MAX
        } else {
            self.len.saturating_sub(WINDOW_MARGIN) as u64
        };
        (from as u64) <= rel && rel < to
    }

    /// `loc` (found in this window's data) in whole-input coordinates, or `None` when the match
    /// there belongs to a neighbouring window. Locations without an offset (a finding about
    /// the input as a whole) are kept as they are.
    pub fn rebase_location(&self, loc: &Location) -> Option<Location> {
        let Some(rel) = loc.offset else {
            return Some(loc.clone());
        };
        if !self.owns(rel) {
            return None;
        }
        let mut out = loc.clone();
        out.offset = Some(self.offset.saturating_add(rel));
        if let Some(line) = loc.line {
            if line <= 1 {
                out.column = loc.column.map(|c| c.saturating_add(self.column));
            }
            out.line = Some(line.saturating_add(self.line));
        }
        Some(out)
    }

    /// What analysers found in this window, restricted to what the window owns and moved to
    /// whole-input coordinates. Warnings are kept.
    pub fn rebase(&self, found: Report) -> Report {
        let mut out = Report::new();
        for mut f in found.findings {
            let locations: Vec<Location> = f
                .locations
                .iter()
                .filter_map(|l| self.rebase_location(l))
                .collect();
            if !locations.is_empty() {
                f.locations = locations;
                out.push(f);
            }
        }
        for w in found.warnings {
            out.warn(w);
        }
        out
    }
}

/// Whether an input whose first bytes are `head` is scanned as text in windows: UTF-8 or
/// 8-bit text, or UTF-16/32 (by byte-order mark or NUL pattern). Binary inputs are not: model
/// files and archives need their whole bytes or a seekable file.
pub(crate) fn is_text_head(head: &[u8]) -> bool {
    !crate::is_binary(head) || crate::decode::wide_encoding(head).is_some()
}

/// The reason given for a text input of `size` bytes larger than `max`, of which the first
/// `scanned` bytes were scanned.
pub(crate) fn too_big(size: u64, max: u64, scanned: u64) -> String {
    format!(
        "text larger than max_file_size ({size} > {max} bytes): only the first {scanned} bytes scanned"
    )
}

/// The reason given for a stream longer than `max_file_size`.
pub(crate) fn too_big_stream(max: u64) -> String {
    format!("input longer than max_file_size ({max} bytes): only the first {max} bytes scanned")
}

/// What a windowed read saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Windowed {
    /// Bytes read and delivered.
    pub scanned: u64,
    /// The input had more bytes than `limit`.
    pub truncated: bool,
}

/// One input to deliver as windows.
pub(crate) struct Input {
    /// Where it is.
    pub location: Location,
    /// What it is.
    pub kind: BlobKind,
    /// The file on disk, when it is one.
    pub disk_path: Option<PathBuf>,
    /// Its whole size when known (else the bytes read are reported).
    pub size: Option<u64>,
}

/// Deliver `head` followed by the rest of `r` as overlapping windows, reading at most `limit`
/// bytes in all (`head` included). Holds at most two windows in memory.
pub(crate) fn deliver(
    input: &Input,
    head: Vec<u8>,
    r: &mut dyn Read,
    limit: u64,
    v: &dyn Visitor,
) -> io::Result<Windowed> {
    let mut buf = head;
    // A head read past the limit (to learn that the input is longer) is cut back to it.
    let cut = buf.len() as u64 > limit;
    buf.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let mut read = buf.len() as u64;
    let mut at = Window {
        index: 0,
        offset: 0,
        line: 0,
        column: 0,
        last: false,
        len: 0,
    };
    loop {
        read += fill(&mut buf, r, limit.saturating_sub(read))?;
        let full = buf.len() >= WINDOW;
        let truncated = read >= limit && (cut || has_more(r)?);
        at.last = !full || read >= limit;
        at.len = buf.len();
        let step = WINDOW - WINDOW_OVERLAP;
        let next = if at.last {
            Vec::new()
        } else {
            let mut n = Vec::with_capacity(WINDOW);
            n.extend_from_slice(buf.get(step..).unwrap_or_default());
            n
        };
        let advanced = buf.get(..step).unwrap_or_default();
        let (lines, column) = advance(advanced, at.column);
        deliver_one(input, buf, at, read, v);
        if at.last {
            return Ok(Windowed {
                scanned: read,
                truncated,
            });
        }
        at.index = at.index.saturating_add(1);
        at.offset += step as u64;
        at.line = at.line.saturating_add(lines);
        at.column = column;
        buf = next;
    }
}

fn deliver_one(input: &Input, data: Vec<u8>, window: Window, read: u64, v: &dyn Visitor) {
    v.blob(Blob {
        location: input.location.clone(),
        data,
        partial: false,
        disk_path: input.disk_path.clone(),
        size: input.size.unwrap_or(read),
        kind: input.kind,
        window: Some(window),
    });
}

/// Newlines in `skipped` and the column after it, given the column at its start.
fn advance(skipped: &[u8], column: u32) -> (u32, u32) {
    let lines = skipped.iter().filter(|&&b| b == b'\n').count();
    let column = match skipped.iter().rposition(|&b| b == b'\n') {
        Some(i) => skipped.len() - i - 1,
        None => (column as usize).saturating_add(skipped.len()),
    };
    (
        u32::try_from(lines).unwrap_or(u32::MAX),
        u32::try_from(column).unwrap_or(u32::MAX),
    )
}

/// Read into `buf` until it holds [`WINDOW`] bytes, `r` ends or `budget` bytes were read.
fn fill(buf: &mut Vec<u8>, r: &mut dyn Read, budget: u64) -> io::Result<u64> {
    let want = (WINDOW.saturating_sub(buf.len()) as u64).min(budget);
    if buf.capacity() < WINDOW {
        buf.reserve_exact(WINDOW - buf.len());
    }
    r.take(want).read_to_end(buf).map(|n| n as u64)
}

/// Whether `r` has at least one more byte (consumed).
fn has_more(r: &mut dyn Read) -> io::Result<bool> {
    let mut b = [0u8; 1];
    loop {
        match r.read(&mut b) {
            Ok(n) => return Ok(n > 0),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Windows(Mutex<Vec<(Window, Vec<u8>)>>);

    impl Visitor for Windows {
        fn blob(&self, b: Blob) {
            let w = b.window.unwrap();
            self.0.lock().unwrap().push((w, b.data));
        }
        fn warning(&self, _w: lantern_core::Warning) {}
    }

    fn input() -> Input {
        Input {
            location: Location::path("big.txt"),
            kind: BlobKind::File,
            disk_path: None,
            size: None,
        }
    }

    #[test]
    fn windows_cover_the_input_and_each_byte_is_owned_once() {
        let len = 2 * WINDOW + 12_345;
        let data: Vec<u8> = (0..len)
            .map(|i| if i % 97 == 0 { b'\n' } else { b'a' })
            .collect();
        let v = Windows::default();
        let got = deliver(&input(), Vec::new(), &mut &data[..], u64::MAX, &v).unwrap();
        assert_eq!(got.scanned, len as u64);
        assert!(!got.truncated);
        let ws = v.0.into_inner().unwrap();
        assert_eq!(ws.len(), 3);
        let mut owned = vec![0u8; len];
        for (w, d) in &ws {
            assert_eq!(
                &data[w.offset as usize..w.offset as usize + d.len()],
                &d[..]
            );
            let before = &data[..w.offset as usize];
            assert_eq!(
                w.line as usize,
                before.iter().filter(|&&b| b == b'\n').count()
            );
            let col = before
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(before.len(), |i| before.len() - i - 1);
            assert_eq!(w.column as usize, col);
            for rel in 0..d.len() {
                if w.owns(rel as u64) {
                    owned[w.offset as usize + rel] += 1;
                }
            }
        }
        assert!(owned.iter().all(|&n| n == 1));
        assert!(ws.last().unwrap().0.last);
    }

    #[test]
    fn a_limit_stops_the_read_and_says_so() {
        let data = vec![b'x'; WINDOW + 10];
        let v = Windows::default();
        let got = deliver(&input(), Vec::new(), &mut &data[..], WINDOW as u64, &v).unwrap();
        assert_eq!(
            got,
            Windowed {
                scanned: WINDOW as u64,
                truncated: true
            }
        );
        let v = Windows::default();
        let got = deliver(&input(), Vec::new(), &mut &data[..], u64::MAX, &v).unwrap();
        assert_eq!(
            got,
            Windowed {
                scanned: WINDOW as u64 + 10,
                truncated: false
            }
        );
    }
}
