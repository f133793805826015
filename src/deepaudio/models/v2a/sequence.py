"""Token counts of one V2A window: one frozen dataclass (MMAudio's ``SequenceConfig``, any latent rate).

The V2A network sees a window of ``duration`` seconds as three sequences: latents at the codec's
``latent_rate`` (MMAudio: sr/hop/2 per second), CLIP frames at 8 fps, and Synchformer tokens from
25 fps frames in 16-frame segments with stride 8, 8 tokens per segment. Training, inference, the
feature cache and voice-over removal all size their sequences from this one object.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from deepaudio.errors import InputError

CLIP_FPS = 8.0
SYNC_FPS = 25.0
SYNC_WINDOW, SYNC_STRIDE, SYNC_TOKENS = 16, 8, 8


def mmaudio_latent_rate(sample_rate: int) -> float:
    """Latents per second of MMAudio's VAE: mel hop 256 at 16 kHz, 512 at 44.1 kHz, then halved."""
    hop = 256 if sample_rate == 16000 else 512
    return sample_rate / hop / 2


@dataclass(frozen=True)
class SequencePlan:
    """Sequence lengths of one window of ``duration`` seconds."""

    duration: float
    latent: int
    clip_frames: int
    sync_frames: int

    @property
    def sync_tokens(self) -> int:
        return ((self.sync_frames - SYNC_WINDOW) // SYNC_STRIDE + 1) * SYNC_TOKENS

    @classmethod
    def for_duration(cls, duration: float, latent_rate: float) -> SequencePlan:
        sync_frames = int(duration * SYNC_FPS)
        if sync_frames < SYNC_WINDOW:
            raise InputError(f"video window of {duration:.2f} s is too short",
                             hint=f"V2A needs at least {SYNC_WINDOW / SYNC_FPS:.2f} s of video")
        return cls(duration, int(math.ceil(duration * latent_rate - 1e-6)), int(duration * CLIP_FPS), sync_frames)

    @classmethod
    def for_mmaudio(cls, duration: float, sample_rate: int) -> SequencePlan:
        """The plan of MMAudio's own VAE at ``sample_rate`` (16000 or 44100)."""
        return cls.for_duration(duration, mmaudio_latent_rate(sample_rate))


def fit_frames(frames: torch.Tensor, n: int) -> torch.Tensor:
    """Crop or pad (repeating the last frame) to exactly n frames, as MMAudio does for short streams."""
    if frames.shape[0] >= n:
        return frames[:n]
    if frames.shape[0] == 0:
        raise InputError("no frames could be decoded in this part of the video")
    pad = frames[-1:].expand(n - frames.shape[0], *frames.shape[1:])
    return torch.cat([frames, pad])
