//! The generated-text streams inside one SSE response. Every text-bearing field of every choice
//! (content, refusal, reasoning, each tool call's arguments, legacy function-call arguments,
//! logprob tokens) and every Responses API delta stream is its own stream for the detectors:
//! interleaved choices are never joined, so a secret in each is matched in each. A [`Chan`] holds
//! one stream's scan state: its text window, what was scanned and released, and its matches.

use crate::monitor::{private_key_end, Monitor, PEM_END_MAX};
use crate::prefix::{Prefixes, Start};
use serde_json::Value;
use std::borrow::Cow;

/// Bytes before the held-back text that are scanned again with it, so that rules anchored on a
/// keyword or a word boundary before a secret see what precedes it.
const CONTEXT: usize = 64;
/// A match ending this close to the end of the text scanned so far may still change (grow, or
/// gain an optional suffix) when more text arrives: it is provisional and holds text back.
const GROW_MARGIN: usize = 16;
/// Longest text a provisional match holds back; past it the match is taken to run to the end of
/// the stream (the rest is redacted, or the stream is blocked).
pub(crate) const MAX_HOLD: usize = 8 << 10;
/// End of a match that runs to the end of the stream.
pub(crate) const THROUGH: usize = usize::MAX;
/// Held back by prefix, a match still in progress this many bytes (or the hold-back, if
/// longer) after its start is taken as a candidate held the hold-back.
const MIN_REACH: usize = 96;
/// Text bytes a stream's buffer starts with (a short answer fits).
const TEXT_START: usize = 512;

/// The field of a chat or completions choice a stream is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    /// `delta.content`, or `text` when there is no content (completions).
    Content,
    /// `text` beside a `delta.content`.
    Text,
    /// `delta.content[i].text` (content sent as parts; `sub` is the part's position).
    ContentPart,
    /// `delta.audio.transcript`.
    AudioTranscript,
    /// `delta.refusal`.
    Refusal,
    /// `delta.reasoning_content`.
    ReasoningContent,
    /// `delta.reasoning`.
    Reasoning,
    /// `delta.tool_calls[i].function.arguments` (`sub` is the call's index).
    ToolArgs,
    /// `delta.function_call.arguments`.
    FunctionArgs,
    /// `logprobs.content[].token`.
    LogprobContent,
    /// `logprobs.refusal[].token`.
    LogprobRefusal,
    /// `logprobs.tokens[]` (legacy completions).
    LogprobTokens,
}

/// Which stream an event's text belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ChanKey {
    /// A field of a chat or completions choice.
    Choice {
        /// The choice's `index` (its position when it has none).
        choice: u64,
        /// The field.
        field: Field,
        /// The tool call's index for [`Field::ToolArgs`], else 0.
        sub: u64,
    },
    /// A Responses API (or transcription) event carrying a `delta` string, or (`logprobs`) the
    /// tokens of its `logprobs`.
    Event {
        /// The event's `type`.
        kind: String,
        /// `output_index`, `content_index`, `summary_index` (0 when absent).
        at: [u64; 3],
        /// The stream of the event's `logprobs` tokens.
        logprobs: bool,
    },
}

/// The stream the usual chunk's text belongs to (the first choice's content).
pub(crate) const MAIN: ChanKey = ChanKey::Choice {
    choice: 0,
    field: Field::Content,
    sub: 0,
};

impl ChanKey {
    /// The stream is logprob tokens: a match drops the event's `logprobs` instead of rewriting.
    pub(crate) fn is_logprobs(&self) -> bool {
        match self {
            Self::Choice { field, .. } => matches!(
                field,
                Field::LogprobContent | Field::LogprobRefusal | Field::LogprobTokens
            ),
            Self::Event { logprobs, .. } => *logprobs,
        }
    }
}

fn tokens_of(a: &[Value]) -> String {
    a.iter()
        .filter_map(|t| {
            t.get("token")
                .and_then(Value::as_str)
                .or_else(|| t.as_str())
        })
        .collect()
}

/// Event types whose `delta` is not text (base64 audio).
const NOT_TEXT_DELTAS: [&str; 1] = ["response.audio.delta"];

