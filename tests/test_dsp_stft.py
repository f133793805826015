"""STFT/ISTFT: perfect reconstruction, frame counts, agreement with torch/librosa, padding errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from deepaudio.dsp.stft import istft, magnitude, num_frames, pad_signal, stft
from deepaudio.errors import InputError

# (n_fft, hop) pairs with hop <= n_fft / 2 so a periodic Hann window satisfies NOLA everywhere.
SIZES = [(16, 4), (32, 8), (64, 16), (32, 16), (64, 32)]


def covered(frames: int, n_fft: int, hop: int, center: bool, pad: int, length: int) -> int:
    # The last frame ends at (frames - 1) * hop + n_fft in padded coordinates.
    return min(length, (frames - 1) * hop + n_fft - pad - (n_fft // 2 if center else 0))


@settings(max_examples=25, deadline=None)
@given(size=st.sampled_from(SIZES), length=st.integers(80, 400), layout=st.sampled_from(["center", "same", "both"]),
       batch=st.integers(1, 3), seed=st.integers(0, 2**31 - 1))
def test_round_trip_is_perfect(size, length, layout, batch, seed):
    n_fft, hop = size
    x = torch.randn(batch, length, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    center = layout in ("center", "both")
    pad = (n_fft - hop) // 2 if layout in ("same", "both") else 0
    spec = stft(x, n_fft, hop, center=center, pad=pad)
    assert spec.shape == (batch, n_fft // 2 + 1, num_frames(length, n_fft, hop, center, pad))
    y = istft(spec, n_fft, hop, center=center, pad=pad, length=length)
    # Samples after the last frame's end are not covered by any frame (torch.istft zero-fills them too).
    c = covered(spec.shape[-1], n_fft, hop, center, pad, length)
    assert c >= length - hop
    assert torch.allclose(y[..., :c], x[..., :c], atol=1e-9)
    assert torch.all(y[..., c:] == 0)


def test_round_trip_float32_with_leading_dims():
    x = torch.randn(2, 3, 2000, generator=torch.Generator().manual_seed(0))
    spec = stft(x, 256, 64)
    assert spec.shape == (2, 3, 129, 2000 // 64 + 1)
    y = istft(spec, 256, 64, length=2048)
    assert y.shape == (2, 3, 2048)
    c = covered(spec.shape[-1], 256, 64, True, 0, 2000)
    assert (y[..., :c] - x[..., :c]).abs().max() < 1e-5


def test_short_window_is_centred_in_frame():
    x = torch.randn(1000, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    ours = stft(x, 64, 16, win_length=48)
    ref = torch.stft(x, 64, 16, win_length=48, window=torch.hann_window(48, dtype=torch.float64), center=True,
                     pad_mode="reflect", return_complex=True)
    assert torch.allclose(ours, ref, atol=1e-12)
    assert torch.allclose(istft(ours, 64, 16, win_length=48, length=1000), x, atol=1e-9)


def test_matches_torch_istft_when_centred():
    spec = torch.randn(2, 65, 20, dtype=torch.complex128, generator=torch.Generator().manual_seed(2))
    spec[:, 0].imag = 0
    spec[:, -1].imag = 0
    ref = torch.istft(spec, 128, 32, window=torch.hann_window(128, dtype=torch.float64), center=True)
    ours = istft(spec, 128, 32, center=True, length=ref.shape[-1])
    assert torch.allclose(ours, ref, atol=1e-10)


def test_matches_librosa_stft():
    librosa = pytest.importorskip("librosa")
    x = np.random.default_rng(3).standard_normal(3000).astype(np.float64)
    ref = librosa.stft(x, n_fft=512, hop_length=128, window="hann", center=True, pad_mode="reflect")
    ours = stft(torch.from_numpy(x), 512, 128).numpy()
    assert np.abs(ours - ref).max() < 1e-9


def test_magnitude_forms():
    spec = torch.complex(torch.tensor([3.0, 0.0]), torch.tensor([4.0, 0.0]))
    assert torch.equal(magnitude(spec), torch.tensor([5.0, 0.0]))
    assert torch.allclose(magnitude(spec, power=2.0), torch.tensor([25.0, 0.0]))
    assert torch.allclose(magnitude(spec, eps=1e-9), torch.tensor([5.0, 1e-9**0.5]))


def test_padding_modes_and_errors():
    x = torch.arange(5.0)
    assert pad_signal(x, (2, 1), "reflect").tolist() == [2, 1, 0, 1, 2, 3, 4, 3]
    assert pad_signal(x, 2, "constant").tolist() == [0, 0, 0, 1, 2, 3, 4, 0, 0]
    with pytest.raises(InputError, match="too short for reflect padding"):
        stft(torch.randn(100), 512, 128)
    with pytest.raises(InputError, match="empty"):
        stft(torch.zeros(0), 64, 16)
    with pytest.raises(ValueError):
        pad_signal(x, 1, "mirror")
