//! `lantern keygen|sign|verify|attest`: OpenSSF Model Signing and signed SLSA provenance.
//! Argument parsing, progress and output only; the work is in `lantern-sign`.

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use lantern_core::term::{escape, escape_path};
use lantern_sign::cert::{chain_der, signing_certificate_der, TrustStore};
use lantern_sign::manifest::{diff, Plan, DEFAULT_SHARD_SIZE};
use lantern_sign::oms::{
    prepare_verification, relative_to_model, sign_manifest, sign_payload, Trust, VerifyOptions,
};
use lantern_sign::provenance::{self, InputRole, RunInfo};
use lantern_sign::{
    bundle::Material, Error, HashAlgo, HashOptions, IoMode, KeyKind, ManifestDiff, Method,
    SigningKey, VerifyingKey,
};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Arguments of `lantern keygen`.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  lantern keygen --out signing              writes signing.pem (mode 0600) and signing.pub
  lantern keygen --type ed25519 --out ci")]
pub struct KeygenArgs {
    /// Key type: p256 (ECDSA P-256, interoperable with model_signing), p384, ed25519 (Lantern only)
    #[arg(long = "type", default_value = "p256", value_name = "TYPE")]
    pub kind: String,
    /// Output prefix: writes PREFIX.pem (private, 0600) and PREFIX.pub (public)
    #[arg(
        long,
        short = 'o',
        default_value = "lantern-signing",
        value_name = "PREFIX"
    )]
    pub out: PathBuf,
    /// Overwrite existing key files
    #[arg(long)]
    pub force: bool,
    /// Write the private key encrypted (PKCS#8, scrypt + AES-256-CBC) with the password from
    /// LANTERN_KEY_PASSWORD or --password-file
    #[arg(long)]
    pub encrypt: bool,
    #[command(flatten)]
    pub password: PasswordArgs,
}

/// Where the password of an encrypted private key comes from.
#[derive(clap::Args, Debug)]
pub struct PasswordArgs {
    /// File holding the private key's password (one trailing newline is dropped); otherwise the
    /// LANTERN_KEY_PASSWORD environment variable is used. Never on the command line, where other
    /// users could read it in the process list
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
}

/// Environment variable holding the private key's password.
const PASSWORD_ENV: &str = "LANTERN_KEY_PASSWORD";

impl PasswordArgs {
    /// The password, if one was given.
    fn get(&self) -> Result<Option<Vec<u8>>> {
        if let Some(f) = &self.password_file {
            let meta = std::fs::metadata(f)
                .with_context(|| format!("reading password file {}", f.display()))?;
            if meta.len() > 64 * 1024 {
                bail!("password file {} is over 64 KiB", f.display());
            }
            let mut pw = std::fs::read(f)
                .with_context(|| format!("reading password file {}", f.display()))?;
            if pw.last() == Some(&b'\n') {
                pw.pop();
                if pw.last() == Some(&b'\r') {
                    pw.pop();
                }
            }
            return Ok(Some(pw));
        }
        Ok(std::env::var_os(PASSWORD_ENV).map(|v| v.into_encoded_bytes()))
    }

    /// Reads a private key, decrypting it when it is encrypted.
    pub(crate) fn load(&self, key: &Path) -> Result<SigningKey> {
        Ok(SigningKey::from_file_with_password(
            key,
            self.get()?.as_deref(),
        )?)
    }
}

