//! Models and datasets referenced by code and configuration: `from_pretrained("org/name")`,
//! `hf_hub_download`, `snapshot_download`, `pipeline(model=...)`, `load_dataset`,
//! `SentenceTransformer`, vLLM `--model`, Ollama `Modelfile` / `ollama run`, hosted-model
//! clients (`chat.completions.create`, LiteLLM, LangChain `Chat*`), `model:` / `dataset_path:`
//! keys and download URLs of weights. What a name is (model, dataset, hosted API model) is
//! decided by the call or key that names it, not by its organisation.

use crate::hf::is_repo_id;
use crate::lockfiles::LineStarts as LineIndex;
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
    /// Model weights downloaded from a URL that is not a hub (whisper's checkpoints); the id is
    /// the URL, whose path may carry the file's SHA-256 ([`url_sha256`]).
    ModelUrl,
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
    /// Whether it sits in a Python docstring or other triple-quoted string (a usage example,
    /// not code that runs).
    pub in_docstring: bool,
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
    api_call: Regex,
    config_key: Regex,
    vllm: Regex,
    ollama_cli: Regex,
    ollama_class: Regex,
    modelfile_from: Regex,
    api_model: Regex,
    url: Regex,
    string_lit: Regex,
    ident_arg: Regex,
    kwarg: Regex,
    yaml_key: Regex,
}

