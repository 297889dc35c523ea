//! Server-sent-events filter for streamed completions: splits the upstream byte stream into
//! events across chunk boundaries, monitors the generated text in steps, holds back text so a
//! match split across chunks (or still growing) is redacted whole or blocked before any of it
//! reaches the client, rounds logprobs, and collects usage and finish reasons.

use crate::chan::{event_texts, slot_mut, Chan, ChanKey, MAIN, THROUGH};
use crate::config::{Action, HardeningConfig};
use crate::harden::Obj;
use crate::monitor::Monitor;
use bytes::{Bytes, BytesMut};
use serde::de::{Deserializer, IgnoredAny, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;
use std::borrow::Cow;
use std::collections::VecDeque;
use std::sync::Arc;

/// The error event sent when a stream is blocked, followed by `[DONE]`.
pub const BLOCK_EVENT: &str = "data: {\"error\":{\"message\":\"response blocked by the gateway's output policy\",\"type\":\"output_blocked\",\"param\":null,\"code\":\"output_blocked\"}}\n\ndata: [DONE]\n\n";

/// Largest SSE event accepted from the upstream.
const MAX_EVENT: usize = 4 << 20;
/// Most generated text kept for hashing and drift.
const MAX_TEXT: usize = 4 << 20;
/// Fewest new bytes of text scanned at once while text is held back (the step is the hold-back,
/// at least this): scanning on every upstream event rescans the same text hundreds of times.
const MIN_STEP: usize = 64;
/// Text bytes a stream's buffers start with (a short answer fits).
const TEXT_START: usize = 512;
/// Events released per upstream read a filter has room for at first, instead of growing from
/// four (a short answer's events arrive in one read).
const RELEASED_START: usize = 32;
/// Events the queue of held-back events starts with room for.
const PENDING_START: usize = 32;

struct Pending {
    raw: Bytes,
    /// The parsed event, kept only when it was rewritten (logprobs) or is being redacted; other
    /// events are forwarded as `raw` and parsed again only if a later match needs them changed.
    json: Option<Value>,
    /// Range of this event's text in the main stream (the first choice's content).
    range: Option<(usize, usize)>,
    /// Ranges of its text in other streams: `(stream, start, end)`.
    more: Vec<(usize, usize, usize)>,
    dirty: bool,
}

/// Per-stream state. When redacting or blocking, text is scanned in steps of the hold-back (new
/// text plus an overlap) and an event goes out once its text lies `holdback` bytes before the end
/// of the scanned text and before any match that may still grow: text trails the upstream by
/// `holdback` to `holdback` + step bytes (the step is the hold-back, at least `MIN_STEP`).
pub struct SseFilter<'a> {
    monitor: MonitorRef<'a>,
    action: Action,
    hardening: Option<Cow<'a, HardeningConfig>>,
    holdback: usize,
    /// Forward bytes as received (monitor only); set when nothing may need rewriting.
    passthrough: bool,
    buf: BytesMut,
    pending: VecDeque<Pending>,
    /// The text streams of the response; the first is the main one (the first choice's
    /// content, which the fast readers read).
    main: Chan,
    /// The other streams; stream `i > 0` is `extra[i - 1]`.
    extra: Vec<Chan>,
    /// New text that triggers a scan.
    step: usize,
    /// Rule ids hit so far.
    pub hits: Vec<String>,
    /// Generated text (bounded).
    pub text: String,
    /// Last finish reason.
    pub finish: Option<String>,
    /// `(prompt_tokens, completion_tokens)` from the upstream's usage chunk.
    pub usage: Option<(u64, u64)>,
    /// The stream was blocked.
    pub blocked: bool,
    /// Something was redacted.
    pub redacted: bool,
    /// The upstream sent an event larger than allowed.
    pub oversized: bool,
    /// The last chunk read in full, around its text (the next chunks usually differ only there).
    template: Option<crate::chunkscan::Template>,
    /// The pieces of one read, reused from read to read.
    scratch: Vec<Bytes>,
    /// Drop the usage chunk (empty `choices`) the guard asked the upstream for on the client's
    /// behalf; its usage is still read.
    strip_usage: bool,
}

/// The monitor a filter reads: borrowed, or shared with the gateway by a filter that lives in a
/// response body (which must own what it uses).
enum MonitorRef<'a> {
    Borrowed(&'a Monitor),
    Shared(Arc<Monitor>),
}

impl std::ops::Deref for MonitorRef<'_> {
    type Target = Monitor;
    fn deref(&self) -> &Monitor {
        match self {
            Self::Borrowed(m) => m,
            Self::Shared(m) => m,
        }
    }
}

/// End of the first event in `buf`: after its `\n\n` or `\r\n\r\n`, whichever ends first.
fn event_end(buf: &[u8]) -> Option<usize> {
    // one `memchr` per line break (an event is usually one line): cheaper than two substring
    // searches on the ~150-byte events of a stream. At the first line break that starts or ends
    // a terminator, the LF one ends at `i + 2` and the CRLF one at `i + 3`; a later break ends
    // later.
    let mut from = 0;
    while let Some(i) = buf.get(from..).and_then(|b| memchr::memchr(b'\n', b)) {
        let i = from + i;
        match buf.get(i + 1) {
            Some(b'\n') => return Some(i + 2),
            Some(b'\r')
                if i > 0 && buf.get(i - 1) == Some(&b'\r') && buf.get(i + 2) == Some(&b'\n') =>
            {
                return Some(i + 3)
            }
            _ => from = i + 1,
        }
    }
    None
}

/// The data of the usual event, `data: <one line>\n\n` (one search for a line break instead of
/// a walk over the lines); `None` for any other event.
fn one_data_line(raw: &[u8]) -> Option<&[u8]> {
    raw.strip_prefix(b"data: ")
        .and_then(|r| r.strip_suffix(b"\n\n"))
        .filter(|l| memchr::memchr2(b'\n', b'\r', l).is_none())
}

/// The data of an event: its `data:` lines joined by newlines (borrowed for the usual single
/// line of valid UTF-8).
fn event_data(raw: &[u8]) -> Cow<'_, str> {
    event_data_of(raw, one_data_line(raw))
}

/// [`event_data`] given what [`one_data_line`] found in `raw`.
fn event_data_of<'r>(raw: &'r [u8], line: Option<&'r [u8]>) -> Cow<'r, str> {
    if let Some(line) = line {
        if let Ok(t) = std::str::from_utf8(line) {
            return Cow::Borrowed(t);
        }
    }
    // `from_utf8` validates faster than the chunk walk of `from_utf8_lossy` (same result)
    let text = match std::str::from_utf8(raw) {
        Ok(t) => Cow::Borrowed(t),
        Err(_) => String::from_utf8_lossy(raw),
    };
    if let Cow::Borrowed(t) = text {
        let mut lines = t
            .lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .map(|d| d.strip_prefix(' ').unwrap_or(d));
        match (lines.next(), lines.next()) {
            (None, _) => return Cow::Borrowed(""),
            (Some(d), None) => return Cow::Borrowed(d),
            _ => {}
        }
    }
    let mut data = String::new();
    for line in text.lines() {
        if let Some(d) = line.strip_prefix("data:") {
            if !data.is_empty() {
                data.push('\n');
            }
            data.push_str(d.strip_prefix(' ').unwrap_or(d));
        }
    }
    Cow::Owned(data)
}

/// The fields of a streamed chunk the filter reads, borrowed from the event data. Parsing into
/// this instead of a `serde_json::Value` avoids building a map per event. It is strict: any
/// shape it does not expect (wrong types, duplicate fields) fails, and the event is then read
/// as a `Value` exactly as before, so both paths agree on what they extract.
#[derive(Deserialize)]
struct ChunkView<'a> {
    #[serde(borrow, default)]
    choices: Option<FirstChoice<'a>>,
    #[serde(default)]
    usage: Option<Obj<UsageView>>,
    // present at all (even `null`): not a chat or completions chunk, read in full
    #[serde(rename = "type", default, deserialize_with = "present_any")]
    kind: Option<()>,
    #[serde(default, deserialize_with = "present_any")]
    delta: Option<()>,
    #[serde(default, deserialize_with = "present_any")]
    text: Option<()>,
    #[serde(default, deserialize_with = "present_any")]
    output: Option<()>,
    #[serde(default, deserialize_with = "present_any")]
    response: Option<()>,
    #[serde(default, deserialize_with = "present_any")]
    item: Option<()>,
    #[serde(default, deserialize_with = "present_any")]
    part: Option<()>,
    #[serde(default, deserialize_with = "present_any")]
    arguments: Option<()>,
    #[serde(default, deserialize_with = "present_any")]
    refusal: Option<()>,
    #[serde(default, deserialize_with = "present_any")]
    logprobs: Option<()>,
}

impl ChunkView<'_> {
    /// A field of [`crate::chunkscan::OTHER_EVENT_FIELDS`] is present.
    fn other_event(&self) -> bool {
        [
            self.kind,
            self.delta,
            self.text,
            self.output,
            self.response,
            self.item,
            self.part,
            self.arguments,
            self.refusal,
            self.logprobs,
        ]
        .iter()
        .any(Option::is_some)
    }
}

/// `Some(())` for any value, `null` included (with `default`, a missing field is `None`).
fn present_any<'de, D: Deserializer<'de>>(d: D) -> Result<Option<()>, D::Error> {
    IgnoredAny::deserialize(d).map(|_| Some(()))
}

#[derive(Deserialize)]
struct UsageView {
    #[serde(default)]
    prompt_tokens: Option<u64>,
    #[serde(default)]
    completion_tokens: Option<u64>,
}

#[derive(Deserialize)]
struct ChoiceView<'a> {
    #[serde(borrow, default)]
    delta: Option<Obj<DeltaView<'a>>>,
    #[serde(borrow, default)]
    text: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    finish_reason: Option<Cow<'a, str>>,
    // read only to be sure they are absent, `null` or (`index`) 0
    #[serde(default)]
    index: Option<u64>,
    #[serde(default)]
    logprobs: Option<IgnoredAny>,
    #[serde(default)]
    message: Option<IgnoredAny>,
}

