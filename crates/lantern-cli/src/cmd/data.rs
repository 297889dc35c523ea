//! `lantern data`: dataset manifests, record-level diffs and poisoning audits — argument
//! parsing and output only; the work is in `lantern-data`.

use anyhow::{Context, Result};
use lantern_core::output::{self, Format, RenderOptions};
use lantern_core::{Location, Report, Severity};
use lantern_data::diff::ChangeKind;
use lantern_data::manifest::{self, ManifestOptions};
use lantern_data::{AuditOptions, DiffOptions, ReadOptions};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;

/// Arguments of `lantern data`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    command: DataCommand,
}

#[derive(clap::Subcommand, Debug)]
enum DataCommand {
    /// Content-addressed manifest: per-record digests, Merkle root, schema, counts, labels
    #[command(after_help = "Examples:
  lantern data manifest train.jsonl -o train.manifest.json --key id --label label
  lantern data manifest images/ -o images.manifest.json      one record per file, class folders as labels
  lantern data manifest data.parquet --no-records            root and counts only

Formats: CSV/TSV (header row), JSON Lines (.jsonl, .ndjson, .json; .gz too), Parquet, folders.
Record digest: sha256 over the record's fields sorted by name, in one canonical form for every
format (JSON numbers as written, non-UTF-8 strings as bytes, types kept: CSV cells are strings);
rows that cannot be parsed are digested as raw bytes in place and counted. Root: RFC 9162
Merkle tree hash. --verify exits 1 on any difference (records, unreadable rows, CSV header).")]
    Manifest(ManifestArgs),
    /// Records added, removed and changed between two versions (data, manifests or REV:PATH)
    #[command(after_help = "Examples:
  lantern data diff v1.jsonl v2.jsonl --key id
  lantern data diff old.manifest.json new.manifest.json
  lantern data diff HEAD~1:data/train.csv data/train.csv      attribute changes with git blame

Exit code: 0 identical, 1 records differ, 2 error.")]
    Diff(DiffArgs),
    /// Rank suspicious records: backdoor triggers, conflicting duplicates, label shift, PII
    #[command(after_help = "Examples:
  lantern data audit train.jsonl --label label --text text
  lantern data audit train.csv --baseline last-release.manifest.json --format sarif -o data.sarif

Rules: data.trigger (high), data.duplicate-label-conflict, data.near-duplicate-label-conflict,
data.label-shift, data.pii.* (medium), data.label-disagreement (low, with --flip-nats),
data.exact-duplicate, data.outlier-* (info), and secret rules from lantern scan.")]
    Audit(AuditArgs),
}

/// How datasets are read.
#[derive(clap::Args, Debug)]
struct ReadArgs {
    /// Force the input format instead of detecting it
    #[arg(long, value_parser = ["csv", "tsv", "jsonl", "parquet", "folder"])]
    input_format: Option<String>,
    /// Largest record parsed, in bytes (default 64 MiB); longer rows are digested as raw
    /// bytes and counted as unreadable
    #[arg(long, value_name = "BYTES")]
    max_record_bytes: Option<usize>,
}

