"""Noise-floor subtraction of a TTS prompt's log-mel (dsp.denoise) and its pipeline setting."""

from __future__ import annotations

import math

import torch

from deepaudio.dsp.denoise import LN_FLOOR, noise_floor, subtract_noise
from deepaudio.dsp.mel import F5_24K, mel_spectrogram

SR = 24000


def _tone_in_noise(seconds: float = 2.0, snr_db: float = 20.0, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A 440 Hz tone gated on and off (words and pauses) over steady white noise; also the noise alone."""
    g = torch.Generator().manual_seed(seed)
    n = int(seconds * SR)
    t = torch.arange(n) / SR
    gate = ((t * 3).floor() % 2 == 0).float()  # 1/3 s on, 1/3 s off
    tone = 0.3 * torch.sin(2 * math.pi * 440 * t) * gate
    noise = torch.randn(n, generator=g) * 0.3 / math.sqrt(2) / 10 ** (snr_db / 20)
    return tone + noise, noise


def _mel(wav: torch.Tensor) -> torch.Tensor:
    return mel_spectrogram(wav, F5_24K).transpose(0, 1).float()


def test_estimates_the_floor_and_takes_it_out_of_noise_bins_not_the_tone():
    noisy, noise = _tone_in_noise()
    mel = _mel(noisy)
    floor = noise_floor(mel)
    true = _mel(noise).exp().mean(dim=0)
    ratio_db = 20 * torch.log10(floor / true)
    assert ratio_db.abs().median() < 3.0  # the low quantile sits near the noise's own level
    out = subtract_noise(mel, 1.0)
    drop_db = (mel - out) * 20 / math.log(10)
    tone_bin = int(_mel(torch.sin(2 * math.pi * 440 * torch.arange(SR) / SR)).mean(0).argmax())
    on = mel[:, tone_bin] > mel[:, tone_bin].median()
    assert float(drop_db[on, tone_bin].mean()) < 1.0  # the "speech" keeps its level
    assert float(drop_db[~on][:, 60:].mean()) > 10.0  # the pauses' hiss goes down
    assert out.shape == mel.shape and out.dtype == mel.dtype
    assert torch.isfinite(out).all() and float(out.min()) >= LN_FLOOR - 1e-6


def test_strength_zero_padding_and_degenerate_inputs_leave_the_mel_alone():
    noisy, _ = _tone_in_noise(seed=1)
    mel = _mel(noisy)
    assert torch.equal(subtract_noise(mel, 0.0), mel)
    # digital silence padded onto a prompt is not taken for the noise floor
    padded = torch.cat((mel, torch.full((200, mel.shape[1]), LN_FLOOR)))
    torch.testing.assert_close(noise_floor(padded), noise_floor(mel))
    silent = torch.full((50, 100), LN_FLOOR)
    assert torch.equal(subtract_noise(silent, 1.0), silent)
    short = mel[:5]
    assert torch.equal(subtract_noise(short, 1.0), short)


def test_floor_bounds_the_subtraction():
    noisy, _ = _tone_in_noise(seed=2)
    mel = _mel(noisy)
    out = subtract_noise(mel, 5.0, floor=0.1)  # heavy over-subtraction still keeps 10 % of every value
    assert float((mel - out).max()) <= math.log(10) + 1e-4