/// A chunk's `delta`: `content`, and the other text-bearing fields only as `null` (any other
/// field: read in full).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeltaView<'a> {
    #[serde(borrow, default)]
    content: Option<Cow<'a, str>>,
    #[serde(default, rename = "role")]
    _role: Option<IgnoredAny>,
    #[serde(default)]
    refusal: Option<IgnoredAny>,
    #[serde(default)]
    reasoning_content: Option<IgnoredAny>,
    #[serde(default)]
    reasoning: Option<IgnoredAny>,
    #[serde(default)]
    tool_calls: Option<IgnoredAny>,
    #[serde(default)]
    function_call: Option<IgnoredAny>,
    #[serde(default)]
    audio: Option<IgnoredAny>,
}

impl DeltaView<'_> {
    /// Only `content` (and `role`) are set.
    fn content_only(&self) -> bool {
        self.refusal.is_none()
            && self.reasoning_content.is_none()
            && self.reasoning.is_none()
            && self.tool_calls.is_none()
            && self.function_call.is_none()
            && self.audio.is_none()
    }
}

impl ChoiceView<'_> {
    /// The choice is the first (`index` 0 or none) and carries text in `content` or `text` only.
    fn plain(&self) -> bool {
        self.index.is_none_or(|i| i == 0)
            && self.logprobs.is_none()
            && self.message.is_none()
            && self.delta.as_ref().is_none_or(|d| d.0.content_only())
            && !(self.text.is_some() && self.delta.as_ref().is_some_and(|d| d.0.content.is_some()))
    }
}

/// The only element of `choices` (a second one is an error: the full reader keeps them apart).
struct FirstChoice<'a>(Option<ChoiceView<'a>>);

impl<'de: 'a, 'a> Deserialize<'de> for FirstChoice<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = FirstChoice<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an array of choices")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let first = seq.next_element::<Obj<ChoiceView<'a>>>()?.map(|o| o.0);
                if seq.next_element::<IgnoredAny>()?.is_some() {
                    return Err(serde::de::Error::custom("more than one choice"));
                }
                Ok(FirstChoice(first))
            }
        }
        d.deserialize_seq(V(std::marker::PhantomData))
    }
}

/// What one event carries: `(usage, finish_reason, text)`; `None` when the typed view does not
/// fit the event (the caller then reads it as a `Value`).
type ChunkFields<'a> = (
    Option<(u64, u64)>,
    Option<Cow<'a, str>>,
    Option<Cow<'a, str>>,
);

#[cfg(test)]
fn chunk_fields(data: &str) -> Option<ChunkFields<'_>> {
    // the usual chunk in one pass; anything unusual through the serde view
    crate::chunkscan::chunk_fields(data).or_else(|| chunk_fields_serde(data, &mut false))
}

/// The chunk's fields through the typed serde view; sets `no_choices` when its `choices` is an
/// empty array, as [`crate::chunkscan::chunk_fields_noting`] does.
fn chunk_fields_serde<'d>(data: &'d str, no_choices: &mut bool) -> Option<ChunkFields<'d>> {
    if !data.trim_start().starts_with('{') {
        return None;
    }
    let v: ChunkView<'_> = serde_json::from_str(data).ok()?;
    if v.other_event()
        || v.choices
            .as_ref()
            .is_some_and(|c| c.0.as_ref().is_some_and(|c| !c.plain()))
    {
        return None;
    }
    // an empty array has no first choice (`null` is no array)
    *no_choices = matches!(v.choices, Some(FirstChoice(None)));
    let usage = v.usage.map(|Obj(u)| {
        (
            u.prompt_tokens.unwrap_or(0),
            u.completion_tokens.unwrap_or(0),
        )
    });
    let (finish, text) = match v.choices.and_then(|c| c.0) {
        Some(c) => (
            c.finish_reason,
            c.delta.and_then(|d| d.0.content).or(c.text),
        ),
        None => (None, None),
    };
    Some((usage, finish, text))
}

/// A chunk with a `usage` object and an empty `choices` array: what `stream_options.include_usage`
/// adds at the end of a stream.
fn is_usage_only(v: &Value) -> bool {
    v.get("usage").is_some_and(Value::is_object)
        && v.get("choices")
            .and_then(Value::as_array)
            .is_some_and(Vec::is_empty)
}

/// The generated text carried by a chunk's first choice (chat `delta.content` or completions
/// `text`), as the tests read it.
#[cfg(test)]
fn chunk_text(v: &Value) -> Option<&str> {
    let c = v.get("choices")?.get(0)?;
    c.get("delta")
        .and_then(|d| d.get("content"))
        .and_then(Value::as_str)
        .or_else(|| c.get("text").and_then(Value::as_str))
}

/// Most text streams one response may have (choices × fields × tool calls); a response with
/// more is blocked (not understood).
const MAX_CHANS: usize = 256;

/// An event rewritten from its parsed data: its lines other than `data:` (an `event:` name,
/// an `id:`) kept, the data replaced.
fn rewritten(raw: &[u8], data: &str) -> Bytes {
    let mut out = Vec::with_capacity(raw.len() + 16);
    for line in raw.split(|b| *b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if !line.is_empty() && !line.starts_with(b"data:") {
            out.extend_from_slice(line);
            out.push(b'\n');
        }
    }
    out.extend_from_slice(b"data: ");
    out.extend_from_slice(data.as_bytes());
    out.extend_from_slice(b"\n\n");
    Bytes::from(out)
}

impl<'a> SseFilter<'a> {
    /// A filter; `hardening` is given when logprobs must be rounded.
    pub fn new(
        monitor: &'a Monitor,
        action: Action,
        holdback: usize,
        hardening: Option<&'a HardeningConfig>,
    ) -> Self {
        Self::with(
            MonitorRef::Borrowed(monitor),
            action,
            holdback,
            hardening.map(Cow::Borrowed),
        )
    }

    fn with(
        monitor: MonitorRef<'a>,
        action: Action,
        holdback: usize,
        hardening: Option<Cow<'a, HardeningConfig>>,
    ) -> Self {
        let guards = matches!(action, Action::Redact | Action::Block);
        let passthrough = !guards && hardening.is_none();
        let step = if guards {
            holdback.max(MIN_STEP)
        } else {
            monitor.overlap_chars()
        };
        Self {
            monitor,
            action,
            hardening,
            holdback: if guards { holdback } else { 0 },
            passthrough,
            buf: BytesMut::new(),
            pending: VecDeque::new(),
            main: Chan::new(MAIN),
            extra: Vec::new(),
            // when nothing is held back, scanning only logs: large steps
            step,
            hits: Vec::new(),
            text: String::new(),
            finish: None,
            usage: None,
            blocked: false,
            redacted: false,
            oversized: false,
            template: None,
            scratch: Vec::new(),
            strip_usage: false,
        }
    }

    /// Withholds from the client the usage chunk (a `usage` object and empty `choices`) that
    /// the guard added `stream_options.include_usage` to the request for: a client that did not
    /// ask for it gets the stream it asked for (code reading `choices[0]` of every chunk breaks
    /// on it). Its token counts are still read. Bytes are then no longer forwarded as received.
    pub fn strip_usage_chunk(&mut self) {
        self.strip_usage = true;
        self.passthrough = false;
    }

