//! A single-pass reader of the common shape of a streamed chunk (`choices[0].delta.content`,
//! `text`, `finish_reason`, `usage`), about ten times cheaper than the derived serde view on the
//! ~150-byte events of a stream. It accepts a strict subset of JSON and declines (returns `None`)
//! on anything else — `\u` escapes, exponents, nesting deeper than [`MAX_DEPTH`], duplicate read
//! fields, unexpected types — so the caller falls back to the serde view; what it accepts it reads
//! exactly as that view does (a property test in `sse` compares them). Within a stream, a chunk
//! that is the last fully read chunk with another text is read through that chunk's template
//! (prefix and suffix compared, only the text token parsed): 30% off the filter's cost per
//! response of the guard benchmark's mock.

use std::borrow::Cow;

/// Deepest nesting of skipped values accepted.
const MAX_DEPTH: u32 = 32;

/// What a chunk carries: `(usage, finish_reason, text)` as in `sse::ChunkFields`.
pub(crate) type Fields<'a> = (
    Option<(u64, u64)>,
    Option<Cow<'a, str>>,
    Option<Cow<'a, str>>,
);

/// A byte range `(start, end)` of a chunk.
type Span = (usize, usize);

/// Index of the first byte at or after `i` that ends a run of plain string content (`"`, `\`
/// or a control character below 0x20), or `b.len()`. Eight bytes at a time: for each of the
/// three tests, the lowest flagged byte of the SWAR mask is exactly the first matching byte
/// (a borrow only flags bytes above a true match), so the lowest flag of their union is the stop.
#[inline]
fn string_stop(b: &[u8], mut i: usize) -> usize {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    while let Some(w) = b.get(i..i + 8).and_then(|w| <[u8; 8]>::try_from(w).ok()) {
        let x = u64::from_le_bytes(w);
        let q = x ^ (LO * u64::from(b'"'));
        let e = x ^ (LO * u64::from(b'\\'));
        let m = (q.wrapping_sub(LO) & !q)
            | (e.wrapping_sub(LO) & !e)
            | (x.wrapping_sub(LO * 0x20) & !x);
        let m = m & HI;
        if m != 0 {
            return i + (m.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while b
        .get(i)
        .is_some_and(|&c| c != b'"' && c != b'\\' && c >= 0x20)
    {
        i += 1;
    }
    i
}

struct Cur<'a> {
    s: &'a str,
    i: usize,
    /// Where the string token of the text `choices` returned is (quotes included).
    text_span: Option<Span>,
    /// `choices` was an empty array.
    no_choices: bool,
}

impl<'a> Cur<'a> {
    fn byte(&self) -> Option<u8> {
        self.s.as_bytes().get(self.i).copied()
    }

    fn ws(&mut self) {
        while matches!(self.byte(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    /// The next byte after whitespace (not consumed).
    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.byte()
    }

    /// Consumes `c` (after whitespace) when it is next.
    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn literal(&mut self, word: &str) -> Option<()> {
        self.ws();
        let rest = self.s.get(self.i..)?;
        rest.starts_with(word).then(|| self.i += word.len())
    }

    /// A string, borrowed when it has no escape; `None` on a control character, a `\u` escape or
    /// a missing quote.
    fn string(&mut self) -> Option<Cow<'a, str>> {
        if !self.eat(b'"') {
            return None;
        }
        let b = self.s.as_bytes();
        let start = self.i;
        self.i = string_stop(b, self.i);
        match *b.get(self.i)? {
            b'"' => {
                // stops are ASCII bytes: character boundaries
                let s = self.s.get(start..self.i)?;
                self.i += 1;
                return Some(Cow::Borrowed(s));
            }
            b'\\' => {}
            _ => return None,
        }
        let mut out = String::from(self.s.get(start..self.i)?);
        loop {
            match *b.get(self.i)? {
                b'"' => {
                    self.i += 1;
                    return Some(Cow::Owned(out));
                }
                b'\\' => {
                    let c = match *b.get(self.i + 1)? {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        _ => return None,
                    };
                    out.push(c);
                    self.i += 2;
                }
                c if c < 0x20 => return None,
                _ => {
                    let run = self.i;
                    self.i = string_stop(b, self.i);
                    out.push_str(self.s.get(run..self.i)?);
                }
            }
        }
    }

    fn digits(&mut self) -> usize {
        let from = self.i;
        while self.byte().is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
        }
        self.i - from
    }

    /// A number without exponent: `-?(0|[1-9][0-9]*)(\.[0-9]+)?`.
    fn number(&mut self) -> Option<()> {
        self.ws();
        if self.byte() == Some(b'-') {
            self.i += 1;
        }
        let first = self.byte()?;
        let n = self.digits();
        if n == 0 || (first == b'0' && n > 1) {
            return None;
        }
        if self.byte() == Some(b'.') {
            self.i += 1;
            if self.digits() == 0 {
                return None;
            }
        }
        if matches!(self.byte(), Some(b'e' | b'E')) {
            return None;
        }
        Some(())
    }

    /// A count: `null`, or a non-negative integer that fits a `u64` (a float, a negative number
    /// or an overflow is a type error for the serde view).
    fn count(&mut self) -> Option<Option<u64>> {
        if self.peek()? == b'n' {
            return self.literal("null").map(|()| None);
        }
        let from = self.i;
        let first = self.byte()?;
        let n = self.digits();
        if n == 0 || (first == b'0' && n > 1) || matches!(self.byte(), Some(b'.' | b'e' | b'E')) {
            return None;
        }
        self.s.get(from..self.i)?.parse::<u64>().ok().map(Some)
    }

    /// `null` or a string, with the string token's byte span (quotes included).
    fn opt_string_spanned(&mut self) -> Option<(Option<Cow<'a, str>>, Option<Span>)> {
        let from = self.peek().map(|_| self.i);
        let v = self.opt_string()?;
        let span = from.filter(|_| v.is_some()).map(|f| (f, self.i));
        Some((v, span))
    }

    /// `null` or a string.
    fn opt_string(&mut self) -> Option<Option<Cow<'a, str>>> {
        match self.peek()? {
            b'n' => self.literal("null").map(|()| None),
            b'"' => self.string().map(Some),
            _ => None,
        }
    }

    /// Skips any value of the subset.
    fn value(&mut self, depth: u32) -> Option<()> {
        match self.peek()? {
            b'"' => self.string().map(drop),
            b'{' => {
                if depth >= MAX_DEPTH {
                    return None;
                }
                self.i += 1;
                self.members(|c, _| c.value(depth + 1))
            }
            b'[' => {
                if depth >= MAX_DEPTH {
                    return None;
                }
                self.i += 1;
                if self.eat(b']') {
                    return Some(());
                }
                loop {
                    self.value(depth + 1)?;
                    if !self.eat(b',') {
                        break;
                    }
                }
                self.eat(b']').then_some(())
            }
            b't' => self.literal("true"),
            b'f' => self.literal("false"),
            b'n' => self.literal("null"),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    /// The members of an object whose `{` is consumed: `member` reads each value, given its key.
    fn members(&mut self, mut member: impl FnMut(&mut Self, &str) -> Option<()>) -> Option<()> {
        if self.eat(b'}') {
            return Some(());
        }
        loop {
            let key = self.string()?;
            if !self.eat(b':') {
                return None;
            }
            member(self, &key)?;
            if !self.eat(b',') {
                break;
            }
        }
        self.eat(b'}').then_some(())
    }
}

/// Sets `slot` once: a second occurrence of a field the view reads is an error for serde.
fn once<T>(seen: &mut bool, slot: &mut T, v: T) -> Option<()> {
    if std::mem::replace(seen, true) {
        return None;
    }
    *slot = v;
    Some(())
}

/// Fields of a chunk's `delta` other than `content` and `role` that carry text: the fast reader
/// accepts them only as `null` (the full reader reads them as streams of their own).
pub(crate) const OTHER_DELTA_FIELDS: [&str; 6] = [
    "refusal",
    "reasoning_content",
    "reasoning",
    "tool_calls",
    "function_call",
    "audio",
];

/// Top-level fields of events that are not chat or completions chunks (Responses API and
/// transcription events): an event with any of them is read in full.
pub(crate) const OTHER_EVENT_FIELDS: [&str; 10] = [
    "type",
    "delta",
    "text",
    "output",
    "response",
    "item",
    "part",
    "arguments",
    "refusal",
    "logprobs",
];

/// Marks field `bit` as seen; `None` when it was already (a duplicate is an error for serde).
fn once_bit(seen: &mut u32, bit: u32) -> Option<()> {
    let b = 1u32 << bit;
    if *seen & b != 0 {
        return None;
    }
    *seen |= b;
    Some(())
}

/// `(finish_reason, text)` of a choice.
type Choice<'a> = (Option<Cow<'a, str>>, Option<Cow<'a, str>>);

/// `(finish_reason, text)` of the first choice of a `choices` value.
fn choices<'a>(c: &mut Cur<'a>) -> Option<Choice<'a>> {
    match c.peek()? {
        b'n' => return c.literal("null").map(|()| (None, None)),
        b'[' => c.i += 1,
        _ => return None,
    }
    if c.eat(b']') {
        c.no_choices = true;
        return Some((None, None));
    }
    if !c.eat(b'{') {
        return None;
    }
    let (mut delta, mut text, mut finish) = (None, None, None);
    let (mut sd, mut st, mut sf) = (false, false, false);
    let (mut content_span, mut text_span) = (None, None);
    // fields read only to be sure they are absent, `null` or (`index`) 0
    let mut seen = 0u32;
    c.members(|c, k| match k {
        "delta" => {
            let v = match c.peek()? {
                b'n' => c.literal("null").map(|()| None)?,
                b'{' => {
                    c.i += 1;
                    let (mut content, mut sc) = (None, false);
                    let mut seen = 0u32;
                    c.members(|c, k| match k {
                        "content" => {
                            let (v, span) = c.opt_string_spanned()?;
                            content_span = span;
                            once(&mut sc, &mut content, v)
                        }
                        "role" => {
                            once_bit(&mut seen, 0)?;
                            c.value(3)
                        }
                        _ => {
                            // other text-bearing fields: the full reader reads them
                            let bit = OTHER_DELTA_FIELDS.iter().position(|f| *f == k)?;
                            once_bit(&mut seen, bit as u32 + 1)?;
                            c.literal("null")
                        }
                    })?;
                    Some(content)
                }
                _ => return None,
            };
            once(&mut sd, &mut delta, v)
        }
        "index" => {
            once_bit(&mut seen, 0)?;
            // another choice than the first: the full reader keeps choices apart
            c.count()?.is_none_or(|n| n == 0).then_some(())
        }
        "logprobs" | "message" => {
            once_bit(&mut seen, if k == "logprobs" { 1 } else { 2 })?;
            c.literal("null")
        }
        "text" => {
            let (v, span) = c.opt_string_spanned()?;
            text_span = span;
            once(&mut st, &mut text, v)
        }
        "finish_reason" => {
            let v = c.opt_string()?;
            once(&mut sf, &mut finish, v)
        }
        _ => c.value(2),
    })?;
    // a second choice: the full reader keeps choices apart
    if !c.eat(b']') {
        return None;
    }
    let content = delta.flatten();
    if content.is_some() && text.is_some() {
        return None;
    }
    c.text_span = if content.is_some() {
        content_span
    } else {
        text_span
    };
    Some((finish, content.or(text)))
}

/// `(prompt_tokens, completion_tokens)` of a `usage` value (`None` for `null`).
fn usage(c: &mut Cur<'_>) -> Option<Option<(u64, u64)>> {
    match c.peek()? {
        b'n' => return c.literal("null").map(|()| None),
        b'{' => c.i += 1,
        _ => return None,
    }
    let (mut pt, mut ct) = (None, None);
    let (mut sp, mut sc) = (false, false);
    c.members(|c, k| match k {
        "prompt_tokens" => {
            let v = c.count()?;
            once(&mut sp, &mut pt, v)
        }
        "completion_tokens" => {
            let v = c.count()?;
            once(&mut sc, &mut ct, v)
        }
        _ => c.value(2),
    })?;
    Some(Some((pt.unwrap_or(0), ct.unwrap_or(0))))
}

/// Reads a chunk's fields, or `None` when the chunk is outside the subset (or not valid JSON)
/// (what [`chunk_fields_with`] does without a template; the tests compare the two).
#[cfg(test)]
pub(crate) fn chunk_fields(data: &str) -> Option<Fields<'_>> {
    read_chunk(&mut Cur {
        s: data,
        i: 0,
        text_span: None,
        no_choices: false,
    })
}

