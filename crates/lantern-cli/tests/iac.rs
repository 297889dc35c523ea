//! End-to-end tests of the `iac` analyser through `lantern scan`: a Terraform module spread over
//! files, Kubernetes and compose files, near misses, malformed input, `[iac]` configuration.
#![allow(clippy::unwrap_used)]

use assert_cmd::Command;
use serde_json::Value;
use std::path::Path;

fn scan(dir: &Path, args: &[&str]) -> (i32, Value, String) {
    let out = Command::cargo_bin("lantern")
        .unwrap()
        .env("NO_COLOR", "1")
        .current_dir(dir)
        .args(["scan", "--format", "json", "--no-progress"])
        .args(args)
        .arg(".")
        .output()
        .unwrap();
    // Errors (exit 2) print nothing on standard output.
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (
        out.status.code().unwrap_or(-1),
        v,
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

/// (rule, severity, path, line, resource) of every finding.
fn findings(v: &Value) -> Vec<(String, String, String, u64, String)> {
    let mut out: Vec<_> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let l = &f["locations"][0];
            (
                f["rule_id"].as_str().unwrap().to_string(),
                f["severity"].as_str().unwrap().to_string(),
                l["path"].as_str().unwrap().to_string(),
                l["line"].as_u64().unwrap_or(0),
                f["properties"]["resource"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

fn write(dir: &Path, files: &[(&str, &str)]) {
    for (p, t) in files {
        let path = dir.join(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, t).unwrap();
    }
}

const VARS: &str = "variable \"bucket\" {\n  default = \"acme-site\"\n}\n";
const POLICY: &str = r#"resource "aws_s3_bucket_policy" "p" {
  bucket = var.bucket
  policy = jsonencode({
    Statement = [{ Effect = "Allow", Principal = "*", Action = "s3:GetObject", Resource = "arn:aws:s3:::${var.bucket}/*" }]
  })
}
"#;
const RAY: &str = "apiVersion: v1\nkind: Service\nmetadata:\n  name: ray-head-svc\nspec:\n  type: NodePort\n  ports:\n    - port: 8265\n";

#[test]
fn module_across_files_and_manifests_are_reported_with_line_and_resource() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        &[
            ("infra/variables.tf", VARS),
            ("infra/s3.tf", POLICY),
            ("k8s/ray.yaml", RAY),
        ],
    );
    let (code, v, _) = scan(d.path(), &["--only", "iac"]);
    assert_eq!(code, 1);
    assert_eq!(
        findings(&v),
        vec![
            (
                "iac.aws.s3-public-policy".into(),
                "critical".into(),
                "infra/s3.tf".into(),
                1,
                "aws_s3_bucket_policy.p".into()
            ),
            (
                "iac.ml.ray-exposed".into(),
                "critical".into(),
                "k8s/ray.yaml".into(),
                6,
                "Service/ray-head-svc".into()
            ),
        ]
    );
    assert!(v["findings"][0]["properties"]["fix"]
        .as_str()
        .unwrap()
        .contains("aws:SourceVpce"));
    // On by default, next to the other analysers.
    let (code, v, _) = scan(d.path(), &[]);
    assert_eq!(code, 1);
    assert_eq!(findings(&v).len(), 2);
}

#[test]
fn near_misses_exit_zero_and_config_knobs_apply() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        &[
            ("infra/variables.tf", VARS),
            ("k8s/ray.yaml", &RAY.replace("NodePort", "ClusterIP")),
            ("compose.yaml", "services:\n  mlflow:\n    image: ghcr.io/mlflow/mlflow\n    ports: [\"127.0.0.1:5000:5000\"]\n"),
        ],
    );
    let (code, v, _) = scan(d.path(), &["--only", "iac"]);
    assert_eq!((code, findings(&v).len()), (0, 0), "{v}");

    write(d.path(), &[("infra/s3.tf", POLICY)]);
    write(
        d.path(),
        &[(
            "lantern.toml",
            "[iac]\nallowed_public_buckets = [\"acme-site\"]\n",
        )],
    );
    let (code, v, _) = scan(d.path(), &["--only", "iac"]);
    assert_eq!((code, findings(&v).len()), (0, 0), "{v}");

    write(
        d.path(),
        &[(
            "lantern.toml",
            "[iac]\ndisabled_rules = [\"iac.aws.s3-public-policy\"]\n",
        )],
    );
    let (code, _, _) = scan(d.path(), &["--only", "iac"]);
    assert_eq!(code, 0);

    write(
        d.path(),
        &[(
            "lantern.toml",
            "[iac]\ndisabled_rules = [\"iac.aws.nope\"]\n",
        )],
    );
    let (code, _, err) = scan(d.path(), &["--only", "iac"]);
    assert_eq!(code, 2);
    assert!(err.contains("iac.aws.nope"), "{err}");
}

#[test]
fn malformed_files_are_warnings_not_passes() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        &[
            (
                "infra/main.tf",
                "resource \"aws_s3_bucket\" \"x\" {\n  acl = \n",
            ),
            ("k8s/bad.yaml", "kind: Service\nspec: {type: [\n"),
        ],
    );
    let (code, v, _) = scan(d.path(), &["--only", "iac"]);
    assert_eq!(code, 0);
    let warnings: Vec<&str> = v["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["path"].as_str().unwrap())
        .collect();
    assert_eq!(warnings, vec!["infra/main.tf", "k8s/bad.yaml"]);
}

#[test]
fn human_output_names_resource_and_fix() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), &[("k8s/ray.yaml", RAY)]);
    let out = Command::cargo_bin("lantern")
        .unwrap()
        .env("NO_COLOR", "1")
        .current_dir(d.path())
        .args([
            "scan",
            "--only",
            "iac",
            "--no-progress",
            "--color",
            "never",
            ".",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("iac.ml.ray-exposed"), "{text}");
    assert!(text.contains("k8s/ray.yaml:6"), "{text}");
    assert!(
        text.contains("Service/ray-head-svc: Ray port 8265 exposed by a NodePort Service"),
        "{text}"
    );
    assert!(text.contains("fix: keep Ray ports"), "{text}");
}
