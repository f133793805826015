"""The bundled default that ships inside the package: complete, small, documented, and it loads."""

from __future__ import annotations

import json

import pytest

from deepaudio.assets import DEFAULT_ROOT, bundled_dir, describe_bundled
from deepaudio.checkpoint import read_config

PARTS = ("router", "v2a", "tts")


def test_every_part_is_bundled_with_its_training_record():
    cfg = read_config(bundled_dir("pipeline"), "deepaudio_pipeline")["config"]
    for part in PARTS:
        assert cfg[part] == part
        folder = bundled_dir(part)
        record = (folder / "TRAINING.md").read_text()
        summary = json.loads((folder / "training_summary.json").read_text())
        assert "| command |" in record and "| data_seed | 0 |" in record, part
        assert summary["steps"] > 0 and summary["final_loss"] is not None, part
        assert "deepaudio train" in summary["command"], part
    assert cfg["v2s"] == "tts"


def test_continued_parts_record_their_lineage():
    for part in PARTS:
        lineage = DEFAULT_ROOT / part / "lineage.json"
        summary = json.loads((DEFAULT_ROOT / part / "training_summary.json").read_text())
        if "--init" not in summary["command"]:
            continue
        runs = json.loads(lineage.read_text())  # a continued part must say what it continued
        assert runs and all("deepaudio train" in r["command"] and r["steps"] > 0 for r in runs), part
        assert "## Lineage" in (DEFAULT_ROOT / part / "TRAINING.md").read_text()
        assert "earlier)" in describe_bundled()


def test_weights_fit_the_40_mb_budget_in_fp16():
    from safetensors import safe_open

    files = sorted(DEFAULT_ROOT.rglob("*.safetensors"))
    assert files and sum(f.stat().st_size for f in files) <= 40e6
    for f in files:
        with safe_open(str(f), "pt") as st:
            floats = [st.get_slice(k).get_dtype() for k in st.keys()]
        assert all(d in ("F16", "I64", "I32", "BOOL", "U8") for d in floats), (f, set(floats))


@pytest.mark.parametrize("instruction,task", [("Add the sound effects for this clip", "v2a"),
                                              ('Read "good morning" aloud in this voice', "tts")])
def test_the_bundled_gate_routes_plain_instructions(instruction, task):
    from deepaudio.models.router import Router

    router = Router.from_pretrained(bundled_dir("router"))
    assert router(instruction).task == task


def test_the_bundled_v2a_does_text_to_audio(tmp_path):
    from deepaudio.cli.main import main
    from deepaudio.io.audio import load_audio

    out = tmp_path / "rain.wav"
    assert main(["v2a", "--prompt", "rain on a tin roof", "--duration", "2", "--steps", "2", "-o", str(out),
                 "--device", "cpu"]) == 0
    wav, sr = load_audio(out)
    assert abs(wav.shape[-1] - 2 * sr) <= 1


@pytest.mark.parametrize("instruction,tasks", [
    ("remove the voice-over", {"think"}), ("remove the narrator", {"think"}), ("get rid of the talking", {"think"}),
    ("mute the commentator and keep the crowd", {"think"}),
    ("the man should say 'good morning' in my voice", {"v2s", "dub"}), ("say hi", {"tts"})])
def test_the_bundled_gate_on_phrasings_written_for_the_test(instruction, tasks):
    """Held-out phrasings (benchmarks/data/router_heldout.csv; never in the training corpus)."""
    from deepaudio.models.router import Router

    assert Router.from_pretrained(bundled_dir("router"))(instruction).task in tasks
