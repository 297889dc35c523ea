//! Kubernetes manifests (workloads, Services, Ingresses, KubeRay `RayCluster`/`RayService`/
//! `RayJob`) and Helm values files: which ML services they run and whether those are reachable
//! from outside the cluster without authentication.

use crate::launch::{self, Env};
use crate::services::Svc;
use crate::yaml::{get, line_of, list, scalar, Doc};
use crate::{Hit, Rule};
use serde_json::Value;

/// An ML service run by a workload.
#[derive(Debug, Clone)]
struct Found {
    svc: Svc,
    no_auth: bool,
    /// Container ports by name and number.
    ports: Vec<(Option<String>, u16)>,
}

/// A workload: its labels, services and where it is.
#[derive(Debug, Clone)]
struct Workload {
    labels: serde_json::Map<String, Value>,
    found: Vec<Found>,
}

/// Whether the documents are Kubernetes objects.
pub(crate) fn is_k8s(docs: &[Doc]) -> bool {
    docs.iter()
        .any(|d| d.value.get("apiVersion").is_some() && d.value.get("kind").is_some())
}

fn kind(v: &Value) -> &str {
    v.get("kind").and_then(Value::as_str).unwrap_or("")
}

fn name(v: &Value) -> String {
    get(v, &["metadata", "name"])
        .and_then(scalar)
        .unwrap_or_default()
}

fn address(v: &Value) -> String {
    format!("{}/{}", kind(v), name(v))
}

/// The pod spec of a workload, with its labels.
fn pod_spec(v: &Value) -> Option<(&Value, Option<&Value>)> {
    match kind(v) {
        "Pod" => Some((v.get("spec")?, get(v, &["metadata", "labels"]))),
        "CronJob" => {
            let t = get(v, &["spec", "jobTemplate", "spec", "template"])?;
            Some((t.get("spec")?, get(t, &["metadata", "labels"])))
        }
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" => {
            let t = get(v, &["spec", "template"])?;
            Some((t.get("spec")?, get(t, &["metadata", "labels"])))
        }
        _ => None,
    }
}

/// ML services of the containers of a pod spec.
fn services_of(spec: &Value) -> Vec<Found> {
    let mut out = Vec::new();
    let containers = list(spec.get("containers"));
    for c in containers {
        let env = container_env(c);
        let cmd: Vec<String> = list(c.get("command"))
            .into_iter()
            .chain(list(c.get("args")))
            .filter_map(scalar)
            .map(|a| {
                if a.is_empty() {
                    "''".into()
                } else if a.contains(' ') {
                    format!("'{a}'")
                } else {
                    a
                }
            })
            .collect();
        let image = c.get("image").and_then(Value::as_str).unwrap_or("");
        let ports: Vec<(Option<String>, u16)> = list(c.get("ports"))
            .into_iter()
            .filter_map(|p| {
                let n = p.get("containerPort")?.as_u64()?;
                Some((
                    p.get("name").and_then(Value::as_str).map(str::to_string),
                    u16::try_from(n).ok()?,
                ))
            })
            .collect();
        if let Some((svc, no_auth)) = identify(image, "", &cmd.join(" "), &env) {
            out.push(Found {
                svc,
                no_auth,
                ports,
            });
        }
    }
    out
}

/// The ML service a container runs and whether it asks for no credentials: from its command
/// line, or from its image (or name) with the command read as arguments to the image's server.
pub(crate) fn identify(image: &str, name: &str, cmd: &str, env: &Env) -> Option<(Svc, bool)> {
    if let Some(l) = launch::analyse(cmd, env).first() {
        return Some((l.svc, l.no_auth));
    }
    let svc = Svc::by_hint(image).or_else(|| Svc::by_hint(name))?;
    let entry = match svc {
        Svc::Vllm => "vllm serve",
        Svc::Tgi => "text-generation-launcher",
        Svc::Mlflow => "mlflow server",
        Svc::Ollama => "ollama serve",
        Svc::Jupyter => "jupyter lab",
        Svc::Tensorboard => "tensorboard",
        Svc::Ray | Svc::Gradio => "",
    };
    if !entry.is_empty() {
        if let Some(l) = launch::analyse(&format!("{entry} {cmd}"), env).first() {
            return Some((l.svc, l.no_auth));
        }
    }
    Some((svc, default_no_auth(svc, env)))
}