fn patterns() -> &'static Patterns {
    static P: OnceLock<Patterns> = OnceLock::new();
    P.get_or_init(|| {
        let re = crate::builtin_regex;
        Patterns {
            call: re(r"\b(from_pretrained|hf_hub_download|snapshot_download|load_dataset|SentenceTransformer|CrossEncoder|pipeline)\s*\("),
            api_call: re(r"(?:\b(?:chat\.completions|completions|embeddings|responses|messages|moderations)\.create|\b(a?completion|a?embedding|a?text_completion|init_chat_model|(?:Azure)?Chat[A-Z]\w*|[A-Z]\w*Embeddings|LiteLLM\w*))\s*\("),
            config_key: re(r#"(?i)["']?\b(model|model_name|model_id|model_name_or_path|base_model|base_model_name_or_path|pretrained_model_name_or_path|tokenizer_name|hub_model_id|embedding_model|dataset|dataset_name|dataset_id|dataset_path)\b["']?\s*[:=]\s*["']?([A-Za-z0-9][\w.-]*/[\w.:-]*[\w])["']?"#),
            vllm: re(r#"(?:vllm\s+serve\s+|--model(?:\s+|=|["']\s*,\s*["']))["']?([A-Za-z0-9][\w.-]*/[\w.-]*\w)"#),
            ollama_cli: re(r"\bollama\s+(?:run|pull)\s+([A-Za-z0-9][\w./:-]*\w)"),
            ollama_class: re(r#"\b(?:Ollama|ChatOllama|OllamaLLM|OllamaEmbeddings)\s*\([^)]{0,200}?\bmodel\s*=\s*["']([^"']+)["']"#),
            modelfile_from: re(r"(?im)^\s*FROM\s+(\S+)"),
            api_model: re(r#"(?i)["']?\b(?:model|model_name|model_id|engine|llm_model|chat_model)\b["']?\s*[:=]\s*["']?((?:gpt-[0-9]|o[134]-|o[134]["'\s,]|chatgpt-|text-embedding-|claude-|gemini-|command-r|mistral-(?:large|medium|small|tiny)|grok-)[\w.:-]*)"#),
            url: re(r#"https?://[A-Za-z0-9.-]+(?::[0-9]+)?/[^\s"'<>()\[\]{}\\`]{1,500}"#),
            string_lit: re(r#"^\s*["']([^"'\n]{1,200})["']"#),
            ident_arg: re(r"^\s*([A-Za-z_]\w*)\s*(?:,|$)"),
            kwarg: re(r#"\b(\w+)\s*[=:]\s*["']([^"'\n]{1,200})["']"#),
            // Config keys are lower-case (`dataset_path:`); mail-style headers
            // (`Metadata-Version:`) are not YAML worth reading.
            yaml_key: re(r"^[a-z_][a-z0-9_]*:(?:\s|$)"),
        }
    })
}

/// Hosted-model naming from `data/hosted_models.txt`: gateway providers, providers that are
/// also hub organisations, and hosted-model name prefixes.
struct Hosted {
    providers: Vec<&'static str>,
    hub_orgs: Vec<&'static str>,
    prefixes: Vec<&'static str>,
}

fn hosted() -> &'static Hosted {
    static H: OnceLock<Hosted> = OnceLock::new();
    H.get_or_init(|| {
        let mut h = Hosted {
            providers: Vec::new(),
            hub_orgs: Vec::new(),
            prefixes: Vec::new(),
        };
        for line in include_str!("../data/hosted_models.txt").lines() {
            match line.trim().split_once(' ') {
                Some(("provider", v)) => h.providers.push(v.trim()),
                Some(("hub-org", v)) => h.hub_orgs.push(v.trim()),
                Some(("hosted-prefix", v)) => h.prefixes.push(v.trim()),
                _ => {}
            }
        }
        h
    })
}

/// Whether `name` is a hosted API model name (`gpt-4o`, `o3-mini`, `claude-3-5-sonnet`).
fn hosted_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    hosted().prefixes.iter().any(|p| n.starts_with(p))
        || ["o1", "o3", "o4"]
            .iter()
            .any(|p| n == *p || n.starts_with(&format!("{p}-")))
}

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

/// File extensions of model weights downloaded by URL; `.bin` counts only with a digest in the
/// path (it is too common otherwise).
const URL_MODEL_EXTS: &[&str] = &[
    "pt",
    "pth",
    "ckpt",
    "safetensors",
    "gguf",
    "onnx",
    "tflite",
    "h5",
    "keras",
    "pkl",
    "joblib",
    "nemo",
    "mar",
];

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

/// A string argument of a call and its byte offset in the arguments.
#[derive(Clone, Copy)]
struct Arg<'a> {
    value: &'a str,
    at: usize,
}

/// The arguments of a call that can name a component.
struct Args<'a> {
    /// Positional string literals, in order, up to the first non-literal argument.
    positional: Vec<Arg<'a>>,
    /// Keyword (or `key: value`) string arguments.
    kwargs: Vec<(&'a str, Arg<'a>)>,
    /// A bare variable as the first argument (`from_pretrained(init_from)`).
    first_ident: Option<&'a str>,
}

impl<'a> Args<'a> {
    fn parse(args: &'a str) -> Self {
        let p = patterns();
        let mut positional = Vec::new();
        let mut pos = 0;
        while let Some(c) = p.string_lit.captures(&args[pos..]) {
            let (Some(whole), Some(v)) = (c.get(0), c.get(1)) else {
                break;
            };
            positional.push(Arg {
                value: v.as_str(),
                at: pos + v.start(),
            });
            let rest = &args[pos + whole.end()..];
            let trimmed = rest.trim_start();
            match trimmed.strip_prefix(',') {
                Some(r) => pos = args.len() - r.len(),
                None => break,
            }
        }
        let first_ident = if positional.is_empty() {
            p.ident_arg
                .captures(args)
                .and_then(|c| c.get(1))
                .map(|m| m.as_str())
        } else {
            None
        };
        let kwargs = p
            .kwarg
            .captures_iter(args)
            .filter_map(|c| {
                let (k, v) = (c.get(1)?, c.get(2)?);
                Some((
                    k.as_str(),
                    Arg {
                        value: v.as_str(),
                        at: v.start(),
                    },
                ))
            })
            .collect();
        Args {
            positional,
            kwargs,
            first_ident,
        }
    }

    fn kw(&self, names: &[&str]) -> Option<Arg<'a>> {
        self.kwargs
            .iter()
            .find(|(k, _)| names.contains(k))
            .map(|(_, v)| *v)
    }

    /// The `n`th positional literal, else the first of the keyword arguments `names`.
    fn pos_or_kw(&self, n: usize, names: &[&str]) -> Option<Arg<'a>> {
        self.positional.get(n).copied().or_else(|| self.kw(names))
    }
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
                in_docstring: false,
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
        in_docstring: false,
    })
}

