//! Server-sent-events filter for streamed completions: splits the upstream byte stream into
//! events across chunk boundaries, monitors the generated text, holds back a window of text so
//! a match split across chunks can be redacted or blocked before any of it reaches the client,
//! rounds logprobs, and collects usage and finish reasons.

use crate::config::{Action, HardeningConfig};
use crate::monitor::{Hit, Monitor};
use bytes::{Bytes, BytesMut};
use serde::de::{Deserializer, IgnoredAny, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;
use std::borrow::Cow;
use std::collections::{HashSet, VecDeque};

/// The error event sent when a stream is blocked, followed by `[DONE]`.
pub const BLOCK_EVENT: &str = "data: {\"error\":{\"message\":\"response blocked by the gateway's output policy\",\"type\":\"output_blocked\",\"param\":null,\"code\":\"output_blocked\"}}\n\ndata: [DONE]\n\n";

/// Largest SSE event accepted from the upstream.
const MAX_EVENT: usize = 4 << 20;
/// Most generated text kept for hashing and drift.
const MAX_TEXT: usize = 4 << 20;

struct Pending {
    raw: Bytes,
    /// The parsed event, kept only when it was rewritten (logprobs) or is being redacted; other
    /// events are forwarded as `raw` and parsed again only if a later match needs them changed.
    json: Option<Value>,
    /// Global byte range of this event's text in the generated output.
    range: Option<(usize, usize)>,
    dirty: bool,
}

/// Per-stream state.
pub struct SseFilter<'a> {
    monitor: &'a Monitor,
    action: Action,
    hardening: Option<&'a HardeningConfig>,
    holdback: usize,
    /// Forward bytes as received (monitor only); set when nothing may need rewriting.
    passthrough: bool,
    buf: BytesMut,
    pending: VecDeque<Pending>,
    window: String,
    win_start: usize,
    total: usize,
    seen: HashSet<(String, usize)>,
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
}

fn event_end(buf: &[u8]) -> Option<usize> {
    let a = memchr::memmem::find(buf, b"\n\n").map(|i| i + 2);
    // a CRLF terminator that ends first lies before the end of the LF one: search only there
    let upto = a.unwrap_or(buf.len()).min(buf.len());
    let b = memchr::memmem::find(buf.get(..upto).unwrap_or(buf), b"\r\n\r\n").map(|i| i + 4);
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    }
}

/// The data of an event: its `data:` lines joined by newlines (borrowed for the usual single
/// line of valid UTF-8).
fn event_data(raw: &[u8]) -> Cow<'_, str> {
    let text = String::from_utf8_lossy(raw);
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
    usage: Option<UsageView>,
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
    delta: Option<DeltaView<'a>>,
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
                let first = seq.next_element::<ChoiceView<'a>>()?;
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

