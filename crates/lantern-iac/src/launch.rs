//! Launch lines of ML servers (`ray start`, `jupyter lab`, `ollama serve`, `vllm serve`,
//! `text-generation-launcher`, `tensorboard`, `mlflow server`, Gradio's `launch()`): which
//! service starts, whether it listens on every interface and whether it asks for credentials.
//! Used for shell scripts, Dockerfiles, systemd units, Python, and the commands of Kubernetes
//! containers and compose services.

use crate::services::Svc;
use crate::{Hit, Rule};
use lantern_core::Severity;
use std::collections::BTreeMap;

/// What one launch line starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Launch {
    pub svc: Svc,
    /// Listens on every interface (explicitly, or by the server's default).
    pub binds_all: bool,
    /// Starts without any authentication.
    pub no_auth: bool,
    /// Gradio `share=True`: published on a public URL whatever the network.
    pub public_link: bool,
    /// What was seen, for the finding.
    pub detail: String,
}

/// Environment variables that change how a server listens or authenticates.
pub(crate) type Env = BTreeMap<String, String>;

const ENV_KEYS: &[&str] = &[
    "OLLAMA_HOST",
    "VLLM_API_KEY",
    "RAY_AUTH_MODE",
    "API_KEY",
    "JUPYTER_TOKEN",
    "GRADIO_SERVER_NAME",
    "GRADIO_SHARE",
];

/// Split a command line like a POSIX shell would (quotes, backslashes); an empty quoted
/// string stays an empty token. Tokens holding spaces (`sh -c "..."`) are split again.
pub(crate) fn lex(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    for t in lex_once(s) {
        if t.contains(char::is_whitespace) && out.len() < 4096 {
            out.extend(lex_once(&t));
        } else {
            out.push(t);
        }
    }
    out
}

fn lex_once(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut started = false;
    let mut quote: Option<char> = None;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                started = true;
            }
            (None, '\\') => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                    started = true;
                }
            }
            (None, c) if c.is_whitespace() => {
                if started {
                    out.push(std::mem::take(&mut cur));
                    started = false;
                }
            }
            (None, c) => {
                cur.push(c);
                started = true;
            }
        }
    }
    if started {
        out.push(cur);
    }
    out
}

/// Value of a flag: `Some(Some(v))` for `--f v` / `--f=v`, `Some(None)` for a bare `--f`.
fn flag(args: &[String], names: &[&str]) -> Option<Option<String>> {
    for (i, a) in args.iter().enumerate() {
        for n in names {
            if a == n {
                let next = args.get(i + 1).filter(|v| !v.starts_with("--"));
                return Some(next.cloned());
            }
            if let Some(v) = a.strip_prefix(n).and_then(|r| r.strip_prefix('=')) {
                return Some(Some(v.to_string()));
            }
        }
    }
    None
}

fn is_all_interfaces(h: &str) -> bool {
    let h = h.trim().trim_start_matches("http://");
    let host = if h.starts_with('[') {
        h.split(']').next().unwrap_or(h).trim_start_matches('[')
    } else if h.matches(':').count() == 1 {
        h.split(':').next().unwrap_or(h)
    } else {
        h
    };
    matches!(host, "0.0.0.0" | "::" | "*" | "" | "0")
}

fn base(t: &str) -> &str {
    t.rsplit('/').next().unwrap_or(t)
}

