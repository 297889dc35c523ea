//! Compressed streams recognised by their magic number (never by extension): zlib, gzip,
//! joblib's old `ZF` zlib files, xz, lzma-alone, bzip2, lz4 frames and zstd. Decompression is
//! always bounded by the caller's cap; what is inside is sniffed again by the caller.

use std::io::Read;

/// A compression format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// gzip (`1f 8b 08`).
    Gzip,
    /// zlib (RFC 1950 header with a valid check value), as joblib's default `compress=3` writes.
    Zlib,
    /// joblib < 0.10: `ZF`, a 19-character hexadecimal length, then a zlib stream.
    JoblibZf,
    /// xz (`fd 37 7a 58 5a 00`).
    Xz,
    /// lzma-alone (`5d 00 00` properties and dictionary size).
    Lzma,
    /// bzip2 (`BZh` and a block size digit).
    Bz2,
    /// lz4 frame (`04 22 4d 18`).
    Lz4,
    /// zstd frame (`28 b5 2f fd`).
    Zstd,
}

impl Codec {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Codec::Gzip => "gzip",
            Codec::Zlib => "zlib",
            Codec::JoblibZf => "zlib (joblib ZF)",
            Codec::Xz => "xz",
            Codec::Lzma => "lzma",
            Codec::Bz2 => "bzip2",
            Codec::Lz4 => "lz4",
            Codec::Zstd => "zstd",
        }
    }
}

/// The compression format of `head`, by magic number.
pub fn codec(head: &[u8]) -> Option<Codec> {
    let zlib_header = |h: &[u8]| {
        h.len() >= 2
            && h[0] & 0x0f == 8
            && h[0] >> 4 <= 7
            && h[1] & 0x20 == 0
            && (u16::from(h[0]) << 8 | u16::from(h[1])) % 31 == 0
    };
    if head.starts_with(&[0x1f, 0x8b, 0x08]) {
        Some(Codec::Gzip)
    } else if head.starts_with(b"\xfd7zXZ\x00") {
        Some(Codec::Xz)
    } else if head.starts_with(b"\x04\x22\x4d\x18") {
        Some(Codec::Lz4)
    } else if head.starts_with(b"\x28\xb5\x2f\xfd") {
        Some(Codec::Zstd)
    } else if head.starts_with(b"BZh") && head.get(3).is_some_and(|d| (b'1'..=b'9').contains(d)) {
        Some(Codec::Bz2)
    } else if head.starts_with(b"]\x00\x00") {
        Some(Codec::Lzma)
    } else if head.starts_with(b"ZF") && head.get(21..).is_some_and(zlib_header) {
        Some(Codec::JoblibZf)
    } else if zlib_header(head) {
        Some(Codec::Zlib)
    } else {
        None
    }
}

/// Decompress `data` to at most `cap` bytes. Returns the output and, when the stream could
/// not be read to its end, why (`limit` when the cap was reached). A stream cut short still
/// yields what it decoded (the start of a file given as its first bytes), except xz, lzma,
/// bzip2 and lz4, whose decoders may write nothing before a window or block is complete.
pub fn inflate(data: &[u8], codec: Codec, cap: u64) -> (Vec<u8>, Option<Stop>) {
    inflate_from(data, codec, cap)
}

/// [`inflate`] from a reader (a file read sequentially, never held in memory whole).
pub fn inflate_from<'a, R: Read + 'a>(input: R, codec: Codec, cap: u64) -> (Vec<u8>, Option<Stop>) {
    let mut out = Vec::new();
    let res = match codec {
        Codec::Xz | Codec::Lzma => {
            let mut w = CappedWriter {
                out: &mut out,
                cap: cap.saturating_add(1),
            };
            let mut r = std::io::BufReader::new(input);
            let r = if codec == Codec::Xz {
                lzma_rs::xz_decompress(&mut r, &mut w)
            } else {
                lzma_rs::lzma_decompress(&mut r, &mut w)
            };
            r.map_err(|e| e.to_string())
        }
        _ => {
            let mut r = reader(input, codec);
            r.by_ref()
                .take(cap.saturating_add(1))
                .read_to_end(&mut out)
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
    };
    if out.len() as u64 > cap {
        out.truncate(usize::try_from(cap).unwrap_or(usize::MAX));
        return (out, Some(Stop::Limit));
    }
    match res {
        Ok(()) => (out, None),
        Err(e) => (out, Some(Stop::Error(e))),
    }
}

/// A decompressing reader over `input`, for the codecs decoded as they read (all but xz and
/// lzma, whose decoder writes its output in one go: `None`).
pub fn stream<'a, R: Read + 'a>(input: R, codec: Codec) -> Option<Box<dyn Read + 'a>> {
    (!matches!(codec, Codec::Xz | Codec::Lzma)).then(|| reader(input, codec))
}

/// Why decompression stopped before the end of the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// The output cap was reached.
    Limit,
    /// The stream is corrupt or cut short.
    Error(String),
}

