//! The typed rule registry: every rule id the `iac` analyser can report, with its severity,
//! title, one-line fix and description. The README rule table is generated from here.

use lantern_core::Severity;

macro_rules! rules {
    ($( $(#[$doc:meta])* $var:ident = $id:literal, $sev:ident, $title:literal, $fix:literal, $desc:literal; )*) => {
        /// A rule of the `iac` analyser. Ids read `iac.<provider-or-kind>.<check>`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Rule {
            $( $(#[$doc])* $var, )*
        }

        impl Rule {
            /// Every rule, in registry order.
            pub const ALL: &'static [Rule] = &[$(Rule::$var,)*];

            /// The rule id, e.g. `iac.aws.s3-public-policy`.
            pub fn id(self) -> &'static str {
                match self { $(Rule::$var => $id,)* }
            }

            /// Default severity (by blast radius); a check may lower it for a near miss.
            pub fn severity(self) -> Severity {
                match self { $(Rule::$var => Severity::$sev,)* }
            }

            /// Short human title.
            pub fn title(self) -> &'static str {
                match self { $(Rule::$var => $title,)* }
            }

            /// One-line fix.
            pub fn fix(self) -> &'static str {
                match self { $(Rule::$var => $fix,)* }
            }

            /// What the rule looks for and why it matters.
            pub fn description(self) -> &'static str {
                match self { $(Rule::$var => $desc,)* }
            }
        }
    };
}

