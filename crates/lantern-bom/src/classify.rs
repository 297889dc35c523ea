//! File classification for the BOM: is this file model weights, a dataset, an image, or neither?
//! Decided by extension and confirmed by magic bytes where the format has them.

/// Serialised model formats recognised on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ModelFormat {
    /// Hugging Face safetensors.
    Safetensors,
    /// llama.cpp GGUF.
    Gguf,
    /// ONNX protobuf.
    Onnx,
    /// PyTorch zip checkpoint (`.pt`, `.pth`, `pytorch_model.bin`).
    TorchZip,
    /// Bare pickle (`.pkl`, `.joblib`, legacy torch).
    Pickle,
    /// Keras v3 zip archive.
    Keras,
    /// HDF5 (Keras h5).
    Hdf5,
    /// TensorFlow Lite flatbuffer.
    TfLite,
    /// TensorFlow SavedModel protobuf.
    SavedModel,
    /// Core ML model.
    CoreMl,
    /// Flax msgpack weights.
    Msgpack,
}

impl ModelFormat {
    /// Short name used in properties.
    pub fn as_str(self) -> &'static str {
        match self {
            ModelFormat::Safetensors => "safetensors",
            ModelFormat::Gguf => "gguf",
            ModelFormat::Onnx => "onnx",
            ModelFormat::TorchZip => "pytorch",
            ModelFormat::Pickle => "pickle",
            ModelFormat::Keras => "keras",
            ModelFormat::Hdf5 => "hdf5",
            ModelFormat::TfLite => "tflite",
            ModelFormat::SavedModel => "tensorflow-savedmodel",
            ModelFormat::CoreMl => "coreml",
            ModelFormat::Msgpack => "flax-msgpack",
        }
    }
}

/// Dataset file formats recognised on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DataFormat {
    /// Comma- or tab-separated values.
    Csv,
    /// JSON lines.
    Jsonl,
    /// Apache Parquet.
    Parquet,
    /// Apache Arrow IPC file or stream (`.arrow`, `.feather`).
    Arrow,
    /// TFRecord.
    TfRecord,
    /// Apache Avro object container.
    Avro,
    /// NumPy array file.
    Numpy,
}

impl DataFormat {
    /// Short name used in properties.
    pub fn as_str(self) -> &'static str {
        match self {
            DataFormat::Csv => "csv",
            DataFormat::Jsonl => "jsonl",
            DataFormat::Parquet => "parquet",
            DataFormat::Arrow => "arrow",
            DataFormat::TfRecord => "tfrecord",
            DataFormat::Avro => "avro",
            DataFormat::Numpy => "numpy",
        }
    }
}

/// What a file is, for the BOM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FileClass {
    /// Model weights.
    Model(ModelFormat),
    /// A data file.
    Data(DataFormat),
    /// An image (part of an image-folder dataset).
    Image,
}

/// Bytes of a file's head [`classify`] needs.
pub const HEAD_LEN: usize = 16;

fn ext_of(name: &str) -> String {
    name.rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default()
}

fn is_pickle(head: &[u8]) -> bool {
    matches!(head, [0x80, 2..=5, ..])
}

fn is_zip(head: &[u8]) -> bool {
    head.starts_with(b"PK\x03\x04")
}

/// A safetensors file starts with a little-endian u64 header length followed by `{`.
fn is_safetensors(head: &[u8]) -> bool {
    head.len() >= 9 && head[8] == b'{' && head[..8].iter().any(|&b| b != 0)
}

