//! `lantern bom PATH` (CycloneDX 1.6 / SPDX 2.3 AI bill of materials) and `lantern bom diff OLD NEW`.
//! Argument parsing and output only; inventory, rendering and diff are in `lantern-bom`.

use anyhow::{bail, Context, Result};
use lantern_bom::component::{Component, Kind};
use lantern_bom::{cyclonedx, spdx, Annotator, Stamp};
use lantern_core::{Location, Severity};
use std::path::{Path, PathBuf};

/// Arguments of `lantern bom`.
#[derive(clap::Args)]
#[command(
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true,
    after_help = "Examples:
  lantern bom .                                    CycloneDX 1.6 JSON on stdout
  lantern bom . --deterministic -o bom.cdx.json    reproducible file to commit (honours SOURCE_DATE_EPOCH)
  lantern bom . --format spdx-json -o bom.spdx.json
  lantern bom . --with-scan --with-signatures --trust-key signing.pub
  lantern bom diff old.cdx.json new.cdx.json --format json

Exit codes: 0 BOM written (or no differences), 1 differences found (diff), 2 error."
)]
pub struct Args {
    #[command(subcommand)]
    command: Option<BomCommand>,
    /// Project directory (or a single file) to inventory
    #[arg(value_name = "PATH", required = true)]
    path: Option<PathBuf>,
    /// Output format
    #[arg(long, value_enum, default_value = "cyclonedx-json")]
    format: BomFormat,
    /// Write the BOM to FILE instead of stdout
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,
    /// Reproducible output: serial number derived from the content, timestamp from
    /// SOURCE_DATE_EPOCH (or none), so BOMs diff cleanly in git
    #[arg(long)]
    deterministic: bool,
    /// Scan local model files for unsafe serialized code and record findings as component properties
    #[arg(long)]
    with_scan: bool,
    /// Record the signature status of local models (bundle `<model>.sig` or `<model>/model.sig`)
    #[arg(long)]
    with_signatures: bool,
    /// Public key (PEM) to verify signatures with; without it bundles are reported as unverified
    #[arg(long, value_name = "FILE", requires = "with_signatures")]
    trust_key: Option<PathBuf>,
    /// Do not print warnings about unreadable or malformed inputs
    #[arg(long, short = 'q')]
    quiet: bool,
}

#[derive(clap::Subcommand)]
enum BomCommand {
    /// Components added, removed or changed (version, hash, licence) between two CycloneDX BOMs
    Diff(DiffArgs),
}

#[derive(clap::Args)]
struct DiffArgs {
    /// The older CycloneDX JSON document
    old: PathBuf,
    /// The newer CycloneDX JSON document
    new: PathBuf,
    /// Output format
    #[arg(long, value_enum, default_value = "human")]
    format: DiffFormat,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum BomFormat {
    /// CycloneDX 1.6 JSON
    CyclonedxJson,
    /// SPDX 2.3 JSON
    SpdxJson,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum DiffFormat {
    /// One line per component
    Human,
    /// JSON object with added, removed and changed
    Json,
}

/// Entry point of `lantern bom`.
pub fn run(a: Args) -> Result<u8> {
    match a.command {
        Some(BomCommand::Diff(d)) => diff(d),
        None => generate(a),
    }
}

fn source_date_epoch() -> Result<Option<i64>> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(s) if !s.trim().is_empty() => s
            .trim()
            .parse()
            .map(Some)
            .with_context(|| format!("SOURCE_DATE_EPOCH is not an integer: {s:?}")),
        _ => Ok(None),
    }
}

fn generate(a: Args) -> Result<u8> {
    let Some(path) = a.path else {
        bail!("a PATH to inventory is required");
    };
    let scanner = a.with_scan.then(ScanAnnotator::default);
    let signer = if a.with_signatures {
        let key = match &a.trust_key {
            Some(k) => Some(
                lantern_sign::VerifyingKey::from_file(k)
                    .with_context(|| format!("reading trust key {}", k.display()))?,
            ),
            None => None,
        };
        Some(SignatureAnnotator { key })
    } else {
        None
    };
    let both = Both {
        scan: scanner.as_ref(),
        sig: signer.as_ref(),
    };
    let hook: Option<&dyn Annotator> =
        (a.with_scan || a.with_signatures).then_some(&both as &dyn Annotator);
    let (inv, warnings) = lantern_bom::generate(&path, hook)
        .with_context(|| format!("inventorying {}", path.display()))?;
    if !a.quiet {
        for w in &warnings {
            eprintln!(
                "lantern: warning: {}: {}",
                lantern_core::term::escape(&w.path),
                lantern_core::term::escape(&w.message)
            );
        }
    }
    let epoch = source_date_epoch()?;
    let text = match a.format {
        BomFormat::CyclonedxJson => {
            let stamp = if a.deterministic {
                Stamp::deterministic(epoch)
            } else {
                Stamp::now()
            };
            cyclonedx::to_json(&inv, &stamp)
        }
        BomFormat::SpdxJson => {
            let det = cyclonedx::to_json(&inv, &Stamp::deterministic(None));
            let (created, ns) = if a.deterministic {
                let ts = Stamp::deterministic(Some(epoch.unwrap_or(0)))
                    .timestamp
                    .unwrap_or_else(|| "1970-01-01T00:00:00Z".into());
                (ts, cyclonedx::content_serial(det.as_bytes()))
            } else {
                let s = Stamp::now();
                (
                    s.timestamp.unwrap_or_else(|| "1970-01-01T00:00:00Z".into()),
                    s.serial.unwrap_or_else(cyclonedx::random_serial),
                )
            };
            spdx::to_json(&inv, &created, ns.trim_start_matches("urn:uuid:"))
        }
    };
    match &a.output {
        Some(out) => {
            std::fs::write(out, format!("{text}\n"))
                .with_context(|| format!("writing {}", out.display()))?;
            if !a.quiet {
                eprintln!(
                    "lantern: wrote {} ({} models, {} datasets, {} libraries)",
                    lantern_core::term::escape_path(out),
                    inv.count(Kind::Model),
                    inv.count(Kind::Data),
                    inv.count(Kind::Library)
                );
            }
        }
        None => println!("{text}"),
    }
    Ok(0)
}

