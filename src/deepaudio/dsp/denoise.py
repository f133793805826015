"""Take a recording's steady noise floor out of its log-mel, for use as a TTS prompt (spectral subtraction).

A real reference (a microphone in a room, a 16 kHz phone line) carries a noise floor under and between the
words. A small TTS copies what it sees in the prompt: with white noise 25 dB under a clean voice's prompt the
bundled model came out 0.08 further from the voice (Resemblyzer cosine to the clean prompt; docs/tts.md). The
noise is estimated as the mean magnitude per mel bin over the quietest frames that carry any signal (the pauses;
the digital silence padded onto a prompt does not count) and subtracted in the magnitude domain, with a spectral
floor so no bin drops below a fraction of its own value (no "musical" holes). A clean
prompt's quietest frames lie near silence, so it is changed little.
"""

from __future__ import annotations

import math

import torch

LN_FLOOR = math.log(1e-5)  # the mel extractor's clamp: ln(1e-5), digital silence


def noise_floor(mel: torch.Tensor, quantile: float = 0.1, log_floor: float = LN_FLOOR) -> torch.Tensor | None:
    """(M,) mean magnitude per mel bin over the quietest ``quantile`` of the frames of ``mel`` (T, M, ln magnitude)
    that hold any signal (at least 3 frames), or None when fewer than 10 such frames exist (no estimate)."""
    live = mel.float()[(mel.float() > log_floor + 1e-3).any(dim=-1)]
    if live.shape[0] < 10:
        return None
    level = torch.logsumexp(live, dim=-1)
    quiet = level.argsort()[: max(3, int(quantile * live.shape[0]))]
    return live[quiet].exp().mean(dim=0)


def subtract_noise(mel: torch.Tensor, strength: float = 1.0, quantile: float = 0.1, floor: float = 0.1,
                   log_floor: float = LN_FLOOR) -> torch.Tensor:
    """``mel`` (T, M, ln magnitude) with ``strength`` x its noise floor subtracted per bin; each value keeps at
    least ``floor`` of its magnitude and stays at or above ``log_floor``. ``strength`` 0 returns ``mel``."""
    if strength <= 0:
        return mel
    noise = noise_floor(mel, quantile, log_floor)
    if noise is None:
        return mel
    mag = mel.float().exp()
    clean = torch.maximum(mag - strength * noise.to(mag.device), floor * mag)
    return clean.clamp_min(math.exp(log_floor)).log().to(mel.dtype)
