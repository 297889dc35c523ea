//! `lantern scan`: parse the arguments, run the `lantern-scan` pipeline, print the report and
//! map it to an exit code. The pipeline itself (walk -> analysers -> report) is a library.

use crate::output::{print_report, spinner, Spinner};
use anyhow::Result;
use lantern_core::output::Format;
use lantern_core::{Baseline, Severity};
use lantern_scan::{Enabled, ScanOptions};
use std::io::Write;
use std::path::PathBuf;

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
    /// Scan at most this many bytes of text per file, the rest reported as not fully checked
    /// (default 128 MiB; model files are read by seeking, archives expanded as streams)
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

fn list_rules(args: &Args, config: &lantern_core::Config) -> Result<u8> {
    let rules = lantern_scan::load_rules(config, &args.rules)?;
    let mut out = std::io::stdout().lock();
    for r in rules.rules() {
        writeln!(out, "{}\t{}\t{}", r.id, r.severity, r.description)?;
    }
    writeln!(out, "{} rules", rules.len())?;
    Ok(0)
}

/// Run `lantern scan`.
pub fn run(args: Args) -> Result<u8> {
    let config = lantern_scan::load_config(args.config.as_deref(), &args.paths)?;
    if args.list_rules {
        return list_rules(&args, &config);
    }
    let fail_on: Severity = (args.fail_on.as_deref())
        .or(config.scan.fail_on.as_deref())
        .unwrap_or("low")
        .parse()?;
    let min_severity: Severity = args.min_severity.parse()?;
    let format: Format = args.format.parse()?;
    let want = |a: &str| args.only.iter().any(|o| o == a);
    let enabled = Enabled {
        secrets: want("secrets"),
        leaks: want("leaks"),
        models: want("models"),
        iac: want("iac"),
    };
    let threads = super::limits::clamp_threads(args.threads, "-j");
    if threads > 0 {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads);
        pool.build_global().ok();
    }
    let progress = spinner(!args.no_progress);
    let opts = ScanOptions {
        config,
        rule_files: args.rules.clone(),
        git: args.git,
        no_ignore: args.no_ignore,
        max_file_size: args.max_file_size,
        no_archives: args.no_archives,
        enabled,
        threads,
        min_severity,
        baseline: args.baseline.clone(),
        progress: progress
            .as_ref()
            .map(|p: &Spinner| p as &dyn lantern_scan::Progress),
    };
    let report = lantern_scan::scan(&opts, &args.paths);
    if let Some(p) = &progress {
        p.finish();
    }
    let report = report?;
    if let Some(b) = &args.write_baseline {
        Baseline::from_report(&report).save(b)?;
        let (n, path) = (report.findings.len(), lantern_core::term::escape_path(b));
        eprintln!("lantern: wrote baseline with {n} finding(s) to {path}");
        return Ok(0);
    }
    let out = args.output.as_deref();
    print_report(&report, format, out, &args.color, args.show_secrets)?;
    Ok(if report.fails(fail_on) { 1 } else { 0 })
}
