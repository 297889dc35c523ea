//! Keras model configs (`config.json` of a `.keras` zip, the `model_config` attribute of an
//! `.h5` file): Lambda layers (serialized Python code) and custom objects outside Keras.

use crate::rules::Rule;
use serde_json::Value;

/// A risky construct in a Keras config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KerasIssue {
    /// [`Rule::KerasLambdaLayer`] or [`Rule::KerasCustomObject`].
    pub rule: Rule,
    /// Layer name and what it holds.
    pub detail: String,
}

/// Module prefixes of objects Keras deserializes without user code.
const KNOWN_MODULES: &[&str] = &[
    "keras",
    "tf_keras",
    "tensorflow.keras",
    "tensorflow",
    "builtins",
    "numpy",
];

/// Walk a Keras config (any nesting) and report Lambda layers and custom objects.
pub fn check_config(v: &Value) -> Vec<KerasIssue> {
    let mut out = Vec::new();
    let mut stack = vec![(v, 0u32)];
    while let Some((v, depth)) = stack.pop() {
        if depth > 256 {
            continue;
        }
        match v {
            Value::Object(m) => {
                let class = m.get("class_name").and_then(|c| c.as_str()).unwrap_or("");
                let name = m
                    .get("config")
                    .and_then(|c| c.get("name"))
                    .and_then(|n| n.as_str())
                    .unwrap_or("?");
                if class == "Lambda" || class == "__lambda__" {
                    let code = m
                        .get("config")
                        .and_then(|c| c.get("function"))
                        .map(|f| {
                            let s = f.to_string();
                            s.chars().take(120).collect::<String>()
                        })
                        .unwrap_or_default();
                    out.push(KerasIssue {
                        rule: Rule::KerasLambdaLayer,
                        detail: format!("Lambda layer `{name}` holds serialized code {code}"),
                    });
                    // The function inside is the same code: one finding per layer.
                    continue;
                } else if let Some(module) = m.get("module").and_then(|x| x.as_str()) {
                    let known = KNOWN_MODULES
                        .iter()
                        .any(|k| module == *k || module.starts_with(&format!("{k}.")));
                    if !known && !class.is_empty() {
                        out.push(KerasIssue {
                            rule: Rule::KerasCustomObject,
                            detail: format!("custom object {module}.{class} (`{name}`)"),
                        });
                    }
                }
                for x in m.values() {
                    stack.push((x, depth + 1));
                }
            }
            Value::Array(a) => {
                for x in a {
                    stack.push((x, depth + 1));
                }
            }
            _ => {}
        }
    }
    out
}

/// Find Keras model configs in raw HDF5 bytes: the `model_config` attribute is a JSON string
/// stored contiguously (inline in the root object header or in a heap), so every JSON object
/// starting with `{"class_name"` is parsed in place.
pub fn configs_in_bytes(data: &[u8]) -> Vec<Value> {
    let mut out = Vec::new();
    let f1 = memchr::memmem::Finder::new(b"{\"class_name\"");
    let f2 = memchr::memmem::Finder::new(b"{\"module\"");
    let mut from = 0usize;
    loop {
        let hit = match (f1.find(&data[from..]), f2.find(&data[from..])) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => break,
        };
        let at = from + hit;
        let mut de = serde_json::Deserializer::from_slice(&data[at..]).into_iter::<Value>();
        match de.next() {
            Some(Ok(v)) => {
                let used = de.byte_offset();
                out.push(v);
                from = at + used.max(1);
            }
            _ => from = at + 1,
        }
        if out.len() >= 16 {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_lambda_and_custom_objects() {
        let cfg: Value = serde_json::from_str(
            r#"{"class_name":"Sequential","config":{"layers":[
              {"module":"keras.layers","class_name":"Dense","config":{"name":"d"}},
              {"module":"keras.layers","class_name":"Lambda","config":{"name":"l","function":{"class_name":"__lambda__","config":{"code":"4wEAAA"}}}},
              {"module":"evilpkg.layers","class_name":"Backdoor","config":{"name":"b"}}]}}"#,
        )
        .unwrap();
        let issues = check_config(&cfg);
        assert!(issues
            .iter()
            .any(|i| i.rule == Rule::KerasLambdaLayer && i.detail.contains("`l`")));
        assert!(issues
            .iter()
            .any(|i| i.rule == Rule::KerasCustomObject
                && i.detail.contains("evilpkg.layers.Backdoor")));
        assert!(!issues.iter().any(|i| i.detail.contains("Dense")));
    }

    #[test]
    fn configs_are_found_in_binary_noise() {
        let mut b = vec![0u8, 1, 2, 0xff];
        b.extend_from_slice(br#"{"class_name": "Model", "config": {}}"#);
        b.extend_from_slice(&[0, 0, 7]);
        let c = configs_in_bytes(&b);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0]["class_name"], "Model");
    }
}