/// The texts an event carries, each with its stream. `false` when the event is a Responses or
/// other event without choices and without a `delta` string (read whole, not as a stream).
pub(crate) fn event_texts<'v>(v: &'v Value, out: &mut Vec<(ChanKey, Cow<'v, str>)>) -> bool {
    let s = |x: Option<&'v Value>| x.and_then(Value::as_str).map(Cow::Borrowed);
    if let Some(choices) = v.get("choices").and_then(Value::as_array) {
        for (pos, c) in choices.iter().enumerate() {
            let choice = c.get("index").and_then(Value::as_u64).unwrap_or(pos as u64);
            let key = |field, sub| ChanKey::Choice { choice, field, sub };
            let d = c.get("delta");
            let content = s(d.and_then(|d| d.get("content")));
            let has_content = content.is_some();
            if let Some(t) = content {
                out.push((key(Field::Content, 0), t));
            }
            if let Some(t) = s(c.get("text")) {
                let f = if has_content {
                    Field::Text
                } else {
                    Field::Content
                };
                out.push((key(f, 0), t));
            }
            let parts = d.and_then(|d| d.get("content")).and_then(Value::as_array);
            for (i, p) in parts.into_iter().flatten().enumerate() {
                if let Some(t) = s(p.get("text")) {
                    out.push((key(Field::ContentPart, i as u64), t));
                }
            }
            if let Some(t) = s(d.and_then(|d| d.pointer("/audio/transcript"))) {
                out.push((key(Field::AudioTranscript, 0), t));
            }
            for (name, f) in [
                ("refusal", Field::Refusal),
                ("reasoning_content", Field::ReasoningContent),
                ("reasoning", Field::Reasoning),
            ] {
                if let Some(t) = s(d.and_then(|d| d.get(name))) {
                    out.push((key(f, 0), t));
                }
            }
            let calls = d
                .and_then(|d| d.get("tool_calls"))
                .and_then(Value::as_array);
            for (tp, tc) in calls.into_iter().flatten().enumerate() {
                let sub = tc.get("index").and_then(Value::as_u64).unwrap_or(tp as u64);
                if let Some(t) = s(tc.pointer("/function/arguments")) {
                    out.push((key(Field::ToolArgs, sub), t));
                }
            }
            if let Some(t) = s(d.and_then(|d| d.pointer("/function_call/arguments"))) {
                out.push((key(Field::FunctionArgs, 0), t));
            }
            let lp = c.get("logprobs");
            for (name, f) in [
                ("content", Field::LogprobContent),
                ("refusal", Field::LogprobRefusal),
                ("tokens", Field::LogprobTokens),
            ] {
                if let Some(a) = lp.and_then(|l| l.get(name)).and_then(Value::as_array) {
                    out.push((key(f, 0), Cow::Owned(tokens_of(a))));
                }
            }
        }
        return true;
    }
    let kind = v.get("type").and_then(Value::as_str).unwrap_or_default();
    let Some(delta) = s(v.get("delta")) else {
        return false;
    };
    if NOT_TEXT_DELTAS.contains(&kind) {
        return true;
    }
    let n = |k: &str| v.get(k).and_then(Value::as_u64).unwrap_or(0);
    let at = [n("output_index"), n("content_index"), n("summary_index")];
    let key = |logprobs| ChanKey::Event {
        kind: kind.to_string(),
        at,
        logprobs,
    };
    out.push((key(false), delta));
    if let Some(a) = v.get("logprobs").and_then(Value::as_array) {
        out.push((key(true), Cow::Owned(tokens_of(a))));
    }
    true
}

