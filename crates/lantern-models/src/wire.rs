//! Streaming protobuf compaction: walks the wire format of an ONNX `ModelProto` or a
//! TensorFlow `SavedModel` from a reader and copies out only the fields the subset structs
//! in `proto` decode. Everything else (tensor `raw_data`, initializer payloads, constants)
//! is read and discarded without being held, so peak memory follows the graph, not the
//! weights. The copy is then decoded with prost as before.

use std::io::{self, Read};

/// Largest compacted copy kept (the graph without weights). Over it the model is reported
/// as not fully checked.
pub const MAX_COMPACT: usize = 96 * 1024 * 1024;
/// Deepest message nesting followed (subgraphs inside attributes inside graphs...).
const MAX_NEST: u32 = 100;

/// Message types of the schema walked.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    /// ONNX `ModelProto`.
    OnnxModel,
    OnnxOpset,
    OnnxGraph,
    OnnxNode,
    OnnxAttr,
    OnnxTensor,
    OnnxPair,
    OnnxFunction,
    /// TensorFlow `SavedModel`.
    SavedModel,
    TfMeta,
    TfGraph,
    TfNode,
    TfLibrary,
    TfFunction,
    TfOpDef,
}

/// What happens to one field of a message.
enum Field {
    /// A sub-message walked and compacted.
    Msg(Kind),
    /// A scalar or string copied as is.
    Keep,
    /// Read and discarded.
    Skip,
}

/// The fields of `kind` the `proto` structs decode (tags as in `proto.rs`).
fn field(kind: Kind, tag: u64) -> Field {
    use Field::{Keep, Msg};
    use Kind::*;
    match (kind, tag) {
        (OnnxModel, 1 | 2) => Keep,
        (OnnxModel, 7) => Msg(OnnxGraph),
        (OnnxModel, 8) => Msg(OnnxOpset),
        (OnnxModel, 25) => Msg(OnnxFunction),
        (OnnxOpset, 1 | 2) => Keep,
        (OnnxGraph, 1) => Msg(OnnxNode),
        (OnnxGraph, 5) => Msg(OnnxTensor),
        (OnnxNode, 3 | 4 | 7) => Keep,
        (OnnxNode, 5) => Msg(OnnxAttr),
        (OnnxAttr, 1) => Keep,
        (OnnxAttr, 5) => Msg(OnnxTensor),
        (OnnxAttr, 6 | 11) => Msg(OnnxGraph),
        (OnnxTensor, 8 | 14) => Keep,
        (OnnxTensor, 13) => Msg(OnnxPair),
        (OnnxPair, 1 | 2) => Keep,
        (OnnxFunction, 1 | 10) => Keep,
        (OnnxFunction, 7) => Msg(OnnxNode),
        (SavedModel, 1) => Keep,
        (SavedModel, 2) => Msg(TfMeta),
        (TfMeta, 2) => Msg(TfGraph),
        (TfGraph, 1) => Msg(TfNode),
        (TfGraph, 2) => Msg(TfLibrary),
        (TfNode, 1 | 2) => Keep,
        (TfLibrary, 1) => Msg(TfFunction),
        (TfFunction, 1) => Msg(TfOpDef),
        (TfFunction, 3) => Msg(TfNode),
        (TfOpDef, 1) => Keep,
        _ => Field::Skip,
    }
}

