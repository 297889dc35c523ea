//! safetensors validation: the header JSON is well formed, dtypes and shapes agree with the byte
//! ranges, ranges neither overlap nor leave gaps, and the file size matches. Only the header is read.

use crate::rules::Rule;
use crate::source::Source;

/// Largest header accepted (the reference implementation's limit is 100 MB).
const MAX_HEADER: u64 = 100 * 1024 * 1024;

/// A problem found, with its rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// [`Rule::SafetensorsMalformed`] or [`Rule::SafetensorsInconsistent`].
    pub rule: Rule,
    /// What is wrong.
    pub detail: String,
}

fn dtype_size(d: &str) -> Option<u64> {
    Some(match d {
        "BOOL" | "U8" | "I8" | "F8_E4M3" | "F8_E5M2" | "F8_E8M0" => 1,
        "I16" | "U16" | "F16" | "BF16" => 2,
        "I32" | "U32" | "F32" => 4,
        "I64" | "U64" | "F64" | "C64" => 8,
        _ => return None,
    })
}

fn malformed(detail: impl Into<String>) -> Problem {
    Problem {
        rule: Rule::SafetensorsMalformed,
        detail: detail.into(),
    }
}

fn inconsistent(detail: impl Into<String>) -> Problem {
    Problem {
        rule: Rule::SafetensorsInconsistent,
        detail: detail.into(),
    }
}

/// Check a safetensors file; returns the problems found (empty when valid).
pub fn check(src: &dyn Source) -> Vec<Problem> {
    let mut out = Vec::new();
    let len = src.len();
    let hb = match src.read_at(0, 8) {
        Ok(b) if b.len() == 8 => b,
        _ => return vec![malformed("file shorter than the 8-byte header length")],
    };
    let n = u64::from_le_bytes([hb[0], hb[1], hb[2], hb[3], hb[4], hb[5], hb[6], hb[7]]);
    if n > MAX_HEADER {
        return vec![malformed(format!(
            "header length {n} exceeds {MAX_HEADER} bytes"
        ))];
    }
    if n.saturating_add(8) > len {
        return vec![malformed(format!(
            "header length {n} runs past the end of the {len}-byte file"
        ))];
    }
    let header = match src.read_at(8, n as usize) {
        Ok(h) => h,
        Err(e) => return vec![malformed(format!("cannot read header: {e}"))],
    };
    let json: serde_json::Value = match serde_json::from_slice(&header) {
        Ok(v) => v,
        Err(e) => return vec![malformed(format!("header is not valid JSON: {e}"))],
    };
    let Some(map) = json.as_object() else {
        return vec![malformed("header is not a JSON object")];
    };
    let data_len = len - 8 - n;
    let mut ranges: Vec<(u64, u64, String)> = Vec::new();
    for (name, v) in map {
        if name == "__metadata__" {
            if let Some(m) = v.as_object() {
                if m.values().any(|x| !x.is_string()) {
                    out.push(malformed("__metadata__ values must be strings"));
                }
            } else {
                out.push(malformed("__metadata__ is not an object"));
            }
            continue;
        }
        let dtype = v.get("dtype").and_then(|d| d.as_str()).unwrap_or("");
        let shape: Option<Vec<u64>> = v
            .get("shape")
            .and_then(|s| s.as_array())
            .and_then(|a| a.iter().map(|x| x.as_u64()).collect());
        let offs: Option<Vec<u64>> = v
            .get("data_offsets")
            .and_then(|s| s.as_array())
            .and_then(|a| a.iter().map(|x| x.as_u64()).collect());
        let (Some(shape), Some(offs)) = (shape, offs) else {
            out.push(malformed(format!(
                "tensor `{name}` lacks a valid shape or data_offsets"
            )));
            continue;
        };
        let [begin, end] = offs[..] else {
            out.push(malformed(format!(
                "tensor `{name}` data_offsets is not [begin, end]"
            )));
            continue;
        };
        let Some(size) = dtype_size(dtype) else {
            out.push(malformed(format!(
                "tensor `{name}` has unknown dtype `{dtype}`"
            )));
            continue;
        };
        let want = shape.iter().try_fold(size, |acc, &d| acc.checked_mul(d));
        if end < begin || end > data_len {
            out.push(inconsistent(format!(
                "tensor `{name}` range [{begin}, {end}) outside the {data_len}-byte data"
            )));
            continue;
        }
        if want != Some(end - begin) {
            out.push(inconsistent(format!(
                "tensor `{name}` is {dtype} {shape:?} ({} bytes) but its range holds {} bytes",
                want.map(|w| w.to_string())
                    .unwrap_or_else(|| "overflowing".into()),
                end - begin
            )));
        }
        ranges.push((begin, end, name.clone()));
    }
    ranges.sort();
    let mut at = 0u64;
    for (b, e, name) in &ranges {
        if *b < at {
            out.push(inconsistent(format!(
                "tensor `{name}` overlaps the previous tensor at {b}"
            )));
        } else if *b > at {
            out.push(inconsistent(format!(
                "gap of {} bytes before tensor `{name}`",
                b - at
            )));
        }
        at = at.max(*e);
    }
    if at != data_len && out.is_empty() {
        out.push(inconsistent(format!(
            "tensors cover {at} bytes but the file holds {data_len} bytes of data"
        )));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Mem;

    fn st(header: &str, data: usize) -> Vec<u8> {
        let mut v = (header.len() as u64).to_le_bytes().to_vec();
        v.extend_from_slice(header.as_bytes());
        v.resize(v.len() + data, 0);
        v
    }

    #[test]
    fn valid_file_has_no_problems() {
        let f = st(
            r#"{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"b":{"dtype":"F16","shape":[4],"data_offsets":[16,24]}}"#,
            24,
        );
        assert_eq!(check(&Mem(&f)), vec![]);
    }

    #[test]
    fn overlap_size_and_length_problems() {
        let f = st(
            r#"{"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}"#,
            16,
        );
        let p = check(&Mem(&f));
        assert!(p.iter().any(|p| p.detail.contains("overlaps")), "{p:?}");
        let f = st(
            r#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}}"#,
            16,
        );
        assert_eq!(check(&Mem(&f))[0].rule, Rule::SafetensorsInconsistent);
        let mut f = st(
            r#"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#,
            16,
        );
        f[0] = 0xff;
        f[5] = 0x7f;
        assert_eq!(check(&Mem(&f))[0].rule, Rule::SafetensorsMalformed);
    }
}