    /// A filter that owns what it reads (shares the gateway's monitor), for a response body.
    pub fn shared(
        monitor: Arc<Monitor>,
        action: Action,
        holdback: usize,
        hardening: Option<HardeningConfig>,
    ) -> SseFilter<'static> {
        SseFilter::with(
            MonitorRef::Shared(monitor),
            action,
            holdback,
            hardening.map(Cow::Owned),
        )
    }

    /// Feeds upstream bytes; returns what to send to the client now.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<Bytes> {
        let mut out = Vec::new();
        self.push_into(&Bytes::copy_from_slice(chunk), &mut out);
        out
    }

    /// [`Self::push`] for an upstream frame, joined into one buffer for the client (`None` when
    /// nothing is released). Events are sliced out of the frame rather than copied, so the usual
    /// read — whole events forwarded unchanged — goes out as one slice of the frame itself.
    pub fn push_frame(&mut self, chunk: &Bytes) -> Option<Bytes> {
        let mut out = std::mem::take(&mut self.scratch);
        if out.capacity() == 0 {
            out.reserve(RELEASED_START);
        }
        self.push_into(chunk, &mut out);
        let joined = join(&mut out, chunk);
        self.scratch = out;
        joined
    }

    fn push_into(&mut self, chunk: &Bytes, out: &mut Vec<Bytes>) {
        if self.blocked {
            return;
        }
        if self.passthrough {
            out.push(chunk.clone());
        }
        let mut done = false;
        if self.buf.is_empty() {
            // no event started in an earlier read: events are slices of this one
            let mut at = 0;
            while let Some(end) = chunk.get(at..).and_then(event_end) {
                done |= self.event(chunk.slice(at..at + end));
                at += end;
            }
            self.buf
                .extend_from_slice(chunk.get(at..).unwrap_or_default());
        } else {
            self.buf.extend_from_slice(chunk);
            while let Some(end) = event_end(&self.buf) {
                let raw = self.buf.split_to(end).freeze();
                done |= self.event(raw);
            }
        }
        if self.buf.len() > MAX_EVENT {
            self.oversized = true;
            self.blocked = true;
            out.push(Bytes::from_static(BLOCK_EVENT.as_bytes()));
            return;
        }
        if self.passthrough {
            for c in std::iter::once(&mut self.main).chain(&mut self.extra) {
                c.released = c.total;
            }
        }
        self.scan(done);
        if self.blocked {
            self.pending.clear();
            out.push(Bytes::from_static(BLOCK_EVENT.as_bytes()));
            return;
        }
        self.flush(done, out);
    }

    /// End of the upstream stream: flushes everything held back.
    pub fn finish(&mut self) -> Vec<Bytes> {
        let mut out = Vec::new();
        if self.blocked {
            return out;
        }
        let rest = std::mem::take(&mut self.buf);
        if !rest.is_empty() {
            // an event the upstream did not terminate is monitored like the others
            self.event(rest.freeze());
        }
        self.scan(true);
        if self.blocked {
            self.pending.clear();
            out.push(Bytes::from_static(BLOCK_EVENT.as_bytes()));
            return out;
        }
        self.flush(true, &mut out);
        out
    }

    fn event(&mut self, raw: Bytes) -> bool {
        // the usual event of a stream, one data line that matches the template: only its text
        // token is checked for UTF-8 and read (what the full path below reads it as)
        let line = one_data_line(&raw);
        if self.hardening.is_none() {
            if let Some(fields) =
                line.and_then(|l| crate::chunkscan::template_fields(l, &self.template))
            {
                let (range, withheld) = self.take_fields(fields, false);
                self.hold(raw, None, range, Vec::new(), false, withheld);
                return false;
            }
        }
        let data = event_data_of(&raw, line);
        let is_done = data.trim() == "[DONE]";
        let mut no_choices = false;
        let fields = if is_done || data.is_empty() || self.hardening.is_some() {
            None
        } else {
            match line {
                // a single line was tried against the template above
                Some(_) => {
                    crate::chunkscan::read_chunk_noting(&data, &mut self.template, &mut no_choices)
                }
                None => crate::chunkscan::chunk_fields_noting(
                    &data,
                    &mut self.template,
                    &mut no_choices,
                ),
            }
            .or_else(|| chunk_fields_serde(&data, &mut no_choices))
        };
        if let Some(fields) = fields {
            let (range, withheld) = self.take_fields(fields, no_choices);
            self.hold(raw, None, range, Vec::new(), false, withheld);
        } else if is_done || data.trim().is_empty() {
            self.hold(raw, None, None, Vec::new(), false, false);
        } else {
            match serde_json::from_str::<Value>(&data) {
                Ok(v) => self.event_value(raw, v),
                Err(_) => {
                    let data = data.into_owned();
                    self.event_text(raw, data)
                }
            }
        }
        is_done
    }

    /// An event read as a `Value`: every text it carries goes to its stream; an event that is
    /// no stream's delta (a Responses API `*.done` or `response.completed` event) is monitored
    /// whole.
    fn event_value(&mut self, raw: Bytes, mut v: Value) {
        let mut withheld = false;
        if let Some(u) = v.get("usage").filter(|u| !u.is_null()) {
            let g = |k: &str| u.get(k).and_then(Value::as_u64).unwrap_or(0);
            self.usage = Some((g("prompt_tokens"), g("completion_tokens")));
            withheld = self.strip_usage && is_usage_only(&v);
        }
        if let Some(u) = v.pointer("/response/usage").filter(|u| u.is_object()) {
            let g = |k: &str| u.get(k).and_then(Value::as_u64).unwrap_or(0);
            self.usage = Some((g("input_tokens"), g("output_tokens")));
        }
        if let Some(f) = v
            .pointer("/choices/0/finish_reason")
            .and_then(Value::as_str)
        {
            self.finish = Some(f.to_string());
        }
        let mut dirty = false;
        if let Some(h) = &self.hardening {
            dirty = crate::harden::round_logprobs(&mut v, h);
        }
        let mut texts = Vec::new();
        let mut range = None;
        let mut more = Vec::new();
        if event_texts(&v, &mut texts) {
            for (key, t) in texts {
                if t.is_empty() {
                    continue;
                }
                let Some(i) = self.chan_of(&key) else {
                    break;
                };
                if more.iter().any(|&(j, _, _)| j == i) || (i == 0 && range.is_some()) {
                    // the same stream twice in one event: not understood
                    self.refuse_unknown();
                    break;
                }
                let Some(r) = self.chan_mut(i).map(|c| c.add_text(&t)) else {
                    break;
                };
                if i == 0 {
                    self.add_main_text(&t);
                    range = Some(r);
                } else {
                    more.push((i, r.0, r.1));
                }
            }
        } else {
            drop(texts);
            let r = crate::fields::monitor_value(&mut v, &self.monitor, self.action);
            dirty |= r.changed;
            self.redacted |= r.changed;
            for rule in r.hits {
                self.commit(&rule);
            }
        }
        self.hold(raw, Some(v), range, more, dirty, withheld);
    }

    /// An event whose data is not JSON: monitored as one text.
    fn event_text(&mut self, raw: Bytes, mut data: String) {
        let mut r = crate::fields::Monitored::default();
        crate::fields::scan_string(&mut data, &self.monitor, self.action, &mut r);
        for rule in &r.hits {
            self.commit(rule);
        }
        let raw = if r.changed {
            self.redacted = true;
            rewritten(&raw, &data)
        } else {
            raw
        };
        self.hold(raw, None, None, Vec::new(), false, false);
    }

    /// The index of a stream, added when new (`None`, and the stream blocked, past
    /// [`MAX_CHANS`]).
    fn chan_of(&mut self, key: &ChanKey) -> Option<usize> {
        if &self.main.key == key {
            return Some(0);
        }
        if let Some(i) = self.extra.iter().position(|c| &c.key == key) {
            return Some(i + 1);
        }
        if self.extra.len() + 1 >= MAX_CHANS {
            self.refuse_unknown();
            return None;
        }
        self.extra.push(Chan::new(key.clone()));
        Some(self.extra.len())
    }

    /// Stream `i` (0: the main one).
    fn chan(&self, i: usize) -> Option<&Chan> {
        match i {
            0 => Some(&self.main),
            i => self.extra.get(i - 1),
        }
    }

    /// Stream `i`, to change.
    fn chan_mut(&mut self, i: usize) -> Option<&mut Chan> {
        match i {
            0 => Some(&mut self.main),
            i => self.extra.get_mut(i - 1),
        }
    }

    /// A stream the filter cannot follow: blocked when redacting or blocking (its text could not
    /// be held back), logged otherwise.
    fn refuse_unknown(&mut self) {
        tracing::warn!("stream event not understood");
        if matches!(self.action, Action::Redact | Action::Block) {
            self.blocked = true;
        }
    }

    /// Takes in what a chunk carries: its usage, finish reason and text. Returns the text's
    /// range in the main stream and whether the event is withheld (the usage chunk the guard
    /// asked for).
    #[inline(always)]
    fn take_fields(
        &mut self,
        (usage, finish, text): ChunkFields<'_>,
        no_choices: bool,
    ) -> (Option<(usize, usize)>, bool) {
        let mut withheld = false;
        if usage.is_some() {
            self.usage = usage;
            withheld = self.strip_usage && no_choices;
        }
        if let Some(f) = finish {
            self.finish = Some(f.into_owned());
        }
        let range = text.filter(|t| !t.is_empty()).map(|t| {
            self.add_main_text(&t);
            self.main.add_text(&t)
        });
        (range, withheld)
    }

    /// Keeps the main stream's text for hashing and drift (bounded).
    fn add_main_text(&mut self, t: &str) {
        if self.text.capacity() == 0 {
            // room for a short answer at once, instead of growing from 8 bytes in small events
            self.text.reserve(TEXT_START);
        }
        if self.text.len() + t.len() <= MAX_TEXT {
            self.text.push_str(t);
        }
    }

    /// Holds an event until its text is settled (unless forwarded as read, or withheld).
    #[inline(always)]
    fn hold(
        &mut self,
        raw: Bytes,
        json: Option<Value>,
        range: Option<(usize, usize)>,
        more: Vec<(usize, usize, usize)>,
        dirty: bool,
        withheld: bool,
    ) {
        if !self.passthrough && !withheld {
            if self.pending.capacity() == 0 {
                self.pending.reserve(PENDING_START);
            }
            self.pending.push_back(Pending {
                raw,
                json,
                range,
                more,
                dirty,
            });
        }
    }

    /// Scans the streams with enough new text (all of them when `last`) and acts on the final
    /// matches.
    fn scan(&mut self, last: bool) {
        let m: &Monitor = &self.monitor;
        let mut commits = Vec::new();
        // held back by where a match could start, when redacting or blocking
        let by_prefix = (!last && self.holdback > 0).then(|| m.prefixes()).flatten();
        for c in std::iter::once(&mut self.main).chain(&mut self.extra) {
            if let Some(p) = by_prefix {
                if c.total > c.released {
                    c.advance(m, p, self.holdback, &mut commits);
                }
                continue;
            }
            // until a stream's first text goes out, every event with new text past the
            // hold-back is scanned (the first token waits for the hold-back, not also a step)
            let first = c.released == 0 && c.total > self.holdback && c.total > c.scanned;
            if last || first || c.total - c.scanned >= self.step {
                c.scan(m, last, &mut commits);
            }
        }
        for r in commits {
            self.commit(&r);
        }
    }

    /// A match is final: log its rule, block when blocking.
    fn commit(&mut self, rule: &str) {
        if !self.hits.iter().any(|r| r == rule) {
            self.hits.push(rule.to_string());
        }
        if matches!(self.action, Action::Block) {
            self.blocked = true;
        }
    }

    /// Rewrites the text of stream `i` in an event at `s..e` with every match that overlaps it
    /// (a logprob stream's match drops the event's `logprobs` for that choice).
    fn redact_event(&mut self, ev: &mut Pending, i: usize, s: usize, e: usize) {
        let Some(c) = self.chan_mut(i) else {
            return;
        };
        if !c.overlaps(s, e) {
            return;
        }
        if ev.json.is_none() {
            ev.json = serde_json::from_str::<Value>(&event_data(&ev.raw)).ok();
        }
        let Some(slot) = ev.json.as_mut().and_then(|v| slot_mut(v, &c.key)) else {
            return;
        };
        if c.key.is_logprobs() {
            *slot = Value::Null;
        } else {
            let Some(t) = slot.as_str() else { return };
            let red = c.redact_text(t, s, e);
            *slot = Value::String(red);
        }
        ev.dirty = true;
        self.redacted = true;
    }

    /// Whether all of an event's text is settled in its streams: scanned, `holdback` bytes
    /// before the end of the scanned text, and before any provisional match.
    fn settled(&self, ev: &Pending, main_safe: usize) -> bool {
        ev.range.is_none_or(|(_, e)| e <= main_safe)
            && ev
                .more
                .iter()
                .all(|&(i, _, e)| self.chan(i).is_some_and(|c| e <= c.safe(self.holdback)))
    }

    /// Sends the events whose text is settled (everything when `all`, or when only logging).
    fn flush(&mut self, all: bool, out: &mut Vec<Bytes>) {
        let through = all || !matches!(self.action, Action::Redact | Action::Block);
        let main_safe = if through {
            THROUGH
        } else {
            self.main.safe(self.holdback)
        };
        while let Some(ev) = self.pending.front() {
            if !through && !self.settled(ev, main_safe) {
                break;
            }
            let Some(mut ev) = self.pending.pop_front() else {
                break;
            };
            let redact = matches!(self.action, Action::Redact);
            if let Some((s, e)) = ev.range {
                self.main.released = e;
                if redact {
                    self.redact_event(&mut ev, 0, s, e);
                }
            }
            for (i, s, e) in std::mem::take(&mut ev.more) {
                if let Some(c) = self.chan_mut(i) {
                    c.released = e;
                }
                if redact {
                    self.redact_event(&mut ev, i, s, e);
                }
            }
            match (ev.dirty, ev.json) {
                (true, Some(v)) => out.push(rewritten(&ev.raw, &v.to_string())),
                _ => out.push(ev.raw),
            }
        }
    }
}

