"""Pitch estimation and pitch matching of generated speech to the reference voice (dsp.pitch, TTS setting)."""

from __future__ import annotations

import math

import pytest
import torch

from deepaudio.dsp.mel import F5_24K, mel_spectrogram
from deepaudio.dsp.pitch import frame_f0, median_f0, pitch_ratio, shift_mel_pitch, smooth_bins

SR = 24000


def _voice(f0: float, seconds: float = 1.0, vibrato: float = 0.0, seed: int = 0, formant: float = 0.0) -> torch.Tensor:
    """A harmonic tone with a falling spectral slope (and a resonance at ``formant`` Hz if given), a little
    vibrato and noise; (L,)."""
    t = torch.arange(int(seconds * SR)) / SR
    phase = 2 * math.pi * f0 * (t + vibrato / (2 * math.pi * 5) * torch.sin(2 * math.pi * 5 * t))
    gain = (lambda f: 1 + 8 * math.exp(-(((f - formant) / 150) ** 2))) if formant else (lambda f: 1.0)
    wav = sum(gain(k * f0) * torch.sin(k * phase) / k ** 1.2 for k in range(1, 25) if k * f0 < SR / 2)
    g = torch.Generator().manual_seed(seed)
    return 0.2 * wav / wav.abs().max() + 0.002 * torch.randn(t.shape, generator=g)


def _mel(wav: torch.Tensor) -> torch.Tensor:
    return mel_spectrogram(wav, F5_24K).transpose(0, 1).float()  # (T, M)


@pytest.mark.parametrize("f0", [70.0, 98.5, 151.0, 233.0, 410.0])
def test_median_f0_finds_the_fundamental(f0):
    est = median_f0(_voice(f0, vibrato=0.02), SR)
    assert est is not None and abs(est / f0 - 1) < 0.01


def test_unvoiced_and_quiet_frames_have_no_f0():
    g = torch.Generator().manual_seed(1)
    assert median_f0(0.1 * torch.randn(SR, generator=g), SR) is None  # noise
    assert median_f0(torch.zeros(SR), SR) is None
    assert frame_f0(torch.zeros(100), SR).numel() == 0  # shorter than a frame
    # a voiced second after a silent one: the silent frames are NaN, the voiced ones near 120 Hz
    f0 = frame_f0(torch.cat([torch.zeros(SR), _voice(120.0)]), SR)
    assert torch.isnan(f0[:80]).all() and abs(float(f0[120:].nanmedian()) / 120 - 1) < 0.01


def test_pitch_ratio_strength_bound_and_dead_band():
    assert pitch_ratio(200, 100) == pytest.approx(1.26)  # bounded to 4 semitones
    assert pitch_ratio(110, 100) == pytest.approx(1.1)
    assert pitch_ratio(110, 100, strength=0.5) == pytest.approx(math.sqrt(1.1))
    assert pitch_ratio(90, 100) == pytest.approx(0.9)
    assert pitch_ratio(100.5, 100) == 1.0 and pitch_ratio(100, 100, strength=0) == 1.0
    with pytest.raises(ValueError):
        pitch_ratio(0, 100)


@pytest.mark.parametrize("ratio", [0.85, 1.18])
def test_shifting_the_mel_moves_the_harmonics(ratio):
    src, target = _mel(_voice(140.0)), _mel(_voice(140.0 * ratio))
    moved = shift_mel_pitch(src, ratio, F5_24K, keep_envelope=0)
    low = slice(0, 40)  # below ~1.3 kHz the harmonics are resolved by the mel bins
    before = (src[:, low] - target[:, low]).abs().mean()
    after = (moved[:, low] - target[:, low]).abs().mean()
    assert after < 0.5 * before
    assert moved.shape == src.shape and float(moved.min()) >= math.log(1e-5) - 1e-6


def test_keep_envelope_moves_harmonics_but_not_the_formant():
    src = _mel(_voice(120.0, formant=1500.0))

    def formant_bin(mel):  # the peak of the long-term envelope above the lowest harmonics
        return int(smooth_bins(mel.mean(dim=0, keepdim=True), 9)[0, 20:].argmax()) + 20

    moved = shift_mel_pitch(src, 1.2, F5_24K, keep_envelope=7)
    free = shift_mel_pitch(src, 1.2, F5_24K, keep_envelope=0)
    assert abs(formant_bin(moved) - formant_bin(src)) <= 1 < formant_bin(free) - formant_bin(src)
    low = slice(0, 25)  # the harmonics did move
    assert (moved[:, low] - src[:, low]).abs().mean() > 0.3


def test_shift_rejects_bad_input_and_keeps_ratio_one():
    mel = _mel(_voice(140.0))
    assert shift_mel_pitch(mel, 1.0, F5_24K) is mel
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError):
            shift_mel_pitch(mel, bad, F5_24K)
    with pytest.raises(ValueError):
        shift_mel_pitch(mel[:, :80], 1.1, F5_24K)


def test_pipeline_matches_the_reference_pitch_and_records_it():
    import dataclasses

    from deepaudio.errors import ConfigError
    from deepaudio.models.tts.config import TTS_PRESETS
    from deepaudio.models.tts.dit import DiT
    from deepaudio.pipelines.tts import TTSPipeline, TTSSettings
    from deepaudio.text import Tokenizer, Vocab

    assert TTSSettings().pitch == 0.0
    for bad in (1.5, -0.1, float("nan")):
        with pytest.raises(ConfigError):
            TTSSettings(pitch=bad)
    vocab = Vocab([" ", "a", "b", "c", "."])
    pipe = TTSPipeline(DiT(dataclasses.replace(TTS_PRESETS.get("tiny"), text_num_embeds=len(vocab))), Tokenizer(vocab),
                       vocoder="griffin-lim")
    # the rendering step alone: generated speech at 150 Hz, a reference voice at 180 Hz
    ref = _voice(180.0, seconds=1.5, seed=1)
    gen_mel = _mel(_voice(150.0, seconds=1.5))
    for strength, expected in ((1.0, 1.2), (0.5, math.sqrt(1.2))):
        st = TTSSettings(pitch=strength, timbre=1.0)
        wavs, ratio = pipe._render([gen_mel], _mel(ref), median_f0(ref, SR), st)
        assert ratio == pytest.approx(expected, rel=0.035)  # Griffin-Lim moves the decoded pitch by ~2 %
        assert median_f0(wavs[0], SR) == pytest.approx(150.0 * expected, rel=0.035)
    wavs, ratio = pipe._render([gen_mel], _mel(ref), None, TTSSettings(pitch=0.0))
    assert ratio is None and median_f0(wavs[0], SR) == pytest.approx(150.0, rel=0.035)
    # the whole call records the setting and what was applied (a random tiny model speaks no pitch: None)
    out = pipe("abc abc.", (ref[None], SR), ref_text="ab ab", nfe=2, seed=3, pitch=1.0)
    assert out.metadata["pitch"] == 1.0 and "pitch_ratio" in out.metadata
    off = pipe("abc abc.", (ref[None], SR), ref_text="ab ab", nfe=2, seed=3, pitch=0.0)
    assert off.metadata["pitch_ratio"] is None
