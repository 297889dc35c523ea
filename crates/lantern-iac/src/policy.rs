//! IAM policy documents (AWS JSON policies, GCP IAM bindings), however they were written:
//! a JSON string, a heredoc, `jsonencode(...)`, `aws_iam_policy_document` or CloudFormation YAML
//! all arrive here as a `serde_json::Value`.

use crate::yaml::{line_of, list, scalar};
use crate::{Hit, Policy, Rule};
use serde_json::Value;

/// Condition keys that restrict who a `Principal "*"` statement applies to.
const RESTRICTING_KEYS: &[&str] = &[
    "aws:sourcevpce",
    "aws:sourcevpc",
    "aws:principalorgid",
    "aws:principalorgpaths",
    "aws:principalaccount",
    "aws:sourceaccount",
    "aws:sourcearn",
    "aws:sourceip",
    "aws:principalarn",
    "aws:sourceorgid",
    "aws:resourceorgid",
    "kms:calleraccount",
    "kms:viaservice",
];

/// One `Allow`/`Deny` statement, normalised.
#[derive(Debug, Default)]
pub(crate) struct Stmt {
    pub allow: bool,
    /// `Principal "*"` or `{"AWS": "*"}` (one of the identifiers is `*`).
    pub public: bool,
    /// A condition on one of [`RESTRICTING_KEYS`].
    pub restricted: bool,
    pub actions: Vec<String>,
    pub resources: Vec<String>,
}

/// A policy given as an object or as JSON text; `None` when it is neither (an unresolved
/// reference, for instance).
pub(crate) fn as_doc(v: &Value) -> Option<Value> {
    match v {
        Value::String(s) => {
            let t = s.trim();
            if t.starts_with('{') {
                serde_json::from_str(t).ok()
            } else {
                None
            }
        }
        Value::Object(_) => Some(v.clone()),
        _ => None,
    }
}

/// The statements of an AWS policy document.
pub(crate) fn statements(doc: &Value) -> Vec<Stmt> {
    let doc = match as_doc(doc) {
        Some(d) => d,
        None => return Vec::new(),
    };
    list(doc.get("Statement"))
        .into_iter()
        .map(|s| Stmt {
            allow: s.get("Effect").and_then(Value::as_str).unwrap_or("Allow") == "Allow",
            public: s.get("Principal").is_some_and(is_public_principal),
            restricted: s.get("Condition").is_some_and(restricts),
            actions: strings(s.get("Action")),
            resources: strings(s.get("Resource")),
        })
        .collect()
}

fn strings(v: Option<&Value>) -> Vec<String> {
    list(v).into_iter().filter_map(scalar).collect()
}

fn is_public_principal(p: &Value) -> bool {
    match p {
        Value::String(s) => s == "*",
        Value::Object(o) => o
            .iter()
            .filter(|(k, _)| k.as_str() == "AWS" || k.as_str() == "*")
            .any(|(_, v)| strings(Some(v)).iter().any(|s| s == "*")),
        Value::Array(a) => a.iter().any(is_public_principal),
        _ => false,
    }
}

fn restricts(c: &Value) -> bool {
    let Some(ops) = c.as_object() else {
        return false;
    };
    ops.values().any(|keys| {
        keys.as_object().is_some_and(|k| {
            k.keys()
                .any(|key| RESTRICTING_KEYS.contains(&key.to_ascii_lowercase().as_str()))
        })
    })
}

/// The first unrestricted public `Allow` statement: its actions, for the finding's detail.
pub(crate) fn public_allow(doc: &Value) -> Option<String> {
    statements(doc)
        .into_iter()
        .find(|s| s.allow && s.public && !s.restricted)
        .map(|s| format!("Principal \"*\" allowed {}", join(&s.actions)))
}

/// Whether an unrestricted public statement allows writing (puts, deletes, ACL changes).
pub(crate) fn public_write(doc: &Value) -> bool {
    statements(doc).into_iter().any(|s| {
        s.allow
            && s.public
            && !s.restricted
            && s.actions.iter().any(|a| {
                let a = a.to_ascii_lowercase();
                a == "*" || a == "s3:*" || a.starts_with("s3:put") || a.starts_with("s3:delete")
            })
    })
}

