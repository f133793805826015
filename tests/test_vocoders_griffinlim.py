"""The Griffin-Lim fallback behaves like the neural vocoders: same interface, lengths, a faithful mel."""

from __future__ import annotations

import math

import pytest
import torch

from deepaudio.dsp.mel import F5_24K, mel_spectrogram
from deepaudio.errors import ConfigError
from deepaudio.models.vocoders import load_vocoder
from deepaudio.models.vocoders.griffinlim import GriffinLimConfig, GriffinLimVocoder


def test_decode_reproduces_the_mel_of_a_tone():
    t = torch.arange(24 * 256) / 24000
    wav = 0.3 * torch.sin(2 * math.pi * 440 * t) + 0.1 * torch.sin(2 * math.pi * 1250 * t)
    mel = mel_spectrogram(wav[None], F5_24K)  # (1, 100, 25)
    voc = load_vocoder(None)
    assert isinstance(voc, GriffinLimVocoder) and voc.sample_rate == 24000 and voc.hop_length == 256
    out = voc.decode(mel)
    assert out.shape == (1, 24 * 256)
    rebuilt = mel_spectrogram(out, F5_24K)
    loud = mel > mel.max() - 4  # bins within ~35 dB of the peak
    assert (rebuilt - mel)[loud].abs().mean() < 0.25  # random phases (no iterations) give 0.76
    torch.testing.assert_close(voc.decode(mel[0]), out[0])  # unbatched input, deterministic seed


def test_griffinlim_errors():
    with pytest.raises(ConfigError, match="80 mel bins"):
        load_vocoder(None, fallback_mel="mmaudio_16k").decode(torch.zeros(1, 100, 4))
    with pytest.raises(ConfigError, match="momentum"):
        GriffinLimVocoder(GriffinLimConfig(momentum=1.0))
