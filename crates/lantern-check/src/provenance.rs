//! Model, dataset and package provenance: hub publishers against `allow_publishers` /
//! `deny_publishers`, typosquat candidates (one edit from a popular name shipped in `data/`),
//! licences against `allow_licenses` (SPDX expressions evaluated by the `spdx` crate), and the
//! requirements on local models and datasets (`require_scan`, `require_signature`,
//! `deny_formats`, `require_manifest`) read from the properties the inventory recorded.

use crate::finding::CheckFinding;
use crate::ids::CheckId;
use crate::policy::Policy;
use crate::subject::{Subject, SubjectKind};
use lantern_core::Severity;
use std::collections::BTreeSet;
use std::sync::OnceLock;

const POPULAR_PYPI: &str = include_str!("../data/popular-pypi.txt");
const POPULAR_HUB: &str = include_str!("../data/popular-hub.txt");
const TYPOSQUAT_ALLOW: &str = include_str!("../data/typosquat-allow.txt");

/// Shortest name compared for typosquats: shorter names are one edit from too many others.
const MIN_SQUAT_LEN: usize = 5;

fn names(text: &str) -> BTreeSet<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_ascii_lowercase)
        .collect()
}

fn lists() -> &'static (BTreeSet<String>, BTreeSet<String>, BTreeSet<String>) {
    static L: OnceLock<(BTreeSet<String>, BTreeSet<String>, BTreeSet<String>)> = OnceLock::new();
    L.get_or_init(|| {
        (
            names(POPULAR_PYPI),
            names(POPULAR_HUB),
            names(TYPOSQUAT_ALLOW),
        )
    })
}

/// The popular name `name` imitates (one edit away, not itself popular or allowed).
pub fn squat_target<'a>(name: &str, popular: &'a BTreeSet<String>) -> Option<&'a str> {
    let n = name.to_ascii_lowercase();
    let (_, _, allow) = lists();
    if n.chars().count() < MIN_SQUAT_LEN || popular.contains(&n) || allow.contains(&n) {
        return None;
    }
    popular
        .iter()
        .find(|p| strsim::damerau_levenshtein(&n, p) == 1 && !digit_only_edit(&n, p))
        .map(String::as_str)
}

/// Whether two names differ only by one inserted or removed digit (`httpx2`, `boto3`,
/// `meta-llama4`): version-numbered successors and model families, not squats.
fn digit_only_edit(a: &str, b: &str) -> bool {
    let strip = |s: &str| {
        s.chars()
            .filter(|c| !c.is_ascii_digit())
            .collect::<String>()
    };
    a.len() != b.len() && strip(a) == strip(b)
}

/// Run every provenance check on the subjects.
pub fn check(subjects: &[&Subject], policy: &Policy) -> Vec<CheckFinding> {
    let mut out = Vec::new();
    for s in subjects {
        out.extend(typosquat(s, policy));
        match s.kind {
            SubjectKind::Library => {}
            SubjectKind::Model | SubjectKind::Data => {
                out.extend(publisher(s, policy));
                out.extend(local_requirements(s, policy));
            }
        }
    }
    out.extend(licenses(subjects, policy));
    out
}

fn finding(id: CheckId, s: &Subject, policy: &Policy, msg: String) -> CheckFinding {
    CheckFinding::about(id, policy.severity_of(id), s, msg)
}

fn typosquat(s: &Subject, policy: &Policy) -> Option<CheckFinding> {
    let (pypi, hub, _) = lists();
    let (candidate, popular, what) = match (s.kind, s.purl_type.as_deref()) {
        (SubjectKind::Library, Some("pypi")) => {
            (lantern_bom::purl::pep503(&s.name), pypi, "PyPI package")
        }
        (SubjectKind::Model | SubjectKind::Data, _) => (s.publisher.clone()?, hub, "hub publisher"),
        _ => return None,
    };
    let target = squat_target(&candidate, popular)?;
    Some(finding(
        CheckId::Typosquat,
        s,
        policy,
        format!("{what} `{candidate}` is one edit away from the popular `{target}`"),
    ))
}

fn publisher(s: &Subject, policy: &Policy) -> Option<CheckFinding> {
    let org = s.publisher.as_deref()?;
    let eq = |p: &String| p.eq_ignore_ascii_case(org);
    if policy.deny_publishers.iter().any(eq) {
        return Some(finding(
            CheckId::DeniedPublisher,
            s,
            policy,
            format!("publisher `{org}` is in deny_publishers"),
        ));
    }
    if !policy.allow_publishers.is_empty() && !policy.allow_publishers.iter().any(eq) {
        return Some(finding(
            CheckId::UnlistedPublisher,
            s,
            policy,
            format!("publisher `{org}` is not in allow_publishers"),
        ));
    }
    None
}

