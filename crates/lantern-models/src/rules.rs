//! The model scanner's rules: one registry of typed ids, each with its severity, the title of
//! its findings and a description. README's model rule table is generated from it (see
//! `tests/readme.rs`).

use lantern_core::Severity;

/// A model scanner rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rule {
    /// A pickle calls a callable of the deny policy.
    PickleDangerousCall,
    /// STACK_GLOBAL with a module or name computed at load time.
    PickleUnresolvedGlobal,
    /// BUILD on an imported object (monkey-patching).
    PickleGlobalMutation,
    /// A callable outside the policy called with arguments.
    PickleUnknownGlobal,
    /// A class outside the policy only referenced or instantiated without arguments.
    PickleUnknownClass,
    /// EXT1/EXT2/EXT4 imports.
    PickleExtensionCode,
    /// A pickle stream broken after some opcodes.
    PickleMalformed,
    /// A file that is both a pickle and a zip.
    ModelPolyglot,
    /// A zip without a usable central directory.
    ZipBrokenCentralDirectory,
    /// Member names that differ between the central directory and local headers.
    ZipNameMismatch,
    /// Members flagged encrypted but readable.
    ZipOddFlags,
    /// A NumPy object array (a pickle).
    NumpyObjectArray,
    /// A malformed `.npy` header.
    NumpyMalformed,
    /// `.npy` data size that does not match shape and dtype.
    NumpyInconsistent,
    /// A Keras Lambda layer.
    KerasLambdaLayer,
    /// A Keras custom object from outside Keras.
    KerasCustomObject,
    /// A SavedModel op running Python.
    TfPyFunc,
    /// A SavedModel op reading or writing files.
    TfFileOp,
    /// A SavedModel protobuf that does not decode.
    TfMalformed,
    /// An ONNX operator outside the standard domains.
    OnnxCustomOp,
    /// ONNX external data outside the model directory.
    OnnxExternalDataEscape,
    /// An ONNX protobuf that does not decode.
    OnnxMalformed,
    /// A GGUF chat template reaching Python internals.
    GgufTemplateInjection,
    /// A malformed GGUF header or metadata.
    GgufMalformed,
    /// A safetensors header that contradicts the file.
    SafetensorsInconsistent,
    /// A safetensors header that does not parse.
    SafetensorsMalformed,
}

