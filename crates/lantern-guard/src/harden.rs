//! Request hardening against model extraction (logit_bias / logprob probing, prompt scoring,
//! many samples per call) and rounding or noising of the logprobs a response returns; plus
//! borrowed views of request and response bodies for the common case where nothing is changed.

use crate::config::{FieldPolicy, HardeningConfig};
use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::borrow::Cow;

/// What hardening did to a request.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Hardened {
    /// Human-readable list of changes (`stripped logit_bias`, `capped top_logprobs 20->5`).
    pub changes: Vec<String>,
    /// Set when the request must be refused (400), with the reason.
    pub reject: Option<String>,
    /// The request carried `logit_bias` together with logprobs (the Carlini et al. probe).
    pub logit_probe: bool,
    /// The request asks for logprobs (so the response must be rounded).
    pub wants_logprobs: bool,
}

fn truthy(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) | Some(Value::Bool(false)) => false,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
        Some(_) => true,
    }
}

fn apply(obj: &mut Map<String, Value>, field: &str, policy: FieldPolicy, out: &mut Hardened) {
    if !obj.contains_key(field) || obj.get(field).is_some_and(Value::is_null) {
        return;
    }
    match policy {
        FieldPolicy::Allow => {}
        FieldPolicy::Strip => {
            obj.remove(field);
            out.changes.push(format!("stripped {field}"));
        }
        FieldPolicy::Reject => {
            if out.reject.is_none() {
                out.reject = Some(format!(
                    "the `{field}` parameter is not allowed by this gateway"
                ));
            }
        }
    }
}

fn cap(obj: &mut Map<String, Value>, field: &str, max: u64, out: &mut Hardened) {
    if let Some(v) = obj.get_mut(field) {
        if let Some(n) = v.as_u64() {
            if n > max {
                *v = Value::from(max);
                out.changes.push(format!("capped {field} {n}->{max}"));
            }
        }
    }
}

/// Hardens a JSON request body in place.
pub fn harden_request(body: &mut Value, cfg: &HardeningConfig) -> Hardened {
    let mut out = Hardened::default();
    let Some(obj) = body.as_object_mut() else {
        return out;
    };
    let has_bias = obj
        .get("logit_bias")
        .is_some_and(|v| v.as_object().is_some_and(|m| !m.is_empty()));
    // `logprobs` is a bool in chat and an integer (top-k) in legacy completions
    out.wants_logprobs = truthy(obj.get("logprobs")) || truthy(obj.get("top_logprobs"));
    out.logit_probe = has_bias && out.wants_logprobs;
    if out.logit_probe
        && cfg.forbid_logit_bias_with_logprobs
        && cfg.logit_bias == FieldPolicy::Allow
    {
        out.reject = Some("`logit_bias` cannot be combined with `logprobs` on this gateway".into());
    }
    apply(obj, "logit_bias", cfg.logit_bias, &mut out);
    for f in ["echo", "prompt_logprobs", "allowed_token_ids"] {
        apply(obj, f, cfg.scoring_fields, &mut out);
    }
    cap(obj, "top_logprobs", cfg.max_top_logprobs, &mut out);
    if obj.get("logprobs").is_some_and(Value::is_u64) {
        cap(obj, "logprobs", cfg.max_top_logprobs, &mut out);
    }
    cap(obj, "n", cfg.max_n, &mut out);
    cap(obj, "best_of", cfg.max_n, &mut out);
    out
}

/// SplitMix64, seeded from the OS, for logprob noise.
struct Rng(u64);

