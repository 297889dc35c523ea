//! Checks of Terraform resources (AWS, GCP, Azure, Cloudflare) once a module's variables,
//! locals and data sources are resolved: public storage, model-bucket hygiene, wildcard IAM,
//! notebooks, and firewalls open on ML ports.

use crate::policy;
use crate::services::{services_in_range, Svc};
use crate::yaml::{list, scalar};
use crate::{Hit, Policy, Rule};
use lantern_core::Severity;
use serde_json::Value;

/// A resolved Terraform resource.
#[derive(Debug, Clone)]
pub(crate) struct Resource {
    pub kind: String,
    pub name: String,
    pub body: Value,
    pub src: usize,
    pub line: u32,
}

impl Resource {
    fn address(&self) -> String {
        format!("{}.{}", self.kind, self.name)
    }

    fn str(&self, key: &str) -> Option<&str> {
        self.body.get(key).and_then(Value::as_str)
    }

    fn bool(&self, key: &str) -> Option<bool> {
        bool_of(self.body.get(key)?)
    }

    /// First nested block `key` (blocks are lists of objects).
    fn block(&self, key: &str) -> Option<&Value> {
        first(self.body.get(key))
    }

    fn hit(&self, rule: Rule, detail: impl Into<String>) -> Hit {
        Hit {
            src: self.src,
            ..Hit::new(rule, self.line, self.address(), detail)
        }
    }
}

fn first(v: Option<&Value>) -> Option<&Value> {
    match v? {
        Value::Array(a) => a.first(),
        x => Some(x),
    }
}

fn bool_of(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s == "true" => Some(true),
        Value::String(s) if s == "false" => Some(false),
        _ => None,
    }
}

/// Everything the storage checks need to know about the buckets of a module.
struct Buckets<'a> {
    all: &'a [Resource],
    policy: &'a Policy,
}

impl<'a> Buckets<'a> {
    /// The bucket resource a `bucket = ...` value refers to (by address or by name).
    fn resolve(&self, kinds: &[&str], v: Option<&Value>) -> Option<&'a Resource> {
        let s = v.and_then(scalar)?;
        for k in kinds {
            if let Some(name) = ref_name(&s, k) {
                return self.all.iter().find(|r| r.kind == *k && r.name == name);
            }
        }
        self.all.iter().find(|r| {
            kinds.contains(&r.kind.as_str())
                && r.str("bucket").or(r.str("name")) == Some(s.as_str())
        })
    }

    /// Display name of a bucket: its `bucket`/`name` when known, else its address.
    fn display(r: &Resource) -> String {
        r.str("bucket")
            .or(r.str("name"))
            .filter(|s| !s.contains("${"))
            .map(str::to_string)
            .unwrap_or_else(|| r.address())
    }

    /// Whether a bucket holds models or datasets: by name, resource name, tags, or objects
    /// written to it.
    fn is_model(&self, r: &Resource) -> bool {
        let p = self.policy;
        let raw = r.str("bucket").unwrap_or("");
        if p.is_model_name(&Self::display(r)) || p.is_model_name(&r.name) || p.is_model_name(raw) {
            return true;
        }
        let tags = r.body.get("tags").or(r.body.get("labels"));
        if tags.and_then(Value::as_object).is_some_and(|t| {
            t.iter()
                .any(|(k, v)| p.is_model_name(k) || scalar(v).is_some_and(|v| p.is_model_name(&v)))
        }) {
            return true;
        }
        self.all.iter().any(|o| {
            matches!(o.kind.as_str(), "aws_s3_object" | "aws_s3_bucket_object")
                && self
                    .resolve(&["aws_s3_bucket"], o.body.get("bucket"))
                    .is_some_and(|b| b.name == r.name)
                && o.str("key").is_some_and(is_model_file)
        })
    }

    /// Resources of `kind` that point at bucket `b` through `key`.
    fn attached(&self, kind: &str, b: &Resource) -> Vec<&'a Resource> {
        self.all
            .iter()
            .filter(|r| r.kind == kind)
            .filter(|r| {
                self.resolve(&[b.kind.as_str()], r.body.get("bucket"))
                    .is_some_and(|x| x.name == b.name)
            })
            .collect()
    }

    fn is_website(&self, b: &Resource) -> bool {
        b.body.get("website").is_some()
            || !self
                .attached("aws_s3_bucket_website_configuration", b)
                .is_empty()
    }
}

