//! CloudFormation templates (YAML with short tags, or JSON): resources are translated to the
//! Terraform shapes the checks in `cloud` read, so one copy of each check serves both languages.
//! `!Ref` to a parameter resolves to its default; findings name the logical id and type.

use crate::cloud::{self, Resource};
use crate::yaml::{line_of, list, scalar, Doc};
use crate::{Hit, Policy};
use serde_json::{json, Map, Value};
use std::collections::HashMap;

/// Whether the documents are a CloudFormation template.
pub(crate) fn is_template(docs: &[Doc]) -> bool {
    docs.iter().any(|d| {
        d.value.get("AWSTemplateFormatVersion").is_some()
            || d.value
                .get("Resources")
                .and_then(Value::as_object)
                .is_some_and(|r| {
                    r.values().any(|x| {
                        x.get("Type")
                            .and_then(Value::as_str)
                            .is_some_and(|t| t.starts_with("AWS::"))
                    })
                })
    })
}

struct Tr<'a> {
    params: HashMap<String, Value>,
    types: HashMap<String, &'a str>,
}

impl Tr<'_> {
    /// A property value with `Ref`s to parameters resolved and `Ref`/`GetAtt` to resources
    /// written as Terraform references.
    fn val(&self, v: Option<&Value>) -> Value {
        let Some(v) = v else { return Value::Null };
        if let Some(r) = v.get("Ref").and_then(Value::as_str) {
            if let Some(p) = self.params.get(r) {
                return p.clone();
            }
            return self.reference(r);
        }
        if let Some(a) = v.get("Fn::GetAtt") {
            let id = match a {
                Value::Array(x) => x.first().and_then(Value::as_str).unwrap_or(""),
                Value::String(s) => s.split('.').next().unwrap_or(""),
                _ => "",
            };
            return self.reference(id);
        }
        if let Some(s) = v.get("Fn::Sub") {
            let s = match s {
                Value::Array(x) => x.first().and_then(Value::as_str).unwrap_or(""),
                x => x.as_str().unwrap_or(""),
            };
            let mut out = s.to_string();
            for (k, p) in &self.params {
                if let Some(p) = scalar(p) {
                    out = out.replace(&format!("${{{k}}}"), &p);
                }
            }
            return Value::String(out);
        }
        match v {
            Value::Array(a) => Value::Array(a.iter().map(|x| self.val(Some(x))).collect()),
            Value::Object(o) => Value::Object(
                o.iter()
                    .map(|(k, x)| (k.clone(), self.val(Some(x))))
                    .collect(),
            ),
            x => x.clone(),
        }
    }

    fn reference(&self, id: &str) -> Value {
        match self.types.get(id).and_then(|t| tf_kind(t)) {
            Some(k) => Value::String(format!("${{{k}.{id}.id}}")),
            None => Value::String(format!("${{{id}}}")),
        }
    }
}

fn tf_kind(t: &str) -> Option<&'static str> {
    Some(match t {
        "AWS::S3::Bucket" => "aws_s3_bucket",
        "AWS::S3::BucketPolicy" => "aws_s3_bucket_policy",
        "AWS::IAM::Policy" | "AWS::IAM::ManagedPolicy" => "aws_iam_policy",
        "AWS::IAM::Role" => "aws_iam_role",
        "AWS::KMS::Key" => "aws_kms_key",
        "AWS::ECR::Repository" => "aws_ecr_repository_policy",
        "AWS::ECR::PublicRepository" => "aws_ecrpublic_repository",
        "AWS::SageMaker::NotebookInstance" => "aws_sagemaker_notebook_instance",
        "AWS::SageMaker::Domain" => "aws_sagemaker_domain",
        "AWS::EC2::SecurityGroup" => "aws_security_group",
        "AWS::EC2::SecurityGroupIngress" => "aws_security_group_rule",
        _ => return None,
    })
}

fn tags(tr: &Tr, p: &Value) -> Value {
    let mut m = Map::new();
    for t in list(p.get("Tags")) {
        if let (Some(k), v) = (t.get("Key").and_then(Value::as_str), tr.val(t.get("Value"))) {
            m.insert(k.to_string(), v);
        }
    }
    Value::Object(m)
}

fn acl(a: &str) -> &'static str {
    match a {
        "PublicRead" => "public-read",
        "PublicReadWrite" => "public-read-write",
        "AuthenticatedRead" => "authenticated-read",
        _ => "private",
    }
}

fn ingress(tr: &Tr, r: &Value) -> Value {
    json!({
        "from_port": tr.val(r.get("FromPort")),
        "to_port": tr.val(r.get("ToPort")),
        "protocol": tr.val(r.get("IpProtocol")),
        "cidr_blocks": [tr.val(r.get("CidrIp"))],
        "ipv6_cidr_blocks": [tr.val(r.get("CidrIpv6"))],
    })
}

