//! The inventory data model: components (libraries, models, datasets) and their relations,
//! independent of the output format (CycloneDX or SPDX).

use std::collections::BTreeMap;

pub use crate::usage::Usage;

/// What a component is. Maps to the CycloneDX `component.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// A software library from a package manager.
    Library,
    /// A machine-learning model (local weights or a hub reference).
    Model,
    /// A dataset (local files or a hub reference).
    Data,
    /// A single file belonging to a model or dataset directory.
    File,
}

impl Kind {
    /// The CycloneDX 1.6 `component.type` value.
    pub fn cyclonedx_type(self) -> &'static str {
        match self {
            Kind::Library => "library",
            Kind::Model => "machine-learning-model",
            Kind::Data => "data",
            Kind::File => "file",
        }
    }

    /// Parse a CycloneDX `component.type`; unknown types map to `None`.
    pub fn from_cyclonedx(s: &str) -> Option<Kind> {
        match s {
            "library" | "framework" => Some(Kind::Library),
            "machine-learning-model" => Some(Kind::Model),
            "data" => Some(Kind::Data),
            "file" => Some(Kind::File),
            _ => None,
        }
    }
}

/// Package ecosystem of a library, used for purls and merging.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Ecosystem {
    /// Python packages (PyPI).
    Pypi,
    /// JavaScript packages (npm registry).
    Npm,
    /// Rust crates (crates.io).
    Cargo,
}

impl Ecosystem {
    /// The purl type of the ecosystem.
    pub fn purl_type(self) -> &'static str {
        match self {
            Ecosystem::Pypi => "pypi",
            Ecosystem::Npm => "npm",
            Ecosystem::Cargo => "cargo",
        }
    }
}

/// Runtime scope of a component (CycloneDX `scope`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// Needed at run time.
    Required,
    /// Optional at run time (extras, optional dependencies).
    Optional,
    /// Only for development or tests.
    Excluded,
}

impl Scope {
    /// The CycloneDX `scope` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Required => "required",
            Scope::Optional => "optional",
            Scope::Excluded => "excluded",
        }
    }
}

/// A digest of a component's content.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Hash {
    /// CycloneDX algorithm name: `SHA-256`, `SHA-512`, ...
    pub alg: String,
    /// Lower-case hex digest.
    pub content: String,
}

impl Hash {
    /// A SHA-256 digest computed by Lantern (trusted hex).
    pub fn sha256(hex: impl Into<String>) -> Self {
        Hash {
            alg: "SHA-256".into(),
            content: hex.into(),
        }
    }

    /// A digest read from an input file: `None` unless `content` is hex of the length the
    /// algorithm produces (CycloneDX rejects anything else). The hex is lower-cased.
    pub fn checked(alg: &str, content: &str) -> Option<Self> {
        let len = match alg {
            "MD5" => 32,
            "SHA-1" => 40,
            "SHA-256" | "SHA3-256" | "BLAKE2b-256" | "BLAKE3" => 64,
            "SHA-384" | "SHA3-384" | "BLAKE2b-384" => 96,
            "SHA-512" | "SHA3-512" | "BLAKE2b-512" => 128,
            _ => return None,
        };
        (content.len() == len && content.bytes().all(|b| b.is_ascii_hexdigit())).then(|| Hash {
            alg: alg.into(),
            content: content.to_ascii_lowercase(),
        })
    }
}

/// A licence as declared by the component: an SPDX id (canonical case) or a free-form name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum License {
    /// A valid SPDX licence id.
    Spdx(String),
    /// Anything else (`other`, `llama2`, a URL ...).
    Named(String),
}

impl License {
    /// Classify a declared licence string: SPDX ids are matched case-insensitively and returned
    /// in their canonical spelling.
    pub fn parse(s: &str) -> License {
        let s = s.trim();
        match crate::spdx::canonical_license_id(s) {
            Some(id) => License::Spdx(id.to_string()),
            None => License::Named(s.to_string()),
        }
    }

    /// The id or the name.
    pub fn as_str(&self) -> &str {
        match self {
            License::Spdx(s) | License::Named(s) => s,
        }
    }
}

/// Where a component was seen: a file and, for text, a 1-based line.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Occurrence {
    /// Path relative to the project root, `/`-separated.
    pub location: String,
    /// 1-based line, when known.
    pub line: Option<u32>,
    /// The matched call or key, e.g. `from_pretrained`.
    pub symbol: Option<String>,
    /// Usage this occurrence implies by its content rather than its path: `Some(Docs)` for
    /// an example in a docstring.
    pub usage: Option<Usage>,
}

