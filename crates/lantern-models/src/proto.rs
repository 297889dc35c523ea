//! Protobuf models (ONNX `ModelProto`, TensorFlow `SavedModel`) decoded with prost from
//! hand-written message structs holding only the fields the checks need; tensor payloads are
//! unknown fields to these structs and are skipped without being copied.

use crate::rules::Rule;
use prost::Message;

/// ONNX `ModelProto` (subset).
#[derive(Clone, PartialEq, Message)]
pub struct OnnxModel {
    /// IR version.
    #[prost(int64, tag = "1")]
    pub ir_version: i64,
    /// Producer.
    #[prost(string, tag = "2")]
    pub producer_name: String,
    /// Main graph.
    #[prost(message, optional, tag = "7")]
    pub graph: Option<OnnxGraph>,
    /// Operator set imports.
    #[prost(message, repeated, tag = "8")]
    pub opset_import: Vec<OpsetId>,
    /// Model-local functions.
    #[prost(message, repeated, tag = "25")]
    pub functions: Vec<OnnxFunction>,
}

/// ONNX `OperatorSetIdProto`.
#[derive(Clone, PartialEq, Message)]
pub struct OpsetId {
    /// Domain, empty for the default `ai.onnx`.
    #[prost(string, tag = "1")]
    pub domain: String,
    /// Version.
    #[prost(int64, tag = "2")]
    pub version: i64,
}

/// ONNX `GraphProto` (subset).
#[derive(Clone, PartialEq, Message)]
pub struct OnnxGraph {
    /// Nodes.
    #[prost(message, repeated, tag = "1")]
    pub node: Vec<OnnxNode>,
    /// Initializers (only names and external-data references are decoded).
    #[prost(message, repeated, tag = "5")]
    pub initializer: Vec<OnnxTensor>,
}

/// ONNX `NodeProto` (subset).
#[derive(Clone, PartialEq, Message)]
pub struct OnnxNode {
    /// Node name.
    #[prost(string, tag = "3")]
    pub name: String,
    /// Operator type.
    #[prost(string, tag = "4")]
    pub op_type: String,
    /// Attributes (subgraphs of If/Loop/Scan).
    #[prost(message, repeated, tag = "5")]
    pub attribute: Vec<OnnxAttribute>,
    /// Operator domain.
    #[prost(string, tag = "7")]
    pub domain: String,
}

/// ONNX `AttributeProto` (subset: subgraphs and tensors).
#[derive(Clone, PartialEq, Message)]
pub struct OnnxAttribute {
    /// Name.
    #[prost(string, tag = "1")]
    pub name: String,
    /// Tensor value.
    #[prost(message, optional, tag = "5")]
    pub t: Option<OnnxTensor>,
    /// Graph value.
    #[prost(message, optional, tag = "6")]
    pub g: Option<OnnxGraph>,
    /// Graph list value.
    #[prost(message, repeated, tag = "11")]
    pub graphs: Vec<OnnxGraph>,
}

/// ONNX `TensorProto` (subset: no data).
#[derive(Clone, PartialEq, Message)]
pub struct OnnxTensor {
    /// Name.
    #[prost(string, tag = "8")]
    pub name: String,
    /// External data key/values (`location`, `offset`, `length`).
    #[prost(message, repeated, tag = "13")]
    pub external_data: Vec<StringPair>,
    /// 1 = external.
    #[prost(int32, tag = "14")]
    pub data_location: i32,
}

/// ONNX `StringStringEntryProto`.
#[derive(Clone, PartialEq, Message)]
pub struct StringPair {
    /// Key.
    #[prost(string, tag = "1")]
    pub key: String,
    /// Value.
    #[prost(string, tag = "2")]
    pub value: String,
}

/// ONNX `FunctionProto` (subset).
#[derive(Clone, PartialEq, Message)]
pub struct OnnxFunction {
    /// Name.
    #[prost(string, tag = "1")]
    pub name: String,
    /// Nodes.
    #[prost(message, repeated, tag = "7")]
    pub node: Vec<OnnxNode>,
    /// Domain.
    #[prost(string, tag = "10")]
    pub domain: String,
}

/// TensorFlow `SavedModel` (subset).
#[derive(Clone, PartialEq, Message)]
pub struct SavedModel {
    /// Schema version.
    #[prost(int64, tag = "1")]
    pub saved_model_schema_version: i64,
    /// Meta graphs.
    #[prost(message, repeated, tag = "2")]
    pub meta_graphs: Vec<MetaGraphDef>,
}

/// TensorFlow `MetaGraphDef` (subset).
#[derive(Clone, PartialEq, Message)]
pub struct MetaGraphDef {
    /// The graph.
    #[prost(message, optional, tag = "2")]
    pub graph_def: Option<GraphDef>,
}

/// TensorFlow `GraphDef` (subset).
#[derive(Clone, PartialEq, Message)]
pub struct GraphDef {
    /// Nodes.
    #[prost(message, repeated, tag = "1")]
    pub node: Vec<NodeDef>,
    /// Function library.
    #[prost(message, optional, tag = "2")]
    pub library: Option<FunctionDefLibrary>,
}

/// TensorFlow `NodeDef` (subset).
#[derive(Clone, PartialEq, Message)]
pub struct NodeDef {
    /// Node name.
    #[prost(string, tag = "1")]
    pub name: String,
    /// Op name.
    #[prost(string, tag = "2")]
    pub op: String,
}

/// TensorFlow `FunctionDefLibrary` (subset).
#[derive(Clone, PartialEq, Message)]
pub struct FunctionDefLibrary {
    /// Functions.
    #[prost(message, repeated, tag = "1")]
    pub function: Vec<FunctionDef>,
}

