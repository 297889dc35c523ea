"""lantern.scan and the other API calls on real files, compared with the lantern command."""

from __future__ import annotations

import json
import pathlib
import pickle
import struct
import subprocess
import sys
import threading
import time

import pytest

import lantern
from conftest import REPO, Payload

EXAMPLE = REPO / "examples" / "leaky-project"
#: The wheel's console script, beside this venv's interpreter.
LANTERN = str(pathlib.Path(sys.executable).parent / "lantern")


def test_scan_finds_the_example_projects_findings():
    report = lantern.scan(EXAMPLE)
    rules = {f.rule_id for f in report}
    # Planted in examples/leaky-project (see its files): secrets, leaks, an unsafe model.
    for rule in ("aws.access-key-id", "github.pat-classic", "huggingface.access-token", "leak.env-file"):
        assert rule in rules, f"{rule} missing from {sorted(rules)}"
    assert any(f.category == "model" and f.severity >= lantern.Severity.HIGH for f in report)
    env = report.by_rule("leak.env-file")[0]
    assert env.severity == lantern.Severity.MEDIUM
    assert env.locations[0].path.endswith(".env")
    assert report.failed  # default threshold: low
    # Secrets are redacted as in the CLI's JSON.
    hf = report.by_rule("huggingface.access-token")[0]
    assert hf.secret is not None and len(hf.secret) < 20


def test_scan_matches_the_command_line(tmp_path: pathlib.Path):
    out = tmp_path / "cli.json"
    code = subprocess.run(
        [LANTERN, "scan", str(EXAMPLE), "--format", "json", "-o", str(out), "--no-progress"],
        check=False,
    ).returncode
    assert code == 1
    cli = json.loads(out.read_text())
    api = lantern.scan(EXAMPLE).to_dict()
    assert [f["rule_id"] for f in api["findings"]] == [f["rule_id"] for f in cli["findings"]]
    assert [f["locations"] for f in api["findings"]] == [f["locations"] for f in cli["findings"]]
    assert api["findings"][0] == {k: v for k, v in cli["findings"][0].items()}


def test_scan_only_models_and_fail_on(tmp_path: pathlib.Path, marker: pathlib.Path):
    (tmp_path / "model.pkl").write_bytes(pickle.dumps(Payload(marker)))
    (tmp_path / "notes.txt").write_text("nothing here\n")
    report = lantern.scan([tmp_path], only=["models"], fail_on="critical")
    [f] = report.findings
    assert f.rule_id == "pickle.dangerous-call"
    assert f.severity == lantern.Severity.CRITICAL
    assert f.locations[0].path.endswith("model.pkl")
    assert "os.system" in (f.detail or "") or "posix.system" in (f.detail or "")
    assert report.failed
    assert not marker.exists()
    clean = lantern.scan(tmp_path / "notes.txt", only="models")
    assert len(clean) == 0 and not clean.failed


def test_errors_raise_lantern_error(tmp_path: pathlib.Path):
    with pytest.raises(lantern.Error, match="no such file"):
        lantern.scan(tmp_path / "absent")
    with pytest.raises(lantern.Error, match="severity"):
        lantern.scan(tmp_path, fail_on="urgent")
    with pytest.raises(lantern.Error):
        lantern.scan(tmp_path, only=["nope"])


def test_scan_releases_the_gil(tmp_path: pathlib.Path):
    big = tmp_path / "big"
    big.mkdir()
    line = "x = 'nothing to see here at all, just filler text'\n" * 20000
    for i in range(40):
        (big / f"f{i}.py").write_text(line)
    ticks = 0
    done = threading.Event()

    def count():
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            time.sleep(0.001)

    t = threading.Thread(target=count)
    t.start()
    start = time.perf_counter()
    lantern.scan(big, only=["secrets"])
    elapsed = time.perf_counter() - start
    done.set()
    t.join()
    # With the GIL held the counter could not run during the scan at all.
    assert elapsed < 0.05 or ticks >= 5, (elapsed, ticks)


def test_sign_verify_round_trip(tmp_path: pathlib.Path):
    model = tmp_path / "model"
    model.mkdir()
    (model / "weights.bin").write_bytes(b"\x00" * 1000)
    (model / "config.json").write_text("{}")
    priv, pub = lantern.keygen(tmp_path / "k")
    sig = lantern.sign(model, priv)
    assert sig == str(model / "model.sig")
    details = lantern.verify(model, sig, pub)
    assert details["verified"] is True and details["files"] == 2
    (model / "weights.bin").write_bytes(b"\x01" * 1000)
    with pytest.raises(lantern.VerificationFailed) as e:
        lantern.verify(model, sig, pub)
    assert e.value.details["changed"] == ["weights.bin"]
    _, other = lantern.keygen(tmp_path / "other")
    with pytest.raises(lantern.VerificationFailed):
        lantern.verify(model, sig, other)
    with pytest.raises(lantern.Error):
        lantern.verify(model, tmp_path / "absent.sig", pub)


def test_bom_is_cyclonedx(tmp_path: pathlib.Path):
    (tmp_path / "requirements.txt").write_text("numpy==1.26.4\n")
    header = json.dumps({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}).encode()
    (tmp_path / "model.safetensors").write_bytes(struct.pack("<Q", len(header)) + header + bytes(8))
    doc = lantern.bom(tmp_path)
    assert doc["bomFormat"] == "CycloneDX"
    assert doc["specVersion"] == "1.6"
    kinds = sorted((c["type"], c["name"]) for c in doc["components"])
    assert kinds == [("library", "numpy"), ("machine-learning-model", "model.safetensors")]


def test_data_manifest_and_audit(tmp_path: pathlib.Path):
    rows = [{"id": i, "text": f"sample number {i}", "label": i % 2} for i in range(50)]
    path = tmp_path / "train.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    m = lantern.data.manifest(path, key="id", label="label")
    assert m["records"] if "records" in m else m, m
    again = lantern.data.manifest(path, key="id", label="label")
    assert json.dumps(m, sort_keys=True) == json.dumps(again, sort_keys=True)
    report = lantern.data.audit(path, label="label", text="text")
    assert isinstance(report, lantern.Report)
    assert not report.failed, [str(f) for f in report]


def test_readme_quick_start_runs(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture):
    readme = (REPO / "README.md").read_text()
    start = readme.index("```python\n") + len("```python\n")
    block = readme[start : readme.index("```", start)]
    assert len(block.strip().splitlines()) == 3
    monkeypatch.chdir(REPO)
    exec(compile(block, "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "aws.access-key-id" in out and "pickle.dangerous-call" in out
    assert lantern.is_protected()
