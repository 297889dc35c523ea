#!/usr/bin/env python3
"""Fixtures written by the real libraries (numpy, joblib, h5py; see .ci/requirements-models.txt)
for the Lantern model scanner: joblib files with inline array bytes, NumPy object arrays, HDF5
files with a Keras `model_config` attribute. Same manifest format as gen_fixtures.py.
Nothing is ever loaded back."""

import json
import os
import sys

try:
    import h5py
    import joblib
    import numpy as np
except ImportError as e:  # the Rust test turns this into a clear failure
    sys.stderr.write("missing Python package for real-library fixtures: %s "
                     "(install .ci/requirements-models.txt)\n" % e)
    sys.exit(3)

OUT = sys.argv[1]
MANIFEST = []


def entry(name, expect, rule=None, detail=None, note=""):
    MANIFEST.append({"file": name, "expect": expect, "rule": rule, "detail": detail, "note": note})
    path = os.path.join(OUT, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    return path


class Payload:
    """Pickles to os.system(cmd) (written as posix.system / nt.system by the stdlib pickler)."""

    def __init__(self, cmd):
        self.cmd = cmd

    def __reduce__(self):
        return (os.system, (self.cmd,))


def keras2_config(extra=()):
    layers = [{"class_name": "Dense", "config": {"name": "dense", "units": 4, "activation": "relu"}}]
    layers += list(extra)
    return {"class_name": "Sequential", "config": {"name": "sequential", "layers": layers},
            "keras_version": "2.15.0", "backend": "tensorflow"}


LAMBDA2 = {"class_name": "Lambda", "config": {
    "name": "lambda", "function": ["4wEAAAAAAAAAAAAAAAEAAAAEAAAAQwAAAHMMAAAAdABqAWQBgwEBAHwAUwA=", None, None],
    "function_type": "lambda", "module": "__main__"}}


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(0)
    arrays = {"coef": rng.standard_normal((64, 32)).astype(np.float32),
              "intercept": np.arange(32, dtype=np.int64),
              "labels": np.array(["cat", "dog"]),
              "mask": np.ones(7, dtype=bool)}

    # joblib: arrays are written as raw bytes between pickle opcodes
    joblib.dump(arrays, entry("real/benign/model.joblib", "clean", note="uncompressed joblib"))
    joblib.dump(arrays, entry("real/benign/model_z.joblib", "clean", note="zlib joblib"), compress=3)
    joblib.dump({"x": np.array([1, "a", None], dtype=object), "w": arrays["coef"]},
                entry("real/benign/object.joblib", "clean", note="object array = nested pickle"))
    joblib.dump([arrays["coef"], Payload("id")],
                entry("real/malicious/after_array.joblib", "critical", rule="pickle.dangerous-call",
                      detail='system("id")', note="payload after inline array bytes"))
    joblib.dump({"x": np.array([Payload("id")], dtype=object)},
                entry("real/malicious/in_object_array.joblib", "critical", rule="pickle.dangerous-call",
                      note="payload inside an object array's nested pickle"))
    joblib.dump([arrays["coef"], Payload("id")],
                entry("real/malicious/after_array_z.joblib", "critical", rule="pickle.dangerous-call"),
                compress=("gzip", 3))

    for comp in ("xz", "lzma"):
        joblib.dump([arrays["coef"], Payload("id")],
                    entry("real/malicious/after_array_%s.joblib" % comp, "critical",
                          rule="pickle.dangerous-call"), compress=(comp, 3))
        joblib.dump(arrays, entry("real/benign/model_%s.joblib" % comp, "clean"), compress=(comp, 3))

    # NumPy
    np.save(entry("real/benign/weights.npy", "clean"), arrays["coef"])
    np.savez_compressed(entry("real/benign/arrays.npz", "clean", note="deflated members"), **arrays)
    np.save(entry("real/malicious/object.npy", "critical", rule="pickle.dangerous-call"),
            np.array([Payload("id"), 1], dtype=object), allow_pickle=True)
    np.savez(entry("real/malicious/object.npz", "critical", rule="pickle.dangerous-call"),
             w=arrays["coef"], evil=np.array([Payload("id")], dtype=object))

    # HDF5 (Keras 2 layout): model_config as fixed-length bytes or as a variable-length string
    for name, cfg, expect, rule in (("benign/model_bytes.h5", keras2_config(), "clean", None),
                                    ("malicious/lambda_bytes.h5", keras2_config([LAMBDA2]), "critical",
                                     "keras.lambda-layer")):
        with h5py.File(entry("real/" + name, expect, rule=rule), "w") as f:
            f.attrs["model_config"] = json.dumps(cfg).encode("utf8")
            f.attrs["keras_version"] = b"2.15.0"
            g = f.create_group("model_weights/dense")
            g.create_dataset("kernel:0", data=arrays["coef"])
    for name, cfg, expect, rule in (("benign/model_str.h5", keras2_config(), "clean", None),
                                    ("malicious/lambda_str.h5", keras2_config([LAMBDA2]), "critical",
                                     "keras.lambda-layer")):
        with h5py.File(entry("real/" + name, expect, rule=rule), "w") as f:
            f.attrs["model_config"] = json.dumps(cfg)
            f.create_dataset("w", data=arrays["coef"])

    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(MANIFEST, f, indent=1)


if __name__ == "__main__":
    main()
