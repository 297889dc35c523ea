//! Launch lines (shell, systemd, Dockerfile, Python), CloudFormation (YAML tags and JSON),
//! standalone policy JSON, `[iac]` configuration and inline suppressions.

mod common;
use common::{expect, hits_of, one, run_with};
use lantern_core::config::IacConfig;

#[test]
fn shell_launch_lines() {
    let sh = "#!/bin/sh\nset -e\nray start --head \\\n  --dashboard-host 0.0.0.0 --port 6379\nmlflow server --host 0.0.0.0 --port 5000\ntensorboard --logdir runs --bind_all &\n";
    expect(
        one("scripts/up.sh", sh),
        &[
            ("iac.ml.mlflow-exposed", "high", 5),
            ("iac.ml.ray-exposed", "critical", 3),
            ("iac.ml.tensorboard-exposed", "medium", 6),
        ],
    );
    let good = "#!/bin/sh\nray start --head --port 6379\nmlflow server --host 0.0.0.0 --app-name basic-auth\ntensorboard --logdir runs\nvllm serve m --api-key \"$KEY\"\n";
    expect(one("scripts/up.sh", good), &[]);
    expect(
        one("run.sh", "vllm serve meta-llama/Llama-3-8B --port 8000\n"),
        &[("iac.ml.vllm-no-api-key", "high", 1)],
    );
    expect(one("run.sh", "vllm serve m --host 127.0.0.1\n"), &[]);
}

#[test]
fn systemd_ollama_host() {
    let unit = "[Unit]\nDescription=Ollama\n[Service]\nExecStart=/usr/local/bin/ollama serve\nEnvironment=\"OLLAMA_HOST=0.0.0.0:11434\"\n";
    expect(
        one("etc/ollama.service", unit),
        &[("iac.ml.ollama-exposed", "high", 4)],
    );
    expect(
        one("etc/ollama.service", &unit.replace("0.0.0.0", "127.0.0.1")),
        &[],
    );
}

#[test]
fn dockerfile_reports_only_disabled_authentication() {
    let df = "FROM quay.io/jupyter/base-notebook\nEXPOSE 8888\nCMD [\"start-notebook.py\", \"--ip=0.0.0.0\"]\nCMD [\"jupyter\", \"lab\", \"--ip=0.0.0.0\", \"--ServerApp.token=\", \"--ServerApp.password=\"]\n";
    expect(
        one("Dockerfile", df),
        &[("iac.ml.jupyter-no-auth", "high", 4)],
    );
    expect(
        one(
            "Dockerfile",
            "FROM vllm/vllm-openai\nENTRYPOINT [\"vllm\", \"serve\", \"m\"]\n",
        ),
        &[],
    );
}

#[test]
fn python_gradio_ray_and_jupyter_config() {
    let py = "import gradio as gr\ndemo = gr.Interface(fn=f, inputs='text', outputs='text')\ndemo.launch(\n    share=True,\n)\n";
    expect(one("app.py", py), &[("iac.ml.gradio-share", "high", 3)]);
    expect(
        one(
            "app.py",
            &py.replace(
                "share=True,",
                "share=True, auth=(\"u\", os.environ[\"P\"]),",
            ),
        ),
        &[],
    );
    expect(one("app.py", &py.replace("share=True", "share=False")), &[]);
    expect(
        one("r.py", "import ray\nray.init(dashboard_host=\"0.0.0.0\")\n"),
        &[("iac.ml.ray-exposed", "critical", 2)],
    );
    expect(one("r.py", "import ray\nray.init()\n"), &[]);
    let cfg = "c.ServerApp.ip = '0.0.0.0'\nc.ServerApp.token = ''\n";
    expect(
        one("jupyter_server_config.py", cfg),
        &[("iac.ml.jupyter-no-auth", "critical", 2)],
    );
    expect(
        one(
            "jupyter_server_config.py",
            &format!("{cfg}c.ServerApp.password = 'argon2:abc'\n"),
        ),
        &[],
    );
}

const CFN: &str = r#"AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Access:
    Type: String
    Default: Enabled
Resources:
  Notebook:
    Type: AWS::SageMaker::NotebookInstance
    Properties:
      InstanceType: ml.t3.medium
      RoleArn: !GetAtt Role.Arn
      DirectInternetAccess: !Ref Access
      RootAccess: Disabled
  Studio:
    Type: AWS::SageMaker::Domain
    Properties:
      AppNetworkAccessType: PublicInternetOnly
  Weights:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: !Sub "${AWS::AccountId}-weights"
      VersioningConfiguration: {Status: Enabled}
      LoggingConfiguration: {DestinationBucketName: logs}
      BucketEncryption: {}
  WeightsPolicy:
    Type: AWS::S3::BucketPolicy
    Properties:
      Bucket: !Ref Weights
      PolicyDocument:
        Statement:
          - Effect: Allow
            Principal: "*"
            Action: s3:GetObject
            Resource: !Sub "${Weights.Arn}/*"
            CONDITION