/// Where a stream's text sits in an event: the string to rewrite, or (logprob streams) the
/// `logprobs` value to drop.
pub(crate) fn slot_mut<'v>(v: &'v mut Value, key: &ChanKey) -> Option<&'v mut Value> {
    let (choice, field, sub) = match key {
        ChanKey::Event { logprobs, .. } => {
            return v.get_mut(if *logprobs { "logprobs" } else { "delta" });
        }
        ChanKey::Choice { choice, field, sub } => (*choice, *field, *sub),
    };
    let c = v
        .get_mut("choices")?
        .as_array_mut()?
        .iter_mut()
        .enumerate()
        .find(|(pos, c)| {
            c.get("index")
                .and_then(Value::as_u64)
                .unwrap_or(*pos as u64)
                == choice
        })
        .map(|(_, c)| c)?;
    let content_is_text = c.pointer("/delta/content").is_some_and(Value::is_string);
    match field {
        Field::Content if content_is_text => c.pointer_mut("/delta/content"),
        Field::Content | Field::Text => c.get_mut("text"),
        Field::ContentPart => c
            .pointer_mut("/delta/content")?
            .get_mut(usize::try_from(sub).ok()?)?
            .get_mut("text"),
        Field::AudioTranscript => c.pointer_mut("/delta/audio/transcript"),
        Field::Refusal => c.pointer_mut("/delta/refusal"),
        Field::ReasoningContent => c.pointer_mut("/delta/reasoning_content"),
        Field::Reasoning => c.pointer_mut("/delta/reasoning"),
        Field::FunctionArgs => c.pointer_mut("/delta/function_call/arguments"),
        Field::ToolArgs => c
            .pointer_mut("/delta/tool_calls")?
            .as_array_mut()?
            .iter_mut()
            .enumerate()
            .find(|(pos, t)| {
                t.get("index")
                    .and_then(Value::as_u64)
                    .unwrap_or(*pos as u64)
                    == sub
            })
            .and_then(|(_, t)| t.pointer_mut("/function/arguments")),
        Field::LogprobContent | Field::LogprobRefusal | Field::LogprobTokens => {
            c.get_mut("logprobs")
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HitState {
    /// Ends at (or next to) the end of the text scanned so far: may still grow, shrink or
    /// vanish, so no text from its start on is released until a later scan settles it.
    Open,
    /// Final.
    Closed,
    /// A private-key BEGIN line whose END line has not arrived yet: everything from its start
    /// is redacted until the END line (to the end of the stream if none comes).
    PemOpen,
}

/// A match in a stream's offsets.
#[derive(Debug)]
pub(crate) struct Held {
    pub(crate) rule: String,
    pub(crate) start: usize,
    /// Exclusive end (`THROUGH`: the rest of the stream).
    pub(crate) end: usize,
    /// The end the monitor reported (with `rule` and `start`, what identifies a match found
    /// again by a later scan).
    found_end: usize,
    /// Where the search for the END line of a private key goes on.
    cursor: usize,
    pub(crate) state: HitState,
}

/// One stream's scan state (offsets are bytes of the stream's text from its start).
#[derive(Debug)]
pub(crate) struct Chan {
    pub(crate) key: ChanKey,
    /// The stream's text from offset `win_start` to `total`.
    window: String,
    win_start: usize,
    pub(crate) total: usize,
    /// Text before this offset has been scanned.
    pub(crate) scanned: usize,
    /// Text before this offset has been sent to the client.
    pub(crate) released: usize,
    /// Matches that may still change what is sent, sorted by start.
    pub(crate) found: Vec<Held>,
    /// End of the last redaction sent: a match starting at or before it is merged into it (no
    /// new marker), as whole-response redaction merges overlapping and adjacent hits.
    red_end: Option<usize>,
    /// Held back by where a match could start ([`Self::advance`]), not a fixed length.
    by_prefix: bool,
    /// Positions before this offset are classified (a match cannot start there, or it is in
    /// `cands`); the position at it may start a match still in progress.
    checked: usize,
    /// Positions not yet released where a detector's pattern matched, sorted.
    cands: Vec<(usize, Start)>,
}

impl Chan {
    pub(crate) fn new(key: ChanKey) -> Self {
        Self {
            key,
            window: String::new(),
            win_start: 0,
            total: 0,
            scanned: 0,
            released: 0,
            found: Vec::new(),
            red_end: None,
            by_prefix: false,
            checked: 0,
            cands: Vec::new(),
        }
    }

    /// Appends text; returns its range in the stream.
    pub(crate) fn add_text(&mut self, t: &str) -> (usize, usize) {
        if self.window.capacity() == 0 {
            // room for a short answer at once, instead of growing from 8 bytes in small events
            self.window.reserve(TEXT_START);
        }
        let start = self.total;
        self.total += t.len();
        self.window.push_str(t);
        (start, self.total)
    }

    /// Where the next scan starts: the monitor's overlap before the text scanned so far, and
    /// `CONTEXT` before the text not yet released and before provisional matches (scanned again
    /// to see whether they grew).
    fn scan_floor(&self, overlap: usize) -> usize {
        // held back by prefix, text is scanned only when a match starts in it, so `scanned`
        // may lag: no match starts before the text not released or a candidate
        let seen = if self.by_prefix {
            self.cands
                .first()
                .map_or(self.released, |c| c.0.min(self.released))
        } else {
            self.scanned
        };
        let mut from = seen
            .saturating_sub(overlap)
            .min(self.released.saturating_sub(CONTEXT));
        for h in &self.found {
            if h.state == HitState::Open {
                from = from.min(h.start.saturating_sub(CONTEXT));
            }
        }
        from.max(self.win_start)
    }

    /// Scans the text not scanned yet (with the overlap of [`Self::scan_floor`]) and settles
    /// what the new text decides; `last` when no more text comes. Rules of final matches are
    /// pushed to `commits`.
    pub(crate) fn scan(&mut self, m: &Monitor, last: bool, commits: &mut Vec<String>) {
        if m.is_empty() {
            self.scanned = self.total;
            return;
        }
        if self.total > self.scanned {
            let mut from = self.scan_floor(m.overlap_chars());
            while from < self.total && !self.window.is_char_boundary(from - self.win_start) {
                from += 1;
            }
            let hits = self
                .window
                .get(from - self.win_start..)
                .map(|w| m.scan(w))
                .unwrap_or_default();
            self.scanned = self.total;
            // provisional matches are found again by this scan, settled or gone
            self.found.retain(|h| h.state != HitState::Open);
            for h in hits {
                self.add_hit(h.rule, from + h.start, from + h.end, last, commits);
            }
        }
        self.close_private_keys(last);
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
            commits.push(h.rule.clone());
        }
        let released = self.released;
        self.found
            .retain(|h| h.state == HitState::Open || h.end > released);
        self.found.sort_by_key(|h| (h.start, h.end));
        self.drop_dead_text(m.overlap_chars());
    }

    /// Drops text no later scan reads (in large steps: draining moves the rest).
    fn drop_dead_text(&mut self, overlap: usize) {
        let mut keep = self.scan_floor(overlap);
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

    /// Records a match the monitor found at `start..end`.
    fn add_hit(
        &mut self,
        rule: String,
        start: usize,
        end: usize,
        last: bool,
        commits: &mut Vec<String>,
    ) {
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
            commits.push(h.rule.clone());
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

    /// The end of the text that may be sent: before any provisional match, and `holdback`
    /// bytes before the end of the scanned text (or, held back by prefix, before where a match
    /// may be in progress and a leak-rule candidate less than `holdback` bytes old).
    pub(crate) fn safe(&self, holdback: usize) -> usize {
        let limit = if self.by_prefix {
            self.prefix_limit(holdback)
        } else {
            self.scanned.saturating_sub(holdback)
        };
        self.found
            .iter()
            .filter(|h| h.state == HitState::Open)
            .map(|h| h.start)
            .fold(limit, usize::min)
    }

    /// Held back by prefix: the first position where a match may be in progress, and the
    /// loose candidates (leak-rule matches, which depend on text around them) that are less
    /// than `holdback` bytes old.
    fn prefix_limit(&self, holdback: usize) -> usize {
        self.cands
            .iter()
            .filter(|&&(q, k)| k == Start::Loose && q.saturating_add(holdback) > self.total)
            .map(|c| c.0)
            .fold(self.checked, usize::min)
    }

    /// Holds the stream back by prefix: classifies the positions not classified yet (on the
    /// text as read, and as the leak rules read it) and scans the text when a candidate is
    /// about to go out. [`Self::safe`] then says what may be sent.
    pub(crate) fn advance(
        &mut self,
        m: &Monitor,
        p: &Prefixes,
        holdback: usize,
        commits: &mut Vec<String>,
    ) {
        self.by_prefix = true;
        if self.scanned < self.total && self.found.iter().any(|h| h.state == HitState::PemOpen) {
            // a private key's END line may have arrived: what follows it is not redacted
            self.scan(m, false, commits);
        }
        let released = self.released;
        self.cands.retain(|c| c.0 >= released);
        let from = self.checked.max(released);
        if from < self.total {
            let ws = self.win_start;
            let hay = self.window.as_bytes();
            let mut found = Vec::new();
            let reach = holdback.max(MIN_REACH);
            let mut open = p.first_open(hay, from - ws, reach, &mut found);
            if let Some(l) = m.leak_rules() {
                // what precedes is read for markers, a boundary and the punctuation blanked
                let base = (from - ws).saturating_sub(CONTEXT);
                if let Cow::Owned(b) = l.prepare(hay.get(base..).unwrap_or_default()) {
                    let at = from - ws - base;
                    let n = found.len();
                    open = open.min(base + p.first_open(&b, at, reach, &mut found));
                    for c in found.get_mut(n..).unwrap_or_default() {
                        c.0 += base;
                    }
                }
            }
            found.sort_unstable();
            found.dedup_by(|a, b| {
                a.0 == b.0 && {
                    b.1 = b.1.max(a.1);
                    true
                }
            });
            self.cands.extend(
                found
                    .into_iter()
                    .filter(|c| c.0 < open)
                    .map(|(q, k)| (q + ws, k)),
            );
            self.checked = ws + open;
        }
        let limit = self.prefix_limit(holdback);
        let due = self.cands.iter().any(|c| c.0 < limit);
        if due && self.scanned < self.total {
            self.scan(m, false, commits);
        } else {
            self.drop_dead_text(m.overlap_chars());
        }
    }

    /// Whether a match overlaps the text at `s..e`.
    pub(crate) fn overlaps(&self, s: usize, e: usize) -> bool {
        self.found.iter().any(|h| h.start < e && h.end > s)
    }

    /// `t` (the text at `s..e`) with every match that overlaps it rewritten: the marker where a
    /// match starts, the rest of the match dropped (overlapping matches merge).
    pub(crate) fn redact_text(&mut self, t: &str, s: usize, e: usize) -> String {
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
        out
    }
}
