//! Text hidden behind an encoding, made visible to the analysers: UTF-16 and UTF-32 text (by
//! byte-order mark or by its pattern of NUL bytes) decoded to UTF-8, and runs of base64, hex or
//! percent-encoding long enough to hold a secret decoded into one buffer whose every piece
//! remembers where in the blob it came from (TruffleHog and Kingfisher decode the same way).
//!
//! Everything is bounded by the input: decoding never produces more bytes than it reads, a
//! decoded run is kept only when it is text, and decoding is never nested.

/// An encoding text was found under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// UTF-16, little endian.
    Utf16Le,
    /// UTF-16, big endian.
    Utf16Be,
    /// UTF-32, little endian.
    Utf32Le,
    /// UTF-32, big endian.
    Utf32Be,
    /// Base64, standard or URL-safe alphabet, padded or not.
    Base64,
    /// Hexadecimal digits, two per byte.
    Hex,
    /// Percent-encoding (`%2F`), as in URLs and form bodies.
    Percent,
}

impl Encoding {
    /// Lower-case name, as reported in findings (`utf-16le`, `base64`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Utf16Le => "utf-16le",
            Encoding::Utf16Be => "utf-16be",
            Encoding::Utf32Le => "utf-32le",
            Encoding::Utf32Be => "utf-32be",
            Encoding::Base64 => "base64",
            Encoding::Hex => "hex",
            Encoding::Percent => "percent",
        }
    }
}

/// Leading bytes looked at to recognise UTF-16/32 without a byte-order mark.
const SNIFF_WINDOW: usize = 8 * 1024;

/// `data` as UTF-8 when it is UTF-16 or UTF-32 text: by byte-order mark, or without one when
/// the NUL bytes of its first 8 KiB fall where ASCII text in that encoding puts them. Invalid
/// code units become U+FFFD. `None` for anything else, UTF-8 included.
pub fn decode_wide(data: &[u8]) -> Option<(String, Encoding)> {
    let (enc, body) = wide_encoding(data)?;
    let text = match enc {
        Encoding::Utf16Le | Encoding::Utf16Be => {
            let le = enc == Encoding::Utf16Le;
            let units = body.chunks_exact(2).map(|c| match c {
                [a, b] if le => u16::from_le_bytes([*a, *b]),
                [a, b] => u16::from_be_bytes([*a, *b]),
                _ => 0xfffd,
            });
            char::decode_utf16(units)
                .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
                .collect()
        }
        _ => {
            let le = enc == Encoding::Utf32Le;
            body.chunks_exact(4)
                .map(|c| {
                    let b: [u8; 4] = c.try_into().unwrap_or([0xff; 4]);
                    let u = if le {
                        u32::from_le_bytes(b)
                    } else {
                        u32::from_be_bytes(b)
                    };
                    char::from_u32(u).unwrap_or(char::REPLACEMENT_CHARACTER)
                })
                .collect()
        }
    };
    Some((text, enc))
}

/// The wide encoding of `data` and its body (after any byte-order mark).
pub(crate) fn wide_encoding(data: &[u8]) -> Option<(Encoding, &[u8])> {
    // UTF-32 marks first: the UTF-32LE mark starts with the UTF-16LE one.
    for (bom, enc) in [
        (&[0xff, 0xfe, 0, 0][..], Encoding::Utf32Le),
        (&[0, 0, 0xfe, 0xff][..], Encoding::Utf32Be),
        (&[0xff, 0xfe][..], Encoding::Utf16Le),
        (&[0xfe, 0xff][..], Encoding::Utf16Be),
    ] {
        if let Some(body) = data.strip_prefix(bom) {
            return Some((enc, body));
        }
    }
    let head = data.get(..SNIFF_WINDOW).unwrap_or(data);
    nul_pattern(head).map(|enc| (enc, data))
}