rules! {
    /// S3 bucket ACL grants read or write to everyone.
    S3PublicAcl = "iac.aws.s3-public-acl", High,
        "S3 bucket readable or writable by anyone through its ACL",
        "set the ACL to private and keep all four public-access-block settings on",
        "A canned ACL `public-read`, `public-read-write` or `authenticated-read`, or a grant to the AllUsers/AuthenticatedUsers groups (Terraform `aws_s3_bucket(_acl)`, CloudFormation `AccessControl`). Write access is critical.";
    /// S3 bucket policy with an unrestricted `Principal "*"`.
    S3PublicPolicy = "iac.aws.s3-public-policy", Critical,
        "S3 bucket policy allows anyone",
        "name the principals, or restrict with aws:SourceVpce / aws:SourceVpc / aws:PrincipalOrgID",
        "An `Allow` statement with `Principal \"*\"` (or `{\"AWS\": \"*\"}`) and no condition on `aws:SourceVpce`, `aws:SourceVpc`, `aws:SourceIp`, `aws:PrincipalOrgID`, `aws:PrincipalAccount` or `aws:SourceAccount`, in Terraform (`jsonencode`, heredoc, `aws_iam_policy_document`), CloudFormation or standalone policy JSON.";
    /// Public access block turned off.
    S3PublicAccessBlockOff = "iac.aws.s3-public-access-block-off", Medium,
        "S3 public access block disabled",
        "set block_public_acls, block_public_policy, ignore_public_acls and restrict_public_buckets to true",
        "A public access block (account or bucket) with one of its four settings set to false: nothing stops a later ACL or policy from making the bucket public.";
    /// A public static-website bucket that holds no model or data content.
    S3PublicWebsite = "iac.aws.s3-public-website", Info,
        "Public website bucket (no model or data content)",
        "none needed if the bucket only serves the site; keep models and datasets elsewhere",
        "A bucket declared as a static website and made public on purpose, whose name and tags do not look like model or dataset storage. Reported for the record, not as an exposure.";
    /// Model/data bucket without versioning.
    ModelBucketNoVersioning = "iac.storage.model-bucket-no-versioning", Low,
        "Model or dataset bucket without versioning",
        "enable versioning so an overwritten or poisoned model can be traced and rolled back",
        "A bucket whose name or tags match `model_bucket_patterns` (AWS S3, GCS) with no versioning enabled.";
    /// Model/data bucket without access logging.
    ModelBucketNoLogging = "iac.storage.model-bucket-no-logging", Low,
        "Model or dataset bucket without access logging",
        "enable server access logging (S3 `aws_s3_bucket_logging`, GCS `logging` block)",
        "A bucket whose name or tags match `model_bucket_patterns` with no access logging: reads of the weights leave no trace.";
    /// Model/data bucket with no declared encryption.
    ModelBucketUnencrypted = "iac.storage.model-bucket-unencrypted", Low,
        "Model or dataset bucket without declared encryption",
        "declare server-side encryption with a KMS key you control (aws_s3_bucket_server_side_encryption_configuration, BucketEncryption)",
        "An S3 model or dataset bucket (Terraform or CloudFormation) with no server-side encryption declared. S3 applies SSE-S3 by default since 2023; a declared KMS key adds a key policy and an audit trail of every decryption.";
    /// Wildcard IAM/KMS permissions on model storage.
    IamWildcardStorage = "iac.aws.iam-wildcard-storage", High,
        "Wildcard IAM permissions on model storage",
        "grant only the actions needed (s3:GetObject, kms:Decrypt) on the named buckets and keys",
        "An `Allow` statement with action `*`, `s3:*` or `kms:*` on resource `*` or on a bucket that matches `model_bucket_patterns`.";
    /// KMS key policy open to anyone.
    KmsPublicKeyPolicy = "iac.aws.kms-public-key-policy", Critical,
        "KMS key policy allows anyone",
        "name the principals in the key policy; never `Principal \"*\"` without a restricting condition",
        "A KMS key policy with an unrestricted `Principal \"*\"` Allow statement: anyone can use the key that protects the model artefacts.";
    /// Public ECR repository.
    EcrPublicRepo = "iac.aws.ecr-public-repo", Medium,
        "Container registry with model images readable by anyone",
        "use a private repository, or an ECR policy that names the principals",
        "An `aws_ecrpublic_repository`, or an ECR repository policy with `Principal \"*\"`, whose name looks like model or inference images.";
    /// Artifact Registry repository readable by anyone.
    ArtifactRegistryPublic = "iac.gcp.artifact-registry-public", Medium,
        "Artifact Registry repository with model images readable by anyone",
        "remove allUsers / allAuthenticatedUsers from the repository's IAM",
        "`google_artifact_registry_repository_iam_member` / `_binding` granting `allUsers` or `allAuthenticatedUsers` on a repository whose name looks like model or inference images.";
    /// GCS bucket readable by allUsers / allAuthenticatedUsers.
    GcsPublic = "iac.gcp.gcs-public", Critical,
        "GCS bucket or objects readable by anyone",
        "remove allUsers / allAuthenticatedUsers bindings and ACL entries; enforce public access prevention",
        "An IAM member/binding/policy (`google_storage_bucket_iam_*`, `data.google_iam_policy`, policy JSON) or an ACL / default object ACL granting `allUsers` or `allAuthenticatedUsers`, or `public_access_prevention = \"unspecified\"` with uniform access off on a model bucket.";
    /// Azure storage container with anonymous access.
    AzureContainerPublic = "iac.azure.container-public", High,
        "Azure storage container allows anonymous reads",
        "set container_access_type = \"private\"",
        "`azurerm_storage_container` with `container_access_type` `blob` or `container`.";
    /// Azure account allowing nested public items.
    AzureNestedPublic = "iac.azure.nested-public-allowed", Medium,
        "Azure storage account allows public containers",
        "set allow_nested_items_to_be_public = false",
        "`azurerm_storage_account` with `allow_nested_items_to_be_public = true` (or the older `allow_blob_public_access = true`).";
    /// Cloudflare R2 bucket served on the r2.dev managed domain.
    R2DevDomain = "iac.cloudflare.r2-dev-domain", High,
        "R2 bucket public on the r2.dev domain",
        "disable the r2.dev domain; serve through a custom domain behind Access, or presigned URLs",
        "`cloudflare_r2_managed_domain` with `enabled = true`: every object of the bucket is readable by anyone, without caching, WAF or access control.";
    /// Cloudflare R2 bucket served on a custom domain.
    R2CustomDomain = "iac.cloudflare.r2-custom-domain", Medium,
        "R2 bucket public on a custom domain",
        "put the domain behind Cloudflare Access or serve presigned URLs only",
        "`cloudflare_r2_custom_domain` enabled: the bucket's objects are public on that domain. High when the bucket name looks like model or dataset storage.";
    /// SageMaker notebook with direct internet access.
    SageMakerNotebookInternet = "iac.aws.sagemaker-notebook-internet", High,
        "SageMaker notebook with direct internet access",
        "set direct_internet_access = \"Disabled\" (DirectInternetAccess: Disabled) and give it a VPC subnet",
        "`aws_sagemaker_notebook_instance` / `AWS::SageMaker::NotebookInstance` whose direct internet access is on (the default when not set).";
    /// SageMaker notebook with root access.
    SageMakerNotebookRoot = "iac.aws.sagemaker-notebook-root", Medium,
        "SageMaker notebook users have root",
        "set root_access = \"Disabled\" (RootAccess: Disabled)",
        "`aws_sagemaker_notebook_instance` / `AWS::SageMaker::NotebookInstance` whose root access is on (the default when not set).";
    /// SageMaker Studio domain on the public internet.
    SageMakerDomainPublic = "iac.aws.sagemaker-domain-public", High,
        "SageMaker Studio domain with public internet access",
        "set app_network_access_type = \"VpcOnly\" (AppNetworkAccessType: VpcOnly)",
        "`aws_sagemaker_domain` / `AWS::SageMaker::Domain` whose app network access type is `PublicInternetOnly` (the default when not set).";
    /// Vertex AI Workbench instance with a public IP.
    VertexWorkbenchPublicIp = "iac.gcp.vertex-workbench-public-ip", High,
        "Vertex AI Workbench instance with a public IP",
        "set gce_setup.disable_public_ip = true (no_public_ip = true for google_notebooks_instance)",
        "`google_workbench_instance` without `disable_public_ip = true`, or `google_notebooks_instance` without `no_public_ip = true` (public IPs are the default).";
    /// Vertex AI Workbench instance with root.
    VertexWorkbenchRoot = "iac.gcp.vertex-workbench-root", Medium,
        "Vertex AI Workbench users have root",
        "set metadata notebook-disable-root = \"true\"",
        "A Workbench instance whose metadata sets `notebook-disable-root` to false.";
    /// Azure ML compute with a public IP.
    AzureMlComputePublicIp = "iac.azure.ml-compute-public-ip", High,
        "Azure ML compute with a public IP",
        "set node_public_ip_enabled = false and place the compute in a subnet",
        "`azurerm_machine_learning_compute_instance` / `_compute_cluster` whose `node_public_ip_enabled` is true (the default when not set).";
    /// Ray dashboard / client / GCS reachable from outside.
    RayExposed = "iac.ml.ray-exposed", Critical,
        "Ray dashboard or client port reachable from outside",
        "keep Ray ports (8265, 10001, 6379) on ClusterIP / 127.0.0.1 and put an authenticating proxy in front",
        "Ray has no authentication by default: the dashboard's job API (8265) and the client port (10001) run arbitrary code on the cluster (CVE-2023-48022, ShadowRay). Reported for LoadBalancer/NodePort services, ingresses without auth, hostNetwork, KubeRay `serviceType`/`enableIngress`, published compose ports, open security groups/firewalls, and `--dashboard-host 0.0.0.0` on a host.";
    /// MLflow tracking server reachable from outside without auth.
    MlflowExposed = "iac.ml.mlflow-exposed", High,
        "MLflow server reachable from outside without authentication",
        "bind to 127.0.0.1 or enable auth (`mlflow server --app-name basic-auth`) behind TLS",
        "MLflow (5000) serves models, artefacts and run data without authentication unless `--app-name basic-auth` is set; several CVEs give file read/write through it.";
    /// Jupyter server without a token.
    JupyterNoAuth = "iac.ml.jupyter-no-auth", Critical,
        "Jupyter server without a token or password",
        "remove `--NotebookApp.token=''` / `--ServerApp.token=''`; set a token or password",
        "A Jupyter server started with an empty token and no password is a remote shell for anyone who reaches port 8888.";
    /// Ollama API reachable from outside.
    OllamaExposed = "iac.ml.ollama-exposed", High,
        "Ollama API reachable from outside",
        "keep OLLAMA_HOST on 127.0.0.1 and put an authenticating proxy in front of port 11434",
        "Ollama (11434) has no authentication: with `OLLAMA_HOST=0.0.0.0` or a published port anyone can pull, push, delete and run models.";
    /// vLLM server without an API key.
    VllmNoApiKey = "iac.ml.vllm-no-api-key", High,
        "vLLM server reachable without an API key",
        "start vLLM with --api-key (or VLLM_API_KEY), or bind it to 127.0.0.1",
        "`vllm serve` / the OpenAI-compatible server listens on all interfaces by default and answers anyone unless `--api-key` or `VLLM_API_KEY` is set.";
    /// Text Generation Inference reachable from outside.
    TgiExposed = "iac.ml.tgi-exposed", Medium,
        "Text Generation Inference reachable from outside without auth",
        "pass --api-key or keep TGI behind an authenticating gateway",
        "`text-generation-launcher` listens on 0.0.0.0 by default; exposed without `--api-key` anyone can spend the GPUs.";
    /// TensorBoard reachable from outside.
    TensorboardExposed = "iac.ml.tensorboard-exposed", Medium,
        "TensorBoard reachable from outside",
        "drop --bind_all / --host 0.0.0.0, or put it behind an authenticating proxy",
        "TensorBoard (6006) has no authentication and shows training data, metrics and graphs.";
    /// Gradio app shared publicly.
    GradioShare = "iac.ml.gradio-share", High,
        "Gradio app published without authentication",
        "drop share=True, or pass auth= to launch()",
        "`launch(share=True)` publishes the app on a public gradio.live URL; `server_name=\"0.0.0.0\"` serves it on every interface. Without `auth=` anyone can call it.";
    /// Security group open to the internet on ML ports.
    SgMlPortPublic = "iac.aws.sg-ml-port-public", High,
        "Security group opens ML service ports to the internet",
        "restrict the CIDR to your network, or reach the service through a VPN/bastion",
        "An AWS security group ingress (inline, `aws_security_group_rule`, `aws_vpc_security_group_ingress_rule`, CloudFormation) from 0.0.0.0/0 or ::/0 covering Ray, Jupyter, Ollama, TensorBoard or Gradio ports, or MLflow/vLLM/TGI ports on a group named for them.";
    /// GCP firewall open to the internet on ML ports.
    GcpFirewallMlPortPublic = "iac.gcp.firewall-ml-port-public", High,
        "Firewall rule opens ML service ports to the internet",
        "restrict source_ranges to your network or use IAP",
        "A `google_compute_firewall` allowing 0.0.0.0/0 on an ML service port.";
    /// Azure NSG open to the internet on ML ports.
    AzureNsgMlPortPublic = "iac.azure.nsg-ml-port-public", High,
        "Network security group opens ML service ports to the internet",
        "restrict source_address_prefix to your network",
        "An `azurerm_network_security_rule` (or inline rule) allowing `*`/`Internet`/0.0.0.0/0 inbound on an ML service port.";
    /// Kubernetes pod on the host network running an ML service.
    K8sHostNetwork = "iac.k8s.ml-host-network", High,
        "ML service pod on the host network",
        "remove hostNetwork: true; expose the port through a ClusterIP service",
        "A pod running Ray, Jupyter, MLflow, Ollama, vLLM, TGI or TensorBoard with `hostNetwork: true` listens on the node's addresses, outside network policies.";
}

impl Rule {
    /// Look a rule up by id.
    pub fn from_id(id: &str) -> Option<Rule> {
        Rule::ALL.iter().copied().find(|r| r.id() == id)
    }

    /// The README rule table (Markdown), generated from the registry.
    pub fn markdown_table() -> String {
        let rows = Rule::ALL.iter().map(|r| {
            let id = format!("`{}`", r.id());
            vec![
                id,
                r.severity().to_string(),
                r.title().into(),
                r.fix().into(),
            ]
        });
        lantern_core::readme::markdown_table(&["rule", "severity", "what", "fix"], rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_well_formed() {
        let mut seen = std::collections::HashSet::new();
        for r in Rule::ALL {
            assert!(seen.insert(r.id()), "duplicate id {}", r.id());
            assert!(r.id().starts_with("iac."), "{}", r.id());
            assert!(!r.fix().is_empty() && !r.description().is_empty());
            assert_eq!(Rule::from_id(r.id()), Some(*r));
        }
    }
}