/// The launches in one command line.
pub(crate) fn analyse(cmd: &str, env: &Env) -> Vec<Launch> {
    let tokens = lex(cmd);
    let mut out = Vec::new();
    for (i, t) in tokens.iter().enumerate() {
        let rest = || -> Vec<String> {
            tokens[i + 1..]
                .iter()
                .take_while(|a| !matches!(a.as_str(), "&&" | "||" | ";" | "|" | "&"))
                .cloned()
                .collect()
        };
        let next = tokens.get(i + 1).map(String::as_str).unwrap_or("");
        let launched = match (base(t), next) {
            ("ray", "start") => ray(&rest(), env),
            ("jupyter", "notebook" | "lab" | "server") => jupyter(&rest()),
            ("jupyter-lab" | "jupyter-notebook" | "jupyter-server", _) => jupyter(&rest()),
            ("ollama", "serve") => ollama(env),
            ("vllm", "serve") => vllm(&rest(), env),
            ("vllm.entrypoints.openai.api_server" | "vllm.entrypoints.api_server", _) => {
                vllm(&rest(), env)
            }
            ("text-generation-launcher", _) => tgi(&rest(), env),
            ("tensorboard" | "tensorboard.main", _) => tensorboard(&rest()),
            ("mlflow", "server" | "ui") => mlflow(&rest()),
            _ => None,
        };
        out.extend(launched);
    }
    out
}

fn ray(args: &[String], env: &Env) -> Option<Launch> {
    if !args.iter().any(|a| a == "--head") {
        return None;
    }
    let host = flag(args, &["--dashboard-host"]).flatten();
    let binds_all = host.as_deref().is_some_and(is_all_interfaces);
    Some(Launch {
        svc: Svc::Ray,
        binds_all,
        no_auth: env.get("RAY_AUTH_MODE").map(String::as_str) != Some("token"),
        public_link: false,
        detail: format!(
            "ray start --head --dashboard-host {}",
            host.as_deref().unwrap_or("127.0.0.1 (default)")
        ),
    })
}

fn jupyter(args: &[String]) -> Option<Launch> {
    let token = flag(
        args,
        &[
            "--NotebookApp.token",
            "--ServerApp.token",
            "--IdentityProvider.token",
        ],
    );
    let password = flag(
        args,
        &[
            "--NotebookApp.password",
            "--ServerApp.password",
            "--PasswordIdentityProvider.hashed_password",
        ],
    )
    .flatten()
    .filter(|p| !p.is_empty());
    let empty_token =
        matches!(&token, Some(None)) || matches!(&token, Some(Some(t)) if t.is_empty());
    let ip = flag(args, &["--ip", "--NotebookApp.ip", "--ServerApp.ip"]).flatten();
    Some(Launch {
        svc: Svc::Jupyter,
        binds_all: ip.as_deref().is_some_and(is_all_interfaces),
        no_auth: empty_token && password.is_none(),
        public_link: false,
        detail: format!(
            "jupyter with an empty token, listening on {}",
            ip.as_deref().unwrap_or("localhost")
        ),
    })
}

fn ollama(env: &Env) -> Option<Launch> {
    let host = env.get("OLLAMA_HOST");
    Some(Launch {
        svc: Svc::Ollama,
        binds_all: host.is_some_and(|h| is_all_interfaces(h)),
        no_auth: true,
        public_link: false,
        detail: format!(
            "ollama serve with OLLAMA_HOST={}",
            host.map(String::as_str).unwrap_or("127.0.0.1 (default)")
        ),
    })
}

fn vllm(args: &[String], env: &Env) -> Option<Launch> {
    let key = flag(args, &["--api-key"]).flatten().is_some() || env.contains_key("VLLM_API_KEY");
    let host = flag(args, &["--host"]).flatten();
    Some(Launch {
        svc: Svc::Vllm,
        binds_all: host.as_deref().is_none_or(is_all_interfaces),
        no_auth: !key,
        public_link: false,
        detail: format!(
            "vLLM without --api-key, listening on {}",
            host.as_deref().unwrap_or("0.0.0.0 (default)")
        ),
    })
}

fn tgi(args: &[String], env: &Env) -> Option<Launch> {
    let key = flag(args, &["--api-key"]).flatten().is_some() || env.contains_key("API_KEY");
    let host = flag(args, &["--hostname"]).flatten();
    Some(Launch {
        svc: Svc::Tgi,
        binds_all: host.as_deref().is_none_or(is_all_interfaces),
        no_auth: !key,
        public_link: false,
        detail: format!(
            "text-generation-launcher without --api-key, listening on {}",
            host.as_deref().unwrap_or("0.0.0.0 (default)")
        ),
    })
}

