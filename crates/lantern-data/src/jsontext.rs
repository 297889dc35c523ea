//! Exact JSON reading for record digests. A JSON Lines row is parsed into its top-level
//! fields, every value kept exactly: strings as their text, any other value as canonical
//! compact text — numbers as their source text (`12345678901234567890123` and `1.0` stay what
//! they are, never rounded through a float), object keys sorted (stably: duplicate keys are
//! all kept, in source order), strings re-escaped one way ([`escape_into`]), no whitespace.
//! Input must be UTF-8 (RFC 8259); the grammar is checked strictly, so anything this accepts
//! is JSON and any two texts with the same canonical form hold the same values.

/// Deepest nesting of arrays and objects accepted (deeper rows are unreadable).
pub const MAX_DEPTH: u32 = 128;

/// A top-level field's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// A JSON string, unescaped.
    Text(String),
    /// Any other value, in canonical compact text.
    Other(String),
}

/// Parse one JSON object into its fields in source order. `Err` says why the text is not a
/// JSON object.
pub fn parse_object(text: &str) -> Result<Vec<(String, Value)>, String> {
    let mut p = Parser {
        s: text,
        b: text.as_bytes(),
        i: 0,
        depth: 0,
    };
    p.ws();
    if p.peek() != Some(b'{') {
        return Err(if p.peek().is_none() {
            "empty".into()
        } else {
            "not a json object".into()
        });
    }
    let mut fields = Vec::new();
    p.members(|p, key| {
        let v = if p.peek() == Some(b'"') {
            Value::Text(p.string()?)
        } else {
            let mut out = String::new();
            p.value(&mut out)?;
            Value::Other(out)
        };
        fields.push((key, v));
        Ok(())
    })?;
    p.ws();
    if p.i != p.b.len() {
        return Err(p.err("trailing characters after the object"));
    }
    Ok(fields)
}

/// Append `s` as a JSON string literal: `"` and `\` escaped with a backslash, the control
/// characters as `\b \f \n \r \t` or `\u00XX`, everything else as itself (the way serde_json
/// writes strings).
pub fn escape_into(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

struct Parser<'a> {
    s: &'a str,
    b: &'a [u8],
    i: usize,
    depth: u32,
}