/// Whether `provider/rest` names a model behind a provider's API rather than a hub repository.
fn is_api_value(provider: &str, rest: &str) -> bool {
    let h = hosted();
    h.providers.contains(&provider)
        && !rest.is_empty()
        && !rest.contains('/')
        && (!h.hub_orgs.contains(&provider) || hosted_name(rest))
}

/// Classify a `provider/model` value from a config key. The key decides first: a dataset key
/// (`dataset_path: openai/gsm8k`) names a hub dataset whatever the organisation; a model key
/// names an Ollama model (`ollama/x`), a hosted API model (`openai/gpt-4o`) or a hub model
/// (`openai/gpt-oss-20b`).
fn config_value(value: &str, dataset_key: bool, line: u32, symbol: &str) -> Option<Reference> {
    let (prefix, rest) = value.split_once('/')?;
    let p = prefix.to_ascii_lowercase();
    if !dataset_key && (p == "ollama" || p == "ollama_chat") {
        return ollama_ref(rest, line, symbol);
    }
    if !dataset_key && is_api_value(&p, rest) {
        return Some(Reference {
            kind: RefKind::ApiModel,
            id: format!("{p}/{rest}"),
            revision: None,
            line,
            symbol: symbol.to_string(),
            in_docstring: false,
        });
    }
    let h = hosted();
    if !dataset_key && h.providers.contains(&p.as_str()) && !h.hub_orgs.contains(&p.as_str()) {
        return None; // `bedrock/x/y` and the like: a gateway route, not a hub repository
    }
    let id = if p == "huggingface" && rest.contains('/') {
        rest
    } else {
        value
    };
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
        in_docstring: false,
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

/// The provider a client class or function implies (`ChatAnthropic`), if it names one.
fn provider_of_callee(callee: &str) -> Option<&'static str> {
    let c = callee.to_ascii_lowercase();
    [
        ("anthropic", "anthropic"),
        ("azure", "azure"),
        ("bedrock", "bedrock"),
        ("vertex", "vertex_ai"),
        ("google", "gemini"),
        ("gemini", "gemini"),
        ("mistral", "mistral"),
        ("cohere", "cohere"),
        ("groq", "groq"),
        ("deepseek", "deepseek"),
        ("openai", "openai"),
    ]
    .iter()
    .find(|(k, _)| c.contains(k))
    .map(|(_, p)| *p)
}

fn hub_id(s: &str) -> Option<&str> {
    let s = s.trim();
    (!s.starts_with('.') && !s.starts_with('/') && !s.starts_with('~') && is_repo_id(s))
        .then_some(s)
}

/// A reference and the byte offset of the text naming it: when two patterns match the same
/// text (`pipeline(model="x")` is also a `model=` key) the first, most specific, wins.
struct Hit {
    at: usize,
    reference: Reference,
}

/// One file being scanned.
struct Scan<'t> {
    text: &'t str,
    lines: LineIndex,
    hits: Vec<Hit>,
}

impl<'t> Scan<'t> {
    fn line(&self, offset: usize) -> u32 {
        self.lines.line(offset)
    }

    fn push(&mut self, at: usize, reference: Reference) {
        self.hits.push(Hit { at, reference });
    }

    fn push_ref(
        &mut self,
        at: usize,
        kind: RefKind,
        id: &str,
        line_at: usize,
        symbol: &str,
        revision: Option<&str>,
    ) {
        let line = self.line(line_at);
        self.push(
            at,
            Reference {
                kind,
                id: id.to_string(),
                revision: revision.map(str::to_string),
                line,
                symbol: symbol.to_string(),
                in_docstring: false,
            },
        );
    }

