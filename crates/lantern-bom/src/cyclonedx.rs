//! CycloneDX 1.6 JSON rendering of an [`Inventory`]: components with hashes, licences, purls,
//! model cards and evidence, and the dependency graph.

use crate::component::{Component, Inventory, Kind, License};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// How the document header is stamped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stamp {
    /// `urn:uuid:` serial number; `None` derives it from the content (deterministic).
    pub serial: Option<String>,
    /// RFC 3339 timestamp; `None` leaves it out.
    pub timestamp: Option<String>,
}

impl Stamp {
    /// A fresh stamp: random serial and the current time.
    pub fn now() -> Self {
        let ts = time::OffsetDateTime::now_utc()
            .replace_nanosecond(0)
            .ok()
            .and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            });
        Stamp {
            serial: Some(random_serial()),
            timestamp: ts,
        }
    }

    /// A reproducible stamp: serial derived from the content, and the timestamp taken from
    /// `source_date_epoch` (seconds, as in the `SOURCE_DATE_EPOCH` convention) or left out.
    pub fn deterministic(source_date_epoch: Option<i64>) -> Self {
        Stamp {
            serial: None,
            timestamp: source_date_epoch
                .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
                .and_then(|t| {
                    t.format(&time::format_description::well_known::Rfc3339)
                        .ok()
                }),
        }
    }
}

#[derive(Serialize)]
struct Bom<'a> {
    #[serde(rename = "$schema")]
    schema: &'static str,
    #[serde(rename = "bomFormat")]
    bom_format: &'static str,
    #[serde(rename = "specVersion")]
    spec_version: &'static str,
    #[serde(rename = "serialNumber")]
    serial_number: &'a str,
    version: u32,
    metadata: Metadata<'a>,
    components: Vec<Comp<'a>>,
    dependencies: Vec<Dep<'a>>,
}

#[derive(Serialize)]
struct Metadata<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    timestamp: Option<&'a str>,
    tools: Tools,
    component: Comp<'a>,
}

#[derive(Serialize)]
struct Tools {
    components: Vec<ToolComp>,
}

#[derive(Serialize)]
struct ToolComp {
    #[serde(rename = "type")]
    kind: &'static str,
    name: &'static str,
    version: &'static str,
}

#[derive(Serialize)]
struct HashOut<'a> {
    alg: &'a str,
    content: &'a str,
}

#[derive(Serialize)]
#[serde(untagged)]
enum LicenseOut<'a> {
    Id { id: &'a str },
    Name { name: &'a str },
}

#[derive(Serialize)]
struct LicenseChoice<'a> {
    license: LicenseOut<'a>,
}

#[derive(Serialize)]
struct Prop<'a> {
    name: &'a str,
    value: &'a str,
}

#[derive(Serialize)]
struct OccOut<'a> {
    location: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    symbol: Option<&'a str>,
}

#[derive(Serialize)]
struct Evidence<'a> {
    occurrences: Vec<OccOut<'a>>,
}

#[derive(Serialize)]
struct DatasetRef<'a> {
    #[serde(rename = "ref")]
    reference: &'a str,
}

#[derive(Serialize, Default)]
struct ModelParameters<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    task: Option<&'a str>,
    #[serde(rename = "architectureFamily", skip_serializing_if = "Option::is_none")]
    architecture_family: Option<&'a str>,
    #[serde(rename = "modelArchitecture", skip_serializing_if = "Option::is_none")]
    model_architecture: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    datasets: Vec<DatasetRef<'a>>,
}

#[derive(Serialize)]
struct ModelCardOut<'a> {
    #[serde(rename = "modelParameters", skip_serializing_if = "Option::is_none")]
    model_parameters: Option<ModelParameters<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    properties: Vec<Prop<'a>>,
}

#[derive(Serialize)]
struct DataOut<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    name: &'a str,
}

#[derive(Serialize)]
struct Comp<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(rename = "bom-ref")]
    bom_ref: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    group: Option<&'a str>,
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    hashes: Vec<HashOut<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    licenses: Vec<LicenseChoice<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    purl: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    components: Vec<Comp<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    evidence: Option<Evidence<'a>>,
    #[serde(rename = "modelCard", skip_serializing_if = "Option::is_none")]
    model_card: Option<ModelCardOut<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    data: Vec<DataOut<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    properties: Vec<Prop<'a>>,
}

#[derive(Serialize)]
struct Dep<'a> {
    #[serde(rename = "ref")]
    reference: &'a str,
    #[serde(rename = "dependsOn")]
    depends_on: Vec<&'a str>,
}

/// bom-ref of the project itself (the `metadata.component`).
pub const PROJECT_REF: &str = "project";

