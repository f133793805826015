"""Filling the empty top of a band-limited prompt's log-mel (dsp.bandwidth)."""

from __future__ import annotations

import torch

from deepaudio.dsp.bandwidth import band_edge, extend_band
from deepaudio.dsp.mel import F5_24K, mel_spectrogram
from deepaudio.io.audio import resample

SR = 24000


def _noise_bursts(seconds: float = 2.0, seed: int = 0) -> torch.Tensor:
    """Full-band "speech": bursts of pink-ish noise with pauses, 24 kHz."""
    g = torch.Generator().manual_seed(seed)
    n = int(seconds * SR)
    white = torch.randn(n, generator=g)
    spec = torch.fft.rfft(white)
    f = torch.arange(spec.numel()).clamp_min(1).float()
    pink = torch.fft.irfft(spec / f.sqrt(), n)
    gate = ((torch.arange(n) / SR * 4).floor() % 3 != 0).float()
    return 0.3 * pink / pink.abs().max() * gate


def _mel(wav: torch.Tensor) -> torch.Tensor:
    return mel_spectrogram(wav, F5_24K).transpose(0, 1).float()


def test_fills_a_16k_prompts_top_and_keeps_what_is_below():
    wav = _noise_bursts()
    full = _mel(wav)
    low = _mel(resample(resample(wav, SR, 16000), 16000, SR)[: wav.numel()])
    edge_full, edge_low = band_edge(full), band_edge(low)
    assert edge_full == full.shape[1] - 1 and edge_low < full.shape[1] - 8
    out = extend_band(low)
    assert out.shape == low.shape and torch.isfinite(out).all()
    speech = full.logsumexp(-1) > full.logsumexp(-1).max() - 3
    top = slice(edge_low + 2, None)
    # the filled top lies near the real one (within 10 dB on average), not ~80 dB under it as before
    err_before = (low[speech, top] - full[speech, top]).abs().mean() * 20 / 2.302585
    err_after = (out[speech, top] - full[speech, top]).abs().mean() * 20 / 2.302585
    assert err_before > 40 and err_after < 10
    torch.testing.assert_close(out[:, : edge_low - 2], low[:, : edge_low - 2], atol=0, rtol=0)
    assert (out >= low).all()


def test_full_band_and_silent_prompts_are_left_alone():
    full = _mel(_noise_bursts(seed=1))
    assert torch.equal(extend_band(full), full)
    silent = torch.full((40, 100), -11.5129)
    assert torch.equal(extend_band(silent), silent)