impl Rng {
    fn new() -> Self {
        let mut b = [0u8; 8];
        let _ = getrandom::fill(&mut b);
        Self(u64::from_le_bytes(b))
    }
    fn next_f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        ((z >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    fn gauss(&mut self) -> f64 {
        let (u1, u2) = (self.next_f64(), self.next_f64());
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

fn round_numbers(v: &mut Value, scale: Option<f64>, noise: f64, rng: &mut Rng, changed: &mut bool) {
    match v {
        Value::Number(n) if n.is_f64() => {
            if let Some(mut f) = n.as_f64() {
                if noise > 0.0 {
                    f = (f + noise * rng.gauss()).min(0.0);
                }
                if let Some(s) = scale {
                    f = (f * s).round() / s;
                }
                if let Some(nn) = serde_json::Number::from_f64(f) {
                    *n = nn;
                    *changed = true;
                }
            }
        }
        Value::Array(a) => a
            .iter_mut()
            .for_each(|x| round_numbers(x, scale, noise, rng, changed)),
        Value::Object(o) => {
            for (k, x) in o.iter_mut() {
                // token byte arrays and offsets are integers anyway; keep them explicit
                if k != "bytes" && k != "text_offset" {
                    round_numbers(x, scale, noise, rng, changed);
                }
            }
        }
        _ => {}
    }
}

/// Rounds (and optionally noises) every float under a `logprobs` key of a response (chat,
/// completions and streaming chunk shapes). Returns true when something changed.
pub fn round_logprobs(v: &mut Value, cfg: &HardeningConfig) -> bool {
    if cfg.logprob_decimals.is_none() && cfg.logprob_noise <= 0.0 {
        return false;
    }
    let scale = cfg.logprob_decimals.map(|d| 10f64.powi(d.min(12) as i32));
    let mut rng = Rng::new();
    let mut changed = false;
    fn walk(v: &mut Value, scale: Option<f64>, noise: f64, rng: &mut Rng, changed: &mut bool) {
        match v {
            Value::Object(o) => {
                for (k, x) in o.iter_mut() {
                    if k == "logprobs" {
                        round_numbers(x, scale, noise, rng, changed);
                    } else {
                        walk(x, scale, noise, rng, changed);
                    }
                }
            }
            Value::Array(a) => a
                .iter_mut()
                .for_each(|x| walk(x, scale, noise, rng, changed)),
            _ => {}
        }
    }
    walk(v, scale, cfg.logprob_noise, &mut rng, &mut changed);
    changed
}

// Borrowed views. The gateway reads a handful of fields of each body; parsing a whole body into
// a `serde_json::Value` (a map per object, a `String` per string) and serialising it again
// dominated its own CPU time. The views below borrow strings from the body and skip everything
// else. They are deliberately strict: any shape they do not expect (a field of another type,
// a duplicate field, a field hardening would touch) makes them fail, and the caller then takes
// the `Value` path exactly as before, so both paths agree on every input.

fn starts_object(body: &[u8]) -> bool {
    body.iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'{')
}

/// A JSON object read as `T`. A derived struct also accepts an array (its fields by position),
/// which a `Value` lookup by key would not see; this wrapper accepts objects only.
pub(crate) struct Obj<T>(pub(crate) T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Obj<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map)).map(Obj)
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<u64>>, D::Error> {
    Option::<u64>::deserialize(d).map(Some)
}

/// A string, or nothing for any other JSON value (which is skipped).
struct AnyStr<'a>(Option<Cow<'a, str>>);

struct AnyStrVisitor;

impl<'de> Visitor<'de> for AnyStrVisitor {
    type Value = AnyStr<'de>;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(AnyStr(Some(Cow::Borrowed(v))))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(AnyStr(Some(Cow::Owned(v.to_string()))))
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(AnyStr(Some(Cow::Owned(v))))
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(AnyStr(None))
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(AnyStr(None))
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(AnyStr(None))
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(AnyStr(None))
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(AnyStr(None))
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(AnyStr(None))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(AnyStr(None))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(AnyStr(None))
    }
}

impl<'de> Deserialize<'de> for AnyStr<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(AnyStrVisitor)
    }
}

/// The strings a `prompt`/`input` field or a message `content` contributes to the prompt text:
/// a string; the strings of an array (`prompt`/`input`); the `text` strings of an array of
/// part objects (`content`). Anything else contributes nothing.
struct Texts<'a> {
    parts: Vec<Cow<'a, str>>,
}

struct TextsVisitor {
    /// Elements of an array are part objects (`content`) rather than strings.
    parts: bool,
}

/// The `text` string of a content part object (the last one if repeated, as a map would keep).
struct PartText<'a>(Option<Cow<'a, str>>);

