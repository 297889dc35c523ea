//! AI bill of materials: CycloneDX 1.6 ML-BOM (and SPDX 2.3) generation for models, datasets and
//! libraries, and BOM diffs.
//!
//! [`generate`] walks a project tree and returns an [`Inventory`]: local model files and model
//! directories (hashed, with model cards from Hugging Face README front matter, `config.json` and
//! safetensors headers), datasets (CSV, JSONL, Parquet, Arrow, image folders), models and
//! datasets referenced by code and configuration (`from_pretrained`, `load_dataset`, vLLM,
//! Ollama ...), and libraries from Python, npm and Cargo manifests and lockfiles.
//! [`cyclonedx::to_json`] and [`spdx::to_json`] render it; [`diff::diff`] compares two BOMs.

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod classify;
pub mod component;
pub mod cyclonedx;
pub mod diff;
pub mod hf;
pub mod lockfiles;
pub mod project;
pub mod purl;
pub mod refs;
pub mod safetensors;
pub mod spdx;
pub mod usage;

pub use component::{Component, Inventory, Kind};
pub use cyclonedx::Stamp;
pub use diff::BomDiff;

use std::path::Path;

/// Errors raised by the BOM crate. Malformed inputs inside the tree are warnings, not errors.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The project root could not be read.
    #[error(transparent)]
    Io(#[from] lantern_core::IoError),
    /// A BOM given to `diff` is not valid CycloneDX JSON.
    #[error("{path}: {message}")]
    InvalidBom {
        /// The file involved.
        path: String,
        /// What is wrong.
        message: String,
    },
}

/// Compile a built-in regex; these are constants of the crate, covered by its tests.
pub(crate) fn builtin_regex(pattern: &str) -> regex::Regex {
    regex::Regex::new(pattern).unwrap_or_else(|e| panic!("invalid built-in regex {pattern}: {e}"))
}

/// Result alias for the BOM crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A hook that adds properties to local model and dataset components, e.g. scan findings
/// (`lantern:scan:*`) or signature status (`lantern:signature`). Called once per component
/// that has a path on disk (a model file or directory, a data file or image folder).
pub trait Annotator {
    /// Properties (name, value) to add to `component`, found at `path`.
    fn annotate(&self, component: &Component, path: &Path) -> Vec<(String, String)>;
}

impl<F> Annotator for F
where
    F: Fn(&Component, &Path) -> Vec<(String, String)>,
{
    fn annotate(&self, component: &Component, path: &Path) -> Vec<(String, String)> {
        self(component, path)
    }
}

/// Build the inventory of the project at `root`, with warnings for inputs that could not be
/// read or parsed. `annotator` may add properties to local models and datasets.
pub fn generate(
    root: &Path,
    annotator: Option<&dyn Annotator>,
) -> Result<(Inventory, Vec<lantern_core::Warning>)> {
    project::inventory(root, annotator)
}

/// Compare two CycloneDX JSON documents given as text; `old_name`/`new_name` name them in errors.
pub fn diff_json(old_name: &str, old: &str, new_name: &str, new: &str) -> Result<BomDiff> {
    let parse = |name: &str, text: &str| -> Result<serde_json::Value> {
        serde_json::from_str(text).map_err(|e| Error::InvalidBom {
            path: name.to_string(),
            message: format!("invalid JSON: {e}"),
        })
    };
    let (a, b) = (parse(old_name, old)?, parse(new_name, new)?);
    diff::diff(&a, &b).map_err(|message| Error::InvalidBom {
        path: if message.starts_with("old") {
            old_name
        } else {
            new_name
        }
        .to_string(),
        message,
    })
}