/// The Terraform-shaped resources of one CloudFormation resource.
fn translate(tr: &Tr, id: &str, ty: &str, p: &Value) -> Vec<(&'static str, String, Value)> {
    let Some(kind) = tf_kind(ty) else {
        return Vec::new();
    };
    let v = |k: &str| tr.val(p.get(k));
    let body = match ty {
        "AWS::S3::Bucket" => {
            let mut extra = Vec::new();
            if let Some(pab) = p.get("PublicAccessBlockConfiguration") {
                extra.push((
                    "aws_s3_bucket_public_access_block",
                    id.to_string(),
                    json!({
                        "bucket": format!("${{aws_s3_bucket.{id}.id}}"),
                        "block_public_acls": tr.val(pab.get("BlockPublicAcls")),
                        "block_public_policy": tr.val(pab.get("BlockPublicPolicy")),
                        "ignore_public_acls": tr.val(pab.get("IgnorePublicAcls")),
                        "restrict_public_buckets": tr.val(pab.get("RestrictPublicBuckets")),
                    }),
                ));
            }
            let mut b = json!({
                "bucket": v("BucketName"),
                "acl": p.get("AccessControl").and_then(Value::as_str).map(acl),
                "tags": tags(tr, p),
                "versioning": [{"enabled": get_str(p, &["VersioningConfiguration", "Status"]) == Some("Enabled")}],
            });
            if let Value::Object(o) = &mut b {
                for (from, to) in [
                    ("WebsiteConfiguration", "website"),
                    ("LoggingConfiguration", "logging"),
                    ("BucketEncryption", "server_side_encryption_configuration"),
                ] {
                    if p.get(from).is_some() {
                        o.insert(to.into(), json!([{}]));
                    }
                }
            }
            extra.insert(0, (kind, id.to_string(), b));
            return extra;
        }
        "AWS::S3::BucketPolicy" => json!({"bucket": v("Bucket"), "policy": v("PolicyDocument")}),
        "AWS::IAM::Policy" | "AWS::IAM::ManagedPolicy" => json!({"policy": v("PolicyDocument")}),
        "AWS::IAM::Role" => {
            json!({"inline_policy": list(p.get("Policies")).into_iter().map(|x| json!({"policy": tr.val(x.get("PolicyDocument"))})).collect::<Vec<_>>()})
        }
        "AWS::KMS::Key" => json!({"policy": v("KeyPolicy")}),
        "AWS::ECR::Repository" => {
            json!({"policy": v("RepositoryPolicyText"), "repository": v("RepositoryName")})
        }
        "AWS::ECR::PublicRepository" => json!({"repository_name": v("RepositoryName")}),
        "AWS::SageMaker::NotebookInstance" => {
            json!({"direct_internet_access": v("DirectInternetAccess"), "root_access": v("RootAccess")})
        }
        "AWS::SageMaker::Domain" => json!({"app_network_access_type": v("AppNetworkAccessType")}),
        "AWS::EC2::SecurityGroup" => json!({
            "name": v("GroupName"),
            "description": v("GroupDescription"),
            "tags": tags(tr, p),
            "ingress": list(p.get("SecurityGroupIngress")).into_iter().map(|r| ingress(tr, r)).collect::<Vec<_>>(),
        }),
        "AWS::EC2::SecurityGroupIngress" => {
            let mut b = ingress(tr, p);
            if let Value::Object(o) = &mut b {
                o.insert("type".into(), Value::from("ingress"));
                o.insert("security_group_id".into(), v("GroupId"));
                o.insert("cidr_ipv4".into(), v("CidrIp"));
            }
            b
        }
        _ => return Vec::new(),
    };
    vec![(kind, id.to_string(), body)]
}

fn get_str<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    crate::yaml::get(v, path).and_then(Value::as_str)
}

/// Checks of a CloudFormation template.
pub(crate) fn check(docs: &[Doc], text: &str, policy: &Policy) -> Vec<Hit> {
    let mut hits = Vec::new();
    for d in docs {
        let Some(res) = d.value.get("Resources").and_then(Value::as_object) else {
            continue;
        };
        let params = d
            .value
            .get("Parameters")
            .and_then(Value::as_object)
            .map(|p| {
                p.iter()
                    .filter_map(|(k, x)| Some((k.clone(), x.get("Default")?.clone())))
                    .collect()
            })
            .unwrap_or_default();
        let types = res
            .iter()
            .filter_map(|(k, x)| Some((k.clone(), x.get("Type")?.as_str()?)))
            .collect();
        let tr = Tr { params, types };
        let mut resources = Vec::new();
        let mut names = HashMap::new();
        for (id, r) in res {
            let ty = r.get("Type").and_then(Value::as_str).unwrap_or("");
            let props = r
                .get("Properties")
                .cloned()
                .unwrap_or(Value::Object(Map::new()));
            let line = line_of(text, d.start, d.end, &format!("{id}:"));
            let line = if line == d.start {
                line_of(text, d.start, d.end, &format!("\"{id}\""))
            } else {
                line
            };
            for (kind, name, body) in translate(&tr, id, ty, &props) {
                names.insert(format!("{kind}.{name}"), format!("{id} ({ty})"));
                resources.push(Resource {
                    kind: kind.into(),
                    name,
                    body,
                    src: 0,
                    line,
                });
            }
        }
        for mut h in cloud::check(&resources, policy) {
            if let Some(n) = names.get(&h.address) {
                h.address = n.clone();
            }
            hits.push(h);
        }
    }
    hits
}
