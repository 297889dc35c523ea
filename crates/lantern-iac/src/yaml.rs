//! YAML and JSON documents as `serde_json::Value`s with the lines they span. Multi-document YAML
//! is split on `---`; anchors, aliases and `<<` merges are resolved; CloudFormation short tags
//! (`!Ref`, `!Sub`, `!GetAtt`, ...) become their long form instead of failing the parse.

use serde_json::{Map, Value};

/// One document and the 1-based lines it spans in its file.
#[derive(Debug, Clone)]
pub(crate) struct Doc {
    pub value: Value,
    pub start: u32,
    pub end: u32,
}

/// Parse every document of a YAML file. An error names the first document that failed.
pub(crate) fn parse_docs(text: &str) -> Result<Vec<Doc>, String> {
    let mut docs = Vec::new();
    for (start, end, body) in split(text) {
        if body.trim().is_empty() {
            continue;
        }
        let mut v: serde_yaml::Value = serde_yaml::from_str(&body)
            .map_err(|e| format!("invalid YAML (document at line {start}): {e}"))?;
        v.apply_merge()
            .map_err(|e| format!("invalid YAML merge (document at line {start}): {e}"))?;
        let value = to_json(v, 0).ok_or_else(|| {
            format!(
                "YAML document at line {start} nests deeper than {}",
                crate::MAX_DEPTH
            )
        })?;
        if !value.is_null() {
            docs.push(Doc { value, start, end });
        }
    }
    Ok(docs)
}

/// Parse a JSON file as one document.
pub(crate) fn parse_json(text: &str) -> Result<Doc, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))?;
    if depth(&value) > crate::MAX_DEPTH {
        return Err(format!("JSON nests deeper than {}", crate::MAX_DEPTH));
    }
    Ok(Doc {
        value,
        start: 1,
        end: text.lines().count().max(1) as u32,
    })
}

/// Split on `---` document markers: (first line, last line, text) per document.
fn split(text: &str) -> Vec<(u32, u32, String)> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut start = 1u32;
    let mut n = 0u32;
    for line in text.lines() {
        n += 1;
        let is_marker =
            line.starts_with("---") && line[3..].chars().next().is_none_or(|c| c.is_whitespace());
        if is_marker {
            out.push((
                start,
                n.saturating_sub(1).max(start),
                std::mem::take(&mut cur),
            ));
            start = n + 1;
            // `--- !Tag` or `--- value` on the marker line belongs to the new document.
            let rest = line[3..].trim();
            if !rest.is_empty() && !rest.starts_with('#') {
                cur.push_str(rest);
            }
            cur.push('\n');
            continue;
        }
        cur.push_str(line);
        cur.push('\n');
    }
    out.push((start, n.max(start), cur));
    out
}

fn depth(v: &Value) -> usize {
    match v {
        Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        Value::Object(o) => 1 + o.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// Long form of a CloudFormation short tag.
fn tag_key(tag: &str) -> String {
    match tag {
        "Ref" | "Condition" => tag.to_string(),
        other => format!("Fn::{other}"),
    }
}

fn to_json(v: serde_yaml::Value, d: usize) -> Option<Value> {
    if d > crate::MAX_DEPTH {
        return None;
    }
    Some(match v {
        serde_yaml::Value::Null => Value::Null,
        serde_yaml::Value::Bool(b) => Value::Bool(b),
        serde_yaml::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                n.as_f64().map(Value::from).unwrap_or(Value::Null)
            }
        }
        serde_yaml::Value::String(s) => Value::String(s),
        serde_yaml::Value::Sequence(s) => {
            let mut a = Vec::with_capacity(s.len());
            for x in s {
                a.push(to_json(x, d + 1)?);
            }
            Value::Array(a)
        }
        serde_yaml::Value::Mapping(m) => {
            let mut o = Map::new();
            for (k, x) in m {
                let key = match k {
                    serde_yaml::Value::String(s) => s,
                    serde_yaml::Value::Number(n) => n.to_string(),
                    serde_yaml::Value::Bool(b) => b.to_string(),
                    _ => continue,
                };
                o.insert(key, to_json(x, d + 1)?);
            }
            Value::Object(o)
        }
        serde_yaml::Value::Tagged(t) => {
            let tag = t.tag.to_string();
            let tag = tag.trim_start_matches('!');
            let inner = to_json(t.value, d + 1)?;
            let inner = match (tag, inner) {
                ("GetAtt", Value::String(s)) => {
                    Value::Array(s.splitn(2, '.').map(|p| Value::String(p.into())).collect())
                }
                (_, x) => x,
            };
            let mut o = Map::new();
            o.insert(tag_key(tag), inner);
            Value::Object(o)
        }
    })
}

/// First line (1-based) in `start..=end` of `text` containing `needle`, else `start`.
pub(crate) fn line_of(text: &str, start: u32, end: u32, needle: &str) -> u32 {
    let skip = start.saturating_sub(1) as usize;
    let take = (end.saturating_sub(start) + 1) as usize;
    text.lines()
        .enumerate()
        .skip(skip)
        .take(take)
        .find(|(_, l)| l.contains(needle))
        .map(|(i, _)| i as u32 + 1)
        .unwrap_or(start)
}

/// String at `path` (keys) in a JSON value.
pub(crate) fn get<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    let mut cur = v;
    for k in path {
        cur = cur.get(*k)?;
    }
    Some(cur)
}

/// A scalar as text (strings as is, numbers and booleans printed).
pub(crate) fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A value as a list (a lone value is a list of one; null is empty).
pub(crate) fn list(v: Option<&Value>) -> Vec<&Value> {
    match v {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a.iter().collect(),
        Some(x) => vec![x],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_doc_anchors_merges_and_cfn_tags() {
        let t = "a: 1\n---\nbase: &b {x: 1}\nc:\n  <<: *b\n  y: 2\n---\nR: !Ref Bucket\nG: !GetAtt Role.Arn\nS: !Sub 'arn:${AWS::Partition}'\n";
        let d = parse_docs(t).unwrap();
        assert_eq!(d.len(), 3);
        assert_eq!(d[1].start, 3);
        assert_eq!(d[1].value["c"]["x"], 1);
        assert_eq!(d[2].value["R"]["Ref"], "Bucket");
        assert_eq!(d[2].value["G"]["Fn::GetAtt"][0], "Role");
        assert!(d[2].value["S"]["Fn::Sub"].is_string());
        assert_eq!(line_of(t, d[2].start, d[2].end, "G:"), 9);
    }

    #[test]
    fn malformed_yaml_is_an_error_naming_the_document() {
        let e = parse_docs("a: 1\n---\nb: [\n").unwrap_err();
        assert!(e.contains("line 3"), "{e}");
    }
}