fn read_chunk<'a>(c: &mut Cur<'a>) -> Option<Fields<'a>> {
    let data = c.s;
    if !c.eat(b'{') {
        return None;
    }
    let (mut fields, mut u) = ((None, None), None);
    let (mut sch, mut su) = (false, false);
    c.members(|c, k| match k {
        "choices" => {
            let v = choices(c)?;
            once(&mut sch, &mut fields, v)
        }
        "usage" => {
            let v = usage(c)?;
            once(&mut su, &mut u, v)
        }
        k if OTHER_EVENT_FIELDS.contains(&k) => None,
        _ => c.value(1),
    })?;
    c.ws();
    if c.i != data.len() {
        return None;
    }
    let (finish, text) = fields;
    Some((u, finish, text))
}

/// What the last chunk read in full looked like around its text: the bytes before and after the
/// text's string token, and the fields those bytes carry.
#[derive(Debug, Default)]
pub(crate) struct Template {
    /// Up to and including the text's opening quote.
    prefix: String,
    /// From the text's closing quote on.
    suffix: String,
    usage: Option<(u64, u64)>,
    finish: Option<String>,
}

/// The template read of [`chunk_fields_noting`], on the bytes of a chunk not yet known to be
/// UTF-8: when they are the template's prefix, one string token and the template's suffix, only
/// that token is checked and read (the prefix and suffix are the bytes of a valid chunk, so the
/// whole chunk is valid UTF-8 exactly when the token is). `None` when the chunk does not match
/// the template; the caller then reads it in full.
pub(crate) fn template_fields<'d>(data: &'d [u8], t: &Option<Template>) -> Option<Fields<'d>> {
    let t = t.as_ref()?;
    let (prefix, suffix) = (t.prefix.as_bytes(), t.suffix.as_bytes());
    if data.len() < prefix.len() + suffix.len()
        || !data.starts_with(prefix)
        || !data.ends_with(suffix)
    {
        return None;
    }
    // the token with its quotes: the prefix ends with the opening quote and the suffix starts
    // with the closing one
    let token = data.get(prefix.len().checked_sub(1)?..data.len() - suffix.len() + 1)?;
    let token = std::str::from_utf8(token).ok()?;
    let mut c = Cur {
        s: token,
        i: 0,
        text_span: None,
        no_choices: false,
    };
    let text = c.string()?;
    if c.i != token.len() {
        return None;
    }
    Some((t.usage, t.finish.clone().map(Cow::Owned), Some(text)))
}

