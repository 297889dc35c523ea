//! Terraform checks: each bad example next to its near miss, through the public scanner.

mod common;
use common::{expect, hits, one};

#[test]
fn s3_policy_principal_star_via_jsonencode_and_its_vpce_near_miss() {
    let bad = r#"
resource "aws_s3_bucket" "weights" {
  bucket = "acme-weights"
}

resource "aws_s3_bucket_versioning" "v" {
  bucket = aws_s3_bucket.weights.id
  versioning_configuration { status = "Enabled" }
}

resource "aws_s3_bucket_logging" "l" {
  bucket        = aws_s3_bucket.weights.id
  target_bucket = "logs"
}

resource "aws_s3_bucket_server_side_encryption_configuration" "e" {
  bucket = aws_s3_bucket.weights.id
  rule {
    apply_server_side_encryption_by_default { sse_algorithm = "aws:kms" }
  }
}

resource "aws_s3_bucket_policy" "public" {
  bucket = aws_s3_bucket.weights.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = "*"
      Action    = ["s3:GetObject"]
      Resource  = "${aws_s3_bucket.weights.arn}/*"
    }]
  })
}
"#;
    expect(
        one("infra/s3.tf", bad),
        &[("iac.aws.s3-public-policy", "critical", 23)],
    );
    let good = bad.replace(
        r#"Resource  = "${aws_s3_bucket.weights.arn}/*""#,
        r#"Resource  = "${aws_s3_bucket.weights.arn}/*"
      Condition = { StringEquals = { "aws:SourceVpce" = "vpce-0abc" } }"#,
    );
    expect(one("infra/s3.tf", &good), &[]);
}