/// Classify a file from its name and first [`HEAD_LEN`] bytes (fewer if the file is shorter).
/// Extensions that are ambiguous (`.bin`, `.pt`, `.pkl`, `.h5`) need the matching magic bytes.
pub fn classify(name: &str, head: &[u8]) -> Option<FileClass> {
    let lower = name.to_ascii_lowercase();
    if lower == "saved_model.pb" {
        return Some(FileClass::Model(ModelFormat::SavedModel));
    }
    let ext = ext_of(&lower);
    let class = match ext.as_str() {
        "safetensors" if is_safetensors(head) => FileClass::Model(ModelFormat::Safetensors),
        "gguf" if head.starts_with(b"GGUF") => FileClass::Model(ModelFormat::Gguf),
        "onnx" if !head.is_empty() => FileClass::Model(ModelFormat::Onnx),
        "pt" | "pth" | "bin" | "ckpt" | "mar" | "nemo" if is_zip(head) => {
            FileClass::Model(ModelFormat::TorchZip)
        }
        "pt" | "pth" | "bin" | "ckpt" | "pkl" | "pickle" | "joblib" if is_pickle(head) => {
            FileClass::Model(ModelFormat::Pickle)
        }
        "keras" if is_zip(head) => FileClass::Model(ModelFormat::Keras),
        "h5" | "hdf5" | "keras" if head.starts_with(b"\x89HDF\r\n\x1a\n") => {
            FileClass::Model(ModelFormat::Hdf5)
        }
        "tflite" if head.get(4..8) == Some(b"TFL3") => FileClass::Model(ModelFormat::TfLite),
        "mlmodel" if !head.is_empty() => FileClass::Model(ModelFormat::CoreMl),
        "msgpack" if !head.is_empty() && lower.contains("model") => {
            FileClass::Model(ModelFormat::Msgpack)
        }
        "csv" | "tsv" => FileClass::Data(DataFormat::Csv),
        "jsonl" | "ndjson" => FileClass::Data(DataFormat::Jsonl),
        "parquet" if head.starts_with(b"PAR1") => FileClass::Data(DataFormat::Parquet),
        "arrow" | "feather"
            if head.starts_with(b"ARROW1") || head.starts_with(b"\xff\xff\xff\xff") =>
        {
            FileClass::Data(DataFormat::Arrow)
        }
        "tfrecord" | "tfrecords" => FileClass::Data(DataFormat::TfRecord),
        "avro" if head.starts_with(b"Obj\x01") => FileClass::Data(DataFormat::Avro),
        "npy" if head.starts_with(b"\x93NUMPY") => FileClass::Data(DataFormat::Numpy),
        "npz" if is_zip(head) => FileClass::Data(DataFormat::Numpy),
        "jpg" | "jpeg" | "png" | "webp" | "bmp" | "gif" | "tif" | "tiff" => FileClass::Image,
        _ => return None,
    };
    Some(class)
}

/// Whether a file name is part of a Hugging Face style model directory besides the weights
/// (configuration, tokenizer, card): such files are listed as children of the model.
pub fn is_model_sidecar(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    matches!(
        lower.as_str(),
        "config.json"
            | "generation_config.json"
            | "tokenizer.json"
            | "tokenizer_config.json"
            | "special_tokens_map.json"
            | "vocab.json"
            | "vocab.txt"
            | "merges.txt"
            | "tokenizer.model"
            | "preprocessor_config.json"
            | "model.safetensors.index.json"
            | "pytorch_model.bin.index.json"
            | "adapter_config.json"
            | "modelfile"
            | "readme.md"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ambiguous_extensions_need_magic() {
        assert_eq!(classify("weights.bin", b"hello world"), None);
        assert_eq!(
            classify("pytorch_model.bin", b"PK\x03\x04rest"),
            Some(FileClass::Model(ModelFormat::TorchZip))
        );
        assert_eq!(
            classify("model.pkl", &[0x80, 4, 0x95]),
            Some(FileClass::Model(ModelFormat::Pickle))
        );
        assert_eq!(classify("notes.pkl", b"text"), None);
    }

    #[test]
    fn safetensors_and_gguf_by_magic() {
        let mut st = 2u64.to_le_bytes().to_vec();
        st.extend_from_slice(b"{}");
        assert_eq!(
            classify("model.safetensors", &st),
            Some(FileClass::Model(ModelFormat::Safetensors))
        );
        assert_eq!(classify("model.safetensors", b"not it at all"), None);
        assert_eq!(
            classify("x.GGUF", b"GGUF\x03\0\0\0"),
            Some(FileClass::Model(ModelFormat::Gguf))
        );
    }

    #[test]
    fn datasets_and_images() {
        assert_eq!(
            classify("train.csv", b"a,b"),
            Some(FileClass::Data(DataFormat::Csv))
        );
        assert_eq!(
            classify("x.parquet", b"PAR1\x15"),
            Some(FileClass::Data(DataFormat::Parquet))
        );
        assert_eq!(classify("x.parquet", b"nope"), None);
        assert_eq!(classify("cat.JPG", b""), Some(FileClass::Image));
        assert_eq!(classify("main.py", b"import torch"), None);
    }
}
