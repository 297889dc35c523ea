//! NumPy `.npy` header parsing: the format version, the header dict (`descr`, `fortran_order`,
//! `shape`) and whether the array holds Python objects (then its data is a pickle).

/// The `.npy` magic.
pub const MAGIC: &[u8] = b"\x93NUMPY";

/// A parsed `.npy` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The `descr` value as written (e.g. `'<f4'` or a structured list).
    pub descr: String,
    /// Whether the dtype contains Python objects (`O`).
    pub object: bool,
    /// Shape, when it parses.
    pub shape: Vec<u64>,
    /// Bytes per element, when known (not for objects or structured dtypes).
    pub itemsize: Option<u64>,
    /// Offset of the array data.
    pub data_offset: u64,
}

/// Parse the header from the first bytes of a `.npy` blob.
pub fn parse_header(head: &[u8]) -> Result<Header, String> {
    if !head.starts_with(MAGIC) {
        return Err("not a .npy file (bad magic)".into());
    }
    let major = *head.get(6).ok_or("truncated .npy header")?;
    let (hlen, start) = match major {
        1 => (
            u16::from_le_bytes([
                *head.get(8).ok_or("truncated .npy header")?,
                *head.get(9).ok_or("truncated .npy header")?,
            ]) as usize,
            10usize,
        ),
        2 | 3 => {
            let b = head.get(8..12).ok_or("truncated .npy header")?;
            (
                u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize,
                12usize,
            )
        }
        v => return Err(format!("unsupported .npy version {v}")),
    };
    let text = head
        .get(start..start.saturating_add(hlen))
        .ok_or_else(|| format!("header of {hlen} bytes is truncated"))?;
    let text = String::from_utf8_lossy(text);
    let descr = dict_value(&text, "descr").ok_or("header has no descr")?;
    let object = descr_has_object(&descr);
    let shape = dict_value(&text, "shape")
        .map(|s| {
            s.trim_matches(|c| c == '(' || c == ')')
                .split(',')
                .filter_map(|p| p.trim().parse::<u64>().ok())
                .collect()
        })
        .unwrap_or_default();
    let itemsize = if descr.starts_with('\'') {
        let d = descr.trim_matches('\'');
        let digits: String = d.chars().skip_while(|c| !c.is_ascii_digit()).collect();
        let n = digits.parse::<u64>().ok();
        match d.trim_start_matches(['<', '>', '|', '=']).chars().next() {
            Some('U') => n.map(|n| n * 4),
            Some('b') if n.is_none() => Some(1),
            Some('O') => None,
            _ => n,
        }
    } else {
        None
    };
    Ok(Header {
        descr,
        object,
        shape,
        itemsize,
        data_offset: (start + hlen) as u64,
    })
}

/// Whether a descr (simple or structured) contains the object type code `O`.
fn descr_has_object(descr: &str) -> bool {
    // Type codes are quoted strings like '|O', '<f4'; field names are also quoted, so look at
    // strings that are valid type codes.
    descr.split('\'').enumerate().any(|(i, part)| {
        i % 2 == 1 && {
            let t = part.trim_start_matches(['<', '>', '|', '=']);
            t == "O" || t.starts_with("O8") || t == "O4"
        }
    })
}

/// Extract the raw text of `'key': value` from a Python dict literal.
fn dict_value(text: &str, key: &str) -> Option<String> {
    let pat = format!("'{key}':");
    let i = text.find(&pat)? + pat.len();
    let rest = text[i..].trim_start();
    let mut depth = 0i32;
    let mut in_str = false;
    for (j, c) in rest.char_indices() {
        match c {
            '\'' => in_str = !in_str,
            '(' | '[' | '{' if !in_str => depth += 1,
            ')' | ']' | '}' if !in_str => {
                if depth == 0 {
                    return Some(rest[..j].trim().to_string());
                }
                depth -= 1;
                if depth == 0 {
                    return Some(rest[..=j].trim().to_string());
                }
            }
            ',' if !in_str && depth == 0 => return Some(rest[..j].trim().to_string()),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn npy(dict: &str) -> Vec<u8> {
        let mut h = dict.as_bytes().to_vec();
        while (h.len() + 11) & 63 != 0 {
            h.push(b' ');
        }
        h.push(b'\n');
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&[1, 0]);
        out.extend_from_slice(&(h.len() as u16).to_le_bytes());
        out.extend(h);
        out
    }

    #[test]
    fn parses_plain_and_object_headers() {
        let b = npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }");
        let h = parse_header(&b).unwrap();
        assert_eq!(h.shape, vec![3, 4]);
        assert_eq!(h.itemsize, Some(4));
        assert!(!h.object);
        assert_eq!(h.data_offset, b.len() as u64);
        assert_eq!(h.data_offset % 64, 0);
        let o = parse_header(&npy(
            "{'descr': '|O', 'fortran_order': False, 'shape': (2,), }",
        ))
        .unwrap();
        assert!(o.object);
        let s = parse_header(&npy(
            "{'descr': [('a', '<i4'), ('b', '|O')], 'fortran_order': False, 'shape': (1,), }",
        ))
        .unwrap();
        assert!(s.object);
    }

    #[test]
    fn truncated_header_is_an_error() {
        let mut b = npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }");
        b.truncate(20);
        assert!(parse_header(&b).is_err());
    }
}