#[derive(clap::Args, Debug)]
struct ManifestArgs {
    /// Dataset file or folder
    path: PathBuf,
    /// Write the manifest to FILE (a summary is printed); default: the manifest on stdout
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,
    /// Column identifying records across versions (stored per record, used by diff)
    #[arg(long, value_name = "COLUMN")]
    key: Option<String>,
    /// Label column whose distribution is recorded
    #[arg(long, value_name = "COLUMN")]
    label: Option<String>,
    /// Leave out the per-record list (root, schema and counts only)
    #[arg(long)]
    no_records: bool,
    #[command(flatten)]
    read: ReadArgs,
    /// Sign the manifest written with -o using this private key (PEM, from `lantern keygen`);
    /// the bundle goes to FILE.sig
    #[arg(long, value_name = "PRIVATE.pem", requires = "output")]
    sign_key: Option<PathBuf>,
    #[command(flatten)]
    password: super::sign::PasswordArgs,
    /// Instead of writing a manifest, check PATH against this signed manifest: signature,
    /// manifest digest and the Merkle root recomputed from the data (exit 1 on mismatch)
    #[arg(long, value_name = "MANIFEST", requires = "pubkey", conflicts_with_all = ["output", "sign_key"])]
    verify: Option<PathBuf>,
    /// Public key (PEM) for --verify
    #[arg(long, value_name = "PUBLIC.pem")]
    pubkey: Option<PathBuf>,
    /// Signature bundle for --verify (default: MANIFEST.sig)
    #[arg(long, value_name = "FILE")]
    signature: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
struct DiffArgs {
    /// Old version: data file or folder, manifest, or REV:PATH (read with git show)
    old: String,
    /// New version: data file or folder, manifest, or REV:PATH
    new: String,
    /// Column identifying records across versions (default: content matching)
    #[arg(long, value_name = "COLUMN")]
    key: Option<String>,
    /// Output format
    #[arg(long, short = 'f', default_value = "human", value_parser = ["human", "json", "sarif"])]
    format: String,
    /// Write the output to FILE instead of stdout
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,
    /// List every change in human output (default: the first 50)
    #[arg(long)]
    list: bool,
    /// Do not attribute changes with git blame
    #[arg(long)]
    no_git: bool,
    #[command(flatten)]
    read: ReadArgs,
}

#[derive(clap::Args, Debug)]
struct AuditArgs {
    /// Dataset file or folder
    path: PathBuf,
    /// Label column (default: label, sentiment, class, category, target, ...)
    #[arg(long, value_name = "COLUMN")]
    label: Option<String>,
    /// Text column(s), comma-separated, concatenated (default: text, sentence, content, ...)
    #[arg(long, value_name = "COLUMN", value_delimiter = ',')]
    text: Vec<String>,
    /// Previous version (data or manifest with --label) for the label-distribution shift test
    #[arg(long, value_name = "PATH")]
    baseline: Option<PathBuf>,
    /// Output format
    #[arg(long, short = 'f', default_value = "human", value_parser = ["human", "json", "sarif"])]
    format: String,
    /// Write the report to FILE instead of stdout
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,
    /// Lowest severity that makes the exit code 1
    #[arg(long, value_name = "SEVERITY", default_value = "medium")]
    fail_on: String,
    /// Only report findings at or above this severity
    #[arg(long, value_name = "SEVERITY", default_value = "info")]
    min_severity: String,
    /// Show at most N findings in human output, most suspicious first (0: all)
    #[arg(long, value_name = "N", default_value_t = 50)]
    top: usize,
    /// Family-wise significance level of the trigger tests (Bonferroni over the pure n-grams,
    /// then over the candidates checked) and of the label-shift test
    #[arg(long, default_value_t = 0.01)]
    alpha: f64,
    /// Longest n-gram tested for triggers (1-3)
    #[arg(long, default_value_t = 3)]
    max_ngram: usize,
    /// Also report records whose label the rest of the data contradicts with posterior odds
    /// above e^X (plain label flips; 0 disables)
    #[arg(long, value_name = "X", default_value_t = 0.0)]
    flip_nats: f64,
    /// Most distinct n-grams counted in memory (the rarest are pruned beyond it, lossy
    /// counting); about 60-110 bytes each at peak, so the default 8,000,000 caps the table
    /// near 0.9 GB whatever the dataset's size
    #[arg(long, value_name = "N", default_value_t = 8_000_000)]
    max_ngrams: usize,
    /// Skip the near-duplicate search (MinHash/LSH)
    #[arg(long)]
    no_near_dup: bool,
    /// Skip personal-data detection
    #[arg(long)]
    no_pii: bool,
    /// Skip secret detection (lantern scan's rules)
    #[arg(long)]
    no_secrets: bool,
    /// Print secrets and personal data in full
    #[arg(long)]
    show_secrets: bool,
    #[command(flatten)]
    read: ReadArgs,
}

/// Run `lantern data`.
pub fn run(args: Args) -> Result<u8> {
    match args.command {
        DataCommand::Manifest(a) => manifest(a),
        DataCommand::Diff(a) => diff(a),
        DataCommand::Audit(a) => audit(a),
    }
}

fn read_options(a: &ReadArgs) -> ReadOptions {
    let kind = a.input_format.as_deref().and_then(|f| match f {
        "csv" => Some(lantern_data::DatasetKind::Csv),
        "tsv" => Some(lantern_data::DatasetKind::Tsv),
        "jsonl" => Some(lantern_data::DatasetKind::Jsonl),
        "parquet" => Some(lantern_data::DatasetKind::Parquet),
        "folder" => Some(lantern_data::DatasetKind::Folder),
        _ => None,
    });
    let d = ReadOptions::default();
    ReadOptions {
        kind,
        max_record_bytes: a.max_record_bytes.unwrap_or(d.max_record_bytes),
        ..d
    }
}

fn emit(text: &str, output: &Option<PathBuf>) -> Result<()> {
    match output {
        Some(p) => std::fs::write(p, text).with_context(|| format!("writing {}", p.display())),
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())
                .context("writing to stdout")?;
            out.flush().context("writing to stdout")
        }
    }
}

