//! Which input language a file is in (by name, then by content), and the dispatch to its checks.

use crate::{cfn, compose, k8s, launch, policy, yaml, Hit, Policy};

/// Input languages of the `iac` analyser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `.tf` / `.tfvars`: collected per directory.
    Terraform,
    /// `.yaml` / `.yml`: CloudFormation, Kubernetes, compose or Helm values, by content.
    Yaml,
    /// `.json`: CloudFormation or policy JSON, by content.
    Json,
    /// Dockerfile / Containerfile.
    Dockerfile,
    /// systemd unit.
    Systemd,
    /// Shell script.
    Shell,
    /// Python source.
    Python,
}

/// Words one of which a script must contain to be worth reading for launch lines.
const LAUNCH_WORDS: &[&str] = &[
    "ray",
    "jupyter",
    "gradio",
    "vllm",
    "ollama",
    "mlflow",
    "tensorboard",
    "text-generation",
    "serverapp",
    "notebookapp",
];

/// One case-insensitive automaton for [`LAUNCH_WORDS`], built once.
fn launch_words() -> Option<&'static aho_corasick::AhoCorasick> {
    static AC: std::sync::OnceLock<Option<aho_corasick::AhoCorasick>> = std::sync::OnceLock::new();
    AC.get_or_init(|| {
        aho_corasick::AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(LAUNCH_WORDS)
            .ok()
    })
    .as_ref()
}

/// The kind of a file, or `None` when it is not infrastructure code.
pub(crate) fn kind(path: &str, data: &[u8]) -> Option<Kind> {
    let name = path.rsplit(['/', '!', '\\']).next().unwrap_or(path);
    let lower = name.to_ascii_lowercase();
    let ext = lower.rsplit_once('.').map(|x| x.1).unwrap_or("");
    let k = match ext {
        "tf" | "tfvars" => Kind::Terraform,
        "yaml" | "yml" => Kind::Yaml,
        "json" | "template" => Kind::Json,
        "service" => Kind::Systemd,
        "sh" | "bash" => Kind::Shell,
        "py" => Kind::Python,
        _ if lower == "dockerfile"
            || lower.starts_with("dockerfile.")
            || lower.ends_with(".dockerfile")
            || lower == "containerfile" =>
        {
            Kind::Dockerfile
        }
        _ => return None,
    };
    let wanted = match k {
        Kind::Json => contains_any(data, &[b"\"Statement\"", b"\"bindings\"", b"\"Resources\""]),
        Kind::Shell | Kind::Python | Kind::Systemd | Kind::Dockerfile => {
            launch_words().is_some_and(|ac| ac.is_match(data))
        }
        _ => true,
    };
    wanted.then_some(k)
}

/// Helm values files: `values.yaml`, `values-prod.yaml`, `values.gpu.yml`.
fn is_values_file(path: &str) -> bool {
    let name = path
        .rsplit(['/', '!', '\\'])
        .next()
        .unwrap_or(path)
        .to_ascii_lowercase();
    name.starts_with("values") && (name.ends_with(".yaml") || name.ends_with(".yml"))
}

fn contains_any(data: &[u8], needles: &[&[u8]]) -> bool {
    needles
        .iter()
        .any(|n| memchr::memmem::find(data, n).is_some())
}

/// Run the checks of a (non-Terraform) file.
pub(crate) fn run(kind: Kind, path: &str, text: &str, policy: &Policy) -> Result<Vec<Hit>, String> {
    match kind {
        Kind::Terraform => Ok(Vec::new()),
        Kind::Yaml => {
            let docs = yaml::parse_docs(text)?;
            let mut hits = Vec::new();
            if cfn::is_template(&docs) {
                hits.extend(cfn::check(&docs, text, policy));
            } else if compose::is_compose(&docs) {
                hits.extend(compose::check(&docs, text));
            } else if k8s::is_k8s(&docs) {
                hits.extend(k8s::check(&docs, text));
            } else if is_values_file(path) {
                hits.extend(k8s::check_helm_values(&docs, text));
            }
            Ok(hits)
        }
        Kind::Json => {
            let doc = yaml::parse_json(text)?;
            let docs = [doc];
            if cfn::is_template(&docs) {
                Ok(cfn::check(&docs, text, policy))
            } else if k8s::is_k8s(&docs) {
                Ok(k8s::check(&docs, text))
            } else {
                Ok(policy::check_standalone(&docs[0].value, text, policy))
            }
        }
        Kind::Dockerfile => Ok(launch::check_dockerfile(text)),
        Kind::Systemd => Ok(launch::check_systemd(text)),
        Kind::Shell => Ok(launch::check_shell(text)),
        Kind::Python => Ok(launch::check_python(text)),
    }
}