fn chunk_fields(data: &str) -> Option<ChunkFields<'_>> {
    if !data.trim_start().starts_with('{') {
        return None;
    }
    let v: ChunkView<'_> = serde_json::from_str(data).ok()?;
    let usage = v.usage.map(|u| {
        (
            u.prompt_tokens.unwrap_or(0),
            u.completion_tokens.unwrap_or(0),
        )
    });
    let (finish, text) = match v.choices.and_then(|c| c.0) {
        Some(c) => (c.finish_reason, c.delta.and_then(|d| d.content).or(c.text)),
        None => (None, None),
    };
    Some((usage, finish, text))
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
        let rewrite = matches!(action, Action::Redact | Action::Block) || hardening.is_some();
        Self {
            monitor,
            action,
            hardening,
            holdback: if matches!(action, Action::Redact | Action::Block) {
                holdback
            } else {
                0
            },
            passthrough: !rewrite,
            buf: BytesMut::new(),
            pending: VecDeque::new(),
            window: String::new(),
            win_start: 0,
            total: 0,
            seen: HashSet::new(),
            hits: Vec::new(),
            text: String::new(),
            finish: None,
            usage: None,
            blocked: false,
            redacted: false,
            oversized: false,
        }
    }

    /// Feeds upstream bytes; returns what to send to the client now.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<Bytes> {
        let mut out = Vec::new();
        if self.blocked {
            return out;
        }
        if self.passthrough {
            out.push(Bytes::copy_from_slice(chunk));
        }
        self.buf.extend_from_slice(chunk);
        let mut done = false;
        while let Some(end) = event_end(&self.buf) {
            let raw = self.buf.split_to(end).freeze();
            done |= self.event(raw);
        }
        if self.buf.len() > MAX_EVENT {
            self.oversized = true;
            self.blocked = true;
            out.push(Bytes::from_static(BLOCK_EVENT.as_bytes()));
            return out;
        }
        self.scan();
        if self.blocked {
            self.pending.clear();
            out.push(Bytes::from_static(BLOCK_EVENT.as_bytes()));
            return out;
        }
        self.flush(done, &mut out);
        out
    }

    /// End of the upstream stream: flushes everything held back.
    pub fn finish(&mut self) -> Vec<Bytes> {
        let mut out = Vec::new();
        if self.blocked {
            return out;
        }
        if !self.buf.is_empty() {
            let rest = std::mem::take(&mut self.buf);
            if !self.passthrough {
                out.push(rest.freeze());
            }
        }
        self.flush(true, &mut out);
        out
    }

    fn event(&mut self, raw: Bytes) -> bool {
        let data = event_data(&raw);
        let mut json: Option<Value> = None;
        let mut dirty = false;
        let mut range = None;
        let is_done = data.trim() == "[DONE]";
        let fields = if is_done || data.is_empty() || self.hardening.is_some() {
            None
        } else {
            chunk_fields(&data)
        };
        if let Some((usage, finish, text)) = fields {
            if usage.is_some() {
                self.usage = usage;
            }
            if let Some(f) = finish {
                self.finish = Some(f.into_owned());
            }
            if let Some(t) = text.filter(|t| !t.is_empty()) {
                range = Some(self.add_text(&t));
            }
        } else if !is_done && !data.is_empty() {
            if let Ok(mut v) = serde_json::from_str::<Value>(&data) {
                if let Some(u) = v.get("usage").filter(|u| !u.is_null()) {
                    let g = |k: &str| u.get(k).and_then(Value::as_u64).unwrap_or(0);
                    self.usage = Some((g("prompt_tokens"), g("completion_tokens")));
                }
                if let Some(f) = v
                    .pointer("/choices/0/finish_reason")
                    .and_then(Value::as_str)
                {
                    self.finish = Some(f.to_string());
                }
                if let Some(h) = self.hardening {
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
        if !self.passthrough {
            self.pending.push_back(Pending {
                raw,
                json,
                range,
                dirty,
            });
        }
        is_done
    }

    /// Appends generated text; returns its global byte range.
    fn add_text(&mut self, t: &str) -> (usize, usize) {
        let start = self.total;
        self.total += t.len();
        self.window.push_str(t);
        if self.text.len() + t.len() <= MAX_TEXT {
            self.text.push_str(t);
        }
        (start, self.total)
    }

    fn scan(&mut self) {
        if self.monitor.is_empty() || self.window.is_empty() {
            return;
        }
        let hits: Vec<Hit> = self.monitor.scan(&self.window);
        let mut fresh = Vec::new();
        for h in hits {
            let g = (h.rule.clone(), self.win_start + h.start);
            if self.seen.insert(g) {
                fresh.push(Hit {
                    rule: h.rule,
                    start: self.win_start + h.start,
                    end: self.win_start + h.end,
                });
            }
        }
        for h in &fresh {
            if !self.hits.contains(&h.rule) {
                self.hits.push(h.rule.clone());
            }
        }
        if fresh.is_empty() {
            return;
        }
        match self.action {
            Action::Block => self.blocked = true,
            Action::Redact if !self.passthrough => {
                for ev in self.pending.iter_mut() {
                    let Some((s, e)) = ev.range else {
                        continue;
                    };
                    if !fresh.iter().any(|h| h.start < e && h.end > s) {
                        continue;
                    }
                    if ev.json.is_none() {
                        ev.json = serde_json::from_str::<Value>(&event_data(&ev.raw)).ok();
                    }
                    let Some(v) = ev.json.as_mut() else {
                        continue;
                    };
                    let Some(t) = chunk_text(v).map(str::to_string) else {
                        continue;
                    };
                    let starts: Vec<bool> = fresh
                        .iter()
                        .filter(|h| h.start < e && h.end > s)
                        .map(|h| h.start >= s)
                        .collect();
                    let local: Vec<Hit> = fresh
                        .iter()
                        .filter(|h| h.start < e && h.end > s)
                        .map(|h| Hit {
                            rule: h.rule.clone(),
                            start: h.start.saturating_sub(s),
                            end: h.end.min(e) - s,
                        })
                        .collect();
                    if local.is_empty() {
                        continue;
                    }
                    let mut local = local;
                    // snap to char boundaries of this chunk's text
                    for h in &mut local {
                        while h.start > 0 && !t.is_char_boundary(h.start) {
                            h.start -= 1;
                        }
                        while h.end < t.len() && !t.is_char_boundary(h.end) {
                            h.end += 1;
                        }
                    }
                    // the marker goes where the match starts; later chunks of the same match
                    // lose their part of it
                    let mut out = String::with_capacity(t.len());
                    let mut pos = 0;
                    for (h, starts_here) in local.iter().zip(starts.iter()) {
                        if h.start < pos || h.end > t.len() {
                            continue;
                        }
                        out.push_str(&t[pos..h.start]);
                        if *starts_here {
                            out.push_str(&format!("[REDACTED:{}]", h.rule));
                        }
                        pos = h.end;
                    }
                    out.push_str(&t[pos..]);
                    set_chunk_text(v, out);
                    ev.dirty = true;
                    self.redacted = true;
                }
            }
            _ => {}
        }
        // keep only the overlap needed to see a pattern that straddles the next chunk
        let keep = self.monitor.overlap_chars().max(self.holdback);
        if self.window.len() > 2 * keep {
            let mut cut = self.window.len() - keep;
            while !self.window.is_char_boundary(cut) {
                cut -= 1;
            }
            self.window.drain(..cut);
            self.win_start += cut;
        }
    }

    fn flush(&mut self, all: bool, out: &mut Vec<Bytes>) {
        let safe_until = self.total.saturating_sub(self.holdback);
        while let Some(ev) = self.pending.front() {
            let ready = all || ev.range.is_none_or(|(_, e)| e <= safe_until);
            if !ready {
                break;
            }
            let Some(ev) = self.pending.pop_front() else {
                break;
            };
            match (ev.dirty, ev.json) {
                (true, Some(v)) => out.push(Bytes::from(format!("data: {v}\n\n"))),
                _ => out.push(ev.raw),
            }
        }
    }
}

/// Joins the pieces a [`SseFilter`] returns for one upstream read into one buffer, so the client
/// side writes one chunk per read instead of one per event (`None` when there is nothing).
pub fn coalesce(mut parts: Vec<Bytes>) -> Option<Bytes> {
    match parts.len() {
        0 => None,
        1 => parts.pop(),
        _ => {
            let mut b = BytesMut::with_capacity(parts.iter().map(Bytes::len).sum());
            for p in &parts {
                b.extend_from_slice(p);
            }
            Some(b.freeze())
        }
    }
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
            "[1]",
        ] {
            assert!(chunk_fields(data).is_none(), "{data}");
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
        assert!(coalesce(Vec::new()).is_none());
        assert_eq!(
            coalesce(vec![Bytes::from_static(b"a"), Bytes::from_static(b"bc")]),
            Some(Bytes::from_static(b"abc"))
        );
    }
}
