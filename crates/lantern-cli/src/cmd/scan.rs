//! `lantern scan`: inputs (walk) -> analysers (secrets, leaks, models, iac) -> report -> output.

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use lantern_core::output::{render, Format, RenderOptions};
use lantern_core::{Baseline, Config, Finding, Location, Report, Severity, Warning};
use lantern_leaks::LeakScanner;
use lantern_secrets::{RuleSet, Scanner};
use lantern_walk::decode::Encoding;
use lantern_walk::{Blob, BlobKind, Visitor, WalkOptions};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use super::scan_decode;

/// Arguments of `lantern scan`.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  lantern scan .                          scan the working tree (honours .gitignore)
  lantern scan --git .                    scan every blob of every commit
  lantern scan dist/pkg-1.0.0.tgz         scan a release artifact (archives are expanded)
  cat notes.txt | lantern scan -          scan standard input
  lantern scan --format sarif -o lantern.sarif .")]
pub struct Args {
    /// Files, directories or archives to scan; `-` reads standard input
    #[arg(default_value = ".")]
    pub paths: Vec<PathBuf>,
    /// Scan the git history of each path (every blob of every commit, once) instead of the tree
    #[arg(long)]
    pub git: bool,
    /// Output format
    #[arg(long, short = 'f', default_value = "human", value_parser = ["human", "json", "sarif"])]
    pub format: String,
    /// Write the report to FILE instead of standard output
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Lowest severity that makes the exit code 1 (info, low, medium, high, critical)
    #[arg(long, value_name = "SEVERITY")]
    pub fail_on: Option<String>,
    /// Only report findings at or above this severity
    #[arg(long, value_name = "SEVERITY", default_value = "info")]
    pub min_severity: String,
    /// Print secrets in full (default: a short redacted prefix)
    #[arg(long)]
    pub show_secrets: bool,
    /// Scan files ignored by .gitignore/.ignore too
    #[arg(long)]
    pub no_ignore: bool,
    /// Extra rule file in gitleaks TOML format (repeatable)
    #[arg(long = "rules", value_name = "FILE")]
    pub rules: Vec<PathBuf>,
    /// Use this lantern.toml instead of discovering one upward from the first path
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Suppress findings recorded in this baseline file
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Write every current finding to this baseline file (and exit 0)
    #[arg(long, value_name = "FILE")]
    pub write_baseline: Option<PathBuf>,
    /// Read only the first 64 KiB of larger files, reported as not fully checked when they are
    /// text (default 128 MiB; model files are read by seeking, archives expanded as streams)
    #[arg(long, value_name = "BYTES")]
    pub max_file_size: Option<u64>,
    /// Do not look inside archives (zip, wheels, jars, tar, npm tarballs, image layers)
    #[arg(long)]
    pub no_archives: bool,
    /// Which analysers run
    #[arg(long, value_delimiter = ',', default_value = "secrets,leaks,models,iac", value_parser = ["secrets", "leaks", "models", "iac"])]
    pub only: Vec<String>,
    /// Worker threads (0 = all cores)
    #[arg(long, short = 'j', default_value_t = 0)]
    pub threads: usize,
    /// Colour: auto, always or never
    #[arg(long, default_value = "auto", value_parser = ["auto", "always", "never"])]
    pub color: String,
    /// Do not show a progress bar
    #[arg(long)]
    pub no_progress: bool,
    /// List the bundled secret rules and exit
    #[arg(long)]
    pub list_rules: bool,
}

struct Analysers {
    secrets: Option<Scanner>,
    leaks: Option<LeakScanner>,
    models: Option<lantern_models::Policy>,
    iac: Option<lantern_iac::IacScanner>,
    allow_paths: globset::GlobSet,
    artifact_root: bool,
}

struct Collector<'a> {
    an: &'a Analysers,
    report: Mutex<Report>,
    blobs: AtomicU64,
    bytes: AtomicU64,
    skipped: AtomicU64,
    suppressed: AtomicU64,
    progress: Option<ProgressBar>,
    /// Severity of `scan.incomplete` findings.
    incomplete: Severity,
    /// `--max-file-size` as applied, for messages.
    max_file_size: u64,
}

