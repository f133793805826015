"""Envelope matching of generated speech to the reference voice (dsp.timbre) and its pipeline setting."""

from __future__ import annotations

import math

import pytest
import torch

from deepaudio.dsp.timbre import LN_TO_DB, envelope, match_timbre, speech_frames


def _speechy(frames: int, tilt: torch.Tensor, seed: int) -> torch.Tensor:
    """(T, 100) log-mel: frames of varying loudness over a spectral shape ``tilt``, silent gaps between words."""
    g = torch.Generator().manual_seed(seed)
    loud = torch.rand(frames, 1, generator=g) * 2.0 - 4.0
    loud[torch.arange(frames) % 17 < 4] = -11.0  # pauses, far below the speech
    return (loud + tilt + 0.3 * torch.randn(frames, 100, generator=g)).clamp_min(math.log(1e-5))


def test_moves_the_envelope_to_the_reference_and_keeps_timing():
    bins = torch.linspace(0, 1, 100)
    ref = _speechy(300, -3.0 * bins, seed=0)  # darker voice
    gen = _speechy(200, -1.0 * bins, seed=1)
    out = match_timbre(gen, ref, strength=1.0, max_db=20.0)
    before = (envelope(gen) - envelope(ref)) - (envelope(gen) - envelope(ref)).mean()
    after = (envelope(out) - envelope(ref)) - (envelope(out) - envelope(ref)).mean()
    assert after.abs().max() < 0.25 * before.abs().max()
    # the same correction for every frame: frame-to-frame structure (timing, words) is unchanged
    speech = speech_frames(gen)
    step = (out - gen)[speech]
    assert torch.allclose(step, step[0].expand_as(step), atol=1e-5)
    # centred: the overall level does not move
    assert abs(float((out - gen)[speech].mean())) < 0.05


def test_strength_bound_and_degenerate_inputs():
    bins = torch.linspace(0, 1, 100)
    ref, gen = _speechy(300, -6.0 * bins, 0), _speechy(300, 0 * bins, 1)
    assert torch.equal(match_timbre(gen, ref, strength=0.0), gen)
    full, half = match_timbre(gen, ref, max_db=50.0), match_timbre(gen, ref, strength=0.5, max_db=50.0)
    speech = speech_frames(gen)
    assert torch.allclose((half - gen)[speech], 0.5 * (full - gen)[speech], atol=1e-4)
    bounded = match_timbre(gen, ref, max_db=3.0)
    assert float((bounded - gen).abs().max()) <= 3.0 / LN_TO_DB + 1e-5
    assert float(bounded.min()) >= math.log(1e-5) - 1e-6
    few = gen[:5]  # fewer speech frames than an envelope needs: unchanged
    assert torch.equal(match_timbre(few, ref), few)
    assert match_timbre(gen[:0], ref).shape == (0, 100)


def test_pipeline_setting_is_checked_applied_and_recorded():
    import dataclasses

    from deepaudio.errors import ConfigError
    from deepaudio.models.tts.config import TTS_PRESETS
    from deepaudio.models.tts.dit import DiT
    from deepaudio.pipelines.tts import TTSPipeline, TTSSettings
    from deepaudio.text import Tokenizer, Vocab

    assert TTSSettings().timbre == 1.0
    for bad in (1.5, -0.1, float("nan")):
        with pytest.raises(ConfigError):
            TTSSettings(timbre=bad)
    vocab = Vocab([" ", "a", "b", "c", "."])
    torch.manual_seed(0)
    pipe = TTSPipeline(DiT(dataclasses.replace(TTS_PRESETS.get("tiny"), text_num_embeds=len(vocab))), Tokenizer(vocab),
                       vocoder="griffin-lim")
    t = torch.arange(24000) / 24000
    voice = (0.3 * torch.sin(2 * math.pi * 220 * t) * (1 + 0.5 * torch.sin(2 * math.pi * 3 * t)))[None]
    plain = pipe("abc abc.", (voice, 24000), ref_text="ab ab", nfe=2, seed=3, timbre=0.0)
    matched = pipe("abc abc.", (voice, 24000), ref_text="ab ab", nfe=2, seed=3)
    assert matched.metadata["timbre"] == 1.0 and plain.metadata["timbre"] == 0.0
    assert matched.audio.shape == plain.audio.shape and not torch.allclose(matched.audio, plain.audio)
