"""The V2S timing contour: how loud (or how open-mouthed) the picture is, one value per TTS mel frame.

DeepAudio-V1 times the speech with the energy of the V2A output (``dsp.energy.energy_contour``); beyond
the paper the contour may also come from the speaker's mouth opening (``perception.mouth``) or the mean of
both. All contours run at :data:`CONTOUR_RATE` (93.75 frames/s) with values in [0, 1]. A contour's
quiet runs are where nobody talks: placement puts the text's pauses there and the TTS pipeline keeps
quiet ends as silence around the speech.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from deepaudio.dsp.energy import CONTOUR_RATE, TTS_HOP, TTS_SAMPLE_RATE, energy_contour, fit_contour
from deepaudio.errors import ConfigError

SPEECH_RATE = TTS_SAMPLE_RATE  # the TTS output rate; V2S ambience is resampled to it
MEL_HOP = TTS_HOP
TIMINGS = ("v2a", "lips", "mix")
QUIET_FLOOR, QUIET_MIN_FRAMES = 0.1, 10  # contour below 10 % of its peak for >= 10 frames (107 ms): a pause

__all__ = ["CONTOUR_RATE", "MEL_HOP", "QUIET_FLOOR", "QUIET_MIN_FRAMES", "SPEECH_RATE", "TIMINGS", "check_timing",
           "contour_length", "quiet_ends", "quiet_runs", "timing_contour_for", "video_samples"]


def contour_length(seconds: float) -> int:
    """Contour frames of a window of ``seconds`` (rounded; ``dsp.energy.contour_frames`` counts whole
    frames of a sample count instead)."""
    return int(round(seconds * CONTOUR_RATE))


def check_timing(timing: str) -> None:
    if timing not in TIMINGS:
        raise ConfigError(f"unknown timing {timing!r}", hint=f"use one of {', '.join(TIMINGS)}")


def timing_contour_for(video, timing: str, ambience: torch.Tensor | None, frames: int) -> torch.Tensor:
    """The V2S contour (frames,) for ``timing``: V2A energy, mouth opening, or their mean. Each part is
    divided by its own maximum first (both are in [0, 1] with peak 1), so ``mix`` lies between them."""
    check_timing(timing)
    parts = []
    if timing in ("v2a", "mix"):
        if ambience is None:
            raise ConfigError(f"timing '{timing}' needs a V2A model", hint="add a 'v2a' part, or use --timing lips")
        energy = fit_contour(energy_contour(ambience, SPEECH_RATE), frames)
        peak = energy.max() if energy.numel() else energy.new_zeros(())
        parts.append(energy / peak if peak > 0 else energy)
    if timing in ("lips", "mix"):
        from deepaudio.perception.mouth import mouth_contour

        if isinstance(video, os.PathLike):  # a probed io.clip.VideoClip: the face backends read the file
            video = Path(os.fspath(video))
        parts.append(mouth_contour(video, n_frames=frames).to(parts[0].device if parts else "cpu"))
    return parts[0] if len(parts) == 1 else 0.5 * (parts[0] + parts[1])


def video_samples(video) -> int:
    """The video's length in samples at :data:`SPEECH_RATE`."""
    from deepaudio.io.video import probe_video

    return int(round(probe_video(video).duration * SPEECH_RATE))


def quiet_runs(contour, floor: float | None = None, min_frames: int | None = None):
    """(T,) bool: frames inside runs of at least ``min_frames`` where the contour stays below ``floor`` x its
    peak. Such stretches are given the pause token, so a contour's silences stay silent."""
    floor = QUIET_FLOOR if floor is None else floor
    min_frames = QUIET_MIN_FRAMES if min_frames is None else min_frames
    c = np.asarray(contour, dtype=np.float64).reshape(-1)
    low = c < floor * max(float(c.max(initial=0.0)), 1e-12)
    out = np.zeros(c.size, dtype=bool)
    start = None
    for i, q in enumerate(np.append(low, False)):
        if q and start is None:
            start = i
        elif not q and start is not None:
            if i - start >= min_frames:
                out[start:i] = True
            start = None
    return out


def quiet_ends(contour) -> tuple[int, int]:
    """(leading, trailing) frames of the contour that belong to a quiet run (``quiet_runs``) at its start and
    end; (0, 0) when it is quiet throughout (nothing says where the speech goes, so all of it is kept)."""
    quiet = quiet_runs(contour.reshape(-1).float().cpu().numpy() if torch.is_tensor(contour) else contour)
    active = np.flatnonzero(~quiet)
    if active.size == 0:
        return 0, 0
    return int(active[0]), int(quiet.size - 1 - active[-1])


