//! GGUF (llama.cpp) header and metadata parser: key/value metadata, tensor infos, and a check of
//! `tokenizer.chat_template` for Jinja server-side template injection (attribute walks to
//! `__globals__`, `os`, `subprocess`, ...). Tensor data is never read.

use crate::source::Source;

/// Metadata entries read.
const MAX_KV: u64 = 1 << 20;
/// Elements of one array.
const MAX_ARRAY: u64 = 1 << 26;
/// Tensors listed.
const MAX_TENSORS: u64 = 1 << 20;
/// Longest string value read into memory (chat templates are a few KiB).
const MAX_STRING: u64 = 64 * 1024 * 1024;

/// What the parser found.
#[derive(Debug, Default)]
pub struct Gguf {
    /// Format version.
    pub version: u32,
    /// Chat templates: (key, template text).
    pub templates: Vec<(String, String)>,
    /// Structural problems.
    pub problems: Vec<String>,
    /// Number of tensors declared.
    pub tensors: u64,
}

struct Reader<'a> {
    src: &'a dyn Source,
    pos: u64,
    buf: Vec<u8>,
    buf_at: u64,
}

impl<'a> Reader<'a> {
    fn bytes(&mut self, n: u64) -> Result<Vec<u8>, String> {
        if self.pos.saturating_add(n) > self.src.len() {
            return Err(format!(
                "{n} bytes declared at offset {} run past the end of the file",
                self.pos
            ));
        }
        let n = n as usize;
        let in_buf =
            self.pos >= self.buf_at && self.pos + n as u64 <= self.buf_at + self.buf.len() as u64;
        if !in_buf {
            self.buf_at = self.pos;
            self.buf = self
                .src
                .read_at(self.pos, n.max(1 << 20))
                .map_err(|e| e.to_string())?;
            if self.buf.len() < n {
                return Err(format!("truncated at offset {}", self.pos));
            }
        }
        let s = (self.pos - self.buf_at) as usize;
        self.pos += n as u64;
        Ok(self.buf[s..s + n].to_vec())
    }
    fn u32(&mut self) -> Result<u32, String> {
        let b = self.bytes(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Result<u64, String> {
        let b = self.bytes(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(&b);
        Ok(u64::from_le_bytes(a))
    }
    fn count(&mut self, v1: bool) -> Result<u64, String> {
        if v1 {
            self.u32().map(u64::from)
        } else {
            self.u64()
        }
    }
    fn string(&mut self, v1: bool) -> Result<String, String> {
        let n = self.count(v1)?;
        if n > MAX_STRING {
            return Err(format!(
                "string of {n} bytes at offset {} exceeds {MAX_STRING} bytes",
                self.pos
            ));
        }
        Ok(String::from_utf8_lossy(&self.bytes(n)?).into_owned())
    }
    fn skip(&mut self, n: u64) -> Result<(), String> {
        if self.pos.saturating_add(n) > self.src.len() {
            return Err(format!("value at offset {} runs past the end", self.pos));
        }
        self.pos += n;
        Ok(())
    }
}

fn scalar_size(t: u32) -> Option<u64> {
    Some(match t {
        0 | 1 | 7 => 1,
        2 | 3 => 2,
        4..=6 => 4,
        10..=12 => 8,
        _ => return None,
    })
}

/// Parse the GGUF header and metadata.
pub fn parse(src: &dyn Source) -> Gguf {
    let mut g = Gguf::default();
    let mut r = Reader {
        src,
        pos: 0,
        buf: Vec::new(),
        buf_at: 0,
    };
    if let Err(e) = parse_inner(&mut r, &mut g) {
        g.problems.push(e);
    }
    g
}

fn parse_inner(r: &mut Reader, g: &mut Gguf) -> Result<(), String> {
    if r.bytes(4)? != b"GGUF" {
        return Err("bad magic".into());
    }
    g.version = r.u32()?;
    if !(1..=3).contains(&g.version) {
        return Err(format!("unsupported version {}", g.version));
    }
    let v1 = g.version == 1;
    let n_tensors = r.count(v1)?;
    let n_kv = r.count(v1)?;
    if n_kv > MAX_KV || n_tensors > MAX_TENSORS {
        return Err(format!(
            "implausible counts: {n_tensors} tensors, {n_kv} metadata entries"
        ));
    }
    g.tensors = n_tensors;
    let mut alignment = 32u64;
    for _ in 0..n_kv {
        let key = r.string(v1)?;
        let t = r.u32()?;
        match t {
            8 => {
                let s = r.string(v1)?;
                if key == "tokenizer.chat_template" || key.starts_with("tokenizer.chat_template.") {
                    g.templates.push((key, s));
                }
            }
            9 => {
                let et = r.u32()?;
                let n = r.count(v1)?;
                if n > MAX_ARRAY {
                    return Err(format!("array `{key}` declares {n} elements"));
                }
                if et == 8 {
                    for _ in 0..n {
                        let l = r.count(v1)?;
                        r.skip(l)?;
                    }
                } else {
                    let sz = scalar_size(et)
                        .ok_or_else(|| format!("array `{key}` has element type {et}"))?;
                    r.skip(sz.saturating_mul(n))?;
                }
            }
            _ => {
                let sz = scalar_size(t).ok_or_else(|| format!("key `{key}` has value type {t}"))?;
                let b = r.bytes(sz)?;
                if key == "general.alignment" && sz == 4 {
                    alignment = u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as u64;
                }
            }
        }
    }
    if alignment == 0 || !alignment.is_power_of_two() {
        g.problems.push(format!(
            "general.alignment {alignment} is not a power of two"
        ));
        alignment = 32;
    }
    let mut max_off = 0u64;
    for _ in 0..n_tensors {
        let name = r.string(v1)?;
        let nd = r.u32()?;
        if nd > 8 {
            return Err(format!("tensor `{name}` has {nd} dimensions"));
        }
        for _ in 0..nd {
            r.count(v1)?;
        }
        r.u32()?;
        let off = r.u64()?;
        if off % alignment != 0 {
            g.problems.push(format!(
                "tensor `{name}` offset {off} is not aligned to {alignment}"
            ));
        }
        max_off = max_off.max(off);
    }
    let data_start = r.pos.div_ceil(alignment) * alignment;
    if n_tensors > 0 && data_start.saturating_add(max_off) >= r.src.len() {
        g.problems.push(format!(
            "tensor data offset {max_off} lies past the end of the file (data starts at {data_start})"
        ));
    }
    Ok(())
}

/// Suspicious constructs in a Jinja chat template: (pattern, critical?).
const JINJA_PATTERNS: &[(&str, bool)] = &[
    ("__globals__", true),
    ("__builtins__", true),
    ("__import__", true),
    ("__subclasses__", true),
    ("__class__", true),
    ("__mro__", true),
    ("__base__", true),
    ("__bases__", true),
    ("__init__", true),
    ("__getattribute__", true),
    ("__dict__", true),
    ("__code__", true),
    ("_TemplateReference__context", true),
    ("popen", true),
    ("subprocess", true),
    ("os.system", true),
    ("eval(", true),
    ("exec(", true),
    ("|attr(", false),
    ("| attr(", false),
    ("lipsum", false),
    ("cycler", false),
    ("joiner", false),
    ("request.application", false),
    ("config.items", false),
];

/// The suspicious constructs found in a template: (pattern, critical, snippet).
pub fn template_issues(t: &str) -> Vec<(&'static str, bool, String)> {
    let mut out = Vec::new();
    for &(p, crit) in JINJA_PATTERNS {
        if let Some(i) = t.find(p) {
            let mut s = i.saturating_sub(40);
            while !t.is_char_boundary(s) {
                s -= 1;
            }
            let mut e = (i + p.len() + 40).min(t.len());
            while !t.is_char_boundary(e) {
                e += 1;
            }
            out.push((p, crit, t[s..e].to_string()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Mem;

    fn gstr(s: &str) -> Vec<u8> {
        let mut v = (s.len() as u64).to_le_bytes().to_vec();
        v.extend_from_slice(s.as_bytes());
        v
    }

    #[test]
    fn parses_template_and_skips_arrays() {
        let mut f = b"GGUF".to_vec();
        f.extend(3u32.to_le_bytes());
        f.extend(0u64.to_le_bytes());
        f.extend(2u64.to_le_bytes());
        f.extend(gstr("tokenizer.ggml.tokens"));
        f.extend(9u32.to_le_bytes());
        f.extend(8u32.to_le_bytes());
        f.extend(2u64.to_le_bytes());
        f.extend(gstr("a"));
        f.extend(gstr("b"));
        f.extend(gstr("tokenizer.chat_template"));
        f.extend(8u32.to_le_bytes());
        f.extend(gstr(
            "{{ self.__init__.__globals__.os.popen('id').read() }}",
        ));
        let g = parse(&Mem(&f));
        assert!(g.problems.is_empty(), "{:?}", g.problems);
        assert_eq!(g.templates.len(), 1);
        let issues = template_issues(&g.templates[0].1);
        assert!(issues.iter().any(|(p, c, _)| *p == "__globals__" && *c));
    }

    #[test]
    fn huge_string_length_is_a_problem_not_an_allocation() {
        let mut f = b"GGUF".to_vec();
        f.extend(3u32.to_le_bytes());
        f.extend(0u64.to_le_bytes());
        f.extend(1u64.to_le_bytes());
        f.extend(u64::MAX.to_le_bytes());
        let g = parse(&Mem(&f));
        assert_eq!(g.problems.len(), 1);
    }

    #[test]
    fn benign_template_is_clean() {
        let t = "{% for message in messages %}<|{{ message['role'] }}|>{{ message['content'] }}{% endfor %}";
        assert!(template_issues(t).is_empty());
    }
}
