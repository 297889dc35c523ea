//! `guard.toml`: the gateway's configuration, every key with a default so a minimal file only
//! names the upstream.

use crate::Error;
use lantern_core::Severity;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// What to do when a detector or monitor fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Record the hit in the audit log and metrics only.
    #[default]
    Log,
    /// Replace the offending text with `[REDACTED:<rule>]` (output monitoring only).
    Redact,
    /// Slow the key down: the request is charged extra against its rate limits.
    Throttle,
    /// Refuse the request (or end the response stream with an error event).
    Block,
}

/// Which credential rules output monitoring runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SecretRules {
    /// The leak scanner's rules (`lantern-secrets`, filtered by confidence and severity) plus
    /// the built-in patterns.
    #[default]
    Lantern,
    /// The 11 built-in prefix-anchored patterns only.
    Builtin,
    /// No credential rules.
    Off,
}

/// Confidence floor for the leak scanner's rules (mirrors `lantern_secrets::Confidence`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum RuleConfidence {
    /// Every rule, generic ones included.
    Low,
    /// Rules with a recognisable format (the default).
    #[default]
    Medium,
    /// Provider-specific formats with a distinctive prefix only.
    High,
}

impl RuleConfidence {
    /// The `lantern-secrets` confidence level.
    pub fn to_secrets(self) -> lantern_secrets::Confidence {
        match self {
            RuleConfidence::Low => lantern_secrets::Confidence::Low,
            RuleConfidence::Medium => lantern_secrets::Confidence::Medium,
            RuleConfidence::High => lantern_secrets::Confidence::High,
        }
    }
}

/// How a request parameter used in extraction attacks is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum FieldPolicy {
    /// Pass unchanged.
    Allow,
    /// Remove the field before forwarding.
    #[default]
    Strip,
    /// Answer 400.
    Reject,
}

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GuardConfig {
    /// Address to listen on.
    pub listen: String,
    /// Path of the key store (JSON, written by `lantern guard keys`).
    pub keys_file: PathBuf,
    /// Largest request body accepted, bytes (413 above).
    pub max_body_bytes: usize,
    /// Largest non-streaming upstream body inspected, bytes (502 above).
    pub max_response_bytes: usize,
    /// Time allowed to receive a request's headers and body, seconds (408 after).
    pub client_timeout_secs: u64,
    /// Serve `/metrics` (Prometheus text) on the same listener.
    pub metrics: bool,
    /// The listener's TLS settings.
    pub server: ServerConfig,
    /// The upstream model API.
    pub upstream: UpstreamConfig,
    /// Default per-key rate limits.
    pub limits: LimitsConfig,
    /// Request hardening against model extraction.
    pub hardening: HardeningConfig,
    /// Per-key extraction detectors.
    pub detect: DetectConfig,
    /// Output monitoring.
    pub monitor: MonitorConfig,
    /// Audit log.
    pub audit: AuditConfig,
    /// Drift detection.
    pub drift: DriftConfig,
}

impl Default for GuardConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            keys_file: "guard-keys.json".into(),
            max_body_bytes: 1 << 20,
            max_response_bytes: 16 << 20,
            client_timeout_secs: 30,
            metrics: true,
            server: ServerConfig::default(),
            upstream: UpstreamConfig::default(),
            limits: LimitsConfig::default(),
            hardening: HardeningConfig::default(),
            detect: DetectConfig::default(),
            monitor: MonitorConfig::default(),
            audit: AuditConfig::default(),
            drift: DriftConfig::default(),
        }
    }
}