impl<'de> Deserialize<'de> for PartText<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = PartText<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut text = None;
                while let Some(k) = map.next_key::<Cow<'de, str>>()? {
                    if k == "text" {
                        text = map.next_value::<AnyStr<'de>>()?.0;
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(PartText(text))
            }
            fn visit_borrowed_str<E>(self, _: &'de str) -> Result<Self::Value, E> {
                Ok(PartText(None))
            }
            fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
                Ok(PartText(None))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(PartText(None))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
                Ok(PartText(None))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
                Ok(PartText(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok(PartText(None))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(PartText(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(PartText(None))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Visitor<'de> for TextsVisitor {
    type Value = Texts<'de>;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Texts {
            parts: vec![Cow::Borrowed(v)],
        })
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Texts {
            parts: vec![Cow::Owned(v.to_string())],
        })
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Texts { parts: Vec::new() })
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Texts { parts: Vec::new() })
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Texts { parts: Vec::new() })
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Texts { parts: Vec::new() })
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Texts { parts: Vec::new() })
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Texts { parts: Vec::new() })
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut parts = Vec::new();
        if self.parts {
            while let Some(p) = seq.next_element::<PartText<'de>>()? {
                parts.extend(p.0);
            }
        } else {
            while let Some(p) = seq.next_element::<AnyStr<'de>>()? {
                parts.extend(p.0);
            }
        }
        Ok(Texts { parts })
    }
}

fn texts_of<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Texts<'de>>, D::Error> {
    d.deserialize_any(TextsVisitor { parts: false }).map(Some)
}

fn content_of<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Texts<'de>>, D::Error> {
    d.deserialize_any(TextsVisitor { parts: true }).map(Some)
}

#[derive(Deserialize)]
struct MessageView<'a> {
    #[serde(borrow, default, deserialize_with = "content_of")]
    content: Option<Texts<'a>>,
}

/// The fields of an inference request the gateway reads, borrowed from the body.
#[derive(Deserialize)]
struct RequestFields<'a> {
    #[serde(borrow, default)]
    model: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    messages: Option<Vec<Obj<MessageView<'a>>>>,
    #[serde(borrow, default, deserialize_with = "texts_of")]
    prompt: Option<Texts<'a>>,
    #[serde(borrow, default, deserialize_with = "texts_of")]
    input: Option<Texts<'a>>,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    max_completion_tokens: Option<Option<u64>>,
    #[serde(default, deserialize_with = "present")]
    max_tokens: Option<Option<u64>>,
    #[serde(default)]
    n: Option<u64>,
    // present (and not null) means the request needs the `Value` path
    #[serde(default)]
    stream_options: Option<IgnoredAny>,
    #[serde(default)]
    logit_bias: Option<IgnoredAny>,
    #[serde(default)]
    logprobs: Option<IgnoredAny>,
    #[serde(default)]
    top_logprobs: Option<IgnoredAny>,
    #[serde(default)]
    echo: Option<IgnoredAny>,
    #[serde(default)]
    prompt_logprobs: Option<IgnoredAny>,
    #[serde(default)]
    allowed_token_ids: Option<IgnoredAny>,
    #[serde(default)]
    best_of: Option<IgnoredAny>,
}

/// What the gateway needs from a request that hardening leaves unchanged.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestView<'a> {
    /// `model`.
    pub model: Option<Cow<'a, str>>,
    /// The prompt strings in the order of [`crate::proxy::prompt_text`].
    pub texts: Vec<Cow<'a, str>>,
    /// `stream` is true.
    pub stream: bool,
    /// `max_completion_tokens`, else `max_tokens` (a present `null` stops the fallback).
    pub max_tokens: Option<u64>,
    /// `n`.
    pub n: Option<u64>,
}

/// Reads a request body without building a `Value`, when it is a JSON object that
/// [`harden_request`] would not change (no logprob, logit_bias or scoring fields, `n` within
/// the cap) and that has no `stream_options`. `None` means: use the `Value` path.
pub fn request_view<'a>(body: &'a [u8], cfg: &HardeningConfig) -> Option<RequestView<'a>> {
    if !starts_object(body) {
        return None;
    }
    let f: RequestFields<'a> = serde_json::from_slice(body).ok()?;
    let needs_value = f.stream_options.is_some()
        || f.logit_bias.is_some()
        || f.logprobs.is_some()
        || f.top_logprobs.is_some()
        || f.echo.is_some()
        || f.prompt_logprobs.is_some()
        || f.allowed_token_ids.is_some()
        || f.best_of.is_some()
        || f.n.is_some_and(|n| n > cfg.max_n);
    if needs_value {
        return None;
    }
    let mut texts = Vec::new();
    for m in f.messages.into_iter().flatten() {
        texts.extend(m.0.content.into_iter().flat_map(|c| c.parts));
    }
    texts.extend(f.prompt.into_iter().flat_map(|t| t.parts));
    texts.extend(f.input.into_iter().flat_map(|t| t.parts));
    Some(RequestView {
        model: f.model,
        texts,
        stream: f.stream.unwrap_or(false),
        max_tokens: match f.max_completion_tokens {
            Some(v) => v,
            None => f.max_tokens.flatten(),
        },
        n: f.n,
    })
}

