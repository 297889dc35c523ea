//! A small, bounded safetensors header parser: tensor count, parameter count and dtypes, for
//! the model card. Reads only the JSON header, never the tensor data.

use std::collections::BTreeMap;
use std::io::Read;

/// Largest header accepted (the reference implementation caps it at 100 MB).
pub const MAX_HEADER: u64 = 100 * 1024 * 1024;

/// What the header of a safetensors file says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SafetensorsInfo {
    /// Number of tensors.
    pub tensors: u64,
    /// Total number of scalar parameters (product of every tensor's shape, summed).
    pub parameters: u64,
    /// Parameter count per dtype (`F16`, `BF16`, ...).
    pub dtypes: BTreeMap<String, u64>,
    /// The `__metadata__` string map.
    pub metadata: BTreeMap<String, String>,
}

fn dtype_size(dtype: &str) -> Option<u64> {
    Some(match dtype {
        "BOOL" | "U8" | "I8" | "F8_E5M2" | "F8_E4M3" | "F8_E8M0" => 1,
        "I16" | "U16" | "F16" | "BF16" => 2,
        "I32" | "U32" | "F32" => 4,
        "I64" | "U64" | "F64" => 8,
        "F4" | "F6_E2M3" | "F6_E3M2" => return Some(0),
        _ => return None,
    })
}

/// Parse the header of a safetensors stream of `file_len` bytes. Errors are plain messages
/// (the caller names the file).
pub fn parse(mut r: impl Read, file_len: u64) -> Result<SafetensorsInfo, String> {
    let mut len = [0u8; 8];
    r.read_exact(&mut len)
        .map_err(|_| "truncated safetensors header length".to_string())?;
    let n = u64::from_le_bytes(len);
    if n > MAX_HEADER {
        return Err(format!(
            "safetensors header of {n} bytes exceeds the {MAX_HEADER} byte limit"
        ));
    }
    let data_len = file_len
        .checked_sub(8)
        .and_then(|l| l.checked_sub(n))
        .ok_or_else(|| format!("safetensors header length {n} exceeds the file size {file_len}"))?;
    let mut buf = Vec::with_capacity(usize::try_from(n).map_err(|_| "header too large")?);
    r.take(n)
        .read_to_end(&mut buf)
        .map_err(|e| format!("reading safetensors header: {e}"))?;
    if buf.len() as u64 != n {
        return Err("truncated safetensors header".into());
    }
    parse_header(&buf, data_len)
}

/// Parse a safetensors JSON header whose data section is `data_len` bytes long.
pub fn parse_header(header: &[u8], data_len: u64) -> Result<SafetensorsInfo, String> {
    let v: serde_json::Value = serde_json::from_slice(header)
        .map_err(|e| format!("safetensors header is not JSON: {e}"))?;
    let obj = v
        .as_object()
        .ok_or("safetensors header is not a JSON object")?;
    let mut info = SafetensorsInfo::default();
    for (name, t) in obj {
        if name == "__metadata__" {
            if let Some(m) = t.as_object() {
                for (k, v) in m {
                    if let Some(s) = v.as_str() {
                        info.metadata.insert(k.clone(), s.to_string());
                    }
                }
            }
            continue;
        }
        let dtype = t
            .get("dtype")
            .and_then(|d| d.as_str())
            .ok_or_else(|| format!("tensor `{name}` has no dtype"))?;
        let shape = t
            .get("shape")
            .and_then(|s| s.as_array())
            .ok_or_else(|| format!("tensor `{name}` has no shape"))?;
        let mut count: u64 = 1;
        for d in shape {
            let d = d
                .as_u64()
                .ok_or_else(|| format!("tensor `{name}` has a non-integer dimension"))?;
            count = count
                .checked_mul(d)
                .ok_or_else(|| format!("tensor `{name}` shape overflows"))?;
        }
        let offsets = t
            .get("data_offsets")
            .and_then(|o| o.as_array())
            .filter(|o| o.len() == 2)
            .ok_or_else(|| format!("tensor `{name}` has no data_offsets pair"))?;
        let (begin, end) = match (offsets[0].as_u64(), offsets[1].as_u64()) {
            (Some(b), Some(e)) if b <= e && e <= data_len => (b, e),
            _ => {
                return Err(format!(
                    "tensor `{name}` data_offsets are outside the {data_len} byte data section"
                ))
            }
        };
        if let Some(size) = dtype_size(dtype).filter(|&s| s > 0) {
            if count.checked_mul(size) != Some(end - begin) {
                return Err(format!(
                    "tensor `{name}` occupies {} bytes but its shape and dtype need {}",
                    end - begin,
                    count.saturating_mul(size)
                ));
            }
        }
        info.tensors += 1;
        info.parameters = info.parameters.saturating_add(count);
        let e = info.dtypes.entry(dtype.to_string()).or_insert(0);
        *e = e.saturating_add(count);
    }
    Ok(info)
}

/// Human form of a parameter count: `124.4M`, `7.24B`.
pub fn human_count(n: u64) -> String {
    let f = n as f64;
    if n >= 1_000_000_000 {
        format!("{:.2}B", f / 1e9)
    } else if n >= 1_000_000 {
        format!("{:.1}M", f / 1e6)
    } else if n >= 1_000 {
        format!("{:.1}K", f / 1e3)
    } else {
        n.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(header: &str, data: usize) -> Vec<u8> {
        let mut v = (header.len() as u64).to_le_bytes().to_vec();
        v.extend_from_slice(header.as_bytes());
        v.resize(v.len() + data, 0u8);
        v
    }

    #[test]
    fn counts_parameters_and_dtypes() {
        let h = r#"{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},"b":{"dtype":"F16","shape":[4],"data_offsets":[24,32]}}"#;
        let f = file(h, 32);
        let info = parse(&f[..], f.len() as u64).unwrap();
        assert_eq!(info.tensors, 2);
        assert_eq!(info.parameters, 10);
        assert_eq!(info.dtypes["F32"], 6);
        assert_eq!(info.metadata["format"], "pt");
    }

    #[test]
    fn rejects_lying_headers() {
        let f = file(
            r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,100]}}"#,
            8,
        );
        assert!(parse(&f[..], f.len() as u64)
            .unwrap_err()
            .contains("outside"));
        let f = file(
            r#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#,
            8,
        );
        assert!(parse(&f[..], f.len() as u64)
            .unwrap_err()
            .contains("need 12"));
        let mut huge = u64::MAX.to_le_bytes().to_vec();
        huge.push(b'{');
        assert!(parse(&huge[..], 9).unwrap_err().contains("limit"));
        let f = file(
            r#"{"a":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,0]}}"#,
            0,
        );
        assert!(parse(&f[..], f.len() as u64)
            .unwrap_err()
            .contains("overflow"));
    }

    #[test]
    fn human_counts() {
        assert_eq!(human_count(124_439_808), "124.4M");
        assert_eq!(human_count(7_241_732_096), "7.24B");
        assert_eq!(human_count(12), "12");
    }
}