/// TensorFlow `FunctionDef` (subset).
#[derive(Clone, PartialEq, Message)]
pub struct FunctionDef {
    /// Signature (name).
    #[prost(message, optional, tag = "1")]
    pub signature: Option<OpDef>,
    /// Body nodes.
    #[prost(message, repeated, tag = "3")]
    pub node_def: Vec<NodeDef>,
}

/// TensorFlow `OpDef` (subset).
#[derive(Clone, PartialEq, Message)]
pub struct OpDef {
    /// Function name.
    #[prost(string, tag = "1")]
    pub name: String,
}

/// ONNX operator domains that need no custom operator library.
pub const STANDARD_ONNX_DOMAINS: &[&str] = &[
    "",
    "ai.onnx",
    "ai.onnx.ml",
    "ai.onnx.training",
    "ai.onnx.preview.training",
    "com.microsoft",
    "com.microsoft.nchwc",
    "com.microsoft.experimental",
    "org.pytorch.aten",
    "com.ms.internal.nhwc",
];

/// TensorFlow ops that touch files or run Python, and their rule.
pub const TF_RISKY_OPS: &[(&str, Rule)] = &[
    ("PyFunc", Rule::TfPyFunc),
    ("PyFuncStateless", Rule::TfPyFunc),
    ("EagerPyFunc", Rule::TfPyFunc),
    ("ReadFile", Rule::TfFileOp),
    ("WriteFile", Rule::TfFileOp),
    ("MatchingFiles", Rule::TfFileOp),
    ("DeleteFile", Rule::TfFileOp),
    ("WholeFileReader", Rule::TfFileOp),
    ("WholeFileReaderV2", Rule::TfFileOp),
    ("FileSystemSetConfiguration", Rule::TfFileOp),
    ("ImmutableConst", Rule::TfFileOp),
    ("DebugIdentityV2", Rule::TfFileOp),
    ("CreateSummaryFileWriter", Rule::TfFileOp),
];

/// Every (graph path, node) pair of an ONNX model, subgraphs and functions included, up to
/// `limit` nodes.
pub fn onnx_nodes(m: &OnnxModel, limit: usize) -> Vec<(String, &OnnxNode)> {
    let mut out = Vec::new();
    let mut stack: Vec<(String, &OnnxGraph)> = Vec::new();
    if let Some(g) = &m.graph {
        stack.push(("graph".into(), g));
    }
    for f in &m.functions {
        for n in &f.node {
            out.push((format!("function {}", f.name), n));
        }
    }
    while let Some((path, g)) = stack.pop() {
        for n in &g.node {
            if out.len() >= limit {
                return out;
            }
            out.push((path.clone(), n));
            for a in &n.attribute {
                if let Some(sg) = &a.g {
                    stack.push((format!("{path}/{}.{}", n.name, a.name), sg));
                }
                for sg in &a.graphs {
                    stack.push((format!("{path}/{}.{}", n.name, a.name), sg));
                }
            }
        }
    }
    out
}

/// Every tensor with external data: initializers and attribute tensors, subgraphs included.
pub fn onnx_external_tensors(m: &OnnxModel) -> Vec<&OnnxTensor> {
    let mut out = Vec::new();
    let mut stack: Vec<&OnnxGraph> = m.graph.iter().collect();
    while let Some(g) = stack.pop() {
        out.extend(g.initializer.iter().filter(|t| !t.external_data.is_empty()));
        for n in &g.node {
            for a in &n.attribute {
                out.extend(a.t.iter().filter(|t| !t.external_data.is_empty()));
                stack.extend(a.g.iter());
                stack.extend(a.graphs.iter());
            }
        }
    }
    out
}

/// Whether an external-data location escapes the model's directory (absolute, drive or UNC
/// path, URL, or `..` walking above the start).
pub fn location_escapes(loc: &str) -> bool {
    if loc.starts_with('/') || loc.starts_with('\\') || loc.contains("://") {
        return true;
    }
    let b = loc.as_bytes();
    if b.len() >= 2 && b[1] == b':' && b[0].is_ascii_alphabetic() {
        return true;
    }
    let mut depth: i64 = 0;
    for part in loc.split(['/', '\\']) {
        match part {
            "" | "." => {}
            ".." => {
                depth -= 1;
                if depth < 0 {
                    return true;
                }
            }
            _ => depth += 1,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert!(location_escapes("../../etc/passwd"));
        assert!(location_escapes("/etc/passwd"));
        assert!(location_escapes("C:\\Windows\\x"));
        assert!(location_escapes("a/../../b"));
        assert!(!location_escapes("weights/w.bin"));
        assert!(!location_escapes("a/../b.bin"));
    }

    #[test]
    fn decodes_onnx_subset_and_skips_raw_data() {
        let m = OnnxModel {
            ir_version: 8,
            producer_name: "t".into(),
            graph: Some(OnnxGraph {
                node: vec![OnnxNode {
                    name: "n".into(),
                    op_type: "Evil".into(),
                    attribute: vec![],
                    domain: "com.evil".into(),
                }],
                initializer: vec![OnnxTensor {
                    name: "w".into(),
                    external_data: vec![StringPair {
                        key: "location".into(),
                        value: "../secret".into(),
                    }],
                    data_location: 1,
                }],
            }),
            opset_import: vec![],
            functions: vec![],
        };
        let mut bytes = m.encode_to_vec();
        // A raw_data field (TensorProto tag 9) is skipped by the subset struct.
        let back = OnnxModel::decode(&bytes[..]).unwrap();
        assert_eq!(back, m);
        bytes.truncate(bytes.len() - 3);
        assert!(OnnxModel::decode(&bytes[..]).is_err());
        assert_eq!(onnx_nodes(&back, 10)[0].1.domain, "com.evil");
        assert_eq!(onnx_external_tensors(&back).len(), 1);
    }
}
