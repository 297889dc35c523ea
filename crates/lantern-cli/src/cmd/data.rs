//! `lantern data` (placeholder until its work lands).

use anyhow::bail;

/// Arguments of `lantern data`.
#[derive(clap::Args)]
pub struct Args {}

pub fn run(_: Args) -> anyhow::Result<u8> {
    bail!("data is not available in this build")
}