/// [`chunk_fields_noting`] without the note.
#[cfg(test)]
pub(crate) fn chunk_fields_with<'d>(data: &'d str, t: &mut Option<Template>) -> Option<Fields<'d>> {
    chunk_fields_noting(data, t, &mut false)
}

/// [`chunk_fields`] for a stream's chunks, which mostly differ from the one before only in their
/// text: a chunk made of the template's prefix, one string token, and the template's suffix has
/// the template chunk's structure (a string token's content does not change how the rest
/// parses), so only that token is read. Other chunks are read in full and, when they carry a
/// text, become the template (one without a text leaves it in place). Sets `no_choices` when
/// the chunk's `choices` is an empty array (as in the usage chunk that
/// `stream_options.include_usage` adds).
pub(crate) fn chunk_fields_noting<'d>(
    data: &'d str,
    t: &mut Option<Template>,
    no_choices: &mut bool,
) -> Option<Fields<'d>> {
    if let Some(f) = template_fields(data.as_bytes(), t) {
        return Some(f);
    }
    read_chunk_noting(data, t, no_choices)
}

/// The full read of [`chunk_fields_noting`], for a chunk already found not to match the template
/// (with [`template_fields`]); updates the template as that does.
pub(crate) fn read_chunk_noting<'d>(
    data: &'d str,
    t: &mut Option<Template>,
    no_choices: &mut bool,
) -> Option<Fields<'d>> {
    let mut c = Cur {
        s: data,
        i: 0,
        text_span: None,
        no_choices: false,
    };
    let fields = read_chunk(&mut c)?;
    *no_choices = c.no_choices;
    // a chunk without a text leaves the template as it is (it still reads the chunks that
    // match it); a new template reuses the old one's buffers
    if let Some((prefix, suffix)) = c
        .text_span
        .and_then(|(s, e)| Some((data.get(..s + 1)?, data.get(e - 1..)?)))
    {
        let t = t.get_or_insert_with(|| Template {
            prefix: String::new(),
            suffix: String::new(),
            usage: None,
            finish: None,
        });
        t.prefix.clear();
        t.prefix.push_str(prefix);
        t.suffix.clear();
        t.suffix.push_str(suffix);
        t.usage = fields.0;
        t.finish = fields.1.as_deref().map(str::to_string);
    }
    Some(fields)
}

