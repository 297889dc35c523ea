//! The ML services Lantern knows: their rule, their ports, and how to recognise them from an
//! image, a name or a port.

use crate::Rule;

/// An ML service that has no authentication of its own (or has it off by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Svc {
    Ray,
    Mlflow,
    Jupyter,
    Ollama,
    Vllm,
    Tgi,
    Tensorboard,
    Gradio,
}

impl Svc {
    /// Every service.
    pub const ALL: [Svc; 8] = [
        Svc::Ray,
        Svc::Mlflow,
        Svc::Jupyter,
        Svc::Ollama,
        Svc::Vllm,
        Svc::Tgi,
        Svc::Tensorboard,
        Svc::Gradio,
    ];

    /// The rule reported when it is reachable from outside.
    pub fn rule(self) -> Rule {
        match self {
            Svc::Ray => Rule::RayExposed,
            Svc::Mlflow => Rule::MlflowExposed,
            Svc::Jupyter => Rule::JupyterNoAuth,
            Svc::Ollama => Rule::OllamaExposed,
            Svc::Vllm => Rule::VllmNoApiKey,
            Svc::Tgi => Rule::TgiExposed,
            Svc::Tensorboard => Rule::TensorboardExposed,
            Svc::Gradio => Rule::GradioShare,
        }
    }

    /// Display name.
    pub fn name(self) -> &'static str {
        match self {
            Svc::Ray => "Ray",
            Svc::Mlflow => "MLflow",
            Svc::Jupyter => "Jupyter",
            Svc::Ollama => "Ollama",
            Svc::Vllm => "vLLM",
            Svc::Tgi => "TGI",
            Svc::Tensorboard => "TensorBoard",
            Svc::Gradio => "Gradio",
        }
    }

    /// The ports it listens on by default (Ray: dashboard/job API, client, GCS).
    pub fn ports(self) -> &'static [u16] {
        match self {
            Svc::Ray => &[8265, 10001, 6379],
            Svc::Mlflow => &[5000],
            Svc::Jupyter => &[8888],
            Svc::Ollama => &[11434],
            Svc::Vllm => &[8000],
            Svc::Tgi => &[8080, 3000, 80],
            Svc::Tensorboard => &[6006],
            Svc::Gradio => &[7860],
        }
    }

    /// The service a port alone identifies (only ports that few other programs use).
    pub fn by_distinctive_port(port: u16) -> Option<Svc> {
        match port {
            8265 | 10001 => Some(Svc::Ray),
            8888 => Some(Svc::Jupyter),
            11434 => Some(Svc::Ollama),
            6006 => Some(Svc::Tensorboard),
            7860 => Some(Svc::Gradio),
            _ => None,
        }
    }

    /// The service a name, image or label names (`rayproject/ray:2.9`, `mlflow-server`, ...).
    pub fn by_hint(text: &str) -> Option<Svc> {
        let lower = text.to_ascii_lowercase();
        let tokens: Vec<&str> = lower
            .split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|t| !t.is_empty())
            .collect();
        let has = |w: &str| tokens.contains(&w);
        if has("ray") || has("rayproject") || has("kuberay") || has("raycluster") {
            Some(Svc::Ray)
        } else if has("mlflow") {
            Some(Svc::Mlflow)
        } else if tokens.iter().any(|t| t.starts_with("jupyter")) {
            Some(Svc::Jupyter)
        } else if has("ollama") {
            Some(Svc::Ollama)
        } else if has("vllm") {
            Some(Svc::Vllm)
        } else if has("tgi") || lower.contains("text-generation-inference") {
            Some(Svc::Tgi)
        } else if has("tensorboard") {
            Some(Svc::Tensorboard)
        } else if has("gradio") {
            Some(Svc::Gradio)
        } else {
            None
        }
    }

    /// The service behind `port` given an optional hint about what runs there.
    pub fn for_port(port: u16, hint: Option<Svc>) -> Option<Svc> {
        match hint {
            Some(s) if s.ports().contains(&port) => Some(s),
            // Gradio and TensorBoard apps are often moved to another port; the hint is enough
            // for the services whose image names them but whose port is configurable.
            Some(s @ (Svc::Gradio | Svc::Vllm | Svc::Tgi | Svc::Mlflow)) if port >= 1024 => Some(s),
            _ => Svc::by_distinctive_port(port),
        }
    }
}

/// Port ranges (`from..=to`) covering a port of a service; `hint` names what the range is for.
pub(crate) fn services_in_range(from: u16, to: u16, hint: Option<Svc>) -> Vec<(Svc, u16)> {
    let mut out = Vec::new();
    // A range of all ports exposes everything, but says nothing about ML unless named for it.
    let everything = from <= 1024 && to >= 60000;
    for s in Svc::ALL {
        for &p in s.ports() {
            if p < from || p > to {
                continue;
            }
            let distinctive = Svc::by_distinctive_port(p) == Some(s);
            if (distinctive && !everything) || hint == Some(s) {
                out.push((s, p));
                break;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_are_whole_words() {
        assert_eq!(Svc::by_hint("rayproject/ray:2.9.0-gpu"), Some(Svc::Ray));
        assert_eq!(Svc::by_hint("xray-daemon"), None);
        assert_eq!(Svc::by_hint("array-service"), None);
        assert_eq!(
            Svc::by_hint("ghcr.io/huggingface/text-generation-inference:2"),
            Some(Svc::Tgi)
        );
        assert_eq!(Svc::by_hint("vllm/vllm-openai"), Some(Svc::Vllm));
    }

    #[test]
    fn generic_ports_need_a_hint() {
        assert_eq!(Svc::for_port(5000, None), None);
        assert_eq!(Svc::for_port(5000, Some(Svc::Mlflow)), Some(Svc::Mlflow));
        assert_eq!(Svc::for_port(8265, None), Some(Svc::Ray));
        assert!(services_in_range(0, 65535, None).is_empty());
        assert_eq!(
            services_in_range(8000, 9000, None),
            vec![(Svc::Ray, 8265), (Svc::Jupyter, 8888)]
        );
    }
}
