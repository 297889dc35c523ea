//! `--bom-out`: the CycloneDX 1.6 `vulnerabilities` section (VEX) filled from the OSV findings of
//! a run. Each advisory affecting a component becomes one entry whose `affects` points at the
//! component's `bom-ref` (looked up by purl); advisories accepted by the policy's ignore list
//! are kept with analysis state `not_affected` and the reason as detail.

use crate::finding::{CheckFinding, Outcome};
use crate::ids::CheckId;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Replace the `vulnerabilities` of a CycloneDX JSON document with the run's OSV findings.
pub fn fill(doc: &mut Value, o: &Outcome) {
    let refs = bom_refs(doc);
    let mut by_id: BTreeMap<String, (Value, Vec<String>)> = BTreeMap::new();
    let osv = |f: &CheckFinding| matches!(f.check, CheckId::Vulnerable | CheckId::Malicious);
    let active = o.findings.iter().filter(|f| osv(f)).map(|f| (f, None));
    let ignored = o
        .ignored
        .iter()
        .filter(|(f, _)| osv(f))
        .map(|(f, r)| (f, Some(r.as_str())));
    for (f, reason) in active.chain(ignored) {
        let Some(id) = &f.advisory else { continue };
        let target = f
            .purl
            .as_deref()
            .and_then(|p| refs.get(p).or_else(|| refs.get(strip_version(p))))
            .cloned()
            .or_else(|| f.purl.clone())
            .unwrap_or_else(|| f.component.clone());
        let entry = by_id
            .entry(id.clone())
            .or_insert_with(|| (entry(id, f, reason), Vec::new()));
        if !entry.1.contains(&target) {
            entry.1.push(target);
        }
    }
    let vulns: Vec<Value> = by_id
        .into_values()
        .map(|(mut v, affects)| {
            v["affects"] = Value::Array(affects.into_iter().map(|r| json!({"ref": r})).collect());
            v
        })
        .collect();
    if let Some(obj) = doc.as_object_mut() {
        obj.insert("vulnerabilities".into(), Value::Array(vulns));
    }
}

fn entry(id: &str, f: &CheckFinding, reason: Option<&str>) -> Value {
    let mut v = json!({
        "bom-ref": format!("vuln:{id}"),
        "id": id,
        "source": {"name": "OSV", "url": format!("https://osv.dev/vulnerability/{id}")},
        "ratings": [{"source": {"name": "OSV"}, "severity": f.severity.as_str(), "method": "other"}],
        "description": f.message,
        "analysis": match reason {
            None => json!({"state": "exploitable", "detail": format!("{} (lantern check)", f.check.as_str())}),
            Some(r) => json!({"state": "not_affected", "detail": format!("ignored by policy: {r}")}),
        },
    });
    if !f.aliases.is_empty() {
        v["references"] = Value::Array(
            f.aliases
                .iter()
                .map(|a| json!({"id": a, "source": {"name": "OSV", "url": format!("https://osv.dev/vulnerability/{a}")}}))
                .collect(),
        );
    }
    v
}

fn strip_version(p: &str) -> &str {
    let base = p.split(['?', '#']).next().unwrap_or(p);
    match base.rfind('@') {
        Some(i) if i > base.rfind('/').unwrap_or(0) => &base[..i],
        _ => base,
    }
}

/// purl (with and without version) → bom-ref, over all nested components.
fn bom_refs(doc: &Value) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack: Vec<(&Value, usize)> = doc
        .get("components")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|c| (c, 0))
        .collect();
    while let Some((c, depth)) = stack.pop() {
        if let (Some(p), Some(r)) = (
            c.get("purl").and_then(Value::as_str),
            c.get("bom-ref").and_then(Value::as_str),
        ) {
            out.insert(p.to_string(), r.to_string());
            out.entry(strip_version(p).to_string())
                .or_insert_with(|| r.to_string());
        }
        if depth < 16 {
            if let Some(kids) = c.get("components").and_then(Value::as_array) {
                stack.extend(kids.iter().map(|k| (k, depth + 1)));
            }
        }
    }
    out
}