fn reader<'a, R: Read + 'a>(input: R, codec: Codec) -> Box<dyn Read + 'a> {
    match codec {
        Codec::Gzip => Box::new(flate2::read::MultiGzDecoder::new(input)),
        Codec::JoblibZf => {
            // Skip `ZF` and the 19-character length, then a zlib stream.
            let mut input = input;
            let mut skip = [0u8; 21];
            match input.read_exact(&mut skip) {
                Ok(()) => Box::new(flate2::read::ZlibDecoder::new(input)),
                Err(e) => Box::new(FailingReader(Some(e))),
            }
        }
        Codec::Lz4 => Box::new(lz4_flex::frame::FrameDecoder::new(input)),
        Codec::Bz2 => Box::new(bzip2::read::MultiBzDecoder::new(input)),
        Codec::Zstd => match zstd::stream::read::Decoder::new(input) {
            Ok(d) => Box::new(d),
            Err(e) => Box::new(FailingReader(Some(e))),
        },
        Codec::Zlib | Codec::Xz | Codec::Lzma => Box::new(flate2::read::ZlibDecoder::new(input)),
    }
}

/// A reader that fails once with the error that prevented making the real one.
struct FailingReader(Option<std::io::Error>);

impl Read for FailingReader {
    fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
        Err(self
            .0
            .take()
            .unwrap_or_else(|| std::io::Error::other("decoder unavailable")))
    }
}

/// A writer that stops with an error once `cap` bytes were written (decompression bombs).
struct CappedWriter<'a> {
    out: &'a mut Vec<u8>,
    cap: u64,
}

impl std::io::Write for CappedWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let room = self.cap.saturating_sub(self.out.len() as u64) as usize;
        if room == 0 {
            return Err(std::io::Error::other("decompressed size limit reached"));
        }
        let n = buf.len().min(room);
        self.out.extend_from_slice(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn all_codecs(plain: &[u8]) -> Vec<(Codec, Vec<u8>)> {
        let mut v = Vec::new();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(plain).unwrap();
        v.push((Codec::Gzip, gz.finish().unwrap()));
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(3));
        z.write_all(plain).unwrap();
        let zl = z.finish().unwrap();
        let mut zf = format!("ZF0x{:<17x}", plain.len()).into_bytes();
        zf.extend_from_slice(&zl);
        v.push((Codec::Zlib, zl));
        v.push((Codec::JoblibZf, zf));
        let mut xz = Vec::new();
        lzma_rs::xz_compress(&mut std::io::BufReader::new(plain), &mut xz).unwrap();
        v.push((Codec::Xz, xz));
        let mut lz = Vec::new();
        lzma_rs::lzma_compress(&mut std::io::BufReader::new(plain), &mut lz).unwrap();
        v.push((Codec::Lzma, lz));
        let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
        bz.write_all(plain).unwrap();
        v.push((Codec::Bz2, bz.finish().unwrap()));
        let mut l4 = lz4_flex::frame::FrameEncoder::new(Vec::new());
        l4.write_all(plain).unwrap();
        v.push((Codec::Lz4, l4.finish().unwrap()));
        v.push((Codec::Zstd, zstd::stream::encode_all(plain, 3).unwrap()));
        v
    }

    #[test]
    fn every_codec_is_recognised_and_decoded() {
        let plain = b"\x80\x04\x95hello world".repeat(50);
        for (c, data) in all_codecs(&plain) {
            assert_eq!(codec(&data), Some(c), "{c:?}");
            let (out, stop) = inflate(&data, c, 1 << 20);
            assert_eq!(stop, None, "{c:?}");
            assert_eq!(out, plain, "{c:?}");
        }
    }

    #[test]
    fn output_is_capped_and_says_so() {
        let plain = vec![b'('; 1 << 20];
        for (c, data) in all_codecs(&plain) {
            let (out, stop) = inflate(&data, c, 4096);
            assert_eq!(out.len(), 4096, "{c:?}");
            assert_eq!(stop, Some(Stop::Limit), "{c:?}");
        }
    }

    #[test]
    fn a_cut_stream_yields_its_start() {
        let plain: Vec<u8> = (0..200_000u32).flat_map(|i| i.to_le_bytes()).collect();
        for (c, data) in all_codecs(&plain) {
            let (out, stop) = inflate(&data[..data.len() / 2], c, 1 << 30);
            assert!(stop.is_some(), "{c:?}");
            assert!(plain.starts_with(&out), "{c:?}");
            // lzma-rs writes its output when the dictionary window fills or the stream ends, and
            // bzip2 and lz4 decode whole blocks:
            // a cut stream of theirs may yield nothing (callers do not rely on its start).
            if matches!(c, Codec::Gzip | Codec::Zlib | Codec::JoblibZf | Codec::Zstd) {
                assert!(!out.is_empty(), "{c:?}");
            }
        }
    }

    #[test]
    fn text_is_not_compressed() {
        for t in [&b"hello"[..], b"x = 1\n", b"BZh", b"ZFnot", b"\x78\x00"] {
            assert_eq!(codec(t), None, "{t:?}");
        }
    }
}