    /// String literals a variable takes from a literal list or set: `for x in ["a", "b"]`,
    /// `assert x in {"a", "b"}`. Nothing unless every element is a string literal.
    fn literal_choices(&self, ident: &str) -> Vec<Arg<'t>> {
        let pattern = format!(
            r"\b{}\s+in\s*[\[\(\{{]([^\]\)\}}]{{1,600}})[\]\)\}}]",
            regex::escape(ident)
        );
        let (Ok(re), Ok(lit)) = (
            Regex::new(&pattern),
            Regex::new(r#"["']([^"'\n]{1,200})["']"#),
        ) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for c in re.captures_iter(self.text) {
            let Some(body) = c.get(1) else { continue };
            let rest = lit.replace_all(body.as_str(), "");
            if !rest.chars().all(|ch| ch == ',' || ch.is_whitespace()) {
                continue;
            }
            out.extend(lit.captures_iter(body.as_str()).filter_map(|l| {
                let m = l.get(1)?;
                Some(Arg {
                    value: m.as_str(),
                    at: body.start() + m.start(),
                })
            }));
        }
        out
    }

    /// `from_pretrained`, `hf_hub_download`, `load_dataset`, `pipeline` ... calls.
    fn hub_calls(&mut self) {
        let text = self.text;
        for m in patterns().call.captures_iter(text) {
            let (Some(whole), Some(func)) = (m.get(0), m.get(1)) else {
                continue;
            };
            let args = Args::parse(call_args(text, whole.end()));
            let func = func.as_str();
            let (target, kind) = match func {
                "from_pretrained" => (
                    args.pos_or_kw(0, &["pretrained_model_name_or_path"]),
                    RefKind::HfModel,
                ),
                "hf_hub_download" | "snapshot_download" => (
                    args.pos_or_kw(0, &["repo_id"]),
                    match args.kw(&["repo_type"]).map(|a| a.value) {
                        Some("dataset") => RefKind::HfDataset,
                        _ => RefKind::HfModel,
                    },
                ),
                "load_dataset" => (
                    args.pos_or_kw(0, &["path"])
                        .filter(|t| !DATASET_BUILDERS.contains(&t.value)),
                    RefKind::HfDataset,
                ),
                "SentenceTransformer" | "CrossEncoder" => (
                    args.pos_or_kw(0, &["model_name_or_path", "model_name"]),
                    RefKind::HfModel,
                ),
                // pipeline(task, model) or pipeline(model=...)
                _ => (
                    args.kw(&["model"])
                        .or_else(|| args.positional.get(1).copied()),
                    RefKind::HfModel,
                ),
            };
            let revision = args.kw(&["revision"]).map(|a| a.value);
            let base = whole.end();
            match (target, args.first_ident) {
                (Some(t), _) => {
                    if let Some(id) = hub_id(t.value) {
                        self.push_ref(base + t.at, kind, id, whole.start(), func, revision);
                    }
                }
                (None, Some(ident)) if func != "pipeline" => {
                    for choice in self.literal_choices(ident) {
                        if let Some(id) = hub_id(choice.value) {
                            self.push_ref(choice.at, kind, id, choice.at, func, revision);
                        }
                    }
                }
                _ => {}
            }
        }
    }

