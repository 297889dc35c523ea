#!/usr/bin/env python3
"""Benign model files written by the real ML libraries (torch, scikit-learn, joblib, numpy,
onnx; each optional), for the false-positive regression test of the Lantern model scanner.

Usage: gen_benign_corpus.py OUT_DIR

Every file written here is what a user gets from an ordinary `save` call of the library, so
`lantern scan --fail-on low` must report nothing on any of them. The generated files are
committed under `crates/lantern-models/tests/benign/` (small sizes, fixed seeds) and the test
`benign_corpus` scans them with the binary; rerun this script to refresh them with newer
library versions. Nothing is ever loaded back. Libraries that are missing are skipped with a
note on stderr; `MANIFEST.txt` lists what was written and by which library version."""

import argparse
import collections
import datetime
import io
import os
import pathlib
import pickle
import sys
import zipfile

OUT = sys.argv[1]
WRITTEN = []


def path(name, lib):
    WRITTEN.append((name, lib))
    p = os.path.join(OUT, name)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    return p


def version(mod):
    return "%s %s" % (mod.__name__, getattr(mod, "__version__", "?"))


def gen_numpy():
    import numpy as np
    v = version(np)
    rng = np.random.default_rng(0)
    np.save(path("numpy/array_f32.npy", v), rng.standard_normal((8, 4)).astype(np.float32))
    np.savez(path("numpy/arrays.npz", v), a=np.arange(10), b=np.ones((2, 3)))
    np.savez_compressed(path("numpy/arrays_compressed.npz", v), w=np.zeros((16, 16)))
    with open(path("numpy/default_rng.pkl", v), "wb") as f:
        pickle.dump(np.random.default_rng(42), f)
    with open(path("numpy/random_state.pkl", v), "wb") as f:
        pickle.dump(np.random.RandomState(1), f)
    with open(path("numpy/seed_sequence.pkl", v), "wb") as f:
        pickle.dump(np.random.SeedSequence(7), f)
    with open(path("numpy/ndarray_proto2.pkl", v), "wb") as f:
        pickle.dump({"x": np.arange(6).reshape(2, 3), "s": np.float64(1.5)}, f, protocol=2)
    with open(path("numpy/masked_and_matrix.pkl", v), "wb") as f:
        pickle.dump({"m": np.ma.masked_array([1, 2, 3], mask=[0, 1, 0]), "mat": np.matrix([[1, 2]])}, f)


def gen_stdlib():
    """Plain Python values that training scripts pickle (hyper-parameters, metadata)."""
    v = "python %d.%d" % sys.version_info[:2]
    ns = argparse.Namespace(lr=0.01, epochs=3, name="run", path=pathlib.PurePosixPath("/d"))
    meta = {
        "hparams": ns,
        "when": datetime.datetime(2024, 1, 2, 3, 4, 5),
        "delta": datetime.timedelta(hours=1),
        "counts": collections.Counter("abca"),
        "order": collections.OrderedDict(a=1),
        "dd": collections.defaultdict(list),
        "set": {1, 2},
        "frozen": frozenset({3}),
        "bytes": b"\x00\x01",
    }
    for proto in (0, 1, 2, 4, 5):
        with open(path("stdlib/metadata_proto%d.pkl" % proto, v), "wb") as f:
            pickle.dump(meta, f, protocol=proto)


