//! `lantern check`: a supply-chain gate for AI projects. The inventory `lantern bom` builds (or
//! an existing CycloneDX BOM) is evaluated against a `[policy]`: libraries against an offline
//! OSV database ([`osv`], [`libraries`]), model-loading code parsed with tree-sitter ([`code`]),
//! model and dataset provenance, typosquats and licences ([`provenance`]). Every finding carries
//! a stable [`CheckId`], a severity, the component and the file/line that introduced it.

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod code;
pub mod finding;
pub mod ids;
pub mod libraries;
pub mod osv;
pub mod policy;
pub mod provenance;
pub mod render;
pub mod subject;
pub mod vex;

pub use finding::{CheckFinding, Outcome};
pub use ids::CheckId;
pub use policy::Policy;
pub use subject::Subject;

use std::path::Path;

/// Errors of the check crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The path involved.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The policy file is invalid.
    #[error("{path}: invalid policy: {message}")]
    Policy {
        /// The policy file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The OSV database could not be read.
    #[error("OSV database {path}: {message}")]
    Osv {
        /// The file or archive member.
        path: String,
        /// What is wrong.
        message: String,
    },
}

/// What a run needs besides the subjects.
pub struct Options<'a> {
    /// Project root, for the code checks (None when only a BOM was given).
    pub root: Option<&'a Path>,
    /// The opened OSV database, if any.
    pub osv: Option<&'a osv::Database>,
    /// The policy.
    pub policy: &'a Policy,
    /// Today's date, for ignore expiry.
    pub today: time::Date,
}

/// Evaluate `subjects` (and the code under `root`) against the policy.
pub fn check(subjects: &[Subject], opts: &Options<'_>) -> Result<Outcome, Error> {
    let policy = opts.policy;
    let selected: Vec<&Subject> = subjects
        .iter()
        .filter(|s| policy.include_dev || !s.dev_only)
        .collect();
    let mut out = Outcome::default();
    out.stats.components = selected.len();
    let (libs, checked) = libraries::check(&selected, opts.osv, policy)?;
    out.stats.libraries_checked = checked;
    out.findings.extend(libs);
    out.findings.extend(provenance::check(&selected, policy));
    if let Some(root) = opts.root {
        let code = code::check_tree(root, policy);
        out.stats.python_files = code.files;
        out.findings.extend(code.findings);
        out.warnings.extend(code.warnings);
    }
    apply_ignores(&mut out, policy, opts.today);
    out.findings.sort_by(|a, b| {
        (&a.component, &a.file, a.line, a.check, &a.advisory).cmp(&(
            &b.component,
            &b.file,
            b.line,
            b.check,
            &b.advisory,
        ))
    });
    Ok(out)
}

fn apply_ignores(out: &mut Outcome, policy: &Policy, today: time::Date) {
    let mut expired = Vec::new();
    let active: Vec<&policy::Ignore> = policy
        .ignore
        .iter()
        .filter(|i| {
            let live = i
                .until
                .as_deref()
                .and_then(policy::parse_date)
                .is_none_or(|d| today <= d);
            if !live {
                expired.push(*i);
            }
            live
        })
        .collect();
    let findings = std::mem::take(&mut out.findings);
    for f in findings {
        match active.iter().find(|i| ignore_matches(i, &f)) {
            Some(i) => out.ignored.push((f, i.reason.clone())),
            None => out.findings.push(f),
        }
    }
    for i in expired {
        out.findings.push(CheckFinding {
            check: CheckId::IgnoreExpired,
            severity: policy.severity_of(CheckId::IgnoreExpired),
            component: i.component.clone().unwrap_or_else(|| "(policy)".into()),
            purl: None,
            version: None,
            advisory: None,
            aliases: Vec::new(),
            message: format!(
                "ignore entry `{}` expired on {}; its findings are reported again",
                i.id,
                i.until.as_deref().unwrap_or("?")
            ),
            file: None,
            line: None,
        });
    }
}

fn ignore_matches(i: &policy::Ignore, f: &CheckFinding) -> bool {
    let id_ok = i.id == f.check.as_str()
        || f.advisory.as_deref() == Some(i.id.as_str())
        || f.aliases.iter().any(|a| a == &i.id);
    let comp_ok = i.component.as_deref().is_none_or(|c| {
        c == f.component
            || f.purl
                .as_deref()
                .is_some_and(|p| p == c || p.split('@').next() == Some(c))
    });
    id_ok && comp_ok
}