/// Hashing settings shared by `sign` and `verify`.
#[derive(clap::Args, Debug)]
pub struct PathArgs {
    /// Paths to leave out (relative to the current directory, as in model_signing); repeatable
    #[arg(long = "ignore-paths", value_name = "PATH")]
    pub ignore_paths: Vec<PathBuf>,
    /// Include .git, .gitattributes, .github and .gitignore (ignored by default)
    #[arg(long)]
    pub no_ignore_git_paths: bool,
    /// Hash the targets of symlinks (which must stay inside the model) instead of failing on them
    #[arg(long)]
    pub allow_symlinks: bool,
    /// Worker threads for hashing (default: one per core)
    #[arg(long, short = 'j', value_name = "N")]
    pub jobs: Option<usize>,
    /// Read files instead of memory-mapping them (slower; for filesystems where mapping fails)
    #[arg(long)]
    pub no_mmap: bool,
    /// Hash one file per thread at a time (by default each thread hashes two SHA-256 streams
    /// interleaved when the CPU has SHA-NI, nearly doubling its speed); for comparisons
    #[arg(long)]
    pub no_interleave: bool,
    /// No progress bar
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

/// Arguments of `lantern sign`.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  lantern sign ./model --key signing.pem                       writes model.sig
  lantern sign ./model --key signing.pem --signature model.sig --ignore-paths model/README.md
  lantern sign big.gguf --key k.pem --shard-size 1000000000    hash one huge file in parallel shards
  lantern sign ./model --key k.pem --certificate leaf.pem --certificate-chain ca.pem")]
pub struct SignArgs {
    /// Model directory or file
    pub model: PathBuf,
    /// Private key (PEM: PKCS#8, encrypted PKCS#8 or SEC1; ECDSA P-256/P-384 or Ed25519)
    #[arg(long, value_name = "PEM")]
    pub key: PathBuf,
    #[command(flatten)]
    pub password: PasswordArgs,
    /// Where to write the signature bundle (ignored when hashing)
    #[arg(long, default_value = "model.sig", value_name = "FILE")]
    pub signature: PathBuf,
    /// Use the "shards" serialization with this many bytes per shard (parallel within large files;
    /// `model_signing verify` CLI only checks the default "files" serialization)
    #[arg(long, value_name = "BYTES")]
    pub shard_size: Option<u64>,
    /// Use the "shards" serialization with model_signing's default 1 GB shards
    #[arg(long, conflicts_with = "shard_size")]
    pub shards: bool,
    /// Content hash: sha256 (default), blake2b, blake3
    #[arg(long, default_value = "sha256", value_name = "ALGO")]
    pub hash: String,
    /// Signing certificate (PEM) for certificate-based signing; must carry the key's public half
    #[arg(long, value_name = "PEM")]
    pub certificate: Option<PathBuf>,
    /// Rest of the certificate chain to embed (PEM, repeatable); with --certificate
    #[arg(
        long = "certificate-chain",
        value_name = "PEM",
        requires = "certificate"
    )]
    pub certificate_chain: Vec<PathBuf>,
    #[command(flatten)]
    pub paths: PathArgs,
}

/// Arguments of `lantern verify`.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Exit codes: 0 verified, 1 not verified (changed, added or missing files, bad signature,
wrong key, rejected certificate chain, unlisted inputs), 2 error (unreadable or malformed input).
Examples:
  lantern verify ./model --signature model.sig --key signing.pub
  lantern verify ./model --signature model.sig --certificate-chain ca.pem
  lantern verify ./model --provenance run.intoto.sig --key signing.pub --input data/train.jsonl"
)]
pub struct VerifyArgs {
    /// Model directory or file
    pub model: PathBuf,
    /// Signature bundle to check
    #[arg(long, value_name = "FILE", required_unless_present = "provenance")]
    pub signature: Option<PathBuf>,
    /// Public key (PEM) the signature must verify with
    #[arg(
        long,
        value_name = "PEM",
        required_unless_present = "certificate_chain"
    )]
    pub key: Option<PathBuf>,
    /// Trusted CA certificates (PEM, repeatable) for certificate-signed bundles
    #[arg(long = "certificate-chain", value_name = "PEM", conflicts_with = "key")]
    pub certificate_chain: Vec<PathBuf>,
    /// Check a signed provenance statement (from `lantern attest`) instead of a model signature
    #[arg(long, value_name = "FILE", conflicts_with = "signature")]
    pub provenance: Option<PathBuf>,
    /// With --provenance: input files (datasets, base models, configs) that must be listed in it
    #[arg(long = "input", value_name = "PATH", requires = "provenance")]
    pub inputs: Vec<PathBuf>,
    /// Only check the files the signature covers; do not report extra files
    #[arg(long)]
    pub ignore_unsigned_files: bool,
    /// Output format
    #[arg(long, short = 'f', default_value = "human", value_parser = ["human", "json"])]
    pub format: String,
    #[command(flatten)]
    pub paths: PathArgs,
}

