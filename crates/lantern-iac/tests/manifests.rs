//! Kubernetes, KubeRay, Helm values and docker-compose checks: bad examples and near misses.

mod common;
use common::{expect, one};

const RAY: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: ray-head
spec:
  template:
    metadata:
      labels: {app: ray-head}
    spec:
      containers:
        - name: head
          image: rayproject/ray:2.9.0
          command: ["ray", "start", "--head", "--dashboard-host=0.0.0.0", "--block"]
          ports:
            - containerPort: 8265
              name: dashboard
---
apiVersion: v1
kind: Service
metadata:
  name: ray-dashboard
spec:
  type: LoadBalancer
  selector: {app: ray-head}
  ports:
    - port: 80
      targetPort: dashboard
"#;

#[test]
fn ray_behind_a_load_balancer_and_its_near_misses() {
    expect(
        one("k8s/ray.yaml", RAY),
        &[("iac.ml.ray-exposed", "critical", 23)],
    );
    expect(
        one("k8s/ray.yaml", &RAY.replace("LoadBalancer", "ClusterIP")),
        &[],
    );
    let internal = RAY.replace(
        "  name: ray-dashboard\n",
        "  name: ray-dashboard\n  annotations:\n    service.beta.kubernetes.io/aws-load-balancer-internal: \"true\"\n",
    );
    expect(one("k8s/ray.yaml", &internal), &[]);
    let auth = RAY.replace(
        "          ports:",
        "          env:\n            - {name: RAY_AUTH_MODE, value: token}\n          ports:",
    );
    expect(one("k8s/ray.yaml", &auth), &[]);
}

#[test]
fn vllm_and_jupyter_depend_on_their_credentials() {
    let vllm = r#"apiVersion: apps/v1
kind: Deployment
metadata: {name: llm}
spec:
  template:
    metadata: {labels: {app: llm}}
    spec:
      containers:
        - name: vllm
          image: vllm/vllm-openai:v0.6.0
          args: ["--model", "meta-llama/Llama-3-8B"ARGS]
---
apiVersion: v1
kind: Service
metadata: {name: llm}
spec:
  type: NodePort
  selector: {app: llm}
  ports: [{port: 8000, targetPort: 8000}]
"#;
    expect(
        one("k/vllm.yaml", &vllm.replace("ARGS", "")),
        &[("iac.ml.vllm-no-api-key", "high", 17)],
    );
    expect(
        one(
            "k/vllm.yaml",
            &vllm.replace("ARGS", ", \"--api-key\", \"$(KEY)\""),
        ),
        &[],
    );
    let jupyter = vllm
        .replace("vllm/vllm-openai:v0.6.0", "quay.io/jupyter/scipy-notebook")
        .replace(
            "args: [\"--model\", \"meta-llama/Llama-3-8B\"ARGS]",
            "command: [\"jupyter\", \"lab\", \"--ip=0.0.0.0\"TOKEN]",
        )
        .replace("8000", "8888");
    expect(
        one(
            "k/nb.yaml",
            &jupyter.replace("TOKEN", ", \"--ServerApp.token=\""),
        ),
        &[("iac.ml.jupyter-no-auth", "critical", 17)],
    );
    // Jupyter images generate a token unless told otherwise.
    expect(one("k/nb.yaml", &jupyter.replace("TOKEN", "")), &[]);
    // A Service on 8888 whose workload is not in the file: a token is assumed, as by default.
    let svc_only = "apiVersion: v1\nkind: Service\nmetadata: {name: lab}\nspec:\n  type: LoadBalancer\n  ports: [{port: 8888}]\n";
    expect(one("k/svc.yaml", svc_only), &[]);
    expect(
        one("k/svc.yaml", &svc_only.replace("8888", "11434")),
        &[("iac.ml.ollama-exposed", "high", 5)],
    );
}

#[test]
fn ingress_without_auth_and_host_network() {
    let t = r#"apiVersion: v1
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
  ANNOTATIONS
spec:
  rules:
    - host: mlflow.acme.com
      http:
        paths:
          - path: /
            pathType: Prefix
            backend:
              service: {name: mlflow, port: {number: 5000}}
---
apiVersion: v1
kind: Pod
metadata: {name: tgi}
spec:
  hostNetwork: true
  containers:
    - name: tgi
      image: ghcr.io/huggingface/text-generation-inference:2.0
"#;
    expect(
        one("k/m.yaml", &t.replace("ANNOTATIONS", "labels: {}")),
        &[
            ("iac.k8s.ml-host-network", "high", 27),
            ("iac.ml.mlflow-exposed", "high", 11),
        ],
    );
    let authed = t.replace(
        "ANNOTATIONS",
        "annotations:\n    nginx.ingress.kubernetes.io/auth-url: https://auth.acme.com/oauth2/auth",
    );
    expect(
        one("k/m.yaml", &authed),
        &[("iac.k8s.ml-host-network", "high", 28)],
    );
}

