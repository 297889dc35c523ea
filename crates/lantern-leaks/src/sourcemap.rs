//! Source maps (`.map` files and inline `sourceMappingURL=data:` comments) whose
//! `sourcesContent` embeds the original sources.

use crate::{Derived, LeakOutput};
use base64::Engine as _;
use lantern_core::{Category, Finding, Location, Severity, Warning};
use serde::Deserialize;

/// Largest source map (decoded) that is parsed; larger ones get a warning.
pub const MAX_SOURCE_MAP_BYTES: usize = 512 << 20;
/// Index maps (`sections`) nest; deeper nesting than this is ignored with a warning.
const MAX_SECTION_DEPTH: u32 = 4;

#[derive(Deserialize)]
struct RawMap {
    #[serde(default)]
    version: Option<serde_json::Value>,
    #[serde(default)]
    sources: Vec<Option<String>>,
    #[serde(default, rename = "sourcesContent")]
    sources_content: Option<Vec<Option<String>>>,
    #[serde(default)]
    mappings: Option<String>,
    #[serde(default)]
    sections: Vec<RawSection>,
}

#[derive(Deserialize)]
struct RawSection {
    #[serde(default)]
    map: Option<RawMap>,
}

/// What a source map exposes.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SourceMapInfo {
    /// Number of sources listed.
    pub sources: usize,
    /// Sources whose content is embedded.
    pub embedded: usize,
    /// Bytes of embedded content.
    pub embedded_bytes: usize,
    /// Embedded sources outside `node_modules` (first-party code).
    pub first_party: usize,
    /// Names of embedded first-party sources (for the finding's detail), first few.
    pub sample: Vec<String>,
}

fn collect(map: RawMap, depth: u32, info: &mut SourceMapInfo, files: &mut Vec<(String, String)>) {
    let contents = map.sources_content.unwrap_or_default();
    for (i, content) in contents.into_iter().enumerate() {
        let Some(content) = content else { continue };
        if content.is_empty() {
            continue;
        }
        let name = map
            .sources
            .get(i)
            .cloned()
            .flatten()
            .unwrap_or_else(|| format!("source[{i}]"));
        info.embedded += 1;
        info.embedded_bytes += content.len();
        if !name.contains("node_modules/") {
            info.first_party += 1;
            if info.sample.len() < 5 {
                info.sample.push(name.clone());
            }
        }
        files.push((name, content));
    }
    info.sources += map.sources.len();
    if depth < MAX_SECTION_DEPTH {
        for s in map.sections {
            if let Some(m) = s.map {
                collect(m, depth + 1, info, files);
            }
        }
    }
}

/// Parse `json` as a source map; `None` when it is not one.
pub(crate) fn parse(json: &[u8]) -> Option<(SourceMapInfo, Vec<(String, String)>)> {
    // Strip the XSSI guard some servers prepend.
    let mut json = json;
    if let Some(rest) = json.strip_prefix(b")]}'") {
        json = rest;
    }
    let map: RawMap = serde_json::from_slice(json).ok()?;
    if map.version.is_none() || (map.mappings.is_none() && map.sections.is_empty()) {
        return None;
    }
    let mut info = SourceMapInfo::default();
    let mut files = Vec::new();
    collect(map, 0, &mut info, &mut files);
    Some((info, files))
}

fn looks_like_map(data: &[u8], name: &str) -> bool {
    if name.ends_with(".map") {
        return true;
    }
    let head = &data[..data.len().min(4096)];
    let trimmed = head
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(0);
    head.get(trimmed) == Some(&b'{')
        && memchr::memmem::find(head, b"\"mappings\"").is_some()
        && memchr::memmem::find(head, b"\"version\"").is_some()
}

const INLINE_MARKER: &[u8] = b"sourceMappingURL=data:application/json";

pub(crate) fn check(data: &[u8], loc: &Location, out: &mut LeakOutput) {
    let member = loc.path.rsplit('!').next().unwrap_or(&loc.path);
    if looks_like_map(data, member) {
        if data.len() > MAX_SOURCE_MAP_BYTES {
            out.warnings.push(Warning::new(
                loc.path.clone(),
                format!("source map of {} bytes is over the {MAX_SOURCE_MAP_BYTES}-byte limit, not parsed", data.len()),
            ));
            return;
        }
        match parse(data) {
            Some((info, files)) => report(info, files, loc.clone(), "source map", out),
            None if member.ends_with(".map") && data.first() == Some(&b'{') => {
                out.warnings.push(Warning::new(
                    loc.path.clone(),
                    "malformed source map: not valid source-map JSON",
                ));
            }
            None => {}
        }
    }
    // Inline maps: //# sourceMappingURL=data:application/json;charset=utf-8;base64,....
    let mut from = 0;
    while let Some(pos) = memchr::memmem::find(&data[from..], INLINE_MARKER) {
        let start = from + pos;
        from = start + INLINE_MARKER.len();
        let rest = &data[from..];
        let Some(comma) = memchr::memchr(b',', &rest[..rest.len().min(64)]) else {
            continue;
        };
        let params = &rest[..comma];
        let body_start = comma + 1;
        let body_len = rest[body_start..]
            .iter()
            .position(|b| b.is_ascii_whitespace() || *b == b'*' || *b == b'"' || *b == b'\'')
            .unwrap_or(rest.len() - body_start);
        let body = &rest[body_start..body_start + body_len];
        from += body_start + body_len;
        let decoded = if memchr::memmem::find(params, b"base64").is_some() {
            match base64::engine::general_purpose::STANDARD
                .decode(body)
                .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(body))
            {
                Ok(d) => d,
                Err(e) => {
                    out.warnings.push(Warning::new(
                        loc.path.clone(),
                        format!("inline source map at byte {start}: invalid base64: {e}"),
                    ));
                    continue;
                }
            }
        } else {
            body.to_vec()
        };
        let line = 1 + memchr::memchr_iter(b'\n', &data[..start]).count() as u32;
        let at = loc.at(line, 1, start as u64);
        match parse(&decoded) {
            Some((info, files)) => report(info, files, at, "inline source map", out),
            None => out.warnings.push(Warning::new(
                loc.path.clone(),
                format!("inline source map at line {line}: not valid source-map JSON"),
            )),
        }
    }
}

