"""protect(): unsafe pickles are stopped before they run, safe ones load unchanged.

Every malicious file would write MARKER when loaded; each test checks it never appears.
"""

from __future__ import annotations

import io
import os
import pathlib
import pickle
import subprocess
import sys

import joblib
import numpy as np
import pytest

import lantern
from conftest import Payload, Plain


def state_dict():
    return {"layer.weight": np.arange(12, dtype=np.float32).reshape(3, 4), "step": 7, "name": "ok"}


def assert_same(a, b):
    assert a.keys() == b.keys()
    np.testing.assert_array_equal(a["layer.weight"], b["layer.weight"])
    assert a["step"] == b["step"] and a["name"] == b["name"]


@pytest.mark.parametrize("how", ["system", "exec"])
def test_pickle_load_stopped(tmp_path: pathlib.Path, marker: pathlib.Path, how: str):
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps({"w": Payload(marker, how)}))
    lantern.protect()
    with open(path, "rb") as f, pytest.raises(lantern.UnsafeModel) as e:
        pickle.load(f)
    assert not marker.exists()
    assert e.value.findings[0].rule_id == "pickle.dangerous-call"
    assert e.value.findings[0].severity == lantern.Severity.CRITICAL
    assert "pickle.dangerous-call" in str(e.value)
    assert str(path) in str(e.value)


def test_pickle_loads_and_unpickler_stopped(marker: pathlib.Path):
    data = pickle.dumps(Payload(marker))
    with lantern.protected():
        with pytest.raises(lantern.UnsafeModel):
            pickle.loads(data)
        with pytest.raises(lantern.UnsafeModel):
            pickle.Unpickler(io.BytesIO(data)).load()
        with pytest.raises(lantern.UnsafeModel):
            pickle._loads(data)  # the pure-Python unpickler too
    assert not marker.exists()


def test_unseekable_stream_is_checked(marker: pathlib.Path):
    r, w = os.pipe()
    os.write(w, pickle.dumps(Payload(marker)))
    os.close(w)
    lantern.protect()
    with os.fdopen(r, "rb", buffering=0) as f, pytest.raises(lantern.UnsafeModel):
        pickle.load(f)
    assert not marker.exists()


@pytest.mark.parametrize("compress", [0, 3, "lzma"])
def test_joblib_load_stopped(tmp_path: pathlib.Path, marker: pathlib.Path, compress):
    path = tmp_path / "model.joblib"
    joblib.dump({"clf": Payload(marker), "w": np.ones(3)}, path, compress=compress)
    lantern.protect()
    with pytest.raises(lantern.UnsafeModel) as e:
        joblib.load(path)
    assert not marker.exists()
    assert any(f.rule_id == "pickle.dangerous-call" for f in e.value.findings)


def test_numpy_load_allow_pickle_stopped(tmp_path: pathlib.Path, marker: pathlib.Path):
    npy = tmp_path / "obj.npy"
    np.save(npy, np.array([Payload(marker)], dtype=object), allow_pickle=True)
    raw = tmp_path / "raw.pkl"
    raw.write_bytes(pickle.dumps(Payload(marker)))
    lantern.protect()
    for path in (npy, raw):
        with pytest.raises(lantern.UnsafeModel):
            np.load(path, allow_pickle=True)
    with open(npy, "rb") as f, pytest.raises(lantern.UnsafeModel):
        np.load(f, allow_pickle=True)
    assert not marker.exists()


def test_benign_state_dict_loads_unchanged(tmp_path: pathlib.Path):
    sd = state_dict()
    p = tmp_path / "sd.pkl"
    p.write_bytes(pickle.dumps(sd))
    jb = tmp_path / "sd.joblib"
    joblib.dump(sd, jb, compress=3)
    npz = tmp_path / "sd.npz"
    np.savez(npz, w=sd["layer.weight"])
    lantern.protect()
    with open(p, "rb") as f:
        assert_same(pickle.load(f), sd)
    assert_same(pickle.loads(p.read_bytes()), sd)
    assert_same(joblib.load(jb), sd)
    np.testing.assert_array_equal(np.load(npz, allow_pickle=True)["w"], sd["layer.weight"])
    with open(p, "rb") as f:  # the stream is left where the unpickler expects it
        f.read(0)
        assert_same(pickle.Unpickler(f).load(), sd)


def test_two_pickles_in_one_stream(tmp_path: pathlib.Path):
    buf = io.BytesIO()
    pickle.dump([1, 2], buf)
    pickle.dump({"a": 3}, buf)
    buf.seek(0)
    lantern.protect()
    assert pickle.load(buf) == [1, 2]
    assert pickle.load(buf) == {"a": 3}


def test_threshold_and_allow_globals(tmp_path: pathlib.Path):
    # A class of the caller's own: an unknown import, stopped at medium, allowed when listed.
    data = pickle.dumps(Plain(3))
    with lantern.protected(fail_on="high"):
        assert pickle.loads(data) == Plain(3)
    with lantern.protected(fail_on="info"):
        with pytest.raises(lantern.UnsafeModel) as e:
            pickle.loads(data)
        assert e.value.findings[0].properties["global"] == "conftest.Plain"
    with lantern.protected(fail_on="info", allow_globals=["conftest.Plain"]):
        assert pickle.loads(data) == Plain(3)


