//! Counters, latency histograms and per-model output drift (PSI on response length, finish
//! reasons and refusal rate; Jensen–Shannon distance on hashed token unigrams), rendered in the
//! Prometheus text exposition format.

use crate::config::DriftConfig;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

const BUCKETS: [f64; 16] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// A latency histogram (seconds).
#[derive(Debug, Default)]
pub struct Histogram {
    counts: [AtomicU64; 17],
    sum_ns: AtomicU64,
}

impl Histogram {
    /// Records one observation.
    pub fn observe(&self, secs: f64) {
        let i = BUCKETS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(BUCKETS.len());
        self.counts[i].fetch_add(1, Ordering::Relaxed);
        self.sum_ns
            .fetch_add((secs * 1e9) as u64, Ordering::Relaxed);
    }

    fn render(&self, name: &str, help: &str, out: &mut String) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut cum = 0;
        for (i, b) in BUCKETS.iter().enumerate() {
            cum += self.counts[i].load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{b}\"}} {cum}");
        }
        cum += self.counts[16].load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {cum}");
        let _ = writeln!(
            out,
            "{name}_sum {}",
            self.sum_ns.load(Ordering::Relaxed) as f64 / 1e9
        );
        let _ = writeln!(out, "{name}_count {cum}");
    }
}

/// Everything `/metrics` shows.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Counter values by metric name, then by label text (two levels so a hit on an existing
    /// series is looked up by `&str` without allocating a key).
    counters: Mutex<BTreeMap<String, BTreeMap<String, u64>>>,
    /// Time from request received to response headers sent, seconds.
    pub latency: Histogram,
    /// Time the guard itself added (total minus upstream), seconds.
    pub overhead: Histogram,
    /// Audit records that could not be made durable.
    pub audit_failures: std::sync::Arc<AtomicU64>,
    drift: Mutex<HashMap<String, ModelDrift>>,
    /// Writes new baselines to `[drift] baseline_file`, off the request threads.
    saver: BaselineSaver,
}

/// The decimal digits of `n`, written into `buf`.
fn u16_str(mut n: u16, buf: &mut [u8; 5]) -> &str {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    std::str::from_utf8(&buf[i..]).unwrap_or("0")
}

fn esc(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.contains(['\\', '"', '\n']) {
        return std::borrow::Cow::Borrowed(s);
    }
    std::borrow::Cow::Owned(
        s.replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n"),
    )
}

impl Metrics {
    /// Adds one to counter `name` with the label text made of `parts` (`k="v",...`, already
    /// escaped). The text is assembled in a reused per-thread buffer and copied only when the
    /// series is new: counting a request allocates nothing.
    pub fn inc(&self, name: &str, parts: &[&str]) {
        thread_local! {
            static LABELS: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
        }
        LABELS.with_borrow_mut(|labels| {
            labels.clear();
            for p in parts {
                labels.push_str(p);
            }
            let mut m = match self.counters.lock() {
                Ok(m) => m,
                Err(p) => p.into_inner(),
            };
            let series = match m.get_mut(name) {
                Some(s) => s,
                None => m.entry(name.to_string()).or_default(),
            };
            match series.get_mut(labels.as_str()) {
                Some(v) => *v += 1,
                None => {
                    series.insert(labels.clone(), 1);
                }
            }
        });
    }

    /// Counts a finished request.
    pub fn request(&self, endpoint: &str, status: u16, decision: &str) {
        let mut digits = [0u8; 5];
        let status = u16_str(status, &mut digits);
        self.inc(
            "lantern_guard_requests_total",
            &[
                "endpoint=\"",
                &esc(endpoint),
                "\",status=\"",
                status,
                "\",decision=\"",
                &esc(decision),
                "\"",
            ],
        );
    }

    /// Counts a detector or monitor hit.
    pub fn hit(&self, rule: &str) {
        self.inc(
            "lantern_guard_detector_hits_total",
            &["rule=\"", &esc(rule), "\""],
        );
    }

