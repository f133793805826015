"""Long inputs through fixed-length models: overlapping windows and cross-faded stitching.

The V2A network is trained on clips of one length (8 s for MMAudio). A longer video is cut into
windows of that length which overlap by ``overlap`` seconds; the last window is aligned to the end of
the video so no window runs past it (and none is padded with blank frames). Each window's audio is
stitched with an equal-power cross-fade over the overlap, so a two-minute video gets two minutes of
continuous sound. Video shorter than one window is one window of its own length.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Window:
    start: float  # seconds
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start


def plan_windows(duration: float, window: float, overlap: float = 1.0) -> list[Window]:
    """Windows covering [0, duration]; consecutive windows overlap by at least ``overlap`` seconds."""
    if duration <= 0:
        raise ValueError(f"duration must be positive, got {duration}")
    if not 0 <= overlap < window:
        raise ValueError(f"overlap must be in [0, window), got {overlap} for window {window}")
    if duration <= window:
        return [Window(0.0, float(duration))]
    hop = window - overlap
    n = math.ceil((duration - window) / hop) + 1
    starts = [min(k * hop, duration - window) for k in range(n)]
    return [Window(float(s), float(s + window)) for s in starts]


def stitch(chunks: list[torch.Tensor], windows: list[Window], sample_rate: int, total: float) -> torch.Tensor:
    """Place each (C, T_k) chunk at its window start and cross-fade overlaps (equal power).

    Returns (C, round(total * sample_rate)). Chunks may be slightly longer or shorter than their
    window (codec frame rounding); they are cropped to the window, and gaps never occur because
    windows overlap.
    """
    if len(chunks) != len(windows) or not chunks:
        raise ValueError("need one chunk per window")
    length = int(round(total * sample_rate))
    channels = chunks[0].shape[0]
    out = torch.zeros(channels, length, dtype=chunks[0].dtype, device=chunks[0].device)
    weight = torch.zeros(length, dtype=torch.float32, device=chunks[0].device)
    for k, (chunk, win) in enumerate(zip(chunks, windows)):
        a = int(round(win.start * sample_rate))
        b = min(length, a + int(round(win.duration * sample_rate)), a + chunk.shape[-1])
        n = b - a
        if n <= 0:
            continue
        w = torch.ones(n, dtype=torch.float32, device=chunk.device)
        if k > 0:  # fade in over the overlap with the previous window
            fade = max(0, int(round((windows[k - 1].end - win.start) * sample_rate)))
            fade = min(fade, n)
            if fade:
                w[:fade] = torch.sin(0.5 * math.pi * (torch.arange(fade, device=chunk.device) + 0.5) / fade) ** 2
        if k + 1 < len(windows):  # fade out over the overlap with the next window
            fade = max(0, int(round((win.end - windows[k + 1].start) * sample_rate)))
            fade = min(fade, n)
            if fade:
                w[n - fade:] *= torch.cos(0.5 * math.pi * (torch.arange(fade, device=chunk.device) + 0.5) / fade) ** 2
        out[:, a:b] += chunk[:, :n] * w.to(chunk.dtype)
        weight[a:b] += w
    # sin^2 + cos^2 = 1 where two fades meet exactly; normalising also covers uneven last overlaps.
    return out / weight.clamp_min(1e-6).to(out.dtype)
