//! Content sniffing: is a blob binary, and is it an archive (by magic bytes, never by name).

use crate::archive::ArchiveKind;

/// How many leading bytes [`is_binary`] looks at.
const BINARY_WINDOW: usize = 8 * 1024;

/// `true` when `data` looks binary: a NUL byte in the first 8 KiB, or more than 30% of those
/// bytes being control characters or bytes that are not valid UTF-8.
pub fn is_binary(data: &[u8]) -> bool {
    let head = data.get(..BINARY_WINDOW).unwrap_or(data);
    if head.is_empty() {
        return false;
    }
    if memchr(0, head) {
        return true;
    }
    let utf8_ok = match std::str::from_utf8(head) {
        Ok(_) => true,
        // A multi-byte character cut by the window is still text.
        Err(e) => e.error_len().is_none(),
    };
    // Control characters always count; bytes >= 0x80 only when the window is not UTF-8.
    let table = if utf8_ok { &CONTROL } else { &CONTROL_OR_HIGH };
    let suspicious: usize = head
        .iter()
        .map(|&b| usize::from(table[usize::from(b)]))
        .sum();
    suspicious * 100 > head.len() * 30
}

/// 1 for control characters other than tab, newline, carriage return, form feed and escape.
const CONTROL: [u8; 256] = suspicious_table(false);
/// [`CONTROL`] plus every byte >= 0x80.
const CONTROL_OR_HIGH: [u8; 256] = suspicious_table(true);

const fn suspicious_table(high: bool) -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        let control = (b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x0c | 0x1b)) || b == 0x7f;
        if control || (high && b >= 0x80) {
            t[i] = 1;
        }
        i += 1;
    }
    t
}

fn memchr(needle: u8, hay: &[u8]) -> bool {
    hay.contains(&needle)
}

/// The archive format of `data`, by magic bytes: zip (`PK\x03\x04`, also the empty-archive
/// `PK\x05\x06` and spanned `PK\x07\x08` variants), gzip (`1f 8b 08`), tar (`ustar` at offset
/// 257, POSIX and GNU). Other compressors (bzip2, xz, zstd) are not expanded.
pub fn sniff_archive(data: &[u8]) -> Option<ArchiveKind> {
    if data.starts_with(b"PK\x03\x04")
        || data.starts_with(b"PK\x05\x06")
        || data.starts_with(b"PK\x07\x08")
    {
        return Some(ArchiveKind::Zip);
    }
    if data.starts_with(&[0x1f, 0x8b, 0x08]) {
        return Some(ArchiveKind::Gzip);
    }
    if data.get(257..262) == Some(b"ustar") {
        return Some(ArchiveKind::Tar);
    }
    None
}

/// The compression or archive format of `data` when it is one Lantern cannot open (xz, lzma,
/// bzip2, zstd, 7z, rar), by magic bytes: content under it is not checked.
pub fn sniff_unsupported(data: &[u8]) -> Option<&'static str> {
    const MAGIC: [(&[u8], &str); 6] = [
        (b"\xfd7zXZ\x00", "xz"),
        (b"BZh", "bzip2"),
        (b"\x28\xb5\x2f\xfd", "zstd"),
        (b"7z\xbc\xaf\x27\x1c", "7z"),
        (b"Rar!\x1a\x07", "rar"),
        (b"\x5d\x00\x00", "lzma"),
    ];
    let (_, name) = MAGIC.iter().find(|(m, _)| data.starts_with(m))?;
    // `BZh` must be followed by a block size digit and the block magic to be bzip2, not text.
    if *name == "bzip2"
        && !(matches!(data.get(3), Some(b'1'..=b'9'))
            && data.get(4..10) == Some(b"\x31\x41\x59\x26\x53\x59"))
    {
        return None;
    }
    Some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_not_binary() {
        assert!(!is_binary(b"print('hello')\n"));
        assert!(!is_binary("naïve café ünïcödé\n".as_bytes()));
        assert!(!is_binary(b""));
        // Latin-1 text with a few high bytes is still text.
        assert!(!is_binary(
            b"caf\xe9 au lait, cr\xe8me br\xfbl\xe9e and more plain words here"
        ));
    }

    #[test]
    fn nul_or_noise_is_binary() {
        assert!(is_binary(b"abc\0def"));
        let noise: Vec<u8> = (0..4096u32)
            .map(|i| (i * 7919 % 251) as u8 | 0x80)
            .collect();
        assert!(is_binary(&noise));
        let ctrl = vec![0x01u8; 100];
        assert!(is_binary(&ctrl));
    }

    #[test]
    fn utf8_cut_at_window_is_text() {
        let mut s = "a".repeat(BINARY_WINDOW - 1).into_bytes();
        s.extend_from_slice("é".as_bytes());
        assert!(!is_binary(&s));
    }

    #[test]
    fn sniffs_unsupported_compression() {
        assert_eq!(sniff_unsupported(b"\xfd7zXZ\x00\x00\x04"), Some("xz"));
        assert_eq!(sniff_unsupported(b"BZh91AY&SYrest"), Some("bzip2"));
        assert_eq!(sniff_unsupported(b"BZh is a word"), None);
        assert_eq!(sniff_unsupported(b"\x28\xb5\x2f\xfd\x00"), Some("zstd"));
        assert_eq!(sniff_unsupported(b"plain text"), None);
        assert_eq!(sniff_unsupported(b""), None);
    }

    #[test]
    fn sniffs_magic() {
        assert_eq!(sniff_archive(b"PK\x03\x04rest"), Some(ArchiveKind::Zip));
        assert_eq!(sniff_archive(b"PK\x05\x06"), Some(ArchiveKind::Zip));
        assert_eq!(
            sniff_archive(&[0x1f, 0x8b, 0x08, 0]),
            Some(ArchiveKind::Gzip)
        );
        let mut tar = vec![0u8; 512];
        tar[257..263].copy_from_slice(b"ustar\0");
        assert_eq!(sniff_archive(&tar), Some(ArchiveKind::Tar));
        assert_eq!(sniff_archive(b"PK"), None);
        assert_eq!(sniff_archive(b"hello world"), None);
    }
}