/// [`coalesce`] for pieces that may be slices of `within`: consecutive slices of it (events of
/// one read forwarded unchanged) are that one slice of it, without a copy. Leaves `parts` empty.
fn join(parts: &mut Vec<Bytes>, within: &Bytes) -> Option<Bytes> {
    if parts.len() > 1 {
        let base = within.as_ptr() as usize;
        let first = parts.first().map_or(0, |p| p.as_ptr() as usize);
        let mut pos = first;
        let adjacent = parts.iter().all(|p| {
            let next = p.as_ptr() as usize == pos;
            pos += p.len();
            next
        });
        // adjacent pieces lying inside `within` are its memory (no other buffer overlaps it)
        if adjacent && first >= base && pos <= base + within.len() {
            parts.clear();
            return Some(within.slice(first - base..pos - base));
        }
    }
    coalesce(parts)
}

/// Joins the pieces a [`SseFilter`] returns for one upstream read into one buffer, so the client
/// side writes one chunk per read instead of one per event (`None` when there is nothing).
/// Leaves `parts` empty (its room is kept for the next read).
pub fn coalesce(parts: &mut Vec<Bytes>) -> Option<Bytes> {
    let joined = match parts.len() {
        0 => None,
        1 => parts.pop(),
        _ => {
            let mut b = BytesMut::with_capacity(parts.iter().map(Bytes::len).sum());
            for p in parts.iter() {
                b.extend_from_slice(p);
            }
            Some(b.freeze())
        }
    };
    parts.clear();
    joined
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chan::MAX_HOLD;
    use crate::config::MonitorConfig;

    fn chunks(text: &str, size: usize) -> Vec<String> {
        let mut ev = String::new();
        let chars: Vec<char> = text.chars().collect();
        for c in chars.chunks(size) {
            let s: String = c.iter().collect();
            ev.push_str(&format!("data: {}\n\n", serde_json::json!({"choices":[{"index":0,"delta":{"content":s},"finish_reason":null}]})));
        }
        ev.push_str(
            "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
        );
        ev.push_str("data: {\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":9}}\n\ndata: [DONE]\n\n");
        // split the byte stream at awkward places, across event boundaries
        ev.as_bytes()
            .chunks(7)
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .collect::<Vec<_>>()
            .concat()
            .split_inclusive("\n\n")
            .map(str::to_string)
            .collect()
    }

    fn run(f: &mut SseFilter<'_>, input: &str) -> String {
        let mut out = Vec::new();
        for piece in input.as_bytes().chunks(5) {
            out.extend(f.push(piece));
        }
        out.extend(f.finish());
        out.iter()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .collect()
    }

    fn content(sse: &str) -> String {
        sse.split("\n\n")
            .filter_map(|e| e.strip_prefix("data: "))
            .filter_map(|d| serde_json::from_str::<Value>(d).ok())
            .filter_map(|v| chunk_text(&v).map(str::to_string))
            .collect()
    }

    #[test]
    fn redacts_a_secret_split_across_chunks() {
        let m = Monitor::new(&MonitorConfig::default(), None).unwrap_or_else(|e| panic!("{e}"));
        let input = chunks(
            "Here is the key: AKIAIOSFODNN7EXAMPLE and nothing else of note in this reply.",
            3,
        )
        .concat();
        let mut f = SseFilter::new(&m, Action::Redact, 64, None);
        let out = run(&mut f, &input);
        let text = content(&out);
        assert!(!text.contains("AKIA") && !out.contains("AKIA"), "{out}");
        assert!(
            text.contains("[REDACTED:secret.aws-access-key-id]"),
            "{text}"
        );
        assert!(text.ends_with("nothing else of note in this reply."));
        assert_eq!(f.hits, vec!["secret.aws-access-key-id"]);
        assert_eq!(f.usage, Some((5, 9)));
        assert_eq!(f.finish.as_deref(), Some("stop"));
        assert!(out.ends_with("data: [DONE]\n\n"));
    }

    #[test]
    fn blocks_before_the_secret_reaches_the_client() {
        let m = Monitor::new(&MonitorConfig::default(), None).unwrap_or_else(|e| panic!("{e}"));
        let input = chunks("token ghp_abcdefghijklmnopqrstuvwxyz0123456789 done", 4).concat();
        let mut f = SseFilter::new(&m, Action::Block, 64, None);
        let out = run(&mut f, &input);
        assert!(f.blocked);
        assert!(!out.contains("ghp_"), "{out}");
        assert!(out.ends_with(BLOCK_EVENT));
    }

    #[test]
    fn passthrough_forwards_bytes_unchanged_and_still_logs() {
        let m = Monitor::new(&MonitorConfig::default(), None).unwrap_or_else(|e| panic!("{e}"));
        let input = chunks("mail me at alice@example.org please", 2).concat();
        let mut f = SseFilter::new(&m, Action::Log, 64, None);
        let out = run(&mut f, &input);
        assert_eq!(out, input);
        assert_eq!(f.hits, vec!["pii.email"]);
        assert_eq!(f.text, "mail me at alice@example.org please");
    }

    #[test]
    fn the_usage_chunk_the_guard_asked_for_is_read_and_withheld() {
        let m = Monitor::new(&MonitorConfig::default(), None).unwrap_or_else(|e| panic!("{e}"));
        let usage = r#"data: {"id":"x","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":7,"completion_tokens":3,"total_tokens":10}}"#;
        // spaced differently: read by the full parser instead of the chunk reader
        let spaced = "data: { \"choices\" : [ ] , \"usage\" : {\"prompt_tokens\":7,\"completion_tokens\":3}, \"x\": 1e5 }";
        // usage on a chunk that also has a choice is not the added chunk: it stays
        let with_choice = r#"data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":7,"completion_tokens":3}}"#;
        for (last, kept) in [(usage, false), (spaced, false), (with_choice, true)] {
            let text: String = ["hell", "o th", "ere"]
                .iter()
                .map(|t| format!("data: {}\n\n", serde_json::json!({"choices":[{"index":0,"delta":{"content":t},"finish_reason":null}]})))
                .collect();
            let input = format!("{text}{last}\n\ndata: [DONE]\n\n");
            for action in [Action::Log, Action::Redact, Action::Block] {
                let mut f = SseFilter::new(&m, action, 64, None);
                f.strip_usage_chunk();
                let out = run(&mut f, &input);
                let want = if kept {
                    input.clone()
                } else {
                    format!("{text}data: [DONE]\n\n")
                };
                assert_eq!(out, want, "{action:?} {last}");
                assert_eq!(f.usage, Some((7, 3)), "{action:?} {last}");
                // without the flag (the client asked for usage) every event goes out
                let mut f = SseFilter::new(&m, action, 64, None);
                assert_eq!(run(&mut f, &input), input, "{action:?} {last}");
                assert_eq!(f.usage, Some((7, 3)));
            }
        }
    }

    #[test]
    fn the_chunk_reader_notes_an_empty_choices_array() {
        let noted = |data: &str| {
            let mut no = false;
            let read = crate::chunkscan::chunk_fields_noting(data, &mut None, &mut no);
            read.map(|f| (f.0.is_some(), no))
        };
        let usage = r#"{"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2}}"#;
        assert_eq!(noted(usage), Some((true, true)));
        assert_eq!(noted(r#"{"choices":[],"usage":null}"#), Some((false, true)));
        let with_choice = r#"{"choices":[{"delta":{"content":"a"}}],"usage":{"prompt_tokens":1}}"#;
        assert_eq!(noted(with_choice), Some((true, false)));
        assert_eq!(
            noted(r#"{"usage":{"prompt_tokens":1}}"#),
            Some((true, false))
        );
        assert_eq!(
            noted(r#"{"choices":null,"usage":{"prompt_tokens":1}}"#),
            Some((true, false))
        );
        // declined: the filter parses it in full instead
        assert_eq!(
            noted(r#"{"choices":[],"usage":{"prompt_tokens":1e3}}"#),
            None
        );
    }

    /// The typed chunk view and the `Value` reading agree on text, finish reason and usage.
    #[test]
    fn chunk_view_agrees_with_the_value_path() {
        for data in [
            r#"{"id":"x","choices":[{"index":0,"delta":{"role":"assistant","content":"a\"b"},"finish_reason":null}]}"#,
            r#"{"choices":[{"text":"legacy","finish_reason":"length"}],"usage":null}"#,
            r#"{"choices":[{"delta":{"content":null},"text":"t"}]}"#,
            r#"{"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":9,"total_tokens":14}}"#,
            r#"{"choices":null,"usage":{}}"#,
        ] {
            let (usage, finish, text) =
                chunk_fields(data).unwrap_or_else(|| panic!("declined {data}"));
            let v: Value = serde_json::from_str(data).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(text.as_deref(), chunk_text(&v), "{data}");
            assert_eq!(
                finish.as_deref(),
                v.pointer("/choices/0/finish_reason")
                    .and_then(Value::as_str)
            );
            let vu = v.get("usage").filter(|u| !u.is_null()).map(|u| {
                let g = |k: &str| u.get(k).and_then(Value::as_u64).unwrap_or(0);
                (g("prompt_tokens"), g("completion_tokens"))
            });
            assert_eq!(usage, vu, "{data}");
        }
        for data in [
            r#"{"choices":[{"delta":{"content":["x"]}}]}"#,
            r#"{"choices":{"0":{"text":"x"}}}"#,
            r#"{"usage":5}"#,
            r#"{"usage":[5,9]}"#,
            r#"{"choices":[[null,"x"]]}"#,
            r#"{"choices":[{"delta":["x"]}]}"#,
            "[1]",
            // text elsewhere than the first choice's content: read in full, per stream
            r#"{"choices":[{"delta":{"content":"a"}},{"delta":{"content":"b"}}]}"#,
            r#"{"choices":[{"index":1,"delta":{"content":"b"}}]}"#,
            r#"{"choices":[{"delta":{"content":"a"},"text":"b"}]}"#,
            r#"{"choices":[{"delta":{"tool_calls":[{"function":{"arguments":"x"}}]}}]}"#,
            r#"{"choices":[{"delta":{"reasoning_content":"x"}}]}"#,
            r#"{"choices":[{"delta":{"refusal":"x"}}]}"#,
            r#"{"choices":[{"delta":{"content":"a","other":"x"}}]}"#,
            r#"{"choices":[{"delta":{"content":"a"},"logprobs":{"content":[]}}]}"#,
            r#"{"type":"response.output_text.delta","delta":"x"}"#,
            r#"{"choices":[],"delta":null}"#,
        ] {
            assert!(chunk_fields(data).is_none(), "{data}");
        }
    }

    /// The leak scanner's rules and the built-in patterns, PII, and a canary.
    fn full_monitor() -> Monitor {
        let cfg = MonitorConfig {
            canaries: vec!["CANARY-7f3a9c".into()],
            ..MonitorConfig::default()
        };
        Monitor::new(&cfg, None).unwrap_or_else(|e| panic!("{e}"))
    }

    const ANTHROPIC_ADMIN: &str = "sk-ant-admin01-diCjHIeelgXOfVW1OgWP7pHLQ0HRpa3WTXSEnufjLTzoxjQ73K2AT1kAUIl9yp6lFzQZ29y2B6SexVFiPfQl6gCK6vLRXAA";
    const PEM: &str = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\nVTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxK\nLxoS2tFczGkPLPgizskuemMghRniWaoLcyehkd3qqGElvW/VDL5AaWTg0nLVkjRo\n-----END RSA PRIVATE KEY-----";

    /// Events of `sizes[i % len]` characters each (cycling), then finish, usage and `[DONE]`.
    fn events_sized(text: &str, sizes: &[usize]) -> String {
        let chars: Vec<char> = text.chars().collect();
        let mut ev = String::new();
        let mut at = 0;
        let mut i = 0;
        while at < chars.len() {
            let n = sizes
                .get(i % sizes.len().max(1))
                .copied()
                .unwrap_or(1)
                .max(1);
            let piece: String = chars.iter().skip(at).take(n).collect();
            ev.push_str(&format!("data: {}\n\n", serde_json::json!({"choices":[{"index":0,"delta":{"content":piece},"finish_reason":null}]})));
            at += n;
            i += 1;
        }
        ev.push_str("data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n");
        ev
    }

    /// Pushes `input` in pieces of `sizes[i % len]` bytes (cycling), then finishes.
    fn run_sized(f: &mut SseFilter<'_>, input: &str, sizes: &[usize]) -> String {
        let bytes = input.as_bytes();
        let mut out = Vec::new();
        let mut at = 0;
        let mut i = 0;
        while at < bytes.len() {
            let n = sizes
                .get(i % sizes.len().max(1))
                .copied()
                .unwrap_or(1)
                .max(1);
            let end = (at + n).min(bytes.len());
            out.extend(f.push(&bytes[at..end]));
            at = end;
            i += 1;
        }
        out.extend(f.finish());
        String::from_utf8_lossy(&out.concat()).into_owned()
    }

    /// What redacting the whole text at once gives (a private key runs through its END line
    /// there too).
    fn whole_redaction(m: &Monitor, text: &str) -> (String, Vec<crate::monitor::Hit>) {
        let hits = m.scan(text);
        (crate::monitor::redact(text, &hits), hits)
    }

    /// An event that matches the template around a token that is not UTF-8 is read as the full
    /// path reads it (U+FFFD) and forwarded unchanged.
    #[test]
    fn an_event_matching_the_template_but_not_utf8_is_read_as_the_full_path_reads_it() {
        let m = Monitor::new(&MonitorConfig::default(), None).unwrap_or_else(|e| panic!("{e}"));
        let ev = |t: &[u8]| {
            let mut e = b"data: {\"choices\":[{\"delta\":{\"content\":\"".to_vec();
            e.extend_from_slice(t);
            e.extend_from_slice(b"\"},\"index\":0}]}\n\n");
            e
        };
        let mut input = ev(b"ab");
        input.extend(ev(b"c\xffd"));
        input.extend(ev(b"e\xc3\xa9"));
        let mut f = SseFilter::new(&m, Action::Log, 0, None);
        let mut out = Vec::new();
        // one read: the second and third events are read through the first one's template
        out.extend(f.push(&input));
        out.extend(f.finish());
        // the invalid byte is read as U+FFFD, as the lossy full read does; the events go out as
        // they came
        assert_eq!(f.text, "abc\u{fffd}de\u{e9}");
        assert_eq!(out.concat(), input);
        let line = |t: &[u8]| {
            let e = ev(t);
            e[6..e.len() - 2].to_vec()
        };
        assert_eq!(
            crate::chunkscan::template_fields(&line(b"c\xffd"), &f.template),
            None
        );
        assert_eq!(
            crate::chunkscan::template_fields(&line(b"xy"), &f.template),
            Some((None, None, Some(Cow::Borrowed("xy"))))
        );
    }

    /// The defect this filter had: a `{80,}` match seen while the key was still arriving was
    /// redacted, remembered by (rule, start), and the longer match found once the tail arrived
    /// counted as seen, so the tail reached the client.
    #[test]
    fn a_match_still_growing_is_held_and_redacted_whole() {
        let m = full_monitor();
        let text = format!("admin key {ANTHROPIC_ADMIN} ok");
        // the hold-back covers the shortest match (95 characters)
        for (size, holdback) in [(6, 128), (1, 128), (17, 96), (200, 96)] {
            let input = events_sized(&text, &[size]);
            let mut f = SseFilter::new(&m, Action::Redact, holdback, None);
            let out = run_sized(&mut f, &input, &[5]);
            assert_eq!(
                content(&out),
                "admin key [REDACTED:secret.anthropic-api-key] ok",
                "events of {size}, hold-back {holdback}"
            );
            assert!(!out.contains("RXAA") && !out.contains("sk-ant"), "{out}");
            assert_eq!(f.hits, vec!["secret.anthropic-api-key"]);
        }
    }

    /// Pushes the events of `text` in pieces of 6 characters one at a time; returns the content
    /// the client has after each.
    fn sent_after_each(f: &mut SseFilter<'_>, text: &str) -> Vec<String> {
        let input = events_sized(text, &[6]);
        let mut out = String::new();
        let mut seen = Vec::new();
        for ev in input.split_inclusive("\n\n") {
            for b in f.push(ev.as_bytes()) {
                out.push_str(&String::from_utf8_lossy(&b));
            }
            seen.push(content(&out));
        }
        seen
    }

    #[test]
    fn prose_goes_out_as_it_arrives() {
        let m = full_monitor();
        assert!(m.prefixes().is_some(), "the detectors' patterns compile");
        let text = "The quick brown fox jumps over the lazy dog, and the guard reads each word. ";
        let mut f = SseFilter::new(&m, Action::Redact, 128, None);
        let seen = sent_after_each(&mut f, text);
        // after each event, all but the event holding the word being written is out (the word
        // could start an e-mail address; events go out whole); nothing waits for 128 characters
        let mut arrived = String::new();
        for (i, piece) in text.as_bytes().chunks(6).enumerate() {
            arrived.push_str(std::str::from_utf8(piece).unwrap_or_default());
            let got = seen.get(i).cloned().unwrap_or_default();
            let word = arrived.len() - arrived.rfind([' ', ',', '.']).map_or(0, |w| w + 1);
            assert!(
                got.len() + word + 6 >= arrived.len() && arrived.starts_with(&got),
                "after {arrived:?} the client had {got:?}"
            );
        }
        // the last event ends a sentence: it is out before the stream ends
        let pieces = text.len().div_ceil(6);
        assert_eq!(seen.get(pieces - 1).map(String::as_str), Some(text));
        let out = content(&String::from_utf8_lossy(&f.finish().concat()));
        assert_eq!(seen.last().cloned().unwrap_or_default() + &out, text);
    }

    #[test]
    fn the_start_of_a_token_waits_for_the_rest() {
        let m = full_monitor();
        let text = format!("Use {ANTHROPIC_ADMIN} now, or CANARY-7f3a9c. Done here. ");
        let mut f = SseFilter::new(&m, Action::Redact, 128, None);
        let seen = sent_after_each(&mut f, &text);
        for got in &seen {
            assert!(!got.contains("sk-") && !got.contains("CANA"), "{got:?}");
        }
        let all = seen.last().cloned().unwrap_or_default()
            + &content(&String::from_utf8_lossy(&f.finish().concat()));
        assert_eq!(
            all,
            "Use [REDACTED:secret.anthropic-api-key] now, or [REDACTED:canary]. Done here. "
        );
    }

    #[test]
    fn a_private_key_is_redacted_through_its_end_line_or_to_the_end() {
        let m = full_monitor();
        let text = format!("here:\n{PEM}\nkeep it safe");
        let mut f = SseFilter::new(&m, Action::Redact, 32, None);
        let out = run_sized(&mut f, &events_sized(&text, &[7]), &[11]);
        assert_eq!(
            content(&out),
            "here:\n[REDACTED:secret.private-key]\nkeep it safe"
        );
        assert!(!out.contains("MIIE") && !out.contains("END RSA"), "{out}");
        // no END line: everything after the BEGIN line is withheld
        let cut = PEM.len() - 40;
        let text = format!("here:\n{} and more", &PEM[..cut]);
        let mut f = SseFilter::new(&m, Action::Redact, 32, None);
        let out = run_sized(&mut f, &events_sized(&text, &[7]), &[11]);
        assert_eq!(content(&out), "here:\n[REDACTED:secret.private-key]");
    }

    /// A match that keeps growing past `MAX_HOLD` stops holding the stream: the rest is redacted.
    #[test]
    fn an_endless_match_is_redacted_to_the_end_of_the_stream() {
        let m = full_monitor();
        let tail: String = "Ab3_".repeat(MAX_HOLD / 4 + 100);
        let text = format!("key sk-ant-api03-{tail} then prose");
        let mut f = SseFilter::new(&m, Action::Redact, 128, None);
        let input = events_sized(&text, &[9]);
        let bytes = input.as_bytes();
        let mut sent = String::new();
        for piece in bytes.chunks(64) {
            for b in f.push(piece) {
                sent.push_str(&String::from_utf8_lossy(&b));
            }
        }
        // text went out before the stream ended, and none of the key
        assert!(content(&sent).starts_with("key [REDACTED:secret.anthropic-api-key]"));
        for b in f.finish() {
            sent.push_str(&String::from_utf8_lossy(&b));
        }
        assert_eq!(content(&sent), "key [REDACTED:secret.anthropic-api-key]");
        assert!(!sent.contains("Ab3_"));
    }

    /// A match at the end of the text so far that turns out not to be one (a word boundary
    /// that more text removes) is neither redacted nor logged.
    #[test]
    fn a_provisional_match_that_vanishes_is_not_redacted() {
        let m = full_monitor();
        let text = "id AKIAIOSFODNN7EXAMPLEXYZ is not a key";
        assert!(m.scan(text).is_empty());
        let mut f = SseFilter::new(&m, Action::Redact, 0, None);
        // the key-shaped prefix arrives alone in the first scan step
        let input = events_sized(text, &[23, 1]);
        let out = run_sized(&mut f, &input, &[input.find("XYZ").unwrap_or(0)]);
        assert_eq!(content(&out), text);
        assert!(f.hits.is_empty() && !f.redacted);
    }

    /// Secrets, PII and a canary a stream can carry; each sample is found by one rule.
    const SAMPLES: &[&str] = &[
        "AKIAIOSFODNN7EXAMPLE",
        "ghp_Zk3T9vQx7LmN2pR8sW4yZ6aB1cD5eF0gH2jK",
        "https://hooks.slack.com/services/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",
        "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",
        ANTHROPIC_ADMIN,
        "sk_live_51HxQ2dKj8Lm3Np4Qr5St6Uv7W",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
        PEM,
        "carol@example.com",
        "4111 1111 1111 1111",
        "123-45-6789",
        "CANARY-7f3a9c",
    ];
    const PROSE: &[&str] = &[
        "Here is",
        "the value you asked for:",
        "café",
        "日本語のテキスト",
        "and then",
        "\n",
        "Keep the token in a vault; rotate the password often.",
        "ok.",
    ];

    fn compose(parts: &[(bool, usize)]) -> (String, Vec<&'static str>) {
        let mut text = String::new();
        let mut secrets = Vec::new();
        for &(secret, i) in parts {
            let piece = if secret {
                // a sample may come again: every copy is a hit
                let s = SAMPLES[i % SAMPLES.len()];
                secrets.push(s);
                s
            } else {
                PROSE[i % PROSE.len()]
            };
            // separated as prose separates them (the index picks the separator)
            if !text.is_empty() {
                text.push_str([" ", "\n", ", ", ". ", "\t", "\""][i / 12 % 6]);
            }
            text.push_str(piece);
        }
        (text, secrets)
    }

    /// Short texts are first matched against all rules as one set, long ones rule by rule: both
    /// find the same hits (each sample alone, in prose, and two together, short and padded past
    /// the set's limit with text that hits nothing).
    #[test]
    fn short_and_long_texts_find_the_same_hits() {
        let m = full_monitor();
        let pad = " plain words".repeat(30);
        let mut texts: Vec<String> = SAMPLES.iter().map(|s| s.to_string()).collect();
        for (k, s) in SAMPLES.iter().enumerate() {
            texts.push(format!(
                "{} {s}, {}",
                PROSE[k % PROSE.len()],
                PROSE[(k + 3) % PROSE.len()]
            ));
            texts.push(format!("{s} and {}", SAMPLES[(k + 1) % SAMPLES.len()]));
        }
        texts.push("nothing to see here".into());
        let mut short = 0;
        for t in &texts {
            let padded = format!("{t}{pad}");
            assert!(padded.len() > 256);
            short += usize::from(t.len() <= 256);
            let rules = |hits: Vec<crate::monitor::Hit>| {
                let mut v: Vec<(String, usize, usize)> =
                    hits.into_iter().map(|h| (h.rule, h.start, h.end)).collect();
                v.sort();
                v
            };
            assert_eq!(rules(m.scan(t)), rules(m.scan(&padded)), "{t}");
        }
        assert!(short > 20, "{short}");
    }

    #[test]
    fn every_sample_is_found_whole_in_a_plain_response() {
        let m = full_monitor();
        for s in SAMPLES {
            let text = format!("x {s} y");
            let (red, hits) = whole_redaction(&m, &text);
            assert_eq!(hits.len(), 1, "{s}: {hits:?}");
            assert_eq!((hits[0].start, hits[0].end), (2, 2 + s.len()), "{s}");
            assert!(
                red.starts_with("x [REDACTED:") && red.ends_with("] y"),
                "{red}"
            );
        }
    }

    #[test]
    fn event_data_of_one_line_events_and_of_the_rest() {
        for (raw, data) in [
            ("data: {\"a\":1}\n\n", "{\"a\":1}"),
            ("data: [DONE]\n\n", "[DONE]"),
            ("data:x\n\n", "x"),
            ("data:  two spaces\n\n", " two spaces"),
            ("data: a\ndata: b\n\n", "a\nb"),
            ("data: a\r\n\r\n", "a"),
            ("data: a\r\ndata: b\r\n\r\n", "a\nb"),
            (": comment\ndata: x\n\n", "x"),
            ("event: e\ndata: x\nid: 1\n\n", "x"),
            ("data: x\n", "x"),
            ("data: \n\n", ""),
            ("id: 1\n\n", ""),
        ] {
            assert_eq!(event_data(raw.as_bytes()), data, "{raw:?}");
        }
        // not UTF-8: read lossily as before
        assert_eq!(event_data(b"data: \xff\n\n"), "\u{fffd}");
    }

    #[test]
    fn chunk_reader_reads_the_usual_chunks_and_declines_the_rest() {
        let head = r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","system_fingerprint":null,"choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}"#;
        for (data, text, finish, usage) in [
            (head, Some(""), None, None),
            (
                r#"{"choices":[{"index":0,"delta":{"content":"line\nnext \"q\" a\\b \/"},"finish_reason":null}]}"#,
                Some("line\nnext \"q\" a\\b /"),
                None,
                None,
            ),
            (
                r#" { "choices" : [ { "text" : "legacy" , "finish_reason" : "length" } ] } "#,
                Some("legacy"),
                Some("length"),
                None,
            ),
            (
                r#"{"choices":[{"index":0,"delta":{"content":"x","refusal":null,"tool_calls":null},"logprobs":null}]}"#,
                Some("x"),
                None,
                None,
            ),
            (
                r#"{"choices":[],"usage":{"prompt_tokens":21,"completion_tokens":23,"total_tokens":44,"details":{"cached":[0,1.5,-2]}}}"#,
                None,
                None,
                Some((21, 23)),
            ),
            (
                r#"{"choices":[{"delta":{},"finish_reason":"stop"}],"usage":null}"#,
                None,
                Some("stop"),
                None,
            ),
        ] {
            let fast = crate::chunkscan::chunk_fields(data)
                .unwrap_or_else(|| panic!("fast reader declined {data}"));
            assert_eq!(fast.0, usage, "{data}");
            assert_eq!(fast.1.as_deref(), finish, "{data}");
            assert_eq!(fast.2.as_deref(), text, "{data}");
            assert_eq!(Some(fast), chunk_fields_serde(data, &mut false), "{data}");
        }
        for data in [
            r#"{"choices":[{"delta":{"content":"caf\u00e9"}}]}"#,
            r#"{"choices":[{"delta":{"content":"x"}}],"created":1e9}"#,
            r#"{"choices":[{"delta":{"content":"a","content":"b"}}]}"#,
            r#"{"choices":[],"choices":[]}"#,
            r#"{"usage":{"prompt_tokens":1.0}}"#,
            r#"{"usage":{"prompt_tokens":-1}}"#,
            r#"{"usage":{"prompt_tokens":18446744073709551616}}"#,
            r#"{"choices":[null]}"#,
            r#"{"choices":[{"delta":{"content":"x"}},]}"#,
            r#"{"choices":[{"delta":{"content":"x"}}]} x"#,
            r#"{"id":01}"#,
            "{\"choices\":[{\"text\":\"tab\there\"}]}",
            r#"[{"choices":[]}]"#,
        ] {
            assert!(crate::chunkscan::chunk_fields(data).is_none(), "{data}");
        }
        // text elsewhere than the first choice's content: both readers decline
        for data in [
            r#" { "choices" : [ { "text" : "legacy" } , 5 ] } "#,
            r#"{"choices":[{"index":2,"delta":{"content":"x"}}]}"#,
            r#"{"choices":[{"delta":{"content":"x","reasoning":"r"}}]}"#,
            r#"{"choices":[{"delta":{"content":"x"},"message":{"content":"m"}}]}"#,
            r#"{"choices":[{"delta":{"content":"x"}}],"text":"t"}"#,
        ] {
            assert!(crate::chunkscan::chunk_fields(data).is_none(), "{data}");
            assert!(chunk_fields_serde(data, &mut false).is_none(), "{data}");
        }
    }

    /// `json` unchanged (`edit` 0), with the character at `at` removed (1), or with `ch` inserted
    /// at `at` (2).
    fn edited(json: &str, edit: u8, at: proptest::sample::Index, ch: char) -> String {
        let mut chars: Vec<char> = json.chars().collect();
        match edit {
            1 if !chars.is_empty() => {
                chars.remove(at.index(chars.len()));
            }
            2 => chars.insert(at.index(chars.len() + 1), ch),
            _ => {}
        }
        chars.into_iter().collect()
    }

    /// Chunk-shaped JSON with occasional wrong types (floats without exponents, strings without
    /// control characters: what the fast reader reads; the rest is in the test above).
    fn arb_chunk() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            (0u64..12).prop_map(Value::from),
            Just(Value::from(u64::MAX)),
            (-5i64..0).prop_map(Value::from),
            (-100_000i64..100_000).prop_map(|n| Value::from(n as f64 / 100.0)),
            "[a-z \"\\\\/é\n\t]{0,6}".prop_map(Value::String),
        ];
        let any_v = leaf.prop_recursive(2, 8, 3, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
                prop::collection::vec(("[a-z_]{1,8}", inner), 0..3)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        });
        let mostly = move |good: BoxedStrategy<Value>| -> BoxedStrategy<Option<Value>> {
            prop_oneof![
                3 => good.prop_map(Some),
                1 => Just(None),
                1 => any_v.clone().prop_map(Some),
            ]
            .boxed()
        };
        let text = || "[a-zA-Z \"\\\\é\n]{0,12}".prop_map(Value::String).boxed();
        let count = || (0u64..100).prop_map(Value::from).boxed();
        let obj = |fields: Vec<(&'static str, Option<Value>)>| {
            Value::Object(
                fields
                    .into_iter()
                    .filter_map(|(k, v)| v.map(|v| (k.to_string(), v)))
                    .collect(),
            )
        };
        let delta = (
            mostly(text()),
            mostly(Just(Value::from("assistant")).boxed()),
        )
            .prop_map(move |(c, r)| obj(vec![("role", r), ("content", c)]));
        let choice = (
            mostly(delta.boxed()),
            mostly(text()),
            mostly(text()),
            mostly(count()),
        )
            .prop_map(move |(d, t, f, i)| {
                obj(vec![
                    ("index", i),
                    ("delta", d),
                    ("text", t),
                    ("finish_reason", f),
                ])
            });
        let usage =
            (mostly(count()), mostly(count()), mostly(count())).prop_map(move |(p, c, t)| {
                obj(vec![
                    ("prompt_tokens", p),
                    ("completion_tokens", c),
                    ("total_tokens", t),
                ])
            });
        (
            mostly(
                prop::collection::vec(choice, 0..3)
                    .prop_map(Value::Array)
                    .boxed(),
            ),
            mostly(usage.boxed()),
            mostly(text()),
        )
            .prop_map(move |(c, u, id)| obj(vec![("id", id), ("choices", c), ("usage", u)]))
    }

    /// `event_end` as two substring searches: the definition the `memchr` walk must match.
    fn event_end_by_search(buf: &[u8]) -> Option<usize> {
        let find = |n: &[u8]| {
            buf.windows(n.len())
                .position(|w| w == n)
                .map(|i| i + n.len())
        };
        match (find(b"\n\n"), find(b"\r\n\r\n")) {
            (Some(x), Some(y)) => Some(x.min(y)),
            (x, y) => x.or(y),
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4096))]

        /// Events end where the first `\n\n` or `\r\n\r\n` ends, in any mix of line breaks.
        #[test]
        fn event_end_is_the_end_of_the_first_terminator(
            bytes in proptest::collection::vec(proptest::sample::select(vec![b'\n', b'\r', b'a', b':']), 0..40),
        ) {
            proptest::prop_assert_eq!(event_end(&bytes), event_end_by_search(&bytes), "{:?}", bytes);
        }
    }

    /// Events forwarded unchanged go out as one slice of the upstream read, not a copy; a read
    /// with a redacted event goes out rewritten.
    #[test]
    fn unchanged_events_of_one_read_go_out_as_a_slice_of_it() {
        let m = full_monitor();
        let read = Bytes::from(events_sized("hello there, a clean answer", &[5, 7, 9]));
        let mut f = SseFilter::new(&m, Action::Redact, 64, None);
        let out = f.push_frame(&read).unwrap_or_default();
        assert_eq!(out, read);
        assert_eq!(out.as_ptr(), read.as_ptr());
        let read = Bytes::from(events_sized("leak CANARY-7f3a9c here", &[4, 6, 8]));
        let mut f = SseFilter::new(&m, Action::Redact, 64, None);
        let out = f.push_frame(&read).unwrap_or_default();
        let text = content(&String::from_utf8_lossy(&out));
        assert_eq!(text, "leak [REDACTED:canary] here");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4096))]

        /// The fast chunk reader reads what the serde view reads whenever it accepts a chunk
        /// (compact or pretty JSON, or JSON with one character removed or inserted), and accepts
        /// every unedited chunk of the generated shapes the serde view accepts.
        #[test]
        fn fast_chunk_reader_agrees_with_the_serde_view(
            v in arb_chunk(),
            pretty in proptest::prelude::any::<bool>(),
            edit in 0u8..3,
            at in proptest::prelude::any::<proptest::sample::Index>(),
            ch in proptest::sample::select(vec!['{', '}', '[', ']', ',', ':', '"', '\\', '0', '-', '.', 'e', ' ', 'n', 'é']),
        ) {
            let json = if pretty {
                serde_json::to_string_pretty(&v).unwrap_or_default()
            } else {
                serde_json::to_string(&v).unwrap_or_default()
            };
            let data = edited(&json, edit, at, ch);
            let fast = crate::chunkscan::chunk_fields(&data);
            let (mut fast_note, mut slow_note) = (false, false);
            let _ = crate::chunkscan::chunk_fields_noting(&data, &mut None, &mut fast_note);
            let slow = chunk_fields_serde(&data, &mut slow_note);
            if let Some(f) = &fast {
                proptest::prop_assert_eq!(Some(f), slow.as_ref(), "{}", data);
                // both readers tell an empty `choices` alike
                proptest::prop_assert_eq!(fast_note, slow_note, "{}", data);
                proptest::prop_assert!(serde_json::from_str::<Value>(&data).is_ok(), "{}", data);
            }
            if edit == 0 && slow.is_some() {
                proptest::prop_assert!(fast.is_some(), "fast reader declined {}", data);
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4096))]

        /// Chunks read through the template of the chunk before give what a full read gives:
        /// pairs of generated chunks, the second often the first with another text (including
        /// quotes, backslashes and escapes that end or cross the token), and sometimes edited.
        #[test]
        fn template_reads_agree_with_full_reads(
            v in arb_chunk(),
            w in arb_chunk(),
            texts in proptest::collection::vec("[a-z \"\\\\/é\n\t]{0,10}", 1..4),
            same_shape in proptest::prelude::prop_oneof![3 => proptest::prelude::Just(true), 1 => proptest::prelude::Just(false)],
            edit in proptest::prelude::prop_oneof![3 => proptest::prelude::Just(0u8), 1 => proptest::prelude::Just(1u8), 1 => proptest::prelude::Just(2u8)],
            at in proptest::prelude::any::<proptest::sample::Index>(),
            ch in proptest::sample::select(vec!['"', '\\', '}', ',', 'u', ' ']),
        ) {
            let first = serde_json::to_string(&v).unwrap_or_default();
            let mut t = None;
            let full = crate::chunkscan::chunk_fields(&first);
            let templ = crate::chunkscan::chunk_fields_with(&first, &mut t);
            proptest::prop_assert_eq!(&templ, &full);
            for text in &texts {
                // the same chunk with another text where it had one, or another chunk
                let mut next = if same_shape { v.clone() } else { w.clone() };
                if let Some(c) = next.pointer_mut("/choices/0/delta/content").filter(|c| c.is_string()) {
                    *c = Value::String(text.clone());
                } else if let Some(c) = next.pointer_mut("/choices/0/text").filter(|c| c.is_string()) {
                    *c = Value::String(text.clone());
                }
                let data = edited(&serde_json::to_string(&next).unwrap_or_default(), edit, at, ch);
                let full = crate::chunkscan::chunk_fields(&data);
                let templ = crate::chunkscan::chunk_fields_with(&data, &mut t);
                proptest::prop_assert_eq!(&templ, &full, "{}", data);
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(40))]

        /// Any chunking of a response into events and of the byte stream into reads gives the
        /// redaction of the whole response, and no piece of any secret goes out.
        #[test]
        fn streamed_redaction_equals_whole_redaction(
            parts in proptest::collection::vec((proptest::bool::ANY, 0usize..64), 1..10),
            sizes in proptest::collection::vec(1usize..24, 1..6),
            reads in proptest::collection::vec(1usize..90, 1..6),
            // at least the longest match needed to recognise a sample (95 bytes)
            holdback in 96usize..320,
            hardened in proptest::bool::ANY,
        ) {
            let m = full_monitor();
            let (text, secrets) = compose(&parts);
            let (want, hits) = whole_redaction(&m, &text);
            let input = events_sized(&text, &sizes);
            // hardening reads every event as a `Value` instead of the borrowed view
            let hard = crate::config::HardeningConfig::default();
            let mut f = SseFilter::new(&m, Action::Redact, holdback, hardened.then_some(&hard));
            let out = run_sized(&mut f, &input, &reads);
            proptest::prop_assert_eq!(content(&out), want);
            for s in &secrets {
                let b = s.as_bytes();
                for w in b.windows(10.min(b.len())) {
                    let w = String::from_utf8_lossy(w);
                    proptest::prop_assert!(!out.contains(&*w), "{} leaked from {}", w, s);
                }
            }
            let mut rules: Vec<String> = hits.iter().map(|h| h.rule.clone()).collect();
            rules.sort();
            rules.dedup();
            let mut got = f.hits.clone();
            got.sort();
            proptest::prop_assert_eq!(got, rules);
            proptest::prop_assert_eq!(f.redacted, !hits.is_empty());
            proptest::prop_assert!(out.ends_with("data: [DONE]\n\n"));
        }

        /// Blocking sends at most the text before the first match, then the block event.
        #[test]
        fn streamed_block_sends_nothing_of_a_secret(
            parts in proptest::collection::vec((proptest::bool::ANY, 0usize..64), 1..10),
            sizes in proptest::collection::vec(1usize..24, 1..6),
            reads in proptest::collection::vec(1usize..90, 1..6),
        ) {
            let m = full_monitor();
            let (text, _) = compose(&parts);
            let hits = m.scan(&text);
            let mut f = SseFilter::new(&m, Action::Block, 128, None);
            let out = run_sized(&mut f, &events_sized(&text, &sizes), &reads);
            proptest::prop_assert_eq!(f.blocked, !hits.is_empty());
            match hits.first() {
                Some(h) => {
                    proptest::prop_assert!(out.ends_with(BLOCK_EVENT));
                    proptest::prop_assert!(text[..h.start].starts_with(&content(&out)), "{}", out);
                }
                None => proptest::prop_assert_eq!(content(&out), text),
            }
        }

        /// Logging only: bytes pass unchanged and the same rules are logged.
        #[test]
        fn streamed_log_forwards_bytes_and_logs_the_same_rules(
            parts in proptest::collection::vec((proptest::bool::ANY, 0usize..64), 1..10),
            sizes in proptest::collection::vec(1usize..24, 1..6),
            reads in proptest::collection::vec(1usize..90, 1..6),
        ) {
            let m = full_monitor();
            let (text, _) = compose(&parts);
            let mut rules: Vec<String> = m.scan(&text).into_iter().map(|h| h.rule).collect();
            rules.sort();
            rules.dedup();
            let input = events_sized(&text, &sizes);
            let mut f = SseFilter::new(&m, Action::Log, 128, None);
            let out = run_sized(&mut f, &input, &reads);
            proptest::prop_assert_eq!(out, input);
            let mut got = f.hits.clone();
            got.sort();
            proptest::prop_assert_eq!(got, rules);
        }
    }

    #[test]
    fn redaction_reparses_events_read_through_the_view() {
        let m = Monitor::new(&MonitorConfig::default(), None).unwrap_or_else(|e| panic!("{e}"));
        let input = chunks("card 4111 1111 1111 1111 ok", 2).concat();
        let mut f = SseFilter::new(&m, Action::Redact, 64, None);
        let out = run(&mut f, &input);
        assert_eq!(content(&out), "card [REDACTED:pii.payment-card] ok");
        assert!(f.redacted);
        assert!(coalesce(&mut Vec::new()).is_none());
        assert_eq!(
            coalesce(&mut vec![
                Bytes::from_static(b"a"),
                Bytes::from_static(b"bc")
            ]),
            Some(Bytes::from_static(b"abc"))
        );
    }

    /// One event of a generated multi-stream answer carrying `piece` in stream `kind` of
    /// choice `choice` (kind: 0 content, 1 reasoning_content, 2 refusal, 3 tool-call arguments,
    /// 4 legacy function-call arguments, 5 completions text, 6 Responses output text, 7
    /// Responses function-call arguments, 8 logprob tokens beside empty content, 9 content
    /// parts, 10 audio transcript).
    fn multi_event(kind: u8, choice: u64, piece: &str) -> String {
        use serde_json::json;
        let delta =
            |k: &str| json!({"choices":[{"index":choice,"delta":{k:piece},"finish_reason":null}]});
        let v = match kind {
            0 => delta("content"),
            1 => delta("reasoning_content"),
            2 => delta("refusal"),
            3 => {
                json!({"choices":[{"index":choice,"delta":{"tool_calls":[{"index":1,"function":{"arguments":piece}}]}}]})
            }
            4 => {
                json!({"choices":[{"index":choice,"delta":{"function_call":{"arguments":piece}}}]})
            }
            5 => json!({"choices":[{"index":choice,"text":piece}]}),
            6 => {
                return format!(
                    "event: response.output_text.delta\ndata: {}\n\n",
                    json!({"type":"response.output_text.delta","output_index":choice,"content_index":0,"delta":piece})
                )
            }
            7 => {
                json!({"type":"response.function_call_arguments.delta","output_index":choice,"delta":piece})
            }
            9 => {
                json!({"choices":[{"index":choice,"delta":{"content":[{"type":"text","text":piece}]}}]})
            }
            10 => {
                json!({"choices":[{"index":choice,"delta":{"audio":{"id":"a","transcript":piece}}}]})
            }
            _ => {
                json!({"choices":[{"index":choice,"delta":{"content":""},"logprobs":{"content":[{"token":piece,"logprob":-0.5}]}}]})
            }
        };
        format!("data: {v}\n\n")
    }

    /// The text of stream `(kind, choice)` in a client's copy of a multi-stream answer.
    fn multi_text(out: &str, kind: u8, choice: u64) -> String {
        let mut text = String::new();
        for ev in out.split("\n\n") {
            let Some(d) = ev.lines().find_map(|l| l.strip_prefix("data: ")) else {
                continue;
            };
            let Ok(v) = serde_json::from_str::<Value>(d) else {
                continue;
            };
            let mut texts = Vec::new();
            event_texts(&v, &mut texts);
            let want = multi_key(kind, choice);
            for (k, t) in texts {
                if k == want {
                    text.push_str(&t);
                }
            }
        }
        text
    }

    fn multi_key(kind: u8, choice: u64) -> ChanKey {
        use crate::chan::Field;
        let c = |field, sub| ChanKey::Choice { choice, field, sub };
        match kind {
            0 | 5 => c(Field::Content, 0),
            1 => c(Field::ReasoningContent, 0),
            2 => c(Field::Refusal, 0),
            3 => c(Field::ToolArgs, 1),
            4 => c(Field::FunctionArgs, 0),
            6 => ChanKey::Event {
                kind: "response.output_text.delta".into(),
                at: [choice, 0, 0],
                logprobs: false,
            },
            7 => ChanKey::Event {
                kind: "response.function_call_arguments.delta".into(),
                at: [choice, 0, 0],
                logprobs: false,
            },
            9 => c(Field::ContentPart, 0),
            10 => c(Field::AudioTranscript, 0),
            _ => c(Field::LogprobContent, 0),
        }
    }

    /// Splits `text` into pieces of the given sizes (cycled), on character boundaries.
    fn pieces(text: &str, sizes: &[usize]) -> Vec<String> {
        let chars: Vec<char> = text.chars().collect();
        let mut out = Vec::new();
        let mut at = 0;
        let mut i = 0;
        while at < chars.len() {
            let n = sizes[i % sizes.len()].max(1);
            out.push(chars[at..(at + n).min(chars.len())].iter().collect());
            at += n;
            i += 1;
        }
        out
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

        /// A secret in any text-bearing field of any choice, streamed in random pieces
        /// interleaved with another choice's secret-free text and cut into random reads: no
        /// 16-character fragment of it reaches the client (redacting or blocking), and the
        /// secret-free stream comes through unchanged when redacting.
        #[test]
        fn no_fragment_of_a_secret_in_any_stream_reaches_the_client(
            kind in 0u8..11,
            choice in 0u64..2,
            before in "[a-z ]{0,40}",
            after in "[a-z ]{0,40}",
            secret in "[A-Za-z0-9]{36}",
            clean in "[a-z ,.]{0,80}",
            sizes in proptest::collection::vec(1usize..12, 1..5),
            order in proptest::collection::vec(proptest::bool::ANY, 0..40),
            reads in proptest::collection::vec(1usize..90, 1..6),
            block in proptest::bool::ANY,
        ) {
            let m = full_monitor();
            let secret = format!("ghp_{secret}");
            let text = format!("{before} {secret} {after}");
            let other = 1 - choice;
            let (mut a, mut b) = (pieces(&text, &sizes).into_iter(), pieces(&clean, &sizes).into_iter());
            let mut input = String::new();
            let mut o = order.iter().cycle();
            loop {
                let take_a = *o.next().unwrap_or(&true);
                let next = if take_a { a.next().map(|p| (kind, choice, p)) } else { None }
                    .or_else(|| b.next().map(|p| (0, other, p)))
                    .or_else(|| a.next().map(|p| (kind, choice, p)));
                let Some((k, c, p)) = next else { break };
                input.push_str(&multi_event(k, c, &p));
            }
            input.push_str("data: [DONE]\n\n");
            let action = if block { Action::Block } else { Action::Redact };
            let mut f = SseFilter::new(&m, action, 128, None);
            let out = run_sized(&mut f, &input, &reads);
            let chars: Vec<char> = secret.chars().collect();
            for w in chars.windows(16) {
                let frag: String = w.iter().collect();
                proptest::prop_assert!(!out.contains(&frag), "{} leaked in {}", frag, out);
            }
            proptest::prop_assert!(f.hits.iter().any(|h| h == "secret.github-token"), "{:?}", f.hits);
            if block {
                proptest::prop_assert!(out.ends_with(BLOCK_EVENT));
            } else {
                proptest::prop_assert_eq!(multi_text(&out, 0, other), clean);
                if kind != 8 {
                    let got = multi_text(&out, kind, choice);
                    proptest::prop_assert!(got.contains("[REDACTED:secret.github-token]"), "{}", got);
                    proptest::prop_assert!(got.starts_with(before.as_str()) && got.ends_with(after.as_str()), "{}", got);
                }
            }
        }
    }
}
