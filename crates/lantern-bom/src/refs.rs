//! Models and datasets referenced by code and configuration: `from_pretrained("org/name")`,
//! `hf_hub_download`, `snapshot_download`, `pipeline(model=...)`, `load_dataset`,
//! `SentenceTransformer`, vLLM `--model`, Ollama `Modelfile` / `ollama run`, and `model:` keys.

use crate::hf::is_repo_id;
use regex::Regex;
use std::sync::OnceLock;

/// Largest source file scanned for references.
pub const MAX_SOURCE: u64 = 4 * 1024 * 1024;

/// What a reference points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RefKind {
    /// A Hugging Face model repository.
    HfModel,
    /// A Hugging Face dataset repository.
    HfDataset,
    /// An Ollama library model (`name:tag`).
    Ollama,
    /// A hosted model behind a provider's API (`gpt-4o-mini`, `claude-3-5-sonnet`); the id is
    /// `provider/model`.
    ApiModel,
}

/// One reference found in a file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Reference {
    /// What it points at.
    pub kind: RefKind,
    /// Repository id (`org/name`) or Ollama model name (without tag).
    pub id: String,
    /// Hub revision or Ollama tag.
    pub revision: Option<String>,
    /// 1-based line of the reference.
    pub line: u32,
    /// The call or key that referenced it (`from_pretrained`, `model`, `FROM`, ...).
    pub symbol: String,
}

/// Whether a file may hold references worth scanning, by name.
pub fn is_reference_source(file_name: &str) -> bool {
    let lower = file_name.to_ascii_lowercase();
    if lower == "modelfile" || lower.ends_with(".modelfile") || lower == "dockerfile" {
        return true;
    }
    let ext = lower.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    matches!(
        ext,
        "py" | "ipynb"
            | "js"
            | "mjs"
            | "cjs"
            | "ts"
            | "mts"
            | "jsx"
            | "tsx"
            | "yaml"
            | "yml"
            | "json"
            | "toml"
            | "cfg"
            | "ini"
            | "sh"
            | "env"
    )
}

struct Patterns {
    call: Regex,
    config_key: Regex,
    vllm: Regex,
    ollama_cli: Regex,
    ollama_class: Regex,
    modelfile_from: Regex,
    api_model: Regex,
    string_lit: Regex,
    kwarg: Regex,
}

