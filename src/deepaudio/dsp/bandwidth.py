"""Fill the empty top of a band-limited prompt's log-mel (a 16 kHz recording has nothing above 8 kHz).

The bundled TTS learned from voices of two bandwidths (flite and festival at 16 kHz, espeak-ng and piper at
22 kHz), so the empty top of a 16 kHz prompt reads to it as "one of the 16 kHz voices": passing the eight
tuning voices' prompts through a 16 kHz channel cost 0.071 of prompt cosine (docs/tts.md). Here each frame's
bins above the last bin that carries speech are extrapolated from the frame's own level at the band edge,
falling at the envelope's slope just below the edge, so the prompt looks full-band and its frame-to-frame
structure (a fricative is bright, a vowel is not) carries on into the filled bins.
"""

from __future__ import annotations

import torch

from deepaudio.dsp.timbre import LN_TO_DB, envelope


def band_edge(mel: torch.Tensor, top_db: float = 50.0) -> int | None:
    """The last bin of ``mel`` (T, M, ln magnitude) whose speech-frame envelope lies within ``top_db`` of the
    envelope's peak, or None when too few frames speak."""
    env = envelope(mel)
    if env is None:
        return None
    live = torch.nonzero(env > env.max() - top_db / LN_TO_DB).squeeze(1)
    return int(live[-1]) if live.numel() else None


def extend_band(mel: torch.Tensor, min_empty: int = 8, fit_bins: int = 12, guard: int = 2,
                top_db: float = 50.0) -> torch.Tensor:
    """``mel`` (T, M) with the bins above its band edge filled when at least ``min_empty`` top bins are empty.

    The fill starts ``guard`` bins under the edge (the channel's roll-off), at each frame's mean of the four bins
    below that point, and falls by the slope (at most 0) of a line fitted to the envelope over the ``fit_bins``
    bins below it. A filled value never lowers what was there."""
    edge = band_edge(mel, top_db)
    m = mel.shape[-1]
    if edge is None or m - 1 - edge < min_empty or edge - guard - fit_bins < 0:
        return mel
    anchor = edge - guard
    env = envelope(mel)
    x = torch.arange(fit_bins, dtype=torch.float32)
    y = env[anchor - fit_bins + 1: anchor + 1]
    slope = min(0.0, float(((x - x.mean()) * (y - y.mean())).sum() / (x - x.mean()).pow(2).sum()))
    base = mel.float()[:, anchor - 3: anchor + 1].mean(dim=-1, keepdim=True)  # (T, 1)
    steps = torch.arange(1, m - anchor, dtype=torch.float32, device=mel.device)
    fill = base + slope * steps  # (T, m - anchor - 1)
    out = mel.float().clone()
    out[:, anchor + 1:] = torch.maximum(out[:, anchor + 1:], fill)
    return out.to(mel.dtype)