/// Why a model could not be compacted.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// Not valid protobuf wire data (reported as a malformed model).
    #[error("malformed protobuf at byte {at}: {what}")]
    Malformed { at: u64, what: &'static str },
    /// The kept fields alone are over [`MAX_COMPACT`] or nest too deep (not fully checked).
    #[error("{0}")]
    Limit(String),
    /// Reading failed.
    #[error(transparent)]
    Io(#[from] io::Error),
}

struct Walker<R> {
    r: R,
    pos: u64,
    out: Vec<u8>,
    cap: usize,
}

/// Compacts the `len`-byte message of type `kind` read from `r`: the result decodes with the
/// matching `proto` struct to the same value as the whole input would.
pub fn compact<R: Read>(r: R, kind: Kind, len: u64, cap: usize) -> Result<Vec<u8>, WireError> {
    let mut w = Walker {
        r,
        pos: 0,
        out: Vec::new(),
        cap,
    };
    w.message(kind, len, 0)?;
    Ok(w.out)
}

impl<R: Read> Walker<R> {
    fn byte(&mut self) -> Result<u8, WireError> {
        let mut b = [0u8; 1];
        match self.r.read_exact(&mut b) {
            Ok(()) => {
                self.pos += 1;
                Ok(b[0])
            }
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Err(self.bad("truncated")),
            Err(e) => Err(e.into()),
        }
    }

    fn bad(&self, what: &'static str) -> WireError {
        WireError::Malformed { at: self.pos, what }
    }

    fn varint(&mut self) -> Result<u64, WireError> {
        let mut v = 0u64;
        for i in 0..10 {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(self.bad("varint over 10 bytes"))
    }

    fn put(&mut self, bytes: &[u8]) -> Result<(), WireError> {
        if self.out.len() + bytes.len() > self.cap {
            return Err(self.over());
        }
        self.out.extend_from_slice(bytes);
        Ok(())
    }

    fn over(&self) -> WireError {
        WireError::Limit(format!(
            "graph without weights is over {} bytes; not fully checked",
            self.cap
        ))
    }

    fn put_varint(&mut self, mut v: u64) -> Result<(), WireError> {
        let mut buf = [0u8; 10];
        let mut n = 0;
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                buf[n] = b;
                n += 1;
                break;
            }
            buf[n] = b | 0x80;
            n += 1;
        }
        self.put(&buf[..n])
    }

    /// Reads `n` bytes, copying them out when `keep`, discarding them otherwise.
    fn bytes(&mut self, n: u64, keep: bool) -> Result<(), WireError> {
        if keep {
            if self.out.len() as u64 + n > self.cap as u64 {
                return Err(self.over());
            }
            let start = self.out.len();
            self.out.resize(start + n as usize, 0);
            let r = self.r.read_exact(&mut self.out[start..]);
            self.pos += n;
            return r.map_err(|e| self.eof(e));
        }
        let got = io::copy(&mut (&mut self.r).take(n), &mut io::sink())?;
        self.pos += got;
        if got < n {
            return Err(self.bad("truncated"));
        }
        Ok(())
    }

    fn eof(&self, e: io::Error) -> WireError {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            self.bad("truncated")
        } else {
            e.into()
        }
    }

    /// Walks one message of type `kind` ending `len` bytes from here.
    fn message(&mut self, kind: Kind, len: u64, depth: u32) -> Result<(), WireError> {
        if depth > MAX_NEST {
            return Err(WireError::Limit(format!(
                "messages nested deeper than {MAX_NEST} levels; not fully checked"
            )));
        }
        let end = self.pos.saturating_add(len);
        while self.pos < end {
            let key = self.varint()?;
            let f = field(kind, key >> 3);
            let keep = matches!(f, Field::Keep);
            match key & 7 {
                0 => {
                    let v = self.varint()?;
                    if keep {
                        self.put_varint(key)?;
                        self.put_varint(v)?;
                    }
                }
                1 | 5 => {
                    let n = if key & 7 == 1 { 8 } else { 4 };
                    if keep {
                        self.put_varint(key)?;
                    }
                    self.bytes(n, keep)?;
                }
                2 => {
                    let n = self.varint()?;
                    if n > end.saturating_sub(self.pos) {
                        return Err(self.bad("length past the end of its message"));
                    }
                    self.delimited(key, f, n, depth)?;
                }
                _ => return Err(self.bad("unsupported wire type")),
            }
        }
        if self.pos != end {
            return Err(self.bad("field runs past the end of its message"));
        }
        Ok(())
    }

    /// A length-delimited field of `n` bytes: a kept string, a walked sub-message (its
    /// length patched once known, as a 5-byte varint), or skipped data.
    fn delimited(&mut self, key: u64, f: Field, n: u64, depth: u32) -> Result<(), WireError> {
        match f {
            Field::Skip => self.bytes(n, false),
            Field::Keep => {
                self.put_varint(key)?;
                self.put_varint(n)?;
                self.bytes(n, true)
            }
            Field::Msg(k) => {
                self.put_varint(key)?;
                let at = self.out.len();
                self.put(&[0x80, 0x80, 0x80, 0x80, 0])?;
                self.message(k, n, depth + 1)?;
                let sub = (self.out.len() - at - 5) as u64;
                for (i, b) in self.out[at..at + 5].iter_mut().enumerate() {
                    let part = ((sub >> (7 * i)) & 0x7f) as u8;
                    *b = if i < 4 { part | 0x80 } else { part };
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::OnnxModel;
    use prost::Message;

    fn varint(mut v: u64, out: &mut Vec<u8>) {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }

    fn field(tag: u64, body: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        varint(tag << 3 | 2, &mut v);
        varint(body.len() as u64, &mut v);
        v.extend_from_slice(body);
        v
    }

    /// A model with a custom-domain node and an initializer of `raw` weight bytes stored
    /// inline plus an external-data location escaping the model directory.
    fn model(raw: usize) -> Vec<u8> {
        let mut node = field(4, b"Evil");
        node.extend(field(7, b"evil.custom"));
        let mut pair = field(1, b"location");
        pair.extend(field(2, b"../../etc/passwd"));
        let mut tensor = field(8, b"w");
        tensor.extend(field(9, &vec![7u8; raw]));
        tensor.extend(field(13, &pair));
        tensor.extend([14 << 3, 1]);
        let mut graph = field(1, &node);
        graph.extend(field(5, &tensor));
        let mut m = vec![1 << 3, 9];
        m.extend(field(8, &field(1, b"evil.custom")));
        m.extend(field(7, &graph));
        m
    }

    #[test]
    fn compacts_away_weights_and_decodes_the_same() {
        let data = model(1 << 20);
        let small = compact(&data[..], Kind::OnnxModel, data.len() as u64, MAX_COMPACT).unwrap();
        assert!(small.len() < 200, "kept {} bytes", small.len());
        let whole = OnnxModel::decode(&data[..]).unwrap();
        let part = OnnxModel::decode(&small[..]).unwrap();
        assert_eq!(whole, part);
        let g = part.graph.unwrap();
        assert_eq!(g.node[0].domain, "evil.custom");
        assert_eq!(g.initializer[0].external_data[0].value, "../../etc/passwd");
        assert_eq!(g.initializer[0].data_location, 1);
    }

    #[test]
    fn saved_model_keeps_ops_and_drops_tensor_contents() {
        use crate::proto::SavedModel;
        // NodeDef { name, op, attr (tag 5, a large tensor value: skipped) }.
        let mut node = field(1, b"read");
        node.extend(field(2, b"ReadFile"));
        node.extend(field(5, &vec![1u8; 1 << 20]));
        let mut fnode = field(1, b"w");
        fnode.extend(field(2, b"WriteFile"));
        let mut func = field(1, &field(1, b"f"));
        func.extend(field(3, &fnode));
        let mut graph = field(1, &node);
        graph.extend(field(2, &field(1, &func)));
        let mut m = vec![1 << 3, 1];
        m.extend(field(2, &field(2, &graph)));
        let small = compact(&m[..], Kind::SavedModel, m.len() as u64, MAX_COMPACT).unwrap();
        assert!(small.len() < 100, "kept {} bytes", small.len());
        let whole = SavedModel::decode(&m[..]).unwrap();
        let part = SavedModel::decode(&small[..]).unwrap();
        assert_eq!(whole, part);
        let g = part.meta_graphs[0].graph_def.as_ref().unwrap();
        assert_eq!(g.node[0].op, "ReadFile");
        assert_eq!(
            g.library.as_ref().unwrap().function[0].node_def[0].op,
            "WriteFile"
        );
    }

    #[test]
    fn malformed_and_over_cap_are_told_apart() {
        let data = model(16);
        let cut = &data[..data.len() - 3];
        let e = compact(cut, Kind::OnnxModel, cut.len() as u64, MAX_COMPACT).unwrap_err();
        assert!(matches!(e, WireError::Malformed { .. }), "{e}");
        let e = compact(&data[..], Kind::OnnxModel, data.len() as u64, 8).unwrap_err();
        assert!(matches!(e, WireError::Limit(_)), "{e}");
        let group = [1u8 << 3 | 3];
        let e = compact(&group[..], Kind::OnnxModel, 1, MAX_COMPACT).unwrap_err();
        assert!(matches!(e, WireError::Malformed { .. }), "{e}");
    }

    #[test]
    fn nesting_is_bounded() {
        // Graph -> node -> attribute -> graph ... deeper than MAX_NEST.
        let mut g = Vec::new();
        for _ in 0..=MAX_NEST {
            g = field(1, &field(5, &field(6, &g)));
        }
        let m = field(7, &g);
        let e = compact(&m[..], Kind::OnnxModel, m.len() as u64, MAX_COMPACT).unwrap_err();
        assert!(matches!(e, WireError::Limit(_)), "{e}");
    }
}