impl Collector<'_> {
    fn add(&self, r: Report) {
        if let Ok(mut g) = self.report.lock() {
            g.merge(r);
        }
    }

    /// Scan text (decoded from `enc` when set), and the secrets hidden in its encoded runs.
    fn scan_decoded(&self, text: &[u8], loc: &Location, enc: Option<Encoding>, out: &mut Report) {
        let mut found = Report::new();
        self.scan_text(text, loc, &mut found);
        if let Some(enc) = enc {
            scan_decode::tag(&mut found, enc);
        }
        if let Some(s) = &self.an.secrets {
            let (hidden, suppressed) = scan_decode::encoded_secrets(s, text, loc);
            self.suppressed.fetch_add(suppressed, Ordering::Relaxed);
            for f in hidden {
                found.push(f);
            }
        }
        out.merge(found);
    }

    fn scan_text(&self, data: &[u8], loc: &Location, out: &mut Report) {
        if let Some(s) = &self.an.secrets {
            let o = s.scan(data, loc);
            self.suppressed.fetch_add(o.suppressed, Ordering::Relaxed);
            for f in o.findings {
                out.push(f);
            }
        }
        if let Some(l) = &self.an.leaks {
            let o = l.scan(data, loc, self.an.artifact_root);
            for f in o.findings {
                out.push(f);
            }
            for w in o.warnings {
                out.warn(w);
            }
            if let Some(s) = &self.an.secrets {
                for d in o.derived {
                    let so = s.scan(&d.data, &d.location);
                    self.suppressed.fetch_add(so.suppressed, Ordering::Relaxed);
                    for f in so.findings {
                        out.push(f);
                    }
                }
            }
        }
        if let Some(i) = &self.an.iac {
            self.add_iac(i.scan(data, loc), out);
        }
    }

    /// Infrastructure-code findings (`iac`): per file here, Terraform modules after the walk.
    fn add_iac(&self, o: lantern_iac::IacOutput, out: &mut Report) {
        self.suppressed.fetch_add(o.suppressed, Ordering::Relaxed);
        o.findings.into_iter().for_each(|f| out.push(f));
        o.warnings.into_iter().for_each(|w| out.warn(w));
    }
}