/// Arguments of `lantern attest`.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  lantern attest ./finetuned --key k.pem --dataset data/manifest.json --base-model ./llama \\
      --config train.yaml --code-commit $(git rev-parse HEAD) --code-repo https://github.com/org/train \\
      --out finetuned.intoto.sig
  lantern verify ./finetuned --provenance finetuned.intoto.sig --key k.pub --input train.yaml")]
pub struct AttestArgs {
    /// Output model directory or file (the statement's subjects)
    pub model: PathBuf,
    /// Private key (PEM; encrypted PKCS#8 too)
    #[arg(long, value_name = "PEM")]
    pub key: PathBuf,
    #[command(flatten)]
    pub password: PasswordArgs,
    /// Where to write the signed statement bundle
    #[arg(
        long,
        short = 'o',
        default_value = "provenance.sig",
        value_name = "FILE"
    )]
    pub out: PathBuf,
    /// Training data file/directory or dataset manifest (repeatable)
    #[arg(long, value_name = "PATH")]
    pub dataset: Vec<PathBuf>,
    /// Base model file or directory that was fine-tuned (repeatable)
    #[arg(long = "base-model", value_name = "PATH")]
    pub base_model: Vec<PathBuf>,
    /// Training configuration file (repeatable)
    #[arg(long, value_name = "FILE")]
    pub config: Vec<PathBuf>,
    /// Git commit of the training code
    #[arg(long, value_name = "SHA")]
    pub code_commit: Option<String>,
    /// Repository URL of the training code
    #[arg(long, value_name = "URL", requires = "code_commit")]
    pub code_repo: Option<String>,
    /// Builder id (URI of the system that ran the training)
    #[arg(long, value_name = "URI")]
    pub builder_id: Option<String>,
    /// Invocation id (e.g. the CI run URL)
    #[arg(long, value_name = "ID")]
    pub invocation_id: Option<String>,
    /// Run start time (RFC 3339)
    #[arg(long, value_name = "TIME")]
    pub started_on: Option<String>,
    /// Run end time (RFC 3339)
    #[arg(long, value_name = "TIME")]
    pub finished_on: Option<String>,
    /// External parameter KEY=VALUE recorded in the statement (repeatable)
    #[arg(long = "param", value_name = "KEY=VALUE")]
    pub params: Vec<String>,
    /// Paths inside the model to leave out of the subjects (relative to the current directory)
    #[arg(long = "ignore-paths", value_name = "PATH")]
    pub ignore_paths: Vec<PathBuf>,
}

/// `lantern keygen`.
pub fn keygen(a: KeygenArgs) -> Result<u8> {
    let kind = KeyKind::from_name(&a.kind)?;
    let key = SigningKey::generate(kind);
    let private = with_ext(&a.out, "pem");
    let public = with_ext(&a.out, "pub");
    let password = if a.encrypt {
        match a.password.get()? {
            Some(p) if !p.is_empty() => Some(p),
            _ => bail!("--encrypt needs a password: set {PASSWORD_ENV} or give --password-file"),
        }
    } else {
        None
    };
    lantern_sign::keys::write_key_pair(&key, &private, &public, a.force, password.as_deref())?;
    println!(
        "wrote {} key pair: {} (private, 0600{}) and {}",
        kind.name(),
        private.display(),
        if password.is_some() {
            ", encrypted"
        } else {
            ""
        },
        public.display()
    );
    if kind == KeyKind::Ed25519 {
        eprintln!("note: model_signing (Python) verifies ECDSA keys only; use --type p256 for signatures it must check");
    }
    Ok(0)
}

fn with_ext(prefix: &Path, ext: &str) -> PathBuf {
    let mut s = prefix.as_os_str().to_owned();
    s.push(".");
    s.push(ext);
    PathBuf::from(s)
}

/// Applies `-j`, `--no-mmap` and `--no-interleave` to a hashing plan.
fn tune(plan: Plan, paths: &PathArgs) -> Plan {
    let io = if paths.no_mmap {
        IoMode::Read
    } else {
        // A file shrinking under a mapping raises SIGBUS: report it and exit 2 instead of crashing.
        lantern_sign::hash::install_sigbus_guard();
        IoMode::Mapped
    };
    plan.threads(super::limits::clamp_threads(paths.jobs.unwrap_or(0), "-j"))
        .io_mode(io)
        .interleave(!paths.no_interleave)
}