/// Listener settings: TLS is on when both `tls_cert` and `tls_key` are set.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// PEM file with the server certificate chain (leaf first).
    pub tls_cert: Option<PathBuf>,
    /// PEM file with the server's private key (PKCS#8, PKCS#1 or SEC1).
    pub tls_key: Option<PathBuf>,
    /// PEM file of CA certificates: when set, every client must present a certificate one of
    /// them signed (mutual TLS), on top of its guard key. Needs `tls_cert` and `tls_key`.
    pub client_ca: Option<PathBuf>,
    /// What happens to a request whose path (once normalised) is not in the guard's route table:
    /// `refuse` (404, the default) or `forward` (authenticated and counted against the key's
    /// request limit, but not inspected or monitored).
    pub unknown_paths: UnknownPaths,
    /// `/metrics` answers only requests with a valid guard key (`Authorization: Bearer`).
    pub metrics_need_key: bool,
}

/// The treatment of paths the route table does not know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum UnknownPaths {
    /// Answer 404 with an OpenAI-style error.
    #[default]
    Refuse,
    /// Forward after authentication and the request-count limit only.
    Forward,
}

/// Upstream settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UpstreamConfig {
    /// Base URL (`http://host:port` or `https://host:port`); paths are appended as received.
    pub url: String,
    /// PEM file of CA certificates trusted for an `https://` upstream instead of the bundled
    /// Mozilla roots (private CAs).
    pub ca_file: Option<PathBuf>,
    /// PEM certificate chain the guard presents to an `https://` upstream that asks for a client
    /// certificate (mutual TLS); set together with `client_key`.
    pub client_cert: Option<PathBuf>,
    /// PEM private key of `client_cert` (PKCS#8, PKCS#1 or SEC1).
    pub client_key: Option<PathBuf>,
    /// Environment variable holding the upstream API key injected as `Authorization: Bearer`.
    pub api_key_env: Option<String>,
    /// Time allowed for the upstream to send response headers, seconds (504 after).
    pub timeout_secs: u64,
}

impl Default for UpstreamConfig {
    fn default() -> Self {
        Self {
            url: "http://127.0.0.1:9000".into(),
            ca_file: None,
            client_cert: None,
            client_key: None,
            api_key_env: None,
            timeout_secs: 120,
        }
    }
}

/// Rate limits (per key; a key's own limits override these).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Requests per minute (0 = unlimited).
    pub requests_per_minute: u64,
    /// Tokens per minute, prompt + completion (0 = unlimited).
    pub tokens_per_minute: u64,
    /// Requests allowed in a burst above the steady rate.
    pub burst: u64,
    /// `max_tokens` assumed when a request does not give one (pre-charge).
    pub default_max_tokens: u64,
    /// `redis://host:port[/db]` to share limits between replicas.
    pub redis: Option<String>,
    /// Time allowed for one Redis operation (connecting included), milliseconds.
    pub redis_timeout_ms: u64,
    /// While Redis does not answer: `fail_open` decides with this replica's own counters (each
    /// replica then grants its own burst), `fail_closed` answers 503.
    pub on_store_error: LimitStoreError,
}

/// What requests get while the shared rate-limit store does not answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum LimitStoreError {
    /// Limits are enforced per replica meanwhile.
    #[default]
    FailOpen,
    /// Requests are refused (503 `rate_limit_store_unavailable`).
    FailClosed,
}

/// What requests get while the audit store cannot record them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AuditStoreError {
    /// Refused (503 `audit_unavailable`): a request that cannot be audited is not served.
    #[default]
    Refuse,
    /// Served; the records lost are counted in `lantern_guard_audit_failures_total`.
    Serve,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            requests_per_minute: 600,
            tokens_per_minute: 200_000,
            burst: 20,
            default_max_tokens: 256,
            redis: None,
            redis_timeout_ms: 50,
            on_store_error: LimitStoreError::FailOpen,
        }
    }
}

