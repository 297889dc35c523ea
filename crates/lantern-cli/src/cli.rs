//! The command line: `lantern`'s arguments (clap) and the dispatch of each subcommand to its
//! module under `cmd/`.

use crate::cmd;
use clap::{Parser, Subcommand};

/// What `lantern --help` says first: for users, not the crate's description.
const ABOUT: &str =
    "Shine a light on the dark code inside AI projects: leaked secrets and sources, \
unsafe model files, unsigned weights, AI bills of materials, poisoned datasets, and a guard in \
front of model APIs.";

#[derive(Parser)]
#[command(name = "lantern", version, about = ABOUT, long_about = None, propagate_version = true)]
#[command(
    after_help = "Exit codes: 0 clean or verified, 1 findings at or above the fail threshold (or verification failed), 2 usage or runtime error."
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Scan files, git history, notebooks, archives and model files for secrets, leaks and unsafe serialized code
    Scan(cmd::scan::Args),
    /// Generate an ECDSA P-256 or Ed25519 key pair for signing
    Keygen(cmd::sign::KeygenArgs),
    /// Sign a model file or directory (OpenSSF Model Signing format)
    Sign(cmd::sign::SignArgs),
    /// Verify a model against its signature (or a provenance statement)
    Verify(cmd::sign::VerifyArgs),
    /// Produce a signed SLSA provenance statement for a training run
    Attest(cmd::sign::AttestArgs),
    /// Generate or diff an AI bill of materials (CycloneDX 1.6)
    Bom(cmd::bom::Args),
    /// Dataset manifests, diffs and poisoning audits
    Data(cmd::data::Args),
    /// Run and administer the runtime gateway in front of OpenAI-compatible APIs
    Guard(cmd::guard::Args),
    /// Verify the tamper-evident audit log and prove inclusion of records
    Audit(cmd::audit::Args),
}

impl Command {
    /// Runs the subcommand: its exit code, or the error that stopped it.
    pub(crate) fn run(self) -> anyhow::Result<u8> {
        match self {
            Command::Scan(a) => cmd::scan::run(a),
            Command::Keygen(a) => cmd::sign::keygen(a),
            Command::Sign(a) => cmd::sign::sign(a),
            Command::Verify(a) => cmd::sign::verify(a),
            Command::Attest(a) => cmd::sign::attest(a),
            Command::Bom(a) => cmd::bom::run(a),
            Command::Data(a) => cmd::data::run(a),
            Command::Guard(a) => cmd::guard::run(a),
            Command::Audit(a) => cmd::audit::run(a),
        }
    }
}
