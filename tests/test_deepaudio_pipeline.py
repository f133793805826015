"""End-to-end DeepAudio pipeline with small random-weight parts: routing of modules, timing, mixing,
subtitle dubbing and the input errors users hit."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import pytest
import torch

from deepaudio.checkpoint import write_config
from deepaudio.errors import InputError
from deepaudio.io.audio import save_audio
from deepaudio.io.srt import parse_srt
from deepaudio.io.testmedia import moving_square_video
from deepaudio.models.tts.config import TTS_PRESETS
from deepaudio.models.tts.dit import DiT
from deepaudio.pipelines.deepaudio import DeepAudio
from deepaudio.pipelines.tts import TTSPipeline
from deepaudio.text.tokenizer import Tokenizer, Vocab
from deepaudio.train.v2a import V2A_SETUPS, TinyV2AModel, export_pipeline
from deepaudio.v2s.contour import MEL_HOP, SPEECH_RATE

VOCAB = [" "] + list("abcdefghijklmnopqrstuvwxyz',.?!")


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    root = tmp_path_factory.mktemp("deepaudio")
    torch.manual_seed(0)
    setup = V2A_SETUPS.get("micro")
    model = TinyV2AModel(setup)
    with torch.no_grad():
        model.net.latent_mean.zero_()
        model.net.latent_std.fill_(1.0)
    export_pipeline(model, setup, root / "v2a", {"steps": 0})
    cfg = dataclasses.replace(TTS_PRESETS.get("tiny"), text_num_embeds=len(VOCAB), energy_input=True)
    tts = TTSPipeline(DiT(cfg), Tokenizer(Vocab(VOCAB)), vocoder=None)
    tts.save_pretrained(root / "v2s")
    write_config(root, "deepaudio_pipeline", {"v2a": "v2a", "tts": "v2s", "v2s": "v2s"})
    video = moving_square_video(root / "in.mp4", duration=2.0, width=64, height=48).path
    t = torch.arange(2 * SPEECH_RATE) / SPEECH_RATE
    voice = 0.3 * torch.sin(2 * torch.pi * 180 * t) * (torch.sin(2 * torch.pi * 3 * t) > 0)
    save_audio(root / "voice.wav", voice[None], SPEECH_RATE)
    return root, video


def _pipe(bundle):
    return DeepAudio.from_pretrained(bundle[0])


def test_each_task_runs_only_its_modules(bundle):
    root, video = bundle
    pipe = _pipe(bundle)
    kw = dict(reference_audio=root / "voice.wav", reference_text="hello there.", tts_kwargs={"nfe": 2},
              v2a_kwargs={"steps": 2})
    amb = pipe(video=video, task="v2a", v2a_kwargs={"steps": 2})
    assert amb.speech is None and amb.mix.shape[-1] == 2 * SPEECH_RATE
    tts = pipe(task="tts", transcript="a short line.", **kw)
    assert tts.ambience is None and tts.speech is not None
    v2s = pipe(video=video, task="v2s", transcript="we are late.", **kw)
    assert v2s.contour.numel() == round(2.0 * SPEECH_RATE / MEL_HOP)
    assert v2s.speech.shape[-1] == v2s.ambience.shape[-1] == 2 * SPEECH_RATE
    assert torch.equal(v2s.mix, v2s.speech)
    assert float(v2s.contour.min()) >= 0 and float(v2s.contour.max()) <= 1
    dub = pipe(video=video, task="dub", transcript="we are late.", **kw)
    assert dub.mix.shape[-1] == dub.ambience.shape[-1]
    assert not torch.equal(dub.mix, dub.speech)


def test_transcript_from_instruction_and_input_errors(bundle):
    root, video = bundle
    pipe = _pipe(bundle)
    kw = dict(reference_audio=root / "voice.wav", reference_text="hello there.", tts_kwargs={"nfe": 2},
              v2a_kwargs={"steps": 2})
    res = pipe(video=video, instruction='Dub this clip saying "good night."', task="dub", **kw)
    assert res.segments[0][2] == "good night."
    with pytest.raises(InputError, match="needs a transcript"):
        pipe(video=video, task="v2s", transcript="  ", **kw)
    with pytest.raises(InputError, match="characters/s"):
        pipe(video=video, task="v2s", transcript="this sentence is far too long to be spoken in two seconds " * 2,
             **kw)
    pipe(video=video, task="v2s", transcript="this sentence is far too long to be spoken in two seconds " * 2,
         fit="speed", **kw)
    save_audio(root / "short.wav", torch.full((1, SPEECH_RATE // 2), 0.1), SPEECH_RATE)
    with pytest.raises(InputError, match="shorter than 1 s"):
        pipe(task="tts", transcript="hi.", reference_audio=root / "short.wav", reference_text="x")
    save_audio(root / "silent.wav", torch.zeros(1, 2 * SPEECH_RATE), SPEECH_RATE)
    with pytest.raises(InputError, match="silent"):
        pipe(task="tts", transcript="hi.", reference_audio=root / "silent.wav", reference_text="x")
    with pytest.raises(InputError, match="needs a video"):
        pipe(task="dub", transcript="hi.", reference_audio=root / "voice.wav", reference_text="x")


def test_subtitle_dub_speaks_only_inside_cue_windows(bundle):
    root, video = bundle
    pipe = _pipe(bundle)
    cues = parse_srt("1\n00:00:00,200 --> 00:00:00,900\nhi there.\n\n2\n00:00:01,200 --> 00:00:01,800\nbye.\n")
    res = pipe.dub_subtitles(video, cues, root / "voice.wav", "hello there.", tts_kwargs={"nfe": 2},
                             v2a_kwargs={"steps": 2})
    speech = res.speech[0]
    active = speech.abs() > 0
    for a, b in [(0, 0.2), (0.95, 1.2), (1.85, 2.0)]:
        assert not active[int(a * SPEECH_RATE) + 1: int(b * SPEECH_RATE) - 1].any(), (a, b)
    assert active[int(0.3 * SPEECH_RATE): int(0.8 * SPEECH_RATE)].any()
    assert [s[2] for s in res.segments] == ["hi there.", "bye."]


def test_dub_command_writes_video_with_tracks(bundle):
    root, video = bundle
    out = root / "dubbed.mp4"
    cmd = [sys.executable, "-m", "deepaudio.cli.main", "dub", "--video", str(video), "--text", "see you soon.",
           "--ref-audio", str(root / "voice.wav"), "--ref-text", "hello there.", "--model", str(root),
           "--steps", "2", "--nfe", "2", "-o", str(out), "--device", "cpu"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    import av

    with av.open(str(out)) as c:
        assert len(c.streams.video) == 1 and len(c.streams.audio) == 3
    info = json.loads(out.with_suffix(".json").read_text())
    assert info["task"] == "dub" and info["segments"][0]["text"] == "see you soon."
    assert info["model"] == str(root) and "bundled toy-world" not in proc.stderr  # --model given: no toy note
    bad = subprocess.run(cmd[:-4] + ["-o", str(video)], capture_output=True, text=True, timeout=300)
    errors = [line for line in bad.stderr.splitlines() if line.startswith("deepaudio: error:")]
    assert bad.returncode == 2 and len(errors) == 1 and "same as an input" in errors[0]
    assert "Traceback" not in bad.stderr


def test_v2s_pipeline_returns_the_timed_speech_as_one_result(bundle):
    from deepaudio import V2SPipeline, V2SSettings
    from deepaudio.errors import ConfigError

    root, video = bundle
    pipe = V2SPipeline.from_pretrained(root)
    kw = dict(reference_text="hello there.", tts_kwargs={"nfe": 2}, v2a_kwargs={"steps": 2})
    out = pipe(video, "we are late.", root / "voice.wav", settings=V2SSettings(seed=1), **kw)
    wav, sr = out
    assert sr == pipe.sample_rate == SPEECH_RATE and wav.shape[-1] == 2 * SPEECH_RATE
    assert out.metadata["task"] == "v2s" and out.metadata["contour"].numel() == round(2.0 * SPEECH_RATE / MEL_HOP)
    same = pipe(video, "we are late.", root / "voice.wav", seed=1, **kw)
    assert torch.equal(same.audio, out.audio)
    with pytest.raises(ConfigError, match="not both"):
        pipe(video, "we are late.", root / "voice.wav", seed=2, settings=V2SSettings(seed=1), **kw)
    from deepaudio import DeepAudioSettings

    whole = pipe.deepaudio(video=video, task="v2s", transcript="we are late.", reference_audio=root / "voice.wav",
                           settings=DeepAudioSettings(seed=1), **kw)
    assert torch.equal(whole.speech, out.audio)
    with pytest.raises(ConfigError, match="unknown fit mode"):
        DeepAudioSettings(fit="squeeze")


def test_think_task_cleans_the_given_track_and_run_writes_its_trace(bundle, tmp_path):
    """Task 'think' (DeepSound-V1) is dispatched by DeepAudio and by `deepaudio run` (here by --task; the
    bundled gate routes the phrasings, tests/test_bundled_default.py)."""
    from deepaudio.cli.main import main

    root, video = bundle
    pipe = _pipe(bundle)
    track = root / "voice.wav"  # speech over a video with no face: voice-over by definition
    res = pipe(video=video, task="think", audio=track, seed=0)
    assert res.route.task == "think" and res.trace is not None and res.speech is None
    assert res.route.modules == ("reasoner", "remover") and res.mix.shape[0] >= 1
    steps = [s.name for s in res.trace.steps]
    assert steps[:3] == ["plan", "generate", "detect"] and steps[-1] == "verify", steps
    with pytest.raises(InputError, match="needs a video"):
        pipe(task="think", audio=track)
    out = tmp_path / "clean.wav"
    assert main(["run", "--video", str(video), "--instruction", "remove the narrator", "--task", "think",
                 "--audio", str(track), "--model", str(root), "-o", str(out), "--device", "cpu"]) == 0
    assert out.is_file() and (tmp_path / "clean.think.json").is_file()
    assert json.loads(out.with_suffix(".json").read_text())["task"] == "think"