fn comp(c: &Component) -> Comp<'_> {
    let card = c.model_card.as_ref().filter(|mc| !mc.is_empty()).map(|mc| {
        let params = ModelParameters {
            task: mc.task.as_deref(),
            architecture_family: mc.architecture_family.as_deref(),
            model_architecture: mc.model_architecture.as_deref(),
            datasets: mc
                .datasets
                .iter()
                .map(|d| DatasetRef { reference: d })
                .collect(),
        };
        let empty = params.task.is_none()
            && params.architecture_family.is_none()
            && params.model_architecture.is_none()
            && params.datasets.is_empty();
        ModelCardOut {
            model_parameters: (!empty).then_some(params),
            properties: mc
                .properties
                .iter()
                .map(|(n, v)| Prop { name: n, value: v })
                .collect(),
        }
    });
    Comp {
        kind: c.kind.cyclonedx_type(),
        bom_ref: &c.bom_ref,
        group: c.group.as_deref(),
        name: &c.name,
        version: c.version.as_deref(),
        description: c.description.as_deref(),
        scope: c.scope.map(|s| s.as_str()),
        hashes: c
            .hashes
            .iter()
            .map(|h| HashOut {
                alg: &h.alg,
                content: &h.content,
            })
            .collect(),
        licenses: c
            .licenses
            .iter()
            .map(|l| LicenseChoice {
                license: match l {
                    License::Spdx(id) => LicenseOut::Id { id },
                    License::Named(name) => LicenseOut::Name { name },
                },
            })
            .collect(),
        purl: c.purl.as_deref(),
        components: c.children.iter().map(comp).collect(),
        evidence: (!c.occurrences.is_empty()).then(|| Evidence {
            occurrences: c
                .occurrences
                .iter()
                .map(|o| OccOut {
                    location: &o.location,
                    line: o.line,
                    symbol: o.symbol.as_deref(),
                })
                .collect(),
        }),
        model_card: card,
        data: if c.kind == Kind::Data {
            vec![DataOut {
                kind: "dataset",
                name: &c.name,
            }]
        } else {
            Vec::new()
        },
        properties: c
            .properties
            .iter()
            .map(|(n, v)| Prop { name: n, value: v })
            .collect(),
    }
}

fn project_component(inv: &Inventory) -> Comp<'_> {
    Comp {
        kind: "application",
        bom_ref: PROJECT_REF,
        group: None,
        name: &inv.project,
        version: None,
        description: None,
        scope: None,
        hashes: Vec::new(),
        licenses: Vec::new(),
        purl: None,
        components: Vec::new(),
        evidence: None,
        model_card: None,
        data: Vec::new(),
        properties: Vec::new(),
    }
}

/// A serial number derived from the content: a UUID (version 8, RFC 9562 custom) made of the
/// first 16 bytes of a SHA-256, so identical inventories get identical serials.
pub fn content_serial(content: &[u8]) -> String {
    let d = Sha256::digest(content);
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    format!("urn:uuid:{}", uuid::Uuid::from_bytes(b).hyphenated())
}

/// A random serial number (UUID version 4).
pub fn random_serial() -> String {
    format!("urn:uuid:{}", uuid::Uuid::new_v4().hyphenated())
}

fn render(inv: &Inventory, serial: &str, timestamp: Option<&str>) -> String {
    let mut dependencies = vec![Dep {
        reference: PROJECT_REF,
        depends_on: inv.direct.iter().map(String::as_str).collect(),
    }];
    for c in &inv.components {
        let mut on: Vec<&str> = c.depends_on.iter().map(String::as_str).collect();
        if let Some(e) = inv.package_edges.get(&c.bom_ref) {
            on.extend(e.iter().map(String::as_str));
        }
        on.sort_unstable();
        on.dedup();
        dependencies.push(Dep {
            reference: &c.bom_ref,
            depends_on: on,
        });
    }
    let bom = Bom {
        schema: "http://cyclonedx.org/schema/bom-1.6.schema.json",
        bom_format: "CycloneDX",
        spec_version: "1.6",
        serial_number: serial,
        version: 1,
        metadata: Metadata {
            timestamp,
            tools: Tools {
                components: vec![ToolComp {
                    kind: "application",
                    name: "lantern",
                    version: env!("CARGO_PKG_VERSION"),
                }],
            },
            component: project_component(inv),
        },
        components: inv.components.iter().map(comp).collect(),
        dependencies,
    };
    // Sized up front: growing a buffer of tens of megabytes copies it again and again.
    let mut out = Vec::with_capacity(1024 + inv.components.len() * 2048);
    // Serialising plain structs of strings and integers cannot fail, and yields UTF-8.
    if serde_json::to_writer_pretty(&mut out, &bom).is_err() {
        return String::new();
    }
    String::from_utf8(out).unwrap_or_default()
}

/// Render the inventory as a pretty-printed CycloneDX 1.6 JSON document.
pub fn to_json(inv: &Inventory, stamp: &Stamp) -> String {
    match &stamp.serial {
        Some(serial) => render(inv, serial, stamp.timestamp.as_deref()),
        None => {
            let placeholder = "urn:uuid:00000000-0000-0000-0000-000000000000";
            let body = render(inv, placeholder, stamp.timestamp.as_deref());
            let serial = content_serial(body.as_bytes());
            body.replacen(placeholder, &serial, 1)
        }
    }
}