/// Inserts `"stream_options":{"include_usage":true}` as the first member of a JSON object
/// (the body is known to be an object without `stream_options`).
pub fn with_include_usage(body: &[u8]) -> Option<Vec<u8>> {
    let open = body.iter().position(|b| *b == b'{')?;
    let rest = body.get(open + 1..)?;
    let empty = rest
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'}');
    let mut out = Vec::with_capacity(body.len() + 48);
    out.extend_from_slice(body.get(..=open)?);
    out.extend_from_slice(br#""stream_options":{"include_usage":true}"#);
    if !empty {
        out.push(b',');
    }
    out.extend_from_slice(rest);
    Some(out)
}

#[derive(Deserialize)]
struct ResponseFields<'a> {
    #[serde(borrow, default)]
    choices: Option<Vec<Obj<ChoiceFields<'a>>>>,
    #[serde(default)]
    usage: Option<Obj<UsageFields>>,
}

#[derive(Deserialize)]
struct ChoiceFields<'a> {
    #[serde(borrow, default)]
    message: Option<Obj<OutMessage<'a>>>,
    // present (and not null): the choice carries more text, read through the `Value` path
    #[serde(default)]
    logprobs: Option<IgnoredAny>,
    #[serde(borrow, default)]
    text: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    finish_reason: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct OutMessage<'a> {
    #[serde(borrow, default)]
    content: Option<Cow<'a, str>>,
    // present (and not null): more generated text, read through the `Value` path
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

impl OutMessage<'_> {
    /// Only `content` carries text.
    fn content_only(&self) -> bool {
        self.refusal.is_none()
            && self.reasoning_content.is_none()
            && self.reasoning.is_none()
            && self.tool_calls.is_none()
            && self.function_call.is_none()
            && self.audio.is_none()
    }
}

#[derive(Deserialize)]
struct UsageFields {
    #[serde(default)]
    prompt_tokens: Option<u64>,
    #[serde(default)]
    completion_tokens: Option<u64>,
    #[serde(default)]
    total_tokens: Option<u64>,
}

/// One choice of a buffered response: its generated text and finish reason.
#[derive(Debug, Clone, PartialEq)]
pub struct ChoiceView<'a> {
    /// `message.content` when a string, else `text`.
    pub text: Option<Cow<'a, str>>,
    /// `finish_reason`.
    pub finish: Option<Cow<'a, str>>,
}

/// What the gateway reads from a buffered completion.
#[derive(Debug, Clone, PartialEq)]
pub struct ResponseView<'a> {
    /// The choices in order.
    pub choices: Vec<ChoiceView<'a>>,
    /// `usage.prompt_tokens`.
    pub prompt_tokens: Option<u64>,
    /// `usage.completion_tokens`, else `total_tokens - prompt_tokens`.
    pub completion_tokens: Option<u64>,
}