/// Model file extensions (objects that make a bucket model storage).
fn is_model_file(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    [
        ".safetensors",
        ".gguf",
        ".pt",
        ".pth",
        ".ckpt",
        ".onnx",
        ".pkl",
        ".h5",
        ".keras",
        ".bin",
        ".parquet",
    ]
    .iter()
    .any(|e| k.ends_with(e))
}

/// `aws_s3_bucket.NAME` inside a reference string -> `NAME`.
pub(crate) fn ref_name(s: &str, kind: &str) -> Option<String> {
    let pat = format!("{kind}.");
    let mut from = 0;
    while let Some(i) = s[from..].find(&pat) {
        let at = from + i;
        from = at + pat.len();
        let before = s[..at].chars().last();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.') {
            continue;
        }
        let name: String = s[from..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '-')
            .collect();
        if !name.is_empty() {
            return Some(name);
        }
    }
    None
}

/// Run every Terraform check.
pub(crate) fn check(all: &[Resource], policy: &Policy) -> Vec<Hit> {
    let b = Buckets { all, policy };
    let mut hits = Vec::new();
    hits.extend(s3(&b));
    hits.extend(iam(all, policy));
    hits.extend(gcs(&b));
    hits.extend(azure_storage(all, policy));
    hits.extend(r2(all, policy));
    hits.extend(notebooks(all));
    hits.extend(firewalls(all));
    hits
}

/// Exposure of a bucket: the rule's hit, or `info` for a non-model website bucket, or nothing
/// for a bucket declared public on purpose.
fn exposure(b: &Buckets, via: &Resource, bucket: Option<&Resource>, h: Hit) -> Option<Hit> {
    let Some(bucket) = bucket else {
        let named = via
            .str("bucket")
            .is_some_and(|n| b.policy.allowed_public(n));
        return (!named).then_some(h);
    };
    if b.policy.allowed_public(&Buckets::display(bucket)) {
        return None;
    }
    if b.is_website(bucket) && !b.is_model(bucket) {
        let detail = format!("{} ({})", h.detail, h.rule.id());
        return Some(Hit {
            rule: Rule::S3PublicWebsite,
            severity: Severity::Info,
            detail,
            ..h
        });
    }
    Some(h)
}

fn public_acl(acl: &str) -> Option<Severity> {
    match acl {
        "public-read-write" => Some(Severity::Critical),
        "public-read" | "authenticated-read" => Some(Severity::High),
        _ => None,
    }
}

fn grants_public(r: &Resource) -> bool {
    r.block("access_control_policy")
        .map(|p| list(p.get("grant")))
        .unwrap_or_default()
        .into_iter()
        .any(|g| {
            first(g.get("grantee"))
                .and_then(|x| x.get("uri"))
                .and_then(Value::as_str)
                .is_some_and(|u| u.contains("AllUsers") || u.contains("AuthenticatedUsers"))
        })
}