impl Rule {
    /// Every rule, in README order (by severity, then id).
    pub const ALL: &'static [Rule] = &[
        Rule::PickleDangerousCall,
        Rule::PickleUnresolvedGlobal,
        Rule::PickleGlobalMutation,
        Rule::KerasLambdaLayer,
        Rule::TfPyFunc,
        Rule::GgufTemplateInjection,
        Rule::PickleUnknownGlobal,
        Rule::PickleExtensionCode,
        Rule::OnnxExternalDataEscape,
        Rule::TfFileOp,
        Rule::PickleMalformed,
        Rule::ModelPolyglot,
        Rule::ZipBrokenCentralDirectory,
        Rule::ZipNameMismatch,
        Rule::OnnxCustomOp,
        Rule::KerasCustomObject,
        Rule::SafetensorsInconsistent,
        Rule::SafetensorsMalformed,
        Rule::ZipOddFlags,
        Rule::GgufMalformed,
        Rule::NumpyMalformed,
        Rule::NumpyInconsistent,
        Rule::OnnxMalformed,
        Rule::TfMalformed,
        Rule::PickleUnknownClass,
        Rule::NumpyObjectArray,
    ];

    /// The rule id of findings, e.g. `pickle.dangerous-call`.
    pub fn id(self) -> &'static str {
        self.info().0
    }

    /// The severity of its findings (the highest, for the one rule with two).
    pub fn severity(self) -> Severity {
        self.info().1
    }

    /// The title of its findings.
    pub fn title(self) -> &'static str {
        self.info().2
    }

    /// What the rule reports and why it matters.
    pub fn description(self) -> &'static str {
        self.info().3
    }

    fn info(self) -> (&'static str, Severity, &'static str, &'static str) {
        use Severity::*;
        match self {
            Rule::PickleDangerousCall => ("pickle.dangerous-call", Critical, "Pickle calls a dangerous callable on load", "a callable the policy denies (commands, `eval`, files, network, nested loaders) is imported, also through a re-export such as `random._os.system`, reported as `os.system(...)`"),
            Rule::PickleUnresolvedGlobal => ("pickle.unresolved-global", Critical, "Pickle imports a name computed at load time", "STACK_GLOBAL whose module or name is not a literal string"),
            Rule::PickleGlobalMutation => ("pickle.global-mutation", Critical, "Pickle sets attributes on an imported module object (monkey-patching on load)", "BUILD applied to an imported object itself (even `__code__`)"),
            Rule::KerasLambdaLayer => ("keras.lambda-layer", Critical, "Keras model holds a Lambda layer (Python code run on load)", "serialized Python bytecode in a Lambda layer"),
            Rule::TfPyFunc => ("tf.py-func", Critical, "SavedModel runs Python code (PyFunc)", "PyFunc, PyFuncStateless or EagerPyFunc nodes"),
            Rule::GgufTemplateInjection => ("gguf.template-injection", Critical, "GGUF chat template reaches Python internals (Jinja template injection)", "a chat template reaching `__class__`, `__globals__` and the like (critical), or other suspicious constructs (medium)"),
            Rule::PickleUnknownGlobal => ("pickle.unknown-global", High, "Pickle calls a callable outside the allowlist", "a callable outside the policy called on load with arguments chosen by the file"),
            Rule::PickleExtensionCode => ("pickle.extension-code", High, "Pickle imports through the copyreg extension registry", "EXT1/EXT2/EXT4: an import whose name depends on the loading process"),
            Rule::OnnxExternalDataEscape => ("onnx.external-data-escape", High, "ONNX external data path escapes the model directory", "an external data `location` that is absolute or climbs out with `..`"),
            Rule::TfFileOp => ("tf.file-op", High, "SavedModel graph reads or writes files", "ReadFile, WriteFile, MatchingFiles and other file system ops"),
            Rule::PickleMalformed => ("pickle.malformed", Medium, "Pickle stream is malformed (opcodes before the error run on load)", "the stream breaks (or hits a bound) after opcodes that already ran"),
            Rule::ModelPolyglot => ("model.polyglot", Medium, "File is both a pickle and a zip archive", "torch unpickles one view while zip-aware tools read the other"),
            Rule::ZipBrokenCentralDirectory => ("zip.broken-central-directory", Medium, "Archive has no usable central directory (torch still loads it)", "members recovered from local headers"),
            Rule::ZipNameMismatch => ("zip.name-mismatch", Medium, "Member name differs between central directory and local header", "readers disagree on which member is which"),
            Rule::OnnxCustomOp => ("onnx.custom-op", Medium, "ONNX model needs a custom operator library (native code) to load", "an operator or opset outside the standard domains"),
            Rule::KerasCustomObject => ("keras.custom-object", Medium, "Keras model needs a custom object from outside Keras", "a layer or object whose module is not Keras or TensorFlow"),
            Rule::SafetensorsInconsistent => ("safetensors.inconsistent", Medium, "safetensors file is inconsistent", "offsets, shapes or dtypes that contradict the file"),
            Rule::SafetensorsMalformed => ("safetensors.malformed", Medium, "safetensors file is inconsistent", "a header that does not parse"),
            Rule::ZipOddFlags => ("zip.odd-flags", Low, "Members are flagged encrypted but readable (torch ignores the flag, other readers skip them)", "encryption flags on readable members"),
            Rule::GgufMalformed => ("gguf.malformed", Low, "GGUF header or metadata is malformed", "the header or a metadata value does not parse"),
            Rule::NumpyMalformed => ("numpy.malformed", Low, "NumPy file header is malformed", "the `.npy` header does not parse"),
            Rule::NumpyInconsistent => ("numpy.inconsistent", Low, "NumPy data size does not match its shape and dtype", "the data is shorter or longer than shape and dtype say"),
            Rule::OnnxMalformed => ("onnx.malformed", Low, "ONNX protobuf does not decode", "the model protobuf does not decode"),
            Rule::TfMalformed => ("tf.malformed", Low, "SavedModel protobuf does not decode", "the SavedModel protobuf does not decode"),
            Rule::PickleUnknownClass => ("pickle.unknown-class", Info, "Pickle uses a class outside the allowlist", "a class outside the policy only referenced, or instantiated without arguments (`cls.__new__(cls)`, how any plain object pickles); the finding says which"),
            Rule::NumpyObjectArray => ("numpy.object-array", Info, "NumPy array of Python objects (loading needs allow_pickle=True)", "an object array: a pickle after the header, scanned as such"),
        }
    }

    /// README's model rule table (Markdown, header included).
    pub fn markdown_table() -> String {
        let mut s = String::from("| rule | severity | what it reports |\n|---|---|---|\n");
        for r in Rule::ALL {
            s.push_str(&format!(
                "| `{}` | {} | {} |\n",
                r.id(),
                r.severity().as_str(),
                r.description()
            ));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_every_rule_is_listed_once() {
        let mut ids: Vec<&str> = Rule::ALL.iter().map(|r| r.id()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), Rule::ALL.len());
        assert_eq!(Rule::ALL.len(), 26);
        let sev: Vec<Severity> = Rule::ALL.iter().map(|r| r.severity()).collect();
        assert!(sev.windows(2).all(|w| w[0] >= w[1]), "ALL is by severity");
    }
}
