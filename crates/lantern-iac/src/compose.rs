//! docker-compose files: ML services whose ports are published on every host interface, or that
//! share the host's network, without authentication.

use crate::k8s::identify;
use crate::launch::{self, Env};
use crate::services::Svc;
use crate::yaml::{line_of, list, scalar, Doc};
use crate::Hit;
use serde_json::Value;

/// Whether the documents are a compose file (a `services` map of image/build entries).
pub(crate) fn is_compose(docs: &[Doc]) -> bool {
    docs.iter().any(|d| {
        d.value.get("apiVersion").is_none()
            && d.value
                .get("services")
                .and_then(Value::as_object)
                .is_some_and(|s| {
                    s.values()
                        .any(|x| x.get("image").is_some() || x.get("build").is_some())
                })
    })
}

fn env_of(svc: &Value) -> Env {
    let mut env = Env::new();
    match svc.get("environment") {
        Some(Value::Object(o)) => {
            for (k, v) in o {
                env.insert(k.clone(), scalar(v).unwrap_or_default());
            }
        }
        Some(Value::Array(a)) => {
            for e in a.iter().filter_map(Value::as_str) {
                let (k, v) = e.split_once('=').unwrap_or((e, ""));
                env.insert(k.to_string(), v.to_string());
            }
        }
        _ => {}
    }
    env
}

fn command_of(svc: &Value) -> String {
    let part = |v: Option<&Value>| match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(_)) => list(v)
            .into_iter()
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
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    };
    format!(
        "{} {}",
        part(svc.get("entrypoint")),
        part(svc.get("command"))
    )
}

/// Published ports on every interface: (host spec as written, container port).
fn public_ports(svc: &Value) -> Vec<(String, u16)> {
    let mut out = Vec::new();
    for p in list(svc.get("ports")) {
        match p {
            Value::Object(o) => {
                let host_ip = o.get("host_ip").and_then(Value::as_str).unwrap_or("");
                let target = o
                    .get("target")
                    .and_then(Value::as_u64)
                    .and_then(|n| u16::try_from(n).ok());
                if let (true, Some(t)) = (all_interfaces(host_ip), target) {
                    out.push((t.to_string(), t));
                }
            }
            _ => {
                let Some(s) = scalar(p) else { continue };
                let spec = s.split('/').next().unwrap_or(&s);
                let (host, container) = split_port(spec);
                if !all_interfaces(host) {
                    continue;
                }
                let first = container.split('-').next().unwrap_or(container);
                if let Ok(t) = first.parse::<u16>() {
                    out.push((s.clone(), t));
                }
            }
        }
    }
    out
}

/// `[ip:][host:]container` -> (ip, container).
fn split_port(spec: &str) -> (&str, &str) {
    if let Some(rest) = spec.strip_prefix('[') {
        let (ip, tail) = rest.split_once(']').unwrap_or((rest, ""));
        let container = tail.rsplit(':').next().unwrap_or(tail);
        return (ip, container);
    }
    let parts: Vec<&str> = spec.split(':').collect();
    match parts.as_slice() {
        [c] => ("", c),
        [_, c] => ("", c),
        [ip, _, c] => (ip, c),
        _ => ("", parts.last().copied().unwrap_or("")),
    }
}

fn all_interfaces(ip: &str) -> bool {
    matches!(ip.trim(), "" | "0.0.0.0" | "::" | "*")
}

/// Checks of a compose file.
pub(crate) fn check(docs: &[Doc], text: &str) -> Vec<Hit> {
    let mut hits = Vec::new();
    for d in docs {
        let Some(services) = d.value.get("services").and_then(Value::as_object) else {
            continue;
        };
        for (name, svc) in services {
            let env = env_of(svc);
            let cmd = command_of(svc);
            let launches = launch::analyse(&cmd, &env);
            let image = svc.get("image").and_then(Value::as_str).unwrap_or("");
            let (found, no_auth) = match identify(image, name, &cmd, &env) {
                Some((s, a)) => (Some(s), a),
                None => (None, true),
            };
            let address = format!("services.{name}");
            let start = line_of(text, d.start, d.end, &format!("{name}:"));
            let at = |needle: &str| line_of(text, start, d.end, needle);
            let host_net = svc.get("network_mode").and_then(Value::as_str) == Some("host");
            if let (Some(s), true, true) = (found, no_auth, host_net) {
                let binds = launches.first().is_none_or(|l| l.binds_all) || s == Svc::Ollama;
                if binds {
                    hits.push(Hit::new(
                        s.rule(),
                        at("network_mode"),
                        &address,
                        format!("{} on the host network without authentication", s.name()),
                    ));
                }
            }
            if !no_auth {
                continue;
            }
            for (spec, port) in public_ports(svc) {
                if let Some(s) = Svc::for_port(port, found) {
                    // Another service's port, or Jupyter guessed from its port (tokens are on by
                    // default): not this service's exposure.
                    if (found.is_some() && Some(s) != found)
                        || (found.is_none() && s == Svc::Jupyter)
                    {
                        continue;
                    }
                    hits.push(Hit::new(
                        s.rule(),
                        at(&spec),
                        &address,
                        format!(
                            "{} port {port} published on all interfaces (\"{spec}\")",
                            s.name()
                        ),
                    ));
                }
            }
        }
    }
    hits
}