fn patterns() -> &'static Patterns {
    static P: OnceLock<Patterns> = OnceLock::new();
    P.get_or_init(|| {
        let re = |s: &str| Regex::new(s).unwrap_or_else(|e| panic!("invalid built-in regex {s}: {e}"));
        Patterns {
            call: re(r"\b(from_pretrained|hf_hub_download|snapshot_download|load_dataset|SentenceTransformer|CrossEncoder|pipeline)\s*\("),
            config_key: re(r#"(?i)["']?\b(model|model_name|model_id|model_name_or_path|base_model|base_model_name_or_path|pretrained_model_name_or_path|tokenizer_name|hub_model_id|embedding_model|dataset|dataset_name|dataset_id|dataset_path)\b["']?\s*[:=]\s*["']?([A-Za-z0-9][\w.-]*/[\w.:-]*[\w])["']?"#),
            vllm: re(r#"(?:vllm\s+serve\s+|--model(?:\s+|=|["']\s*,\s*["']))["']?([A-Za-z0-9][\w.-]*/[\w.-]*\w)"#),
            ollama_cli: re(r"\bollama\s+(?:run|pull)\s+([A-Za-z0-9][\w./:-]*\w)"),
            ollama_class: re(r#"\b(?:Ollama|ChatOllama|OllamaLLM|OllamaEmbeddings)\s*\([^)]{0,200}?\bmodel\s*=\s*["']([^"']+)["']"#),
            modelfile_from: re(r"(?im)^\s*FROM\s+(\S+)"),
            api_model: re(r#"(?i)["']?\b(?:model|model_name|model_id|engine|llm_model|chat_model)\b["']?\s*[:=]\s*["']?((?:gpt-[0-9]|o[134]-|o[134]["'\s,]|chatgpt-|text-embedding-|claude-|gemini-|command-r|mistral-(?:large|medium|small|tiny)|grok-)[\w.:-]*)"#),
            string_lit: re(r#"^\s*["']([^"'\n]{1,200})["']"#),
            kwarg: re(r#"\b(\w+)\s*[=:]\s*["']([^"'\n]{1,200})["']"#),
        }
    })
}

/// Providers that share the `provider/model` syntax in LLM gateway configs (LiteLLM and the
/// like); their models are not hub repositories.
const API_PROVIDERS: &[&str] = &[
    "openai",
    "azure",
    "azure_ai",
    "anthropic",
    "bedrock",
    "vertex_ai",
    "gemini",
    "groq",
    "together_ai",
    "mistral",
    "cohere",
    "deepseek",
    "fireworks_ai",
    "perplexity",
    "replicate",
    "openrouter",
    "xai",
    "sagemaker",
    "cloudflare",
    "voyage",
    "databricks",
    "watsonx",
];

/// Local dataset builders of `datasets.load_dataset` that name a format, not a hub dataset.
const DATASET_BUILDERS: &[&str] = &[
    "csv",
    "json",
    "parquet",
    "text",
    "imagefolder",
    "audiofolder",
    "videofolder",
    "arrow",
    "webdataset",
    "pandas",
    "sql",
    "generator",
    "xml",
    "spark",
];

struct LineIndex(Vec<usize>);

impl LineIndex {
    fn new(text: &str) -> Self {
        LineIndex(
            std::iter::once(0)
                .chain(text.match_indices('\n').map(|(i, _)| i + 1))
                .collect(),
        )
    }
    fn line(&self, offset: usize) -> u32 {
        self.0.partition_point(|&s| s <= offset) as u32
    }
}

/// The text between a call's `(` and its matching `)` (bounded to 600 bytes).
fn call_args(text: &str, open: usize) -> &str {
    let rest = &text[open..];
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    for (i, c) in rest.char_indices() {
        if i > 600 {
            return &rest[..i];
        }
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '(' | '[' | '{') => depth += 1,
            (None, ')' | ']' | '}') => {
                if depth == 0 {
                    return &rest[..i];
                }
                depth -= 1;
            }
            _ => {}
        }
    }
    rest
}

/// Positional string literals (in order, up to the first non-literal argument) and keyword
/// string arguments of a call.
fn parse_args(args: &str) -> (Vec<String>, Vec<(String, String)>) {
    let p = patterns();
    let mut positional = Vec::new();
    let mut rest = args;
    while let Some(c) = p.string_lit.captures(rest) {
        positional.push(c[1].to_string());
        let end = c.get(0).map(|m| m.end()).unwrap_or(rest.len());
        rest = rest[end..].trim_start();
        match rest.strip_prefix(',') {
            Some(r) => rest = r,
            None => break,
        }
    }
    let kwargs = p
        .kwarg
        .captures_iter(args)
        .map(|c| (c[1].to_string(), c[2].to_string()))
        .collect();
    (positional, kwargs)
}

fn kw<'a>(kwargs: &'a [(String, String)], names: &[&str]) -> Option<&'a str> {
    kwargs
        .iter()
        .find(|(k, _)| names.contains(&k.as_str()))
        .map(|(_, v)| v.as_str())
}

/// Split an Ollama model reference `name:tag` (drops a `registry.ollama.ai/library/` prefix).
fn ollama_ref(s: &str, line: u32, symbol: &str) -> Option<Reference> {
    let s = s.trim();
    for hub in ["hf.co/", "huggingface.co/"] {
        if let Some(id) = s.strip_prefix(hub) {
            let (id, tag) = match id.split_once(':') {
                Some((i, t)) => (i, Some(t)),
                None => (id, None),
            };
            return is_repo_id(id).then(|| Reference {
                kind: RefKind::HfModel,
                id: id.to_string(),
                revision: None,
                line,
                symbol: format!(
                    "{symbol}{}",
                    tag.map(|t| format!(" ({t})")).unwrap_or_default()
                ),
            });
        }
    }
    let s = s.strip_prefix("registry.ollama.ai/").unwrap_or(s);
    let s = s.strip_prefix("library/").unwrap_or(s);
    let (name, tag) = match s.split_once(':') {
        Some((n, t)) => (n, Some(t.to_string())),
        None => (s, None),
    };
    if !is_repo_id(name) {
        return None;
    }
    Some(Reference {
        kind: RefKind::Ollama,
        id: name.to_string(),
        revision: tag,
        line,
        symbol: symbol.to_string(),
    })
}

/// Classify a `provider/model` value from a config key: a hub repo, an Ollama model, or an API
/// model (ignored).
fn config_value(value: &str, dataset_key: bool, line: u32, symbol: &str) -> Option<Reference> {
    let (prefix, rest) = value.split_once('/')?;
    let p = prefix.to_ascii_lowercase();
    if p == "ollama" || p == "ollama_chat" {
        return ollama_ref(rest, line, symbol);
    }
    if API_PROVIDERS.contains(&p.as_str()) {
        return (!rest.is_empty() && !rest.contains('/')).then(|| Reference {
            kind: RefKind::ApiModel,
            id: format!("{p}/{rest}"),
            revision: None,
            line,
            symbol: symbol.to_string(),
        });
    }
    let id = if p == "huggingface" { rest } else { value };
    let (id, revision) = match id.split_once(':') {
        Some((i, r)) => (i, Some(r.to_string())),
        None => (id, None),
    };
    if !id.contains('/') || !is_repo_id(id) {
        return None;
    }
    Some(Reference {
        kind: if dataset_key {
            RefKind::HfDataset
        } else {
            RefKind::HfModel
        },
        id: id.to_string(),
        revision,
        line,
        symbol: symbol.to_string(),
    })
}

/// The provider serving a hosted model, from its well-known name prefix.
fn api_provider(model: &str) -> &'static str {
    let m = model.to_ascii_lowercase();
    if m.starts_with("claude-") {
        "anthropic"
    } else if m.starts_with("gemini-") {
        "gemini"
    } else if m.starts_with("command-r") {
        "cohere"
    } else if m.starts_with("mistral-") {
        "mistral"
    } else if m.starts_with("grok-") {
        "xai"
    } else {
        "openai"
    }
}

