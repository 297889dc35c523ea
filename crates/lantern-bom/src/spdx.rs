//! SPDX licence ids (canonical spelling) and the SPDX 2.3 JSON rendering of an [`Inventory`].

use crate::component::{Component, Inventory, Kind, License};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::OnceLock;

/// The SPDX licence list (ids in canonical case), as enumerated by CycloneDX's `spdx.schema.json`.
pub const SPDX_IDS: &str = include_str!("spdx_ids.txt");

/// Canonical spelling of an SPDX licence id matched case-insensitively (`apache-2.0` →
/// `Apache-2.0`), or `None` if it is not on the list.
pub fn canonical_license_id(s: &str) -> Option<&'static str> {
    static MAP: OnceLock<HashMap<String, &'static str>> = OnceLock::new();
    MAP.get_or_init(|| {
        SPDX_IDS
            .lines()
            .filter(|l| !l.is_empty())
            .map(|l| (l.to_ascii_lowercase(), l))
            .collect()
    })
    .get(&s.trim().to_ascii_lowercase())
    .copied()
}

fn spdx_id(i: usize) -> String {
    format!("SPDXRef-Package-{i}")
}

fn license_expr(c: &Component) -> String {
    if c.licenses.is_empty() {
        return "NOASSERTION".into();
    }
    let parts: Vec<String> = c
        .licenses
        .iter()
        .map(|l| match l {
            License::Spdx(id) => id.clone(),
            License::Named(n) => {
                let clean: String = n
                    .chars()
                    .map(|ch| {
                        if ch.is_ascii_alphanumeric() || ch == '.' || ch == '-' {
                            ch
                        } else {
                            '-'
                        }
                    })
                    .collect();
                format!("LicenseRef-{clean}")
            }
        })
        .collect();
    parts.join(" AND ")
}

fn purpose(k: Kind) -> &'static str {
    match k {
        Kind::Library => "LIBRARY",
        Kind::File => "FILE",
        Kind::Model | Kind::Data => "OTHER",
    }
}

/// Render the inventory as an SPDX 2.3 JSON document. `created` is an RFC 3339 timestamp (SPDX
/// requires one); `namespace_id` makes `documentNamespace` unique (a UUID).
pub fn to_json(inv: &Inventory, created: &str, namespace_id: &str) -> String {
    let mut packages = vec![json!({
        "SPDXID": "SPDXRef-Project",
        "name": inv.project,
        "downloadLocation": "NOASSERTION",
        "filesAnalyzed": false,
        "primaryPackagePurpose": "APPLICATION",
    })];
    let mut ids: HashMap<&str, String> = HashMap::new();
    for (i, c) in inv.components.iter().enumerate() {
        ids.insert(&c.bom_ref, spdx_id(i + 1));
    }
    let mut relationships = vec![json!({
        "spdxElementId": "SPDXRef-DOCUMENT",
        "relationshipType": "DESCRIBES",
        "relatedSpdxElement": "SPDXRef-Project",
    })];
    for c in &inv.components {
        let Some(id) = ids.get(c.bom_ref.as_str()) else {
            continue;
        };
        let mut p = json!({
            "SPDXID": id,
            "name": match &c.group { Some(g) => format!("{g}/{}", c.name), None => c.name.clone() },
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": false,
            "licenseConcluded": "NOASSERTION",
            "licenseDeclared": license_expr(c),
            "primaryPackagePurpose": purpose(c.kind),
        });
        if let Some(v) = &c.version {
            p["versionInfo"] = json!(v);
        }
        let checksums: Vec<Value> = c
            .hashes
            .iter()
            .filter_map(|h| {
                let alg = match h.alg.as_str() {
                    "SHA-256" => "SHA256",
                    "SHA-512" => "SHA512",
                    "SHA-384" => "SHA384",
                    "SHA-1" => "SHA1",
                    _ => return None,
                };
                Some(json!({"algorithm": alg, "checksumValue": h.content}))
            })
            .collect();
        if !checksums.is_empty() {
            p["checksums"] = json!(checksums);
        }
        if let Some(purl) = &c.purl {
            p["externalRefs"] = json!([{
                "referenceCategory": "PACKAGE-MANAGER",
                "referenceType": "purl",
                "referenceLocator": purl,
            }]);
        }
        let kind = match c.kind {
            Kind::Model => Some("machine-learning-model"),
            Kind::Data => Some("dataset"),
            _ => None,
        };
        let mut comment: Vec<String> = kind
            .map(|k| format!("lantern:kind={k}"))
            .into_iter()
            .collect();
        comment.extend(c.properties.iter().map(|(n, v)| format!("{n}={v}")));
        if !comment.is_empty() {
            p["comment"] = json!(comment.join("; "));
        }
        packages.push(p);
    }
    for r in &inv.direct {
        if let Some(id) = ids.get(r.as_str()) {
            relationships.push(json!({
                "spdxElementId": "SPDXRef-Project",
                "relationshipType": "DEPENDS_ON",
                "relatedSpdxElement": id,
            }));
        }
    }
    for c in &inv.components {
        let Some(from) = ids.get(c.bom_ref.as_str()) else {
            continue;
        };
        let edges = c
            .depends_on
            .iter()
            .chain(inv.package_edges.get(&c.bom_ref).into_iter().flatten());
        for to in edges {
            if let Some(to) = ids.get(to.as_str()) {
                relationships.push(json!({
                    "spdxElementId": from,
                    "relationshipType": "DEPENDS_ON",
                    "relatedSpdxElement": to,
                }));
            }
        }
    }
    let doc = json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": inv.project,
        "documentNamespace": format!("https://spdx.org/spdxdocs/lantern-{}-{namespace_id}", crate::purl::encode(&inv.project)),
        "creationInfo": {
            "created": created,
            "creators": [format!("Tool: lantern-{}", env!("CARGO_PKG_VERSION"))],
        },
        "packages": packages,
        "relationships": relationships,
    });
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_ids() {
        assert_eq!(canonical_license_id("apache-2.0"), Some("Apache-2.0"));
        assert_eq!(canonical_license_id("MIT"), Some("MIT"));
        assert_eq!(canonical_license_id("cc-by-nc-4.0"), Some("CC-BY-NC-4.0"));
        assert_eq!(canonical_license_id("llama2"), None);
        assert_eq!(canonical_license_id("other"), None);
    }

    #[test]
    fn id_list_matches_vendored_schema() {
        let schema: Value =
            serde_json::from_str(include_str!("../tests/schema/spdx.schema.json")).unwrap();
        let ids: Vec<&str> = schema["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let ours: Vec<&str> = SPDX_IDS.lines().collect();
        assert_eq!(ids, ours);
    }
}
