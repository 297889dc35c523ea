//! `lantern check [PATH]`: gate the project's libraries, models and datasets against the
//! `[policy]` of lantern.toml (argument parsing and wiring; the checks are in `lantern-check`),
//! and `lantern osv update DIR`: fetch the OSV exports `check --osv-db` reads.

use super::bom::{Both, ScanAnnotator, SignatureAnnotator};
use anyhow::{bail, Context, Result};
use lantern_check::{osv, render, subject, Policy};
use lantern_core::Severity;
use std::path::{Path, PathBuf};

/// Arguments of `lantern check`.
#[derive(clap::Args)]
#[command(after_help = "Examples:
  lantern check .                                   inventory the project and apply ./lantern.toml [policy]
  lantern check . --osv-db ~/.cache/osv --fail-on medium
  lantern check --bom bom.cdx.json --osv-db osv/ --format sarif -o check.sarif
  lantern check . --osv-db osv/ --bom-out bom-with-vex.cdx.json

Exit codes: 0 no finding at or above --fail-on, 1 findings, 2 error.")]
pub struct Args {
    /// Project directory (default: the current directory)
    #[arg(value_name = "PATH")]
    path: Option<PathBuf>,
    /// Policy file with a [policy] section (default: PATH/lantern.toml when present)
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// Check this CycloneDX JSON BOM instead of inventorying PATH (code checks still run on PATH
    /// when PATH is given)
    #[arg(long, value_name = "FILE")]
    bom: Option<PathBuf>,
    /// Offline OSV database: a directory of OSV all.zip exports and/or OSV JSON records
    #[arg(long, value_name = "DIR")]
    osv_db: Option<PathBuf>,
    /// Where to keep the OSV index (default: inside --osv-db, else the user cache directory)
    #[arg(long, value_name = "DIR")]
    osv_cache: Option<PathBuf>,
    /// Output format: human, json or sarif
    #[arg(long, default_value = "human")]
    format: String,
    /// Write the report to FILE instead of stdout
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,
    /// Exit 1 when a finding is at or above this severity (default: policy fail_on, else high)
    #[arg(long, value_name = "SEV")]
    fail_on: Option<String>,
    /// Public key (PEM) that local model signatures must verify with (require_signature)
    #[arg(long, value_name = "FILE")]
    trust_key: Option<PathBuf>,
    /// Write a CycloneDX 1.6 BOM with the vulnerabilities found (VEX) to FILE
    #[arg(long, value_name = "FILE")]
    bom_out: Option<PathBuf>,
}

/// Arguments of `lantern osv`.
#[derive(clap::Args)]
pub struct OsvArgs {
    #[command(subcommand)]
    command: OsvCommand,
}

#[derive(clap::Subcommand)]
enum OsvCommand {
    /// Download OSV per-ecosystem exports (all.zip) into DIR for `check --osv-db DIR`
    Update(UpdateArgs),
}

#[derive(clap::Args)]
struct UpdateArgs {
    /// Directory to write <Ecosystem>/all.zip into
    dir: PathBuf,
    /// Ecosystems to fetch
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "PyPI,npm,crates.io,Go,Maven"
    )]
    ecosystems: Vec<String>,
}

/// Entry point of `lantern check`.
pub fn run(a: Args) -> Result<u8> {
    let root = a.path.clone().unwrap_or_else(|| PathBuf::from("."));
    let policy = load_policy(&a, &root)?;
    let fail_on: Severity = match &a.fail_on {
        Some(s) => s.parse()?,
        None => policy.fail_on.unwrap_or(Severity::High),
    };
    let (subjects, inventory) = subjects(&a, &root, &policy)?;
    let db = match &a.osv_db {
        Some(dir) => Some(
            osv::Database::open(dir, a.osv_cache.as_deref())
                .with_context(|| format!("opening OSV database {}", dir.display()))?,
        ),
        None => None,
    };
    let code_root = (a.bom.is_none() || a.path.is_some()).then_some(root.as_path());
    let opts = lantern_check::Options {
        root: code_root,
        osv: db.as_ref(),
        policy: &policy,
        today: time::OffsetDateTime::now_utc().date(),
    };
    let mut outcome = lantern_check::check(&subjects, &opts)?;
    if let Some(db) = &db {
        for (src, why) in db.skipped() {
            outcome
                .warnings
                .push(format!("OSV record {src} skipped: {why}"));
        }
    }
    if let Some(out) = &a.bom_out {
        write_bom_out(out, inventory.as_ref(), &a, &outcome)?;
    }
    let text = match a.format.as_str() {
        "human" | "text" => render::human(&outcome),
        "json" => render::json(&outcome),
        "sarif" => render::sarif(&outcome),
        o => bail!("unknown format `{o}` (expected human, json or sarif)"),
    };
    match &a.output {
        Some(p) => std::fs::write(p, text).with_context(|| format!("writing {}", p.display()))?,
        None => print!("{text}"),
    }
    Ok(u8::from(outcome.fails(fail_on)))
}