fn tensorboard(args: &[String]) -> Option<Launch> {
    let host = flag(args, &["--host"]).flatten();
    let bind_all = args.iter().any(|a| a == "--bind_all");
    Some(Launch {
        svc: Svc::Tensorboard,
        binds_all: bind_all || host.as_deref().is_some_and(is_all_interfaces),
        no_auth: true,
        public_link: false,
        detail: "tensorboard listening on every interface".into(),
    })
}

fn mlflow(args: &[String]) -> Option<Launch> {
    let host = flag(args, &["--host", "-h"]).flatten();
    let auth = flag(args, &["--app-name"])
        .flatten()
        .is_some_and(|a| a.contains("auth"));
    Some(Launch {
        svc: Svc::Mlflow,
        binds_all: host.as_deref().is_some_and(is_all_interfaces),
        no_auth: !auth,
        public_link: false,
        detail: format!(
            "mlflow without --app-name basic-auth, listening on {}",
            host.as_deref().unwrap_or("127.0.0.1 (default)")
        ),
    })
}

/// Environment assignments in a file (`export K=V`, `K=V cmd`, `ENV K V`, `Environment=K=V`).
pub(crate) fn env_of(text: &str) -> Env {
    let mut env = Env::new();
    for line in text.lines() {
        for tok in lex(line.trim_start_matches("Environment=")) {
            if let Some((k, v)) = tok.split_once('=') {
                if ENV_KEYS.contains(&k) {
                    env.insert(k.to_string(), v.to_string());
                }
            }
        }
        let t = line.trim();
        if let Some(rest) = t.strip_prefix("ENV ") {
            let parts = lex(rest);
            if parts.len() == 2 && !parts[0].contains('=') && ENV_KEYS.contains(&parts[0].as_str())
            {
                env.insert(parts[0].clone(), parts[1].clone());
            }
        }
    }
    env
}

/// Logical lines (backslash continuations joined) with their first line number.
fn logical_lines(text: &str) -> Vec<(u32, String)> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut start = 0u32;
    for (i, l) in text.lines().enumerate() {
        if cur.is_empty() {
            start = i as u32 + 1;
        }
        let t = l.trim_end();
        if let Some(body) = t.strip_suffix('\\') {
            cur.push_str(body);
            cur.push(' ');
            continue;
        }
        cur.push_str(t);
        out.push((start, std::mem::take(&mut cur)));
    }
    if !cur.is_empty() {
        out.push((start, cur));
    }
    out
}

/// Hits for a launch started directly on a host (shell, systemd, Python): reported when it
/// listens on every interface without authentication.
fn host_hits(line: u32, address: &str, launches: Vec<Launch>) -> Vec<Hit> {
    launches
        .into_iter()
        .filter(|l| l.no_auth && (l.binds_all || l.public_link))
        .map(|l| Hit::new(l.svc.rule(), line, address, l.detail))
        .collect()
}

/// Shell scripts.
pub(crate) fn check_shell(text: &str) -> Vec<Hit> {
    let env = env_of(text);
    let mut hits = Vec::new();
    for (n, l) in logical_lines(text) {
        if l.trim_start().starts_with('#') {
            continue;
        }
        hits.extend(host_hits(n, "script", analyse(&l, &env)));
    }
    hits
}

/// systemd units: `ExecStart=` with the unit's `Environment=`.
pub(crate) fn check_systemd(text: &str) -> Vec<Hit> {
    let env = env_of(text);
    let mut hits = Vec::new();
    for (n, l) in logical_lines(text) {
        if let Some(cmd) = l.trim().strip_prefix("ExecStart=") {
            let cmd = cmd.trim_start_matches(['-', '@', '+', '!', ':']);
            hits.extend(host_hits(n, "ExecStart", analyse(cmd, &env)));
        }
    }
    hits
}