/// Ignore paths given on the command line, made relative to the model root (outside ones dropped).
fn ignore_list(model: &Path, paths: &[PathBuf], extra: Option<&Path>) -> Vec<String> {
    paths
        .iter()
        .map(PathBuf::as_path)
        .chain(extra)
        .filter_map(|p| relative_to_model(model, p))
        .collect()
}

fn progress(plan: &Plan, quiet: bool, verb: &str) -> ProgressBar {
    let pb = if quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::with_draw_target(Some(plan.total_bytes()), ProgressDrawTarget::stderr())
    };
    if let Ok(style) = ProgressStyle::with_template(
        "{prefix} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    ) {
        pb.set_style(style.progress_chars("=> "));
    }
    pb.set_prefix(format!("{verb} {} files", plan.file_count()));
    pb
}

/// `lantern sign`.
pub fn sign(a: SignArgs) -> Result<u8> {
    let key = a.password.load(&a.key)?;
    let material = match &a.certificate {
        Some(c) => {
            let mut certs = vec![signing_certificate_der(c, &key.verifying_key())?];
            certs.extend(chain_der(&a.certificate_chain)?);
            Some(Material::Certificates(certs))
        }
        None => None,
    };
    let method = match (a.shard_size, a.shards) {
        (Some(0), _) => bail!("--shard-size must be positive"),
        (Some(s), _) => Method::Shards { shard_size: s },
        (None, true) => Method::Shards {
            shard_size: DEFAULT_SHARD_SIZE,
        },
        (None, false) => Method::Files,
    };
    let opts = HashOptions {
        method,
        hash: HashAlgo::from_name(&a.hash)?,
        allow_symlinks: a.paths.allow_symlinks,
        ignore_paths: ignore_list(&a.model, &a.paths.ignore_paths, Some(&a.signature)),
        ignore_git_paths: !a.paths.no_ignore_git_paths,
        only: None,
    };
    let start = Instant::now();
    let plan = tune(
        Plan::new(&a.model, &opts).with_context(|| format!("hashing {}", a.model.display()))?,
        &a.paths,
    );
    let (files, bytes) = (plan.file_count(), plan.total_bytes());
    let pb = progress(&plan, a.paths.quiet, "hashing");
    let manifest = plan.hash(&|n| pb.inc(n))?;
    pb.finish_and_clear();
    let mut bundle = sign_manifest(&manifest, &key)?;
    if let Some(m) = material {
        bundle.material = m;
    }
    bundle.write(&a.signature)?;
    eprintln!(
        "signed {} ({files} files, {}) with {} in {:.2?}: {}",
        escape_path(&a.model),
        human_bytes(bytes),
        key.kind().name(),
        start.elapsed(),
        escape_path(&a.signature)
    );
    Ok(0)
}

fn human_bytes(b: u64) -> String {
    const U: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b as f64;
    let mut i = 0;
    while v >= 1024.0 && i + 1 < U.len() {
        v /= 1024.0;
        i += 1;
    }
    format!("{v:.1} {}", U.get(i).unwrap_or(&"B"))
}

/// A failure that means "not verified" (exit 1) rather than "could not check" (exit 2).
fn is_verification_failure(e: &Error) -> bool {
    matches!(
        e,
        Error::BadSignature(_) | Error::KeyMismatch { .. } | Error::Certificate { .. }
    )
}