/// Whether a service started from its image's default command asks for no credentials.
pub(crate) fn default_no_auth(svc: Svc, env: &Env) -> bool {
    match svc {
        // Jupyter images generate a random token unless told otherwise.
        Svc::Jupyter => env.get("JUPYTER_TOKEN").is_some_and(String::is_empty),
        Svc::Vllm => !env.contains_key("VLLM_API_KEY"),
        Svc::Tgi => !env.contains_key("API_KEY"),
        Svc::Ray => env.get("RAY_AUTH_MODE").map(String::as_str) != Some("token"),
        _ => true,
    }
}

fn container_env(c: &Value) -> Env {
    let mut env = Env::new();
    for e in list(c.get("env")) {
        let (Some(k), v) = (e.get("name").and_then(Value::as_str), e.get("value")) else {
            continue;
        };
        // A value from a secret counts as set.
        let v = v.and_then(scalar).unwrap_or_else(|| "<from secret>".into());
        env.insert(k.to_string(), v);
    }
    env
}

fn workloads(docs: &[Doc]) -> Vec<Workload> {
    let mut out = Vec::new();
    for d in docs {
        for v in items(&d.value) {
            let Some((spec, labels)) = pod_spec(v) else {
                continue;
            };
            out.push(Workload {
                labels: labels
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default(),
                found: services_of(spec),
            });
        }
    }
    out
}

/// The objects of a document (`kind: List` expanded).
fn items(v: &Value) -> Vec<&Value> {
    if kind(v) == "List" {
        list(v.get("items"))
    } else {
        vec![v]
    }
}

/// Checks of a Kubernetes manifest file.
pub(crate) fn check(docs: &[Doc], text: &str) -> Vec<Hit> {
    let wl = workloads(docs);
    let mut hits = Vec::new();
    for d in docs {
        for v in items(&d.value) {
            let at = |needle: &str| line_of(text, d.start, d.end, needle);
            match kind(v) {
                "Service" => hits.extend(service(v, &wl, &at)),
                "Ingress" => hits.extend(ingress(v, docs, &wl, &at)),
                "RayCluster" | "RayService" | "RayJob" => hits.extend(kuberay(v, &at)),
                _ => {}
            }
            if let Some((spec, _)) = pod_spec(v) {
                if spec.get("hostNetwork").and_then(Value::as_bool) == Some(true) {
                    for f in services_of(spec).iter().filter(|f| f.no_auth) {
                        hits.push(Hit::new(
                            Rule::K8sHostNetwork,
                            at("hostNetwork"),
                            address(v),
                            format!(
                                "{} on hostNetwork: reachable on every node address",
                                f.svc.name()
                            ),
                        ));
                    }
                }
            }
        }
    }
    hits
}

fn selected<'a>(svc: &Value, wl: &'a [Workload]) -> Vec<&'a Workload> {
    let Some(sel) = get(svc, &["spec", "selector"]).and_then(Value::as_object) else {
        return Vec::new();
    };
    if sel.is_empty() {
        return Vec::new();
    }
    wl.iter()
        .filter(|w| sel.iter().all(|(k, v)| w.labels.get(k) == Some(v)))
        .collect()
}

/// Whether a LoadBalancer is internal or restricted to source ranges.
fn internal_lb(svc: &Value) -> bool {
    let internal = get(svc, &["metadata", "annotations"])
        .and_then(Value::as_object)
        .is_some_and(|a| {
            a.iter().any(|(k, v)| {
                let v = scalar(v).unwrap_or_default().to_ascii_lowercase();
                (k.ends_with("load-balancer-internal") && v == "true")
                    || (k.ends_with("load-balancer-type") && v == "internal")
                    || (k.ends_with("aws-load-balancer-scheme") && v == "internal")
            })
        });
    let ranges: Vec<String> = list(get(svc, &["spec", "loadBalancerSourceRanges"]))
        .into_iter()
        .filter_map(scalar)
        .collect();
    internal || (!ranges.is_empty() && !ranges.iter().any(|r| r == "0.0.0.0/0" || r == "::/0"))
}

