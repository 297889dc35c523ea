//! `lantern scan` as a library: walk the inputs (files, directories, archives, git history,
//! standard input), run every [`Analyser`] on each blob through one pipeline, and return the
//! [`Report`] the command prints: findings, warnings, `scan.incomplete` findings and counters,
//! filtered by the allowlist, minimum severity and baseline, sorted.
//!
//! The analysers are the secret scanner and model scanner (adapters here), the leak checks and
//! the infrastructure-code checks (their own crates); a new analyser implements
//! [`lantern_core::analyser::Analyser`] and is added in [`analysers`].

mod adapters;
mod decode;
mod pipeline;

pub use adapters::{ModelsAnalyser, SecretsAnalyser};
pub use lantern_core::analyser::Analyser;

use lantern_core::{Baseline, Config, Report, Severity};
use lantern_secrets::{RuleSet, Scanner};
use lantern_walk::WalkOptions;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Errors that stop a scan before it has a report (configuration, rules, unreadable roots).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `lantern.toml`, a baseline or a value in them is invalid or unreadable.
    #[error(transparent)]
    Core(#[from] lantern_core::Error),
    /// The bundled rule set does not load.
    #[error("loading bundled rules")]
    BundledRules(#[source] lantern_secrets::Error),
    /// A `--rules` file does not load.
    #[error("loading rules from {path}")]
    RuleFile {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: lantern_secrets::Error,
    },
    /// `lantern.toml` rules or secret allowlist are invalid.
    #[error(transparent)]
    Secrets(#[from] lantern_secrets::Error),
    /// The `[leaks]` section is invalid.
    #[error(transparent)]
    Leaks(#[from] lantern_leaks::Error),
    /// The `[iac]` section is invalid.
    #[error(transparent)]
    Iac(#[from] lantern_iac::Error),
    /// `[scan] incomplete_severity` is not a severity.
    #[error("[scan] incomplete_severity")]
    IncompleteSeverity(#[source] lantern_core::Error),
    /// An `[allowlist] paths` glob does not parse.
    #[error("invalid glob `{pattern}` in [allowlist] paths")]
    Glob {
        /// The glob.
        pattern: String,
        /// Why.
        #[source]
        source: globset::Error,
    },
    /// The `[allowlist] paths` globs do not build.
    #[error(transparent)]
    GlobSet(#[from] globset::Error),
    /// A root could not be walked.
    #[error(transparent)]
    Walk(#[from] lantern_walk::Error),
    /// The git history of a root could not be read.
    #[error("reading git history of {path}")]
    Git {
        /// The root.
        path: String,
        /// Why.
        #[source]
        source: lantern_walk::Error,
    },
    /// A root does not exist.
    #[error("{0}: no such file or directory")]
    NotFound(String),
    /// A scan thread panicked: the report would be incomplete.
    #[error("a scan thread panicked")]
    Panicked,
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Which analysers run (`lantern scan --only`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Enabled {
    /// Secrets (rules, entropy, encoded runs).
    pub secrets: bool,
    /// Release-artifact leaks.
    pub leaks: bool,
    /// Unsafe model files.
    pub models: bool,
    /// Infrastructure code.
    pub iac: bool,
}

impl Default for Enabled {
    fn default() -> Self {
        Enabled {
            secrets: true,
            leaks: true,
            models: true,
            iac: true,
        }
    }
}

/// Told of every blob as the walk delivers it (a progress bar).
pub trait Progress: Sync {
    /// `bytes` of the blob at `path` are about to be scanned.
    fn blob(&self, bytes: u64, path: &str);
}

/// What to scan and how; `Default` is `lantern scan` with no flags on an empty configuration.
pub struct ScanOptions<'a> {
    /// `lantern.toml` (see [`load_config`]).
    pub config: Config,
    /// Extra gitleaks rule files (`--rules`).
    pub rule_files: Vec<PathBuf>,
    /// Scan the git history of each path instead of its tree.
    pub git: bool,
    /// Scan files ignored by `.gitignore` too.
    pub no_ignore: bool,
    /// Read at most this much of a text file (default: `[scan] max_file_size`, else 128 MiB).
    pub max_file_size: Option<u64>,
    /// Do not look inside archives.
    pub no_archives: bool,
    /// Which analysers run.
    pub enabled: Enabled,
    /// Walker threads (0 = all cores).
    pub threads: usize,
    /// Drop findings below this severity.
    pub min_severity: Severity,
    /// Drop findings recorded in this baseline file.
    pub baseline: Option<PathBuf>,
    /// Told of each blob.
    pub progress: Option<&'a dyn Progress>,
}

impl Default for ScanOptions<'_> {
    fn default() -> Self {
        ScanOptions {
            config: Config::default(),
            rule_files: Vec::new(),
            git: false,
            no_ignore: false,
            max_file_size: None,
            no_archives: false,
            enabled: Enabled::default(),
            threads: 0,
            min_severity: Severity::Info,
            baseline: None,
            progress: None,
        }
    }
}

/// The configuration of a scan of `paths`: `explicit` when given, else the `lantern.toml` found
/// upward from the first path that is not `-` (standard input).
pub fn load_config(explicit: Option<&Path>, paths: &[PathBuf]) -> Result<Config> {
    let first = paths
        .iter()
        .find(|p| p.as_os_str() != "-")
        .cloned()
        .unwrap_or_else(|| PathBuf::from("."));
    Ok(match explicit {
        Some(p) => Config::load(p)?,
        None => Config::discover(&first)?,
    })
}

/// The secret rules of a run: bundled, then `lantern.toml` `[[rules]]`, then `files` (gitleaks
/// TOML), minus the rules `[allowlist] rules` disables.
pub fn load_rules(config: &Config, files: &[PathBuf]) -> Result<RuleSet> {
    let mut rules = RuleSet::builtin().map_err(Error::BundledRules)?;
    if !config.rules.is_empty() {
        let src = config
            .source
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "lantern.toml".into());
        rules.add_toml_rules(&config.rules, &src)?;
    }
    for f in files {
        rules
            .add_gitleaks_file(f)
            .map_err(|source| Error::RuleFile {
                path: f.display().to_string(),
                source,
            })?;
    }
    rules.disable(&config.allowlist.rules);
    Ok(rules)
}

fn is_archive_path(p: &Path) -> bool {
    let n = p
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    [
        ".zip", ".whl", ".jar", ".tgz", ".tar.gz", ".tar", ".gz", ".nupkg", ".egg", ".crate",
    ]
    .iter()
    .any(|e| n.ends_with(e))
}

/// The enabled analysers, in the order they run within a stage.
pub fn analysers(
    opts: &ScanOptions<'_>,
    paths: &[PathBuf],
    walk: &WalkOptions,
) -> Result<Vec<Box<dyn Analyser>>> {
    let (config, on) = (&opts.config, opts.enabled);
    let incomplete = incomplete_severity(config)?;
    // Loaded even when secrets are off: a broken rule file is an error either way.
    let rules = load_rules(config, &opts.rule_files)?;
    let mut out: Vec<Box<dyn Analyser>> = Vec::new();
    if on.models {
        out.push(Box::new(ModelsAnalyser {
            policy: lantern_models::Policy {
                extra_allowed_globals: config.models.allow_globals.clone(),
            },
            max_file_size: walk.max_file_size,
            incomplete,
        }));
    }
    if on.secrets {
        let scanner = Scanner::new(rules, &config.allowlist.secrets)?;
        out.push(Box::new(SecretsAnalyser(scanner)));
    }
    if on.leaks {
        let artifact_root = paths.len() == 1 && paths.first().is_some_and(|p| is_archive_path(p));
        let leaks = lantern_leaks::LeakScanner::new(&config.leaks)?;
        out.push(Box::new(lantern_leaks::LeakAnalyser::new(
            leaks,
            artifact_root,
        )));
    }
    if on.iac {
        out.push(Box::new(lantern_iac::IacScanner::new(&config.iac)?));
    }
    Ok(out)
}

fn incomplete_severity(config: &Config) -> Result<Severity> {
    config
        .scan
        .incomplete_severity
        .as_deref()
        .unwrap_or("medium")
        .parse()
        .map_err(Error::IncompleteSeverity)
}

/// The walker options of a run.
pub fn walk_options(opts: &ScanOptions<'_>) -> WalkOptions {
    let scan = &opts.config.scan;
    let mut walk = WalkOptions {
        no_ignore: opts.no_ignore,
        exclude: scan.exclude.clone(),
        expand_archives: !opts.no_archives,
        threads: opts.threads,
        ..WalkOptions::default()
    };
    walk.max_file_size = opts
        .max_file_size
        .or(scan.max_file_size)
        .unwrap_or(128 << 20);
    if let Some(d) = scan.max_archive_depth {
        walk.max_archive_depth = d;
    }
    if let Some(b) = scan.max_archive_bytes {
        walk.max_archive_bytes = b;
    }
    if let Some(n) = scan.max_archive_entries {
        walk.max_archive_entries = n;
    }
    walk
}

fn allow_paths(patterns: &[String]) -> Result<globset::GlobSet> {
    let mut b = globset::GlobSetBuilder::new();
    for p in patterns {
        let glob = globset::Glob::new(p).map_err(|source| Error::Glob {
            pattern: p.clone(),
            source,
        })?;
        b.add(glob);
    }
    Ok(b.build()?)
}

/// Walks each of `paths` (`-` is standard input) into `v`.
fn walk_all(
    opts: &ScanOptions<'_>,
    paths: &[PathBuf],
    walk: &WalkOptions,
    v: &dyn lantern_walk::Visitor,
) -> Result<()> {
    for p in paths {
        if p.as_os_str() == "-" {
            let mut stdin = std::io::stdin().lock();
            lantern_walk::walk_reader("<stdin>", &mut stdin, walk, v)?;
        } else if opts.git {
            lantern_walk::walk_git(p, walk, v).map_err(|source| Error::Git {
                path: p.display().to_string(),
                source,
            })?;
        } else {
            if !p.exists() {
                return Err(Error::NotFound(p.display().to_string()));
            }
            lantern_walk::walk_paths(std::slice::from_ref(p), walk, v)?;
        }
    }
    Ok(())
}

/// Scans `paths` and returns the report `lantern scan` prints: allowlisted paths, findings
/// below [`ScanOptions::min_severity`] and baselined findings removed, sorted, with counters.
pub fn scan(opts: &ScanOptions<'_>, paths: &[PathBuf]) -> Result<Report> {
    let analysers = analysers(opts, paths, &walk_options(opts))?;
    scan_with(opts, paths, &analysers)
}

/// [`scan`] with the given analysers instead of the enabled built-in ones.
pub fn scan_with(
    opts: &ScanOptions<'_>,
    paths: &[PathBuf],
    analysers: &[Box<dyn Analyser>],
) -> Result<Report> {
    let started = Instant::now();
    let walk = walk_options(opts);
    let allow = allow_paths(&opts.config.allowlist.paths)?;
    let incomplete = incomplete_severity(&opts.config)?;
    let pipeline =
        pipeline::Pipeline::new(analysers, opts.progress, incomplete, walk.max_file_size);
    walk_all(opts, paths, &walk, &pipeline)?;
    let mut report = pipeline.finish().ok_or(Error::Panicked)?;
    if !opts.config.allowlist.paths.is_empty() {
        report.retain_locations(|_, l| !allow.is_match(l.outer_path()) && !allow.is_match(&l.path));
    }
    if opts.min_severity > Severity::Info {
        report.findings.retain(|f| f.severity >= opts.min_severity);
    }
    if let Some(b) = &opts.baseline {
        Baseline::load(b)?.apply(&mut report);
    }
    report.sort();
    report.stats.elapsed_ms = started.elapsed().as_millis() as u64;
    Ok(report)
}
