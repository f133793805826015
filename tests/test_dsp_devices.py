"""The dsp functions follow their input's device: CUDA results equal CPU results (skipped without a GPU)."""

from __future__ import annotations

import math

import pytest
import torch

from deepaudio.dsp import (
    F5_24K,
    MMAUDIO_44K,
    MelSpectrogram,
    energy_contour,
    griffin_lim_from_mel,
    integrated_loudness,
    istft,
    mel_spectrogram,
    stft,
)

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@cuda
def test_cuda_matches_cpu():
    dev = torch.device("cuda")
    sr = 24000
    x = 0.5 * torch.sin(2 * math.pi * 440 * torch.arange(sr) / sr).unsqueeze(0)
    for s in (F5_24K, MMAUDIO_44K):
        # compared as magnitudes: cuFFT and the CPU FFT round differently by ~1e-5 of the peak, which the log
        # turns into 0.2 in bins far from the tone (measured on an H200)
        got, ref = mel_spectrogram(x.to(dev), s).cpu().exp(), mel_spectrogram(x, s).exp()
        assert torch.allclose(got, ref, rtol=1e-4, atol=1e-4 * ref.max().item())
    assert MelSpectrogram(F5_24K).to(dev)(x.to(dev)).device.type == "cuda"
    spec = stft(x.to(dev), 1024, 256)
    assert torch.allclose(istft(spec, 1024, 256, length=sr).cpu(), x, atol=1e-5)
    assert torch.allclose(energy_contour(x.to(dev), sr).cpu(), energy_contour(x, sr), atol=1e-6)
    assert integrated_loudness(x.to(dev), sr) == pytest.approx(integrated_loudness(x, sr), abs=1e-6)
    mel = mel_spectrogram(x, F5_24K)
    g = griffin_lim_from_mel(mel.to(dev), F5_24K, n_iter=2, generator=torch.Generator().manual_seed(0))
    assert g.device.type == "cuda" and torch.isfinite(g).all()


def test_outputs_stay_float32_on_the_input_device():
    # Without a device argument everything stays on the input's device (CPU here) and in float32.
    x = torch.randn(1, 4096)
    assert mel_spectrogram(x, F5_24K).dtype == torch.float32
    assert energy_contour(x).dtype == torch.float32
