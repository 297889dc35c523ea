//! A zip reader the way PyTorch's loader reads checkpoints: central directory (zip64 too) when
//! it is intact, local headers when it is not, general-purpose flags ignored, stored and deflated
//! members only. Reads member data on demand through a [`Source`].

use crate::source::Source;
use std::io::Read;

const LOCAL_SIG: &[u8; 4] = b"PK\x03\x04";
const CENTRAL_SIG: &[u8; 4] = b"PK\x01\x02";
const EOCD_SIG: &[u8; 4] = b"PK\x05\x06";
const EOCD64_LOC_SIG: &[u8; 4] = b"PK\x06\x07";
const EOCD64_SIG: &[u8; 4] = b"PK\x06\x06";
/// Entries read from one archive.
const MAX_ENTRIES: usize = 1 << 20;
/// Largest central directory read into memory (a million entries with short names).
const MAX_CD_BYTES: u64 = 256 * 1024 * 1024;

/// One member of the archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Name in the central directory (or the local header when read without one).
    pub name: String,
    /// Name in the local header, when it differs from the central directory's.
    pub local_name: Option<String>,
    /// Offset of the local header.
    pub header_offset: u64,
    /// Offset of the member data.
    pub data_offset: u64,
    /// Compression method (0 stored, 8 deflate).
    pub method: u16,
    /// General-purpose flags (ignored for reading, like torch does).
    pub flags: u16,
    /// Compressed size.
    pub compressed: u64,
    /// Uncompressed size.
    pub size: u64,
}

/// The members of an archive and how they were found.
#[derive(Debug, Default)]
pub struct Archive {
    /// Members in directory order.
    pub entries: Vec<Entry>,
    /// Whether the central directory was missing or broken (local headers were walked).
    pub recovered: bool,
    /// Bytes before the first local header (a polyglot prefix), as an offset.
    pub prefix: u64,
    /// Problems met while reading, lower case.
    pub problems: Vec<String>,
}

fn u16le(b: &[u8], at: usize) -> Option<u16> {
    b.get(at..at + 2).map(|s| u16::from_le_bytes([s[0], s[1]]))
}