/// Reads a buffered response body without building a `Value` (`None`: use the `Value` path).
pub fn response_view(body: &[u8]) -> Option<ResponseView<'_>> {
    if !starts_object(body) {
        return None;
    }
    let f: ResponseFields<'_> = serde_json::from_slice(body).ok()?;
    let only_text = f.choices.iter().flatten().all(|Obj(c)| {
        c.logprobs.is_none() && c.message.as_ref().is_none_or(|m| m.0.content_only())
    });
    if !only_text {
        return None;
    }
    let (pt, ct) = match f.usage.as_ref().map(|u| &u.0) {
        Some(u) => (
            u.prompt_tokens,
            u.completion_tokens.or_else(|| {
                u.total_tokens
                    .map(|t| t.saturating_sub(u.prompt_tokens.unwrap_or(0)))
            }),
        ),
        None => (None, None),
    };
    Some(ResponseView {
        choices: f
            .choices
            .into_iter()
            .flatten()
            .map(|Obj(c)| ChoiceView {
                text: c.message.and_then(|m| m.0.content).or(c.text),
                finish: c.finish_reason,
            })
            .collect(),
        prompt_tokens: pt,
        completion_tokens: ct,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strips_caps_and_rejects() {
        let cfg = HardeningConfig::default();
        let mut b = json!({"model":"m","logit_bias":{"50256":100},"logprobs":true,"top_logprobs":20,"n":9,"echo":true});
        let h = harden_request(&mut b, &cfg);
        assert!(h.logit_probe && h.wants_logprobs && h.reject.is_none());
        assert_eq!(
            b,
            json!({"model":"m","logprobs":true,"top_logprobs":5,"n":4})
        );
        assert_eq!(
            h.changes,
            vec![
                "stripped logit_bias",
                "stripped echo",
                "capped top_logprobs 20->5",
                "capped n 9->4"
            ]
        );
        let mut cfg2 = cfg.clone();
        cfg2.logit_bias = FieldPolicy::Allow;
        let mut b = json!({"logit_bias":{"1":5},"logprobs":3});
        assert!(harden_request(&mut b, &cfg2)
            .reject
            .is_some_and(|r| r.contains("cannot be combined")));
        let mut b = json!({"logit_bias":{"1":5}});
        assert!(harden_request(&mut b, &cfg2).reject.is_none());
        cfg2.logit_bias = FieldPolicy::Reject;
        assert!(harden_request(&mut b, &cfg2).reject.is_some());
    }

    #[test]
    fn rounds_logprobs_only() {
        let cfg = HardeningConfig::default();
        let mut r = json!({"choices":[{"message":{"content":"hi"},"logprobs":{"content":[
            {"token":"hi","logprob":-0.123456,"bytes":[104,105],"top_logprobs":[{"token":"hi","logprob":-0.123456},{"token":"yo","logprob":-2.56789}]}]}}],
            "usage":{"prompt_tokens":3},"temperature":0.123456});
        assert!(round_logprobs(&mut r, &cfg));
        let lp = &r["choices"][0]["logprobs"]["content"][0];
        assert_eq!(lp["logprob"], json!(-0.12));
        assert_eq!(lp["top_logprobs"][1]["logprob"], json!(-2.57));
        assert_eq!(lp["bytes"], json!([104, 105]));
        assert_eq!(r["temperature"], json!(0.123456));
    }

    /// The borrowed request view must read exactly what the `Value` path reads, or decline.
    #[test]
    fn request_view_agrees_with_the_value_path() {
        let cfg = HardeningConfig::default();
        let bodies = [
            r#"{"model":"m","messages":[{"role":"user","content":"hi \"there\"\n"}],"max_tokens":7}"#,
            r#" {"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"image_url","image_url":{"url":"x"}},{"text":"b","text":"c"}]},{"role":"system"},{"content":null},{"content":5}],"stream":true,"n":2}"#,
            r#"{"model":"e","input":["one",2,["x"],"two"],"prompt":"p","max_completion_tokens":null,"max_tokens":9}"#,
            r#"{"prompt":[1,2,3],"max_completion_tokens":3,"max_tokens":9,"stream":null,"model":null}"#,
            r#"{"model":"m","unknown":{"deep":[1,{"a":"b"}]},"messages":[]}"#,
        ];
        for b in bodies {
            let view = request_view(b.as_bytes(), &cfg).unwrap_or_else(|| panic!("declined {b}"));
            let v: Value = serde_json::from_str(b).unwrap_or_else(|e| panic!("{e}"));
            let mut prompt = String::new();
            for t in &view.texts {
                if !prompt.is_empty() {
                    prompt.push('\n');
                }
                prompt.push_str(t);
            }
            assert_eq!(prompt, crate::proxy::prompt_text(&v), "{b}");
            assert_eq!(
                view.model.as_deref(),
                v.get("model").and_then(Value::as_str),
                "{b}"
            );
            assert_eq!(
                view.stream,
                v.get("stream").and_then(Value::as_bool).unwrap_or(false)
            );
            let mt = v
                .get("max_completion_tokens")
                .or_else(|| v.get("max_tokens"))
                .and_then(Value::as_u64);
            assert_eq!(view.max_tokens, mt, "{b}");
            assert_eq!(view.n, v.get("n").and_then(Value::as_u64), "{b}");
        }
        // shapes the view leaves to the Value path
        for b in [
            r#"["model","m"]"#,
            r#"{"model":"m","model":"n"}"#,
            r#"{"model":5}"#,
            r#"{"model":"m","logprobs":true}"#,
            r#"{"model":"m","logit_bias":{"1":2}}"#,
            r#"{"model":"m","n":99}"#,
            r#"{"model":"m","stream_options":{"include_usage":false}}"#,
            r#"{"model":"m","max_tokens":1.5}"#,
            r#"{"model":"m"} trailing"#,
            r#"{"messages":[["a"]]}"#,
        ] {
            assert!(request_view(b.as_bytes(), &cfg).is_none(), "{b}");
        }
        // null hardening fields are as good as absent, as in `harden_request`
        assert!(request_view(br#"{"logprobs":null,"logit_bias":null}"#, &cfg).is_some());
    }

    #[test]
    fn include_usage_is_spliced_into_the_object() {
        let out = with_include_usage(br#"  {"stream":true,"a":[1]}"#).unwrap_or_default();
        let v: Value = serde_json::from_slice(&out).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            v,
            json!({"stream":true,"a":[1],"stream_options":{"include_usage":true}})
        );
        let out = with_include_usage(b"{ }").unwrap_or_default();
        assert_eq!(out, br#"{"stream_options":{"include_usage":true} }"#);
    }

    #[test]
    fn response_view_agrees_with_the_value_path() {
        let b = r#"{"choices":[{"message":{"content":"x\u0041"},"finish_reason":"stop"},{"text":"t","finish_reason":null},{"message":{"content":null},"text":"u"},{"message":{}}],"usage":{"prompt_tokens":3,"total_tokens":10}}"#;
        let r = response_view(b.as_bytes()).unwrap_or_else(|| panic!("declined"));
        let texts: Vec<Option<&str>> = r.choices.iter().map(|c| c.text.as_deref()).collect();
        assert_eq!(texts, vec![Some("xA"), Some("t"), Some("u"), None]);
        assert_eq!(r.choices[0].finish.as_deref(), Some("stop"));
        assert_eq!((r.prompt_tokens, r.completion_tokens), (Some(3), Some(7)));
        for b in [
            r#"[{"choices":[]}]"#,
            r#"{"choices":{"0":{}}}"#,
            r#"{"choices":[{"message":{"content":[{"type":"text","text":"a"}]}}]}"#,
            r#"{"usage":{"prompt_tokens":-1}}"#,
            r#"{"choices":[[{"content":"a"},"b"]]}"#,
            r#"{"usage":[1,2]}"#,
        ] {
            assert!(response_view(b.as_bytes()).is_none(), "{b}");
        }
    }

    /// Any small JSON value (the "wrong type" of a field).
    fn arb_any() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            (0u64..12).prop_map(Value::from),
            (-5i64..0).prop_map(Value::from),
            (-1e3f64..1e3).prop_map(Value::from),
            "[a-z \"\\\\é\n]{0,6}".prop_map(Value::String),
        ];
        leaf.prop_recursive(2, 8, 3, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
                prop::collection::vec(("[a-z]{1,5}", inner), 0..3)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    /// A field that is usually of the expected shape `good` and sometimes anything.
    fn mostly<S>(good: S) -> impl proptest::strategy::Strategy<Value = Option<Value>>
    where
        S: proptest::strategy::Strategy<Value = Value> + 'static,
    {
        use proptest::prelude::*;
        prop_oneof![
            3 => good.prop_map(Some),
            1 => Just(None),
            1 => arb_any().prop_map(Some),
        ]
    }

    fn object(fields: Vec<(&'static str, Option<Value>)>) -> Value {
        Value::Object(
            fields
                .into_iter()
                .filter_map(|(k, v)| v.map(|v| (k.to_string(), v)))
                .collect(),
        )
    }

    fn text() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        "[a-zA-Z \"\\\\é\n]{0,12}".prop_map(Value::String)
    }

    /// Request-shaped JSON: chat, completions or embeddings fields with occasional wrong types.
    fn arb_request() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let part = (mostly(text()), mostly(Just(Value::from("text"))))
            .prop_map(|(t, ty)| object(vec![("text", t), ("type", ty)]));
        let content = prop_oneof![
            text(),
            prop::collection::vec(part, 0..3).prop_map(Value::Array),
        ];
        let message = (mostly(content), mostly(Just(Value::from("user"))))
            .prop_map(|(c, r)| object(vec![("content", c), ("role", r)]));
        let prompt = prop_oneof![
            text(),
            prop::collection::vec(prop_oneof![text(), (0u64..9).prop_map(Value::from)], 0..3)
                .prop_map(Value::Array),
        ];
        (
            mostly(text()),
            mostly(prop::collection::vec(message, 0..3).prop_map(Value::Array)),
            mostly(prompt.clone()),
            mostly(prompt),
            mostly(any::<bool>().prop_map(Value::Bool)),
            mostly((0u64..100).prop_map(Value::from)),
            mostly((0u64..100).prop_map(Value::from)),
            mostly((0u64..6).prop_map(Value::from)),
            mostly(Just(Value::from(true))),
        )
            .prop_map(|(model, messages, prompt, input, stream, mt, mct, n, lp)| {
                object(vec![
                    ("model", model),
                    ("messages", messages),
                    ("prompt", prompt),
                    ("input", input),
                    ("stream", stream),
                    ("max_tokens", mt),
                    ("max_completion_tokens", mct),
                    ("n", n),
                    // rare: a field hardening acts on
                    ("logprobs", lp.filter(|v| v.is_null())),
                ])
            })
    }

    /// Completion-shaped JSON with occasional wrong types.
    fn arb_response() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let message = mostly(text()).prop_map(|c| object(vec![("content", c)]));
        let choice = (mostly(message), mostly(text()), mostly(text()))
            .prop_map(|(m, t, f)| object(vec![("message", m), ("text", t), ("finish_reason", f)]));
        let count = || mostly((0u64..50).prop_map(Value::from));
        let usage = (count(), count(), count()).prop_map(|(p, c, t)| {
            object(vec![
                ("prompt_tokens", p),
                ("completion_tokens", c),
                ("total_tokens", t),
            ])
        });
        (
            mostly(prop::collection::vec(choice, 0..3).prop_map(Value::Array)),
            mostly(usage),
        )
            .prop_map(|(c, u)| {
                object(vec![
                    ("choices", c),
                    ("usage", u),
                    ("id", Some(Value::from("x"))),
                ])
            })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(1024))]
        /// On any JSON, a view that accepts a body reads what the `Value` path reads, and
        /// hardening would not have changed that body.
        #[test]
        fn views_agree_with_the_value_path_on_any_json(
            v in proptest::prop_oneof![arb_request(), arb_response(), arb_any()]
        ) {
            let cfg = HardeningConfig::default();
            let body = serde_json::to_vec(&v).unwrap_or_default();
            if let Some(view) = request_view(&body, &cfg) {
                let mut prompt = String::new();
                for t in &view.texts {
                    if !prompt.is_empty() {
                        prompt.push('\n');
                    }
                    prompt.push_str(t);
                }
                proptest::prop_assert_eq!(&prompt, &crate::proxy::prompt_text(&v));
                proptest::prop_assert_eq!(view.model.as_deref(), v.get("model").and_then(Value::as_str));
                proptest::prop_assert_eq!(view.stream, v.get("stream").and_then(Value::as_bool).unwrap_or(false));
                let mt = v
                    .get("max_completion_tokens")
                    .or_else(|| v.get("max_tokens"))
                    .and_then(Value::as_u64);
                proptest::prop_assert_eq!(view.max_tokens, mt);
                proptest::prop_assert_eq!(view.n, v.get("n").and_then(Value::as_u64));
                let mut hv = v.clone();
                proptest::prop_assert_eq!(harden_request(&mut hv, &cfg), Hardened::default());
                proptest::prop_assert_eq!(&hv, &v);
            }
            if let Some(r) = response_view(&body) {
                let choices = v.get("choices").and_then(Value::as_array).cloned().unwrap_or_default();
                proptest::prop_assert_eq!(r.choices.len(), choices.len());
                for (c, cv) in r.choices.iter().zip(&choices) {
                    let text = match cv.pointer("/message/content") {
                        Some(Value::String(s)) => Some(s.as_str()),
                        _ => cv.get("text").and_then(Value::as_str),
                    };
                    proptest::prop_assert_eq!(c.text.as_deref(), text);
                    proptest::prop_assert_eq!(c.finish.as_deref(), cv.get("finish_reason").and_then(Value::as_str));
                }
                let u = v.get("usage");
                let g = |k: &str| u.and_then(|u| u.get(k)).and_then(Value::as_u64);
                proptest::prop_assert_eq!(r.prompt_tokens, g("prompt_tokens"));
                let ct = g("completion_tokens").or_else(|| {
                    g("total_tokens").map(|t| t.saturating_sub(g("prompt_tokens").unwrap_or(0)))
                });
                proptest::prop_assert_eq!(r.completion_tokens, ct);
            }
        }
    }
}
