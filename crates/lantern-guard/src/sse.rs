//! Server-sent-events filter for streamed completions: splits the upstream byte stream into
//! events across chunk boundaries, monitors the generated text in steps, holds back text so a
//! match split across chunks (or still growing) is redacted whole or blocked before any of it
//! reaches the client, rounds logprobs, and collects usage and finish reasons.

use crate::config::{Action, HardeningConfig};
use crate::harden::Obj;
use crate::monitor::{private_key_end, Monitor, PEM_END_MAX};
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
/// Bytes before the held-back text that are scanned again with it, so that rules anchored on a
/// keyword or a word boundary before a secret see what precedes it.
const CONTEXT: usize = 64;
/// A match ending this close to the end of the text scanned so far may still change (grow, or
/// gain an optional suffix) when more text arrives: it is provisional and holds text back.
const GROW_MARGIN: usize = 16;
/// Longest text a provisional match holds back; past it the match is taken to run to the end of
/// the stream (the rest is redacted, or the stream is blocked).
const MAX_HOLD: usize = 8 << 10;
/// End of a match that runs to the end of the stream.
const THROUGH: usize = usize::MAX;
/// Text bytes a stream's buffers start with (a short answer fits).
const TEXT_START: usize = 512;
/// Events released per upstream read a filter has room for at first, instead of growing from
/// four (a short answer's events arrive in one read).
const RELEASED_START: usize = 32;
/// Events the queue of held-back events starts with room for.
const PENDING_START: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HitState {
    /// Ends at (or next to) the end of the text scanned so far: may still grow, shrink or
    /// vanish, so no text from its start on is released until a later scan settles it.
    Open,
    /// Final.
    Closed,
    /// A private-key BEGIN line whose END line has not arrived yet: everything from its start
    /// is redacted until the END line (to the end of the stream if none comes).
    PemOpen,
}

/// A match in global text offsets.
#[derive(Debug)]
struct Held {
    rule: String,
    start: usize,
    /// Exclusive end (`THROUGH`: the rest of the stream).
    end: usize,
    /// The end the monitor reported (with `rule` and `start`, what identifies a match found
    /// again by a later scan).
    found_end: usize,
    /// Where the search for the END line of a private key goes on.
    cursor: usize,
    state: HitState,
}

struct Pending {
    raw: Bytes,
    /// The parsed event, kept only when it was rewritten (logprobs) or is being redacted; other
    /// events are forwarded as `raw` and parsed again only if a later match needs them changed.
    json: Option<Value>,
    /// Global byte range of this event's text in the generated output.
    range: Option<(usize, usize)>,
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
    /// Generated text from global offset `win_start` to `total`.
    window: String,
    win_start: usize,
    total: usize,
    /// Text before this global offset has been scanned.
    scanned: usize,
    /// Text before this global offset has been sent to the client.
    released: usize,
    /// New text that triggers a scan.
    step: usize,
    /// Matches that may still change what is sent, sorted by start.
    found: Vec<Held>,
    /// Global end of the last redaction sent: a match starting at or before it is merged into
    /// it (no new marker), as whole-response redaction merges overlapping and adjacent hits.
    red_end: Option<usize>,
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
}

#[derive(Deserialize)]
struct DeltaView<'a> {
    #[serde(borrow, default)]
    content: Option<Cow<'a, str>>,
}

/// The first element of `choices` (the rest are skipped, as [`chunk_text`] reads only the first).
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
                while seq.next_element::<IgnoredAny>()?.is_some() {}
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

/// The generated text carried by a chunk (chat `delta.content` or completions `text`).
fn chunk_text(v: &Value) -> Option<&str> {
    let c = v.get("choices")?.get(0)?;
    c.get("delta")
        .and_then(|d| d.get("content"))
        .and_then(Value::as_str)
        .or_else(|| c.get("text").and_then(Value::as_str))
}

