"""Users are told when the toy bundled model made an output, and when a prompt cannot be used."""

from __future__ import annotations

import json

import pytest

from deepaudio.assets import BUNDLED_LABEL, BUNDLED_NOTE, bundled_dir, is_bundled, model_label
from deepaudio.cli import common
from deepaudio.cli.main import main
from deepaudio.io.testmedia import moving_square_video


@pytest.fixture
def fresh_note(monkeypatch):
    monkeypatch.setitem(common._NOTED, "bundled", False)
    monkeypatch.setitem(common._NOTED, "pending", False)


def test_the_note_is_printed_once_where_the_default_is_resolved(fresh_note, capsys, tmp_path):
    assert common.default_model_dir("tts") == bundled_dir("tts")
    common.default_model_dir("v2a")
    assert capsys.readouterr().err == ""  # said after the command succeeded, so a failure stays one line
    common.flush_bundled_note()
    common.flush_bundled_note()
    err = capsys.readouterr().err
    assert err.count(BUNDLED_NOTE) == 1 and "Official weights" in err
    assert common.model_dir_or_default(tmp_path, "tts") == tmp_path and capsys.readouterr().err == ""
    assert model_label(None) is None and model_label(tmp_path) == str(tmp_path)
    assert is_bundled(bundled_dir("v2a") / "net") and model_label(bundled_dir("pipeline")) == BUNDLED_LABEL


def test_v2a_cli_says_the_bundled_model_ignores_prompts(fresh_note, capsys, tmp_path):
    video = moving_square_video(tmp_path / "v.mp4", duration=1.0, width=64, height=48).path
    args = ["v2a", str(video), "--steps", "2", "--device", "cpu", "--seed", "0"]
    assert main([*args, "-o", str(tmp_path / "a.wav"), "--prompt", "a dog barks"]) == 0
    err = capsys.readouterr().err
    assert err.count(BUNDLED_NOTE) == 1 and err.count("no text conditioning") == 1
    side = json.loads((tmp_path / "a.json").read_text())
    assert side["model"] == BUNDLED_LABEL and side["prompt"] == "a dog barks"
    assert side["prompt_used"] is False and side["text_conditioning"] is False
    assert main([*args, "-o", str(tmp_path / "b.wav")]) == 0
    assert "no text conditioning" not in capsys.readouterr().err
    # the prompt really was dropped: same audio as without one
    assert (tmp_path / "a.wav").read_bytes() == (tmp_path / "b.wav").read_bytes()


def test_tts_cli_sidecar_names_the_bundled_model(fresh_note, capsys, tmp_path):
    import torch

    from deepaudio.io.audio import save_audio

    ref = tmp_path / "ref.wav"
    save_audio(ref, 0.05 * torch.randn(1, 24000, generator=torch.Generator().manual_seed(0)), 24000)
    out = tmp_path / "o.wav"
    assert main(["tts", "--text", "It costs $5.", "--ref-audio", str(ref), "--ref-text", "A test.", "-o", str(out),
                 "--nfe", "2", "--seed", "0", "--device", "cpu"]) == 0
    assert capsys.readouterr().err.count(BUNDLED_NOTE) == 1
    side = json.loads(out.with_suffix(".json").read_text())
    assert side["model"] == BUNDLED_LABEL and side["text"] == "It costs $5." and side["task"] == "tts"
