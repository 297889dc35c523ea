//! `lantern guard` (placeholder until its work lands).

use anyhow::bail;

/// Arguments of `lantern guard`.
#[derive(clap::Args)]
pub struct Args {}

pub fn run(_: Args) -> anyhow::Result<u8> {
    bail!("guard is not available in this build")
}