fn hub_id(s: &str) -> Option<&str> {
    let s = s.trim();
    (!s.starts_with('.') && !s.starts_with('/') && !s.starts_with('~') && is_repo_id(s))
        .then_some(s)
}

/// Find every model and dataset reference in a source or config file.
pub fn scan_text(file_name: &str, text: &str) -> Vec<Reference> {
    let p = patterns();
    let lower = file_name.to_ascii_lowercase();
    // Notebooks are JSON: unescape quotes so that code cells read like code.
    let unescaped;
    let text = if lower.ends_with(".ipynb") {
        unescaped = text.replace("\\\"", "\"");
        unescaped.as_str()
    } else {
        text
    };
    let lines = LineIndex::new(text);
    let mut out = Vec::new();

    for m in p.call.captures_iter(text) {
        let (Some(whole), Some(func)) = (m.get(0), m.get(1)) else {
            continue;
        };
        let line = lines.line(whole.start());
        let (pos, kwargs) = parse_args(call_args(text, whole.end()));
        let func = func.as_str();
        let revision = kw(&kwargs, &["revision"]).map(str::to_string);
        let (target, kind) = match func {
            "from_pretrained" => (
                pos.first()
                    .map(String::as_str)
                    .or_else(|| kw(&kwargs, &["pretrained_model_name_or_path"])),
                RefKind::HfModel,
            ),
            "hf_hub_download" | "snapshot_download" => (
                pos.first()
                    .map(String::as_str)
                    .or_else(|| kw(&kwargs, &["repo_id"])),
                if kw(&kwargs, &["repo_type"]) == Some("dataset") {
                    RefKind::HfDataset
                } else {
                    RefKind::HfModel
                },
            ),
            "load_dataset" => {
                let t = pos
                    .first()
                    .map(String::as_str)
                    .or_else(|| kw(&kwargs, &["path"]));
                (
                    t.filter(|t| !DATASET_BUILDERS.contains(t)),
                    RefKind::HfDataset,
                )
            }
            "SentenceTransformer" | "CrossEncoder" => (
                pos.first()
                    .map(String::as_str)
                    .or_else(|| kw(&kwargs, &["model_name_or_path", "model_name"])),
                RefKind::HfModel,
            ),
            _ => (
                // pipeline(task, model) or pipeline(model=...)
                kw(&kwargs, &["model"]).or_else(|| pos.get(1).map(String::as_str)),
                RefKind::HfModel,
            ),
        };
        if let Some(id) = target.and_then(hub_id) {
            out.push(Reference {
                kind,
                id: id.to_string(),
                revision,
                line,
                symbol: func.to_string(),
            });
        }
    }

    for c in p.config_key.captures_iter(text) {
        let (Some(whole), Some(key), Some(val)) = (c.get(0), c.get(1), c.get(2)) else {
            continue;
        };
        // Skip values that continue as a path (`org/name/file.bin`) or URL.
        if text[val.end()..].starts_with('/') {
            continue;
        }
        let key = key.as_str().to_ascii_lowercase();
        let line = lines.line(whole.start());
        if let Some(r) = config_value(val.as_str(), key.starts_with("dataset"), line, &key) {
            out.push(r);
        }
    }

    for c in p.vllm.captures_iter(text) {
        if let (Some(whole), Some(val)) = (c.get(0), c.get(1)) {
            if text[val.end()..].starts_with('/') {
                continue;
            }
            if let Some(id) = hub_id(val.as_str()) {
                out.push(Reference {
                    kind: RefKind::HfModel,
                    id: id.to_string(),
                    revision: None,
                    line: lines.line(whole.start()),
                    symbol: "vllm --model".into(),
                });
            }
        }
    }

    for c in p
        .ollama_cli
        .captures_iter(text)
        .chain(p.ollama_class.captures_iter(text))
    {
        if let (Some(whole), Some(val)) = (c.get(0), c.get(1)) {
            if let Some(r) = ollama_ref(val.as_str(), lines.line(whole.start()), "ollama") {
                out.push(r);
            }
        }
    }

    for c in p.api_model.captures_iter(text) {
        if let (Some(whole), Some(val)) = (c.get(0), c.get(1)) {
            let model = val.as_str().trim_end_matches(['"', '\'', ',', ' ']);
            out.push(Reference {
                kind: RefKind::ApiModel,
                id: format!("{}/{model}", api_provider(model)),
                revision: None,
                line: lines.line(whole.start()),
                symbol: "model".into(),
            });
        }
    }

    if lower == "modelfile" || lower.ends_with(".modelfile") {
        for c in p.modelfile_from.captures_iter(text) {
            let (Some(whole), Some(val)) = (c.get(0), c.get(1)) else {
                continue;
            };
            let v = val.as_str();
            let is_path = v.starts_with('.')
                || v.starts_with('/')
                || v.starts_with('~')
                || [".gguf", ".bin", ".safetensors"]
                    .iter()
                    .any(|e| v.to_ascii_lowercase().ends_with(e));
            if !is_path {
                if let Some(r) = ollama_ref(v, lines.line(whole.start()), "FROM") {
                    out.push(r);
                }
            }
        }
    }
    // The same reference can match twice (`pipeline(model="x")` is also a `model=` key): keep
    // the first, most specific match.
    let mut seen = std::collections::BTreeSet::new();
    out.retain(|r| seen.insert((r.kind, r.id.clone(), r.revision.clone(), r.line)));
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(v: &[Reference]) -> Vec<(RefKind, &str, u32)> {
        v.iter().map(|r| (r.kind, r.id.as_str(), r.line)).collect()
    }

    #[test]
    fn python_calls() {
        let src = r#"from transformers import AutoModelForCausalLM, pipeline
model = AutoModelForCausalLM.from_pretrained("meta-llama/Llama-3.1-8B", revision="abc123")
tok = AutoTokenizer.from_pretrained(
    "gpt2",
)
local = AutoModel.from_pretrained("./checkpoints/last")
p = pipeline("sentiment-analysis", model="distilbert/distilbert-base-uncased-finetuned-sst-2-english")
ds = load_dataset("tatsu-lab/alpaca", split="train")
csv = load_dataset("csv", data_files="x.csv")
f = hf_hub_download(repo_id="org/data", filename="a.parquet", repo_type="dataset")
s = SentenceTransformer("sentence-transformers/all-MiniLM-L6-v2")
var = AutoModel.from_pretrained(name)
"#;
        let r = scan_text("train.py", src);
        assert_eq!(
            ids(&r),
            [
                (
                    RefKind::HfModel,
                    "distilbert/distilbert-base-uncased-finetuned-sst-2-english",
                    7
                ),
                (RefKind::HfModel, "gpt2", 3),
                (RefKind::HfModel, "meta-llama/Llama-3.1-8B", 2),
                (
                    RefKind::HfModel,
                    "sentence-transformers/all-MiniLM-L6-v2",
                    11
                ),
                (RefKind::HfDataset, "org/data", 10),
                (RefKind::HfDataset, "tatsu-lab/alpaca", 8),
            ]
        );
        let llama = r
            .iter()
            .find(|x| x.id == "meta-llama/Llama-3.1-8B")
            .unwrap();
        assert_eq!(llama.revision.as_deref(), Some("abc123"));
        assert_eq!(llama.symbol, "from_pretrained");
        let distil = r.iter().find(|x| x.id.starts_with("distilbert/")).unwrap();
        assert_eq!(distil.symbol, "pipeline");
    }

    #[test]
    fn javascript_pipeline_and_notebook() {
        let js = "const c = await pipeline('sentiment-analysis', 'Xenova/distilbert-base-uncased-finetuned-sst-2-english');\n";
        assert_eq!(
            ids(&scan_text("app.js", js)),
            [(
                RefKind::HfModel,
                "Xenova/distilbert-base-uncased-finetuned-sst-2-english",
                1
            )]
        );
        let nb =
            r#"{"cells":[{"source":["m = AutoModel.from_pretrained(\"bert-base-uncased\")\n"]}]}"#;
        assert_eq!(
            ids(&scan_text("x.ipynb", nb)),
            [(RefKind::HfModel, "bert-base-uncased", 1)]
        );
    }

    #[test]
    fn configs_vllm_and_ollama() {
        let yaml = "model: mistralai/Mistral-7B-Instruct-v0.3\nfallback: openai/gpt-4o\nmodel_list:\n  - model: openai/gpt-4o\n  - model: ollama/llama3.1:8b\ndataset_name: HuggingFaceH4/ultrachat_200k\noutput: models/out/final\n";
        let r = scan_text("config.yaml", yaml);
        assert_eq!(
            ids(&r),
            [
                (RefKind::HfModel, "mistralai/Mistral-7B-Instruct-v0.3", 1),
                (RefKind::HfDataset, "HuggingFaceH4/ultrachat_200k", 6),
                (RefKind::Ollama, "llama3.1", 5),
                (RefKind::ApiModel, "openai/gpt-4o", 4),
            ]
        );
        let sh = "vllm serve Qwen/Qwen2.5-7B-Instruct --port 8000\npython -m vllm.entrypoints.openai.api_server --model=google/gemma-2-9b\nollama pull nomic-embed-text\n";
        let r = scan_text("serve.sh", sh);
        assert_eq!(
            ids(&r),
            [
                (RefKind::HfModel, "Qwen/Qwen2.5-7B-Instruct", 1),
                (RefKind::HfModel, "google/gemma-2-9b", 2),
                (RefKind::Ollama, "nomic-embed-text", 3),
            ]
        );
        let mf = "FROM llama3.2:3b\nPARAMETER temperature 0.2\n";
        let r = scan_text("Modelfile", mf);
        assert_eq!(ids(&r), [(RefKind::Ollama, "llama3.2", 1)]);
        assert_eq!(r[0].revision.as_deref(), Some("3b"));
        assert!(scan_text("Modelfile", "FROM ./model.gguf\n").is_empty());
        let api = "r = client.chat.completions.create(model=\"gpt-4o-mini\", messages=m)\nmsg = anthropic.messages.create(model='claude-3-5-sonnet-20241022')\nmodel_list:\n  - model: openai/gpt-4o\nnot_a_model = \"gpt-4o\"\n";
        let r = scan_text("app.py", api);
        assert_eq!(
            ids(&r),
            [
                (RefKind::ApiModel, "anthropic/claude-3-5-sonnet-20241022", 2),
                (RefKind::ApiModel, "openai/gpt-4o", 4),
                (RefKind::ApiModel, "openai/gpt-4o-mini", 1),
            ]
        );
        let py = "llm = ChatOllama(model=\"qwen2.5:7b\", temperature=0)\n";
        assert_eq!(
            ids(&scan_text("a.py", py)),
            [(RefKind::Ollama, "qwen2.5", 1)]
        );
    }
}