/// The first `Allow` with a wildcard action (`*`, `s3:*`, `kms:*`) on `*` or on model storage.
pub(crate) fn wildcard_on_storage(doc: &Value, policy: &Policy) -> Option<String> {
    statements(doc).into_iter().find_map(|s| {
        if !s.allow {
            return None;
        }
        let wild = s
            .actions
            .iter()
            .find(|a| matches!(a.to_ascii_lowercase().as_str(), "*" | "s3:*" | "kms:*"))?;
        let res = s.resources.iter().find(|r| {
            r.as_str() == "*"
                || (r.starts_with("arn:aws:s3:::") && policy.is_model_name(bucket_of_arn(r)))
                || (r.contains("${") && policy.is_model_name(r))
        })?;
        Some(format!("Allow {wild} on {res}"))
    })
}

/// Bucket name of an S3 ARN (`arn:aws:s3:::name/key` -> `name`).
pub(crate) fn bucket_of_arn(arn: &str) -> &str {
    let rest = arn.strip_prefix("arn:aws:s3:::").unwrap_or(arn);
    rest.split('/').next().unwrap_or(rest)
}

fn join(v: &[String]) -> String {
    if v.is_empty() {
        "(no action listed)".into()
    } else {
        v.join(", ")
    }
}

/// Members of a GCP IAM policy (`{"bindings": [{"role", "members"}]}`) that are public,
/// with their role.
pub(crate) fn gcp_public_members(doc: &Value) -> Vec<(String, String)> {
    let Some(doc) = as_doc(doc) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for b in list(doc.get("bindings")) {
        let role = b
            .get("role")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        for m in strings(b.get("members")) {
            if is_gcp_public(&m) {
                out.push((role.clone(), m));
            }
        }
    }
    out
}

/// `allUsers` / `allAuthenticatedUsers`.
pub(crate) fn is_gcp_public(member: &str) -> bool {
    matches!(member.trim(), "allUsers" | "allAuthenticatedUsers")
}

/// Checks of a standalone policy JSON file (S3 bucket / KMS key / ECR policy, IAM identity
/// policy, GCS IAM policy).
pub(crate) fn check_standalone(doc: &Value, text: &str, policy: &Policy) -> Vec<Hit> {
    let mut hits = Vec::new();
    let end = text.lines().count().max(1) as u32;
    if let Some(detail) = public_allow(doc) {
        let all: Vec<String> = statements(doc)
            .into_iter()
            .flat_map(|s| s.actions.into_iter().chain(s.resources))
            .map(|s| s.to_ascii_lowercase())
            .collect();
        let has = |p: &str| all.iter().any(|a| a.starts_with(p));
        let rule = if has("kms:") {
            Some(Rule::KmsPublicKeyPolicy)
        } else if has("ecr:") {
            Some(Rule::EcrPublicRepo)
        } else if has("s3:") || has("arn:aws:s3") {
            Some(Rule::S3PublicPolicy)
        } else {
            None
        };
        if let Some(rule) = rule {
            let line = line_of(text, 1, end, "Principal");
            let buckets: Vec<String> = all
                .iter()
                .filter(|r| r.starts_with("arn:aws:s3:::"))
                .map(|r| bucket_of_arn(r).to_string())
                .collect();
            if !buckets.iter().any(|b| policy.allowed_public(b)) {
                hits.push(Hit::new(rule, line, "policy", detail));
            }
        }
    }
    if let Some(detail) = wildcard_on_storage(doc, policy) {
        hits.push(Hit::new(
            Rule::IamWildcardStorage,
            line_of(text, 1, end, "Action"),
            "policy",
            detail,
        ));
    }
    for (role, member) in gcp_public_members(doc) {
        if role.starts_with("roles/storage.") {
            let line = line_of(text, 1, end, &member);
            hits.push(Hit::new(
                Rule::GcsPublic,
                line,
                "bindings",
                format!("{member} has {role}"),
            ));
        }
    }
    hits
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn principal_star_restricted_by_vpce_or_org_is_not_public() {
        let open = json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": ["*"]}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::m/*"}]});
        assert!(public_allow(&open).is_some());
        let vpce = json!({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*", "Condition": {"StringEquals": {"aws:SourceVpce": "vpce-1"}}}]});
        assert!(public_allow(&vpce).is_none());
        let deny = json!({"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]});
        assert!(public_allow(&deny).is_none());
        let secure_only = json!({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": "true"}}}]});
        assert!(public_allow(&secure_only).is_some());
        let text = serde_json::to_string(&open).unwrap();
        assert!(public_allow(&Value::String(text)).is_some());
    }
}
