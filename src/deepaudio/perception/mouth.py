"""Mouth opening from video, as a timing contour for dubbing (beyond the DeepAudio-V1 paper).

DeepAudio-V1 times speech with the energy of the V2A output (mean |x| per 256-sample frame at 24 kHz,
divided by its maximum). On a talking-head video the picture itself says when someone speaks: the
mouth opens. ``mouth_track`` measures the opening per video frame with a face backend
(:mod:`deepaudio.perception.faces`); ``mouth_contour`` turns it into a contour on the TTS mel grid
(93.75 frames/s) normalised like the energy, so the V2S model can take either, and dubbing works
without V2A weights.

Shapes: T = sampled video frames; N = contour frames (``frame_rate`` per second).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from deepaudio.dsp.energy import CONTOUR_RATE
from deepaudio.errors import InputError
from deepaudio.perception.faces import auto_order, detection_rate, make_backend, probe_indices

TTS_FRAME_RATE = CONTOUR_RATE  # 93.75 mel frames per second (F5-TTS / Vocos)
MAX_FPS = 25.0  # mouths move slower than this; decoding more frames only costs time
MAX_SIDE = 640  # frames are scaled down to at most this many pixels on the long side
MIN_FACE_FRACTION = 0.5  # a contour needs a face in at least this share of frames
MAX_GAP_S = 0.4  # missed detections (blinks, motion blur) shorter than this are interpolated
# A speaking mouth opens by 0.05-0.25 face sizes (all backends); the face mesh jitters by ~0.002 on a still one,
# dlib's 68 points by up to 0.03 on a still photo under a slow pan/zoom (realworld corpus, 5-95 % range per clip).
MIN_SPREAD = 0.01
MIN_SPREAD_BY_BACKEND = {"dlib": 0.035}


@dataclass
class MouthTrack:
    times: torch.Tensor  # (T,) float64 seconds: start of each sampled frame
    opening: torch.Tensor  # (T,) float32 opening over face size (sum over visible faces); 0 where no face
    face_present: torch.Tensor  # (T,) bool
    fps: float
    backend: str  # which backend measured it

    @property
    def face_fraction(self) -> float:
        n = self.face_present.numel()
        return float(self.face_present.float().mean()) if n else 0.0


def _video_name(video) -> str:
    return str(video) if isinstance(video, (str, Path)) else "the video frames"


class _Frames:
    """Frames of a path (decoded on each pass, bounded memory) or of an in-memory ``(frames, fps)``."""

    def __init__(self, video, fps: float | None):
        self.video = video
        if isinstance(video, (str, Path)):
            from deepaudio.io.video import probe_video

            info = probe_video(video)
            self.rate = float(fps or min(info.fps or MAX_FPS, MAX_FPS))
            self.duration = info.duration
            scale = min(1.0, MAX_SIDE / max(info.width, info.height))
            self.size = None if scale >= 1.0 else \
                (max(2, round(info.height * scale)), max(2, round(info.width * scale)))
            self.array = None
            return
        frames, rate = video
        if not rate or rate <= 0:
            raise InputError("in-memory frames need their frame rate", hint="pass (frames, fps)")
        frames = np.asarray(frames.numpy() if isinstance(frames, torch.Tensor) else frames, dtype=np.uint8)
        if frames.ndim != 4 or frames.shape[-1] != 3:
            raise InputError(f"frames must be [T, H, W, 3] uint8, got shape {tuple(frames.shape)}")
        self.array, self.rate, self.duration = frames, float(rate), len(frames) / float(rate)

    def __iter__(self) -> Iterator[tuple[np.ndarray, float]]:
        if self.array is not None:
            yield from ((f, k / self.rate) for k, f in enumerate(self.array))
            return
        from deepaudio.io.video import iter_frames

        for frame, t in iter_frames(self.video, fps=self.rate, size=self.size, crop="resize"):
            yield frame.numpy(), t

    def sample(self, count: int = 12) -> np.ndarray:
        """About ``count`` frames spread evenly over the clip (for choosing a backend)."""
        if self.array is not None:
            return self.array[probe_indices(len(self.array), count)]
        from deepaudio.io.video import read_frames

        rate = min(self.rate, count / max(self.duration, 1e-3))
        frames, _ = read_frames(self.video, fps=rate, size=self.size, crop="resize")
        return frames.numpy()


def choose_backend(sample: np.ndarray, backend: str = "auto", toy: bool = False) -> str | None:
    """``auto``: the first installed real detector (mediapipe, dlib; then toon when ``toy``) that sees a
    face in at least half of ``sample`` (a dozen frames spread over the clip); if none does, the one
    that saw most; None when no detector is installed (``auto`` then sees no face)."""
    if backend != "auto":
        return backend
    rates = {}
    for name in auto_order(toy):
        rates[name] = detection_rate(make_backend(name), sample)
        if rates[name] >= MIN_FACE_FRACTION:
            return name
    return max(rates, key=lambda k: rates[k]) if rates else None


def mouth_track(video, fps: float | None = None, backend: str = "auto", toy: bool | None = None) -> MouthTrack:
    """Mouth opening per sampled frame. ``video`` is a path or ``(frames [T, H, W, 3] uint8, fps)``;
    ``fps`` defaults to the video's rate capped at 25. ``toy`` (default: whether the file carries the
    toy world's tag; False for frames in memory) lets ``auto`` use the cartoon face detector."""
    source = _Frames(video, fps)
    if toy is None:
        from deepaudio.perception.toon import is_toy_world_video

        toy = is_toy_world_video(video)
    name = choose_backend(source.sample(), backend, toy) if backend == "auto" else backend
    if name is None:  # no detector installed: an honest "no face" on every frame
        times = [t for _, t in source]
        return MouthTrack(torch.tensor(times, dtype=torch.float64), torch.zeros(len(times)),
                          torch.zeros(len(times), dtype=torch.bool), source.rate, "none")
    detect = make_backend(name)
    times, opening, present = [], [], []
    for frame, t in source:
        faces = detect(frame)
        times.append(t)
        present.append(bool(faces))
        # Several faces (a dialogue): one speech track serves all, so their openings add up.
        opening.append(sum(f.opening for f in faces))
    return MouthTrack(torch.tensor(times, dtype=torch.float64), torch.tensor(opening, dtype=torch.float32),
                      torch.tensor(present, dtype=torch.bool), source.rate, name)