fn s3(b: &Buckets) -> Vec<Hit> {
    let mut hits = Vec::new();
    for r in b.all {
        let target = match r.kind.as_str() {
            "aws_s3_bucket" => Some(r),
            "aws_s3_bucket_acl" | "aws_s3_bucket_policy" | "aws_s3_bucket_public_access_block" => {
                b.resolve(&["aws_s3_bucket"], r.body.get("bucket"))
            }
            "aws_s3_account_public_access_block" => None,
            _ => continue,
        };
        if let Some(acl) = r.str("acl") {
            if let Some(sev) = public_acl(acl) {
                hits.extend(exposure(
                    b,
                    r,
                    target,
                    r.hit(Rule::S3PublicAcl, format!("acl = \"{acl}\""))
                        .sev(sev),
                ));
            }
        }
        if grants_public(r) {
            hits.extend(exposure(
                b,
                r,
                target,
                r.hit(
                    Rule::S3PublicAcl,
                    "grant to the AllUsers/AuthenticatedUsers group",
                ),
            ));
        }
        if let Some(p) = r.body.get("policy") {
            if let Some(detail) = policy::public_allow(p) {
                let sev = if policy::public_write(p) {
                    Severity::Critical
                } else {
                    Rule::S3PublicPolicy.severity()
                };
                hits.extend(exposure(
                    b,
                    r,
                    target,
                    r.hit(Rule::S3PublicPolicy, detail).sev(sev),
                ));
            }
        }
        if r.kind.ends_with("public_access_block") {
            let off: Vec<&str> = [
                "block_public_acls",
                "block_public_policy",
                "ignore_public_acls",
                "restrict_public_buckets",
            ]
            .into_iter()
            .filter(|k| r.bool(k) == Some(false))
            .collect();
            let on_purpose = target.is_some_and(|t| {
                b.policy.allowed_public(&Buckets::display(t)) || (b.is_website(t) && !b.is_model(t))
            });
            if !off.is_empty() && !on_purpose {
                hits.push(r.hit(
                    Rule::S3PublicAccessBlockOff,
                    format!("{} = false", off.join(", ")),
                ));
            }
        }
        if r.kind == "aws_s3_bucket" && b.is_model(r) {
            hits.extend(s3_hygiene(b, r));
        }
    }
    hits
}

fn s3_hygiene(b: &Buckets, r: &Resource) -> Vec<Hit> {
    let mut hits = Vec::new();
    let name = Buckets::display(r);
    let versioned = r
        .block("versioning")
        .and_then(|v| v.get("enabled"))
        .and_then(bool_of)
        == Some(true)
        || b.attached("aws_s3_bucket_versioning", r).iter().any(|v| {
            v.block("versioning_configuration")
                .and_then(|c| c.get("status"))
                .and_then(Value::as_str)
                == Some("Enabled")
        });
    if !versioned {
        hits.push(r.hit(
            Rule::ModelBucketNoVersioning,
            format!("model bucket {name} has no versioning enabled"),
        ));
    }
    if r.body.get("logging").is_none() && b.attached("aws_s3_bucket_logging", r).is_empty() {
        hits.push(r.hit(
            Rule::ModelBucketNoLogging,
            format!("model bucket {name} has no access logging"),
        ));
    }
    if r.body.get("server_side_encryption_configuration").is_none()
        && b.attached("aws_s3_bucket_server_side_encryption_configuration", r)
            .is_empty()
    {
        hits.push(r.hit(
            Rule::ModelBucketUnencrypted,
            format!("model bucket {name} declares no server-side encryption"),
        ));
    }
    hits
}