type Res<T = ()> = Result<T, String>;

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn err(&self, what: &str) -> String {
        format!("invalid json at byte {}: {what}", self.i + 1)
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn expect(&mut self, c: u8, what: &str) -> Res {
        self.ws();
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(self.err(what))
        }
    }

    fn enter(&mut self) -> Res {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err("nested too deeply"));
        }
        Ok(())
    }

    /// `{ "key": value, ... }` with the cursor on `{`; `member` reads each value.
    fn members(&mut self, mut member: impl FnMut(&mut Self, String) -> Res) -> Res {
        self.enter()?;
        self.i += 1;
        self.ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
            self.depth -= 1;
            return Ok(());
        }
        loop {
            self.ws();
            if self.peek() != Some(b'"') {
                return Err(self.err("expected a string key"));
            }
            let key = self.string()?;
            self.expect(b':', "expected `:`")?;
            self.ws();
            member(self, key)?;
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    self.depth -= 1;
                    return Ok(());
                }
                _ => return Err(self.err("expected `,` or `}`")),
            }
        }
    }

    /// Any value at the cursor (after whitespace), appended in canonical form.
    fn value(&mut self, out: &mut String) -> Res {
        self.ws();
        match self.peek() {
            Some(b'"') => {
                let s = self.string()?;
                escape_into(out, &s);
                Ok(())
            }
            Some(b'{') => {
                let mut pairs: Vec<(String, String)> = Vec::new();
                self.members(|p, key| {
                    let mut v = String::new();
                    p.value(&mut v)?;
                    pairs.push((key, v));
                    Ok(())
                })?;
                pairs.sort_by(|a, b| a.0.cmp(&b.0));
                out.push('{');
                for (n, (k, v)) in pairs.iter().enumerate() {
                    if n > 0 {
                        out.push(',');
                    }
                    escape_into(out, k);
                    out.push(':');
                    out.push_str(v);
                }
                out.push('}');
                Ok(())
            }
            Some(b'[') => self.array(out),
            Some(b't') => self.literal("true", out),
            Some(b'f') => self.literal("false", out),
            Some(b'n') => self.literal("null", out),
            Some(b'-' | b'0'..=b'9') => self.number(out),
            _ => Err(self.err("expected a value")),
        }
    }

    fn array(&mut self, out: &mut String) -> Res {
        self.enter()?;
        self.i += 1;
        out.push('[');
        self.ws();
        if self.peek() == Some(b']') {
            self.i += 1;
        } else {
            loop {
                self.value(out)?;
                self.ws();
                match self.peek() {
                    Some(b',') => {
                        self.i += 1;
                        out.push(',');
                    }
                    Some(b']') => {
                        self.i += 1;
                        break;
                    }
                    _ => return Err(self.err("expected `,` or `]`")),
                }
            }
        }
        out.push(']');
        self.depth -= 1;
        Ok(())
    }

    fn literal(&mut self, word: &str, out: &mut String) -> Res {
        if self.b.get(self.i..self.i + word.len()) == Some(word.as_bytes()) {
            self.i += word.len();
            out.push_str(word);
            Ok(())
        } else {
            Err(self.err("expected a value"))
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.i += 1;
        }
        self.i - start
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`, copied as written.
    fn number(&mut self, out: &mut String) -> Res {
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek() {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.err("invalid number")),
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if self.digits() == 0 {
                return Err(self.err("invalid number"));
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if self.digits() == 0 {
                return Err(self.err("invalid number"));
            }
        }
        out.push_str(self.s.get(start..self.i).unwrap_or_default());
        Ok(())
    }

    fn hex4(&mut self) -> Res<u32> {
        let h = self
            .s
            .get(self.i..self.i + 4)
            .filter(|h| h.bytes().all(|c| c.is_ascii_hexdigit()))
            .ok_or_else(|| self.err("invalid \\u escape"))?;
        self.i += 4;
        u32::from_str_radix(h, 16).map_err(|_| self.err("invalid \\u escape"))
    }

    /// A string literal at the cursor, unescaped.
    fn string(&mut self) -> Res<String> {
        self.i += 1;
        let mut out = String::new();
        loop {
            let start = self.i;
            while matches!(self.peek(), Some(c) if c != b'"' && c != b'\\' && c >= 0x20) {
                self.i += 1;
            }
            out.push_str(self.s.get(start..self.i).unwrap_or_default());
            match self.peek() {
                Some(b'"') => {
                    self.i += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.i += 1;
                    let c = self.peek().ok_or_else(|| self.err("unterminated string"))?;
                    self.i += 1;
                    let ch = match c {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => self.unicode_escape()?,
                        _ => return Err(self.err("invalid escape")),
                    };
                    out.push(ch);
                }
                Some(_) => return Err(self.err("control character in string")),
                None => return Err(self.err("unterminated string")),
            }
        }
    }

    /// The character of a `\uXXXX` escape (cursor after `u`), joining surrogate pairs; a lone
    /// surrogate is an error (no string holds it).
    fn unicode_escape(&mut self) -> Res<char> {
        let hi = self.hex4()?;
        let code = if (0xD800..0xDC00).contains(&hi) {
            if self.b.get(self.i..self.i + 2) != Some(b"\\u") {
                return Err(self.err("lone surrogate in \\u escape"));
            }
            self.i += 2;
            let lo = self.hex4()?;
            if !(0xDC00..0xE000).contains(&lo) {
                return Err(self.err("lone surrogate in \\u escape"));
            }
            0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
        } else {
            hi
        };
        char::from_u32(code).ok_or_else(|| self.err("lone surrogate in \\u escape"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn other(s: &str) -> Value {
        Value::Other(s.into())
    }

    #[test]
    fn numbers_keep_their_text_and_keys_sort() {
        let f = parse_object(
            r#" {"b": 12345678901234567890123, "a" : [1.0, -0, 1e400, {"z":1,"y":"\u0041"}], "s":"x\"y", "a": null} "#,
        )
        .unwrap();
        assert_eq!(f[0], ("b".into(), other("12345678901234567890123")));
        assert_eq!(
            f[1],
            ("a".into(), other(r#"[1.0,-0,1e400,{"y":"A","z":1}]"#))
        );
        assert_eq!(f[2], ("s".into(), Value::Text("x\"y".into())));
        assert_eq!(f[3], ("a".into(), other("null")));
        let g = parse_object(r#"{"b":12345678901234567890124}"#).unwrap();
        assert_ne!(g[0], f[0]);
    }

    #[test]
    fn rejects_what_is_not_a_json_object() {
        for bad in [
            "[1]",
            "1",
            "",
            "{",
            "{\"a\":}",
            "{\"a\":01}",
            "{\"a\":1.}",
            "{\"a\":\"\\ud800\"}",
            "{\"a\":\"\t\"}",
            "{\"a\":1} x",
            "{\"a\":1,}",
            "{a:1}",
            "{\"a\":tru}",
        ] {
            assert!(parse_object(bad).is_err(), "{bad}");
        }
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(200), "]".repeat(200));
        assert!(parse_object(&deep).unwrap_err().contains("nested"));
        assert_eq!(
            parse_object("{\"a\":\"\\ud83d\\ude00\"}").unwrap()[0].1,
            Value::Text("\u{1f600}".into())
        );
    }

    /// Escaping agrees with serde_json's.
    #[test]
    fn escaping_matches_serde_json() {
        let s = "a\"b\\c\n\r\t\u{8}\u{c}\u{1}\u{1f}\u{7f}é/";
        let mut out = String::new();
        escape_into(&mut out, s);
        assert_eq!(out, serde_json::to_string(s).unwrap());
    }

    proptest! {
        /// On any text, the parser accepts an object exactly when serde_json does (leaving
        /// out numbers beyond f64, which serde_json refuses and this keeps as text), and the
        /// string values agree.
        #[test]
        fn agrees_with_serde_json(s in r#"\{( ?"[a-c\\"]{0,3}" ?: ?(-?[0-9]{1,3}(\.[0-9])?|"[a-z\\u00e9\\\\n]{0,4}"|\[[0-9, ]{0,5}\]|true|nul|\{\}),?){0,3} ?\}"#) {
            let ours = parse_object(&s);
            let theirs = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&s);
            prop_assert_eq!(ours.is_ok(), theirs.is_ok(), "{:?} {:?}", ours, theirs);
            if let (Ok(o), Ok(t)) = (ours, theirs) {
                for (k, v) in &o {
                    if let Value::Text(text) = v {
                        // serde_json keeps the last of duplicate keys.
                        if o.iter().filter(|(k2, _)| k2 == k).count() == 1 {
                            prop_assert_eq!(t.get(k).and_then(|x| x.as_str()), Some(text.as_str()));
                        }
                    }
                }
            }
        }
    }
}