fn u32le(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

fn u64le(b: &[u8], at: usize) -> Option<u64> {
    b.get(at..at + 8).map(|s| {
        let mut a = [0u8; 8];
        a.copy_from_slice(s);
        u64::from_le_bytes(a)
    })
}

/// Whether the source ends with a zip end-of-central-directory record.
pub fn has_eocd(src: &dyn Source) -> bool {
    find_eocd(src).is_some()
}

fn find_eocd(src: &dyn Source) -> Option<(u64, Vec<u8>)> {
    let len = src.len();
    if len < 22 {
        return None;
    }
    let tail_len = len.min(22 + 65535);
    let start = len - tail_len;
    let tail = src.read_at(start, tail_len as usize).ok()?;
    let mut i = tail.len().checked_sub(22)?;
    loop {
        if &tail[i..i + 4] == EOCD_SIG {
            return Some((start + i as u64, tail[i..].to_vec()));
        }
        if i == 0 {
            return None;
        }
        i -= 1;
    }
}

/// Read the member list of a zip archive.
pub fn read_archive(src: &dyn Source) -> Archive {
    let mut ar = Archive::default();
    match read_central(src, &mut ar) {
        Ok(entries) if !entries.is_empty() => {
            ar.entries = entries;
        }
        Ok(_) => {
            ar.problems
                .push("central directory is empty; reading local headers".into());
            ar.recovered = true;
            ar.entries = walk_local(src, &mut ar.problems);
        }
        Err(e) => {
            ar.problems
                .push(format!("{e}; reading local headers instead"));
            ar.recovered = true;
            ar.entries = walk_local(src, &mut ar.problems);
        }
    }
    ar.prefix = ar
        .entries
        .iter()
        .map(|e| e.header_offset)
        .min()
        .unwrap_or(0);
    ar
}

/// Where the central directory is, as the end records say and as found in the file.
struct Directory {
    count: u64,
    cd_size: u64,
    cd_off: u64,
    /// Where the central directory really ends: the zip64 end record when there is one (it
    /// follows the directory), else the classic end record.
    cd_end_actual: u64,
}

/// Read the classic end record and, when its zip64 locator precedes it, the zip64 end record.
/// The zip64 record is looked for right before the locator (where every writer puts it, and
/// where Python's `zipfile` reads it, so that prepended data does not move it out of reach),
/// then at the offset the locator gives.
fn read_directory(src: &dyn Source) -> Result<Directory, String> {
    let (eocd_at, eocd) = find_eocd(src).ok_or("no end of central directory record")?;
    let mut d = Directory {
        count: u16le(&eocd, 10).unwrap_or(0) as u64,
        cd_size: u32le(&eocd, 12).unwrap_or(0) as u64,
        cd_off: u32le(&eocd, 16).unwrap_or(0) as u64,
        cd_end_actual: eocd_at,
    };
    if eocd_at < 20 {
        return Ok(d);
    }
    let loc = src.read_at(eocd_at - 20, 20).map_err(|e| e.to_string())?;
    if loc.get(..4) != Some(EOCD64_LOC_SIG) {
        return Ok(d);
    }
    let declared = u64le(&loc, 8).unwrap_or(u64::MAX);
    let adjacent = (eocd_at - 20).checked_sub(56);
    let mut found = None;
    for at in adjacent.into_iter().chain(std::iter::once(declared)) {
        let rec = src.read_at(at, 56).map_err(|e| e.to_string())?;
        if rec.get(..4) == Some(EOCD64_SIG) {
            found = Some((at, rec));
            break;
        }
    }
    let (at, rec) = found.ok_or("zip64 locator points to no zip64 record")?;
    d.count = u64le(&rec, 32).unwrap_or(d.count);
    d.cd_size = u64le(&rec, 40).unwrap_or(d.cd_size);
    d.cd_off = u64le(&rec, 48).unwrap_or(d.cd_off);
    d.cd_end_actual = at;
    Ok(d)
}

fn read_central(src: &dyn Source, ar: &mut Archive) -> Result<Vec<Entry>, String> {
    let Directory {
        count,
        cd_size,
        cd_off,
        cd_end_actual,
    } = read_directory(src)?;
    // A central directory preceded by junk (a prepended payload) shifts every offset; zip
    // readers correct by the difference between where it is and where it says it is.
    let cd_end_expected = cd_off
        .checked_add(cd_size)
        .ok_or("central directory overflows")?;
    if cd_end_expected > cd_end_actual {
        return Err(format!(
            "central directory at {cd_off} of {cd_size} bytes overlaps the end record at {cd_end_actual}"
        ));
    }
    let shift = cd_end_actual - cd_end_expected;
    if shift > 0 {
        ar.problems.push(format!(
            "{shift} bytes precede the archive (prepended data)"
        ));
    }
    if cd_size > MAX_CD_BYTES {
        return Err(format!(
            "central directory of {cd_size} bytes is over the {MAX_CD_BYTES}-byte limit"
        ));
    }
    let cd = src
        .read_at(cd_off + shift, cd_size as usize)
        .map_err(|e| e.to_string())?;
    if (cd.len() as u64) < cd_size {
        return Err("central directory is truncated".into());
    }
    let mut out = Vec::new();
    let mut p = 0usize;
    while p + 46 <= cd.len() && out.len() < MAX_ENTRIES {
        if &cd[p..p + 4] != CENTRAL_SIG {
            return Err(format!(
                "bad central directory entry at offset {}",
                cd_off + p as u64
            ));
        }
        let flags = u16le(&cd, p + 8).unwrap_or(0);
        let method = u16le(&cd, p + 10).unwrap_or(0);
        let mut csize = u32le(&cd, p + 20).unwrap_or(0) as u64;
        let mut usize_ = u32le(&cd, p + 24).unwrap_or(0) as u64;
        let nlen = u16le(&cd, p + 28).unwrap_or(0) as usize;
        let elen = u16le(&cd, p + 30).unwrap_or(0) as usize;
        let clen = u16le(&cd, p + 32).unwrap_or(0) as usize;
        let mut lho = u32le(&cd, p + 42).unwrap_or(0) as u64;
        let name_b = cd
            .get(p + 46..p + 46 + nlen)
            .ok_or("central directory name is truncated")?;
        let extra = cd.get(p + 46 + nlen..p + 46 + nlen + elen).unwrap_or(&[]);
        zip64_extra(extra, &mut usize_, &mut csize, &mut lho);
        let name = String::from_utf8_lossy(name_b).into_owned();
        p += 46 + nlen + elen + clen;
        out.push(Entry {
            name,
            local_name: None,
            header_offset: lho + shift,
            data_offset: 0,
            method,
            flags,
            compressed: csize,
            size: usize_,
        });
    }
    if (out.len() as u64) < count.min(MAX_ENTRIES as u64) {
        ar.problems.push(format!(
            "end record announces {count} entries, central directory has {}",
            out.len()
        ));
    }
    // Resolve data offsets from the local headers (their name and extra lengths may differ).
    for e in &mut out {
        let h = src
            .read_at(e.header_offset, 30)
            .map_err(|e| e.to_string())?;
        if h.len() < 30 || &h[..4] != LOCAL_SIG {
            return Err(format!(
                "member `{}` has no local header at offset {}",
                e.name, e.header_offset
            ));
        }
        let nlen = u16le(&h, 26).unwrap_or(0) as u64;
        let elen = u16le(&h, 28).unwrap_or(0) as u64;
        let lname = src
            .read_at(e.header_offset + 30, nlen as usize)
            .map_err(|e| e.to_string())?;
        let lname = String::from_utf8_lossy(&lname).into_owned();
        if lname != e.name {
            e.local_name = Some(lname);
        }
        e.data_offset = e.header_offset + 30 + nlen + elen;
    }
    Ok(out)
}

fn zip64_extra(extra: &[u8], usize_: &mut u64, csize: &mut u64, lho: &mut u64) {
    let mut q = 0usize;
    while q + 4 <= extra.len() {
        let id = u16le(extra, q).unwrap_or(0);
        let len = u16le(extra, q + 2).unwrap_or(0) as usize;
        let body = extra.get(q + 4..q + 4 + len).unwrap_or(&[]);
        if id == 1 {
            let mut r = 0usize;
            for field in [&mut *usize_, &mut *csize, &mut *lho] {
                if *field == 0xFFFF_FFFF {
                    if let Some(v) = u64le(body, r) {
                        *field = v;
                        r += 8;
                    }
                }
            }
        }
        q += 4 + len;
    }
}

/// Walk local headers from the start (or the first local signature) when the central
/// directory cannot be used.
fn walk_local(src: &dyn Source, problems: &mut Vec<String>) -> Vec<Entry> {
    let mut out = Vec::new();
    let len = src.len();
    let mut off = match find_sig(src, 0, LOCAL_SIG) {
        Some(o) => o,
        None => return out,
    };
    while off + 30 <= len && out.len() < MAX_ENTRIES {
        let h = match src.read_at(off, 30) {
            Ok(h) if h.len() == 30 && &h[..4] == LOCAL_SIG => h,
            _ => break,
        };
        let flags = u16le(&h, 6).unwrap_or(0);
        let method = u16le(&h, 8).unwrap_or(0);
        let mut csize = u32le(&h, 18).unwrap_or(0) as u64;
        let mut usize_ = u32le(&h, 22).unwrap_or(0) as u64;
        let nlen = u16le(&h, 26).unwrap_or(0) as u64;
        let elen = u16le(&h, 28).unwrap_or(0) as u64;
        let name = src.read_at(off + 30, nlen as usize).unwrap_or_default();
        let extra = src
            .read_at(off + 30 + nlen, elen as usize)
            .unwrap_or_default();
        let mut dummy = 0u64;
        zip64_extra(&extra, &mut usize_, &mut csize, &mut dummy);
        let data_offset = off + 30 + nlen + elen;
        let unknown_size = flags & 0x08 != 0 && csize == 0;
        let next = if unknown_size {
            // Sizes are in a data descriptor after the data: find the next header.
            let n = find_sig(src, data_offset, LOCAL_SIG)
                .or_else(|| find_sig(src, data_offset, CENTRAL_SIG))
                .unwrap_or(len);
            csize = n.saturating_sub(data_offset);
            if method == 0 {
                usize_ = csize;
            }
            n
        } else {
            data_offset.saturating_add(csize)
        };
        out.push(Entry {
            name: String::from_utf8_lossy(&name).into_owned(),
            local_name: None,
            header_offset: off,
            data_offset,
            method,
            flags,
            compressed: csize.min(len.saturating_sub(data_offset)),
            size: usize_,
        });
        if next > len {
            problems.push(format!(
                "member at offset {off} runs past the end of the file"
            ));
            break;
        }
        // Skip an optional data descriptor.
        off = if src.read_at(next, 4).ok().as_deref() == Some(LOCAL_SIG) {
            next
        } else {
            match find_sig(src, next, LOCAL_SIG) {
                Some(o) if o <= next + 24 => o,
                _ => break,
            }
        };
    }
    out
}

fn find_sig(src: &dyn Source, from: u64, sig: &[u8; 4]) -> Option<u64> {
    const CHUNK: usize = 1 << 20;
    let mut off = from;
    let finder = memchr::memmem::Finder::new(sig);
    while off < src.len() {
        let buf = src.read_at(off, CHUNK + 3).ok()?;
        if buf.is_empty() {
            return None;
        }
        if let Some(i) = finder.find(&buf) {
            return Some(off + i as u64);
        }
        if buf.len() < CHUNK + 3 {
            return None;
        }
        off += CHUNK as u64;
    }
    None
}

/// The first `n` bytes of a member's content (decompressed), reading no more input than needed.
pub fn read_entry_head(src: &dyn Source, e: &Entry, n: usize) -> Result<Vec<u8>, String> {
    let avail = src.len().saturating_sub(e.data_offset);
    let window = crate::source::Window::new(src, e.data_offset, e.compressed.min(avail));
    match e.method {
        0 => window.read_at(0, n).map_err(|err| err.to_string()),
        8 => {
            let mut out = Vec::new();
            let mut dec =
                flate2::read::DeflateDecoder::new(crate::source::SourceReader::new(&window))
                    .take(n as u64);
            if let Err(err) = dec.read_to_end(&mut out) {
                if out.is_empty() {
                    return Err(format!("deflate error: {err}"));
                }
            }
            Ok(out)
        }
        m => Err(format!("unsupported compression method {m}")),
    }
}

/// A member's content as a stream (inflated as it is read, never held whole), and the member's
/// bytes as a random-access window when it is stored.
pub fn entry_reader<'a>(
    src: &'a dyn Source,
    e: &Entry,
) -> Result<(Box<dyn Read + 'a>, Option<crate::source::Window<'a>>), String> {
    let avail = src.len().saturating_sub(e.data_offset);
    let window = || crate::source::Window::new(src, e.data_offset, e.compressed.min(avail));
    match e.method {
        0 => Ok((
            Box::new(crate::source::WindowReader::new(window())),
            Some(window()),
        )),
        8 => Ok((
            Box::new(flate2::read::DeflateDecoder::new(
                crate::source::WindowReader::new(window()),
            )),
            None,
        )),
        m => Err(format!("unsupported compression method {m}")),
    }
}

