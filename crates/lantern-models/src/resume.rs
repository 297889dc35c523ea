//! Pickle sniffing past a value larger than the sniffed head.
//!
//! A protocol 0/1 pickle has no header: when its first value (a long string or bytes) is
//! larger than [`crate::HEAD_LEN`], the head ends inside that value's argument and shows no
//! evidence. With the whole blob at hand (a file read with seeks, or bytes in memory), the
//! sniff goes on: a length-prefixed argument is skipped by its length (bounded by the blob), a
//! line-terminated string by finding its newline (bounded by [`MAX_LINE_SCAN`]), and the
//! argument is replaced by an empty one of the same opcode in a rebuilt buffer that the VM
//! sniffs again. The caller then asks for the usual evidence (imports) from what follows:
//! random data fails within a few opcodes.

use crate::pickle::{self, Prefix};
use crate::source::Source;

/// Bytes read after a skipped argument (and the head itself).
const CHUNK: usize = 64 * 1024;
/// Arguments longer than this are skipped (shorter ones are read within the next chunk).
const SKIP_OVER: u64 = (CHUNK / 2) as u64;
/// Reads after the head per blob (each skips an argument or reads on); after them the sniff
/// gives up (no evidence, no detection). Bounds the rebuilt buffer to ~1 MiB.
const MAX_SKIPS: usize = 16;
/// Longest line-terminated argument searched for its newline.
pub(crate) const MAX_LINE_SCAN: u64 = 64 * 1024 * 1024;

/// The sniff of `src` (whose first bytes are `head`), continued past arguments that run beyond
/// the bytes at hand. `None` when the VM rejects the stream; `Some((prefix, skipped))` with the
/// number of arguments skipped otherwise.
pub(crate) fn sniff_source(src: &dyn Source, head: &[u8]) -> Option<(Prefix, usize)> {
    let mut buf = head.to_vec();
    // Offset in `src` of the byte after `buf` (the tail of `buf` is a verbatim copy of `src`).
    let mut src_end = head.len() as u64;
    let mut skipped = 0;
    let mut rounds = 0;
    let mut last_cut = None;
    loop {
        let complete = src_end >= src.len();
        let p = pickle::sniff(&buf, complete)?;
        let Some(cut) = p.cut_at.filter(|_| !complete && rounds < MAX_SKIPS) else {
            return Some((p, skipped));
        };
        rounds += 1;
        let op_at = src_end - (buf.len() - cut) as u64;
        if last_cut == Some(op_at) {
            // No progress: the opcode's argument is too long and cannot be skipped.
            return Some((p, skipped));
        }
        last_cut = Some(op_at);
        buf.truncate(cut);
        let resume_at = match skip_argument(src, op_at)? {
            Some((patch, after)) => {
                buf.extend_from_slice(&patch);
                skipped += 1;
                after
            }
            // Not a long argument: read on from the opcode itself.
            None => op_at,
        };
        let next = src.read_at(resume_at, CHUNK).ok()?;
        src_end = resume_at + next.len() as u64;
        buf.extend_from_slice(&next);
    }
}

/// For a long argument at `op_at` (over [`SKIP_OVER`] bytes): the opcode with an empty argument
/// and where the argument ends in `src`. `Ok(None)` for any other opcode; the outer `None`
/// when the argument cannot be what the unpickler accepts (its length runs past the blob, a
/// negative length, no newline within [`MAX_LINE_SCAN`], a badly quoted string).
fn skip_argument(src: &dyn Source, op_at: u64) -> Option<Option<(Vec<u8>, u64)>> {
    let hdr = src.read_at(op_at, 9).ok()?;
    let op = *hdr.first()?;
    let width = match op {
        b'T' | b'B' | b'X' | 0x8b => 4,
        0x8d | 0x8e | 0x96 => 8,
        b'S' | b'V' | b'F' | b'I' | b'L' => return skip_line(src, op_at, op),
        _ => return Some(None),
    };
    let len_bytes = hdr.get(1..1 + width)?;
    let n = len_bytes
        .iter()
        .rev()
        .fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
    if matches!(op, b'T' | 0x8b) && n > i32::MAX as u64 {
        return None;
    }
    let after = op_at.checked_add(1 + width as u64)?.checked_add(n)?;
    if after > src.len() {
        return None;
    }
    if n <= SKIP_OVER {
        return Some(None);
    }
    let mut patch = vec![op];
    patch.resize(1 + width, 0);
    Some(Some((patch, after)))
}

