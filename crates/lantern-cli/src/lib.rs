//! `lantern` as a library: [`run`] takes the command line and returns the exit code, so the
//! binary (`main.rs`) and the Python package call the same thing. Each subcommand parses its
//! arguments and calls the library crates that do the work.

mod cli;
mod cmd;
mod output;

use clap::Parser;
use cli::Cli;
use std::ffi::OsString;

/// Runs `lantern` with `args` (the program name first, as in `std::env::args_os`) and returns
/// the exit code: 0 clean or verified, 1 findings at or above the threshold (or verification
/// failed), 2 usage or runtime error (printed on standard error).
pub fn run(args: impl IntoIterator<Item = OsString>) -> i32 {
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    // A second call in one process (the Python package) keeps the first subscriber.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("LANTERN_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .try_init();
    match cli.command.run() {
        Ok(code) => i32::from(code),
        Err(e) => {
            // Errors name paths and archive members: escaped like every printed name.
            let message = format!("{e:#}");
            eprintln!("lantern: error: {}", lantern_core::term::escape(&message));
            2
        }
    }
}
