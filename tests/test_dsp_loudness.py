"""BS.1770-4 loudness (K-weighting, gating, calibration) and RMS normalisation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from deepaudio.dsp.loudness import (
    block_energies,
    integrated_loudness,
    k_weight,
    k_weighting_coefficients,
    normalize_loudness,
    normalize_rms,
    peak_normalize,
    rms,
)
from deepaudio.io import testmedia as tm


def _sine(freq: float, sr: int, seconds: float, amp: float = 1.0) -> torch.Tensor:
    t = torch.arange(int(sr * seconds), dtype=torch.float64) / sr
    return (amp * torch.sin(2 * math.pi * freq * t)).float()


def test_k_weighting_reproduces_the_48k_table_of_bs1770():
    (sb, sa), (hb, ha) = k_weighting_coefficients(48000)
    # ITU-R BS.1770-4, Tables 1 and 2.
    assert np.allclose(sb, [1.53512485958697, -2.69169618940638, 1.19839281085285], atol=1e-9)
    assert np.allclose(sa, [1.0, -1.69065929318241, 0.73248077421585], atol=1e-9)
    assert np.allclose(hb, [1.0, -2.0, 1.0]) and np.allclose(ha, [1.0, -1.99004745483398, 0.99007225036621], atol=1e-9)


@pytest.mark.parametrize("sr", [16000, 44100, 48000])
def test_frequency_domain_filter_equals_direct_form_iir(sr):
    signal = pytest.importorskip("scipy.signal")
    x = torch.randn(2, sr // 2, generator=torch.Generator().manual_seed(sr), dtype=torch.float64)
    (sb, sa), (hb, ha) = k_weighting_coefficients(sr)
    ref = signal.lfilter(hb, ha, signal.lfilter(sb, sa, x.numpy(), axis=-1), axis=-1)
    assert np.abs(k_weight(x, sr).numpy() - ref).max() < 1e-9


@pytest.mark.parametrize("sr", [44100, 48000])
def test_calibration_997hz_sine(sr):
    tone = _sine(997.0, sr, 3.0)
    # BS.1770: a 0 dBFS 997 Hz sine in one channel reads -3.01 LUFS.
    assert integrated_loudness(tone, sr) == pytest.approx(-3.01, abs=0.01)
    assert integrated_loudness(torch.stack([tone, torch.zeros_like(tone)]), sr) == pytest.approx(-3.01, abs=0.01)
    # The same sine in both channels of a stereo pair sums the channel powers: +3.01 dB, i.e. 0 LUFS.
    assert integrated_loudness(torch.stack([tone, tone]), sr) == pytest.approx(0.0, abs=0.01)
    # Level follows gain exactly: -20 dBFS reads -23.01 LUFS.
    assert integrated_loudness(0.1 * tone, sr) == pytest.approx(-23.01, abs=0.01)


def test_k_weighting_shape_low_and_high_frequencies():
    sr = 48000
    low = integrated_loudness(_sine(30.0, sr, 2.0), sr)
    mid = integrated_loudness(_sine(997.0, sr, 2.0), sr)
    high = integrated_loudness(_sine(8000.0, sr, 2.0), sr)
    assert low < mid - 1.0  # RLB high-pass attenuates 30 Hz
    assert high == pytest.approx(mid + 3.3, abs=0.5)  # the +4 dB shelf (about +3.9 dB at 8 kHz vs +0.7 at 1 kHz)


def test_gating_ignores_silence_and_quiet_passages():
    sr = 16000
    tone = _sine(997.0, sr, 4.0, amp=0.5)
    base = integrated_loudness(tone, sr)
    # 4 s of digital silence: below the absolute gate, so only the blocks straddling the edge change the result.
    with_silence = integrated_loudness(torch.cat([tone, torch.zeros(4 * sr)]), sr)
    assert with_silence == pytest.approx(base, abs=0.2)
    # A passage 30 dB down sits below the relative gate (-10 LU) and is ignored as well.
    quiet = integrated_loudness(torch.cat([tone, _sine(997.0, sr, 4.0, amp=0.5 * 10 ** (-30 / 20))]), sr)
    assert quiet == pytest.approx(base, abs=0.2)
    # Without gating the mean energy would fall by 3 dB; check the gate is what keeps it.
    energies = block_energies(torch.cat([tone, torch.zeros(4 * sr)]), sr)
    ungated = -0.691 + 10 * math.log10(energies.mean().item())
    assert ungated < base - 2.5


def test_silence_and_short_clips():
    sr = 16000
    assert integrated_loudness(torch.zeros(2, sr), sr) == -math.inf
    assert integrated_loudness(torch.zeros(1, 0), sr) == -math.inf
    short = _sine(997.0, sr, 0.2)  # shorter than one 400 ms block: measured as one block
    assert integrated_loudness(short, sr) == pytest.approx(-3.01, abs=0.05)
    assert torch.equal(normalize_loudness(torch.zeros(1, sr), sr), torch.zeros(1, sr))


@pytest.mark.parametrize("target", [-23.0, -16.0])
def test_normalize_loudness_hits_target(target):
    sr = 24000
    g = torch.Generator().manual_seed(0)
    x = 0.05 * torch.randn(2, sr * 2, generator=g)
    y = normalize_loudness(x, sr, target)
    assert integrated_loudness(y, sr) == pytest.approx(target, abs=1e-3)
    assert torch.allclose(y / x, (y / x).flatten()[0].expand_as(x), rtol=1e-4)  # a pure gain


def test_rms_normalisation():
    x = _sine(440.0, 24000, 1.0, amp=0.02).unsqueeze(0)
    assert rms(x).item() == pytest.approx(0.02 / math.sqrt(2), rel=1e-3)
    assert rms(normalize_rms(x, 0.1)).item() == pytest.approx(0.1, rel=1e-5)
    assert torch.equal(normalize_rms(torch.zeros(1, 10), 0.1), torch.zeros(1, 10))


def test_rms_and_peak_normalisation():
    wav, _ = tm.tone(1.0, 16000, (440.0,), amplitude=0.01)
    assert abs(float(rms(normalize_rms(wav, 0.1))) - 0.1) < 1e-5
    loud = wav * 50
    assert torch.equal(normalize_rms(loud, 0.1, only_boost=True), loud)  # F5-TTS: only quiet prompts rise
    assert abs(float(rms(normalize_rms(wav, 0.1, only_boost=True))) - 0.1) < 1e-5
    assert torch.equal(normalize_rms(torch.zeros(1, 100), 0.1), torch.zeros(1, 100))
    assert abs(float(peak_normalize(wav, 0.9).abs().max()) - 0.9) < 1e-6


def test_loudness_matches_bs1770_reference_and_normalises():
    wav, sr = tm.tone(3.0, 48000, (997.0,), amplitude=1.0)
    assert abs(integrated_loudness(wav, sr) - (-3.01)) < 0.02  # BS.1770: full-scale 997 Hz sine, one channel
    quiet = wav * 0.01
    assert abs(integrated_loudness(normalize_loudness(quiet, sr, -23.0), sr) + 23.0) < 0.05
    capped = normalize_loudness(quiet, sr, target_lufs=0.0, max_peak=0.5)
    assert abs(float(capped.abs().max()) - 0.5) < 1e-5
    assert math.isinf(integrated_loudness(torch.zeros(1, 48000), sr))
