"""Mel filterbanks and the three mel settings against librosa (reference only) and the stored buffers."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from deepaudio.dsp.mel import (
    F5_24K,
    MEL_PRESETS,
    MMAUDIO_16K,
    MMAUDIO_44K,
    VOCOS_24K,
    MelSettings,
    MelSpectrogram,
    hz_to_mel,
    mel_filterbank,
    mel_spectrogram,
    mel_to_hz,
)
from deepaudio.errors import ConfigError

librosa = pytest.importorskip("librosa")


def _test_wave(sr: int, seconds: float = 0.25, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(int(sr * seconds)) / sr
    x = 0.5 * torch.sin(2 * math.pi * 440 * t) + 0.3 * torch.sin(2 * math.pi * 3100 * t)
    return (x + 0.05 * torch.randn(x.shape, generator=g)).float()


@pytest.mark.parametrize("sr,n_fft,n_mels,fmax", [(24000, 1024, 100, 12000), (16000, 1024, 80, 8000),
                                                  (44100, 2048, 128, 22050.0), (22050, 512, 40, None)])
@pytest.mark.parametrize("htk,norm", [(True, None), (False, "slaney"), (True, "slaney"), (False, None)])
@pytest.mark.parametrize("arithmetic", ["librosa", "torchaudio"])
def test_filterbank_matches_librosa(sr, n_fft, n_mels, fmax, htk, norm, arithmetic):
    ref = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=0.0, fmax=fmax, htk=htk, norm=norm)
    ours = mel_filterbank(sr, n_fft, n_mels, 0.0, fmax, "htk" if htk else "slaney", norm, arithmetic).numpy()
    assert ours.shape == ref.shape == (n_mels, n_fft // 2 + 1)
    scale = np.abs(ref).max()
    assert np.abs(ours - ref).max() <= 1e-4 * scale
    if arithmetic == "librosa":  # same rounding as librosa: equal to float32 precision
        assert np.abs(ours - ref).max() <= 1e-6 * scale


def test_filterbank_with_fmin():
    ref = librosa.filters.mel(sr=16000, n_fft=512, n_mels=32, fmin=125.0, fmax=7600.0)
    ours = mel_filterbank(16000, 512, 32, 125.0, 7600.0, "slaney", "slaney").numpy()
    assert np.abs(ours - ref).max() <= 1e-6 * np.abs(ref).max()


@pytest.mark.parametrize("scale", ["htk", "slaney"])
def test_mel_scale_round_trip_and_librosa(scale):
    f = torch.tensor([0.0, 100.0, 999.0, 1000.0, 4000.0, 12000.0], dtype=torch.float64)
    ref = librosa.hz_to_mel(f.numpy(), htk=scale == "htk")
    assert np.allclose(hz_to_mel(f, scale).numpy(), ref, rtol=1e-12, atol=1e-9)
    assert torch.allclose(mel_to_hz(hz_to_mel(f, scale), scale), f, atol=1e-8)


def _librosa_log_mel(x: np.ndarray, s: MelSettings) -> np.ndarray:
    """Independent reference: librosa STFT + librosa filters, following each preset's written recipe."""
    if s.clamp_input:
        x = np.clip(x, -1, 1)
    pad = (s.n_fft - s.hop_length) // 2 if s.padding == "same" else 0
    x = np.pad(x, [(0, 0), (pad, pad)], mode="reflect") if pad else x
    spec = librosa.stft(x.astype(np.float64), n_fft=s.n_fft, hop_length=s.hop_length, win_length=s.win_length,
                        window="hann", center=s.padding == "center", pad_mode="reflect")
    mag = np.sqrt(np.abs(spec) ** 2 + s.magnitude_eps)
    fb = librosa.filters.mel(sr=s.sample_rate, n_fft=s.n_fft, n_mels=s.n_mels, fmin=s.f_min, fmax=s.fmax,
                             htk=s.mel_scale == "htk", norm=s.norm, dtype=np.float64)
    mel = np.maximum(np.einsum("mf,bft->bmt", fb, mag), s.log_floor)
    return np.log10(mel) if s.log == "log10" else np.log(mel)