#[cfg(test)]
mod tests {
    use super::string_stop;

    /// The byte-at-a-time scan `string_stop` replaces.
    fn stop_by_bytes(b: &[u8], mut i: usize) -> usize {
        while b
            .get(i)
            .is_some_and(|&c| c != b'"' && c != b'\\' && c >= 0x20)
        {
            i += 1;
        }
        i
    }

    #[test]
    fn the_stop_is_the_first_quote_backslash_or_control_byte() {
        let b = b"0123456789abcdef\"xyz";
        assert_eq!(string_stop(b, 0), 16);
        assert_eq!(string_stop(b, 17), b.len());
        // a control byte, then a quote below it in the same word
        assert_eq!(string_stop(b"ab\x1fcd\"ef", 0), 2);
        assert_eq!(string_stop(b"\xe2\x82\xac\xff\x80\\", 0), 5);
        assert_eq!(string_stop(b"", 0), 0);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4096))]
        #[test]
        fn string_stop_agrees_with_the_byte_scan(
            // the three stop classes, their neighbours (0x1f/0x20, 0x21/0x23, 0x5b/0x5d) and
            // bytes with the high bit set, which a borrow could otherwise flag
            bytes in proptest::collection::vec(proptest::sample::select(vec![
                0u8, 0x1f, 0x20, b'"', 0x21, 0x23, b'\\', 0x5b, 0x5d, b'a', 0x7f, 0x80, 0x9f, 0xa0, 0xdc, 0xff,
            ]), 0..40),
            from in 0usize..40,
        ) {
            let from = from.min(bytes.len());
            proptest::prop_assert_eq!(string_stop(&bytes, from), stop_by_bytes(&bytes, from), "{:?} from {}", bytes, from);
        }
    }
}
