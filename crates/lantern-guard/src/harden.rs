//! Request hardening against model extraction (logit_bias / logprob probing, prompt scoring,
//! many samples per call) and rounding or noising of the logprobs a response returns.

use crate::config::{FieldPolicy, HardeningConfig};
use serde_json::{Map, Value};

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
}