/// Model card facts, filled from Hugging Face README front matter, config.json and weights.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModelCard {
    /// `pipeline_tag`: the task, e.g. `text-generation`.
    pub task: Option<String>,
    /// `config.json` `model_type`, e.g. `llama`.
    pub architecture_family: Option<String>,
    /// `config.json` `architectures[0]`, e.g. `LlamaForCausalLM`.
    pub model_architecture: Option<String>,
    /// bom-refs of the datasets the model was trained on.
    pub datasets: Vec<String>,
    /// Other facts (`language`, `library_name`, `parameters`, `format`, ...), sorted by name.
    pub properties: Vec<(String, String)>,
}

impl ModelCard {
    /// Whether nothing is known.
    pub fn is_empty(&self) -> bool {
        self.task.is_none()
            && self.architecture_family.is_none()
            && self.model_architecture.is_none()
            && self.datasets.is_empty()
            && self.properties.is_empty()
    }
}

/// One entry of the bill of materials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    /// Unique reference inside the BOM (purl for packages, `model:`/`data:` + path for local).
    pub bom_ref: String,
    /// What it is.
    pub kind: Kind,
    /// Name (package name, hub repo name, or file/directory name).
    pub name: String,
    /// Group (hub organisation, npm scope without `@`).
    pub group: Option<String>,
    /// Version (package version, hub revision, ollama tag).
    pub version: Option<String>,
    /// Package URL.
    pub purl: Option<String>,
    /// Content digests.
    pub hashes: Vec<Hash>,
    /// Declared licences.
    pub licenses: Vec<License>,
    /// One-line description.
    pub description: Option<String>,
    /// Runtime scope.
    pub scope: Option<Scope>,
    /// Free-form facts (`lantern:*` names), kept sorted by name then value.
    pub properties: Vec<(String, String)>,
    /// Files and lines where it was declared or referenced.
    pub occurrences: Vec<Occurrence>,
    /// Model card, for models.
    pub model_card: Option<ModelCard>,
    /// Files making up a model or dataset directory.
    pub children: Vec<Component>,
    /// bom-refs of the components this one depends on (base model, training datasets, packages).
    pub depends_on: Vec<String>,
    /// Absolute path on disk, for local models and datasets (not serialised).
    pub local_path: Option<std::path::PathBuf>,
    /// Where it is used, from the files naming it: runtime, example, docs or test (rendered as
    /// the `lantern:scope` property; test and docs also set [`Component::scope`] to excluded,
    /// examples to optional).
    pub usage: Usage,
}

impl Component {
    /// A component with only the required fields set.
    pub fn new(kind: Kind, bom_ref: impl Into<String>, name: impl Into<String>) -> Self {
        Component {
            bom_ref: bom_ref.into(),
            kind,
            name: name.into(),
            group: None,
            version: None,
            purl: None,
            hashes: Vec::new(),
            licenses: Vec::new(),
            description: None,
            scope: None,
            properties: Vec::new(),
            occurrences: Vec::new(),
            model_card: None,
            children: Vec::new(),
            depends_on: Vec::new(),
            local_path: None,
            usage: Usage::Runtime,
        }
    }

    /// Add a property (kept sorted and unique).
    pub fn set_property(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let p = (name.into(), value.into());
        if let Err(i) = self.properties.binary_search(&p) {
            self.properties.insert(i, p);
        }
    }

    /// The first value of a property.
    pub fn property(&self, name: &str) -> Option<&str> {
        self.properties
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Add an occurrence if not already present.
    pub fn add_occurrence(&mut self, o: Occurrence) {
        if !self.occurrences.contains(&o) {
            self.occurrences.push(o);
            self.occurrences.sort();
        }
    }

    /// Add a dependency edge if not already present.
    pub fn add_dependency(&mut self, bom_ref: &str) {
        if bom_ref != self.bom_ref && !self.depends_on.iter().any(|d| d == bom_ref) {
            self.depends_on.push(bom_ref.to_string());
            self.depends_on.sort();
        }
    }
}

/// A generated bill of materials: the project, its components and the dependency graph.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    /// Name of the project (root directory name).
    pub project: String,
    /// All top-level components, sorted by (kind, bom-ref).
    pub components: Vec<Component>,
    /// bom-refs the project depends on directly.
    pub direct: Vec<String>,
    /// Extra dependency edges between packages from lockfiles: bom-ref → bom-refs.
    pub package_edges: BTreeMap<String, Vec<String>>,
}

impl Inventory {
    /// Find a component by bom-ref.
    pub fn get(&self, bom_ref: &str) -> Option<&Component> {
        self.components.iter().find(|c| c.bom_ref == bom_ref)
    }

    /// Count of components of a kind (top level only).
    pub fn count(&self, kind: Kind) -> usize {
        self.components.iter().filter(|c| c.kind == kind).count()
    }
}