fn iam(all: &[Resource], p: &Policy) -> Vec<Hit> {
    let mut hits = Vec::new();
    for r in all {
        let key = match r.kind.as_str() {
            "aws_iam_policy"
            | "aws_iam_role_policy"
            | "aws_iam_user_policy"
            | "aws_iam_group_policy"
            | "aws_s3_bucket_policy"
            | "aws_kms_key"
            | "aws_kms_key_policy" => "policy",
            "aws_ecr_repository_policy" | "aws_ecrpublic_repository_policy" => "policy",
            "aws_iam_role" => "inline_policy",
            _ => continue,
        };
        let docs: Vec<&Value> = if key == "inline_policy" {
            list(r.body.get("inline_policy"))
                .into_iter()
                .filter_map(|b| b.get("policy"))
                .collect()
        } else {
            r.body.get(key).into_iter().collect()
        };
        for doc in docs {
            if let Some(d) = policy::wildcard_on_storage(doc, p) {
                hits.push(r.hit(Rule::IamWildcardStorage, d));
            }
            if r.kind.starts_with("aws_kms_key") {
                if let Some(d) = policy::public_allow(doc) {
                    hits.push(r.hit(Rule::KmsPublicKeyPolicy, d));
                }
            }
            if r.kind.starts_with("aws_ecr") {
                if let Some(d) = policy::public_allow(doc) {
                    hits.push(r.hit(Rule::EcrPublicRepo, d));
                }
            }
        }
        let _ = key;
    }
    for r in all.iter().filter(|r| {
        r.kind
            .starts_with("google_artifact_registry_repository_iam_")
    }) {
        let members: Vec<String> = list(r.body.get("member"))
            .into_iter()
            .chain(list(r.body.get("members")))
            .filter_map(scalar)
            .filter(|m| policy::is_gcp_public(m))
            .collect();
        let repo = r.str("repository").unwrap_or(&r.name);
        if !members.is_empty() && image_repo_name(repo, p) {
            hits.push(r.hit(
                Rule::ArtifactRegistryPublic,
                format!("{} can pull from {repo}", members.join(", ")),
            ));
        }
    }
    for r in all.iter().filter(|r| r.kind == "aws_ecrpublic_repository") {
        let name = r.str("repository_name").unwrap_or(&r.name);
        if image_repo_name(name, p) {
            hits.push(r.hit(Rule::EcrPublicRepo, format!("public ECR repository {name}")));
        }
    }
    hits
}

/// Whether a container repository name looks like model or inference images.
fn image_repo_name(name: &str, p: &Policy) -> bool {
    p.is_model_name(name)
        || Svc::by_hint(name).is_some()
        || name.contains("inference")
        || name.contains("serving")
}

