//! `lantern bom` (placeholder until its work lands).

use anyhow::bail;

/// Arguments of `lantern bom`.
#[derive(clap::Args)]
pub struct Args {}

pub fn run(_: Args) -> anyhow::Result<u8> {
    bail!("bom is not available in this build")
}