    /// Clients of hosted models: `client.chat.completions.create(model=...)`, LiteLLM
    /// `completion(model="provider/x")`, LangChain `ChatOpenAI(model=...)`.
    fn api_calls(&mut self) {
        let text = self.text;
        for m in patterns().api_call.captures_iter(text) {
            let Some(whole) = m.get(0) else { continue };
            let callee = m.get(1).map(|c| c.as_str()).unwrap_or(".create");
            let lower = callee.to_ascii_lowercase();
            if lower.contains("ollama") {
                continue; // Ollama clients are read by `ollama_class`
            }
            let args = Args::parse(call_args(text, whole.end()));
            let Some(arg) = args.kw(&["model", "model_name", "model_id", "deployment_name"]) else {
                continue;
            };
            let at = whole.end() + arg.at;
            let value = arg.value.trim();
            if ["huggingface", "fastembed", "sentencetransformer"]
                .iter()
                .any(|k| lower.contains(k))
            {
                if let Some(id) = hub_id(value) {
                    self.push_ref(at, RefKind::HfModel, id, whole.start(), callee, None);
                }
                continue;
            }
            let line = self.line(whole.start());
            let reference = match value.split_once('/') {
                Some(("ollama" | "ollama_chat", rest)) => ollama_ref(rest, line, callee),
                Some((p, rest)) if !p.is_empty() && !rest.is_empty() => Some(Reference {
                    kind: RefKind::ApiModel,
                    id: format!("{}/{rest}", p.to_ascii_lowercase()),
                    revision: None,
                    line,
                    symbol: callee.to_string(),
                    in_docstring: false,
                }),
                Some(_) => None,
                None if !value.is_empty() && !value.contains(char::is_whitespace) => {
                    Some(Reference {
                        kind: RefKind::ApiModel,
                        id: format!(
                            "{}/{value}",
                            provider_of_callee(callee).unwrap_or_else(|| api_provider(value))
                        ),
                        revision: None,
                        line,
                        symbol: callee.to_string(),
                        in_docstring: false,
                    })
                }
                None => None,
            };
            if let Some(r) = reference {
                self.push(at, r);
            }
        }
    }

    /// `model: org/name`, `dataset_path: org/name` and the like in configs and keyword
    /// arguments.
    fn config_keys(&mut self) {
        let text = self.text;
        for c in patterns().config_key.captures_iter(text) {
            let (Some(whole), Some(key), Some(val)) = (c.get(0), c.get(1), c.get(2)) else {
                continue;
            };
            // Skip values that continue as a path (`org/name/file.bin`) or URL.
            if text[val.end()..].starts_with('/') {
                continue;
            }
            let key = key.as_str().to_ascii_lowercase();
            let line = self.line(whole.start());
            if let Some(r) = config_value(val.as_str(), key.starts_with("dataset"), line, &key) {
                self.push(val.start(), r);
            }
        }
    }

    /// vLLM `--model` / `vllm serve`, Ollama CLI and clients, and hosted model names under
    /// model keys (`model="gpt-4o-mini"`).
    fn serving(&mut self) {
        let (p, text) = (patterns(), self.text);
        for c in p.vllm.captures_iter(text) {
            if let (Some(whole), Some(val)) = (c.get(0), c.get(1)) {
                if text[val.end()..].starts_with('/') {
                    continue;
                }
                if let Some(id) = hub_id(val.as_str()) {
                    let sym = "vllm --model";
                    self.push_ref(val.start(), RefKind::HfModel, id, whole.start(), sym, None);
                }
            }
        }
        for c in p
            .ollama_cli
            .captures_iter(text)
            .chain(p.ollama_class.captures_iter(text))
        {
            if let (Some(whole), Some(val)) = (c.get(0), c.get(1)) {
                if let Some(r) = ollama_ref(val.as_str(), self.line(whole.start()), "ollama") {
                    self.push(val.start(), r);
                }
            }
        }
        for c in p.api_model.captures_iter(text) {
            if let (Some(whole), Some(val)) = (c.get(0), c.get(1)) {
                let model = val.as_str().trim_end_matches(['"', '\'', ',', ' ']);
                let id = format!("{}/{model}", api_provider(model));
                self.push_ref(
                    val.start(),
                    RefKind::ApiModel,
                    &id,
                    whole.start(),
                    "model",
                    None,
                );
            }
        }
    }

    /// `FROM name:tag` lines of an Ollama Modelfile (local weight paths are not references).
    fn modelfile(&mut self) {
        for c in patterns().modelfile_from.captures_iter(self.text) {
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
                if let Some(r) = ollama_ref(v, self.line(whole.start()), "FROM") {
                    self.push(val.start(), r);
                }
            }
        }
    }

    /// Download URLs: Hugging Face `resolve/` links name a hub repository; other URLs of model
    /// weights (whisper's checkpoints) are models of their own.
    fn urls(&mut self) {
        let text = self.text;
        for m in patterns().url.find_iter(text) {
            let url = m.as_str().trim_end_matches(['.', ',', ';', ':']);
            if let Some((kind, id, rev)) = hub_url(url) {
                self.push_ref(m.start(), kind, &id, m.start(), "url", rev.as_deref());
            } else if is_weights_url(url) {
                self.push_ref(m.start(), RefKind::ModelUrl, url, m.start(), "url", None);
            }
        }
    }
}

