//! Output monitoring of a whole (buffered) JSON response: every text-bearing field, wherever the
//! endpoint puts it — chat `content` (string or parts), `refusal`, `reasoning_content`,
//! `reasoning`, tool-call and legacy function-call `arguments`, completions `text`, Responses API
//! output text, custom tool `input`, transcription `text`, an image's `revised_prompt` — is scanned on its own and redacted in
//! place. Logprob tokens are joined per sequence and scanned; when the joined tokens hold a match,
//! the `logprobs` of that choice (or output part) are dropped (`null`) rather than rewritten.

use crate::config::Action;
use crate::monitor::{redact, Monitor};
use serde_json::Value;

/// Keys whose string value is generated text.
const TEXT_KEYS: [&str; 10] = [
    "content",
    "text",
    "refusal",
    "reasoning_content",
    "reasoning",
    "arguments",
    "output_text",
    "input",
    "transcript",
    // the prompt an image model rewrote and returns (`data[].revised_prompt`)
    "revised_prompt",
];

/// Deepest nesting walked (serde_json's parser stops at 128 already).
const MAX_DEPTH: u32 = 128;

/// What monitoring a response found and did.
#[derive(Debug, Default)]
pub struct Monitored {
    /// Rule ids hit, in order of first hit.
    pub hits: Vec<String>,
    /// The value was changed (redaction, logprobs dropped).
    pub changed: bool,
    /// A hit under `block`.
    pub blocked: bool,
}

impl Monitored {
    fn note(&mut self, hits: &[crate::monitor::Hit]) {
        for h in hits {
            if !self.hits.contains(&h.rule) {
                self.hits.push(h.rule.clone());
            }
        }
    }
}

/// Scans every text-bearing field of `v`; under `redact` rewrites them, under `block` notes it.
pub fn monitor_value(v: &mut Value, m: &Monitor, action: Action) -> Monitored {
    let mut out = Monitored::default();
    walk(v, m, action, &mut out, 0);
    out
}

fn walk(v: &mut Value, m: &Monitor, action: Action, out: &mut Monitored, depth: u32) {
    if depth > MAX_DEPTH {
        return;
    }
    match v {
        Value::Object(map) => {
            for (k, child) in map.iter_mut() {
                if k == "logprobs" {
                    logprobs(child, m, action, out);
                } else if let (true, Value::String(s)) =
                    (TEXT_KEYS.contains(&k.as_str()), &mut *child)
                {
                    scan_string(s, m, action, out);
                } else {
                    walk(child, m, action, out, depth + 1);
                }
            }
        }
        Value::Array(a) => {
            for c in a {
                walk(c, m, action, out, depth + 1);
            }
        }
        _ => {}
    }
}

/// Scans one string; redacts it in place under `redact`.
pub fn scan_string(s: &mut String, m: &Monitor, action: Action, out: &mut Monitored) {
    let hits = m.scan(s);
    if hits.is_empty() {
        return;
    }
    out.note(&hits);
    match action {
        Action::Redact => {
            *s = redact(s, &hits);
            out.changed = true;
        }
        Action::Block => out.blocked = true,
        _ => {}
    }
}

/// The token sequences of a `logprobs` value: chat `content` / `refusal` (objects with
/// `token`), legacy completions `tokens` (strings), or an array of token objects (Responses).
pub fn logprob_sequences(v: &Value) -> Vec<String> {
    let join = |a: &Vec<Value>| -> String {
        a.iter()
            .filter_map(|t| {
                t.get("token")
                    .and_then(Value::as_str)
                    .or_else(|| t.as_str())
            })
            .collect()
    };
    match v {
        Value::Array(a) => vec![join(a)],
        Value::Object(o) => ["content", "refusal", "tokens"]
            .iter()
            .filter_map(|k| o.get(*k).and_then(Value::as_array))
            .map(join)
            .collect(),
        _ => Vec::new(),
    }
}

/// Scans the joined tokens of a `logprobs` value; a match drops the value (`null`) under
/// `redact`, blocks under `block`.
fn logprobs(v: &mut Value, m: &Monitor, action: Action, out: &mut Monitored) {
    let mut hit = false;
    for seq in logprob_sequences(v) {
        let hits = m.scan(&seq);
        hit |= !hits.is_empty();
        out.note(&hits);
    }
    if !hit {
        return;
    }
    match action {
        Action::Redact => {
            *v = Value::Null;
            out.changed = true;
        }
        Action::Block => out.blocked = true,
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::MonitorConfig;
    use serde_json::json;

    const KEY: &str = "ghp_aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5";

    fn monitor() -> Monitor {
        let cfg = MonitorConfig {
            secret_rules: crate::config::SecretRules::Builtin,
            ..MonitorConfig::default()
        };
        Monitor::new(&cfg, None).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn every_text_field_is_redacted() {
        let m = monitor();
        let mut v = json!({"choices":[
            {"index":0,"message":{"content":null,"refusal":format!("no {KEY}"),
              "reasoning_content":format!("think {KEY}"),
              "tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":format!("{{\"k\":\"{KEY}\"}}")}}],
              "function_call":{"name":"g","arguments":KEY}},
             "logprobs":{"content":[{"token":"ghp_aB3dE5fG7hI9jK1l","logprob":-0.1},{"token":"M3nO5pQ7rS9tU1vW3xY5","logprob":-0.1}]}},
            {"index":1,"message":{"content":[{"type":"text","text":KEY}]}}],
            "output":[{"type":"message","content":[{"type":"output_text","text":KEY,"logprobs":[]}]}]});
        let r = monitor_value(&mut v, &m, Action::Redact);
        assert!(r.changed && !r.blocked);
        assert_eq!(r.hits, vec!["secret.github-token".to_string()]);
        let s = v.to_string();
        assert!(!s.contains("aB3dE5fG7hI9"), "{s}");
        assert_eq!(v.pointer("/choices/0/logprobs"), Some(&Value::Null));
        assert_eq!(
            v.pointer("/choices/0/message/refusal")
                .and_then(Value::as_str),
            Some("no [REDACTED:secret.github-token]")
        );
        let mut b =
            json!({"choices":[{"message":{"tool_calls":[{"function":{"arguments":KEY}}]}}]});
        assert!(monitor_value(&mut b, &m, Action::Block).blocked);
    }

    #[test]
    fn an_images_revised_prompt_is_redacted() {
        let m = monitor();
        let mut v = json!({"created":1,"data":[{"url":"https://x/y.png","revised_prompt":format!("a sign reading {KEY}")}]});
        let r = monitor_value(&mut v, &m, Action::Redact);
        assert_eq!(r.hits, vec!["secret.github-token".to_string()]);
        assert_eq!(
            v.pointer("/data/0/revised_prompt").and_then(Value::as_str),
            Some("a sign reading [REDACTED:secret.github-token]")
        );
    }

    #[test]
    fn clean_responses_are_untouched() {
        let m = monitor();
        let mut v = json!({"choices":[{"message":{"content":"hello","tool_calls":[{"function":{"arguments":"{\"city\":\"Paris\"}"}}]},"logprobs":{"content":[{"token":"hello"}]}}]});
        let before = v.clone();
        let r = monitor_value(&mut v, &m, Action::Redact);
        assert!(!r.changed && r.hits.is_empty());
        assert_eq!(v, before);
    }
}
