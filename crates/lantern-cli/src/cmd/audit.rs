//! `lantern audit` (placeholder until its work lands).

use anyhow::bail;

/// Arguments of `lantern audit`.
#[derive(clap::Args)]
pub struct Args {}

pub fn run(_: Args) -> anyhow::Result<u8> {
    bail!("audit is not available in this build")
}