def gen_sklearn():
    import joblib
    import numpy as np
    import sklearn
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.tree import DecisionTreeClassifier
    v = "%s, %s" % (version(sklearn), version(joblib))
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 3))
    y = (X[:, 0] > 0).astype(int)
    models = {
        "logreg": LogisticRegression().fit(X, y),
        "pipeline": Pipeline([("s", StandardScaler()), ("m", LogisticRegression())]).fit(X, y),
        "forest": RandomForestClassifier(n_estimators=3, max_depth=3, random_state=0).fit(X, y),
        "tree": DecisionTreeClassifier(max_depth=3, random_state=0).fit(X, y),
    }
    for name, m in models.items():
        with open(path("sklearn/%s.pkl" % name, v), "wb") as f:
            pickle.dump(m, f)
        joblib.dump(m, path("sklearn/%s.joblib" % name, v))
    pipe = models["pipeline"]
    joblib.dump(pipe, path("sklearn/pipeline_zlib.joblib", v), compress=("zlib", 3))
    joblib.dump(pipe, path("sklearn/pipeline.sav", v), compress=("zlib", 3))
    joblib.dump(pipe, path("sklearn/pipeline.joblib.gz", v), compress=("gzip", 3))
    joblib.dump(pipe, path("sklearn/pipeline.joblib.xz", v), compress=("xz", 3))
    joblib.dump(pipe, path("sklearn/pipeline.joblib.bz2", v), compress=("bz2", 3))
    joblib.dump(pipe, path("sklearn/pipeline.joblib.lzma", v), compress=("lzma", 3))
    try:
        import lz4  # noqa: F401
        joblib.dump(pipe, path("sklearn/pipeline.joblib.lz4", v), compress=("lz4", 3))
    except ImportError:
        sys.stderr.write("lz4 not installed: no lz4 joblib file\n")


def gen_torch():
    import torch
    from torch import nn
    v = version(torch)
    torch.manual_seed(0)

    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Dropout(0.1), nn.LayerNorm(8),
                          nn.Linear(8, 2))
    torch.save(model.state_dict(), path("torch/state_dict.pt", v))
    torch.save(model.state_dict(), path("torch/state_dict.pth", v))
    bf16 = {k: t.to(torch.bfloat16) for k, t in model.state_dict().items()}
    torch.save(bf16, path("torch/pytorch_model.bin", v))
    many = {"layer%d.weight" % i: torch.zeros(2) for i in range(70)}
    torch.save(many, path("torch/many_tensors.pt", v))
    torch.save(model, path("torch/whole_module.pt", v))
    conv = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.MaxPool2d(2), nn.Flatten(),
                         nn.GELU(), nn.Identity())
    torch.save(conv, path("torch/whole_conv_module.pt", v))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model(torch.zeros(1, 4)).sum().backward()
    opt.step()
    ckpt = {
        "epoch": 3,
        "global_step": 120,
        "pytorch-lightning_version": "2.2.0",
        "state_dict": model.state_dict(),
        "optimizer_states": [opt.state_dict()],
        "lr_schedulers": [],
        "hparams_name": "args",
        "hyper_parameters": argparse.Namespace(lr=1e-3, batch_size=8, precision="bf16"),
        "rng": torch.get_rng_state(),
    }
    torch.save(ckpt, path("torch/lightning_like.ckpt", v))
    torch.save(model.state_dict(), path("torch/legacy_format.pt", v),
               _use_new_zipfile_serialization=False)
    # Python's own zipfile forced to ZIP64 records, as other writers produce.
    buf = io.BytesIO()
    torch.save({"w": torch.ones(3)}, buf)
    buf.seek(0)
    with zipfile.ZipFile(buf) as src, \
            zipfile.ZipFile(path("torch/rezipped_force_zip64.pt", v), "w") as dst:
        for info in src.infolist():
            with dst.open(info.filename, "w", force_zip64=True) as w:
                w.write(src.read(info.filename))


def gen_onnx():
    import onnx
    from onnx import TensorProto, helper
    v = version(onnx)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    w = helper.make_tensor("w", TensorProto.FLOAT, [4], [1.0, 2.0, 3.0, 4.0])
    node = helper.make_node("Add", ["x", "w"], ["y"])
    graph = helper.make_graph([node], "g", [x], [y], [w])
    onnx.save(helper.make_model(graph, producer_name="lantern-benign"),
              path("onnx/add.onnx", v))


def main():
    for gen in (gen_stdlib, gen_numpy, gen_sklearn, gen_torch, gen_onnx):
        try:
            gen()
        except ImportError as e:
            sys.stderr.write("%s skipped: %s\n" % (gen.__name__, e))
    with open(os.path.join(OUT, "MANIFEST.txt"), "w") as f:
        f.write("# file\twritten by\n")
        for name, lib in WRITTEN:
            f.write("%s\t%s\n" % (name, lib))


main()
