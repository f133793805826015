"""Checkpoint folders: round trip, atomic replacement, safe loading of official files, clear errors."""

from __future__ import annotations

import json

import pytest
import torch

from deepaudio.checkpoint import load_model, load_weights_file, read_checkpoint, save_checkpoint
from deepaudio.errors import CheckpointError
from deepaudio.models.gate import GateConfig, MoFGate


class Unpicklable:  # a class torch.load(weights_only=True) must refuse to construct
    def __init__(self):
        self.x = torch.zeros(1)


def test_round_trip_and_fp16_storage(tmp_path):
    gate = MoFGate(GateConfig(encoder_dim=8, hidden_dim=4))
    gate.save_pretrained(tmp_path / "g", meta={"steps": 3}, dtype=torch.float16)
    doc, state = read_checkpoint(tmp_path / "g")
    assert doc["format_version"] == 1 and doc["kind"] == "mof_gate" and doc["meta"]["steps"] == 3
    assert all(v.dtype == torch.float16 for v in state.values())
    back = load_model(tmp_path / "g")
    assert isinstance(back, MoFGate) and back.config == gate.config
    for k, v in gate.state_dict().items():
        assert torch.allclose(back.state_dict()[k], v.half().float())


def test_save_replaces_a_folder_whole(tmp_path):
    save_checkpoint(tmp_path / "c", "x", {"a": 1}, {"w": torch.ones(2)}, extra_files={"old.txt": "old"})
    save_checkpoint(tmp_path / "c", "x", {"a": 2}, {"w": torch.zeros(2)})
    assert not (tmp_path / "c" / "old.txt").exists()
    assert json.loads((tmp_path / "c" / "config.json").read_text())["config"] == {"a": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["c"]  # no temporary folders left behind


def test_official_files_load_without_pickled_code(tmp_path):
    torch.save({"w": torch.ones(3)}, tmp_path / "plain.pt")
    assert torch.equal(load_weights_file(tmp_path / "plain.pt")["w"], torch.ones(3))
    torch.save({"obj": Unpicklable()}, tmp_path / "code.pt")
    with pytest.raises(CheckpointError, match="pickled code"):
        load_weights_file(tmp_path / "code.pt")
    (tmp_path / "bad.pt").write_bytes(b"not a torch file")
    with pytest.raises(CheckpointError, match="cannot read weights"):
        load_weights_file(tmp_path / "bad.pt")


def test_clear_errors_for_bad_folders(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        read_checkpoint(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="no config.json"):
        read_checkpoint(tmp_path / "empty")
    gate = MoFGate(GateConfig(encoder_dim=8, hidden_dim=4))
    gate.save_pretrained(tmp_path / "g")
    doc = json.loads((tmp_path / "g" / "config.json").read_text())
    doc["format_version"] = 99
    (tmp_path / "g" / "config.json").write_text(json.dumps(doc))
    with pytest.raises(CheckpointError, match="format_version"):
        read_checkpoint(tmp_path / "g")
    gate.save_pretrained(tmp_path / "h")
    data = (tmp_path / "h" / "model.safetensors").read_bytes()
    (tmp_path / "h" / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated"):
        read_checkpoint(tmp_path / "h")
    other = MoFGate(GateConfig(encoder_dim=8, hidden_dim=6))
    other.save_pretrained(tmp_path / "k")
    doc = json.loads((tmp_path / "k" / "config.json").read_text())
    doc["config"]["hidden_dim"] = 4
    (tmp_path / "k" / "config.json").write_text(json.dumps(doc))
    with pytest.raises(CheckpointError, match="other shapes"):
        load_model(tmp_path / "k")