#[test]
fn policy_document_data_source_and_heredoc_are_read() {
    let doc = r#"
data "aws_iam_policy_document" "read" {
  statement {
    actions   = ["s3:GetObject"]
    resources = ["arn:aws:s3:::site/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    CONDITION
  }
}

resource "aws_s3_bucket_policy" "p" {
  bucket = "site"
  policy = data.aws_iam_policy_document.read.json
}
"#;
    expect(
        one("a/main.tf", &doc.replace("CONDITION", "")),
        &[("iac.aws.s3-public-policy", "critical", 14)],
    );
    let org = doc.replace(
        "CONDITION",
        r#"condition {
      test     = "StringEquals"
      variable = "aws:PrincipalOrgID"
      values   = ["o-123"]
    }"#,
    );
    expect(one("a/main.tf", &org), &[]);
    let heredoc = r#"
resource "aws_s3_bucket_policy" "p" {
  bucket = "data-lake"
  policy = <<EOF
{"Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "s3:PutObject", "Resource": "arn:aws:s3:::data-lake/*"}]}
EOF
}
"#;
    expect(
        one("b/main.tf", heredoc),
        &[("iac.aws.s3-public-policy", "critical", 2)],
    );
}

#[test]
fn acl_from_variable_default_is_overridden_by_tfvars_and_locals_resolve() {
    let main = r#"
variable "acl" {
  default = "private"
}
locals {
  acl = var.acl
}
resource "aws_s3_bucket_acl" "a" {
  bucket = "static-assets"
  acl    = local.acl
}
"#;
    expect(hits(&[("m/main.tf", main)]), &[]);
    expect(
        hits(&[
            ("m/main.tf", main),
            ("m/terraform.tfvars", "acl = \"public-read\"\n"),
        ]),
        &[("iac.aws.s3-public-acl", "high", 8)],
    );
    // A tfvars file of another directory is another module's.
    expect(
        hits(&[
            ("m/main.tf", main),
            ("n/terraform.tfvars", "acl = \"public-read\"\n"),
        ]),
        &[],
    );
    expect(
        hits(&[
            ("m/main.tf", main),
            ("m/terraform.tfvars", "acl = \"public-read\"\n"),
            ("m/z.auto.tfvars", "acl = \"public-read-write\"\n"),
        ]),
        &[("iac.aws.s3-public-acl", "critical", 8)],
    );
}

#[test]
fn public_access_block_off_and_website_bucket_is_info() {
    let pab = r#"
resource "aws_s3_bucket_public_access_block" "b" {
  bucket                  = "x"
  block_public_acls       = true
  block_public_policy     = false
  ignore_public_acls      = true
  restrict_public_buckets = true
}
"#;
    expect(
        one("p/main.tf", pab),
        &[("iac.aws.s3-public-access-block-off", "medium", 2)],
    );
    expect(one("p/main.tf", &pab.replace("false", "true")), &[]);
    let site = r#"
resource "aws_s3_bucket" "site" {
  bucket = "www-acme-com"
}
resource "aws_s3_bucket_website_configuration" "w" {
  bucket = aws_s3_bucket.site.id
  index_document { suffix = "index.html" }
}
resource "aws_s3_bucket_acl" "a" {
  bucket = aws_s3_bucket.site.id
  acl    = "public-read"
}
"#;
    expect(
        one("w/main.tf", site),
        &[("iac.aws.s3-public-website", "info", 9)],
    );
    // The same website setup on a bucket named for models is an exposure, and the bucket's
    // hygiene is checked.
    let models = site.replace("www-acme-com", "acme-model-releases");
    expect(
        one("w/main.tf", &models),
        &[
            ("iac.aws.s3-public-acl", "high", 9),
            ("iac.storage.model-bucket-no-logging", "low", 2),
            ("iac.storage.model-bucket-no-versioning", "low", 2),
            ("iac.storage.model-bucket-unencrypted", "low", 2),
        ],
    );
}

#[test]
fn model_bucket_found_by_tag_or_by_objects_written_to_it() {
    let tagged = r#"
resource "aws_s3_bucket" "b" {
  bucket = "acme-prod-7"
  tags   = { purpose = "training-data" }
  versioning { enabled = true }
  logging { target_bucket = "logs" }
  server_side_encryption_configuration {
    rule {
      apply_server_side_encryption_by_default { sse_algorithm = "AES256" }
    }
  }
}
"#;
    expect(one("t/main.tf", tagged), &[]);
    let bare = r#"
resource "aws_s3_bucket" "b" {
  bucket = "acme-prod-7"
}
resource "aws_s3_object" "w" {
  bucket = aws_s3_bucket.b.id
  key    = "llama/model-00001.safetensors"
  source = "out/model.safetensors"
}
"#;
    expect(
        one("t/main.tf", bare),
        &[
            ("iac.storage.model-bucket-no-logging", "low", 2),
            ("iac.storage.model-bucket-no-versioning", "low", 2),
            ("iac.storage.model-bucket-unencrypted", "low", 2),
        ],
    );
    expect(
        one("t/main.tf", &bare.replace(".safetensors", ".html")),
        &[],
    );
}

#[test]
fn gcs_all_users_member_binding_and_policy_data() {
    let m = r#"
resource "google_storage_bucket_iam_member" "m" {
  bucket = "ckpts"
  role   = "roles/storage.objectViewer"
  member = "allUsers"
}
"#;
    expect(
        one("g/main.tf", m),
        &[("iac.gcp.gcs-public", "critical", 2)],
    );
    expect(
        one("g/main.tf", &m.replace("allUsers", "group:ml@acme.com")),
        &[],
    );
    let p = r#"
data "google_iam_policy" "p" {
  binding {
    role    = "roles/storage.objectViewer"
    members = ["allAuthenticatedUsers"]
  }
}
resource "google_storage_bucket_iam_policy" "p" {
  bucket      = "ckpts"
  policy_data = data.google_iam_policy.p.policy_data
}
resource "google_storage_default_object_acl" "d" {
  bucket      = "ckpts"
  role_entity = ["READER:allUsers"]
}
"#;
    expect(
        one("g/main.tf", p),
        &[
            ("iac.gcp.gcs-public", "critical", 8),
            ("iac.gcp.gcs-public", "critical", 12),
        ],
    );
}

#[test]
fn azure_containers_and_accounts() {
    let t = r#"
resource "azurerm_storage_account" "a" {
  name                            = "acmemodels"
  allow_nested_items_to_be_public = true
}
resource "azurerm_storage_container" "c" {
  name                  = "weights"
  container_access_type = "blob"
}
"#;
    expect(
        one("z/main.tf", t),
        &[
            ("iac.azure.container-public", "high", 6),
            ("iac.azure.nested-public-allowed", "medium", 2),
        ],
    );
    let good = t
        .replace("= true", "= false")
        .replace("\"blob\"", "\"private\"");
    expect(one("z/main.tf", &good), &[]);
}

#[test]
fn cloudflare_r2_domains() {
    let t = r#"
resource "cloudflare_r2_managed_domain" "dev" {
  account_id  = "abc"
  bucket_name = "acme-llm-weights"
  enabled     = true
}
resource "cloudflare_r2_custom_domain" "cdn" {
  account_id  = "abc"
  bucket_name = "acme-model-cdn"
  domain      = "models.acme.com"
  zone_id     = "z"
  enabled     = true
}
"#;
    expect(
        one("r/main.tf", t),
        &[
            ("iac.cloudflare.r2-custom-domain", "high", 7),
            ("iac.cloudflare.r2-dev-domain", "high", 2),
        ],
    );
    expect(one("r/main.tf", &t.replace("= true", "= false")), &[]);
}

#[test]
fn notebooks_sagemaker_vertex_azure_ml() {
    let bad = r#"
resource "aws_sagemaker_notebook_instance" "nb" {
  name          = "research"
  role_arn      = "arn"
  instance_type = "ml.t3.medium"
}
resource "aws_sagemaker_domain" "d" {
  domain_name = "studio"
  auth_mode   = "IAM"
}
resource "google_workbench_instance" "w" {
  name = "wb"
  gce_setup {
    machine_type = "n1-standard-4"
  }
}
resource "azurerm_machine_learning_compute_instance" "ci" {
  name = "ci"
}
"#;
    expect(
        one("n/main.tf", bad),
        &[
            ("iac.aws.sagemaker-domain-public", "high", 7),
            ("iac.aws.sagemaker-notebook-internet", "high", 2),
            ("iac.aws.sagemaker-notebook-root", "medium", 2),
            ("iac.azure.ml-compute-public-ip", "high", 17),
            ("iac.gcp.vertex-workbench-public-ip", "high", 11),
        ],
    );
    let good = r#"
resource "aws_sagemaker_notebook_instance" "nb" {
  name                   = "research"
  direct_internet_access = "Disabled"
  root_access            = "Disabled"
}
resource "aws_sagemaker_domain" "d" {
  domain_name             = "studio"
  app_network_access_type = "VpcOnly"
}
resource "google_workbench_instance" "w" {
  name = "wb"
  gce_setup {
    disable_public_ip = true
  }
}
resource "azurerm_machine_learning_compute_instance" "ci" {
  name                   = "ci"
  node_public_ip_enabled = false
}
"#;
    expect(one("n/main.tf", good), &[]);
}

#[test]
fn firewalls_open_on_ml_ports() {
    let sg = r#"
resource "aws_security_group" "ray" {
  name = "ray-head"
  ingress {
    from_port   = 8265
    to_port     = 8265
    protocol    = "tcp"
    cidr_blocks = [var.cidr]
  }
  ingress {
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}
variable "cidr" { default = "0.0.0.0/0" }
"#;
    expect(
        one("f/main.tf", sg),
        &[("iac.aws.sg-ml-port-public", "high", 2)],
    );
    expect(
        one(
            "f/main.tf",
            &sg.replace("default = \"0.0.0.0/0\"", "default = \"10.0.0.0/8\""),
        ),
        &[],
    );
    // All ports to the world on a group not named for ML: not an AI-specific finding.
    let wide = r#"
resource "aws_security_group_rule" "all" {
  type              = "ingress"
  from_port         = 0
  to_port           = 65535
  protocol          = "tcp"
  cidr_blocks       = ["0.0.0.0/0"]
  security_group_id = "sg-1"
}
"#;
    expect(one("f/main.tf", wide), &[]);
    // Standalone rules on a group named for Ray: both resource kinds; an egress rule is quiet.
    let standalone = r#"
resource "aws_security_group" "ray" {
  name = "ray-head"
}
resource "aws_security_group_rule" "dash" {
  type              = "ingress"
  from_port         = 8265
  to_port           = 8265
  protocol          = "tcp"
  cidr_blocks       = ["0.0.0.0/0"]
  security_group_id = aws_security_group.ray.id
}
resource "aws_vpc_security_group_ingress_rule" "client" {
  security_group_id = aws_security_group.ray.id
  from_port         = 10001
  to_port           = 10001
  ip_protocol       = "tcp"
  cidr_ipv4         = "0.0.0.0/0"
}
"#;
    expect(
        one("f/main.tf", standalone),
        &[
            ("iac.aws.sg-ml-port-public", "high", 5),
            ("iac.aws.sg-ml-port-public", "high", 13),
        ],
    );
    expect(
        one(
            "f/main.tf",
            &standalone.replace("\"ingress\"", "\"egress\"").replace(
                "resource \"aws_vpc_security_group_ingress_rule\"",
                "resource \"aws_vpc_security_group_egress_rule\"",
            ),
        ),
        &[],
    );
    let gcp = r#"
resource "google_compute_firewall" "jupyter" {
  name          = "allow-notebooks"
  network       = "default"
  source_ranges = ["0.0.0.0/0"]
  allow {
    protocol = "tcp"
    ports    = ["8888", "22"]
  }
}
resource "azurerm_network_security_rule" "ollama" {
  name                       = "ollama"
  direction                  = "Inbound"
  access                     = "Allow"
  protocol                   = "Tcp"
  source_address_prefix      = "*"
  destination_port_range     = "11434"
}
"#;
    expect(
        one("f/main.tf", gcp),
        &[
            ("iac.azure.nsg-ml-port-public", "high", 11),
            ("iac.gcp.firewall-ml-port-public", "high", 2),
        ],
    );
}

#[test]
fn wildcard_iam_and_public_kms_key() {
    let t = r#"
resource "aws_iam_policy" "p" {
  policy = jsonencode({
    Statement = [{ Effect = "Allow", Action = "s3:*", Resource = "*" }]
  })
}
resource "aws_kms_key" "k" {
  policy = jsonencode({
    Statement = [{ Effect = "Allow", Principal = { AWS = "*" }, Action = "kms:Decrypt", Resource = "*" }]
  })
}
"#;
    expect(
        one("i/main.tf", t),
        &[
            ("iac.aws.iam-wildcard-storage", "high", 2),
            ("iac.aws.kms-public-key-policy", "critical", 7),
        ],
    );
    let good = t
        .replace("\"s3:*\"", "\"s3:GetObject\"")
        .replace("AWS = \"*\"", "AWS = \"arn:aws:iam::123:root\"");
    expect(one("i/main.tf", &good), &[]);
}

#[test]
fn malformed_terraform_is_a_warning_naming_the_file() {
    let o = common::run_with(
        &Default::default(),
        &[("bad/main.tf", "resource \"aws_s3_bucket\" {\n")],
    );
    assert!(o.findings.is_empty());
    assert_eq!(o.warnings.len(), 1);
    assert_eq!(o.warnings[0].path, "bad/main.tf");
    assert!(
        o.warnings[0].message.contains("invalid terraform"),
        "{:?}",
        o.warnings
    );
}

#[test]
fn module_inputs_reach_the_called_module() {
    let root = r#"
module "weights" {
  source = "./modules/bucket"
  name   = "acme-weights"
  acl    = "public-read"
}
module "site" {
  source = "./modules/bucket"
  name   = "acme-www"
}
"#;
    let child = r#"
variable "name" {}
variable "acl" {
  default = "private"
}
resource "aws_s3_bucket_acl" "this" {
  bucket = var.name
  acl    = var.acl
}
"#;
    expect(
        hits(&[
            ("infra/main.tf", root),
            ("infra/modules/bucket/main.tf", child),
        ]),
        &[("iac.aws.s3-public-acl", "high", 6)],
    );
    expect(hits(&[("infra/modules/bucket/main.tf", child)]), &[]);
    expect(
        hits(&[
            ("infra/main.tf", &root.replace("public-read", "private")),
            ("infra/modules/bucket/main.tf", child),
        ]),
        &[],
    );
}

#[test]
fn public_image_registries_for_models() {
    let t = r#"
resource "google_artifact_registry_repository_iam_member" "pub" {
  repository = "llm-serving"
  role       = "roles/artifactregistry.reader"
  member     = "allUsers"
}
resource "aws_ecrpublic_repository" "r" {
  repository_name = "vllm-images"
}
"#;
    expect(
        one("reg/main.tf", t),
        &[
            ("iac.aws.ecr-public-repo", "medium", 7),
            ("iac.gcp.artifact-registry-public", "medium", 2),
        ],
    );
    let web = t
        .replace("llm-serving", "website-assets")
        .replace("vllm-images", "docs-site");
    expect(one("reg/main.tf", &web), &[]);
}
