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
    let (code, message) = run_captured(args);
    if !message.is_empty() {
        eprintln!("{message}");
    }
    code
}

/// [`run`], returning the error instead of printing it: `(exit code, message)`, the message
/// empty unless the code is 2 (the Python API raises it as `lantern.Error`). Help and version
/// requests still print on standard output.
pub fn run_captured(args: impl IntoIterator<Item = OsString>) -> (i32, String) {
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) if e.use_stderr() => return (2, e.render().to_string().trim_end().to_string()),
        Err(e) => {
            let _ = e.print();
            return (0, String::new());
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
        Ok(code) => (i32::from(code), String::new()),
        Err(e) => {
            // Errors name paths and archive members: escaped like every printed name.
            let message = format!("{e:#}");
            let shown = lantern_core::term::escape(&message);
            (2, format!("lantern: error: {shown}"))
        }
    }
}