/// A Hugging Face download URL (`https://huggingface.co/org/name/resolve/rev/file`,
/// `/datasets/org/name/resolve/...`): kind, repository id and revision.
fn hub_url(url: &str) -> Option<(RefKind, String, Option<String>)> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let (host, path) = rest.split_once('/')?;
    if !matches!(host, "huggingface.co" | "hf.co" | "www.huggingface.co") {
        return None;
    }
    let (kind, path) = match path.strip_prefix("datasets/") {
        Some(p) => (RefKind::HfDataset, p),
        None => (RefKind::HfModel, path),
    };
    let parts: Vec<&str> = path.split('/').collect();
    // org/name/resolve/rev/file, or name/resolve/rev/file for canonical repos
    let i = parts.iter().position(|p| *p == "resolve")?;
    if !(1..=2).contains(&i) || parts.len() < i + 3 {
        return None;
    }
    let id = parts[..i].join("/");
    let rev = parts.get(i + 1).map(|r| r.to_string());
    is_repo_id(&id).then_some((kind, id, rev))
}

/// The SHA-256 a download URL carries as one of its path segments (whisper's checkpoints).
pub fn url_sha256(url: &str) -> Option<&str> {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    path.split('/')
        .find(|s| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Whether a URL downloads model weights: its last path segment has a weights extension.
fn is_weights_url(url: &str) -> bool {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let name = path.rsplit('/').next().unwrap_or("");
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    URL_MODEL_EXTS.contains(&ext.as_str()) || (ext == "bin" && url_sha256(url).is_some())
}

/// Whether a file without a known extension (`_template_yaml`, `default_yaml`) reads as YAML:
/// its first line that is not blank, a comment or `---` is a lower-case `key:` mapping entry.
pub fn looks_like_yaml(text: &str) -> bool {
    text.lines()
        .map(str::trim_end)
        .find(|l| !l.trim().is_empty() && !l.starts_with('#') && *l != "---")
        .is_some_and(|l| patterns().yaml_key.is_match(l))
}

/// Byte spans of the triple-quoted strings of Python source (docstrings and the like), found by
/// a small lexer that skips comments and one-line strings.
fn triple_quoted_spans(text: &str) -> Vec<(usize, usize)> {
    let b = text.as_bytes();
    let mut spans = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'#' => {
                i = text[i..].find('\n').map_or(b.len(), |n| i + n);
            }
            q @ (b'"' | b'\'') => {
                let triple = [q, q, q];
                if b[i..].starts_with(&triple) {
                    let end = find_unescaped(b, i + 3, &triple).unwrap_or(b.len());
                    spans.push((i, end));
                    i = (end + 3).min(b.len());
                } else {
                    let end = find_unescaped(b, i + 1, &[q]).unwrap_or(b.len());
                    // A one-line string ends at its quote or, unterminated, at the line end.
                    let nl = text[i + 1..].find('\n').map_or(b.len(), |n| i + 1 + n);
                    i = end.min(nl) + 1;
                }
            }
            _ => i += 1,
        }
    }
    spans
}