def fill_gaps(values: np.ndarray, present: np.ndarray, max_gap: int) -> np.ndarray:
    """Linear interpolation across runs of missing frames no longer than ``max_gap``; longer runs (and
    the ends) stay 0, as an unseen mouth gives no timing."""
    out = np.where(present, values, 0.0).astype(np.float64)
    idx = np.flatnonzero(present)
    if len(idx) < 2:
        return out
    for a, b in zip(idx[:-1], idx[1:]):
        if 1 < b - a <= max_gap + 1:
            out[a + 1: b] = np.interp(np.arange(a + 1, b), [a, b], [values[a], values[b]])
    return out


def track_to_contour(track: MouthTrack, n_frames: int | None = None, frame_rate: float = TTS_FRAME_RATE,
                     where: str = "the video", min_face_fraction: float = MIN_FACE_FRACTION) -> torch.Tensor:
    """Resample a track to ``frame_rate`` and normalise it like the energy contour -> float32 (N,) in [0, 1].

    Each video frame stands for the interval it is shown, so its value sits at the interval centre and
    contour frame centres are interpolated linearly between them. The closed-mouth level (5th
    percentile, landmark jitter) is subtracted before dividing by the maximum, so silence maps to ~0
    as it does in the energy contour. A mouth whose opening varies by less than ``MIN_SPREAD`` (a
    still face, a voice-over) is refused rather than turned into amplified noise.
    """
    n_video = track.opening.numel()
    if n_video == 0 or track.face_fraction < min_face_fraction:
        raise InputError(f"a face is visible in {100 * track.face_fraction:.0f}% of {n_video} frames "
                         f"(backend {track.backend}), too few for lip timing", where,
                         "use --timing v2a, or a video that shows the speaker's face; cartoon faces are "
                         "read only in videos the toy world wrote")
    present = track.face_present.numpy()
    values = fill_gaps(track.opening.numpy().astype(np.float64), present, int(round(MAX_GAP_S * track.fps)))
    low, high = np.quantile(values[present], [0.05, 0.95])
    # landmark jitter on a still face must not become a timing signal
    if high - low < MIN_SPREAD_BY_BACKEND.get(track.backend, MIN_SPREAD):
        raise InputError(f"the mouth does not move in {n_video} frames (opening varies by {high - low:.3f} of the "
                         f"face size, backend {track.backend})", where,
                         "use --timing v2a for video without a visible speaker")
    from deepaudio.dsp.energy import video_frames_to_contour

    values = np.clip(values - low, 0.0, None)
    duration = float(track.times[-1]) + 1.0 / track.fps
    n = int(round(duration * frame_rate)) if n_frames is None else int(n_frames)
    # like the energy: zero-padded past the end of the video, divided by the maximum of the contour as returned
    return video_frames_to_contour(track.times.numpy() + 0.5 / track.fps, values, duration, n, frame_rate)


def mouth_contour(video, n_frames: int | None = None, frame_rate: float = TTS_FRAME_RATE, backend: str = "auto",
                  fps: float | None = None) -> torch.Tensor:
    """Mouth-opening timing contour (N,) in [0, 1] at the TTS mel frame rate.

    Raises :class:`InputError` naming the video when a face is visible in fewer than half of the
    frames, or when the mouth never moves.
    """
    track = mouth_track(video, fps=fps, backend=backend)
    return track_to_contour(track, n_frames, frame_rate, where=_video_name(video))