/// Request hardening.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HardeningConfig {
    /// `logit_bias` policy.
    pub logit_bias: FieldPolicy,
    /// Refuse `logit_bias` together with `logprobs` even when `logit_bias` is allowed.
    pub forbid_logit_bias_with_logprobs: bool,
    /// Cap of `top_logprobs` (and legacy integer `logprobs`).
    pub max_top_logprobs: u64,
    /// Policy for `echo`, `prompt_logprobs` and `allowed_token_ids` (prompt-scoring fields).
    pub scoring_fields: FieldPolicy,
    /// Cap of `n` / `best_of`.
    pub max_n: u64,
    /// Decimal places kept in returned logprobs (`None` = unchanged).
    pub logprob_decimals: Option<u32>,
    /// Standard deviation of Gaussian noise added to returned logprobs (0 = none).
    pub logprob_noise: f64,
}

impl Default for HardeningConfig {
    fn default() -> Self {
        Self {
            logit_bias: FieldPolicy::Strip,
            forbid_logit_bias_with_logprobs: true,
            max_top_logprobs: 5,
            scoring_fields: FieldPolicy::Strip,
            max_n: 4,
            logprob_decimals: Some(2),
            logprob_noise: 0.0,
        }
    }
}

/// Extraction detectors.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DetectConfig {
    /// Action on a hit (`log`, `throttle` or `block`).
    pub action: Action,
    /// Recent prompts remembered per key for the sweep detector.
    pub sweep_window: usize,
    /// Jaccard similarity of word 3-shingles above which two prompts are near-identical.
    pub sweep_similarity: f64,
    /// Near-identical prompts within the window that make a sweep.
    pub sweep_count: usize,
    /// Longest run of one repeated token in a prompt before it counts as a divergence prompt.
    pub max_repeat_run: usize,
    /// Requests per minute above `volume_factor` × the key's long-run average raise a spike.
    pub volume_factor: f64,
    /// Minimum requests in the current minute before a volume spike can fire.
    pub volume_min: u64,
}

impl Default for DetectConfig {
    fn default() -> Self {
        Self {
            action: Action::Log,
            sweep_window: 64,
            sweep_similarity: 0.8,
            sweep_count: 16,
            max_repeat_run: 32,
            volume_factor: 5.0,
            volume_min: 60,
        }
    }
}

/// Fewest characters a stream may hold back when redacting or blocking: the length at which
/// the longest built-in credential pattern first matches (`github_pat_` and 82 characters, 93;
/// `sk-ant-api03-` and 80, 93), rounded up.
pub const MIN_HOLDBACK: usize = 96;

/// Output monitoring.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MonitorConfig {
    /// Action on a hit (`log`, `redact` or `block`).
    pub action: Action,
    /// Look for credentials at all (`false` is the same as `secret_rules = "off"`).
    pub secrets: bool,
    /// Which credential rules run: `lantern` (the leak scanner's rules plus the built-in
    /// patterns), `builtin` (the 11 built-in prefix-anchored patterns only) or `off`.
    pub secret_rules: SecretRules,
    /// Lowest confidence of a leak-scanner rule that runs (`low`, `medium`, `high`): `low` adds
    /// the generic `password = ...`/`api_key = ...` rules, which also fire on ordinary prose.
    pub min_confidence: RuleConfidence,
    /// Lowest severity of a leak-scanner finding acted on (`info` .. `critical`); tokens whose
    /// checksum does not match are reported as `info`.
    pub min_severity: Severity,
    /// Leak-scanner rule ids (or `prefix*`) not run on responses.
    pub disabled_rules: Vec<String>,
    /// Look for PII (e-mail addresses, payment card numbers with a valid Luhn digit, US SSNs).
    pub pii: bool,
    /// Canary strings planted in training data or system prompts.
    pub canaries: Vec<String>,
    /// Path of a corpus index built by `lantern guard index`.
    pub corpus_index: Option<PathBuf>,
    /// Characters held back from a stream so a pattern split across chunks can still be redacted
    /// or blocked before any of it reaches the client (only with `redact`/`block`).
    pub stream_holdback_chars: usize,
}