/// The ML services behind the ports of a Service, resolved through the workloads it selects or,
/// without them, by distinctive port and the Service's name.
fn service_ports(svc: &Value, wl: &[Workload]) -> Vec<(Svc, u16)> {
    let targets = selected(svc, wl);
    let hint = Svc::by_hint(&name(svc));
    let mut out = Vec::new();
    for p in list(get(svc, &["spec", "ports"])) {
        let port = p
            .get("port")
            .and_then(Value::as_u64)
            .and_then(|n| u16::try_from(n).ok());
        let Some(port) = port else { continue };
        let target = p.get("targetPort");
        let tnum = target
            .and_then(Value::as_u64)
            .and_then(|n| u16::try_from(n).ok())
            .unwrap_or(port);
        let tname = target.and_then(Value::as_str);
        let pname = p.get("name").and_then(Value::as_str).unwrap_or("");
        if targets.is_empty() {
            let h = hint.or_else(|| Svc::by_hint(pname));
            let guess = Svc::for_port(tnum, h).or_else(|| Svc::for_port(port, h));
            // Without the workload, Jupyter is assumed to keep its default token.
            if let Some(s) = guess.filter(|s| *s != Svc::Jupyter) {
                out.push((s, port));
            }
            continue;
        }
        for w in &targets {
            for f in w.found.iter().filter(|f| f.no_auth) {
                let by_name =
                    tname.is_some_and(|n| f.ports.iter().any(|(pn, _)| pn.as_deref() == Some(n)));
                let by_num =
                    f.svc.ports().contains(&tnum) || f.ports.iter().any(|(_, n)| *n == tnum);
                if by_name || by_num {
                    out.push((f.svc, port));
                }
            }
        }
    }
    out.sort();
    out.dedup_by_key(|x| x.0);
    out
}

fn service(v: &Value, wl: &[Workload], at: &dyn Fn(&str) -> u32) -> Vec<Hit> {
    let ty = get(v, &["spec", "type"])
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP");
    if !matches!(ty, "LoadBalancer" | "NodePort") || (ty == "LoadBalancer" && internal_lb(v)) {
        return Vec::new();
    }
    service_ports(v, wl)
        .into_iter()
        .map(|(s, port)| {
            Hit::new(
                s.rule(),
                at(&format!("type: {ty}")),
                address(v),
                format!("{} port {port} exposed by a {ty} Service", s.name()),
            )
        })
        .collect()
}

/// Annotations that put authentication or an allow-list in front of an Ingress.
fn ingress_has_auth(v: &Value) -> bool {
    get(v, &["metadata", "annotations"])
        .and_then(Value::as_object)
        .is_some_and(|a| {
            a.keys().any(|k| {
                let k = k.to_ascii_lowercase();
                [
                    "auth-url",
                    "auth-type",
                    "auth-signin",
                    "auth-tls-verify-client",
                    "oauth",
                    "whitelist-source-range",
                    "allowlist-source-range",
                    "router.middlewares",
                    "konghq.com/plugins",
                    "auth-idp",
                    "iap",
                ]
                .iter()
                .any(|m| k.contains(m))
            })
        })
}

fn ingress(v: &Value, docs: &[Doc], wl: &[Workload], at: &dyn Fn(&str) -> u32) -> Vec<Hit> {
    if ingress_has_auth(v) {
        return Vec::new();
    }
    let mut backends = Vec::new();
    if let Some(b) = get(v, &["spec", "defaultBackend"]) {
        backends.push(b);
    }
    for r in list(get(v, &["spec", "rules"])) {
        for p in list(get(r, &["http", "paths"])) {
            if let Some(b) = p.get("backend") {
                backends.push(b);
            }
        }
    }
    let mut hits = Vec::new();
    for b in backends {
        let (sname, port) = match b.get("service") {
            Some(s) => (
                s.get("name").and_then(Value::as_str).unwrap_or(""),
                get(s, &["port", "number"]).and_then(Value::as_u64),
            ),
            None => (
                b.get("serviceName").and_then(Value::as_str).unwrap_or(""),
                b.get("servicePort").and_then(Value::as_u64),
            ),
        };
        let port = port.and_then(|n| u16::try_from(n).ok());
        let svc_obj = docs
            .iter()
            .flat_map(|d| items(&d.value))
            .find(|o| kind(o) == "Service" && name(o) == sname);
        let found: Vec<(Svc, u16)> = match svc_obj {
            Some(o) => service_ports(o, wl)
                .into_iter()
                .filter(|(_, p)| port.is_none_or(|q| q == *p))
                .collect(),
            None => port
                .and_then(|p| Svc::for_port(p, Svc::by_hint(sname)).map(|s| (s, p)))
                .filter(|(s, _)| *s != Svc::Jupyter)
                .into_iter()
                .collect(),
        };
        for (s, p) in found {
            hits.push(Hit::new(
                s.rule(),
                at(sname),
                address(v),
                format!(
                    "{} (service {sname} port {p}) behind an Ingress without authentication",
                    s.name()
                ),
            ));
        }
    }
    hits
}

