"""``--timing v2a|lips|mix`` through the DeepAudio pipeline and the CLI (tiny random-weight parts)."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import numpy as np
import pytest
import torch

from deepaudio.checkpoint import write_config
from deepaudio.data.toyworld import write_toy_video
from deepaudio.errors import ConfigError, InputError
from deepaudio.io.audio import save_audio
from deepaudio.io.video import write_video
from deepaudio.models.tts.config import TTS_PRESETS
from deepaudio.models.tts.dit import DiT
from deepaudio.pipelines.deepaudio import DeepAudio
from deepaudio.pipelines.tts import TTSPipeline
from deepaudio.text.tokenizer import Tokenizer, Vocab
from deepaudio.v2s.contour import MEL_HOP, SPEECH_RATE

sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))
from test_perception_mouth import FPS, talking_face  # noqa: E402

VOCAB = [" "] + list("abcdefghijklmnopqrstuvwxyz',.?!")
SECONDS = 2.0


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    """A folder with a talking-face clip, a faceless clip, a voice, and pipelines with and without V2A."""
    from deepaudio.train.v2a import V2A_SETUPS, TinyV2AModel, export_pipeline

    root = tmp_path_factory.mktemp("timing")
    torch.manual_seed(0)
    cfg = dataclasses.replace(TTS_PRESETS.get("tiny"), text_num_embeds=len(VOCAB), energy_input=True)
    TTSPipeline(DiT(cfg), Tokenizer(Vocab(VOCAB)), vocoder=None).save_pretrained(root / "v2s")
    write_config(root / "lips_only", "deepaudio_pipeline", {"tts": "../v2s", "v2s": "../v2s"})
    setup = V2A_SETUPS.get("micro")
    model = TinyV2AModel(setup)
    with torch.no_grad():
        model.net.latent_mean.zero_()
        model.net.latent_std.fill_(1.0)
    export_pipeline(model, setup, root / "v2a", {"steps": 0})
    write_config(root / "full", "deepaudio_pipeline", {"v2a": "../v2a", "tts": "../v2s", "v2s": "../v2s"})
    frames, wav, _ = talking_face(5, seconds=SECONDS)
    write_toy_video(root / "talk.mp4", frames, FPS)
    write_video(root / "balls.mp4", talking_face(6, seconds=SECONDS, with_face=False)[0], FPS)
    t = torch.arange(2 * SPEECH_RATE) / SPEECH_RATE
    voice = 0.3 * torch.sin(2 * torch.pi * 180 * t) * (torch.sin(2 * torch.pi * 3 * t) > 0)
    save_audio(root / "voice.wav", voice[None], SPEECH_RATE)
    return root, torch.from_numpy(wav)


def _kw(root):
    return dict(reference_audio=root / "voice.wav", reference_text="hello there.", transcript="we are late.",
                tts_kwargs={"nfe": 2}, v2a_kwargs={"steps": 2})


def test_lips_timing_without_v2a_weights(bundle):
    from deepaudio.dsp.energy import energy_contour

    root, wav = bundle
    pipe = DeepAudio.from_pretrained(root / "lips_only")
    assert pipe.v2a is None
    res = pipe(video=root / "talk.mp4", task="v2s", timing="lips", **_kw(root))
    n = round(SECONDS * SPEECH_RATE / MEL_HOP)
    assert res.ambience is None and res.contour.shape == (n,)
    assert res.speech.shape[-1] == res.mix.shape[-1] == int(SECONDS * SPEECH_RATE)
    truth = energy_contour(wav, SPEECH_RATE, target_len=n)
    assert np.corrcoef(res.contour.numpy(), truth.numpy())[0, 1] > 0.6
    dub = pipe(video=root / "talk.mp4", task="dub", timing="lips", **_kw(root))
    assert dub.ambience is None and torch.equal(dub.mix, dub.speech)
    with pytest.raises(ConfigError, match="no V2A model"):
        pipe(video=root / "talk.mp4", task="v2s", timing="mix", **_kw(root))


def test_mix_lies_between_v2a_and_lips(bundle):
    root, _ = bundle
    pipe = DeepAudio.from_pretrained(root / "full")
    contours = {t: pipe(video=root / "talk.mp4", task="v2s", timing=t, seed=3, **_kw(root)).contour
                for t in ("v2a", "lips", "mix")}
    v2a, lips, mix = contours["v2a"], contours["lips"], contours["mix"]
    assert not torch.allclose(v2a, lips)
    v2a_n = v2a / v2a.max()
    assert torch.all(mix >= torch.minimum(v2a_n, lips) - 1e-6) and torch.all(mix <= torch.maximum(v2a_n, lips) + 1e-6)
    torch.testing.assert_close(mix, 0.5 * (v2a_n + lips))
    cues = __import__("deepaudio.io.srt", fromlist=["parse_srt"]).parse_srt(
        "1\n00:00:00,200 --> 00:00:01,600\nwe are late.\n")
    sub = pipe.dub_subtitles(root / "talk.mp4", cues, root / "voice.wav", "hello there.", timing="lips",
                             tts_kwargs={"nfe": 2}, v2a_kwargs={"steps": 2})
    torch.testing.assert_close(sub.contour, lips)
    assert sub.ambience is not None  # a V2A model is there: the dub keeps its ambience
    with pytest.raises(ConfigError, match="unknown timing"):
        pipe(video=root / "talk.mp4", task="v2s", timing="ears", **_kw(root))


def test_no_face_with_lips_timing(bundle):
    root, _ = bundle
    pipe = DeepAudio.from_pretrained(root / "lips_only")
    with pytest.raises(InputError, match="face is visible"):
        pipe(video=root / "balls.mp4", task="v2s", timing="lips", **_kw(root))
    cmd = [sys.executable, "-m", "deepaudio.cli.main", "dub", "--video", str(root / "balls.mp4"), "--text",
           "we are late.", "--ref-audio", str(root / "voice.wav"), "--ref-text", "hello there.", "--model",
           str(root / "lips_only"), "--nfe", "2", "--timing", "lips", "--speech-only", "-o", str(root / "o.wav"),
           "--device", "cpu"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    errors = [line for line in proc.stderr.splitlines() if line.startswith("deepaudio: error:")]
    assert proc.returncode == 2 and len(errors) == 1, proc.stderr
    assert "balls.mp4" in errors[0] and "--timing v2a" in errors[0] and "Traceback" not in proc.stderr
    assert not (root / "o.wav").exists()