fn report(
    info: SourceMapInfo,
    files: Vec<(String, String)>,
    loc: Location,
    what: &str,
    out: &mut LeakOutput,
) {
    if info.embedded == 0 {
        return;
    }
    let severity = if loc.path.contains('!') {
        Severity::High
    } else {
        Severity::Medium
    };
    let mut detail = format!(
        "{what} embeds {} original source file(s), {} bytes ({} first-party, outside node_modules)",
        info.embedded, info.embedded_bytes, info.first_party
    );
    if !info.sample.is_empty() {
        detail.push_str(": ");
        detail.push_str(&info.sample.join(", "));
        if info.first_party > info.sample.len() {
            detail.push_str(", …");
        }
    }
    let mut f = Finding::new(
        crate::Rule::SourcemapSources.id(),
        "Source map embeds original sources",
        Category::Leak,
        severity,
        loc.clone(),
    )
    .with_detail(detail);
    f.properties
        .insert("embedded_sources".into(), info.embedded.into());
    f.properties
        .insert("embedded_bytes".into(), info.embedded_bytes.into());
    f.properties
        .insert("first_party_sources".into(), info.first_party.into());
    out.findings.push(f);
    let base = Location {
        line: None,
        column: None,
        offset: None,
        ..loc
    };
    for (name, content) in files {
        out.derived.push(Derived {
            location: base.child(&name),
            data: content.into_bytes(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LeakScanner;
    use lantern_core::config::LeaksConfig;

    fn scanner() -> LeakScanner {
        LeakScanner::new(&LeaksConfig::default()).unwrap()
    }

    const MAP: &str = r#"{"version":3,"file":"cli.js","sources":["../src/main.ts","../node_modules/x/index.js","../src/empty.ts"],"sourcesContent":["const key = 'x';\nexport {}\n","module.exports=1",null],"mappings":"AAAA"}"#;

    #[test]
    fn map_file_with_sources_content_is_reported_with_counts() {
        let loc = Location::path("pkg.tgz").child("package/dist/cli.js.map");
        let out = scanner().scan(MAP.as_bytes(), &loc, false);
        let f = out
            .findings
            .iter()
            .find(|f| f.rule_id == "leak.sourcemap-sources")
            .expect("finding");
        assert_eq!(f.severity, Severity::High);
        assert_eq!(f.properties["embedded_sources"], 2);
        assert_eq!(f.properties["embedded_bytes"], 43);
        assert_eq!(f.properties["first_party_sources"], 1);
        assert!(f.detail.as_deref().unwrap().contains("../src/main.ts"));
        assert_eq!(out.derived.len(), 2);
        assert_eq!(
            out.derived[0].location.path,
            "pkg.tgz!package/dist/cli.js.map!../src/main.ts"
        );
    }

    #[test]
    fn map_without_contents_is_not_a_finding() {
        let m = r#"{"version":3,"sources":["a.ts"],"mappings":"AAAA"}"#;
        let out = scanner().scan(m.as_bytes(), &Location::path("a.js.map"), false);
        assert!(out.findings.is_empty());
        assert!(out.warnings.is_empty());
    }

    #[test]
    fn inline_base64_map_is_decoded() {
        let b64 = base64::engine::general_purpose::STANDARD.encode(MAP);
        let js = format!("console.log(1);\n//# sourceMappingURL=data:application/json;charset=utf-8;base64,{b64}\n");
        let out = scanner().scan(js.as_bytes(), &Location::path("dist/cli.js"), false);
        let f = &out.findings[0];
        assert_eq!(f.rule_id, "leak.sourcemap-sources");
        assert_eq!(f.severity, Severity::Medium);
        assert_eq!(f.locations[0].line, Some(2));
        assert!(f
            .detail
            .as_deref()
            .unwrap()
            .starts_with("inline source map"));
    }

    #[test]
    fn malformed_map_and_bad_base64_warn() {
        let out = scanner().scan(b"{\"version\":3,", &Location::path("x.js.map"), false);
        assert!(out.findings.is_empty());
        assert_eq!(out.warnings.len(), 1);
        let out = scanner().scan(
            b"//# sourceMappingURL=data:application/json;base64,@@@@\n",
            &Location::path("x.js"),
            false,
        );
        assert_eq!(out.warnings.len(), 1);
        assert!(out.warnings[0].message.contains("invalid base64"));
    }

    #[test]
    fn index_map_sections_are_followed() {
        let m = format!(
            r#"{{"version":3,"sections":[{{"offset":{{"line":0,"column":0}},"map":{MAP}}}]}}"#
        );
        let out = scanner().scan(m.as_bytes(), &Location::path("a.js.map"), false);
        assert_eq!(out.findings[0].properties["embedded_sources"], 2);
    }

    proptest::proptest! {
        #[test]
        fn never_panics(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let _ = scanner().scan(&data, &Location::path("x.js.map"), true);
            let mut d = b"sourceMappingURL=data:application/json;base64,".to_vec();
            d.extend_from_slice(&data);
            let _ = scanner().scan(&d, &Location::path("x.js"), true);
        }
    }
}