fn gcs(b: &Buckets) -> Vec<Hit> {
    let mut hits = Vec::new();
    for r in b.all {
        let members: Vec<String> = match r.kind.as_str() {
            "google_storage_bucket_iam_member" => {
                r.str("member").map(str::to_string).into_iter().collect()
            }
            "google_storage_bucket_iam_binding" => list(r.body.get("members"))
                .into_iter()
                .filter_map(scalar)
                .collect(),
            "google_storage_bucket_iam_policy" => r
                .body
                .get("policy_data")
                .map(policy::gcp_public_members)
                .unwrap_or_default()
                .into_iter()
                .map(|(role, m)| format!("{m} ({role})"))
                .collect(),
            "google_storage_bucket_acl"
            | "google_storage_default_object_acl"
            | "google_storage_object_acl" => {
                let mut v: Vec<String> = list(r.body.get("role_entity"))
                    .into_iter()
                    .filter_map(scalar)
                    .collect();
                v.extend(
                    r.str("predefined_acl")
                        .filter(|a| a.starts_with("public"))
                        .map(str::to_string),
                );
                v
            }
            "google_storage_bucket_access_control"
            | "google_storage_default_object_access_control"
            | "google_storage_object_access_control" => {
                r.str("entity").map(str::to_string).into_iter().collect()
            }
            "google_storage_bucket" => {
                if b.is_model(r) {
                    hits.extend(gcs_hygiene(r));
                }
                continue;
            }
            _ => continue,
        };
        let public: Vec<&String> = members
            .iter()
            .filter(|m| {
                m.contains("allUsers")
                    || m.contains("allAuthenticatedUsers")
                    || m.starts_with("public")
            })
            .collect();
        if public.is_empty() {
            continue;
        }
        let bucket = b.resolve(&["google_storage_bucket"], r.body.get("bucket"));
        if bucket.is_some_and(|x| b.policy.allowed_public(&Buckets::display(x)))
            || r.str("bucket").is_some_and(|n| b.policy.allowed_public(n))
        {
            continue;
        }
        let website = bucket.is_some_and(|x| x.body.get("website").is_some() && !b.is_model(x));
        let h = r.hit(
            Rule::GcsPublic,
            format!(
                "granted to {}",
                public
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
        hits.push(if website {
            Hit {
                rule: Rule::S3PublicWebsite,
                severity: Severity::Info,
                ..h
            }
        } else {
            h
        });
    }
    hits
}

fn gcs_hygiene(r: &Resource) -> Vec<Hit> {
    let mut hits = Vec::new();
    if r.block("versioning")
        .and_then(|v| v.get("enabled"))
        .and_then(bool_of)
        != Some(true)
    {
        hits.push(r.hit(
            Rule::ModelBucketNoVersioning,
            "model bucket has no versioning enabled",
        ));
    }
    if r.body.get("logging").is_none() {
        hits.push(r.hit(
            Rule::ModelBucketNoLogging,
            "model bucket has no access logging",
        ));
    }
    hits
}

fn azure_storage(all: &[Resource], p: &Policy) -> Vec<Hit> {
    let mut hits = Vec::new();
    for r in all {
        match r.kind.as_str() {
            "azurerm_storage_container" => {
                let access = r.str("container_access_type").unwrap_or("private");
                let name = r.str("name").unwrap_or(&r.name);
                if matches!(access, "blob" | "container") && !p.allowed_public(name) {
                    hits.push(r.hit(
                        Rule::AzureContainerPublic,
                        format!("container_access_type = \"{access}\""),
                    ));
                }
            }
            "azurerm_storage_account" => {
                for k in [
                    "allow_nested_items_to_be_public",
                    "allow_blob_public_access",
                ] {
                    if r.bool(k) == Some(true) {
                        hits.push(r.hit(Rule::AzureNestedPublic, format!("{k} = true")));
                    }
                }
            }
            _ => {}
        }
    }
    hits
}

fn r2(all: &[Resource], p: &Policy) -> Vec<Hit> {
    let mut hits = Vec::new();
    for r in all {
        let rule = match r.kind.as_str() {
            "cloudflare_r2_managed_domain" => Rule::R2DevDomain,
            "cloudflare_r2_custom_domain" => Rule::R2CustomDomain,
            _ => continue,
        };
        if r.bool("enabled") != Some(true) {
            continue;
        }
        let bucket = r.str("bucket_name").unwrap_or("");
        if p.allowed_public(bucket) {
            continue;
        }
        let mut h = r.hit(rule, format!("bucket {bucket} served publicly"));
        if rule == Rule::R2CustomDomain && p.is_model_name(bucket) {
            h = h.sev(Severity::High);
        }
        hits.push(h);
    }
    hits
}

/// Notebook settings that are unsafe unless set to the safe value: (resource type, attribute,
/// safe value, rule, detail).
const NOTEBOOK_SETTINGS: &[(&str, &str, &str, Rule, &str)] = &[
    (
        "aws_sagemaker_notebook_instance",
        "direct_internet_access",
        "Disabled",
        Rule::SageMakerNotebookInternet,
        "direct_internet_access is Enabled (the default)",
    ),
    (
        "aws_sagemaker_notebook_instance",
        "root_access",
        "Disabled",
        Rule::SageMakerNotebookRoot,
        "root_access is Enabled (the default)",
    ),
    (
        "aws_sagemaker_domain",
        "app_network_access_type",
        "VpcOnly",
        Rule::SageMakerDomainPublic,
        "app_network_access_type is PublicInternetOnly (the default)",
    ),
    (
        "google_notebooks_instance",
        "no_public_ip",
        "true",
        Rule::VertexWorkbenchPublicIp,
        "no_public_ip is not true",
    ),
    (
        "azurerm_machine_learning_compute_instance",
        "node_public_ip_enabled",
        "false",
        Rule::AzureMlComputePublicIp,
        "node_public_ip_enabled is true (the default)",
    ),
    (
        "azurerm_machine_learning_compute_cluster",
        "node_public_ip_enabled",
        "false",
        Rule::AzureMlComputePublicIp,
        "node_public_ip_enabled is true (the default)",
    ),
];

fn notebooks(all: &[Resource]) -> Vec<Hit> {
    let mut hits = Vec::new();
    for r in all {
        for (kind, attr, safe, rule, detail) in NOTEBOOK_SETTINGS {
            if r.kind == *kind && r.body.get(*attr).and_then(scalar).as_deref() != Some(*safe) {
                hits.push(r.hit(*rule, *detail));
            }
        }
        if r.kind == "google_workbench_instance" {
            let setup = r.block("gce_setup");
            if setup
                .and_then(|s| s.get("disable_public_ip"))
                .and_then(bool_of)
                != Some(true)
            {
                hits.push(r.hit(
                    Rule::VertexWorkbenchPublicIp,
                    "gce_setup.disable_public_ip is not true",
                ));
            }
            let meta = setup.and_then(|s| s.get("metadata"));
            if meta
                .and_then(|m| m.get("notebook-disable-root"))
                .and_then(scalar)
                .as_deref()
                == Some("false")
            {
                hits.push(r.hit(Rule::VertexWorkbenchRoot, "notebook-disable-root = false"));
            }
        }
    }
    hits
}

fn is_world(s: &str) -> bool {
    matches!(
        s.trim(),
        "0.0.0.0/0" | "::/0" | "*" | "Internet" | "Any" | "any"
    )
}

fn port_of(v: Option<&Value>) -> Option<u16> {
    scalar(v?)?.parse().ok()
}

/// `"8265"`, `"8000-9000"`, `"*"` -> inclusive range.
fn range_of(s: &str) -> Option<(u16, u16)> {
    let s = s.trim();
    if s == "*" {
        return Some((0, 65535));
    }
    match s.split_once('-') {
        Some((a, b)) => Some((a.trim().parse().ok()?, b.trim().parse().ok()?)),
        None => s.parse().ok().map(|p| (p, p)),
    }
}

fn ml_hint(r: &Resource, extra: &[Option<&str>]) -> Option<Svc> {
    let mut text = format!(
        "{} {} {}",
        r.name,
        r.str("name").unwrap_or(""),
        r.str("description").unwrap_or("")
    );
    for e in extra.iter().flatten() {
        text.push(' ');
        text.push_str(e);
    }
    if let Some(t) = r.body.get("tags").and_then(Value::as_object) {
        for v in t.values().filter_map(scalar) {
            text.push(' ');
            text.push_str(&v);
        }
    }
    for t in list(r.body.get("target_tags"))
        .into_iter()
        .filter_map(scalar)
    {
        text.push(' ');
        text.push_str(&t);
    }
    Svc::by_hint(&text)
}

fn open_hits(
    r: &Resource,
    rule: Rule,
    from: u16,
    to: u16,
    hint: Option<Svc>,
    what: &str,
) -> Vec<Hit> {
    services_in_range(from, to, hint)
        .into_iter()
        .map(|(s, p)| {
            r.hit(
                rule,
                format!(
                    "{what} open to the internet on {from}-{to}, which includes {} port {p}",
                    s.name()
                ),
            )
        })
        .collect()
}

fn sg_rule(r: &Resource, rule: &Value, hint: Option<Svc>) -> Vec<Hit> {
    let cidrs: Vec<String> = ["cidr_blocks", "ipv6_cidr_blocks", "cidr_ipv4", "cidr_ipv6"]
        .iter()
        .flat_map(|k| list(rule.get(*k)))
        .filter_map(scalar)
        .collect();
    if !cidrs.iter().any(|c| is_world(c)) {
        return Vec::new();
    }
    let proto = rule
        .get("protocol")
        .or(rule.get("ip_protocol"))
        .and_then(scalar)
        .unwrap_or_default();
    let (from, to) = if proto == "-1" || proto == "all" {
        (0, 65535)
    } else {
        match (port_of(rule.get("from_port")), port_of(rule.get("to_port"))) {
            (Some(a), Some(b)) => (a, b),
            _ => return Vec::new(),
        }
    };
    open_hits(r, Rule::SgMlPortPublic, from, to, hint, "security group")
}

fn firewalls(all: &[Resource]) -> Vec<Hit> {
    let mut hits = Vec::new();
    for r in all {
        match r.kind.as_str() {
            "aws_security_group" => {
                let hint = ml_hint(r, &[]);
                for i in list(r.body.get("ingress")) {
                    hits.extend(sg_rule(r, i, hint));
                }
            }
            // A standalone ingress rule: its group's names hint at the service behind it.
            "aws_security_group_rule" | "aws_vpc_security_group_ingress_rule"
                if r.kind != "aws_security_group_rule" || r.str("type") == Some("ingress") =>
            {
                let sg = r
                    .str("security_group_id")
                    .and_then(|s| ref_name(s, "aws_security_group"));
                let sg = sg.and_then(|n| {
                    all.iter()
                        .find(|x| x.kind == "aws_security_group" && x.name == n)
                });
                let hint = ml_hint(
                    r,
                    &[
                        sg.map(|s| s.name.as_str()),
                        sg.and_then(|s| s.str("name")),
                        sg.and_then(|s| s.str("description")),
                    ],
                );
                hits.extend(sg_rule(r, &r.body, hint));
            }
            "google_compute_firewall" => hits.extend(gcp_firewall(r)),
            "azurerm_network_security_rule" => hits.extend(nsg_rule(r, &r.body, ml_hint(r, &[]))),
            "azurerm_network_security_group" => {
                let hint = ml_hint(r, &[]);
                for s in list(r.body.get("security_rule")) {
                    let h = hint
                        .or_else(|| s.get("name").and_then(Value::as_str).and_then(Svc::by_hint));
                    hits.extend(nsg_rule(r, s, h));
                }
            }
            _ => {}
        }
    }
    hits
}

fn gcp_firewall(r: &Resource) -> Vec<Hit> {
    let ingress = r.str("direction").is_none_or(|d| d == "INGRESS");
    let world = list(r.body.get("source_ranges"))
        .into_iter()
        .filter_map(scalar)
        .any(|c| is_world(&c));
    if !ingress || !world {
        return Vec::new();
    }
    let hint = ml_hint(r, &[]);
    let mut hits = Vec::new();
    for a in list(r.body.get("allow")) {
        let ports: Vec<String> = list(a.get("ports"))
            .into_iter()
            .filter_map(scalar)
            .collect();
        if ports.is_empty() {
            hits.extend(open_hits(
                r,
                Rule::GcpFirewallMlPortPublic,
                0,
                65535,
                hint,
                "firewall",
            ));
        }
        for p in ports {
            if let Some((from, to)) = range_of(&p) {
                hits.extend(open_hits(
                    r,
                    Rule::GcpFirewallMlPortPublic,
                    from,
                    to,
                    hint,
                    "firewall",
                ));
            }
        }
    }
    hits
}

fn nsg_rule(r: &Resource, rule: &Value, hint: Option<Svc>) -> Vec<Hit> {
    let s = |k: &str| rule.get(k).and_then(Value::as_str).unwrap_or("");
    if !s("direction").eq_ignore_ascii_case("inbound") || !s("access").eq_ignore_ascii_case("allow")
    {
        return Vec::new();
    }
    let sources: Vec<String> = list(rule.get("source_address_prefix"))
        .into_iter()
        .chain(list(rule.get("source_address_prefixes")))
        .filter_map(scalar)
        .collect();
    if !sources.iter().any(|c| is_world(c)) {
        return Vec::new();
    }
    let ports: Vec<String> = list(rule.get("destination_port_range"))
        .into_iter()
        .chain(list(rule.get("destination_port_ranges")))
        .filter_map(scalar)
        .collect();
    let mut hits = Vec::new();
    for p in ports {
        if let Some((from, to)) = range_of(&p) {
            hits.extend(open_hits(
                r,
                Rule::AzureNsgMlPortPublic,
                from,
                to,
                hint,
                "network security rule",
            ));
        }
    }
    hits
}