fn sig_path(p: &std::path::Path) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(".sig");
    PathBuf::from(s)
}

fn verify_manifest(a: &ManifestArgs, manifest_path: &std::path::Path) -> Result<u8> {
    let pubkey = a.pubkey.as_ref().context("--verify needs --pubkey")?;
    let key = lantern_sign::VerifyingKey::from_file(pubkey)
        .with_context(|| format!("reading {}", pubkey.display()))?;
    let sig = a
        .signature
        .clone()
        .unwrap_or_else(|| sig_path(manifest_path));
    let bundle = lantern_sign::Bundle::from_file(&sig)
        .with_context(|| format!("reading {}", sig.display()))?;
    let v = match lantern_data::sign::verify(manifest_path, &bundle, &key) {
        Ok(v) => v,
        Err(e) => {
            println!("FAILED: {e}");
            return Ok(1);
        }
    };
    // Read the data as the signed manifest says it was read, whatever its name says now.
    let read = read_options(&a.read);
    if read.kind.is_some_and(|k| k != v.kind) {
        anyhow::bail!(
            "--input-format {} does not match the signed manifest, built from {} data",
            a.read.input_format.as_deref().unwrap_or(""),
            v.kind.as_str()
        );
    }
    if a.read
        .max_record_bytes
        .is_some_and(|m| m as u64 != v.max_record_bytes)
    {
        anyhow::bail!(
            "--max-record-bytes does not match the signed manifest's {}",
            v.max_record_bytes
        );
    }
    let opts = ManifestOptions {
        read: lantern_data::ReadOptions {
            kind: Some(v.kind),
            max_record_bytes: usize::try_from(v.max_record_bytes).unwrap_or(usize::MAX),
            ..read
        },
        include_records: false,
        ..ManifestOptions::default()
    };
    let now = manifest::build_manifest(&a.path, &opts)
        .with_context(|| format!("reading {}", a.path.display()))?;
    let same = now.merkle_root == v.merkle_root
        && now.counts.records == v.records
        && now.counts.bad_records == v.bad_records
        && now.counts.header == v.header;
    if !same {
        println!(
            "FAILED: {} does not match the signed manifest: {} record(s), {} unreadable, root {} (signed: {} record(s), {} unreadable, root {})",
            visible(&a.path.display().to_string()),
            now.counts.records,
            now.counts.bad_records,
            now.merkle_root,
            v.records,
            v.bad_records,
            v.merkle_root
        );
        return Ok(1);
    }
    println!(
        "verified: {} matches {} signed by {} ({} record(s), root {})",
        a.path.display(),
        manifest_path.display(),
        pubkey.display(),
        v.records,
        v.merkle_root
    );
    Ok(0)
}

fn manifest(a: ManifestArgs) -> Result<u8> {
    if let Some(m) = &a.verify {
        return verify_manifest(&a, m);
    }
    let opts = ManifestOptions {
        read: read_options(&a.read),
        key: a.key,
        label: a.label,
        include_records: !a.no_records,
    };
    let m = match &a.output {
        Some(p) => {
            let f =
                std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?;
            let mut w = std::io::BufWriter::new(f);
            let m = manifest::write_manifest(&a.path, &opts, &mut w)
                .with_context(|| format!("building the manifest of {}", a.path.display()))?;
            w.flush()
                .with_context(|| format!("writing {}", p.display()))?;
            let mut s = format!(
                "{}: {} record(s), {} unreadable, {} bytes ({})\nmerkle root {}\n",
                m.source,
                m.counts.records,
                m.counts.bad_records,
                m.counts.bytes,
                m.kind.as_str(),
                m.merkle_root
            );
            let cols: Vec<&str> = m.columns.iter().map(|c| c.name.as_str()).collect();
            s.push_str(&format!("columns: {}\n", cols.join(", ")));
            if let Some(l) = &m.label {
                let parts: Vec<String> = l.counts.iter().map(|(k, v)| format!("{k} {v}")).collect();
                s.push_str(&format!("labels ({}): {}\n", l.column, parts.join(", ")));
            }
            s.push_str(&format!("manifest written to {}\n", p.display()));
            if let Some(k) = &a.sign_key {
                let key = a
                    .password
                    .load(k)
                    .with_context(|| format!("reading {}", k.display()))?;
                let bundle = lantern_data::sign::sign(p, &key)
                    .with_context(|| format!("signing {}", p.display()))?;
                let sp = sig_path(p);
                bundle
                    .write(&sp)
                    .with_context(|| format!("writing {}", sp.display()))?;
                s.push_str(&format!("signature written to {}\n", sp.display()));
            }
            emit(&s, &None)?;
            m
        }
        None => {
            let stdout = std::io::stdout();
            let mut w = std::io::BufWriter::new(stdout.lock());
            let m = manifest::write_manifest(&a.path, &opts, &mut w)
                .with_context(|| format!("building the manifest of {}", a.path.display()))?;
            w.flush().context("writing to stdout")?;
            m
        }
    };
    for b in m.counts.bad_rows.iter().take(20) {
        eprintln!(
            "lantern: warning: {}: line {}: {}",
            m.source, b.line, b.message
        );
    }
    if m.counts.bad_records > 20 {
        eprintln!(
            "lantern: warning: {}: {} unreadable row(s) in all (listed in the manifest)",
            m.source, m.counts.bad_records
        );
    }
    Ok(0)
}

