"""Speaker adaptation (pipelines.tts_adapt): a trained copy, the original untouched, reproducible, cached."""

from __future__ import annotations

import dataclasses
import math
import random

import pytest
import torch

from deepaudio.errors import ConfigError
from deepaudio.models.tts.config import TTS_PRESETS
from deepaudio.models.tts.dit import DiT
from deepaudio.models.tts.objective import TTSFlowMatching
from deepaudio.pipelines.tts import TTSPipeline, TTSSettings
from deepaudio.pipelines.tts_adapt import adapt_network
from deepaudio.text import Tokenizer, Vocab

SR = 24000
VOCAB = Vocab([" ", "a", "b", "c", ".", ",", "!", "d", "e"])


def _net(energy=False):
    torch.manual_seed(0)
    cfg = dataclasses.replace(TTS_PRESETS.get("tiny"), text_num_embeds=len(VOCAB), energy_input=energy)
    return DiT(cfg).eval()


def _clip(n=48, m=100):
    g = torch.Generator().manual_seed(3)
    base = torch.randn(1, m, generator=g) * 2 - 5
    return base + 0.3 * torch.randn(n, m, generator=g), torch.randint(1, len(VOCAB), (n,), generator=g)


def _loss(net, mel, text, seed=11):
    """The infilling loss on fixed spans, noise and times (eval mode: nothing dropped)."""
    objective = TTSFlowMatching(net).eval()
    b = 6
    batch = {"mel": mel[None].expand(b, -1, -1), "lens": torch.full((b,), mel.shape[0]),
             "text": text[None].expand(b, -1)}
    if net.config.energy_input:
        batch["energy"] = torch.zeros(b, mel.shape[0])
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(seed)
        return float(objective(batch))


@pytest.mark.parametrize("energy", [False, True])
def test_adaptation_fits_the_clip_and_leaves_the_original(energy):
    net = _net(energy)
    mel, text = _clip()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    adapted = adapt_network(net, mel, text, steps=40, lr=3e-2)
    for k, v in net.state_dict().items():
        torch.testing.assert_close(v, before[k], rtol=0, atol=0)
    assert adapted is not net and not adapted.training
    assert not any(p.requires_grad for p in adapted.parameters())
    assert _loss(adapted, mel, text) < 0.8 * _loss(net, mel, text)


def test_adaptation_is_reproducible_and_keeps_the_callers_random_streams():
    net = _net()
    mel, text = _clip()
    torch.manual_seed(123)
    random.seed(5)
    a = adapt_network(net, mel, text, steps=3, lr=1e-3)
    after_torch, after_py = torch.rand(1), random.random()
    torch.manual_seed(123)
    random.seed(5)
    expected_torch, expected_py = torch.rand(1), random.random()
    assert after_torch.item() == expected_torch.item() and after_py == expected_py
    b = adapt_network(net, mel, text, steps=3, lr=1e-3)
    for (k, v), w in zip(a.state_dict().items(), b.state_dict().values()):
        torch.testing.assert_close(v, w, rtol=0, atol=0, msg=k)
    c = adapt_network(net, mel, text, steps=3, lr=1e-3, seed=1)
    assert any(not torch.equal(v, w) for v, w in zip(a.state_dict().values(), c.state_dict().values()))


def test_adaptation_of_a_bf16_network_returns_bf16():
    net = _net().to(torch.bfloat16)
    mel, text = _clip()
    adapted = adapt_network(net, mel, text, steps=2, lr=1e-3)
    assert next(adapted.parameters()).dtype == torch.bfloat16


def _voice(seconds=1.0):
    t = torch.arange(int(seconds * SR)) / SR
    return 0.3 * torch.sin(2 * math.pi * 220 * t) * (1 + 0.5 * torch.sin(2 * math.pi * 3 * t))


def _pipe():
    from deepaudio.models.vocoders.vocos import VOCOS_PRESETS, Vocos

    torch.manual_seed(0)
    return TTSPipeline(_net(), Tokenizer(VOCAB), vocoder=Vocos(VOCOS_PRESETS.get("tiny")).eval())


