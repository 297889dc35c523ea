# The AI-infrastructure corpus of bench/iac.sh (sourced by it): `case_file bad|good CASE FILE`
# writes one file of a case from standard input. bad/ cases are misconfigurations, good/ cases
# the near-miss correct configurations next to them. Written for this benchmark, not taken from
# any tool's test suite.

# --- S3 -------------------------------------------------------------------------------------
case_file bad tf-s3-policy-jsonencode main.tf <<'EOF'
resource "aws_s3_bucket" "weights" { bucket = "acme-llm-weights" }
resource "aws_s3_bucket_policy" "p" {
  bucket = aws_s3_bucket.weights.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{ Effect = "Allow", Principal = "*", Action = "s3:GetObject", Resource = "${aws_s3_bucket.weights.arn}/*" }]
  })
}
EOF
case_file good tf-s3-policy-vpce main.tf <<'EOF'
resource "aws_s3_bucket" "weights" { bucket = "acme-llm-weights" }
resource "aws_s3_bucket_versioning" "v" {
  bucket = aws_s3_bucket.weights.id
  versioning_configuration { status = "Enabled" }
}
resource "aws_s3_bucket_logging" "l" {
  bucket        = aws_s3_bucket.weights.id
  target_bucket = "acme-logs"
  target_prefix = "weights/"
}
resource "aws_s3_bucket_server_side_encryption_configuration" "e" {
  bucket = aws_s3_bucket.weights.id
  rule {
    apply_server_side_encryption_by_default { sse_algorithm = "aws:kms" }
  }
}
resource "aws_s3_bucket_public_access_block" "b" {
  bucket                  = aws_s3_bucket.weights.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}