"#;

#[test]
fn cloudformation_yaml_with_short_tags() {
    expect(
        one("cfn/ml.yaml", &CFN.replace("CONDITION", "Sid: Public")),
        &[
            ("iac.aws.s3-public-policy", "critical", 25),
            ("iac.aws.sagemaker-domain-public", "high", 14),
            ("iac.aws.sagemaker-notebook-internet", "high", 7),
        ],
    );
    let good = CFN
        .replace("Default: Enabled", "Default: Disabled")
        .replace("PublicInternetOnly", "VpcOnly")
        .replace(
            "CONDITION",
            "Condition: {StringEquals: {\"aws:SourceVpce\": vpce-1}}",
        );
    expect(one("cfn/ml.yaml", &good), &[]);
}

#[test]
fn cloudformation_json_and_security_group() {
    let j = r#"{
  "Resources": {
    "Nb": {"Type": "AWS::SageMaker::NotebookInstance", "Properties": {"DirectInternetAccess": "Disabled"}},
    "RaySg": {"Type": "AWS::EC2::SecurityGroup", "Properties": {"GroupDescription": "ray head",
      "SecurityGroupIngress": [{"IpProtocol": "tcp", "FromPort": 10001, "ToPort": 10001, "CidrIp": "0.0.0.0/0"}]}}
  }
}"#;
    expect(
        one("cfn/ml.template.json", j),
        &[
            ("iac.aws.sagemaker-notebook-root", "medium", 3),
            ("iac.aws.sg-ml-port-public", "high", 4),
        ],
    );
}

#[test]
fn standalone_policy_json() {
    let p = r#"{"Version": "2012-10-17", "Statement": [
  {"Effect": "Allow",
   "Principal": {"AWS": "*"},
   "Action": ["s3:GetObject"],
   "Resource": "arn:aws:s3:::acme-datasets/*"}]}"#;
    expect(
        one("policies/datasets.json", p),
        &[("iac.aws.s3-public-policy", "critical", 3)],
    );
    let org = p.replace(
        "\"Resource\"",
        "\"Condition\": {\"StringEquals\": {\"aws:PrincipalOrgID\": \"o-1\"}}, \"Resource\"",
    );
    expect(one("policies/datasets.json", &org), &[]);
    let gcs = r#"{"bindings": [{"role": "roles/storage.objectViewer", "members": ["allUsers"]}]}"#;
    expect(
        one("gcs-iam.json", gcs),
        &[("iac.gcp.gcs-public", "critical", 1)],
    );
    // Not a policy: package.json and friends are not read.
    expect(one("package.json", r#"{"name": "x", "Resources": 1}"#), &[]);
}

#[test]
fn config_disables_rules_allows_public_buckets_and_adds_model_patterns() {
    let t = r#"
resource "aws_s3_bucket_acl" "a" {
  bucket = "acme-public-mirror"
  acl    = "public-read"
}
resource "aws_s3_bucket" "b" {
  bucket = "acme-zoo-7"
  versioning { enabled = true }
  logging { target_bucket = "l" }
  server_side_encryption_configuration {}
}
resource "aws_sagemaker_notebook_instance" "nb" {
  direct_internet_access = "Disabled"
}
"#;
    let files = [("c/main.tf", t)];
    expect(
        hits_of(&run_with(&IacConfig::default(), &files)),
        &[
            ("iac.aws.s3-public-acl", "high", 2),
            ("iac.aws.sagemaker-notebook-root", "medium", 12),
        ],
    );
    let cfg = IacConfig {
        disabled_rules: vec!["iac.aws.sagemaker-notebook-root".into()],
        allowed_public_buckets: vec!["acme-public-*".into()],
        model_bucket_patterns: vec!["acme-zoo-*".into()],
    };
    // acme-zoo-7 is now model storage: with versioning, logging and encryption it passes.
    expect(hits_of(&run_with(&cfg, &files)), &[]);
    let bad = IacConfig {
        disabled_rules: vec!["iac.nope".into()],
        ..Default::default()
    };
    assert!(lantern_iac::IacScanner::new(&bad).is_err());
}

#[test]
fn inline_suppression_needs_a_reason() {
    let t = "resource \"aws_s3_bucket_acl\" \"a\" { # lantern:allow public mirror of open data\n  bucket = \"x\"\n  acl    = \"public-read\"\n}\n";
    let o = run_with(&IacConfig::default(), &[("s/main.tf", t)]);
    assert!(o.findings.is_empty());
    assert_eq!(o.suppressed, 1);
    let no_reason = t.replace("lantern:allow public mirror of open data", "lantern:allow");
    let o = run_with(&IacConfig::default(), &[("s/main.tf", &no_reason)]);
    assert_eq!(o.findings.len(), 1);
    assert!(
        o.warnings[0].message.contains("without a reason"),
        "{:?}",
        o.warnings
    );
}
