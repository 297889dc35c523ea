"""protect() with PyTorch and transformers (skipped unless they are installed: the PyPI torch
wheel is too big for the main CI job; .ci/test-python-torch runs these)."""

from __future__ import annotations

import pathlib
import time

import pytest

import lantern
from conftest import Payload

torch = pytest.importorskip("torch")


def test_torch_load_stopped(tmp_path: pathlib.Path, marker: pathlib.Path):
    path = tmp_path / "model.pt"
    torch.save({"w": torch.zeros(4), "hook": Payload(marker)}, path)
    lantern.protect()
    with pytest.raises(lantern.UnsafeModel) as e:
        torch.load(path, weights_only=False)
    assert e.value.findings[0].rule_id == "pickle.dangerous-call"
    with open(path, "rb") as f, pytest.raises(lantern.UnsafeModel):
        torch.load(f, weights_only=False)
    assert not marker.exists()


def test_torch_benign_state_dict_unchanged(tmp_path: pathlib.Path):
    sd = {"fc.weight": torch.randn(8, 4), "fc.bias": torch.randn(8)}
    path = tmp_path / "sd.pt"
    torch.save(sd, path)
    lantern.protect()
    for weights_only in (False, True):
        got = torch.load(path, weights_only=weights_only)
        assert got.keys() == sd.keys()
        for k in sd:
            assert torch.equal(got[k], sd[k])


def test_check_time_does_not_grow_with_weights(tmp_path: pathlib.Path):
    small, big = tmp_path / "small.pt", tmp_path / "big.pt"
    torch.save({"w": torch.zeros(1024)}, small)
    torch.save({"w": torch.zeros(64 * 1024 * 1024)}, big)  # 256 MiB of weights

    def best(path: pathlib.Path) -> float:
        times = []
        for _ in range(5):
            lantern._protect._passed.clear()
            t = time.perf_counter()
            lantern.check_file(path)
            times.append(time.perf_counter() - t)
        return min(times)

    assert best(big) < best(small) * 5 + 0.02, (best(big), best(small))


def test_from_pretrained_local_dir_stopped(tmp_path: pathlib.Path, marker: pathlib.Path):
    transformers = pytest.importorskip("transformers")
    cfg = transformers.BertConfig(
        vocab_size=32, hidden_size=8, num_hidden_layers=1, num_attention_heads=1, intermediate_size=8
    )
    d = tmp_path / "checkpoint"
    cfg.save_pretrained(d)
    torch.save({"bert.embeddings.word_embeddings.weight": Payload(marker)}, d / "pytorch_model.bin")
    lantern.protect()
    with pytest.raises(lantern.UnsafeModel) as e:
        transformers.BertModel.from_pretrained(d)
    assert e.value.path.endswith("pytorch_model.bin")
    assert not marker.exists()
    # A benign checkpoint of the same model loads.
    good = tmp_path / "good"
    transformers.BertModel(cfg).save_pretrained(good, safe_serialization=False)
    model = transformers.BertModel.from_pretrained(good)
    assert model.config.hidden_size == 8


def test_from_pretrained_checks_the_whole_directory(tmp_path: pathlib.Path, marker: pathlib.Path):
    """A local checkpoint is checked as a unit before transformers reads any of it: here the
    weights are safetensors, and the malicious file is the training_args.bin that Trainer
    would torch.load later."""
    transformers = pytest.importorskip("transformers")
    cfg = transformers.BertConfig(
        vocab_size=32, hidden_size=8, num_hidden_layers=1, num_attention_heads=1, intermediate_size=8
    )
    d = tmp_path / "checkpoint"
    transformers.BertModel(cfg).save_pretrained(d)
    assert (d / "model.safetensors").exists()
    torch.save({"args": Payload(marker)}, d / "training_args.bin")
    lantern.protect()
    with pytest.raises(lantern.UnsafeModel) as e:
        transformers.AutoModel.from_pretrained(d)
    assert e.value.path.endswith("training_args.bin")
    assert not marker.exists()


def fake_hub_cache(cache: pathlib.Path, marker: pathlib.Path) -> None:
    """A Hugging Face cache holding org/model at revision main, as a download leaves it."""
    repo = cache / "models--org--model"
    rev = "0123456789abcdef0123456789abcdef01234567"
    snap = repo / "snapshots" / rev
    snap.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(rev)
    (snap / "config.json").write_text("{}")
    torch.save({"w": Payload(marker)}, snap / "pytorch_model.bin")


def test_hub_downloads_checked_offline(tmp_path: pathlib.Path, marker: pathlib.Path, monkeypatch):
    hub = pytest.importorskip("huggingface_hub")
    fake_hub_cache(tmp_path / "hub", marker)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    lantern.protect()
    from huggingface_hub import hf_hub_download, snapshot_download

    cfg = hf_hub_download("org/model", "config.json", cache_dir=tmp_path / "hub", local_files_only=True)
    assert cfg.endswith("config.json")
    with pytest.raises(lantern.UnsafeModel):
        hf_hub_download("org/model", "pytorch_model.bin", cache_dir=tmp_path / "hub", local_files_only=True)
    with pytest.raises(lantern.UnsafeModel):
        snapshot_download("org/model", cache_dir=tmp_path / "hub", local_files_only=True)
    with pytest.raises(lantern.UnsafeModel):
        hub.hf_hub_download("org/model", "pytorch_model.bin", cache_dir=tmp_path / "hub", local_files_only=True)
    assert not marker.exists()
