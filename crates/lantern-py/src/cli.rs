//! The `lantern` command inside the Python extension.
//!
//! TEMPORARY until `lantern_cli::run` exists (issue 22 turns lantern-cli into a library): the
//! subcommand modules of lantern-cli are compiled into this crate as they are, and the command
//! table below mirrors `crates/lantern-cli/src/main.rs`. Replace both with `lantern_cli::run`.

use clap::{Parser, Subcommand};

#[allow(dead_code, clippy::all)]
#[path = "../../lantern-cli/src/cmd/mod.rs"]
mod cmd;

/// What `lantern --help` says first (as in lantern-cli's main.rs).
const ABOUT: &str =
    "Shine a light on the dark code inside AI projects: leaked secrets and sources, \
unsafe model files, unsigned weights, AI bills of materials, poisoned datasets, and a guard in \
front of model APIs.";

#[derive(Parser)]
#[command(name = "lantern", version, about = ABOUT, long_about = None, propagate_version = true)]
#[command(
    after_help = "Exit codes: 0 clean or verified, 1 findings at or above the fail threshold (or verification failed), 2 usage or runtime error."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
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

/// Run the command line as the `lantern` binary does, printing errors to standard error.
pub fn run(argv: Vec<String>) -> i32 {
    let (code, message) = run_captured(argv);
    if !message.is_empty() {
        eprintln!("{message}");
    }
    code
}

/// Run the command line; usage and runtime errors are returned (exit code 2 and the message)
/// instead of printed. Help and version requests print to standard output (exit code 0).
pub fn run_captured(argv: Vec<String>) -> (i32, String) {
    let cli = match Cli::try_parse_from(argv) {
        Ok(c) => c,
        Err(e) if e.use_stderr() => return (2, e.render().to_string()),
        Err(e) => {
            let _ = e.print();
            return (0, String::new());
        }
    };
    init_logging();
    match dispatch(cli.command) {
        Ok(code) => (i32::from(code), String::new()),
        // Errors name paths and archive members: escaped like every printed name.
        Err(e) => {
            let message = format!("{e:#}");
            let shown = lantern_core::term::escape(&message);
            (2, format!("lantern: error: {shown}"))
        }
    }
}

fn dispatch(command: Command) -> anyhow::Result<u8> {
    match command {
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

/// `LANTERN_LOG` as in the binary; once per process (a second call is a no-op).
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("LANTERN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