#[test]
fn kuberay_custom_resources() {
    let rc = r#"apiVersion: ray.io/v1
kind: RayCluster
metadata: {name: rc}
spec:
  headGroupSpec:
    serviceType: LoadBalancer
    rayStartParams: {dashboard-host: 0.0.0.0}
    template:
      spec:
        containers: [{name: ray-head, image: rayproject/ray:2.9.0}]
"#;
    expect(
        one("k/rc.yaml", rc),
        &[("iac.ml.ray-exposed", "critical", 6)],
    );
    expect(
        one("k/rc.yaml", &rc.replace("LoadBalancer", "ClusterIP")),
        &[],
    );
    let rs = r#"apiVersion: ray.io/v1
kind: RayService
metadata: {name: rs}
spec:
  rayClusterConfig:
    headGroupSpec:
      enableIngress: true
      template: {spec: {containers: []}}
"#;
    expect(
        one("k/rs.yaml", rs),
        &[("iac.ml.ray-exposed", "critical", 7)],
    );
    expect(one("k/rs.yaml", &rs.replace("true", "false")), &[]);
}

#[test]
fn helm_values_of_ml_charts() {
    let v = r#"image:
  repository: ollama/ollama
  tag: 0.3.0
service:
  type: LoadBalancer
  port: 11434
ingress:
  enabled: false
"#;
    expect(
        one("charts/ollama/values.yaml", v),
        &[("iac.ml.ollama-exposed", "high", 5)],
    );
    expect(
        one(
            "charts/ollama/values.yaml",
            &v.replace("LoadBalancer", "ClusterIP"),
        ),
        &[],
    );
    // The same keys in a chart of something else: not an ML exposure.
    expect(
        one(
            "charts/web/values.yaml",
            &v.replace("ollama/ollama", "nginx"),
        ),
        &[],
    );
}

const COMPOSE: &str = r#"x-llm: &llm
  image: vllm/vllm-openai:latest
  environment:
    HF_HOME: /cache
services:
  vllm:
    <<: *llm
    command: ["--model", "mistralai/Mistral-7B"VLLMARGS]
    ports:
      - "8000:8000"
  ray:
    image: rayproject/ray:2.9.0
    command: ray start --head --dashboard-host=0.0.0.0 --block
    ports:
      - "RAYBIND8265:8265"
  notebook:
    image: jupyter/base-notebook
    ports: ["8888:8888"]
"#;

#[test]
fn compose_ports_anchors_and_merges() {
    let bad = COMPOSE.replace("VLLMARGS", "").replace("RAYBIND", "");
    expect(
        one("docker-compose.yml", &bad),
        &[
            ("iac.ml.ray-exposed", "critical", 15),
            ("iac.ml.vllm-no-api-key", "high", 10),
        ],
    );
    let good = COMPOSE
        .replace("VLLMARGS", ", \"--api-key\", \"${VLLM_KEY}\"")
        .replace("RAYBIND", "127.0.0.1:");
    expect(one("docker-compose.yml", &good), &[]);
    let empty_token = bad.replace(
        "image: jupyter/base-notebook",
        "image: jupyter/base-notebook\n    command: start-notebook.sh --NotebookApp.token=''",
    );
    // start-notebook.sh passes its arguments to jupyter; the empty token is what matters.
    let got = one("compose.yaml", &empty_token);
    assert!(
        got.contains(&("iac.ml.jupyter-no-auth".into(), "critical".into(), 19)),
        "{got:?}"
    );
}

#[test]
fn malformed_yaml_is_a_warning() {
    let o = common::run_with(
        &Default::default(),
        &[("k/bad.yaml", "apiVersion: v1\nkind: Service\nspec: [\n")],
    );
    assert!(o.findings.is_empty());
    assert_eq!(o.warnings.len(), 1);
    assert!(
        o.warnings[0].message.contains("invalid YAML"),
        "{:?}",
        o.warnings
    );
}
