"""Griffin-Lim as a vocoder: the same ``decode(mel) -> wav`` interface as Vocos and BigVGAN, no weights.

No neural vocoder weights ship with deepaudio (they are loaded from files a user gives), so demos and
tests that must turn a mel into sound without them fall back to this. It wraps
``deepaudio.dsp.griffinlim`` (pseudo-inverse of the mel filters, then fast Griffin-Lim, Perraudin et al.
2013); quality is intelligible but phasey, so callers should say when it was used.

Shape key: B batch, M mel bins, T frames, L samples.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from deepaudio.config import Registry
from deepaudio.dsp.griffinlim import griffin_lim_from_mel
from deepaudio.dsp.mel import MEL_PRESETS, MelSettings
from deepaudio.errors import ConfigError

__all__ = ["GriffinLimConfig", "GriffinLimVocoder", "GRIFFINLIM_PRESETS"]


@dataclass(frozen=True)
class GriffinLimConfig:
    """``mel`` names a ``deepaudio.dsp.mel.MEL_PRESETS`` entry: the space the incoming mels live in."""

    mel: str = "f5_24k"
    n_iter: int = 32
    momentum: float = 0.99
    seed: int = 0  # initial random phases: a fixed seed makes decode deterministic

    def validate(self) -> GriffinLimConfig:
        if self.n_iter < 0:
            raise ConfigError(f"Griffin-Lim n_iter must be >= 0, got {self.n_iter}")
        if not 0.0 <= self.momentum < 1.0:
            raise ConfigError(f"Griffin-Lim momentum must be in [0, 1), got {self.momentum}")
        return self


GRIFFINLIM_PRESETS: Registry[GriffinLimConfig] = Registry("Griffin-Lim preset")
GRIFFINLIM_PRESETS.add("f5_24k", GriffinLimConfig())  # in place of Vocos for the TTS mel
GRIFFINLIM_PRESETS.add("bigvgan_24k", GriffinLimConfig(mel="bigvgan_24k"))  # a TTS trained on the BigVGAN mel
GRIFFINLIM_PRESETS.add("mmaudio_16k", GriffinLimConfig(mel="mmaudio_16k"))  # in place of BigVGAN 16k
GRIFFINLIM_PRESETS.add("mmaudio_44k", GriffinLimConfig(mel="mmaudio_44k"))  # in place of BigVGAN-v2 44k


class GriffinLimVocoder(nn.Module):
    """``decode(mel [B, M, T]) -> wav [B, L]`` with L = (T-1)*hop (centred mels) or T*hop ('same')."""

    kind = "griffinlim"

    def __init__(self, config: GriffinLimConfig = GriffinLimConfig(), settings: MelSettings | None = None,
                 notice: str | None = None):
        super().__init__()
        self.config = config.validate()
        self.settings = settings if settings is not None else MEL_PRESETS.get(config.mel)
        # said on stderr at first use, not at load, so input errors found before generating stay one line
        self.notice = notice

    @property
    def sample_rate(self) -> int:
        return self.settings.sample_rate

    @property
    def hop_length(self) -> int:
        return self.settings.hop_length

    def decode(self, mel: torch.Tensor) -> torch.Tensor:
        """log-mel [B, M, T] (or [M, T]) in ``settings``' space -> waveform [B, L] (or [L]) on mel's device."""
        if self.notice:
            import sys

            print(self.notice, file=sys.stderr)
            self.notice = None
        if mel.shape[-2] != self.settings.n_mels:
            raise ConfigError(f"Griffin-Lim for {self.config.mel!r} expects {self.settings.n_mels} mel bins, "
                              f"got {mel.shape[-2]}")
        gen = torch.Generator().manual_seed(self.config.seed)
        return griffin_lim_from_mel(mel.float(), self.settings, n_iter=self.config.n_iter,
                                    momentum=self.config.momentum, generator=gen)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        return self.decode(mel)
