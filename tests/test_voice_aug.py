"""Speaker augmentation (dsp.voice_aug): the warp moves spectral peaks by the factor, tilt and draws."""

from __future__ import annotations

import math

import pytest
import torch

from deepaudio.dsp.mel import F5_24K, MMAUDIO_16K, mel_spectrogram
from deepaudio.dsp.voice_aug import VoiceAugment, tilt_mel, warp_mel
from deepaudio.errors import ConfigError


def _tone_mel(freq: float, settings=F5_24K) -> torch.Tensor:
    t = torch.arange(settings.sample_rate // 2) / settings.sample_rate
    return mel_spectrogram(torch.sin(2 * math.pi * freq * t), settings).transpose(0, 1)  # (T, M)


@pytest.mark.parametrize("settings", [F5_24K, MMAUDIO_16K], ids=["htk", "slaney"])
@pytest.mark.parametrize("freq,alpha", [(300.0, 1.25), (900.0, 0.8), (2000.0, 1.15), (3500.0, 0.87)])
def test_warp_moves_a_tone_to_alpha_times_its_frequency(settings, freq, alpha):
    frame = 8
    warped = warp_mel(_tone_mel(freq, settings), alpha, settings)[frame]
    target = _tone_mel(freq * alpha, settings)[frame]
    assert abs(int(warped.argmax()) - int(target.argmax())) <= 1
    # the peak keeps its level (interpolation between two bands loses a little)
    assert abs(float(warped.max() - target.max())) < 1.0


def test_identity_inverse_and_shape():
    mel = torch.randn(50, F5_24K.n_mels, generator=torch.Generator().manual_seed(3))
    assert torch.equal(warp_mel(mel, 1.0, F5_24K), mel)
    smooth = torch.sin(torch.linspace(0, 6, F5_24K.n_mels)).expand(4, -1) * 3.0  # a slowly varying envelope
    back = warp_mel(warp_mel(smooth, 1.1, F5_24K), 1 / 1.1, F5_24K)
    inner = slice(5, F5_24K.n_mels - 10)  # the edges repeat the outermost band and cannot come back
    assert (back[:, inner] - smooth[:, inner]).abs().max() < 0.05
    with pytest.raises(ConfigError, match="mel frames"):
        warp_mel(mel[:, :80], 1.1, F5_24K)
    with pytest.raises(ConfigError, match="positive"):
        warp_mel(mel, 0.0, F5_24K)


def test_tilt_is_a_zero_mean_ramp():
    mel = torch.zeros(3, 100)
    out = tilt_mel(mel, 2.0)
    assert torch.allclose(out[0, -1] - out[0, 0], torch.tensor(2.0)) and abs(float(out[0].mean())) < 1e-6


def test_draws_stay_in_range_and_follow_the_probability():
    aug = VoiceAugment(prob=0.6, max_warp=1.3, max_tilt=0.5)
    gen = torch.Generator().manual_seed(0)
    draws = [aug.draw(gen) for _ in range(2000)]
    hit = [d for d in draws if d is not None]
    assert 0.55 < len(hit) / len(draws) < 0.65
    alphas = torch.tensor([a for a, _ in hit])
    assert alphas.min() >= 1 / 1.3 and alphas.max() <= 1.3
    assert abs(float(alphas.log().mean())) < 0.02  # log-uniform: higher and lower voices alike
    assert all(abs(t) <= 0.5 for _, t in hit)
    mel = torch.randn(20, 100)
    assert torch.equal(VoiceAugment(prob=0.0)(mel, F5_24K, gen), mel)
    assert not torch.equal(VoiceAugment(prob=1.0)(mel, F5_24K, gen), mel)
    for bad in ({"prob": 1.5}, {"max_warp": 0.9}, {"max_tilt": -1.0}):
        with pytest.raises(ConfigError):
            VoiceAugment(**bad)


def test_training_batches_are_perturbed_per_batch_and_reproducibly():
    from deepaudio.train.tts import ManifestBatches

    class Clips:  # three clips of log-mel frames
        settings = F5_24K

        def __init__(self):
            g = torch.Generator().manual_seed(1)
            self.mels = [torch.randn(30 + 5 * k, 100, generator=g) for k in range(3)]

        def __getitem__(self, i):
            return {"mel": self.mels[i], "text": "a", "energy": None}

    ids = [[1, 2], [3], [4, 5, 6]]
    plain = ManifestBatches(Clips(), ids, batcher=None).load([0, 1, 2])
    aug = ManifestBatches(Clips(), ids, batcher=None, augment=VoiceAugment(prob=1.0), seed=7)
    a, b = aug.load([0, 1, 2]), aug.load([0, 1, 2])
    assert torch.equal(a["mel"], b["mel"])  # the same batch, the same perturbation (a resume repeats it)
    assert not torch.allclose(a["mel"], plain["mel"])
    assert a["mel"].shape == plain["mel"].shape and torch.equal(a["text"], plain["text"])
    other = ManifestBatches(Clips(), ids, batcher=None, augment=VoiceAugment(prob=1.0), seed=8).load([0, 1, 2])
    assert not torch.equal(other["mel"], a["mel"])