def test_pipeline_adapts_once_per_reference_and_changes_the_speech(monkeypatch):
    import deepaudio.pipelines.tts_adapt as tts_adapt

    pipe = _pipe()
    calls = []
    real = tts_adapt.adapt_network
    monkeypatch.setattr(tts_adapt, "adapt_network", lambda *a, **k: calls.append(a[3]) or real(*a, **k))
    voice = (_voice()[None], SR)
    plain, _ = pipe("abc abc.", voice, ref_text="ab ab", nfe=2, seed=1)
    adapted, _ = pipe("abc abc.", voice, ref_text="ab ab", nfe=2, seed=1, adapt=4, adapt_lr=1e-3)
    again, _ = pipe("abc abc.", voice, ref_text="ab ab", nfe=2, seed=1, adapt=4, adapt_lr=1e-3)
    other, _ = pipe("cab.", voice, ref_text="ab ab", nfe=2, seed=2, adapt=4, adapt_lr=1e-3)
    assert calls == [4]  # one adaptation for the reference, reused by the other sentence and seed
    assert plain.shape == adapted.shape and not torch.allclose(plain, adapted)
    torch.testing.assert_close(again, adapted)
    assert other.shape[-1] > 0
    unchanged, _ = pipe("abc abc.", voice, ref_text="ab ab", nfe=2, seed=1)
    torch.testing.assert_close(unchanged, plain)  # the pipeline's own network was not trained
    pipe("abc abc.", voice, ref_text="ab ab", nfe=2, seed=1, adapt=5, adapt_lr=1e-3)
    assert calls == [4, 5]


@pytest.mark.parametrize("bad", [{"adapt": -1}, {"adapt": 2.5}, {"adapt_lr": -1e-3}, {"adapt_lr": float("nan")}])
def test_bad_adaptation_settings_are_refused(bad):
    with pytest.raises(ConfigError):
        TTSSettings(**bad)


def test_long_clips_train_on_windows_of_their_own_frames():
    from deepaudio.pipelines.tts_adapt import _windows

    mel = torch.arange(50.0)[:, None].expand(50, 4)
    text = torch.arange(50)
    torch.manual_seed(0)
    b = _windows(mel, text, 6, 20, energy=True)
    assert b["mel"].shape == (6, 20, 4) and b["text"].shape == (6, 20) and b["energy"].shape == (6, 20)
    assert (b["lens"] == 20).all()
    for m, t in zip(b["mel"], b["text"]):  # each window keeps its frames and their ids together, in order
        assert torch.equal(m[:, 0].long(), t) and torch.equal(t, torch.arange(int(t[0]), int(t[0]) + 20))
    assert len({int(t[0]) for t in b["text"]}) > 1
    short = _windows(mel[:15], text[:15], 3, 20, energy=False)
    assert short["mel"].shape == (3, 15, 4) and "energy" not in short
    chars = _windows(mel, torch.arange(50), 2, 20, energy=False, frame_text=False)  # character ids: whole clip
    assert chars["mel"].shape == (2, 50, 4) and chars["text"].shape == (2, 50)


def test_adaptation_is_off_by_default():
    pipe = _pipe()
    voice = (_voice()[None], SR)
    assert TTSSettings().adapt == 0
    assert pipe("abc.", voice, ref_text="ab ab", nfe=2, seed=1).metadata["adapt"] == 0
    assert not pipe._adapt_cache._items


def test_a_compiled_networks_copy_runs_its_own_weights():
    net = _net()
    original = net.forward
    net.forward = lambda *a, **k: (_ for _ in ()).throw(AssertionError("the original's forward was called"))
    mel, text = _clip()
    adapted = adapt_network(net, mel, text, steps=2, lr=1e-3)
    assert "forward" not in adapted.__dict__
    net.forward = original


def test_phoneme_pipeline_adapts_on_the_prompts_frame_text(monkeypatch):
    import deepaudio.pipelines.tts_adapt as tts_adapt
    from deepaudio.models.tts.durations import DurationTable

    pipe = _pipe()
    pipe.durations = DurationTable({}, 3.0)
    seen = []
    real = tts_adapt.adapt_network
    monkeypatch.setattr(tts_adapt, "adapt_network", lambda *a, **k: seen.append((a[1].shape, a[2].shape)) or
                        real(*a, **k))
    result = pipe("abc abc.", (_voice()[None], SR), ref_text="ab ab", nfe=2, seed=1, adapt=2)
    (mel_shape, text_shape), = seen
    assert text_shape == (mel_shape[0],)  # one token per reference frame
    assert result.metadata["adapt"] == 2 and torch.isfinite(result.audio).all()


def test_tts_command_adapts_and_says_so(tmp_path, capsys):
    import json

    from deepaudio.cli.main import main

    out = tmp_path / "hi.wav"
    rc = main(["tts", "--text", "Hello there.", "-o", str(out), "--nfe", "4", "--seed", "0", "--adapt", "3",
               "--device", "cpu"])
    assert rc == 0
    assert "adapting the TTS to the reference voice (3 steps)" in capsys.readouterr().err
    assert json.loads(out.with_suffix(".json").read_text())["adapt"] == 3