    /// Feeds one response to the drift monitor of `model`; returns alert messages.
    pub fn drift_observe(
        &self,
        cfg: &DriftConfig,
        model: &str,
        text: &str,
        finish: Option<&str>,
    ) -> Vec<String> {
        let mut m = match self.drift.lock() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        if m.len() >= 1000 && !m.contains_key(model) {
            return Vec::new();
        }
        let d = match m.get_mut(model) {
            Some(d) => d,
            None => m.entry(model.to_string()).or_default(),
        };
        let had_baseline = d.baseline.is_some();
        let alerts = d.observe(cfg, model, text, finish);
        if !had_baseline {
            if let (Some(tx), Some(b)) = (&self.saver.tx, &d.baseline) {
                // once per model: its first window just became its baseline
                let _ = tx.send((model.to_string(), b.clone()));
            }
        }
        alerts
    }

    /// Metrics whose drift baselines are kept in `path` (`[drift] baseline_file`): models with a
    /// baseline there are compared with it from their first window on, and the first window of
    /// any other model is added to it. A missing file is an empty one; an unreadable or invalid
    /// one is an error naming it (delete it to start new baselines).
    pub fn with_baseline_file(path: &std::path::Path) -> Result<Self, crate::Error> {
        let loaded = BaselineFile::load(path)?;
        let saver = BaselineSaver::spawn(path, loaded.models.clone())?;
        let drift = loaded
            .models
            .into_iter()
            .map(|(model, w)| {
                (
                    model,
                    ModelDrift {
                        baseline: Some(w),
                        ..ModelDrift::default()
                    },
                )
            })
            .collect();
        Ok(Self {
            drift: Mutex::new(drift),
            saver,
            ..Self::default()
        })
    }

    /// Prometheus text.
    /// `audit_backlog`: records waiting for the local audit log's writer (`None` without one).
    pub fn render(&self, redis_errors: u64, audit_backlog: Option<usize>) -> String {
        self.render_with(redis_errors, audit_backlog, &[])
    }

