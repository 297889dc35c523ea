//! `lantern scan`: wiring of walk -> secrets/leaks/models -> report.

use anyhow::bail;

/// Arguments of `lantern scan`.
#[derive(clap::Args)]
pub struct Args {}

pub fn run(_: Args) -> anyhow::Result<u8> {
    bail!("scan is being written")
}