fn load_policy(a: &Args, root: &Path) -> Result<Policy> {
    match &a.policy {
        Some(p) => Ok(Policy::load(p)?),
        None => {
            let default = root.join("lantern.toml");
            if root.is_dir() && default.is_file() {
                Ok(Policy::load(&default)?)
            } else {
                Ok(Policy::default())
            }
        }
    }
}

type Subjects = (Vec<lantern_check::Subject>, Option<lantern_bom::Inventory>);

fn subjects(a: &Args, root: &Path, policy: &Policy) -> Result<Subjects> {
    if let Some(bom) = &a.bom {
        let text =
            std::fs::read_to_string(bom).with_context(|| format!("reading {}", bom.display()))?;
        let doc: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("{}: invalid JSON", bom.display()))?;
        let s =
            subject::from_cyclonedx(&doc).map_err(|e| anyhow::anyhow!("{}: {e}", bom.display()))?;
        return Ok((s, None));
    }
    let scan = policy.require_scan.then(ScanAnnotator::default);
    let sig = match (policy.require_signature, &a.trust_key) {
        (false, _) => None,
        (true, Some(k)) => Some(SignatureAnnotator {
            key: Some(
                lantern_sign::VerifyingKey::from_file(k)
                    .with_context(|| format!("reading trust key {}", k.display()))?,
            ),
        }),
        (true, None) => Some(SignatureAnnotator { key: None }),
    };
    let both = Both {
        scan: scan.as_ref(),
        sig: sig.as_ref(),
    };
    let hook = (scan.is_some() || sig.is_some()).then_some(&both as &dyn lantern_bom::Annotator);
    let (inv, warnings) = lantern_bom::generate(root, hook)
        .with_context(|| format!("inventorying {}", root.display()))?;
    for w in &warnings {
        eprintln!(
            "lantern: warning: {}: {}",
            lantern_core::term::escape(&w.path),
            lantern_core::term::escape(&w.message)
        );
    }
    let mut s = subject::from_inventory(&inv);
    if policy.require_manifest {
        annotate_manifests(&mut s);
    }
    Ok((s, Some(inv)))
}

/// Record `lantern:manifest` (absent, match, mismatch, unreadable) on local datasets: the
/// manifest is `<name>.manifest.json` next to the data file or folder (as `lantern data
/// manifest -o` is documented), and its Merkle root is recomputed from the data.
fn annotate_manifests(subjects: &mut [lantern_check::Subject]) {
    for s in subjects.iter_mut() {
        let Some(path) = s.local_path.clone() else {
            continue;
        };
        if s.kind != lantern_check::subject::SubjectKind::Data {
            continue;
        }
        let state = manifest_state(&path);
        s.properties.push(("lantern:manifest".into(), state));
    }
}

fn manifest_state(path: &Path) -> String {
    let Some(stem) = path.file_stem().map(|n| n.to_string_lossy().into_owned()) else {
        return "absent".into();
    };
    let candidate = path.with_file_name(format!("{stem}.manifest.json"));
    if !candidate.is_file() {
        return format!("absent (expected {})", candidate.display());
    }
    let m = match lantern_data::manifest::Manifest::load(&candidate) {
        Ok(m) => m,
        Err(e) => return format!("unreadable: {e}"),
    };
    let opts = lantern_data::manifest::ManifestOptions {
        key: m.key.clone(),
        include_records: false,
        ..Default::default()
    };
    match lantern_data::manifest::build_manifest(path, &opts) {
        Ok(now) if now.merkle_root == m.merkle_root => "match".into(),
        Ok(_) => format!(
            "mismatch ({} no longer matches the data)",
            candidate.display()
        ),
        Err(e) => format!("unreadable: {e}"),
    }
}

fn write_bom_out(
    out: &Path,
    inv: Option<&lantern_bom::Inventory>,
    a: &Args,
    outcome: &lantern_check::Outcome,
) -> Result<()> {
    let base = match (inv, &a.bom) {
        (Some(inv), _) => lantern_bom::cyclonedx::to_json(inv, &lantern_bom::Stamp::now()),
        (None, Some(b)) => std::fs::read_to_string(b)?,
        (None, None) => bail!("--bom-out needs an inventory or --bom"),
    };
    let mut doc: serde_json::Value = serde_json::from_str(&base)?;
    lantern_check::vex::fill(&mut doc, outcome);
    let mut text = serde_json::to_string_pretty(&doc)?;
    text.push('\n');
    std::fs::write(out, text).with_context(|| format!("writing {}", out.display()))
}

/// Entry point of `lantern osv`.
pub fn osv(a: OsvArgs) -> Result<u8> {
    match a.command {
        OsvCommand::Update(u) => {
            for eco in &u.ecosystems {
                let dest = u.dir.join(eco).join("all.zip");
                let n = lantern_check::osv::update::download(eco, &dest)
                    .with_context(|| format!("downloading the OSV {eco} export"))?;
                eprintln!(
                    "lantern: {} ({n} bytes)",
                    lantern_core::term::escape_path(&dest)
                );
            }
            Ok(0)
        }
    }
}