fn report(
    format: &str,
    model: &Path,
    ok: bool,
    d: &ManifestDiff,
    unmatched: &[String],
    reason: Option<&str>,
    files: usize,
) -> Result<u8> {
    if format == "json" {
        let v = serde_json::json!({
            "model": model.display().to_string(),
            "verified": ok,
            "files": files,
            "changed": d.changed,
            "added": d.added,
            "missing": d.missing,
            "unmatched_inputs": unmatched,
            "reason": reason,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else if ok {
        println!("verified: {} ({files} files)", escape_path(model));
    } else {
        println!("NOT verified: {}", escape_path(model));
        if let Some(r) = reason {
            println!("  {}", escape(r));
        }
        for (label, list) in [
            ("changed", &d.changed),
            ("added", &d.added),
            ("missing", &d.missing),
        ] {
            for f in list {
                println!("  {label:8} {}", escape(f));
            }
        }
        for f in unmatched {
            println!("  input not in provenance: {}", escape(f));
        }
    }
    Ok(if ok { 0 } else { 1 })
}

/// `lantern verify`.
pub fn verify(a: VerifyArgs) -> Result<u8> {
    let key = match &a.key {
        Some(k) => Some(VerifyingKey::from_file(k)?),
        None => None,
    };
    let store = if a.certificate_chain.is_empty() {
        None
    } else {
        Some(TrustStore::from_pem_files(&a.certificate_chain)?)
    };
    let trust = match (&key, &store) {
        (Some(k), _) => Trust::Key(k),
        (None, Some(s)) => Trust::Roots(s),
        (None, None) => bail!("give --key PUBLIC.pem or --certificate-chain CA.pem"),
    };
    let bundle_path = match (&a.provenance, &a.signature) {
        (Some(p), _) | (None, Some(p)) => p.clone(),
        (None, None) => bail!("give --signature FILE or --provenance FILE"),
    };
    let ignore = ignore_list(&a.model, &a.paths.ignore_paths, Some(&bundle_path));
    let fail = |e: Error| -> Result<u8> {
        if is_verification_failure(&e) {
            report(
                &a.format,
                &a.model,
                false,
                &ManifestDiff::default(),
                &[],
                Some(&e.to_string()),
                0,
            )
        } else {
            Err(e.into())
        }
    };
    if a.provenance.is_some() {
        return match provenance::verify(&a.model, &bundle_path, &trust, &a.inputs, &ignore) {
            Ok(c) => report(
                &a.format,
                &a.model,
                c.is_ok(),
                &c.diff,
                &c.unmatched_inputs,
                None,
                c.subjects,
            ),
            Err(e) => fail(e),
        };
    }
    let opts = VerifyOptions {
        ignore_paths: ignore,
        ignore_git_paths: !a.paths.no_ignore_git_paths,
        allow_symlinks: a.paths.allow_symlinks.then_some(true),
        ignore_unsigned_files: a.ignore_unsigned_files,
    };
    let (expected, plan) = match prepare_verification(&a.model, &bundle_path, &trust, &opts) {
        Ok((expected, plan)) => (expected, tune(plan, &a.paths)),
        Err(e) => return fail(e),
    };
    let pb = progress(&plan, a.paths.quiet, "verifying");
    let actual = plan
        .hash(&|n| pb.inc(n))
        .with_context(|| format!("hashing {}", a.model.display()))?;
    pb.finish_and_clear();
    let d = diff(&expected, &actual);
    report(
        &a.format,
        &a.model,
        d.is_empty(),
        &d,
        &[],
        None,
        expected.file_count(),
    )
}

/// `lantern attest`.
pub fn attest(a: AttestArgs) -> Result<u8> {
    let key = a.password.load(&a.key)?;
    let mut parameters = std::collections::BTreeMap::new();
    for p in &a.params {
        let Some((k, v)) = p.split_once('=') else {
            bail!("--param {p:?}: expected KEY=VALUE")
        };
        parameters.insert(k.to_string(), v.to_string());
    }
    let mut inputs = Vec::new();
    inputs.extend(a.dataset.iter().map(|p| (InputRole::Dataset, p.clone())));
    inputs.extend(
        a.base_model
            .iter()
            .map(|p| (InputRole::BaseModel, p.clone())),
    );
    inputs.extend(a.config.iter().map(|p| (InputRole::Config, p.clone())));
    let run = RunInfo {
        inputs,
        code_commit: a.code_commit,
        code_repo: a.code_repo,
        builder_id: a.builder_id,
        invocation_id: a.invocation_id,
        started_on: a.started_on,
        finished_on: a.finished_on,
        parameters,
        ignore_paths: ignore_list(&a.model, &a.ignore_paths, Some(&a.out)),
    };
    let payload = provenance::statement_json(&a.model, &run)?;
    sign_payload(payload, &key)?.write(&a.out)?;
    eprintln!(
        "wrote signed SLSA provenance for {}: {}",
        escape_path(&a.model),
        escape_path(&a.out)
    );
    Ok(0)
}
