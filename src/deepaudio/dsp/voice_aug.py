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

from deepaudio.dsp.mel import MelSettings, hz_to_mel, mel_to_hz
from deepaudio.errors import ConfigError


def warp_mel(mel: torch.Tensor, alpha: float, settings: MelSettings) -> torch.Tensor:
    """``mel`` ``(T, M)`` with every frequency moved from ``f`` to ``alpha * f`` (``alpha > 1``: a higher,
    smaller voice). Band ``k`` takes the value the input has at ``f_k / alpha``, read between the two nearest
    bands; frequencies beyond the top band repeat it and those below the lowest band repeat that one."""
    if mel.dim() != 2 or mel.shape[-1] != settings.n_mels:
        raise ConfigError(f"warp_mel expects (frames, {settings.n_mels}) mel frames, got {tuple(mel.shape)}")
    if not alpha > 0:
        raise ConfigError(f"warp factor must be positive, got {alpha}")
    scale = settings.mel_scale
    lo, hi = (float(hz_to_mel(torch.tensor(f, dtype=torch.float64), scale)) for f in (settings.f_min, settings.fmax))
    step = (hi - lo) / (settings.n_mels + 1)  # band k's triangle peaks at mel lo + (k + 1) * step
    centres = mel_to_hz(lo + step * torch.arange(1, settings.n_mels + 1, dtype=torch.float64), scale)
    # fractional band index of every source frequency f_k / alpha
    pos = ((hz_to_mel(centres / alpha, scale) - lo) / step - 1.0).clamp(0.0, settings.n_mels - 1.0)
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