fn diff(a: DiffArgs) -> Result<u8> {
    let opts = DiffOptions {
        read: read_options(&a.read),
        key: a.key,
        git: !a.no_git,
    };
    let r = lantern_data::diff(&a.old, &a.new, &opts)
        .with_context(|| format!("comparing {} and {}", a.old, a.new))?;
    let text = match a.format.as_str() {
        "json" => {
            let mut s = serde_json::to_string_pretty(&r).context("serialising the diff")?;
            s.push('\n');
            s
        }
        "sarif" => output::render(&r.to_report(), Format::Sarif, RenderOptions::default()),
        _ => {
            let mut s = String::new();
            s.push_str(&format!(
                "old {}: {} record(s), root {}\nnew {}: {} record(s), root {}\n",
                r.old.source,
                r.old.records,
                short(&r.old.merkle_root),
                r.new.source,
                r.new.records,
                short(&r.new.merkle_root)
            ));
            let limit = if a.list { usize::MAX } else { 50 };
            for c in r.changes.iter().take(limit) {
                let (sign, line) = match c.kind {
                    ChangeKind::Added => ("+", format!("new line {}", c.new_line.unwrap_or(0))),
                    ChangeKind::Removed => ("-", format!("old line {}", c.old_line.unwrap_or(0))),
                    ChangeKind::Changed => (
                        "~",
                        format!(
                            "line {} -> {}",
                            c.old_line.unwrap_or(0),
                            c.new_line.unwrap_or(0)
                        ),
                    ),
                };
                s.push_str(&format!("  {sign} {line}"));
                if let Some(k) = &c.key {
                    s.push_str(&format!("  key {}", visible(k)));
                }
                if let Some(f) = &c.file {
                    s.push_str(&format!("  {}", visible(f)));
                }
                if let Some(u) = &c.unreadable {
                    s.push_str(&format!("  unreadable row ({})", visible(u)));
                }
                if !c.fields.is_empty() && c.values.is_empty() {
                    s.push_str(&format!("  fields: {}", c.fields.join(", ")));
                }
                if let Some(cm) = &c.commit {
                    s.push_str(&format!(
                        "  @ {} {} {}",
                        cm.id.get(..12).unwrap_or(&cm.id),
                        cm.author,
                        cm.date
                    ));
                }
                s.push('\n');
                // One line per changed field: `field: old → new`, each value cut to the width
                // (the JSON output keeps them whole).
                for v in &c.values {
                    s.push_str(&format!(
                        "      {}\n",
                        v.display(lantern_data::diff::DETAIL_WIDTH)
                    ));
                }
            }
            if r.changes.len() > limit {
                s.push_str(&format!(
                    "  ... {} more (use --list)\n",
                    r.changes.len() - limit
                ));
            }
            for w in &r.warnings {
                s.push_str(&format!("warning: {w}\n"));
            }
            s.push_str(&format!(
                "{} added, {} removed, {} changed, {} unchanged (matched by {})\n",
                r.added, r.removed, r.changed, r.unchanged, r.matched_by
            ));
            s
        }
    };
    emit(&text, &a.output)?;
    Ok(u8::from(!r.is_identical()))
}

