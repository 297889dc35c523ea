//! `lantern`: one binary for the AI supply chain — leaks, unsafe models, signing, BOMs, data.
//! This file only hands the command line to [`lantern_cli::run`] and exits with its code.

use std::process::ExitCode;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let code = lantern_cli::run(std::env::args_os());
    ExitCode::from(u8::try_from(code).unwrap_or(2))
}