resource "aws_s3_bucket_policy" "p" {
  bucket = aws_s3_bucket.weights.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = "*"
      Action    = "s3:GetObject"
      Resource  = "${aws_s3_bucket.weights.arn}/*"
      Condition = { StringEquals = { "aws:SourceVpce" = "vpce-0123" } }
    }]
  })
}
EOF
case_file bad tf-s3-policy-document main.tf <<'EOF'
data "aws_iam_policy_document" "pub" {
  statement {
    actions   = ["s3:GetObject", "s3:ListBucket"]
    resources = ["arn:aws:s3:::acme-datasets", "arn:aws:s3:::acme-datasets/*"]
    principals {
      type        = "AWS"
      identifiers = ["*"]
    }
  }
}
resource "aws_s3_bucket_policy" "p" {
  bucket = "acme-datasets"
  policy = data.aws_iam_policy_document.pub.json
}
EOF
case_file good tf-s3-policy-document-org main.tf <<'EOF'
data "aws_iam_policy_document" "org" {
  statement {
    actions   = ["s3:GetObject"]
    resources = ["arn:aws:s3:::acme-datasets/*"]
    principals {
      type        = "AWS"
      identifiers = ["*"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:PrincipalOrgID"
      values   = ["o-abc123"]
    }
  }
}
resource "aws_s3_bucket_policy" "p" {
  bucket = "acme-datasets"
  policy = data.aws_iam_policy_document.org.json
}
EOF
case_file bad tf-s3-acl-tfvars main.tf <<'EOF'
variable "acl" { default = "private" }
resource "aws_s3_bucket" "ckpt" { bucket = "acme-checkpoints" }
resource "aws_s3_bucket_acl" "a" {
  bucket = aws_s3_bucket.ckpt.id
  acl    = var.acl
}
EOF
case_file bad tf-s3-acl-tfvars terraform.tfvars <<'EOF'
acl = "public-read"
EOF
case_file good tf-s3-acl-private main.tf <<'EOF'
resource "aws_s3_bucket" "cache" { bucket = "acme-ci-cache" }
resource "aws_s3_bucket_acl" "a" {
  bucket = aws_s3_bucket.cache.id
  acl    = "private"
}
EOF
case_file bad tf-s3-heredoc-policy main.tf <<'EOF'
resource "aws_s3_bucket_policy" "p" {
  bucket = "acme-training-data"
  policy = <<POLICY
{
  "Version": "2012-10-17",
  "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": ["s3:PutObject"], "Resource": "arn:aws:s3:::acme-training-data/*"}]
}
POLICY
}
EOF
case_file bad tf-s3-locals-policy main.tf <<'EOF'
locals {
  bucket = "acme-embeddings"
  public = { Effect = "Allow", Principal = "*", Action = "s3:GetObject", Resource = "arn:aws:s3:::${local.bucket}/*" }
}
resource "aws_s3_bucket_policy" "p" {
  bucket = local.bucket
  policy = jsonencode({ Version = "2012-10-17", Statement = [local.public] })
}
EOF
case_file bad tf-s3-pab-off main.tf <<'EOF'
resource "aws_s3_bucket_public_access_block" "models" {
  bucket                  = "acme-model-registry"
  block_public_acls       = false
  block_public_policy     = false
  ignore_public_acls      = false
  restrict_public_buckets = false
}
EOF
case_file good tf-s3-website-no-models main.tf <<'EOF'
resource "aws_s3_bucket" "site" { bucket = "www-acme-docs" }
resource "aws_s3_bucket_website_configuration" "w" {
  bucket = aws_s3_bucket.site.id
  index_document { suffix = "index.html" }
}
resource "aws_s3_bucket_policy" "p" {
  bucket = aws_s3_bucket.site.id
  policy = jsonencode({ Statement = [{ Effect = "Allow", Principal = "*", Action = "s3:GetObject", Resource = "${aws_s3_bucket.site.arn}/*" }] })
}
EOF
case_file bad tf-model-bucket-hygiene main.tf <<'EOF'
resource "aws_s3_bucket" "b" {
  bucket = "acme-prod-blobs"
  tags   = { purpose = "model-weights" }
}
EOF
case_file bad cfn-s3-public-policy template.yaml <<'EOF'
AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Weights:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: !Sub "${AWS::AccountId}-model-weights"
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
EOF
case_file good cfn-s3-policy-vpc template.yaml <<'EOF'
AWSTemplateFormatVersion: "2010-09-09"
Resources:
  WeightsPolicy:
    Type: AWS::S3::BucketPolicy
    Properties:
      Bucket: acme-shared
      PolicyDocument:
        Statement:
          - Effect: Allow
            Principal: "*"
            Action: s3:GetObject
            Resource: arn:aws:s3:::acme-shared/*
            Condition:
              StringEquals:
                aws:SourceVpc: vpc-0123
EOF
case_file bad policy-json-s3 bucket-policy.json <<'EOF'
{"Version": "2012-10-17", "Statement": [{"Sid": "Public", "Effect": "Allow", "Principal": "*",
  "Action": "s3:GetObject", "Resource": "arn:aws:s3:::acme-eval-datasets/*"}]}
EOF
case_file bad tf-iam-wildcard main.tf <<'EOF'
resource "aws_iam_role_policy" "trainer" {
  role   = "trainer"
  policy = jsonencode({ Statement = [{ Effect = "Allow", Action = "s3:*", Resource = "*" }] })
}
EOF
case_file good tf-iam-scoped main.tf <<'EOF'
resource "aws_iam_role_policy" "trainer" {
  role   = "trainer"
  policy = jsonencode({ Statement = [{ Effect = "Allow", Action = ["s3:GetObject"], Resource = "arn:aws:s3:::acme-ci-cache/*" }] })
}
EOF
case_file bad tf-kms-public main.tf <<'EOF'
resource "aws_kms_key" "models" {
  description = "model artefacts"
  policy = jsonencode({ Statement = [{ Effect = "Allow", Principal = { AWS = "*" }, Action = "kms:*", Resource = "*" }] })
}
EOF
case_file bad tf-ecr-public main.tf <<'EOF'
resource "aws_ecrpublic_repository" "inference" {
  repository_name = "llm-inference-server"
}
EOF
# --- GCS / Azure / R2 ------------------------------------------------------------------------
case_file bad tf-gcs-allusers main.tf <<'EOF'
resource "google_storage_bucket" "ckpt" {
  name     = "acme-ckpts"
  location = "US"
}
resource "google_storage_bucket_iam_member" "pub" {
  bucket = google_storage_bucket.ckpt.name
  role   = "roles/storage.objectViewer"
  member = "allUsers"
}
EOF
case_file bad tf-gcs-iam-policy-data main.tf <<'EOF'
data "google_iam_policy" "p" {
  binding {
    role    = "roles/storage.objectViewer"
    members = ["allAuthenticatedUsers"]
  }
}
resource "google_storage_bucket_iam_policy" "p" {
  bucket      = "acme-eval-sets"
  policy_data = data.google_iam_policy.p.policy_data
}
EOF
case_file bad tf-gcs-default-object-acl main.tf <<'EOF'
resource "google_storage_default_object_acl" "d" {
  bucket      = "acme-datasets"
  role_entity = ["OWNER:project-owners-123", "READER:allUsers"]
}
EOF
case_file good tf-gcs-group main.tf <<'EOF'
resource "google_storage_bucket_iam_member" "team" {
  bucket = "acme-ckpts"
  role   = "roles/storage.objectViewer"
  member = "group:ml-team@acme.com"
}
EOF
case_file bad tf-azure-container-blob main.tf <<'EOF'
resource "azurerm_storage_container" "weights" {
  name                  = "weights"
  storage_account_name  = "acmemodels"
  container_access_type = "blob"
}
EOF
case_file bad tf-azure-nested-public main.tf <<'EOF'
resource "azurerm_storage_account" "models" {
  name                            = "acmemodels"
  resource_group_name             = "ml"
  location                        = "westeurope"
  account_tier                    = "Standard"
  account_replication_type        = "LRS"
  allow_nested_items_to_be_public = true
}
EOF
case_file good tf-azure-private main.tf <<'EOF'
resource "azurerm_storage_container" "weights" {
  name                  = "weights"
  storage_account_name  = "acmemodels"
  container_access_type = "private"
}
EOF
case_file bad tf-r2-dev-domain main.tf <<'EOF'
resource "cloudflare_r2_bucket" "w" {
  account_id = "abc"
  name       = "acme-gguf"
}
resource "cloudflare_r2_managed_domain" "dev" {
  account_id  = "abc"
  bucket_name = "acme-gguf"
  enabled     = true
}
EOF
case_file bad tf-r2-custom-domain main.tf <<'EOF'
resource "cloudflare_r2_custom_domain" "cdn" {
  account_id  = "abc"
  bucket_name = "acme-model-mirror"
  domain      = "weights.acme.com"
  zone_id     = "z1"
  enabled     = true
}
EOF
case_file good tf-r2-private main.tf <<'EOF'
resource "cloudflare_r2_managed_domain" "dev" {
  account_id  = "abc"
  bucket_name = "acme-gguf"
  enabled     = false
}
EOF
# --- Notebooks -------------------------------------------------------------------------------
case_file bad tf-sagemaker-notebook main.tf <<'EOF'
resource "aws_sagemaker_notebook_instance" "nb" {
  name          = "research"
  role_arn      = "arn:aws:iam::123:role/sm"
  instance_type = "ml.t3.medium"
}
EOF
case_file good tf-sagemaker-notebook-locked main.tf <<'EOF'
resource "aws_sagemaker_notebook_instance" "nb" {
  name                   = "research"
  role_arn               = "arn:aws:iam::123:role/sm"
  instance_type          = "ml.t3.medium"
  subnet_id              = "subnet-1"
  security_groups        = ["sg-1"]
  kms_key_id             = "arn:aws:kms:us-east-1:123:key/1"
  direct_internet_access = "Disabled"
  root_access            = "Disabled"
}
EOF
case_file bad cfn-sagemaker-notebook template.yaml <<'EOF'
AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Notebook:
    Type: AWS::SageMaker::NotebookInstance
    Properties:
      InstanceType: ml.t3.medium
      RoleArn: !GetAtt Role.Arn
      DirectInternetAccess: Enabled
      RootAccess: Enabled
EOF
case_file good cfn-sagemaker-notebook-locked template.yaml <<'EOF'
AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Notebook:
    Type: AWS::SageMaker::NotebookInstance
    Properties:
      InstanceType: ml.t3.medium
      RoleArn: !GetAtt Role.Arn
      KmsKeyId: !Ref Key
      SubnetId: subnet-1
      SecurityGroupIds: [sg-1]
      DirectInternetAccess: Disabled
      RootAccess: Disabled
EOF
case_file bad cfn-sagemaker-domain template.json <<'EOF'
{"AWSTemplateFormatVersion": "2010-09-09", "Resources": {"Studio": {"Type": "AWS::SageMaker::Domain",
  "Properties": {"DomainName": "studio", "AuthMode": "IAM", "AppNetworkAccessType": "PublicInternetOnly",
  "DefaultUserSettings": {"ExecutionRole": "arn"}, "SubnetIds": ["s"], "VpcId": "v"}}}}
EOF
case_file bad tf-sagemaker-domain main.tf <<'EOF'
resource "aws_sagemaker_domain" "studio" {
  domain_name = "studio"
  auth_mode   = "IAM"
  vpc_id      = "vpc-1"
  subnet_ids  = ["subnet-1"]
  default_user_settings { execution_role = "arn" }
}
EOF
case_file bad tf-vertex-workbench main.tf <<'EOF'
resource "google_workbench_instance" "wb" {
  name     = "research"
  location = "us-central1-a"
  gce_setup { machine_type = "n1-standard-4" }
}
EOF
case_file good tf-vertex-workbench-private main.tf <<'EOF'
resource "google_workbench_instance" "wb" {
  name     = "research"
  location = "us-central1-a"
  gce_setup {
    machine_type      = "n1-standard-4"
    disable_public_ip = true
  }
}
EOF
case_file bad tf-azureml-compute main.tf <<'EOF'
resource "azurerm_machine_learning_compute_instance" "ci" {
  name                          = "research"
  machine_learning_workspace_id = "ws"
  virtual_machine_size          = "STANDARD_DS2_V2"
}
EOF
# --- Firewalls -------------------------------------------------------------------------------
case_file bad tf-sg-ray main.tf <<'EOF'
resource "aws_security_group" "ray" {
  name        = "ray-head"
  description = "Ray head node"
  ingress {
    from_port   = 8265
    to_port     = 8265
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}
EOF
case_file good tf-sg-ray-vpn main.tf <<'EOF'
resource "aws_security_group" "ray" {
  name        = "ray-head"
  description = "Ray head node"
  ingress {
    from_port   = 8265
    to_port     = 8265
    protocol    = "tcp"
    cidr_blocks = ["10.8.0.0/16"]
  }
}
EOF
case_file bad tf-sg-ollama-rule main.tf <<'EOF'
resource "aws_security_group" "llm" { name = "ollama" }
resource "aws_vpc_security_group_ingress_rule" "o" {
  security_group_id = aws_security_group.llm.id
  cidr_ipv4         = "0.0.0.0/0"
  from_port         = 11434
  to_port           = 11434
  ip_protocol       = "tcp"
}
EOF
case_file bad tf-gcp-firewall-jupyter main.tf <<'EOF'
resource "google_compute_firewall" "nb" {
  name          = "allow-jupyter"
  network       = "default"
  source_ranges = ["0.0.0.0/0"]
  allow {
    protocol = "tcp"
    ports    = ["8888"]
  }
}
EOF
case_file good tf-gcp-firewall-https main.tf <<'EOF'
resource "google_compute_firewall" "web" {
  name          = "allow-https"
  network       = "default"
  source_ranges = ["0.0.0.0/0"]
  allow {
    protocol = "tcp"
    ports    = ["443"]
  }
}
EOF
case_file bad cfn-sg-ray-client template.yaml <<'EOF'
Resources:
  RaySg:
    Type: AWS::EC2::SecurityGroup
    Properties:
      GroupDescription: ray client
      SecurityGroupIngress:
        - {IpProtocol: tcp, FromPort: 10001, ToPort: 10001, CidrIp: 0.0.0.0/0}
EOF
case_file bad tf-azure-nsg-tensorboard main.tf <<'EOF'
resource "azurerm_network_security_group" "tb" {
  name                = "tensorboard"
  location            = "westeurope"
  resource_group_name = "ml"
  security_rule {
    name                       = "tb"
    priority                   = 100
    direction                  = "Inbound"
    access                     = "Allow"
    protocol                   = "Tcp"
    source_port_range          = "*"
    destination_port_range     = "6006"
    source_address_prefix      = "Internet"
    destination_address_prefix = "*"
  }
}
EOF
# --- Kubernetes ------------------------------------------------------------------------------
case_file bad k8s-ray-lb ray.yaml <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata: {name: ray-head}
spec:
  selector: {matchLabels: {app: ray-head}}
  template:
    metadata: {labels: {app: ray-head}}
    spec:
      containers:
        - name: head
          image: rayproject/ray:2.9.0
          command: ["ray", "start", "--head", "--dashboard-host=0.0.0.0", "--block"]
          ports: [{containerPort: 8265, name: dashboard}]
---
apiVersion: v1
kind: Service
metadata: {name: ray-dashboard}
spec:
  type: LoadBalancer
  selector: {app: ray-head}
  ports: [{port: 80, targetPort: dashboard}]
EOF
case_file good k8s-ray-clusterip ray.yaml <<'EOF'
apiVersion: v1
kind: Service
metadata: {name: ray-dashboard}
spec:
  type: ClusterIP
  selector: {app: ray-head}
  ports: [{port: 8265}]
EOF
case_file bad k8s-kuberay-lb raycluster.yaml <<'EOF'
apiVersion: ray.io/v1
kind: RayCluster
metadata: {name: train}
spec:
  headGroupSpec:
    serviceType: LoadBalancer
    rayStartParams: {dashboard-host: "0.0.0.0"}
    template:
      spec:
        containers: [{name: ray-head, image: "rayproject/ray:2.9.0"}]
EOF
case_file good k8s-kuberay-clusterip raycluster.yaml <<'EOF'
apiVersion: ray.io/v1
kind: RayCluster
metadata: {name: train}
spec:
  headGroupSpec:
    serviceType: ClusterIP
    rayStartParams: {dashboard-host: "0.0.0.0"}
    template:
      spec:
        containers: [{name: ray-head, image: "rayproject/ray:2.9.0"}]
EOF
case_file bad k8s-rayservice-ingress rayservice.yaml <<'EOF'
apiVersion: ray.io/v1
kind: RayService
metadata: {name: serve}
spec:
  rayClusterConfig:
    headGroupSpec:
      enableIngress: true
      rayStartParams: {}
      template:
        spec:
          containers: [{name: ray-head, image: "rayproject/ray:2.9.0"}]
EOF
case_file bad k8s-vllm-nodeport vllm.yaml <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata: {name: llm}
spec:
  selector: {matchLabels: {app: llm}}
  template:
    metadata: {labels: {app: llm}}
    spec:
      containers:
        - name: vllm
          image: vllm/vllm-openai:v0.6.0
          args: ["--model", "meta-llama/Meta-Llama-3-8B-Instruct"]
          ports: [{containerPort: 8000}]
---
apiVersion: v1
kind: Service
metadata: {name: llm}
spec:
  type: NodePort
  selector: {app: llm}
  ports: [{port: 8000, targetPort: 8000, nodePort: 30080}]
EOF
case_file good k8s-vllm-api-key vllm.yaml <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata: {name: llm}
spec:
  selector: {matchLabels: {app: llm}}
  template:
    metadata: {labels: {app: llm}}
    spec:
      containers:
        - name: vllm
          image: vllm/vllm-openai:v0.6.0
          args: ["--model", "meta-llama/Meta-Llama-3-8B-Instruct", "--api-key", "$(VLLM_KEY)"]
          env: [{name: VLLM_KEY, valueFrom: {secretKeyRef: {name: vllm, key: key}}}]
          ports: [{containerPort: 8000}]
---
apiVersion: v1
kind: Service
metadata: {name: llm}
spec:
  type: LoadBalancer
  selector: {app: llm}
  ports: [{port: 8000, targetPort: 8000}]
EOF
case_file bad k8s-jupyter-no-token jupyter.yaml <<'EOF'
apiVersion: v1
kind: Pod
metadata: {name: nb, labels: {app: nb}}
spec:
  containers:
    - name: nb
      image: quay.io/jupyter/pytorch-notebook
      command: ["jupyter", "lab", "--ip=0.0.0.0", "--IdentityProvider.token=", "--ServerApp.password="]
---
apiVersion: v1
kind: Service
metadata: {name: nb}
spec:
  type: LoadBalancer
  selector: {app: nb}
  ports: [{port: 8888}]
EOF
case_file good k8s-jupyter-token jupyter.yaml <<'EOF'
apiVersion: v1
kind: Pod
metadata: {name: nb, labels: {app: nb}}
spec:
  containers:
    - name: nb
      image: quay.io/jupyter/pytorch-notebook
      command: ["jupyter", "lab", "--ip=0.0.0.0"]
---
apiVersion: v1
kind: Service
metadata: {name: nb}
spec:
  type: LoadBalancer
  selector: {app: nb}
  ports: [{port: 8888}]
EOF
case_file bad k8s-mlflow-ingress mlflow.yaml <<'EOF'
apiVersion: v1
kind: Service
metadata: {name: mlflow}
spec:
  selector: {app: mlflow}
  ports: [{port: 5000}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: mlflow}
spec:
  ingressClassName: nginx
  rules:
    - host: mlflow.acme.com
      http:
        paths:
          - {path: /, pathType: Prefix, backend: {service: {name: mlflow, port: {number: 5000}}}}
EOF
case_file good k8s-mlflow-ingress-oauth mlflow.yaml <<'EOF'
apiVersion: v1
kind: Service
metadata: {name: mlflow}
spec:
  selector: {app: mlflow}
  ports: [{port: 5000}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: mlflow
  annotations:
    nginx.ingress.kubernetes.io/auth-url: "https://oauth2.acme.com/oauth2/auth"
    nginx.ingress.kubernetes.io/auth-signin: "https://oauth2.acme.com/oauth2/start"
spec:
  ingressClassName: nginx
  rules:
    - host: mlflow.acme.com
      http:
        paths:
          - {path: /, pathType: Prefix, backend: {service: {name: mlflow, port: {number: 5000}}}}
EOF
case_file bad k8s-tgi-hostnetwork tgi.yaml <<'EOF'
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: tgi}
spec:
  selector: {matchLabels: {app: tgi}}
  template:
    metadata: {labels: {app: tgi}}
    spec:
      hostNetwork: true
      containers:
        - name: tgi
          image: ghcr.io/huggingface/text-generation-inference:2.2
          args: ["--model-id", "mistralai/Mistral-7B-Instruct-v0.3"]
EOF
case_file bad helm-ollama-lb values.yaml <<'EOF'
image:
  repository: ollama/ollama
  tag: "0.3.12"
service:
  type: LoadBalancer
  port: 11434
EOF
case_file good helm-ollama-clusterip values.yaml <<'EOF'
image:
  repository: ollama/ollama
  tag: "0.3.12"
service:
  type: ClusterIP
  port: 11434
EOF
# --- Compose ---------------------------------------------------------------------------------
case_file bad compose-ray-anchor docker-compose.yml <<'EOF'
x-ray: &ray
  image: rayproject/ray:2.9.0
  shm_size: 8gb
services:
  head:
    <<: *ray
    command: ray start --head --dashboard-host=0.0.0.0 --block
    ports:
      - "8265:8265"
      - "10001:10001"
EOF
case_file good compose-ray-localhost docker-compose.yml <<'EOF'
x-ray: &ray
  image: rayproject/ray:2.9.0
services:
  head:
    <<: *ray
    command: ray start --head --dashboard-host=0.0.0.0 --block
    ports:
      - "127.0.0.1:8265:8265"
EOF
case_file bad compose-ollama docker-compose.yml <<'EOF'
services:
  ollama:
    image: ollama/ollama
    volumes: [ollama:/root/.ollama]
    ports: ["11434:11434"]
volumes:
  ollama: {}
EOF
case_file bad compose-mlflow compose.yaml <<'EOF'
services:
  mlflow:
    image: ghcr.io/mlflow/mlflow:v2.16.0
    command: mlflow server --host 0.0.0.0 --port 5000 --backend-store-uri sqlite:///mlflow.db
    ports: ["5000:5000"]
EOF
case_file good compose-mlflow-auth compose.yaml <<'EOF'
services:
  mlflow:
    image: ghcr.io/mlflow/mlflow:v2.16.0
    command: mlflow server --host 0.0.0.0 --port 5000 --app-name basic-auth
    ports: ["5000:5000"]
EOF
case_file good compose-jupyter-token docker-compose.yml <<'EOF'
services:
  notebook:
    image: quay.io/jupyter/scipy-notebook
    environment:
      JUPYTER_TOKEN: ${JUPYTER_TOKEN}
    ports: ["8888:8888"]
EOF
# --- Launch lines ----------------------------------------------------------------------------
case_file bad dockerfile-jupyter-no-token Dockerfile <<'EOF'
FROM quay.io/jupyter/base-notebook:latest
EXPOSE 8888
CMD ["jupyter", "notebook", "--ip=0.0.0.0", "--NotebookApp.token=", "--NotebookApp.password="]
EOF
case_file good dockerfile-vllm Dockerfile <<'EOF'
FROM vllm/vllm-openai:v0.6.0
ENTRYPOINT ["vllm", "serve", "meta-llama/Meta-Llama-3-8B-Instruct", "--api-key", "${VLLM_API_KEY}"]
EOF
case_file bad systemd-ollama ollama.service <<'EOF'
[Unit]
Description=Ollama Service
After=network-online.target

[Service]
ExecStart=/usr/local/bin/ollama serve
Environment="OLLAMA_HOST=0.0.0.0"
User=ollama
Restart=always

[Install]
WantedBy=default.target
EOF
case_file good systemd-ollama-local ollama.service <<'EOF'
[Unit]
Description=Ollama Service

[Service]
ExecStart=/usr/local/bin/ollama serve
Environment="OLLAMA_HOST=127.0.0.1:11434"
User=ollama
EOF
case_file bad shell-ray-dashboard start.sh <<'EOF'
#!/usr/bin/env bash
set -euo pipefail
ray start --head --port=6379 --dashboard-host=0.0.0.0 --num-gpus=8
EOF
case_file good shell-ray-local start.sh <<'EOF'
#!/usr/bin/env bash
set -euo pipefail
ray start --head --port=6379 --num-gpus=8
EOF
case_file bad shell-vllm serve.sh <<'EOF'
#!/bin/sh
exec vllm serve Qwen/Qwen2.5-7B-Instruct --port 8000 --tensor-parallel-size 2
EOF
case_file good shell-vllm-key serve.sh <<'EOF'
#!/bin/sh
exec vllm serve Qwen/Qwen2.5-7B-Instruct --port 8000 --api-key "$VLLM_API_KEY"
EOF
case_file bad python-gradio-share app.py <<'EOF'
import gradio as gr

def predict(text):
    return text[::-1]

demo = gr.Interface(fn=predict, inputs="text", outputs="text")
demo.launch(share=True)
EOF
case_file good python-gradio-auth app.py <<'EOF'
import os
import gradio as gr

def predict(text):
    return text[::-1]

demo = gr.Interface(fn=predict, inputs="text", outputs="text")
demo.launch(share=True, auth=("admin", os.environ["GRADIO_PASSWORD"]))
EOF
case_file bad shell-tensorboard tb.sh <<'EOF'
#!/bin/sh
tensorboard --logdir /runs --bind_all --port 6006
EOF
case_file bad python-jupyter-config jupyter_server_config.py <<'EOF'
c = get_config()  # noqa
c.ServerApp.ip = '0.0.0.0'
c.ServerApp.token = ''
c.ServerApp.open_browser = False
EOF