impl Visitor for Collector<'_> {
    fn blob(&self, blob: Blob) {
        let mut out = Report::new();
        let loc = &blob.location;
        if let Some(p) = &self.progress {
            p.inc(blob.data.len() as u64);
            p.set_message(loc.path.clone());
        }
        // Model files: by magic bytes, whole archives included (torch zips); a big text
        // input's first window only (its later windows start mid-file).
        let first = blob.window.is_none_or(|w| w.index == 0);
        if let Some(policy) = self.an.models.as_ref().filter(|_| first) {
            // Sniffed with the whole blob at hand: a pickle's first value may be longer
            // than the head.
            let format = match (&blob.disk_path, blob.partial) {
                (_, false) => lantern_models::detect_source(
                    &lantern_models::source::Mem(&blob.data),
                    &blob.data,
                    &loc.path,
                ),
                (Some(p), true) => lantern_models::detect_path(p, &blob.data, &loc.path),
                // Not at hand in full: a head cut inside a pickle value is reported as not
                // scanned (below) rather than passed as clean.
                (None, true) => lantern_models::detect(&blob.data, &loc.path).or_else(|| {
                    lantern_models::may_be_long_pickle(&blob.data, blob.size)
                        .then_some(lantern_models::ModelFormat::Pickle)
                }),
            };
            if let Some(_format) = format {
                let r = match (&blob.disk_path, blob.partial) {
                    (Some(p), _) => lantern_models::scan_path(p, loc, policy),
                    (None, false) => lantern_models::scan_bytes(&blob.data, loc, policy),
                    // A member read in full whose archive then reported an error (a bad CRC,
                    // warned about by the walker): its bytes are all there, scan them.
                    (None, true) if blob.size <= blob.data.len() as u64 => {
                        lantern_models::scan_bytes(&blob.data, loc, policy)
                    }
                    (None, true) => {
                        out.push(Finding::incomplete(
                            loc.clone(),
                            format!(
                                "model file inside an archive not read in full (larger than \
                                 max_file_size, {} bytes, or cut short by a read error): not scanned",
                                self.max_file_size
                            ),
                            self.incomplete,
                        ));
                        lantern_models::ModelReport::default()
                    }
                };
                for f in r.findings {
                    out.push(f);
                }
                for w in r.warnings {
                    out.warn(w);
                }
                self.blobs.fetch_add(1, Ordering::Relaxed);
                self.bytes.fetch_add(blob.size, Ordering::Relaxed);
                self.add(out);
                return;
            }
        }
        if blob.kind == BlobKind::Archive {
            // Members are delivered separately.
            return;
        }
        if let Some(format) = lantern_walk::sniff_unsupported(&blob.data) {
            out.push(Finding::incomplete(
                loc.clone(),
                format!("{format}-compressed data: not decompressed (unsupported format)"),
                self.incomplete,
            ));
            self.add(out);
            return;
        }
        // UTF-16/32 text is scanned as UTF-8, and the raw bytes too when they are text (a
        // Latin-1 file may start with what looks like a byte-order mark). What is binary either
        // way is skipped (a big file whose head is binary like a small binary file).
        let wide = lantern_walk::decode::decode_wide(&blob.data)
            .filter(|(t, _)| !lantern_walk::is_binary(t.as_bytes()));
        // A window of a big input the walker found to be text is text (it may start mid-character).
        let raw = blob.window.is_some() || !lantern_walk::is_binary(&blob.data);
        if wide.is_none() && !raw {
            self.skipped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        // Partial for its size (a truncated member is reported by the walk with its reason).
        if blob.partial && blob.size > self.max_file_size {
            out.push(Finding::incomplete(
                loc.clone(),
                format!(
                    "text larger than max_file_size ({} > {} bytes): only the first {} bytes scanned",
                    blob.size,
                    self.max_file_size,
                    blob.data.len()
                ),
                self.incomplete,
            ));
        }
        self.blobs.fetch_add(1, Ordering::Relaxed);
        self.bytes
            .fetch_add(blob.data.len() as u64, Ordering::Relaxed);
        if raw {
            self.scan_decoded(&blob.data, loc, None, &mut out);
        }
        if let Some((text, enc)) = &wide {
            self.scan_decoded(text.as_bytes(), loc, Some(*enc), &mut out);
        }
        if let Some(w) = &blob.window {
            out = w.rebase(out);
        }
        if !out.findings.is_empty() || !out.warnings.is_empty() {
            self.add(out);
        }
    }

    fn warning(&self, w: Warning) {
        if let Ok(mut g) = self.report.lock() {
            g.warn(w);
        }
    }

    fn skipped(&self, _path: &str, _reason: &str) {
        self.skipped.fetch_add(1, Ordering::Relaxed);
    }

    fn incomplete(&self, path: &str, reason: &str) {
        self.incomplete_at(&Location::path(path), reason);
    }

    fn incomplete_at(&self, loc: &Location, reason: &str) {
        let f = Finding::incomplete(loc.clone(), reason, self.incomplete);
        if let Ok(mut g) = self.report.lock() {
            g.push(f);
        }
    }
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

fn build_globset(patterns: &[String], what: &str) -> Result<globset::GlobSet> {
    let mut b = globset::GlobSetBuilder::new();
    for p in patterns {
        b.add(globset::Glob::new(p).with_context(|| format!("invalid glob `{p}` in {what}"))?);
    }
    Ok(b.build()?)
}

/// Run `lantern scan`.
pub fn run(args: Args) -> Result<u8> {
    let started = Instant::now();
    let first = args
        .paths
        .iter()
        .find(|p| p.as_os_str() != "-")
        .cloned()
        .unwrap_or_else(|| PathBuf::from("."));
    let config = match &args.config {
        Some(p) => Config::load(p)?,
        None => Config::discover(&first)?,
    };

    // Secret rules: bundled + lantern.toml [[rules]] + gitleaks files.
    let mut rules = RuleSet::builtin().context("loading bundled rules")?;
    if !config.rules.is_empty() {
        let src = config
            .source
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "lantern.toml".into());
        rules.add_toml_rules(&config.rules, &src)?;
    }
    for f in &args.rules {
        rules
            .add_gitleaks_file(f)
            .with_context(|| format!("loading rules from {}", f.display()))?;
    }
    rules.disable(&config.allowlist.rules);
    if args.list_rules {
        let mut out = std::io::stdout().lock();
        for r in rules.rules() {
            writeln!(out, "{}\t{}\t{}", r.id, r.severity, r.description)?;
        }
        writeln!(out, "{} rules", rules.len())?;
        return Ok(0);
    }

    let fail_on: Severity = args
        .fail_on
        .as_deref()
        .or(config.scan.fail_on.as_deref())
        .unwrap_or("low")
        .parse()?;
    let min_sev: Severity = args.min_severity.parse()?;
    let incomplete: Severity = config
        .scan
        .incomplete_severity
        .as_deref()
        .unwrap_or("medium")
        .parse()
        .context("[scan] incomplete_severity")?;
    let format: Format = args.format.parse()?;
    let want = |a: &str| args.only.iter().any(|o| o == a);

    let analysers = Analysers {
        secrets: if want("secrets") {
            Some(Scanner::new(rules, &config.allowlist.secrets)?)
        } else {
            None
        },
        leaks: if want("leaks") {
            Some(LeakScanner::new(&config.leaks)?)
        } else {
            None
        },
        models: if want("models") {
            Some(lantern_models::Policy {
                extra_allowed_globals: config.models.allow_globals.clone(),
            })
        } else {
            None
        },
        iac: want("iac")
            .then(|| lantern_iac::IacScanner::new(&config.iac))
            .transpose()?,
        allow_paths: build_globset(&config.allowlist.paths, "[allowlist] paths")?,
        artifact_root: args.paths.len() == 1 && is_archive_path(&args.paths[0]),
    };

    let threads = super::limits::clamp_threads(args.threads, "-j");
    let mut opts = WalkOptions {
        no_ignore: args.no_ignore,
        exclude: config.scan.exclude.clone(),
        expand_archives: !args.no_archives,
        threads,
        ..WalkOptions::default()
    };
    opts.max_file_size = args
        .max_file_size
        .or(config.scan.max_file_size)
        .unwrap_or(128 << 20);
    if let Some(d) = config.scan.max_archive_depth {
        opts.max_archive_depth = d;
    }
    if let Some(b) = config.scan.max_archive_bytes {
        opts.max_archive_bytes = b;
    }
    if let Some(n) = config.scan.max_archive_entries {
        opts.max_archive_entries = n;
    }
    if threads > 0 {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build_global()
            .ok();
    }

    let show_progress = !args.no_progress && std::io::stderr().is_terminal();
    let progress = show_progress.then(|| {
        let p = ProgressBar::new_spinner();
        p.set_style(
            ProgressStyle::with_template("{spinner} {bytes} scanned ({bytes_per_sec}) {wide_msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        p.enable_steady_tick(std::time::Duration::from_millis(120));
        p
    });
    let collector = Collector {
        an: &analysers,
        report: Mutex::new(Report::new()),
        blobs: AtomicU64::new(0),
        bytes: AtomicU64::new(0),
        skipped: AtomicU64::new(0),
        suppressed: AtomicU64::new(0),
        progress,
        incomplete,
        max_file_size: opts.max_file_size,
    };

    for p in &args.paths {
        if p.as_os_str() == "-" {
            let mut stdin = std::io::stdin().lock();
            lantern_walk::walk_reader("<stdin>", &mut stdin, &opts, &collector)?;
        } else if args.git {
            lantern_walk::walk_git(p, &opts, &collector)
                .with_context(|| format!("reading git history of {}", p.display()))?;
        } else {
            if !p.exists() {
                bail!("{}: no such file or directory", p.display());
            }
            lantern_walk::walk_paths(std::slice::from_ref(p), &opts, &collector)?;
        }
    }
    if let Some(i) = &analysers.iac {
        let mut out = Report::new();
        collector.add_iac(i.finish(), &mut out);
        collector.add(out);
    }
    if let Some(p) = &collector.progress {
        p.finish_and_clear();
    }

    let mut report = collector
        .report
        .into_inner()
        .map_err(|_| anyhow::anyhow!("a scan thread panicked"))?;
    report.stats.blobs = collector.blobs.load(Ordering::Relaxed);
    report.stats.bytes = collector.bytes.load(Ordering::Relaxed);
    report.stats.skipped = collector.skipped.load(Ordering::Relaxed);
    report.stats.suppressed += collector.suppressed.load(Ordering::Relaxed);
    if !config.allowlist.paths.is_empty() {
        let set = &analysers.allow_paths;
        report.retain_locations(|_, l| !set.is_match(l.outer_path()) && !set.is_match(&l.path));
    }
    if min_sev > Severity::Info {
        report.findings.retain(|f| f.severity >= min_sev);
    }
    if let Some(b) = &args.baseline {
        Baseline::load(b)?.apply(&mut report);
    }
    report.sort();
    report.stats.elapsed_ms = started.elapsed().as_millis() as u64;

    if let Some(b) = &args.write_baseline {
        Baseline::from_report(&report).save(b)?;
        eprintln!(
            "lantern: wrote baseline with {} finding(s) to {}",
            report.findings.len(),
            lantern_core::term::escape_path(b)
        );
        return Ok(0);
    }

    let color = match args.color.as_str() {
        "always" => true,
        "never" => false,
        _ => {
            args.output.is_none()
                && std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none()
        }
    };
    let text = render(
        &report,
        format,
        RenderOptions {
            show_secrets: args.show_secrets,
            color,
        },
    );
    match &args.output {
        Some(p) => std::fs::write(p, text).with_context(|| format!("writing {}", p.display()))?,
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())?;
            out.flush()?;
        }
    }
    Ok(if report.fails(fail_on) { 1 } else { 0 })
}
