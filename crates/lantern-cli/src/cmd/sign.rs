//! `lantern keygen|sign|verify|attest` (owned by the signing work; placeholder until it lands).

use anyhow::bail;

/// Arguments of `lantern keygen`.
#[derive(clap::Args)]
pub struct KeygenArgs {}
/// Arguments of `lantern sign`.
#[derive(clap::Args)]
pub struct SignArgs {}
/// Arguments of `lantern verify`.
#[derive(clap::Args)]
pub struct VerifyArgs {}
/// Arguments of `lantern attest`.
#[derive(clap::Args)]
pub struct AttestArgs {}

pub fn keygen(_: KeygenArgs) -> anyhow::Result<u8> {
    bail!("keygen is not available in this build")
}
pub fn sign(_: SignArgs) -> anyhow::Result<u8> {
    bail!("sign is not available in this build")
}
pub fn verify(_: VerifyArgs) -> anyhow::Result<u8> {
    bail!("verify is not available in this build")
}
pub fn attest(_: AttestArgs) -> anyhow::Result<u8> {
    bail!("attest is not available in this build")
}