@pytest.mark.parametrize("preset", [F5_24K, VOCOS_24K, MMAUDIO_16K, MMAUDIO_44K], ids=lambda s: str(s.sample_rate))
def test_log_mel_matches_librosa_recipe(preset):
    x = torch.stack([_test_wave(preset.sample_rate, seed=0), 1.3 * _test_wave(preset.sample_rate, seed=1)])
    ours = mel_spectrogram(x, preset)
    ref = _librosa_log_mel(x.numpy(), preset)
    assert ours.shape == ref.shape == (2, preset.n_mels, preset.num_frames(x.shape[-1]))
    # float32 STFT against float64 librosa: measured max 1.2e-5 (24k), 1.7e-6 (16k), 5.9e-6 (44k).
    assert np.abs(ours.numpy() - ref).max() < 1e-4
    assert np.abs(ours.numpy() - ref).mean() < 1e-5


def test_preset_values_follow_system_notes():
    assert (F5_24K.sample_rate, F5_24K.n_mels, F5_24K.n_fft, F5_24K.hop_length, F5_24K.fmax) == (24000, 100, 1024,
                                                                                                  256, 12000.0)
    assert (F5_24K.mel_scale, F5_24K.norm, F5_24K.padding, F5_24K.log, F5_24K.log_floor) == ("htk", None, "center",
                                                                                             "ln", 1e-5)
    assert VOCOS_24K.log_floor == 1e-7 and F5_24K.frame_rate == 93.75
    assert (MMAUDIO_16K.sample_rate, MMAUDIO_16K.n_mels, MMAUDIO_16K.fmax, MMAUDIO_16K.log) == (16000, 80, 8000.0,
                                                                                                "log10")
    assert (MMAUDIO_44K.n_fft, MMAUDIO_44K.hop_length, MMAUDIO_44K.n_mels, MMAUDIO_44K.fmax, MMAUDIO_44K.log) == (
        2048, 512, 128, 22050.0, "ln")
    for s in (MMAUDIO_16K, MMAUDIO_44K):
        assert (s.mel_scale, s.norm, s.padding, s.clamp_input, s.magnitude_eps) == ("slaney", "slaney", "same",
                                                                                    True, 1e-9)
    assert MEL_PRESETS.get("mmaudio_44k") == MMAUDIO_44K
    with pytest.raises(ConfigError, match="unknown mel setting"):
        MEL_PRESETS.get("nope")


def test_frame_counts():
    x = torch.randn(1, 4800)
    assert mel_spectrogram(x, F5_24K).shape[-1] == 4800 // 256 + 1
    assert mel_spectrogram(x, MMAUDIO_16K).shape[-1] == 4800 // 256
    assert mel_spectrogram(torch.randn(11025), MMAUDIO_44K).shape == (128, 11025 // 512)


def test_bad_settings_raise_config_error():
    with pytest.raises(ConfigError):
        dataclasses.replace(F5_24K, mel_scale="bark")
    with pytest.raises(ConfigError):
        dataclasses.replace(F5_24K, log="log2")
    with pytest.raises(ConfigError):
        mel_filterbank(16000, 512, 40, 9000.0, 8000.0)
    with pytest.raises(ConfigError, match="norm_fn"):
        MelSettings.from_mmaudio_kwargs({"norm_fn": "torch.sqrt"})


def test_module_state_dict_uses_mmaudio_buffer_names():
    m = MelSpectrogram(MMAUDIO_16K)
    assert set(m.state_dict()) == {"mel_basis", "hann_window"}
    assert m.mel_basis.shape == (80, 513) and m.hann_window.shape == (1024,)
    x = _test_wave(16000).unsqueeze(0)
    assert torch.equal(m(x), mel_spectrogram(x, MMAUDIO_16K))


@settings(max_examples=20, deadline=None)
@given(gain=st.floats(1.05, 20.0), seed=st.integers(0, 1000),
       preset=st.sampled_from([F5_24K, dataclasses.replace(MMAUDIO_16K, clamp_input=False)]))
def test_mel_is_monotonic_in_gain(gain, seed, preset):
    x = 0.04 * torch.randn(1, 2048, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    s = dataclasses.replace(preset, log_floor=1e-12)
    lo, hi = mel_spectrogram(x, s), mel_spectrogram(gain * x, s)
    # A gain multiplies every magnitude (power 1), so every log-mel bin moves up by log(gain) exactly.
    log_gain = math.log10(gain) if s.log == "log10" else math.log(gain)
    assert torch.all(hi > lo)
    assert torch.allclose(hi - lo, torch.full_like(lo, log_gain), atol=1e-6)