/// A line-terminated argument at `op_at`: STRING (`S'...'\n`), UNICODE (`V...\n`), or the
/// number lines FLOAT, INT and LONG, which Python also reads at any length (`F0.000…01\n`,
/// `I000…01\n`: leading zeros do not count towards its digit limit). Find the newline.
fn skip_line(src: &dyn Source, op_at: u64, op: u8) -> Option<Option<(Vec<u8>, u64)>> {
    let start = op_at + 1;
    let first = src.read_at(start, 1).ok()?;
    let mut pos = start;
    let nl = loop {
        if pos - start > MAX_LINE_SCAN {
            return None;
        }
        let chunk = src.read_at(pos, CHUNK).ok()?;
        if chunk.is_empty() {
            return None;
        }
        if let Some(i) = memchr::memchr(b'\n', &chunk) {
            break pos + i as u64;
        }
        pos += chunk.len() as u64;
    };
    if nl - start <= SKIP_OVER {
        return Some(None);
    }
    if op == b'S' {
        // Python: the line (without its newline) starts and ends with the same quote.
        let q = *first.first()?;
        let last = src.read_at(nl - 1, 1).ok()?;
        if !matches!(q, b'\'' | b'"') || last.first() != Some(&q) {
            return None;
        }
        return Some(Some((vec![b'S', q, q, b'\n'], nl + 1)));
    }
    match op {
        b'V' => Some(Some((vec![b'V', b'\n'], nl + 1))),
        // A number the VM reads like the long one: the value itself does not matter.
        _ => Some(Some((vec![op, b'0', b'\n'], nl + 1))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Mem;

    fn head(b: &[u8]) -> &[u8] {
        &b[..b.len().min(crate::HEAD_LEN)]
    }

    #[test]
    fn skips_long_binunicode_and_finds_the_import() {
        let mut b = vec![b'X'];
        b.extend_from_slice(&100_000u32.to_le_bytes());
        b.resize(b.len() + 100_000, b'A');
        b.extend_from_slice(b"0cos\nsystem\n(S'id'\ntR.");
        let (p, skipped) = sniff_source(&Mem(&b), head(&b)).expect("pickle");
        assert_eq!(skipped, 1);
        assert_eq!(p.imports, 1);
        assert!(p.stopped);
    }

    #[test]
    fn skips_long_string_line() {
        let mut b = b"(S'".to_vec();
        b.resize(b.len() + 70_000, b'A');
        b.extend_from_slice(b"'\np0\n0cos\nsystem\n(S'id'\ntR.");
        let (p, skipped) = sniff_source(&Mem(&b), head(&b)).expect("pickle");
        assert_eq!((skipped, p.imports, p.stopped), (1, 1, true));
    }

    #[test]
    fn skips_long_number_lines() {
        // Python reads these at any length: `F0.000…01` is 1e-70001, `I000…01` is 1.
        for (op, body) in [(b'F', b"0.".as_slice()), (b'I', b""), (b'L', b"")] {
            let mut b = vec![op];
            b.extend_from_slice(body);
            b.resize(b.len() + 70_000, b'0');
            b.extend_from_slice(b"1\n0cos\nsystem\n(S'id'\ntR.");
            let (p, skipped) = sniff_source(&Mem(&b), head(&b)).expect("pickle");
            assert_eq!(
                (skipped, p.imports, p.stopped),
                (1, 1, true),
                "{}",
                op as char
            );
        }
    }

    #[test]
    fn badly_quoted_long_string_is_rejected() {
        let mut b = b"S'".to_vec();
        b.resize(b.len() + 70_000, b'A');
        b.extend_from_slice(b"\n0cos\nsystem\n.");
        assert!(sniff_source(&Mem(&b), head(&b)).is_none());
    }

    #[test]
    fn length_past_the_blob_is_rejected() {
        let mut b = vec![b'B'];
        b.extend_from_slice(&200_000u32.to_le_bytes());
        b.resize(100_000, 0);
        assert!(sniff_source(&Mem(&b), head(&b)).is_none());
    }

    #[test]
    fn skips_are_bounded() {
        // Twenty long values in a row: the sniff stops after MAX_SKIPS without evidence.
        let mut b = Vec::new();
        for _ in 0..20 {
            b.push(b'B');
            b.extend_from_slice(&70_000u32.to_le_bytes());
            b.resize(b.len() + 70_000, 1);
            b.push(b'0');
        }
        b.extend_from_slice(b"cos\nsystem\n.");
        let (p, skipped) = sniff_source(&Mem(&b), head(&b)).expect("valid so far");
        assert_eq!(skipped, MAX_SKIPS);
        assert_eq!(p.imports, 0);
    }
}
