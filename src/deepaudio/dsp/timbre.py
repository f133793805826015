"""Match the long-term spectral envelope of generated speech to its reference voice, in the log-mel domain.

A small TTS copies the words of a prompt better than its timbre: on voices it never heard, the generated
speech keeps something of the training voices' average colouring. The long-term average spectrum of a
speaker (over speech frames: formant region, brightness, nasality) is a large part of what a listener and
a speaker-verification model hear as "the same voice", and it can be moved without touching timing or
words: the difference between the reference's and the generation's mean log-mel over speech frames,
smoothed across bins and bounded, is added to every generated frame. The overall level is left alone
(the pipeline sets loudness), so only the shape changes.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

LN_TO_DB = 20.0 / math.log(10.0)  # mel values are ln(magnitude)
MIN_SPEECH_FRAMES = 8  # fewer than this (0.09 s): no reliable envelope, nothing is changed


def speech_frames(mel: torch.Tensor, top_db: float = 30.0) -> torch.Tensor:
    """Boolean mask over the frames of ``mel`` (T, M) within ``top_db`` of its loudest frame."""
    level = torch.logsumexp(mel.float(), dim=-1)  # ln of the summed magnitude: a frame's loudness
    return level >= level.max() - top_db / LN_TO_DB


def envelope(mel: torch.Tensor, top_db: float = 30.0) -> torch.Tensor | None:
    """Mean log-mel over the speech frames of ``mel`` (T, M) -> (M,), or None when too few frames speak."""
    keep = speech_frames(mel, top_db)
    if int(keep.sum()) < MIN_SPEECH_FRAMES:
        return None
    return mel.float()[keep].mean(dim=0)


def match_timbre(mel: torch.Tensor, ref_mel: torch.Tensor, strength: float = 1.0, max_db: float = 9.0,
                 smooth_bins: int = 5, log_floor: float = math.log(1e-5)) -> torch.Tensor:
    """``mel`` (T, M) moved ``strength`` of the way towards the envelope of ``ref_mel`` (Tr, M).

    The per-bin correction is centred (no change of overall level), smoothed over ``smooth_bins`` mel bins
    (an envelope, not harmonics) and bounded to +-``max_db``; the result keeps the mel floor. Re-tuned for
    v7 (docs/tts.md): no smoothing and a 15 dB bound did no better than these defaults.
    """
    if strength == 0 or mel.shape[0] == 0:
        return mel
    target, current = envelope(ref_mel), envelope(mel)
    if target is None or current is None:
        return mel
    diff = target - current
    diff = diff - diff.mean()
    pad = max(smooth_bins, 1) // 2
    if pad:
        diff = F.avg_pool1d(F.pad(diff[None, None], (pad, pad), mode="replicate"), 2 * pad + 1, stride=1)[0, 0]
    bound = max_db / LN_TO_DB
    diff = diff.clamp(-bound, bound)
    return (mel.float() + strength * diff.to(mel.device)).clamp_min(log_floor).to(mel.dtype)