impl Default for MonitorConfig {
    fn default() -> Self {
        Self {
            action: Action::Log,
            secrets: true,
            secret_rules: SecretRules::Lantern,
            min_confidence: RuleConfidence::Medium,
            min_severity: Severity::Low,
            disabled_rules: Vec::new(),
            pii: true,
            canaries: Vec::new(),
            corpus_index: None,
            stream_holdback_chars: 128,
        }
    }
}

/// Audit log settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditConfig {
    /// Directory of the local append-only log (`None` and no `postgres` disables auditing).
    pub dir: Option<PathBuf>,
    /// PostgreSQL connection string (`host=… user=… dbname=…` or `postgresql://…`); when set,
    /// records go to PostgreSQL instead of `dir`, so several replicas share one log.
    pub postgres: Option<String>,
    /// Checkpoint signing key file (`PRIVATE+KEY+...`); created on first start if absent.
    pub signing_key: Option<PathBuf>,
    /// Origin line of the checkpoints.
    pub origin: String,
    /// Sign a checkpoint after this many records.
    pub checkpoint_every: u64,
    /// … or at least this often, milliseconds.
    pub checkpoint_interval_ms: u64,
    /// Records waiting for the local log's writer past which requests are refused (503,
    /// `audit_backlog`) until it catches up: memory stays bounded when the disk cannot keep up.
    pub max_backlog: usize,
    /// Niceness of the local log's writer thread (0 keeps the guard's). Responses do not wait
    /// for the log, so under CPU contention request handling goes first and the writer syncs
    /// larger batches; `max_backlog` bounds how far it may fall behind.
    pub writer_nice: i32,
    /// While records cannot be written (PostgreSQL down, the local disk failing): `refuse`
    /// answers 503 until a record is written again, `serve` serves and counts the lost records.
    pub on_store_error: AuditStoreError,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            dir: None,
            postgres: None,
            signing_key: None,
            origin: "lantern/guard".into(),
            checkpoint_every: 1000,
            checkpoint_interval_ms: 1000,
            max_backlog: 50_000,
            writer_nice: 10,
            on_store_error: AuditStoreError::Refuse,
        }
    }
}

/// Drift detection.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DriftConfig {
    /// Responses per window (the first window of a model is its baseline).
    pub window: usize,
    /// PSI above which length / finish-reason drift is reported.
    pub psi_threshold: f64,
    /// Jensen–Shannon distance above which token-distribution drift is reported.
    pub js_threshold: f64,
    /// Keeps each model's baseline window in this JSON file across restarts (relative to the
    /// configuration file). Without it a restart starts new baselines, so drift that happened
    /// before the restart goes unseen. Delete the file to take new baselines.
    pub baseline_file: Option<PathBuf>,
}

impl Default for DriftConfig {
    fn default() -> Self {
        Self {
            window: 500,
            psi_threshold: 0.2,
            js_threshold: 0.1,
            baseline_file: None,
        }
    }
}