def test_protected_restores_the_originals(marker: pathlib.Path):
    orig = (pickle.load, pickle.loads, pickle.Unpickler, np.load, joblib.load)
    with lantern.protected():
        assert lantern.is_protected()
        assert pickle.loads is not orig[1]
    assert not lantern.is_protected()
    assert (pickle.load, pickle.loads, pickle.Unpickler, np.load, joblib.load) == orig


def test_library_imported_after_protect_is_hooked(tmp_path: pathlib.Path, marker: pathlib.Path, python: str):
    path = tmp_path / "m.joblib"
    joblib.dump(Payload(marker), path)
    code = (
        "import lantern, sys; lantern.protect()\n"
        "assert 'joblib' not in sys.modules\n"
        "import joblib\n"
        f"try:\n    joblib.load({str(path)!r})\nexcept lantern.UnsafeModel as e:\n    print('STOPPED', e.findings[0].rule_id)\n"
    )
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True)
    assert "STOPPED pickle.dangerous-call" in out.stdout, out.stderr
    assert not marker.exists()


def test_environment_switch(tmp_path: pathlib.Path, marker: pathlib.Path, python: str):
    path = tmp_path / "m.pkl"
    path.write_bytes(pickle.dumps(Payload(marker)))
    code = f"import pickle; pickle.load(open({str(path)!r}, 'rb'))"
    env = dict(os.environ, LANTERN_PROTECT="1")
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 1
    assert "lantern.UnsafeModel" in out.stderr or "UnsafeModel" in out.stderr, out.stderr
    assert not marker.exists()
    # Without the variable nothing is imported at start-up.
    off = subprocess.run(
        [python, "-c", "import sys; print('lantern' in sys.modules)"],
        capture_output=True, text=True, check=True,
        env={k: v for k, v in os.environ.items() if k != "LANTERN_PROTECT"},
    )
    assert off.stdout.strip() == "False"


def make_signed_dir(tmp_path: pathlib.Path):
    model = tmp_path / "model"
    model.mkdir()
    joblib.dump(state_dict(), model / "weights.joblib")
    (model / "config.json").write_text("{}")
    priv, pub = lantern.keygen(tmp_path / "k")
    return model, priv, pub


def test_require_signature(tmp_path: pathlib.Path):
    model, priv, pub = make_signed_dir(tmp_path)
    lantern.protect(require_signature=pub)
    with pytest.raises(lantern.VerificationFailed, match="no signature"):
        joblib.load(model / "weights.joblib")
    lantern.sign(model, priv)
    assert_same(joblib.load(model / "weights.joblib"), state_dict())
    # Changed after signing: refused.
    joblib.dump({"other": 1}, model / "weights.joblib")
    with pytest.raises(lantern.VerificationFailed):
        joblib.load(model / "weights.joblib")


def test_require_signature_wrong_key(tmp_path: pathlib.Path):
    model, priv, _ = make_signed_dir(tmp_path)
    lantern.sign(model, priv)
    _, other = lantern.keygen(tmp_path / "other")
    with lantern.protected(require_signature=other):
        with pytest.raises(lantern.VerificationFailed):
            joblib.load(model / "weights.joblib")


def test_check_file_on_a_directory(tmp_path: pathlib.Path, marker: pathlib.Path):
    d = tmp_path / "repo"
    d.mkdir()
    (d / "config.json").write_text("{}")
    (d / "pytorch_model.bin").write_bytes(pickle.dumps(Payload(marker)))
    with pytest.raises(lantern.UnsafeModel) as e:
        lantern.check_file(d)
    assert e.value.path.endswith("pytorch_model.bin")
    assert not marker.exists()


def test_not_fully_checked_is_refused_unless_allowed(tmp_path: pathlib.Path):
    """A checkpoint zip without its central directory (cut short): the scanner reads what it
    can and warns; protect() does not pass what it could not fully check."""
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("archive/data.pkl", pickle.dumps(state_dict()))
    path = tmp_path / "cut.pt"
    path.write_bytes(buf.getvalue()[:-30])
    with pytest.raises(lantern.UnsafeModel, match="could not be fully checked") as e:
        lantern.check_file(path)
    assert e.value.incomplete and "central directory" in e.value.incomplete[0]
    with lantern.protected(allow_incomplete=True):
        lantern.check_file(path)


def test_pickle_behind_an_unrecognised_header_is_stopped(tmp_path: pathlib.Path, marker: pathlib.Path):
    """MARK then POP before a protocol-0 payload: CPython pops the mark and runs the rest. The
    analyser does the same, so the call itself is named (pickle.dangerous-call, critical) even
    though the file has no model name or header."""
    body = pickle.dumps(Payload(marker), protocol=0)
    path = tmp_path / "weights.bin"
    path.write_bytes(b"(0" + body)
    lantern.protect()
    with pytest.raises(lantern.UnsafeModel, match="pickle.dangerous-call"):
        joblib.load(path)
    with open(path, "rb") as f, pytest.raises(lantern.UnsafeModel):
        pickle.load(f)
    with pytest.raises(lantern.UnsafeModel):
        pickle.loads(path.read_bytes())
    assert not marker.exists()
    # A directory check does not treat config files as pickles (no false alarm at medium).
    d = tmp_path / "ckpt"
    d.mkdir()
    (d / "config.json").write_text('{"hidden_size": 8}')
    (d / "vocab.txt").write_text("[PAD]\n[UNK]\n")
    lantern.check_file(d, lantern._protect._Settings(lantern.Severity.MEDIUM, None, (), False))