/// The wide encoding whose NUL pattern `head` shows: for UTF-32, three NULs around each ASCII
/// byte; for UTF-16, a NUL beside each. At least 16 characters, 90% of them fitting the pattern
/// and the other bytes (nearly) never NUL.
fn nul_pattern(head: &[u8]) -> Option<Encoding> {
    if head.len() < 32 {
        return None;
    }
    let fits = |width: usize, text_at: usize| -> bool {
        let units = head.chunks_exact(width);
        let n = units.len();
        let good = units
            .filter(|u| {
                u.iter()
                    .enumerate()
                    .all(|(i, &b)| (i == text_at) == (b != 0))
            })
            .count();
        n >= 16 && good * 10 >= n * 9
    };
    if fits(4, 0) {
        Some(Encoding::Utf32Le)
    } else if fits(4, 3) {
        Some(Encoding::Utf32Be)
    } else if fits(2, 0) {
        Some(Encoding::Utf16Le)
    } else if fits(2, 1) {
        Some(Encoding::Utf16Be)
    } else {
        None
    }
}

/// Shortest base64 run decoded: 24 characters hold 18 bytes, less than any secret with a
/// recognisable shape.
pub const MIN_BASE64: usize = 24;
/// Shortest hex run decoded (16 bytes).
pub const MIN_HEX: usize = 32;
/// Shortest run holding a percent escape that is decoded.
pub const MIN_PERCENT: usize = 16;

/// One decoded run inside [`Decoded::text`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    /// Where the decoded bytes start in [`Decoded::text`].
    pub start: usize,
    /// How many decoded bytes.
    pub len: usize,
    /// Byte offset of the encoded run in the blob.
    pub origin: usize,
    /// Length of the encoded run in the blob.
    pub origin_len: usize,
    /// How it was encoded.
    pub encoding: Encoding,
}

/// The decoded runs of a blob, one per line of `text`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decoded {
    /// Every decoded run that is text, each followed by a newline.
    pub text: Vec<u8>,
    /// Where each run is in `text` and in the blob, in order.
    pub pieces: Vec<Piece>,
}

impl Decoded {
    /// The piece holding byte `offset` of [`Decoded::text`].
    pub fn piece_at(&self, offset: usize) -> Option<&Piece> {
        let i = self.pieces.partition_point(|p| p.start <= offset);
        self.pieces
            .get(i.checked_sub(1)?)
            .filter(|p| offset < p.start + p.len)
    }
}

/// Decode the base64, hex and percent-encoded runs of `data` that are long enough to hold a
/// secret and decode to text. At most `budget` decoded bytes are kept in all.
pub fn decode_runs(data: &[u8], budget: usize) -> Decoded {
    let mut out = Decoded::default();
    let mut i = 0;
    while i < data.len() && out.text.len() < budget {
        if !data.get(i).copied().is_some_and(is_run_byte) {
            i += 1;
            continue;
        }
        let start = i;
        i = run_end(data, i);
        let run = data.get(start..i).unwrap_or_default();
        if let Some((enc, bytes)) = decode_run(run) {
            let room = budget.saturating_sub(out.text.len());
            let bytes = bytes.get(..room).unwrap_or(&bytes);
            out.pieces.push(Piece {
                start: out.text.len(),
                len: bytes.len(),
                origin: start,
                origin_len: run.len(),
                encoding: enc,
            });
            out.text.extend_from_slice(bytes);
            out.text.push(b'\n');
        }
    }
    out
}

/// The end of the run starting at `i`: run bytes, then `=` padding when nothing of a run follows
/// it (so `KEY=value` is two runs and `dmFsdWU=` one).
fn run_end(data: &[u8], mut i: usize) -> usize {
    while data.get(i).copied().is_some_and(is_run_byte) {
        i += 1;
    }
    let mut j = i;
    while data.get(j) == Some(&b'=') {
        j += 1;
    }
    if j > i && !data.get(j).copied().is_some_and(is_run_byte) {
        j
    } else {
        i
    }
}

/// Bytes of an encoded run: letters, digits, the `+/-_` of both base64 alphabets and the `%` of
/// percent escapes. Anything else (quotes, spaces, `=`, `:`, `.`) ends a run.
fn is_run_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'-' | b'_' | b'%')
}

