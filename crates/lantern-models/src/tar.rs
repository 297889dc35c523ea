//! A minimal tar reader over a [`Source`] (ustar, GNU long names, pax paths): lists members
//! and their data offsets with seeks, for the legacy PyTorch tar checkpoint format.

use crate::source::Source;

/// Members listed per archive.
const MAX_MEMBERS: usize = 100_000;

/// One regular file in the tar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Path inside the archive.
    pub name: String,
    /// Offset of the data.
    pub offset: u64,
    /// Size of the data.
    pub size: u64,
}

/// Whether a 512-byte block is a ustar/GNU header.
pub fn is_tar_header(head: &[u8]) -> bool {
    head.get(257..262) == Some(b"ustar")
}

fn octal(b: &[u8]) -> Option<u64> {
    // GNU base-256 for big sizes.
    if let Some(&first) = b.first() {
        if first & 0x80 != 0 {
            let mut v: u64 = (first & 0x7f) as u64;
            for &x in &b[1..] {
                v = v.checked_mul(256)?.checked_add(x as u64)?;
            }
            return Some(v);
        }
    }
    let s = std::str::from_utf8(b).ok()?;
    let s = s.trim_matches(|c: char| c == '\0' || c == ' ');
    if s.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(s, 8).ok()
}

fn cstr(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

/// List the regular files of a tar archive; the second value lists problems found.
pub fn list(src: &dyn Source) -> (Vec<Member>, Vec<String>) {
    let mut out = Vec::new();
    let mut problems = Vec::new();
    let mut off = 0u64;
    let mut long_name: Option<String> = None;
    while off + 512 <= src.len() && out.len() < MAX_MEMBERS {
        let h = match src.read_at(off, 512) {
            Ok(h) if h.len() == 512 => h,
            _ => break,
        };
        if h.iter().all(|&b| b == 0) {
            break;
        }
        let size = match octal(&h[124..136]) {
            Some(s) => s,
            None => {
                problems.push(format!("bad tar header at offset {off}"));
                break;
            }
        };
        let data = off + 512;
        if data.saturating_add(size) > src.len() {
            problems.push(format!("tar member at offset {off} runs past the end"));
        }
        let kind = h[156];
        let mut name = cstr(&h[0..100]);
        let prefix = cstr(&h[345..500]);
        if !prefix.is_empty() && is_tar_header(&h) {
            name = format!("{prefix}/{name}");
        }
        match kind {
            b'L' | b'x' => {
                let body = src
                    .read_at(data, size.min(64 * 1024) as usize)
                    .unwrap_or_default();
                if kind == b'L' {
                    long_name = Some(cstr(&body));
                } else {
                    let text = String::from_utf8_lossy(&body);
                    for rec in text.lines() {
                        if let Some(p) = rec.split_once(" path=").map(|(_, p)| p) {
                            long_name = Some(p.to_string());
                        }
                    }
                }
            }
            b'0' | 0 | b'7' => {
                out.push(Member {
                    name: long_name.take().unwrap_or(name),
                    offset: data,
                    size: size.min(src.len().saturating_sub(data)),
                });
            }
            _ => {
                long_name = None;
            }
        }
        let padded = size.div_ceil(512).saturating_mul(512);
        off = match data.checked_add(padded) {
            Some(o) => o,
            None => break,
        };
    }
    (out, problems)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Mem;

    pub(crate) fn make_tar(members: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (name, data) in members {
            let mut h = [0u8; 512];
            h[..name.len()].copy_from_slice(name.as_bytes());
            h[100..107].copy_from_slice(b"0000644");
            let size = format!("{:011o}", data.len());
            h[124..135].copy_from_slice(size.as_bytes());
            h[156] = b'0';
            h[257..263].copy_from_slice(b"ustar\0");
            h[263..265].copy_from_slice(b"00");
            h[148..156].copy_from_slice(b"        ");
            let sum: u32 = h.iter().map(|&b| b as u32).sum();
            let cs = format!("{sum:06o}\0 ");
            h[148..156].copy_from_slice(cs.as_bytes());
            out.extend_from_slice(&h);
            out.extend_from_slice(data);
            out.resize(out.len().div_ceil(512) * 512, 0);
        }
        out.resize(out.len() + 1024, 0);
        out
    }

    #[test]
    fn lists_members_with_offsets() {
        let t = make_tar(&[("sys_info", b"abc"), ("pickle", b"\x80\x02N.")]);
        let (m, p) = list(&Mem(&t));
        assert!(p.is_empty());
        assert_eq!(m.len(), 2);
        assert_eq!(m[1].name, "pickle");
        assert_eq!(m[1].offset, 512 * 3);
        assert_eq!(m[1].size, 4);
    }
}