/// Offset of the first `pat` at or after `from` not preceded by a backslash escape.
fn find_unescaped(b: &[u8], from: usize, pat: &[u8]) -> Option<usize> {
    let mut i = from;
    while i + pat.len() <= b.len() {
        if b[i] == b'\\' {
            i += 2;
            continue;
        }
        if b[i..].starts_with(pat) {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// Find every model and dataset reference in a source or config file. Hub ids that are
/// placeholders of docs and templates (`username/my-awesome-model`) are left out.
pub fn scan_text(file_name: &str, text: &str) -> Vec<Reference> {
    let lower = file_name.to_ascii_lowercase();
    // Notebooks are JSON: unescape quotes so that code cells read like code.
    let unescaped;
    let text = if lower.ends_with(".ipynb") {
        unescaped = text.replace("\\\"", "\"");
        unescaped.as_str()
    } else {
        text
    };
    let mut scan = Scan {
        text,
        lines: LineIndex::new(text),
        hits: Vec::new(),
    };
    // Most specific first: a call says what it loads better than the key naming it.
    scan.hub_calls();
    scan.api_calls();
    scan.serving();
    scan.config_keys();
    scan.urls();
    if lower == "modelfile" || lower.ends_with(".modelfile") {
        scan.modelfile();
    }
    let docstrings = if lower.ends_with(".py") {
        triple_quoted_spans(text)
    } else {
        Vec::new()
    };
    let mut seen = std::collections::BTreeSet::new();
    let mut out: Vec<Reference> = scan
        .hits
        .into_iter()
        .filter(|h| seen.insert(h.at))
        .map(|mut h| {
            h.reference.in_docstring = docstrings.iter().any(|&(a, z)| a <= h.at && h.at < z);
            h.reference
        })
        .filter(|r| {
            !matches!(r.kind, RefKind::HfModel | RefKind::HfDataset)
                || !crate::usage::is_placeholder(&r.id)
        })
        .collect();
    // The same reference named twice on a line (two patterns on different literals) once.
    let mut unique = std::collections::BTreeSet::new();
    out.retain(|r| unique.insert((r.kind, r.id.clone(), r.revision.clone(), r.line)));
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
f = hf_hub_download(repo_id="acme/data", filename="a.parquet", repo_type="dataset")
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
                (RefKind::HfDataset, "acme/data", 10),
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

    #[test]
    fn typed_by_the_call_or_key_not_the_organisation() {
        // lm-eval task configs: `dataset_path` names datasets, whoever publishes them.
        let yaml = "task: gsm8k\ndataset_path: openai/gsm8k\n---\ndataset_path: Anthropic/discrim-eval\nmodel: openai/gpt-oss-20b\nllm: \n  model: openai/gpt-4o-mini\n";
        let r = scan_text("_template_yaml", yaml);
        assert_eq!(
            ids(&r),
            [
                (RefKind::HfModel, "openai/gpt-oss-20b", 5),
                (RefKind::HfDataset, "Anthropic/discrim-eval", 4),
                (RefKind::HfDataset, "openai/gsm8k", 2),
                (RefKind::ApiModel, "openai/gpt-4o-mini", 7),
            ]
        );
        assert_eq!(r[2].symbol, "dataset_path");
        let py = r#"asr = pipeline("automatic-speech-recognition", model="openai/whisper-large-v2")
r = client.chat.completions.create(model="gpt-4o", messages=m)
x = litellm.completion(model="anthropic/claude-3-haiku-20240307", messages=m)
y = completion(model="ollama/llama3.1", messages=m)
llm = ChatAnthropic(model="claude-3-5-sonnet-latest", temperature=0)
g = ChatOpenAI(model_name="gpt-4o-mini")
e = HuggingFaceEmbeddings(model_name="sentence-transformers/all-mpnet-base-v2")
z = completion(model="together_ai/meta-llama/Llama-3-70b-chat-hf")
"#;
        let r = scan_text("app.py", py);
        assert_eq!(
            ids(&r),
            [
                (RefKind::HfModel, "openai/whisper-large-v2", 1),
                (
                    RefKind::HfModel,
                    "sentence-transformers/all-mpnet-base-v2",
                    7
                ),
                (RefKind::Ollama, "llama3.1", 4),
                (RefKind::ApiModel, "anthropic/claude-3-5-sonnet-latest", 5),
                (RefKind::ApiModel, "anthropic/claude-3-haiku-20240307", 3),
                (RefKind::ApiModel, "openai/gpt-4o", 2),
                (RefKind::ApiModel, "openai/gpt-4o-mini", 6),
                (
                    RefKind::ApiModel,
                    "together_ai/meta-llama/Llama-3-70b-chat-hf",
                    8
                ),
            ]
        );
        let chat = r.iter().find(|x| x.id == "openai/gpt-4o").unwrap();
        assert_eq!(chat.symbol, ".create");
    }

    #[test]
    fn placeholders_are_dropped() {
        let py = "m = AutoModel.from_pretrained(\"username/my-awesome-model\")\nd = load_dataset(\"namespace/repo_name\")\nx = AutoModel.from_pretrained(\"attacker/model\")\ny = AutoModel.from_pretrained(\"your-org/llama-ft\")\nz = AutoModel.from_pretrained(\"bigscience/bloom-560m\")\n";
        assert_eq!(
            ids(&scan_text("docs.py", py)),
            [(RefKind::HfModel, "bigscience/bloom-560m", 5)]
        );
    }

    #[test]
    fn literal_lists_urls_and_yaml_by_content() {
        let py = "assert model_type in {'gpt2', 'gpt2-medium', 'gpt2-large'}\nmodel = GPT2LMHeadModel.from_pretrained(model_type)\nother = AutoModel.from_pretrained(name)\nfor n in [a, 'x']:\n    AutoModel.from_pretrained(n)\n";
        let r = scan_text("model.py", py);
        assert_eq!(
            ids(&r),
            [
                (RefKind::HfModel, "gpt2", 1),
                (RefKind::HfModel, "gpt2-large", 1),
                (RefKind::HfModel, "gpt2-medium", 1),
            ]
        );
        assert!(r.iter().all(|x| x.symbol == "from_pretrained"));
        let whisper = "_MODELS = {\n    \"tiny.en\": \"https://openaipublic.azureedge.net/main/whisper/models/d3dd57d32accea0b295c96e26691aa14d8822fac7d9d27d5dc00b4ca2826dd03/tiny.en.pt\",\n}\nw = hf_hub_download_url = \"https://huggingface.co/TheBloke/Llama-2-7B-GGUF/resolve/main/llama-2-7b.Q4_K_M.gguf\"\nsite = \"https://example.com/docs/model.html\"\n";
        let r = scan_text("__init__.py", whisper);
        assert_eq!(r.len(), 2, "{r:?}");
        assert_eq!(r[0].kind, RefKind::HfModel);
        assert_eq!(r[0].id, "TheBloke/Llama-2-7B-GGUF");
        assert_eq!(r[0].revision.as_deref(), Some("main"));
        assert_eq!(r[1].kind, RefKind::ModelUrl);
        assert_eq!(r[1].line, 2);
        assert_eq!(
            url_sha256(&r[1].id),
            Some("d3dd57d32accea0b295c96e26691aa14d8822fac7d9d27d5dc00b4ca2826dd03")
        );
        assert!(looks_like_yaml("# lm-eval\ndataset_path: x/y\n"));
        assert!(looks_like_yaml("---\ntask: x\n"));
        assert!(!looks_like_yaml("MIT License\n\nCopyright: x\n"));
        assert!(!looks_like_yaml(""));
        assert!(!looks_like_yaml("Metadata-Version: 2.1\nName: x\n"));
    }

    #[test]
    fn docstring_examples_are_marked() {
        let py = "def f():\n    \"\"\"Load it.\n\n    >>> m = AutoModel.from_pretrained(\"bert-base-cased\")\n    \"\"\"\n    s = 'it''s \"\"\" not'  # and ''' not either\n    return AutoModel.from_pretrained(\"gpt2\")\n";
        let r = scan_text("m.py", py);
        let flags: Vec<(&str, bool)> = r.iter().map(|x| (x.id.as_str(), x.in_docstring)).collect();
        assert_eq!(flags, [("bert-base-cased", true), ("gpt2", false)]);
        // Not Python: no docstrings.
        assert!(scan_text("m.js", py).iter().all(|x| !x.in_docstring));
        assert_eq!(triple_quoted_spans("x = '''a\nb'''\n"), [(4, 10)]);
        assert_eq!(triple_quoted_spans("x = '''open"), [(4, 11)]);
    }
}