/// The command of a Dockerfile `CMD`/`ENTRYPOINT`/`RUN`, exec form included.
fn docker_command(rest: &str) -> String {
    let t = rest.trim();
    if t.starts_with('[') {
        if let Ok(v) = serde_json::from_str::<Vec<String>>(t) {
            return v
                .iter()
                .map(|a| {
                    if a.is_empty() {
                        "''".to_string()
                    } else {
                        shell_quote(a)
                    }
                })
                .collect::<Vec<_>>()
                .join(" ");
        }
    }
    t.to_string()
}

fn shell_quote(a: &str) -> String {
    if a.contains(char::is_whitespace) {
        format!("'{}'", a.replace('\'', ""))
    } else {
        a.to_string()
    }
}

/// Dockerfiles: an image cannot be reached until it is published, so only what disables
/// authentication outright is reported (an empty Jupyter token); the binding is the
/// orchestrator's business.
pub(crate) fn check_dockerfile(text: &str) -> Vec<Hit> {
    let env = env_of(text);
    let mut hits = Vec::new();
    for (n, l) in logical_lines(text) {
        let t = l.trim();
        let Some((instr, rest)) = t.split_once(char::is_whitespace) else {
            continue;
        };
        if !matches!(
            instr.to_ascii_uppercase().as_str(),
            "CMD" | "ENTRYPOINT" | "RUN"
        ) {
            continue;
        }
        for launch in analyse(&docker_command(rest), &env) {
            if launch.svc == Svc::Jupyter && launch.no_auth {
                hits.push(
                    Hit::new(
                        Rule::JupyterNoAuth,
                        n,
                        instr.to_ascii_uppercase(),
                        launch.detail,
                    )
                    .sev(Severity::High),
                );
            }
        }
    }
    hits
}

/// Python: `ray.init(dashboard_host=...)`, Gradio `launch(...)`, Jupyter config files, and
/// `subprocess`-style launch lines written as strings.
pub(crate) fn check_python(text: &str) -> Vec<Hit> {
    let mut hits = Vec::new();
    for (n, l) in logical_lines(text) {
        let t = l.trim();
        if t.starts_with('#') {
            continue;
        }
        if t.contains("ray.init(")
            && kwarg(t, "dashboard_host").is_some_and(|h| is_all_interfaces(&h))
        {
            hits.push(Hit::new(
                Rule::RayExposed,
                n,
                "ray.init",
                "ray.init(dashboard_host=\"0.0.0.0\")",
            ));
        }
    }
    hits.extend(gradio(text));
    hits.extend(jupyter_config(text));
    hits
}

/// Value of `name=...` (a string literal or a bare word) in a Python call.
fn kwarg(call: &str, name: &str) -> Option<String> {
    let mut from = 0;
    while let Some(i) = call[from..].find(name) {
        let at = from + i;
        from = at + name.len();
        let before = call[..at].chars().last();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.') {
            continue;
        }
        let rest = call[from..].trim_start();
        let Some(rest) = rest.strip_prefix('=') else {
            continue;
        };
        if rest.starts_with('=') {
            continue;
        }
        let rest = rest.trim_start();
        let q = rest.chars().next()?;
        if q == '"' || q == '\'' {
            return rest[1..].split(q).next().map(str::to_string);
        }
        let end = rest.find([',', ')', ' ']).unwrap_or(rest.len());
        return Some(rest[..end].to_string());
    }
    None
}