/// Read and decompress a member, at most `limit` bytes of output.
pub fn read_entry(src: &dyn Source, e: &Entry, limit: u64) -> Result<Vec<u8>, String> {
    let avail = src.len().saturating_sub(e.data_offset);
    let csize = e.compressed.min(avail);
    match e.method {
        0 => {
            if csize > limit {
                return Err(format!(
                    "member is {csize} bytes, over the {limit}-byte limit"
                ));
            }
            src.read_at(e.data_offset, csize as usize)
                .map_err(|err| err.to_string())
        }
        8 => {
            if csize > limit {
                return Err(format!(
                    "compressed member is {csize} bytes, over the {limit}-byte limit"
                ));
            }
            // Inflated as read: the compressed bytes are never held whole.
            let raw = crate::source::WindowReader::new(crate::source::Window::new(
                src,
                e.data_offset,
                csize,
            ));
            let mut out = Vec::new();
            let mut dec = flate2::read::DeflateDecoder::new(raw).take(limit + 1);
            if let Err(err) = dec.read_to_end(&mut out) {
                if out.is_empty() {
                    return Err(format!("deflate error: {err}"));
                }
            }
            if out.len() as u64 > limit {
                return Err(format!("member inflates past the {limit}-byte limit"));
            }
            Ok(out)
        }
        m => Err(format!("unsupported compression method {m}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Mem;

    /// Build a stored zip by hand: (name, data) members.
    pub(crate) fn make_zip(members: &[(&str, &[u8])], flags: u16, central: bool) -> Vec<u8> {
        let mut out = Vec::new();
        let mut cd = Vec::new();
        for (name, data) in members {
            let off = out.len() as u32;
            let crc = crc(data);
            out.extend_from_slice(LOCAL_SIG);
            out.extend_from_slice(&20u16.to_le_bytes());
            out.extend_from_slice(&flags.to_le_bytes());
            out.extend_from_slice(&0u16.to_le_bytes());
            out.extend_from_slice(&[0; 4]);
            out.extend_from_slice(&crc.to_le_bytes());
            out.extend_from_slice(&(data.len() as u32).to_le_bytes());
            out.extend_from_slice(&(data.len() as u32).to_le_bytes());
            out.extend_from_slice(&(name.len() as u16).to_le_bytes());
            out.extend_from_slice(&0u16.to_le_bytes());
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(data);
            cd.extend_from_slice(CENTRAL_SIG);
            cd.extend_from_slice(&20u16.to_le_bytes());
            cd.extend_from_slice(&20u16.to_le_bytes());
            cd.extend_from_slice(&flags.to_le_bytes());
            cd.extend_from_slice(&0u16.to_le_bytes());
            cd.extend_from_slice(&[0; 4]);
            cd.extend_from_slice(&crc.to_le_bytes());
            cd.extend_from_slice(&(data.len() as u32).to_le_bytes());
            cd.extend_from_slice(&(data.len() as u32).to_le_bytes());
            cd.extend_from_slice(&(name.len() as u16).to_le_bytes());
            cd.extend_from_slice(&[0; 12]);
            cd.extend_from_slice(&off.to_le_bytes());
            cd.extend_from_slice(name.as_bytes());
        }
        if central {
            let cd_off = out.len() as u32;
            out.extend_from_slice(&cd);
            out.extend_from_slice(EOCD_SIG);
            out.extend_from_slice(&[0; 4]);
            out.extend_from_slice(&(members.len() as u16).to_le_bytes());
            out.extend_from_slice(&(members.len() as u16).to_le_bytes());
            out.extend_from_slice(&(cd.len() as u32).to_le_bytes());
            out.extend_from_slice(&cd_off.to_le_bytes());
            out.extend_from_slice(&0u16.to_le_bytes());
        }
        out
    }

    fn crc(d: &[u8]) -> u32 {
        let mut c = flate2::Crc::new();
        c.update(d);
        c.sum()
    }

    #[test]
    fn reads_central_directory() {
        let z = make_zip(&[("a/data.pkl", b"hello"), ("a/data/0", b"xx")], 0, true);
        let ar = read_archive(&Mem(&z));
        assert!(!ar.recovered);
        assert_eq!(ar.entries.len(), 2);
        assert_eq!(ar.entries[0].name, "a/data.pkl");
        assert_eq!(read_entry(&Mem(&z), &ar.entries[0], 100).unwrap(), b"hello");
    }

    #[test]
    fn recovers_without_central_directory_and_ignores_flags() {
        let z = make_zip(
            &[("a/data.pkl", b"hello"), ("a/version", b"3")],
            0x0001,
            false,
        );
        let ar = read_archive(&Mem(&z));
        assert!(ar.recovered);
        assert_eq!(ar.entries.len(), 2);
        assert_eq!(ar.entries[1].name, "a/version");
        assert_eq!(read_entry(&Mem(&z), &ar.entries[1], 100).unwrap(), b"3");
    }

    #[test]
    fn prepended_data_is_noticed() {
        let mut z = b"\x80\x02junk".to_vec();
        z.extend(make_zip(&[("a/data.pkl", b"hi")], 0, true));
        let ar = read_archive(&Mem(&z));
        assert_eq!(ar.prefix, 6);
        assert_eq!(read_entry(&Mem(&z), &ar.entries[0], 100).unwrap(), b"hi");
    }

    /// Rewrite the end of a `make_zip` archive as ZIP64 (zip64 end record and locator, then a
    /// classic end record whose fields are all 0xFF), as torch and `force_zip64` write it.
    fn to_zip64(mut z: Vec<u8>) -> Vec<u8> {
        let eocd = z.split_off(z.len() - 22);
        let count = u16le(&eocd, 10).unwrap() as u64;
        let cd_size = u32le(&eocd, 12).unwrap() as u64;
        let cd_off = u32le(&eocd, 16).unwrap() as u64;
        let rec_at = z.len() as u64;
        z.extend_from_slice(EOCD64_SIG);
        z.extend_from_slice(&44u64.to_le_bytes());
        z.extend_from_slice(&[45, 0, 45, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        z.extend_from_slice(&count.to_le_bytes());
        z.extend_from_slice(&count.to_le_bytes());
        z.extend_from_slice(&cd_size.to_le_bytes());
        z.extend_from_slice(&cd_off.to_le_bytes());
        z.extend_from_slice(EOCD64_LOC_SIG);
        z.extend_from_slice(&0u32.to_le_bytes());
        z.extend_from_slice(&rec_at.to_le_bytes());
        z.extend_from_slice(&1u32.to_le_bytes());
        z.extend_from_slice(EOCD_SIG);
        z.extend_from_slice(&[0; 4]);
        z.extend_from_slice(&[0xff; 12]);
        z.extend_from_slice(&0u16.to_le_bytes());
        z
    }

    #[test]
    fn zip64_end_records_are_not_taken_for_prepended_data() {
        let z = to_zip64(make_zip(
            &[("a/data.pkl", b"hello"), ("a/data/0", b"xx")],
            0,
            true,
        ));
        let ar = read_archive(&Mem(&z));
        assert!(ar.problems.is_empty(), "{:?}", ar.problems);
        assert!(!ar.recovered);
        assert_eq!(ar.prefix, 0);
        assert_eq!(ar.entries.len(), 2);
        assert_eq!(read_entry(&Mem(&z), &ar.entries[1], 100).unwrap(), b"xx");
    }

    #[test]
    fn zip64_with_prepended_data_is_shifted_by_the_prefix_only() {
        let mut z = b"0123456789".to_vec();
        z.extend(to_zip64(make_zip(&[("a/data.pkl", b"hi")], 0, true)));
        let ar = read_archive(&Mem(&z));
        assert!(!ar.recovered, "{:?}", ar.problems);
        assert_eq!(ar.prefix, 10);
        assert_eq!(
            ar.problems,
            vec!["10 bytes precede the archive (prepended data)".to_string()]
        );
        assert_eq!(read_entry(&Mem(&z), &ar.entries[0], 100).unwrap(), b"hi");
    }

    #[test]
    fn zip64_locator_to_nowhere_falls_back_to_local_headers() {
        let mut z = to_zip64(make_zip(&[("a/data.pkl", b"hi")], 0, true));
        // Break the zip64 end record's signature: neither adjacent nor declared place holds it.
        let at = z.len() - 22 - 20 - 56;
        z[at] = b'X';
        let ar = read_archive(&Mem(&z));
        assert!(ar.recovered);
        assert!(
            ar.problems[0].contains("zip64 locator"),
            "{:?}",
            ar.problems
        );
        assert_eq!(ar.entries.len(), 1);
    }
}
