//! Hugging Face model and dataset cards: the YAML front matter of `README.md` and the
//! architecture fields of `config.json`.

/// Largest card or config read (the rest of a README is prose the BOM does not need).
pub const MAX_CARD: u64 = 1024 * 1024;

/// Metadata from a card's YAML front matter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CardMeta {
    /// `license` (one or several), plus `license_name` when `license: other`.
    pub licenses: Vec<String>,
    /// `datasets`.
    pub datasets: Vec<String>,
    /// `base_model` (one or several).
    pub base_models: Vec<String>,
    /// `pipeline_tag`.
    pub pipeline_tag: Option<String>,
    /// `language`.
    pub languages: Vec<String>,
    /// `library_name`.
    pub library_name: Option<String>,
    /// `model_name` or the first markdown `# ` heading.
    pub title: Option<String>,
}

fn strings(v: Option<&serde_yaml::Value>) -> Vec<String> {
    match v {
        Some(serde_yaml::Value::String(s)) => vec![s.trim().to_string()],
        Some(serde_yaml::Value::Sequence(seq)) => seq
            .iter()
            .filter_map(|x| x.as_str())
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
        _ => Vec::new(),
    }
    .into_iter()
    .filter(|s| !s.is_empty())
    .collect()
}

/// Split a markdown document into its YAML front matter (between `---` lines at the start) and
/// the body. Returns `None` when there is no front matter.
pub fn front_matter(text: &str) -> Option<(&str, &str)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let rest = text
        .strip_prefix("---\n")
        .or_else(|| text.strip_prefix("---\r\n"))?;
    let mut offset = 0;
    for line in rest.split_inclusive('\n') {
        if line.trim_end() == "---" {
            let yaml = &rest[..offset];
            let body = &rest[offset + line.len()..];
            return Some((yaml, body));
        }
        offset += line.len();
    }
    None
}

/// Parse a card (README.md). `Ok(None)` when it has no front matter; `Err` with a message when
/// the front matter is not valid YAML.
pub fn parse_card(text: &str) -> Result<Option<CardMeta>, String> {
    let Some((yaml, body)) = front_matter(text) else {
        return Ok(None);
    };
    let v: serde_yaml::Value = if yaml.trim().is_empty() {
        serde_yaml::Value::Null
    } else {
        serde_yaml::from_str(yaml).map_err(|e| format!("invalid card front matter: {e}"))?
    };
    let get = |k: &str| v.get(k);
    let mut licenses = strings(get("license"));
    if licenses.iter().any(|l| l == "other") {
        if let Some(name) = get("license_name").and_then(|n| n.as_str()) {
            licenses.retain(|l| l != "other");
            licenses.push(name.trim().to_string());
        }
    }
    let title = get("model_name")
        .and_then(|n| n.as_str())
        .map(str::to_string)
        .or_else(|| {
            body.lines()
                .find_map(|l| l.strip_prefix("# "))
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty())
        });
    Ok(Some(CardMeta {
        licenses,
        datasets: strings(get("datasets")),
        base_models: strings(get("base_model")),
        pipeline_tag: get("pipeline_tag")
            .and_then(|t| t.as_str())
            .map(str::to_string),
        languages: strings(get("language")),
        library_name: get("library_name")
            .and_then(|t| t.as_str())
            .map(str::to_string),
        title,
    }))
}

/// Architecture facts from `config.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModelConfig {
    /// `model_type`, e.g. `llama`.
    pub model_type: Option<String>,
    /// `architectures[0]`, e.g. `LlamaForCausalLM`.
    pub architecture: Option<String>,
    /// `_name_or_path` as saved by `save_pretrained`.
    pub name_or_path: Option<String>,
    /// `torch_dtype`.
    pub torch_dtype: Option<String>,
}

/// Parse a transformers `config.json`.
pub fn parse_config(bytes: &[u8]) -> Result<ModelConfig, String> {
    let v: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| format!("invalid config.json: {e}"))?;
    if !v.is_object() {
        return Err("config.json is not a JSON object".into());
    }
    let s = |k: &str| {
        v.get(k)
            .and_then(|x| x.as_str())
            .map(str::to_string)
            .filter(|s| !s.is_empty())
    };
    Ok(ModelConfig {
        model_type: s("model_type"),
        architecture: v
            .get("architectures")
            .and_then(|a| a.as_array())
            .and_then(|a| a.first())
            .and_then(|a| a.as_str())
            .map(str::to_string),
        name_or_path: s("_name_or_path"),
        torch_dtype: s("torch_dtype"),
    })
}

/// Whether a string is a valid Hugging Face repo id (`name` or `org/name`), following
/// `huggingface_hub.utils.validate_repo_id`.
pub fn is_repo_id(s: &str) -> bool {
    if s.is_empty() || s.len() > 96 * 2 + 1 || s.contains("--") || s.contains("..") {
        return false;
    }
    if s.ends_with(".git") {
        return false;
    }
    let parts: Vec<&str> = s.split('/').collect();
    if parts.len() > 2 {
        return false;
    }
    parts.iter().all(|p| {
        !p.is_empty()
            && p.len() <= 96
            && p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            && p.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
            && p.bytes().last().is_some_and(|b| b.is_ascii_alphanumeric())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_front_matter_fields() {
        let card = "---\nlicense: apache-2.0\nbase_model: meta-llama/Llama-3.1-8B\ndatasets:\n  - tatsu-lab/alpaca\n  - stanfordnlp/imdb\npipeline_tag: text-generation\nlanguage: [en, fr]\nlibrary_name: transformers\n---\n\n# My Tuned Model\n\nProse.\n";
        let m = parse_card(card).unwrap().unwrap();
        assert_eq!(m.licenses, ["apache-2.0"]);
        assert_eq!(m.base_models, ["meta-llama/Llama-3.1-8B"]);
        assert_eq!(m.datasets, ["tatsu-lab/alpaca", "stanfordnlp/imdb"]);
        assert_eq!(m.pipeline_tag.as_deref(), Some("text-generation"));
        assert_eq!(m.languages, ["en", "fr"]);
        assert_eq!(m.title.as_deref(), Some("My Tuned Model"));
    }

    #[test]
    fn other_license_uses_license_name() {
        let m = parse_card("---\nlicense: other\nlicense_name: llama3\n---\n")
            .unwrap()
            .unwrap();
        assert_eq!(m.licenses, ["llama3"]);
    }

    #[test]
    fn no_front_matter_and_bad_yaml() {
        assert_eq!(parse_card("# Title\n").unwrap(), None);
        assert!(parse_card("---\nlicense: [unclosed\n---\n").is_err());
    }

    #[test]
    fn config_fields() {
        let c = parse_config(
            br#"{"architectures":["GPT2LMHeadModel"],"model_type":"gpt2","_name_or_path":"gpt2"}"#,
        )
        .unwrap();
        assert_eq!(c.architecture.as_deref(), Some("GPT2LMHeadModel"));
        assert_eq!(c.model_type.as_deref(), Some("gpt2"));
        assert!(parse_config(b"[1]").is_err());
    }

    #[test]
    fn repo_ids() {
        assert!(is_repo_id("gpt2"));
        assert!(is_repo_id("meta-llama/Llama-3.1-8B"));
        assert!(!is_repo_id("./models/x"));
        assert!(!is_repo_id("a/b/c"));
        assert!(!is_repo_id("a--b/c"));
        assert!(!is_repo_id(""));
    }
}