    /// [`Self::render`] with the state of the stores the guard depends on: `(store, up)` pairs
    /// (`redis`, `audit`), as the `lantern_guard_store_up` gauge.
    pub fn render_with(
        &self,
        redis_errors: u64,
        audit_backlog: Option<usize>,
        stores: &[(&str, bool)],
    ) -> String {
        let mut out = String::with_capacity(4096);
        if !stores.is_empty() {
            let _ = writeln!(out, "# HELP lantern_guard_store_up 1 while the store answers, 0 after its last operation failed (the failure policy then applies).\n# TYPE lantern_guard_store_up gauge");
            for (store, up) in stores {
                let _ = writeln!(
                    out,
                    "lantern_guard_store_up{{store=\"{store}\"}} {}",
                    u8::from(*up)
                );
            }
        }
        let counters = match self.counters.lock() {
            Ok(m) => m.clone(),
            Err(p) => p.into_inner().clone(),
        };
        for (name, series) in &counters {
            let _ = writeln!(out, "# HELP {name} {}", counter_help(name));
            let _ = writeln!(out, "# TYPE {name} counter");
            for (labels, v) in series {
                let _ = writeln!(out, "{name}{{{labels}}} {v}");
            }
        }
        self.latency.render(
            "lantern_guard_request_duration_seconds",
            "Time to response headers.",
            &mut out,
        );
        self.overhead.render(
            "lantern_guard_added_latency_seconds",
            "Time added by the guard (total minus upstream).",
            &mut out,
        );
        let _ = writeln!(out, "# HELP lantern_guard_audit_failures_total Audit records that could not be made durable.\n# TYPE lantern_guard_audit_failures_total counter\nlantern_guard_audit_failures_total {}", self.audit_failures.load(Ordering::Relaxed));
        let _ = writeln!(out, "# HELP lantern_guard_redis_errors_total Rate-limit operations the shared Redis store did not answer.\n# TYPE lantern_guard_redis_errors_total counter\nlantern_guard_redis_errors_total {redis_errors}");
        if let Some(b) = audit_backlog {
            let _ = writeln!(
                out,
                "# HELP lantern_guard_audit_backlog Records waiting for the local audit log's writer.\n# TYPE lantern_guard_audit_backlog gauge\nlantern_guard_audit_backlog {b}"
            );
        }
        let drift = match self.drift.lock() {
            Ok(m) => m
                .iter()
                .map(|(k, v)| (k.clone(), v.scores.clone()))
                .collect::<BTreeMap<_, _>>(),
            Err(p) => p
                .into_inner()
                .iter()
                .map(|(k, v)| (k.clone(), v.scores.clone()))
                .collect(),
        };
        let _ = writeln!(out, "# HELP lantern_guard_drift Drift of the last complete window against the baseline window (PSI, or JS distance for tokens).\n# TYPE lantern_guard_drift gauge");
        // one group per metric family: the alerts follow the scores
        let mut alerts = String::new();
        for (model, s) in &drift {
            if let Some(s) = s {
                for (metric, v) in [
                    ("length_psi", s.length_psi),
                    ("finish_reason_psi", s.finish_psi),
                    ("refusal_psi", s.refusal_psi),
                    ("token_js", s.token_js),
                ] {
                    let _ = writeln!(
                        out,
                        "lantern_guard_drift{{model=\"{}\",metric=\"{metric}\"}} {v:.6}",
                        esc(model)
                    );
                }
                let _ = writeln!(
                    alerts,
                    "lantern_guard_drift_alert{{model=\"{}\"}} {}",
                    esc(model),
                    u8::from(s.alert)
                );
            }
        }
        let _ = writeln!(out, "# HELP lantern_guard_drift_alert 1 when a model's drift score is above its threshold.\n# TYPE lantern_guard_drift_alert gauge");
        out.push_str(&alerts);
        out
    }
}

/// The HELP text of a counter.
fn counter_help(name: &str) -> &'static str {
    match name {
        "lantern_guard_requests_total" => "Requests by endpoint, status and decision.",
        "lantern_guard_detector_hits_total" => "Detector and output-monitor hits by rule.",
        _ => "Lantern guard counter.",
    }
}

const TOKEN_BUCKETS: usize = 256;
const FINISH: [&str; 4] = ["stop", "length", "content_filter", "tool_calls"];
const REFUSALS: [&str; 9] = [
    "i can't help",
    "i cannot help",
    "i can't assist",
    "i cannot assist",
    "i'm sorry, but",
    "i am sorry, but",
    "i'm not able to",
    "i won't be able to",
    "as an ai",
];

/// Substring searchers of the refusal phrases, built once (building one costs more than a
/// search of 400 bytes).
fn refusal_finders() -> &'static [memchr::memmem::Finder<'static>] {
    static FINDERS: std::sync::OnceLock<Vec<memchr::memmem::Finder<'static>>> =
        std::sync::OnceLock::new();
    FINDERS.get_or_init(|| {
        REFUSALS
            .iter()
            .map(|r| memchr::memmem::Finder::new(r.as_bytes()))
            .collect()
    })
}