fn local_requirements(s: &Subject, policy: &Policy) -> Vec<CheckFinding> {
    let mut out = Vec::new();
    if s.local_path.is_none() && s.property("lantern:path").is_none() {
        return out;
    }
    if let Some(fmt) = s.format.as_deref() {
        if policy
            .deny_formats
            .iter()
            .any(|d| d.eq_ignore_ascii_case(fmt))
        {
            out.push(finding(
                CheckId::DeniedFormat,
                s,
                policy,
                format!("format `{fmt}` is in deny_formats"),
            ));
        }
    }
    if s.kind == SubjectKind::Model {
        out.extend(scan_requirement(s, policy));
        if policy.require_signature && s.property("lantern:signature") != Some("verified") {
            let state = s.property("lantern:signature").unwrap_or("not checked");
            let detail = s.property("lantern:signature:detail").unwrap_or("");
            out.push(finding(
                CheckId::Unsigned,
                s,
                policy,
                format!("signature {state} (require_signature) {detail}")
                    .trim_end()
                    .to_string(),
            ));
        }
    }
    if s.kind == SubjectKind::Data && policy.require_manifest {
        if let Some(state) = s.property("lantern:manifest").filter(|m| *m != "match") {
            out.push(finding(
                CheckId::DataManifest,
                s,
                policy,
                format!("dataset manifest {state} (require_manifest)"),
            ));
        }
    }
    out
}

fn scan_requirement(s: &Subject, policy: &Policy) -> Option<CheckFinding> {
    if !policy.require_scan {
        return None;
    }
    let threshold = policy.scan_threshold.unwrap_or(Severity::High);
    let Some(count) = s.property("lantern:scan:findings") else {
        return Some(finding(
            CheckId::ModelScan,
            s,
            policy,
            "model not scanned (require_scan)".into(),
        ));
    };
    let max: Severity = s.property("lantern:scan:max-severity")?.parse().ok()?;
    let worst = s
        .properties
        .iter()
        .find(|(k, v)| k == "lantern:scan:finding" && v.starts_with(max.as_str()))
        .map_or("", |(_, v)| v.as_str());
    (max >= threshold).then(|| {
        finding(
            CheckId::ModelScan,
            s,
            policy,
            format!("{count} scan findings, worst: {worst}"),
        )
    })
}

fn licenses(subjects: &[&Subject], policy: &Policy) -> Vec<CheckFinding> {
    if policy.allow_licenses.is_empty() {
        return Vec::new();
    }
    let allowed: Vec<spdx::Expression> = policy
        .allow_licenses
        .iter()
        .filter_map(|l| spdx::Expression::parse(l).ok())
        .collect();
    let mut out = Vec::new();
    let mut unknown: Vec<&Subject> = Vec::new();
    for s in subjects {
        if s.licenses.is_empty() {
            if s.local_path.is_some() {
                out.push(finding(
                    CheckId::License,
                    s,
                    policy,
                    "no licence declared".into(),
                ));
            } else {
                unknown.push(s);
            }
            continue;
        }
        if let Some(msg) = license_violation(&s.licenses, &allowed) {
            out.push(finding(CheckId::License, s, policy, msg));
        }
    }
    if let Some(first) = unknown.first() {
        let mut f = finding(
            CheckId::License,
            first,
            policy,
            format!(
                "licence not known for {} libraries and hub references: manifests, lockfiles and code do not carry it (give --bom from a generator that records licences); first: {}",
                unknown.len(),
                first.name
            ),
        );
        f.component = "(components without licence data)".into();
        f.purl = None;
        f.version = None;
        f.file = None;
        f.line = None;
        out.push(f);
    }
    out
}

/// Why the declared licences are not acceptable, or `None` when one of them is.
fn license_violation(declared: &[String], allowed: &[spdx::Expression]) -> Option<String> {
    let ok = |id: &str| {
        allowed.iter().any(|a| {
            a.requirements()
                .any(|r| r.req.license.id().is_some_and(|x| x.name == id))
        })
    };
    let mut unparsed = Vec::new();
    for d in declared {
        match spdx::Expression::parse_mode(d, spdx::ParseMode::LAX) {
            Ok(expr) => {
                if expr.evaluate(|r| r.license.id().is_some_and(|id| ok(id.name))) {
                    return None;
                }
            }
            Err(_) => unparsed.push(d.as_str()),
        }
    }
    Some(if unparsed.len() == declared.len() {
        format!(
            "licence `{}` is not an SPDX expression",
            declared.join(", ")
        )
    } else {
        format!("licence `{}` is not in allow_licenses", declared.join(", "))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typosquats_one_edit_from_popular_names() {
        let (pypi, hub, _) = lists();
        assert_eq!(squat_target("transfomers", pypi), Some("transformers"));
        assert_eq!(squat_target("reqeusts", pypi), Some("requests"));
        assert_eq!(squat_target("transformers", pypi), None);
        assert_eq!(squat_target("torchx", pypi), None);
        assert_eq!(squat_target("meta-lama", hub), Some("meta-llama"));
        assert_eq!(squat_target("numpy", pypi), None);
        assert_eq!(squat_target("httpx2", pypi), None);
        assert_eq!(squat_target("cohere2forai", hub), None);
    }

    #[test]
    fn licences_evaluate_spdx_expressions() {
        let allowed = vec![
            spdx::Expression::parse("MIT").unwrap(),
            spdx::Expression::parse("Apache-2.0").unwrap(),
        ];
        assert!(license_violation(&["MIT OR GPL-3.0-only".into()], &allowed).is_none());
        assert!(license_violation(&["Apache-2.0".into()], &allowed).is_none());
        let gpl = license_violation(&["GPL-3.0-only".into()], &allowed).unwrap();
        assert!(gpl.contains("not in allow_licenses"), "{gpl}");
        let odd = license_violation(&["llama2 community".into()], &allowed).unwrap();
        assert!(odd.contains("not an SPDX expression"), "{odd}");
    }
}