fn diff(d: DiffArgs) -> Result<u8> {
    let read =
        |p: &Path| std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()));
    let (old, new) = (read(&d.old)?, read(&d.new)?);
    let result = lantern_bom::diff_json(
        &d.old.display().to_string(),
        &old,
        &d.new.display().to_string(),
        &new,
    )?;
    match d.format {
        DiffFormat::Human => print!("{}", result.to_human()),
        DiffFormat::Json => println!("{}", serde_json::to_string_pretty(&result)?),
    }
    Ok(if result.is_empty() { 0 } else { 1 })
}

/// Files of a local model component to scan or verify: the file itself, or the weight files of
/// a model directory.
fn model_files(c: &Component, path: &Path) -> Vec<(PathBuf, String)> {
    let display = c.property("lantern:path").unwrap_or(&c.name).to_string();
    if path.is_file() {
        return vec![(path.to_path_buf(), display)];
    }
    c.children
        .iter()
        .filter(|f| {
            f.property("lantern:format").is_some()
                || f.name.ends_with(".bin")
                || f.name.ends_with(".pkl")
        })
        .map(|f| (path.join(&f.name), format!("{display}{}", f.name)))
        .collect()
}

/// Runs the model scanner on local model components.
#[derive(Default)]
pub(crate) struct ScanAnnotator {
    policy: lantern_models::Policy,
}

impl Annotator for ScanAnnotator {
    fn annotate(&self, c: &Component, path: &Path) -> Vec<(String, String)> {
        if c.kind != Kind::Model {
            return Vec::new();
        }
        let mut props = Vec::new();
        let mut max: Option<Severity> = None;
        let mut count = 0usize;
        for (file, display) in model_files(c, path) {
            let report = lantern_models::scan_path(&file, &Location::path(&display), &self.policy);
            for f in &report.findings {
                count += 1;
                max = max.max(Some(f.severity));
                let mut v = format!("{} {} {}", f.severity, f.rule_id, display);
                if let Some(d) = &f.detail {
                    v.push_str(&format!(": {d}"));
                }
                props.push(("lantern:scan:finding".to_string(), v));
            }
            for w in &report.warnings {
                props.push((
                    "lantern:scan:warning".to_string(),
                    format!("{}: {}", w.path, w.message),
                ));
            }
        }
        props.push(("lantern:scan:findings".into(), count.to_string()));
        if let Some(m) = max {
            props.push(("lantern:scan:max-severity".into(), m.to_string()));
        }
        props
    }
}

/// Looks for an OpenSSF Model Signing bundle next to or inside each local model and verifies it
/// when a trust key is given.
pub(crate) struct SignatureAnnotator {
    pub(crate) key: Option<lantern_sign::VerifyingKey>,
}

impl Annotator for SignatureAnnotator {
    fn annotate(&self, c: &Component, path: &Path) -> Vec<(String, String)> {
        if c.kind != Kind::Model {
            return Vec::new();
        }
        let mut sibling = path.as_os_str().to_owned();
        sibling.push(".sig");
        let mut candidates = vec![PathBuf::from(sibling)];
        if path.is_dir() {
            candidates.push(path.join("model.sig"));
        }
        let Some(bundle) = candidates.into_iter().find(|p| p.is_file()) else {
            return vec![("lantern:signature".into(), "absent".into())];
        };
        let name = bundle
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut props = vec![("lantern:signature:bundle".to_string(), name.clone())];
        let Some(key) = &self.key else {
            props.push(("lantern:signature".into(), "unverified".into()));
            return props;
        };
        let opts = lantern_sign::VerifyOptions {
            ignore_paths: if path.is_dir() {
                vec![name]
            } else {
                Vec::new()
            },
            ..Default::default()
        };
        match lantern_sign::oms::verify_model(path, &bundle, &lantern_sign::Trust::Key(key), &opts)
        {
            Ok(v) if v.diff.is_empty() => {
                props.push(("lantern:signature".into(), "verified".into()))
            }
            Ok(v) => {
                props.push(("lantern:signature".into(), "failed".into()));
                let mut why: Vec<String> = Vec::new();
                why.extend(v.diff.changed.iter().map(|f| format!("changed {f}")));
                why.extend(v.diff.missing.iter().map(|f| format!("missing {f}")));
                why.extend(v.diff.added.iter().map(|f| format!("unsigned {f}")));
                props.push(("lantern:signature:detail".into(), why.join(", ")));
            }
            Err(e) => {
                props.push(("lantern:signature".into(), "failed".into()));
                props.push(("lantern:signature:detail".into(), e.to_string()));
            }
        }
        props
    }
}

pub(crate) struct Both<'a> {
    pub(crate) scan: Option<&'a ScanAnnotator>,
    pub(crate) sig: Option<&'a SignatureAnnotator>,
}

impl Annotator for Both<'_> {
    fn annotate(&self, c: &Component, path: &Path) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if let Some(s) = self.scan {
            out.extend(s.annotate(c, path));
        }
        if let Some(s) = self.sig {
            out.extend(s.annotate(c, path));
        }
        out
    }
}