/// True when the first 400 characters of `text`, lower-cased, contain a refusal phrase.
fn is_refusal(text: &str) -> bool {
    let head = text.as_bytes().get(..400).unwrap_or(text.as_bytes());
    if head.is_ascii() {
        // 400 ASCII bytes are the first 400 characters; lower-case them on the stack
        let mut buf = [0u8; 400];
        let lower = buf.get_mut(..head.len()).unwrap_or_default();
        lower.copy_from_slice(head);
        lower.make_ascii_lowercase();
        return refusal_finders().iter().any(|f| f.find(lower).is_some());
    }
    let lower: String = text
        .chars()
        .take(400)
        .flat_map(char::to_lowercase)
        .collect();
    REFUSALS.iter().any(|r| lower.contains(r))
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Window {
    n: u64,
    length: [u64; 16],
    finish: [u64; 5],
    refusal: [u64; 2],
    tokens: Vec<u64>,
}

impl Default for Window {
    fn default() -> Self {
        Self {
            n: 0,
            length: [0; 16],
            finish: [0; 5],
            refusal: [0; 2],
            tokens: vec![0; TOKEN_BUCKETS],
        }
    }
}

/// The drift baselines kept across restarts: one window per model (JSON).
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct BaselineFile {
    version: u32,
    models: BTreeMap<String, Window>,
}

/// A thread that keeps the baseline file: request threads send it each model's new baseline (once
/// per model), and it rewrites the file with all of them, so no request waits for the file's
/// write and sync. Dropping it writes what was sent and joins the thread.
#[derive(Debug, Default)]
struct BaselineSaver {
    tx: Option<std::sync::mpsc::Sender<(String, Window)>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl BaselineSaver {
    fn spawn(
        path: &std::path::Path,
        models: BTreeMap<String, Window>,
    ) -> Result<Self, crate::Error> {
        let (tx, rx) = std::sync::mpsc::channel::<(String, Window)>();
        let path = path.to_path_buf();
        let mut file = BaselineFile { version: 1, models };
        let thread = std::thread::Builder::new()
            .name("lantern-drift-baselines".into())
            .spawn(move || {
                while let Ok((model, w)) = rx.recv() {
                    file.models.insert(model, w);
                    // several models may have finished their first window meanwhile: one write
                    while let Ok((model, w)) = rx.try_recv() {
                        file.models.insert(model, w);
                    }
                    if let Err(e) = file.save(&path) {
                        tracing::warn!(path = %path.display(), error = %e, "drift baselines not saved");
                    }
                }
            })
            .map_err(|e| crate::Error::Io(lantern_core::IoError::new("drift baseline thread", e)))?;
        Ok(Self {
            tx: Some(tx),
            thread: Some(thread),
        })
    }
}

impl Drop for BaselineSaver {
    fn drop(&mut self) {
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Largest baseline file read (a thousand models' windows are about 2 MB).
const MAX_BASELINE_BYTES: u64 = 16 << 20;

impl BaselineFile {
    fn load(path: &std::path::Path) -> Result<Self, crate::Error> {
        let bad = |m: String| crate::Error::Config(format!("{}: {m}", path.display()));
        let text = match std::fs::File::open(path) {
            Ok(f) => {
                use std::io::Read;
                let mut s = String::new();
                f.take(MAX_BASELINE_BYTES + 1)
                    .read_to_string(&mut s)
                    .map_err(|e| bad(e.to_string()))?;
                if s.len() as u64 > MAX_BASELINE_BYTES {
                    return Err(bad(format!(
                        "drift baseline file larger than {MAX_BASELINE_BYTES} bytes"
                    )));
                }
                s
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Self {
                    version: 1,
                    models: BTreeMap::new(),
                })
            }
            Err(e) => return Err(bad(e.to_string())),
        };
        let f: Self = serde_json::from_str(&text)
            .map_err(|e| bad(format!("not a drift baseline file: {e}")))?;
        if f.version != 1 {
            return Err(bad(format!("unknown drift baseline version {}", f.version)));
        }
        for (model, w) in &f.models {
            if w.n == 0 || w.tokens.len() != TOKEN_BUCKETS {
                return Err(bad(format!(
                    "baseline of model {model:?}: {} responses, {} token buckets (want at least 1 and {TOKEN_BUCKETS})",
                    w.n,
                    w.tokens.len()
                )));
            }
        }
        Ok(f)
    }

    /// Writes the file whole or not at all.
    fn save(&self, path: &std::path::Path) -> std::io::Result<()> {
        let json = serde_json::to_vec(self).map_err(std::io::Error::other)?;
        crate::write_atomic(path, &json, false)
    }
}

/// Drift scores of one window against the baseline.
#[derive(Debug, Clone, PartialEq)]
pub struct Scores {
    /// PSI of the response-length distribution (log2 bins of characters).
    pub length_psi: f64,
    /// PSI of the finish-reason mix.
    pub finish_psi: f64,
    /// PSI of the refusal rate.
    pub refusal_psi: f64,
    /// Jensen–Shannon distance (base 2) of hashed token unigrams.
    pub token_js: f64,
    /// Any score over its threshold.
    pub alert: bool,
}

#[derive(Debug, Default)]
struct ModelDrift {
    baseline: Option<Window>,
    current: Window,
    scores: Option<Scores>,
}

fn dist(c: &[u64]) -> Vec<f64> {
    let total: u64 = c.iter().sum();
    let eps = 1e-4;
    let k = c.len() as f64;
    c.iter()
        .map(|&x| (x as f64 + eps) / (total as f64 + eps * k))
        .collect()
}

/// Population stability index of two count vectors.
pub fn psi(base: &[u64], cur: &[u64]) -> f64 {
    let (p, q) = (dist(base), dist(cur));
    p.iter().zip(&q).map(|(a, b)| (b - a) * (b / a).ln()).sum()
}

/// Jensen–Shannon distance (square root of the base-2 divergence) of two count vectors.
pub fn js_distance(a: &[u64], b: &[u64]) -> f64 {
    let (p, q) = (dist(a), dist(b));
    let kl = |x: &[f64], m: &[f64]| {
        x.iter()
            .zip(m)
            .map(|(a, b)| if *a > 0.0 { a * (a / b).log2() } else { 0.0 })
            .sum::<f64>()
    };
    let m: Vec<f64> = p.iter().zip(&q).map(|(a, b)| (a + b) / 2.0).collect();
    (0.5 * kl(&p, &m) + 0.5 * kl(&q, &m)).max(0.0).sqrt()
}

impl ModelDrift {
    fn observe(
        &mut self,
        cfg: &DriftConfig,
        model: &str,
        text: &str,
        finish: Option<&str>,
    ) -> Vec<String> {
        let w = &mut self.current;
        w.n += 1;
        let chars = text.chars().count() as u64;
        w.length[(64 - chars.leading_zeros()).min(15) as usize] += 1;
        let f = finish
            .and_then(|f| FINISH.iter().position(|x| *x == f))
            .unwrap_or(4);
        w.finish[f] += 1;
        w.refusal[usize::from(is_refusal(text))] += 1;
        for (s, e) in crate::ngram::tokens(text).take(4096) {
            let mut h: u32 = 2_166_136_261;
            for b in text[s..e].bytes() {
                h = (h ^ u32::from(b.to_ascii_lowercase())).wrapping_mul(16_777_619);
            }
            w.tokens[(h as usize) % TOKEN_BUCKETS] += 1;
        }
        if (w.n as usize) < cfg.window {
            return Vec::new();
        }
        let done = std::mem::take(&mut self.current);
        let Some(base) = &self.baseline else {
            self.baseline = Some(done);
            return Vec::new();
        };
        let s = Scores {
            length_psi: psi(&base.length, &done.length),
            finish_psi: psi(&base.finish, &done.finish),
            refusal_psi: psi(&base.refusal, &done.refusal),
            token_js: js_distance(&base.tokens, &done.tokens),
            alert: false,
        };
        let mut alerts = Vec::new();
        for (name, v, t) in [
            ("response length", s.length_psi, cfg.psi_threshold),
            ("finish reasons", s.finish_psi, cfg.psi_threshold),
            ("refusal rate", s.refusal_psi, cfg.psi_threshold),
            ("token distribution", s.token_js, cfg.js_threshold),
        ] {
            if v > t {
                alerts.push(format!("model {model}: {name} drifted ({v:.3} > {t})"));
            }
        }
        self.scores = Some(Scores {
            alert: !alerts.is_empty(),
            ..s
        });
        alerts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_and_hit_counters_render_their_labels() {
        let m = Metrics::default();
        for (status, n) in [(200u16, 2), (404, 1), (5, 1), (65535, 1)] {
            for _ in 0..n {
                m.request("/v1/chat/completions", status, "allowed");
            }
        }
        m.request("other \"x\"", 200, "error");
        m.hit("canary");
        m.hit("canary");
        let r = m.render(0, None);
        for line in [
            "lantern_guard_requests_total{endpoint=\"/v1/chat/completions\",status=\"200\",decision=\"allowed\"} 2",
            "lantern_guard_requests_total{endpoint=\"/v1/chat/completions\",status=\"404\",decision=\"allowed\"} 1",
            "lantern_guard_requests_total{endpoint=\"/v1/chat/completions\",status=\"5\",decision=\"allowed\"} 1",
            "lantern_guard_requests_total{endpoint=\"/v1/chat/completions\",status=\"65535\",decision=\"allowed\"} 1",
            "lantern_guard_requests_total{endpoint=\"other \\\"x\\\"\",status=\"200\",decision=\"error\"} 1",
            "lantern_guard_detector_hits_total{rule=\"canary\"} 2",
        ] {
            assert!(r.lines().any(|l| l == line), "{line} not in\n{r}");
        }
    }

    #[test]
    fn psi_and_js_known_values() {
        assert!(psi(&[50, 50], &[50, 50]).abs() < 1e-9);
        // p=(0.5,0.5) q=(0.9,0.1): (0.4 ln 1.8) + (-0.4 ln 0.2) = 0.2351 + 0.6438
        assert!((psi(&[50, 50], &[90, 10]) - 0.8789).abs() < 1e-3);
        assert!(js_distance(&[10, 0], &[10, 0]) < 1e-3);
        assert!((js_distance(&[10, 0], &[0, 10]) - 1.0).abs() < 1e-3);
    }

    #[test]
    fn drift_alerts_when_outputs_change_and_not_when_stable() {
        let cfg = DriftConfig {
            window: 50,
            ..DriftConfig::default()
        };
        let m = Metrics::default();
        let mut alerts = Vec::new();
        let answers = [
            "The capital of France is Paris.",
            "Water boils at 100 degrees Celsius at sea level.",
            "Rust guarantees memory safety without a garbage collector.",
            "The mitochondria is the powerhouse of the cell.",
            "Photosynthesis turns light into chemical energy.",
        ];
        for i in 0..100 {
            alerts.extend(m.drift_observe(
                &cfg,
                "m",
                answers[i % 5],
                Some(if i % 10 == 0 { "length" } else { "stop" }),
            ));
        }
        assert!(alerts.is_empty(), "{alerts:?}");
        for _ in 0..50 {
            alerts.extend(m.drift_observe(
                &cfg,
                "m",
                "I'm sorry, but I can't help with that.",
                Some("content_filter"),
            ));
        }
        assert!(
            alerts.iter().any(|a| a.contains("refusal rate")),
            "{alerts:?}"
        );
        assert!(
            alerts.iter().any(|a| a.contains("finish reasons")),
            "{alerts:?}"
        );
        assert!(m
            .render(0, None)
            .contains("lantern_guard_drift_alert{model=\"m\"} 1"));
        m.request("/v1/chat/completions", 200, "allowed");
        m.hit("pii.email");
        let text = m.render_with(3, Some(1), &[("redis", false)]);
        // every sample's family has HELP and TYPE lines, and each family is one group
        let mut families: Vec<&str> = Vec::new();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let name = line.split(['{', ' ']).next().unwrap_or_default();
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| {
                    name.strip_suffix(s)
                        .filter(|f| text.contains(&format!("# TYPE {f} histogram")))
                })
                .unwrap_or(name);
            assert!(
                text.contains(&format!("# HELP {family} ")),
                "no HELP for {family}"
            );
            assert!(
                text.contains(&format!("# TYPE {family} ")),
                "no TYPE for {family}"
            );
            if families.last() != Some(&family) {
                assert!(
                    !families.contains(&family),
                    "{family} is split in two groups"
                );
                families.push(family);
            }
        }
        assert!(text.contains("lantern_guard_store_up{store=\"redis\"} 0"));
    }

    #[test]
    fn refusal_check_ascii_and_unicode() {
        assert!(is_refusal("I'm SORRY, but I can't help with that."));
        assert!(!is_refusal("Sure, here is the answer."));
        let late = format!("{}I cannot help", "x".repeat(395));
        assert!(!is_refusal(&late), "only the first 400 characters count");
        assert!(is_refusal("Ça va? As an AI, I am not able to"));
        let late_unicode = format!("{}as an ai", "é".repeat(398));
        assert!(!is_refusal(&late_unicode));
        assert!(esc("plain") == "plain" && esc("a\"b\nc\\") == "a\\\"b\\nc\\\\");
    }

    #[test]
    fn drift_baselines_are_kept_across_restarts() {
        let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = d.path().join("baselines.json");
        let cfg = DriftConfig {
            window: 20,
            ..DriftConfig::default()
        };
        let stable = |m: &Metrics, model: &str| {
            (0..20)
                .flat_map(|i| {
                    m.drift_observe(
                        &cfg,
                        model,
                        &format!("Answer {i}: the sky is blue."),
                        Some("stop"),
                    )
                })
                .collect::<Vec<_>>()
        };
        let refusals = |m: &Metrics| {
            (0..20)
                .flat_map(|_| {
                    m.drift_observe(
                        &cfg,
                        "m",
                        "I'm sorry, but I can't help with that.",
                        Some("content_filter"),
                    )
                })
                .collect::<Vec<_>>()
        };
        let m = Metrics::with_baseline_file(&path).unwrap_or_else(|e| panic!("{e}"));
        assert!(stable(&m, "m").is_empty());
        // dropping the metrics waits for the saver thread
        drop(m);
        assert!(path.exists(), "the first window was not saved");
        // without the file, a restart takes the drifted window as the new baseline: no alert
        assert!(refusals(&Metrics::default()).is_empty());
        // with it, the first window after the restart is compared with the saved baseline
        let m = Metrics::with_baseline_file(&path).unwrap_or_else(|e| panic!("{e}"));
        let alerts = refusals(&m);
        assert!(
            alerts.iter().any(|a| a.contains("refusal rate")),
            "{alerts:?}"
        );
        // a second model's first window joins the file; the first model's baseline stays
        assert!(stable(&m, "other").is_empty());
        drop(m);
        let saved = BaselineFile::load(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(saved.models.keys().collect::<Vec<_>>(), vec!["m", "other"]);
        assert_eq!(saved.models["m"].finish[0], 20, "the baseline was replaced");
    }

    #[test]
    fn bad_baseline_files_are_errors_naming_the_file() {
        let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = d.path().join("b.json");
        for (text, want) in [
            ("{not json", "not a drift baseline file"),
            (
                r#"{"version":2,"models":{}}"#,
                "unknown drift baseline version 2",
            ),
            (
                r#"{"version":1,"models":{"m":{"n":5,"length":[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0],"finish":[5,0,0,0,0],"refusal":[5,0],"tokens":[1,2]}}}"#,
                "2 token buckets",
            ),
        ] {
            std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
            let e = Metrics::with_baseline_file(&path)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(e.contains("b.json") && e.contains(want), "{text}: {e}");
        }
    }
}
