//! Exposure of AI infrastructure in infrastructure code: public model and dataset buckets,
//! notebooks with public IPs or root, and ML services (Ray, MLflow, Jupyter, Ollama, vLLM, TGI,
//! TensorBoard, Gradio) reachable from outside without authentication.
//!
//! Inputs are Terraform (one module = the `.tf`/`.tfvars` files of a directory, resolved together),
//! CloudFormation, Kubernetes manifests (KubeRay included), Helm values, docker-compose,
//! Dockerfiles, systemd units, standalone policy JSON and Python/shell launch lines.
//! Per-file inputs are checked by [`IacScanner::scan`]; Terraform files are collected by it and
//! checked by [`IacScanner::finish`] once every file of their directory has been seen.

mod analyser;
mod cfn;
mod cloud;
mod compose;
mod detect;
mod k8s;
mod launch;
mod policy;
mod rules;
mod services;
mod suppress;
mod terraform;
mod yaml;

pub use rules::Rule;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use lantern_core::config::IacConfig;
use lantern_core::{Category, Finding, Location, Severity, Warning};
use std::collections::BTreeMap;
use std::sync::Mutex;

/// Largest infrastructure file read (bytes); larger files are reported and skipped.
pub const MAX_FILE_BYTES: usize = 4 << 20;
/// Deepest nesting accepted in YAML/JSON/HCL values before a file is refused.
pub const MAX_DEPTH: usize = 64;
/// Most Terraform files kept for one scan (the rest are reported, not silently dropped).
pub const MAX_TF_FILES: usize = 200_000;

/// Name patterns of model and dataset storage used when `[iac] model_bucket_patterns` is empty.
pub const DEFAULT_MODEL_PATTERNS: &[&str] = &[
    "*model*",
    "*weights*",
    "*checkpoint*",
    "*ckpt*",
    "*dataset*",
    "*training*",
    "*llm*",
    "*embedding*",
    "*finetun*",
    "*huggingface*",
    "*mlflow*",
    "*ml-artifact*",
];

/// Errors building an [`IacScanner`] from configuration.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An `[iac]` value is not usable.
    #[error("invalid [iac] configuration: {0}")]
    Config(String),
}

/// What a scan produced.
#[derive(Debug, Default)]
pub struct IacOutput {
    /// Findings, `Category::Infra`.
    pub findings: Vec<Finding>,
    /// Files that could not be parsed or were too large: never a silent pass.
    pub warnings: Vec<Warning>,
    /// Findings suppressed by an inline `lantern:allow <reason>`.
    pub suppressed: u64,
}

/// One file handed to a check: its location and text.
#[derive(Debug, Clone)]
pub(crate) struct Source {
    pub loc: Location,
    pub text: String,
}

/// A raw result of a check, turned into a [`Finding`] by the scanner (filtering, suppression).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Hit {
    pub rule: Rule,
    pub severity: Severity,
    /// Index of the source in the list the check was given (0 for single-file checks).
    pub src: usize,
    pub line: u32,
    /// Resource address: `aws_s3_bucket.models`, `Service/ray-head`, `services.ray`.
    pub address: String,
    pub detail: String,
}

impl Hit {
    /// A hit at the rule's default severity in source 0.
    pub fn new(
        rule: Rule,
        line: u32,
        address: impl Into<String>,
        detail: impl Into<String>,
    ) -> Hit {
        Hit {
            rule,
            severity: rule.severity(),
            src: 0,
            line,
            address: address.into(),
            detail: detail.into(),
        }
    }

    /// The same hit at another severity.
    pub fn sev(mut self, s: Severity) -> Hit {
        self.severity = s;
        self
    }
}

/// Policy derived from `[iac]`, shared by the checks.
pub(crate) struct Policy {
    model: GlobSet,
    allowed_public: GlobSet,
}

impl Policy {
    /// Whether a bucket/repository name (or tag value) looks like model or dataset storage.
    pub fn is_model_name(&self, name: &str) -> bool {
        !name.is_empty() && self.model.is_match(name.to_ascii_lowercase())
    }

    /// Whether a bucket is declared public on purpose in `allowed_public_buckets`.
    pub fn allowed_public(&self, name: &str) -> bool {
        !name.is_empty() && self.allowed_public.is_match(name)
    }
}

fn globs(pats: &[String], what: &str) -> Result<GlobSet, Error> {
    let mut b = GlobSetBuilder::new();
    for p in pats {
        let g = GlobBuilder::new(p)
            .case_insensitive(true)
            .build()
            .map_err(|e| Error::Config(format!("{what}: `{p}`: {e}")))?;
        b.add(g);
    }
    b.build().map_err(|e| Error::Config(e.to_string()))
}

/// The `iac` analyser, built once from `[iac]` and shared across threads.
pub struct IacScanner {
    policy: Policy,
    disabled: Vec<Rule>,
    tf: Mutex<BTreeMap<String, Vec<Source>>>,
}

impl IacScanner {
    /// Build from the `[iac]` section of `lantern.toml`.
    pub fn new(cfg: &IacConfig) -> Result<Self, Error> {
        let mut disabled = Vec::new();
        for id in &cfg.disabled_rules {
            match Rule::from_id(id) {
                Some(r) => disabled.push(r),
                None => {
                    return Err(Error::Config(format!(
                        "unknown rule `{id}` in disabled_rules"
                    )))
                }
            }
        }
        let mut model: Vec<String> = DEFAULT_MODEL_PATTERNS
            .iter()
            .map(|s| s.to_string())
            .collect();
        model.extend(cfg.model_bucket_patterns.iter().cloned());
        Ok(IacScanner {
            policy: Policy {
                model: globs(&model, "model_bucket_patterns")?,
                allowed_public: globs(&cfg.allowed_public_buckets, "allowed_public_buckets")?,
            },
            disabled,
            tf: Mutex::new(BTreeMap::new()),
        })
    }