impl GuardConfig {
    /// Reads and validates a config file; relative paths are resolved against its directory.
    pub fn load(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Io(lantern_core::IoError::new(path.display(), e)))?;
        let mut c: GuardConfig =
            toml::from_str(&text).map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
        let base = path.parent().unwrap_or(Path::new("."));
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        fix(&mut c.keys_file);
        if let Some(p) = c.audit.dir.as_mut() {
            fix(p);
        }
        if let Some(p) = c.audit.signing_key.as_mut() {
            fix(p);
        }
        if let Some(p) = c.monitor.corpus_index.as_mut() {
            fix(p);
        }
        if let Some(p) = c.drift.baseline_file.as_mut() {
            fix(p);
        }
        for p in [
            c.server.tls_cert.as_mut(),
            c.server.tls_key.as_mut(),
            c.upstream.ca_file.as_mut(),
        ]
        .into_iter()
        .flatten()
        {
            fix(p);
        }
        c.validate()?;
        Ok(c)
    }

    /// Checks values that TOML types cannot.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |m: String| Err(Error::Config(m));
        if !(self.upstream.url.starts_with("http://") || self.upstream.url.starts_with("https://"))
        {
            return bad(format!(
                "upstream.url must be an http:// or https:// URL, got {:?}",
                self.upstream.url
            ));
        }
        if self.server.tls_cert.is_some() != self.server.tls_key.is_some() {
            return bad("server.tls_cert and server.tls_key must be set together".into());
        }
        if self.server.client_ca.is_some() && self.server.tls_cert.is_none() {
            return bad(
                "server.client_ca needs TLS: set server.tls_cert and server.tls_key".into(),
            );
        }
        if self.upstream.client_cert.is_some() != self.upstream.client_key.is_some() {
            return bad("upstream.client_cert and upstream.client_key must be set together".into());
        }
        if self.detect.action == Action::Redact {
            return bad("detect.action cannot be redact".into());
        }
        if self.monitor.action == Action::Throttle {
            return bad("monitor.action cannot be throttle".into());
        }
        if matches!(self.monitor.action, Action::Redact | Action::Block)
            && self.monitor.stream_holdback_chars < MIN_HOLDBACK
        {
            return bad(format!(
                "monitor.stream_holdback_chars must be at least {MIN_HOLDBACK} with action = \"{}\": a shorter hold-back releases the start of a credential before it can be matched, got {}",
                if self.monitor.action == Action::Redact { "redact" } else { "block" },
                self.monitor.stream_holdback_chars
            ));
        }
        if !(0.0..=1.0).contains(&self.detect.sweep_similarity) {
            return bad("detect.sweep_similarity must be within 0..1".into());
        }
        if self.drift.window < 10 {
            return bad("drift.window must be at least 10".into());
        }
        if self.max_body_bytes == 0 {
            return bad("max_body_bytes must be positive".into());
        }
        if self.audit.max_backlog == 0 {
            return bad("audit.max_backlog must be positive".into());
        }
        if !(0..=19).contains(&self.audit.writer_nice) {
            return bad(format!(
                "audit.writer_nice must be within 0..19, got {}",
                self.audit.writer_nice
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_config_parses() {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/guard.toml");
        let c = GuardConfig::load(&p).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.monitor.action, Action::Redact);
        assert_eq!(c.monitor.canaries, vec!["CANARY-1b7e3f0c".to_string()]);
        assert!(c.keys_file.ends_with("examples/guard-keys.json"));
        assert!(toml::from_str::<GuardConfig>("nonsense = 1").is_err());
        let with_url = |u: &str| GuardConfig {
            upstream: UpstreamConfig {
                url: u.into(),
                ..UpstreamConfig::default()
            },
            ..GuardConfig::default()
        };
        assert!(with_url("ftp://x").validate().is_err());
        assert!(with_url("https://x").validate().is_ok());
        let half_tls = GuardConfig {
            server: ServerConfig {
                tls_cert: Some("cert.pem".into()),
                tls_key: None,
                client_ca: None,
                ..ServerConfig::default()
            },
            ..GuardConfig::default()
        };
        assert!(half_tls.validate().is_err());
    }

    #[test]
    fn monitor_defaults_run_the_leak_scanner_rules() {
        let c: GuardConfig =
            toml::from_str("[monitor]\naction = \"redact\"\n").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.monitor.secret_rules, SecretRules::Lantern);
        assert_eq!(c.monitor.min_confidence, RuleConfidence::Medium);
        assert_eq!(c.monitor.min_severity, Severity::Low);
        let c: GuardConfig = toml::from_str(
            "[monitor]\nsecret_rules = \"builtin\"\nmin_confidence = \"high\"\nmin_severity = \"critical\"\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.monitor.secret_rules, SecretRules::Builtin);
        assert_eq!(c.monitor.min_confidence, RuleConfidence::High);
        assert_eq!(c.monitor.min_severity, Severity::Critical);
        assert!(toml::from_str::<GuardConfig>("[monitor]\nsecret_rules = \"all\"\n").is_err());
    }
}
