//! Model signing and verification in the OpenSSF Model Signing (OMS) format, byte-compatible
//! with sigstore/model-transparency (`model_signing` 1.x): parallel streaming hashing of model
//! files or shards, in-toto statements in DSSE envelopes inside Sigstore bundles, ECDSA/Ed25519
//! keys, X.509 certificate chains, and signed SLSA provenance for training runs.
//!
//! Typical use: [`manifest::Plan::new`] walks a model, [`manifest::Plan::hash`] hashes it,
//! [`oms::sign_manifest`] signs the manifest, [`oms::verify_model`] checks a model against a bundle.

pub mod bundle;
pub mod cert;
pub mod error;
pub mod hash;
pub mod keys;
pub mod manifest;
pub mod oms;
pub mod provenance;
pub mod sha256x2;

pub use bundle::Bundle;
pub use error::{Error, Result};
pub use hash::{HashAlgo, IoMode};
pub use keys::{KeyKind, SigningKey, VerifyingKey};
pub use manifest::{HashOptions, Manifest, ManifestDiff, Method, Plan};
pub use oms::{Trust, VerifyOptions};