/// The first encoding `run` decodes under to text.
fn decode_run(run: &[u8]) -> Option<(Encoding, Vec<u8>)> {
    if run.len() >= MIN_PERCENT && run.contains(&b'%') {
        if let Some(d) = percent(run).filter(|d| is_text(d)) {
            return Some((Encoding::Percent, d));
        }
    }
    let body = trim_padding(run);
    if body.len() >= MIN_HEX
        && body.len().is_multiple_of(2)
        && body.iter().all(u8::is_ascii_hexdigit)
    {
        let d = hex(body)?;
        return is_text(&d).then_some((Encoding::Hex, d));
    }
    if body.len() >= MIN_BASE64 && !body.contains(&b'%') {
        let d = base64(body)?;
        return is_text(&d).then_some((Encoding::Base64, d));
    }
    None
}

/// `run` without its trailing `=` padding.
fn trim_padding(run: &[u8]) -> &[u8] {
    let end = run.iter().rposition(|&b| b != b'=').map_or(0, |p| p + 1);
    run.get(..end).unwrap_or(run)
}

/// Percent-decoding; `None` when no valid escape was found.
fn percent(run: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(run.len());
    let mut escapes = 0;
    let mut i = 0;
    while i < run.len() {
        match (run[i], run.get(i + 1..i + 3)) {
            (b'%', Some(&[h, l])) if h.is_ascii_hexdigit() && l.is_ascii_hexdigit() => {
                out.push(nibble(h) << 4 | nibble(l));
                escapes += 1;
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    (escapes > 0).then_some(out)
}

fn nibble(h: u8) -> u8 {
    match h {
        b'0'..=b'9' => h - b'0',
        b'a'..=b'f' => h - b'a' + 10,
        b'A'..=b'F' => h - b'A' + 10,
        _ => 0,
    }
}

fn hex(body: &[u8]) -> Option<Vec<u8>> {
    body.chunks_exact(2)
        .map(|p| match p {
            [h, l] => Some(nibble(*h) << 4 | nibble(*l)),
            _ => None,
        })
        .collect()
}

/// Base64 of either alphabet, without padding; `None` when a character of neither appears.
fn base64(body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(body.len() / 4 * 3 + 2);
    let mut acc = 0u32;
    let mut bits = 0;
    for &c in body {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// Whether decoded bytes are text worth scanning: valid UTF-8 with at least 95% of its
/// characters printable (tab, newline and carriage return count as printable).
fn is_text(d: &[u8]) -> bool {
    let Ok(s) = std::str::from_utf8(d) else {
        return false;
    };
    let (mut n, mut bad) = (0usize, 0usize);
    for c in s.chars() {
        n += 1;
        if c.is_control() && !matches!(c, '\t' | '\n' | '\r') {
            bad += 1;
        }
    }
    n > 0 && bad * 20 <= n
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn utf16le(s: &str, bom: bool) -> Vec<u8> {
        let mut v = if bom { vec![0xff, 0xfe] } else { Vec::new() };
        v.extend(s.encode_utf16().flat_map(u16::to_le_bytes));
        v
    }

    #[test]
    fn wide_text_by_bom_and_by_pattern() {
        let s = "AWS_SECRET=abc\nsecond line ünï\n";
        assert_eq!(
            decode_wide(&utf16le(s, true)),
            Some((s.to_string(), Encoding::Utf16Le))
        );
        assert_eq!(
            decode_wide(&utf16le(s, false)),
            Some((s.to_string(), Encoding::Utf16Le))
        );
        let be: Vec<u8> = s.encode_utf16().flat_map(u16::to_be_bytes).collect();
        assert_eq!(decode_wide(&be), Some((s.to_string(), Encoding::Utf16Be)));
        let mut u32le = vec![0xff, 0xfe, 0, 0];
        u32le.extend(s.chars().flat_map(|c| (c as u32).to_le_bytes()));
        assert_eq!(
            decode_wide(&u32le),
            Some((s.to_string(), Encoding::Utf32Le))
        );
        let u32be: Vec<u8> = s.chars().flat_map(|c| (c as u32).to_be_bytes()).collect();
        assert_eq!(
            decode_wide(&u32be),
            Some((s.to_string(), Encoding::Utf32Be))
        );
    }

    #[test]
    fn utf8_and_binary_are_not_wide() {
        assert_eq!(
            decode_wide(b"plain ascii text that is long enough to sniff"),
            None
        );
        // A binary header full of NULs at irregular places.
        let bin: Vec<u8> = (0..4096u32)
            .map(|i| if i % 3 == 0 { 0 } else { i as u8 })
            .collect();
        assert_eq!(decode_wide(&bin), None);
        assert_eq!(decode_wide(&[0u8; 4096]), None);
    }

    #[test]
    fn runs_decode_with_their_origin() {
        let secret = "ghp_0123456789abcdefghijklmnopqrstuvwxyzAB";
        let b64 = "Z2hwXzAxMjM0NTY3ODlhYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ekFC";
        let hexed: String = secret.bytes().map(|b| format!("{b:02x}")).collect();
        let data = format!("a = \"{b64}\"\nb: {hexed}\nc=https://x/?t=ghp%5F0123456789abcdef\n");
        let d = decode_runs(data.as_bytes(), data.len());
        let text = String::from_utf8(d.text.clone()).unwrap();
        assert!(text.contains(&format!("{secret}\n{secret}\n")), "{text}");
        assert_eq!(d.pieces[0].encoding, Encoding::Base64);
        assert_eq!(d.pieces[0].origin, data.find(b64).unwrap());
        assert_eq!(d.pieces[1].encoding, Encoding::Hex);
        assert_eq!(d.pieces[2].encoding, Encoding::Percent);
        assert!(text.contains("ghp_0123456789abcdef"), "{text}");
        let at = text.find(secret).unwrap() + 3;
        assert_eq!(d.piece_at(at).unwrap().encoding, Encoding::Base64);
    }

    #[test]
    fn hashes_and_identifiers_do_not_decode_to_text() {
        let data = b"sha256 = 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\n\
            path = /usr/local/lib/python3.11/site-packages/numpy/core/__init__.py\n";
        assert!(decode_runs(data, data.len()).pieces.is_empty());
    }

    #[test]
    fn the_budget_bounds_the_output() {
        let line = "Z2hwXzAxMjM0NTY3ODlhYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ekFC\n".repeat(1000);
        let d = decode_runs(line.as_bytes(), 100);
        assert!(d.text.len() <= 100 + 2 * 42, "{}", d.text.len());
    }

    proptest! {
        #[test]
        fn utf16_round_trips(s in "\\PC{0,200}") {
            let bytes = utf16le(&s, true);
            prop_assert_eq!(decode_wide(&bytes), Some((s.clone(), Encoding::Utf16Le)));
        }

        #[test]
        fn wide_decoding_never_panics(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let _ = decode_wide(&data);
        }

        #[test]
        fn base64_runs_round_trip(s in "[ -~]{18,120}") {
            use std::fmt::Write as _;
            // Encode with the standard alphabet, no padding.
            const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
            let b = s.as_bytes();
            let mut enc = String::new();
            for c in b.chunks(3) {
                let n = (u32::from(c[0]) << 16)
                    | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
                    | u32::from(*c.get(2).unwrap_or(&0));
                for k in 0..=c.len() {
                    let _ = write!(enc, "{}", A[(n >> (18 - 6 * k) & 63) as usize] as char);
                }
            }
            let data = format!("x \"{enc}\" y");
            let d = decode_runs(data.as_bytes(), data.len());
            let text = String::from_utf8_lossy(&d.text).into_owned();
            prop_assert!(text.contains(&s), "{enc} -> {text:?}");
        }

        #[test]
        fn decoded_runs_stay_within_budget_and_point_into_the_input(
            data in proptest::collection::vec(any::<u8>(), 0..4096),
            budget in 0usize..4096,
        ) {
            let d = decode_runs(&data, budget);
            let kept: usize = d.pieces.iter().map(|p| p.len).sum();
            prop_assert!(kept <= budget.max(1) + data.len());
            for p in &d.pieces {
                prop_assert!(p.origin + p.origin_len <= data.len());
                prop_assert!(p.len <= p.origin_len);
                prop_assert!(p.start + p.len <= d.text.len());
            }
        }
    }
}