/// Gradio `launch(...)` calls (arguments may span lines).
fn gradio(text: &str) -> Vec<Hit> {
    if !text.contains("gradio") {
        return Vec::new();
    }
    let mut hits = Vec::new();
    let mut from = 0;
    while let Some(i) = text[from..].find(".launch(") {
        let at = from + i;
        let open = at + ".launch(".len();
        let args = call_args(&text[open..]);
        from = open;
        let line = text[..at].matches('\n').count() as u32 + 1;
        if kwarg(args, "auth").is_some() || kwarg(args, "auth_dependency").is_some() {
            continue;
        }
        if kwarg(args, "share").as_deref() == Some("True") {
            hits.push(Hit::new(
                Rule::GradioShare,
                line,
                "launch",
                "launch(share=True) without auth=",
            ));
        } else if kwarg(args, "server_name").is_some_and(|h| is_all_interfaces(&h)) {
            hits.push(
                Hit::new(
                    Rule::GradioShare,
                    line,
                    "launch",
                    "launch(server_name=\"0.0.0.0\") without auth=",
                )
                .sev(Severity::Medium),
            );
        }
    }
    hits
}

/// The text up to the parenthesis closing a call (bounded).
fn call_args(s: &str) -> &str {
    let mut depth = 1usize;
    for (i, c) in s.char_indices().take(4096) {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return &s[..i];
                }
            }
            _ => {}
        }
    }
    let mut end = s.len().min(4096);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// `jupyter_server_config.py` / `jupyter_notebook_config.py`: `c.ServerApp.token = ''`.
fn jupyter_config(text: &str) -> Vec<Hit> {
    let mut token_line = None;
    let mut password = false;
    let mut all = false;
    for (i, l) in text.lines().enumerate() {
        let t: String = l.chars().filter(|c| !c.is_whitespace()).collect();
        for app in ["NotebookApp", "ServerApp", "IdentityProvider"] {
            if t.starts_with(&format!("c.{app}.token=''"))
                || t.starts_with(&format!("c.{app}.token=\"\""))
            {
                token_line = Some(i as u32 + 1);
            }
            if t.starts_with(&format!("c.{app}.password="))
                && !t.ends_with("=''")
                && !t.ends_with("=\"\"")
            {
                password = true;
            }
            if t.starts_with(&format!("c.{app}.ip="))
                && (t.contains("'0.0.0.0'")
                    || t.contains("'*'")
                    || t.contains("\"0.0.0.0\"")
                    || t.contains("\"*\""))
            {
                all = true;
            }
        }
    }
    match token_line {
        Some(n) if !password => {
            let h = Hit::new(
                Rule::JupyterNoAuth,
                n,
                "jupyter config",
                "token disabled, no password",
            );
            vec![if all { h } else { h.sev(Severity::Medium) }]
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lexer_keeps_empty_quoted_tokens() {
        assert_eq!(lex("a --x='' 'b c'"), vec!["a", "--x=", "b", "c"]);
        assert_eq!(lex("--t ''"), vec!["--t", ""]);
    }

    #[test]
    fn launches_and_near_misses() {
        let env = Env::new();
        let v = analyse("vllm serve m --port 8000", &env);
        assert!(v[0].no_auth && v[0].binds_all);
        let v = analyse("vllm serve m --api-key sk-1", &env);
        assert!(!v[0].no_auth);
        let v = analyse("vllm serve m --host 127.0.0.1", &env);
        assert!(!v[0].binds_all);
        let v = analyse(
            "jupyter lab --ip=0.0.0.0 --ServerApp.token='' --allow-root",
            &env,
        );
        assert!(v[0].no_auth && v[0].binds_all);
        let v = analyse("jupyter lab --ip=0.0.0.0 --ServerApp.token=abc", &env);
        assert!(!v[0].no_auth);
        let v = analyse("ray start --head --dashboard-host=0.0.0.0", &env);
        assert!(v[0].binds_all);
        let v = analyse("ray start --head", &env);
        assert!(!v[0].binds_all);
        let v = analyse("sh -c \"mlflow server --host 0.0.0.0 --port 5000\"", &env);
        assert!(v[0].binds_all && v[0].no_auth);
    }
}
