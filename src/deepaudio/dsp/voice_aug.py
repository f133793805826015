"""Speaker augmentation on log-mel frames: vocal-tract-length style frequency warping and spectral tilt.

A TTS trained on a handful of voices learns to snap every prompt onto the nearest voice it knows, so a new
voice is cloned as one of the training voices. Warping each training clip's spectrum by a random factor
(``alpha``: every frequency ``f`` is moved to ``alpha * f``, which scales pitch harmonics and formants
together, as a longer or shorter vocal tract would; Jaitly & Hinton 2013, "Vocal Tract Length Perturbation")
and tilting it (a few dB more or less treble) turns a few voices into a continuum of them. Prompt and target
are cut from the same clip in F5-TTS training, so both carry the same warp and the model can only infill
the clip right by copying the voice it hears in the prompt.

Shapes: ``mel`` is ``(T, M)`` natural-log mel magnitudes (``dsp.mel.F5_24K``); the warp is a per-bin
linear interpolation along the mel axis and leaves timing (and so phoneme alignments) untouched.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from deepaudio.dsp.mel import MelSettings
from deepaudio.errors import ConfigError


def _hz_to_mel(f: torch.Tensor, scale: str) -> torch.Tensor:
    if scale == "htk":
        return 2595.0 * torch.log10(1.0 + f / 700.0)
    # Slaney: linear below 1 kHz, logarithmic above
    lin = 3.0 * f / 200.0
    log = 15.0 + torch.log(torch.clamp(f, min=1e-6) / 1000.0) / (math.log(6.4) / 27.0)
    return torch.where(f >= 1000.0, log, lin)


def _bin_centres_hz(settings: MelSettings) -> torch.Tensor:
    """Centre frequency of every mel band (the peak of its triangle)."""
    lo = _hz_to_mel(torch.tensor(float(settings.f_min), dtype=torch.float64), settings.mel_scale)
    hi = _hz_to_mel(torch.tensor(settings.fmax, dtype=torch.float64), settings.mel_scale)
    mels = torch.linspace(float(lo), float(hi), settings.n_mels + 2, dtype=torch.float64)[1:-1]
    if settings.mel_scale == "htk":
        return 700.0 * (10.0 ** (mels / 2595.0) - 1.0)
    lin = 200.0 * mels / 3.0
    log = 1000.0 * torch.exp((math.log(6.4) / 27.0) * (mels - 15.0))
    return torch.where(mels >= 15.0, log, lin)


def warp_mel(mel: torch.Tensor, alpha: float, settings: MelSettings) -> torch.Tensor:
    """``mel`` ``(T, M)`` with every frequency moved from ``f`` to ``alpha * f`` (``alpha > 1``: a higher,
    smaller voice). Band ``k`` takes the value the input has at ``f_k / alpha``, read between the two nearest
    bands; frequencies beyond the top band repeat it and those below the lowest band repeat that one."""
    if mel.dim() != 2 or mel.shape[-1] != settings.n_mels:
        raise ConfigError(f"warp_mel expects (frames, {settings.n_mels}) mel frames, got {tuple(mel.shape)}")
    if not alpha > 0:
        raise ConfigError(f"warp factor must be positive, got {alpha}")
    centres = _bin_centres_hz(settings)
    source = _hz_to_mel(centres / alpha, settings.mel_scale)
    grid = _hz_to_mel(centres, settings.mel_scale)
    # fractional band index of every source frequency (the mel centres are evenly spaced)
    pos = (source - grid[0]) / (grid[1] - grid[0])
    pos = pos.clamp(0.0, settings.n_mels - 1.0)
    i0 = pos.floor().long().clamp(max=settings.n_mels - 2)
    w = (pos - i0.to(pos.dtype)).to(mel.dtype)
    return mel[:, i0] * (1.0 - w) + mel[:, i0 + 1] * w


def tilt_mel(mel: torch.Tensor, tilt: float) -> torch.Tensor:
    """Add ``tilt`` nats of level from the lowest to the highest band (linear in band index, zero in the
    middle): positive is brighter, negative darker."""
    m = mel.shape[-1]
    ramp = torch.linspace(-0.5, 0.5, m, dtype=mel.dtype, device=mel.device)
    return mel + tilt * ramp


@dataclass(frozen=True)
class VoiceAugment:
    """Random voice perturbation of training clips.

    ``prob``: chance a clip is perturbed at all; ``alpha`` in ``[1/max_warp, max_warp]``, log-uniform
    (so lower and higher voices are equally likely); ``tilt`` uniform in ``[-max_tilt, max_tilt]`` nats.
    """

    prob: float = 0.5
    max_warp: float = 1.2
    max_tilt: float = 1.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.prob <= 1.0:
            raise ConfigError(f"voice augmentation probability must be in [0, 1], got {self.prob}")
        if not self.max_warp >= 1.0:
            raise ConfigError(f"voice augmentation max warp must be >= 1, got {self.max_warp}")
        if not self.max_tilt >= 0.0:
            raise ConfigError(f"voice augmentation max tilt must be >= 0, got {self.max_tilt}")

    def draw(self, gen: torch.Generator) -> tuple[float, float] | None:
        """``(alpha, tilt)`` for one clip, or None when it stays as it is."""
        u = torch.rand(3, generator=gen, dtype=torch.float64).tolist()
        if u[0] >= self.prob:
            return None
        alpha = math.exp((2.0 * u[1] - 1.0) * math.log(self.max_warp))
        return alpha, (2.0 * u[2] - 1.0) * self.max_tilt

    def __call__(self, mel: torch.Tensor, settings: MelSettings, gen: torch.Generator) -> torch.Tensor:
        d = self.draw(gen)
        if d is None:
            return mel
        alpha, tilt = d
        return tilt_mel(warp_mel(mel, alpha, settings), tilt)