/// Text for a terminal: control, invisible and (in Latin text) look-alike characters escaped.
fn visible(s: &str) -> String {
    lantern_data::show::visible(s, lantern_data::show::has_latin(s))
}

fn short(h: &str) -> &str {
    h.get(..16).unwrap_or(h)
}

fn secret_detector() -> Result<Arc<lantern_data::audit::SecretDetector>> {
    let rules = lantern_secrets::RuleSet::builtin().context("loading the bundled secret rules")?;
    let scanner =
        lantern_secrets::Scanner::new(rules, &[]).context("building the secret scanner")?;
    let loc = Location::path("");
    Ok(Arc::new(move |text: &str| {
        scanner
            .scan(text.as_bytes(), &loc)
            .findings
            .into_iter()
            .map(|f| (f.rule_id, f.title, f.secret.unwrap_or_default(), f.severity))
            .collect()
    }))
}

fn audit(a: AuditArgs) -> Result<u8> {
    let fail_on: Severity = a.fail_on.parse().context("--fail-on")?;
    let min: Severity = a.min_severity.parse().context("--min-severity")?;
    let format: Format = a.format.parse().context("--format")?;
    let opts = AuditOptions {
        read: read_options(&a.read),
        label: a.label,
        text: a.text,
        baseline: a.baseline,
        max_ngram: a.max_ngram,
        max_ngrams: a.max_ngrams,
        alpha: a.alpha,
        near_duplicates: !a.no_near_dup,
        disagreement_nats: a.flip_nats,
        pii: !a.no_pii,
        secrets: if a.no_secrets {
            None
        } else {
            Some(secret_detector()?)
        },
        ..AuditOptions::default()
    };
    let started = std::time::Instant::now();
    let res = lantern_data::audit(&a.path, &opts)
        .with_context(|| format!("auditing {}", a.path.display()))?;
    let mut report = res.report;
    report.stats.elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    report.findings.retain(|f| f.severity >= min);
    let fails = report.fails(fail_on);
    let color = a.output.is_none() && format == Format::Human && std::io::stdout().is_terminal();
    let ropts = RenderOptions {
        show_secrets: a.show_secrets,
        color,
    };
    let s = &res.summary;
    let text = match format {
        Format::Json => {
            let mut v = output::json_value(&report, ropts);
            v["summary"] = serde_json::to_value(s).context("serialising the summary")?;
            let mut t = serde_json::to_string_pretty(&v).context("serialising the report")?;
            t.push('\n');
            t
        }
        Format::Sarif => output::render(&report, Format::Sarif, ropts),
        Format::Human => {
            let mut head = format!(
                "{}: {} record(s), {} unreadable; text column(s) {}; label column {}\n",
                a.path.display(),
                s.records,
                s.bad_records,
                if s.text_columns.is_empty() {
                    "none".to_string()
                } else {
                    s.text_columns.join(", ")
                },
                s.label_column.as_deref().unwrap_or("none")
            );
            if !s.labels.is_empty() {
                let parts: Vec<String> = s.labels.iter().map(|(k, v)| format!("{k} {v}")).collect();
                head.push_str(&format!("labels: {}\n", parts.join(", ")));
            }
            let triggers: Vec<String> = s
                .candidates
                .iter()
                .filter(|c| c.trigger)
                .map(|c| {
                    format!(
                        "  \"{}\" -> {} ({} rows, purity {:.2}, AUC {:.2}/{:.2})",
                        c.ngram, c.label, c.support, c.purity, c.auc, c.auc_other
                    )
                })
                .collect();
            if !triggers.is_empty() {
                head.push_str(&format!(
                    "trigger n-grams ({}):\n{}\n",
                    triggers.len(),
                    triggers.join("\n")
                ));
            }
            head.push('\n');
            let shown = if a.top == 0 || report.findings.len() <= a.top {
                report.clone()
            } else {
                let mut r = Report::new();
                r.findings = report.findings.iter().take(a.top).cloned().collect();
                r.warnings = report.warnings.clone();
                r.stats = report.stats.clone();
                head.push_str(&format!(
                    "showing the {} most suspicious of {} finding(s) (--top 0 for all)\n\n",
                    a.top,
                    report.findings.len()
                ));
                r
            };
            head.push_str(&output::human(&shown, ropts));
            head
        }
    };
    emit(&text, &a.output)?;
    Ok(u8::from(fails))
}
