//! Libraries against the offline OSV database: pinned versions are matched against every
//! advisory naming the package; range-only declarations are reported as not checked (and
//! still flagged when a malicious-package report covers every version); packages of an
//! ecosystem the database has no data for, or versions that do not parse, are reported too.

use crate::finding::CheckFinding;
use crate::ids::CheckId;
use crate::osv::advisory::{Advisory, Verdict};
use crate::osv::{ecosystem_of_purl, normalize, Database};
use crate::policy::Policy;
use crate::subject::{Subject, SubjectKind};
use crate::Error;

/// Check every library subject; returns findings and the number matched.
pub fn check(
    subjects: &[&Subject],
    db: Option<&Database>,
    policy: &Policy,
) -> Result<(Vec<CheckFinding>, usize), Error> {
    let libs: Vec<&Subject> = subjects
        .iter()
        .copied()
        .filter(|s| s.kind == SubjectKind::Library)
        .collect();
    let Some(db) = db else {
        return Ok((no_database(&libs, policy), 0));
    };
    let mut out = Vec::new();
    let mut checked = 0;
    for s in libs {
        let eco = s.purl_type.as_deref().and_then(ecosystem_of_purl);
        let Some(eco) = eco.filter(|e| db.has_ecosystem(e)) else {
            out.push(not_checked(
                s,
                policy,
                &format!(
                    "not checked: the OSV database has no {} records",
                    eco.or(s.purl_type.as_deref()).unwrap_or("ecosystem")
                ),
            ));
            continue;
        };
        let advisories = db.advisories(eco, &s.name)?;
        checked += 1;
        out.extend(one(s, eco, &advisories, policy));
    }
    Ok((out, checked))
}

fn no_database(libs: &[&Subject], policy: &Policy) -> Vec<CheckFinding> {
    if libs.is_empty() {
        return Vec::new();
    }
    let mut f = CheckFinding::about(
        CheckId::NotChecked,
        policy.severity_of(CheckId::NotChecked),
        libs[0],
        format!(
            "{} libraries not checked for vulnerabilities: no --osv-db given (fetch one with `lantern osv update DIR`)",
            libs.len()
        ),
    );
    f.component = "(all libraries)".into();
    f.purl = None;
    f.version = None;
    f.file = None;
    f.line = None;
    vec![f]
}

fn not_checked(s: &Subject, policy: &Policy, why: &str) -> CheckFinding {
    CheckFinding::about(
        CheckId::NotChecked,
        policy.severity_of(CheckId::NotChecked),
        s,
        why.to_string(),
    )
}

fn one(s: &Subject, eco: &str, advisories: &[Advisory], policy: &Policy) -> Vec<CheckFinding> {
    let key = normalize(eco, &s.name);
    let mut out = Vec::new();
    let Some(version) = s.version.as_deref() else {
        for a in advisories.iter().filter(|a| a.is_malicious()) {
            if a.affects_all_versions(eco, &key) {
                out.push(advisory_finding(s, a, CheckId::Malicious, policy));
            }
        }
        let range = s.constraint.as_deref().unwrap_or("any version");
        out.push(CheckFinding::about(
            CheckId::Unpinned,
            policy.severity_of(CheckId::Unpinned),
            s,
            format!(
                "not checked: unpinned ({range}); {} advisories name this package, pin or lock it",
                advisories.len()
            ),
        ));
        return out;
    };
    let mut unknown = Vec::new();
    for a in advisories {
        match a.verdict(eco, &key, version) {
            Verdict::Affected => {
                let id = if a.is_malicious() {
                    CheckId::Malicious
                } else {
                    CheckId::Vulnerable
                };
                out.push(advisory_finding(s, a, id, policy));
            }
            Verdict::Unknown => unknown.push(a.id.clone()),
            Verdict::Clear => {}
        }
    }
    if !unknown.is_empty() {
        out.push(not_checked(
            s,
            policy,
            &format!(
                "version {version} could not be compared with {} (not a {eco} version?)",
                unknown.join(", ")
            ),
        ));
    }
    out
}

fn advisory_finding(s: &Subject, a: &Advisory, id: CheckId, policy: &Policy) -> CheckFinding {
    let severity = if id == CheckId::Malicious || policy.severity.contains_key(id.as_str()) {
        policy.severity_of(id)
    } else {
        a.severity().unwrap_or_else(|| policy.severity_of(id))
    };
    let summary = a.summary.as_deref().unwrap_or("no summary");
    let mut f = CheckFinding::about(id, severity, s, format!("{}: {summary}", a.id));
    f.advisory = Some(a.id.clone());
    f.aliases = a.aliases.clone();
    f
}
