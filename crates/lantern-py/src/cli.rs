//! The `lantern` command inside the Python extension: `lantern_cli`, the same code as the
//! binary's, called with the Python process's arguments.

use std::ffi::OsString;

/// Run the command line as the `lantern` binary does, printing errors to standard error.
pub fn run(argv: Vec<String>) -> i32 {
    lantern_cli::run(argv.into_iter().map(OsString::from))
}

/// Run the command line; usage and runtime errors are returned (exit code 2 and the message)
/// instead of printed.
pub fn run_captured(argv: Vec<String>) -> (i32, String) {
    lantern_cli::run_captured(argv.into_iter().map(OsString::from))
}