    /// Check one file. Terraform files are kept for [`IacScanner::finish`] and produce nothing
    /// here; files that are not infrastructure code produce nothing.
    pub fn scan(&self, data: &[u8], loc: &Location) -> IacOutput {
        let mut out = IacOutput::default();
        let Some(kind) = detect::kind(&loc.path, data) else {
            return out;
        };
        if data.len() > MAX_FILE_BYTES {
            out.warnings.push(Warning::new(
                loc.path.clone(),
                format!("infrastructure file larger than {MAX_FILE_BYTES} bytes: not checked"),
            ));
            return out;
        }
        let text = String::from_utf8_lossy(data).into_owned();
        let src = Source {
            loc: loc.clone(),
            text,
        };
        if kind == detect::Kind::Terraform {
            self.keep_tf(src, &mut out);
            return out;
        }
        let hits = match detect::run(kind, &loc.path, &src.text, &self.policy) {
            Ok(h) => h,
            Err(msg) => {
                out.warnings.push(Warning::new(loc.path.clone(), msg));
                return out;
            }
        };
        self.emit(hits, std::slice::from_ref(&src), &mut out);
        out
    }

    fn keep_tf(&self, src: Source, out: &mut IacOutput) {
        let dir = match src.loc.path.rfind(['/', '!']) {
            Some(i) => src.loc.path[..i].to_string(),
            None => String::new(),
        };
        if let Ok(mut g) = self.tf.lock() {
            let n: usize = g.values().map(Vec::len).sum();
            if n >= MAX_TF_FILES {
                out.warnings.push(Warning::new(
                    src.loc.path.clone(),
                    format!("more than {MAX_TF_FILES} terraform files: not checked"),
                ));
                return;
            }
            g.entry(dir).or_default().push(src);
        }
    }

    /// Check the Terraform modules collected by [`IacScanner::scan`] (one per directory). A
    /// module called from another with `source = "./..."` is checked with its defaults and
    /// once more with each caller's inputs.
    pub fn finish(&self) -> IacOutput {
        let mut out = IacOutput::default();
        let modules = match self.tf.lock() {
            Ok(mut g) => std::mem::take(&mut *g),
            Err(_) => return out,
        };
        let mut parsed = BTreeMap::new();
        let mut calls: BTreeMap<String, Vec<terraform::Inputs>> = BTreeMap::new();
        for (dir, mut files) in modules {
            files.sort_by(|a, b| a.loc.path.cmp(&b.loc.path));
            let mut m = terraform::parse_module(&files);
            out.warnings.append(&mut m.warnings);
            for (source, inputs) in terraform::module_calls(&mut m) {
                calls
                    .entry(join_dir(&dir, &source))
                    .or_default()
                    .push(inputs);
            }
            parsed.insert(dir, (files, m));
        }
        for (dir, (files, mut m)) in parsed {
            let mut hits = terraform::check_module(&mut m, &files, &self.policy, None);
            for inputs in calls.get(&dir).into_iter().flatten() {
                hits.extend(terraform::check_module(
                    &mut m,
                    &files,
                    &self.policy,
                    Some(inputs),
                ));
            }
            self.emit(hits, &files, &mut out);
        }
        out
    }

    /// Check one file as if it were the only input (Terraform included): the entry point for a
    /// future analyser trait and for tests.
    pub fn analyse(&self, data: &[u8], loc: &Location) -> IacOutput {
        let mut out = self.scan(data, loc);
        let rest = self.finish();
        out.findings.extend(rest.findings);
        out.warnings.extend(rest.warnings);
        out.suppressed += rest.suppressed;
        out
    }

    fn emit(&self, hits: Vec<Hit>, srcs: &[Source], out: &mut IacOutput) {
        let mut seen = std::collections::HashSet::new();
        for h in hits {
            if self.disabled.contains(&h.rule) {
                continue;
            }
            let Some(src) = srcs.get(h.src) else { continue };
            if !seen.insert((h.rule, h.src, h.line, h.address.clone(), h.detail.clone())) {
                continue;
            }
            match suppress::check(&src.text, h.line) {
                suppress::Verdict::Suppressed => {
                    out.suppressed += 1;
                    continue;
                }
                suppress::Verdict::NoReason => out.warnings.push(Warning::new(
                    src.loc.path.clone(),
                    format!(
                        "line {}: `lantern:allow` without a reason does not suppress {}",
                        h.line,
                        h.rule.id()
                    ),
                )),
                suppress::Verdict::None => {}
            }
            out.findings.push(finding(&h, &src.loc));
        }
    }
}

/// `dir` joined with a relative module source, `.` and `..` resolved.
fn join_dir(dir: &str, source: &str) -> String {
    let mut parts: Vec<&str> = dir
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    for p in source.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    let joined = parts.join("/");
    if dir.starts_with('/') {
        format!("/{joined}")
    } else {
        joined
    }
}

/// Control characters from the input (resource names, commands) escaped for display.
fn escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

fn finding(h: &Hit, loc: &Location) -> Finding {
    let line = h.line.max(1);
    let mut f = Finding::new(
        h.rule.id(),
        h.rule.title(),
        Category::Infra,
        h.severity,
        Location {
            line: Some(line),
            ..loc.clone()
        },
    )
    .with_detail(escape(&format!("{}: {}", h.address, h.detail)));
    f.properties.insert(
        "resource".into(),
        serde_json::Value::String(h.address.clone()),
    );
    f.properties
        .insert("fix".into(), serde_json::Value::String(h.rule.fix().into()));
    f
}