fn set_chunk_text(v: &mut Value, s: String) {
    if let Some(c) = v.get_mut("choices").and_then(|c| c.get_mut(0)) {
        if let Some(d) = c.get_mut("delta").and_then(|d| d.get_mut("content")) {
            *d = Value::String(s);
        } else if let Some(t) = c.get_mut("text") {
            *t = Value::String(s);
        }
    }
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
            window: String::new(),
            win_start: 0,
            total: 0,
            scanned: 0,
            released: 0,
            // when nothing is held back, scanning only logs: large steps
            step,
            found: Vec::new(),
            red_end: None,
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
            self.released = self.total;
        }
        if done || self.total - self.scanned >= self.step {
            self.scan(done);
        }
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
                self.hold(raw, None, range, false, withheld);
                return false;
            }
        }
        let data = event_data_of(&raw, line);
        let mut json: Option<Value> = None;
        let mut dirty = false;
        let mut range = None;
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
        let mut withheld = false;
        if let Some(fields) = fields {
            (range, withheld) = self.take_fields(fields, no_choices);
        } else if !is_done && !data.is_empty() {
            if let Ok(mut v) = serde_json::from_str::<Value>(&data) {
                if let Some(u) = v.get("usage").filter(|u| !u.is_null()) {
                    let g = |k: &str| u.get(k).and_then(Value::as_u64).unwrap_or(0);
                    self.usage = Some((g("prompt_tokens"), g("completion_tokens")));
                    withheld = self.strip_usage && is_usage_only(&v);
                }
                if let Some(f) = v
                    .pointer("/choices/0/finish_reason")
                    .and_then(Value::as_str)
                {
                    self.finish = Some(f.to_string());
                }
                if let Some(h) = &self.hardening {
                    dirty = crate::harden::round_logprobs(&mut v, h);
                }
                if let Some(t) = chunk_text(&v) {
                    if !t.is_empty() {
                        range = Some(self.add_text(t));
                    }
                }
                json = Some(v);
            }
        }
        self.hold(raw, json, range, dirty, withheld);
        is_done
    }

    /// Takes in what a chunk carries: its usage, finish reason and text. Returns the text's
    /// global range and whether the event is withheld (the usage chunk the guard asked for).
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
        let range = text.filter(|t| !t.is_empty()).map(|t| self.add_text(&t));
        (range, withheld)
    }

    /// Holds an event until its text is settled (unless forwarded as read, or withheld).
    #[inline(always)]
    fn hold(
        &mut self,
        raw: Bytes,
        json: Option<Value>,
        range: Option<(usize, usize)>,
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
                dirty,
            });
        }
    }

    /// Appends generated text; returns its global byte range.
    fn add_text(&mut self, t: &str) -> (usize, usize) {
        if self.window.capacity() == 0 {
            // room for a short answer at once, instead of growing from 8 bytes in small events
            self.window.reserve(TEXT_START);
            self.text.reserve(TEXT_START);
        }
        let start = self.total;
        self.total += t.len();
        self.window.push_str(t);
        if self.text.len() + t.len() <= MAX_TEXT {
            self.text.push_str(t);
        }
        (start, self.total)
    }

    /// Where the next scan starts: the monitor's overlap before the text scanned so far, and
    /// `CONTEXT` before the text not yet released and before provisional matches (scanned again
    /// to see whether they grew).
    fn scan_floor(&self) -> usize {
        let mut from = self
            .scanned
            .saturating_sub(self.monitor.overlap_chars())
            .min(self.released.saturating_sub(CONTEXT));
        for h in &self.found {
            if h.state == HitState::Open {
                from = from.min(h.start.saturating_sub(CONTEXT));
            }
        }
        from.max(self.win_start)
    }

    /// Scans the text not scanned yet (with the overlap of [`Self::scan_floor`]) and settles
    /// what the new text decides; `last` when no more text comes.
    fn scan(&mut self, last: bool) {
        if self.monitor.is_empty() {
            self.scanned = self.total;
            return;
        }
        if self.total > self.scanned {
            let mut from = self.scan_floor();
            while from < self.total && !self.window.is_char_boundary(from - self.win_start) {
                from += 1;
            }
            let hits = self
                .window
                .get(from - self.win_start..)
                .map(|w| self.monitor.scan(w))
                .unwrap_or_default();
            self.scanned = self.total;
            // provisional matches are found again by this scan, settled or gone
            self.found.retain(|h| h.state != HitState::Open);
            for h in hits {
                self.add_hit(h.rule, from + h.start, from + h.end, last);
            }
        }
        self.close_private_keys(last);
        let mut settled = Vec::new();
        for h in &mut self.found {
            if h.state != HitState::Open {
                continue;
            }
            if last {
                h.state = HitState::Closed;
            } else if self.total - h.start > MAX_HOLD {
                // still growing past any secret's length: redact (or block) the rest
                h.state = HitState::Closed;
                h.end = THROUGH;
            } else {
                continue;
            }
            settled.push(h.rule.clone());
        }
        for r in settled {
            self.commit(&r);
        }
        let released = self.released;
        self.found
            .retain(|h| h.state == HitState::Open || h.end > released);
        self.found.sort_by_key(|h| (h.start, h.end));
        // drop text no later scan reads (in large steps: draining moves the rest)
        let mut keep = self.scan_floor();
        for h in &self.found {
            if h.state == HitState::PemOpen {
                keep = keep.min(h.cursor);
            }
        }
        let mut dead = keep.saturating_sub(self.win_start);
        if dead >= 1024 && dead * 2 >= self.window.len() {
            while dead > 0 && !self.window.is_char_boundary(dead) {
                dead -= 1;
            }
            self.window.drain(..dead);
            self.win_start += dead;
        }
    }

    /// Records a match the monitor found at global `start..end`.
    fn add_hit(&mut self, rule: String, start: usize, end: usize, last: bool) {
        // found again (a private key the monitor ran to the end of the text scanned then is
        // found again with another end: the settled match covers it)
        if self.found.iter().any(|k| {
            k.start == start
                && k.rule == rule
                && (k.found_end == end || (k.state != HitState::Open && k.end >= end))
        }) {
            return;
        }
        let matched = self
            .window
            .get(start.saturating_sub(self.win_start)..end.saturating_sub(self.win_start))
            .unwrap_or("");
        let mut h = Held {
            rule,
            start,
            end,
            found_end: end,
            cursor: end,
            state: HitState::Closed,
        };
        if matched.starts_with("-----BEGIN ")
            && matched.contains("PRIVATE KEY")
            && private_key_end(matched.as_bytes()).is_none()
        {
            // the key's END line has not arrived (the monitor ran the match to the end of the
            // text so far): the key runs to its END line, searched for from where it may start
            h.state = HitState::PemOpen;
            h.end = THROUGH;
            h.cursor = end.saturating_sub(PEM_END_MAX + 9).max(start);
        } else if !last && end.saturating_add(GROW_MARGIN) > self.total {
            h.state = HitState::Open;
        }
        if h.state != HitState::Open {
            self.commit(&h.rule);
        }
        if h.state == HitState::Open || h.end > self.released {
            self.found.push(h);
        }
    }

    /// Ends private-key matches at their END line once it has arrived (at the end of the stream
    /// when `last` and none came).
    fn close_private_keys(&mut self, last: bool) {
        let bytes = self.window.as_bytes();
        for h in &mut self.found {
            if h.state != HitState::PemOpen {
                continue;
            }
            let from = h.cursor.max(self.win_start);
            let hay = bytes.get(from - self.win_start..).unwrap_or_default();
            match private_key_end(hay).map(|e| from + e) {
                Some(e) => {
                    h.end = e;
                    h.state = HitState::Closed;
                }
                None if last => h.state = HitState::Closed,
                // an END line may be arriving: search its possible start again next time
                None => h.cursor = self.total.saturating_sub(PEM_END_MAX + 9).max(from),
            }
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

    /// Rewrites the text of an event at global `s..e` with every match that overlaps it: the
    /// marker where a match starts, the rest of the match dropped (overlapping matches merge).
    fn redact_event(&mut self, ev: &mut Pending, s: usize, e: usize) {
        if !self.found.iter().any(|h| h.start < e && h.end > s) {
            return;
        }
        if ev.json.is_none() {
            ev.json = serde_json::from_str::<Value>(&event_data(&ev.raw)).ok();
        }
        let Some(v) = ev.json.as_mut() else {
            return;
        };
        let Some(t) = chunk_text(v) else {
            return;
        };
        let mut out = String::with_capacity(t.len());
        let mut pos = 0;
        let mut red_end = self.red_end;
        for h in self.found.iter().filter(|h| h.start < e && h.end > s) {
            let merged = red_end.is_some_and(|r| h.start <= r);
            // a private key whose END line has not arrived ends at `THROUGH` for now
            let done = h.end.min(e);
            red_end = Some(red_end.map_or(done, |r| r.max(done)));
            let mut hs = h.start.saturating_sub(s).min(t.len());
            let mut he = h.end.min(e).saturating_sub(s).min(t.len());
            while hs > 0 && !t.is_char_boundary(hs) {
                hs -= 1;
            }
            while he < t.len() && !t.is_char_boundary(he) {
                he += 1;
            }
            if he <= pos {
                continue;
            }
            if hs >= pos {
                out.push_str(t.get(pos..hs).unwrap_or_default());
                if h.start >= s && !merged {
                    out.push_str("[REDACTED:");
                    out.push_str(&h.rule);
                    out.push(']');
                }
            }
            pos = he;
        }
        out.push_str(t.get(pos..).unwrap_or_default());
        self.red_end = red_end;
        set_chunk_text(v, out);
        ev.dirty = true;
        self.redacted = true;
    }

    /// Sends the events whose text is settled: scanned, `holdback` characters before the end of
    /// the scanned text, and before any provisional match (everything when `all`).
    fn flush(&mut self, all: bool, out: &mut Vec<Bytes>) {
        let safe = if all || !matches!(self.action, Action::Redact | Action::Block) {
            THROUGH
        } else {
            self.found
                .iter()
                .filter(|h| h.state == HitState::Open)
                .map(|h| h.start)
                .fold(self.scanned.saturating_sub(self.holdback), usize::min)
        };
        while let Some(ev) = self.pending.front() {
            if ev.range.is_some_and(|(_, e)| e > safe) {
                break;
            }
            let Some(mut ev) = self.pending.pop_front() else {
                break;
            };
            if let Some((s, e)) = ev.range {
                self.released = e;
                if matches!(self.action, Action::Redact) {
                    self.redact_event(&mut ev, s, e);
                }
            }
            match (ev.dirty, ev.json) {
                (true, Some(v)) => out.push(Bytes::from(format!("data: {v}\n\n"))),
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
            r#"{"id":"x","choices":[{"index":0,"delta":{"role":"assistant","content":"a\"b"},"finish_reason":null},{"delta":{"content":"ignored"}}]}"#,
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
                r#" { "choices" : [ { "text" : "legacy" , "finish_reason" : "length" } , 5 ] } "#,
                Some("legacy"),
                Some("length"),
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
}