fn kuberay(v: &Value, at: &dyn Fn(&str) -> u32) -> Vec<Hit> {
    let spec = match kind(v) {
        "RayService" => get(v, &["spec", "rayClusterConfig"]),
        "RayJob" => get(v, &["spec", "rayClusterSpec"]),
        _ => v.get("spec"),
    };
    let Some(spec) = spec else { return Vec::new() };
    if get(spec, &["authOptions", "mode"]).and_then(Value::as_str) == Some("token") {
        return Vec::new();
    }
    let head = spec.get("headGroupSpec");
    let head_env_token = head
        .and_then(|h| get(h, &["template", "spec"]))
        .map(|s| {
            list(s.get("containers"))
                .into_iter()
                .any(|c| container_env(c).get("RAY_AUTH_MODE").map(String::as_str) == Some("token"))
        })
        .unwrap_or(false);
    if head_env_token {
        return Vec::new();
    }
    let mut hits = Vec::new();
    if let Some(h) = head {
        if let Some(t @ ("LoadBalancer" | "NodePort")) =
            h.get("serviceType").and_then(Value::as_str)
        {
            hits.push(Hit::new(
                Rule::RayExposed,
                at("serviceType"),
                address(v),
                format!("KubeRay head service type {t}: dashboard 8265 and client 10001 reachable from outside"),
            ));
        }
        if h.get("enableIngress").and_then(Value::as_bool) == Some(true) {
            hits.push(Hit::new(
                Rule::RayExposed,
                at("enableIngress"),
                address(v),
                "KubeRay enableIngress: the dashboard is published through an Ingress without authentication",
            ));
        }
        if get(h, &["template", "spec", "hostNetwork"]).and_then(Value::as_bool) == Some(true) {
            hits.push(Hit::new(
                Rule::K8sHostNetwork,
                at("hostNetwork"),
                address(v),
                "Ray head on hostNetwork: reachable on every node address",
            ));
        }
    }
    hits
}

/// Helm values of the common ML charts (KubeRay `ray-cluster`, MLflow, Ollama, vLLM, TGI,
/// TensorBoard): a `service.type` of LoadBalancer/NodePort or an enabled ingress without
/// authentication, for a chart whose image names the service.
pub(crate) fn check_helm_values(docs: &[Doc], text: &str) -> Vec<Hit> {
    let mut hits = Vec::new();
    for d in docs {
        let mut hint = None;
        images(&d.value, &mut hint, 0);
        let Some(svc) = hint else { continue };
        if svc == Svc::Jupyter || auth_enabled(&d.value) {
            continue;
        }
        let at = |needle: &str| line_of(text, d.start, d.end, needle);
        walk_values(&d.value, "", 0, &mut |path, obj| {
            if path.ends_with("service") || path.ends_with("Service") {
                if let Some(t @ ("LoadBalancer" | "NodePort")) =
                    obj.get("type").and_then(Value::as_str)
                {
                    hits.push(Hit::new(
                        svc.rule(),
                        at(t),
                        format!("values{path}"),
                        format!("{} chart with service type {t}", svc.name()),
                    ));
                }
            }
            if path.ends_with("ingress")
                && obj.get("enabled").and_then(Value::as_bool) == Some(true)
            {
                let annotated = obj.get("annotations").is_some_and(|a| {
                    ingress_has_auth(&serde_json::json!({"metadata": {"annotations": a}}))
                });
                if !annotated {
                    hits.push(Hit::new(
                        svc.rule(),
                        at("enabled: true"),
                        format!("values{path}"),
                        format!(
                            "{} chart with an ingress without authentication",
                            svc.name()
                        ),
                    ));
                }
            }
        });
    }
    hits
}

fn auth_enabled(v: &Value) -> bool {
    ["auth", "basicAuth", "authentication"].iter().any(|k| {
        v.get(*k)
            .and_then(|a| a.get("enabled"))
            .and_then(Value::as_bool)
            == Some(true)
    }) || v
        .get("apiKey")
        .and_then(scalar)
        .is_some_and(|s| !s.is_empty())
}

/// The service named by any `image`/`repository` value of a values file.
fn images(v: &Value, hint: &mut Option<Svc>, d: usize) {
    if hint.is_some() || d > crate::MAX_DEPTH {
        return;
    }
    match v {
        Value::Object(o) => {
            for (k, x) in o {
                if matches!(k.as_str(), "image" | "repository") {
                    if let Some(s) = x.as_str().and_then(Svc::by_hint) {
                        *hint = Some(s);
                        return;
                    }
                }
                images(x, hint, d + 1);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| images(x, hint, d + 1)),
        _ => {}
    }
}

fn walk_values(
    v: &Value,
    path: &str,
    d: usize,
    f: &mut dyn FnMut(&str, &serde_json::Map<String, Value>),
) {
    if d > crate::MAX_DEPTH {
        return;
    }
    if let Value::Object(o) = v {
        f(path, o);
        for (k, x) in o {
            walk_values(x, &format!("{path}.{k}"), d + 1, f);
        }
    }
}
