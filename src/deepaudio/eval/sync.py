"""Audio-visual synchrony without learned models: onset alignment and mouth-contour lip sync.

Onset alignment (V2A, always available): visual events are peaks of frame-difference energy (mean
absolute change of a small grey-scale picture between consecutive frames); audio events are peaks of
spectral flux (summed positive change of log-magnitude spectra). Each visual peak is matched to the
nearest audio onset within +-``max_offset`` seconds; we report the median |offset| in ms (lower is
better), the median signed offset (audio minus video) and the share of visual peaks that found an
onset.

Lip sync (V2S, instead of SyncNet, which is not available offline): the Pearson correlation between a
mouth-opening contour (one value per video frame, produced by a face-mesh step elsewhere) and the
speech RMS envelope sampled at the video frame rate, over shifts of +-``max_shift`` seconds. The
best shift says how far the audio lags the lips; the correlation at that shift says how well they
match.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from deepaudio.errors import InputError, MediaError

ONSET_BACKEND = "onset match (frame-difference peaks vs spectral-flux peaks)"
LIPSYNC_BACKEND = ("mouth-opening contour (NAME.mouth.npy/.csv beside the video, else deepaudio's mouth tracker "
                   "on the video) vs speech RMS correlation")


def pick_peaks(x: np.ndarray, times: np.ndarray, min_gap: float = 0.1, k: float = 1.0) -> np.ndarray:
    """Times of local maxima above mean + k * std, at least ``min_gap`` seconds apart (largest first)."""
    if x.size < 3:
        return np.zeros(0)
    thr = x.mean() + k * x.std()
    cand = np.flatnonzero((x[1:-1] > x[:-2]) & (x[1:-1] >= x[2:]) & (x[1:-1] > thr)) + 1
    kept: list[int] = []
    for i in cand[np.argsort(-x[cand])]:
        if all(abs(times[i] - times[j]) >= min_gap for j in kept):
            kept.append(int(i))
    return np.sort(times[kept]) if kept else np.zeros(0)


def read_motion(video: str | Path, width: int = 64) -> tuple[np.ndarray, np.ndarray, float]:
    """Frame-difference energy [T-1], its timestamps (s) and the video frame rate."""
    import av

    path = Path(video)
    if not path.is_file():
        raise MediaError("video not found", path, "check the --video folder")
    prev, energy, times = None, [], []
    try:
        with av.open(str(path)) as box:
            if not box.streams.video:
                raise MediaError("file has no video stream", path)
            stream = box.streams.video[0]
            fps = float(stream.average_rate or 25)
            for frame in box.decode(stream):
                h = max(2, int(round(frame.height * width / max(frame.width, 1))))
                img = frame.reformat(width=width, height=h, format="gray").to_ndarray().astype(np.float32) / 255.0
                if prev is not None:
                    energy.append(float(np.abs(img - prev).mean()))
                    times.append(float(frame.time) if frame.time is not None else len(times) / fps)
                prev = img
    except av.error.FFmpegError as exc:
        raise MediaError(f"cannot decode video ({exc})", path) from exc
    return np.asarray(energy), np.asarray(times), fps


def spectral_flux(wav: torch.Tensor, sr: int, hop_s: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
    """Onset strength (positive log-spectral flux) and frame times in seconds."""
    x = (wav if wav.dim() == 1 else wav.mean(0)).detach().float().cpu()
    hop = max(1, int(round(sr * hop_s)))
    n_fft = 1 << max(8, math.ceil(math.log2(4 * hop)))
    if x.numel() < n_fft:
        return np.zeros(0), np.zeros(0)
    spec = torch.stft(x, n_fft, hop, window=torch.hann_window(n_fft), center=True, return_complex=True).abs()
    logmag = torch.log1p(100.0 * spec)
    flux = torch.relu(logmag[:, 1:] - logmag[:, :-1]).sum(0).numpy()
    times = (np.arange(1, spec.shape[1]) * hop) / sr
    return flux, times


@dataclass(frozen=True)
class OnsetAlignment:
    median_abs_ms: float
    median_offset_ms: float
    matched: int
    visual_peaks: int
    audio_onsets: int


def match_events(visual: np.ndarray, audio: np.ndarray, max_offset: float = 0.5) -> OnsetAlignment:
    """Pair each visual event with the nearest audio onset within +-max_offset s."""
    offsets = []
    for t in visual:
        if audio.size:
            d = audio - t
            best = d[np.argmin(np.abs(d))]
            if abs(best) <= max_offset:
                offsets.append(best)
    if not offsets:
        return OnsetAlignment(float("nan"), float("nan"), 0, len(visual), len(audio))
    off = np.asarray(offsets) * 1000.0
    return OnsetAlignment(float(np.median(np.abs(off))), float(np.median(off)), len(off), len(visual), len(audio))


def onset_alignment(video: str | Path, wav: torch.Tensor, sr: int, max_offset: float = 0.5) -> OnsetAlignment:
    """Onset-based audio-visual alignment of a video and a sound track."""
    motion, mtimes, _fps = read_motion(video)
    flux, ftimes = spectral_flux(wav, sr)
    return match_events(pick_peaks(motion, mtimes), pick_peaks(flux, ftimes), max_offset)


def read_mouth_contour(video: str | Path) -> tuple[np.ndarray, float | None]:
    """Mouth-opening contour stored beside ``video`` as NAME.mouth.npy or NAME.mouth.csv.

    npy: a 1-D array, one value per video frame (the rate is the video's). csv: a header with a column
    ``mouth_open`` (or ``opening``), and optionally ``time`` in seconds from which the rate is taken.
    Returns (values, rate or None when the video's frame rate applies).
    """
    video = Path(video)
    npy, csv_path = video.with_suffix(".mouth.npy"), video.with_suffix(".mouth.csv")
    if npy.is_file():
        arr = np.load(npy, allow_pickle=False)
        if arr.ndim != 1:
            raise InputError(f"mouth contour must be 1-D, got shape {arr.shape}", npy, "one value per video frame")
        return arr.astype(np.float64), None
    if csv_path.is_file():
        with open(csv_path, newline="") as fh:
            rows = list(csv.DictReader(fh))
        key = next((k for k in ("mouth_open", "opening") if rows and k in rows[0]), None)
        if key is None:
            raise InputError("mouth contour CSV needs a 'mouth_open' column", csv_path, "write one row per frame")
        values = np.array([float(r[key]) for r in rows])
        rate = None
        if "time" in rows[0] and len(rows) > 1:
            t = np.array([float(r["time"]) for r in rows])
            rate = float((len(t) - 1) / (t[-1] - t[0])) if t[-1] > t[0] else None
        return values, rate
    raise InputError("no mouth contour beside the video", video, f"write {npy.name} or {csv_path.name} first")


def tracked_mouth_contour(video: str | Path) -> tuple[np.ndarray, float, str]:
    """The contour measured by the project's mouth tracker (``deepaudio.perception.mouth``) when none is stored:
    opening over face size per sampled frame (at most 25/s), short detection gaps interpolated.

    Returns (values, frames per second, backend name); refuses a clip where the face is seen in fewer
    than half of the frames (no contour to correlate with).
    """
    from deepaudio.perception.mouth import MAX_GAP_S, MIN_FACE_FRACTION, fill_gaps, mouth_track

    track = mouth_track(Path(video))
    if track.face_fraction < MIN_FACE_FRACTION:
        raise InputError(f"no mouth contour: the mouth tracker ({track.backend}) saw a face in "
                         f"{100 * track.face_fraction:.0f}% of the frames", video,
                         "lip sync needs a visible face, or write NAME.mouth.npy")
    values = fill_gaps(track.opening.double().numpy(), track.face_present.numpy(), int(MAX_GAP_S * track.fps))
    return values, float(track.fps), track.backend


def speech_envelope(wav: torch.Tensor, sr: int, fps: float, n_frames: int) -> np.ndarray:
    """RMS of the speech in a window of one video frame centred on each frame time."""
    x = (wav if wav.dim() == 1 else wav.mean(0)).detach().double().cpu().numpy()
    half = sr / fps / 2.0
    out = np.zeros(n_frames)
    for i in range(n_frames):
        c = (i + 0.5) * sr / fps
        seg = x[max(0, int(c - half)):max(0, int(c + half))]
        out[i] = math.sqrt(float((seg * seg).mean())) if seg.size else 0.0
    return out


@dataclass(frozen=True)
class LipSync:
    correlation: float  # Pearson r at the best shift
    offset_ms: float  # audio lag behind the lips at the best shift
    correlation_at_zero: float


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    if a.size < 3 or a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def lip_sync(mouth: np.ndarray, wav: torch.Tensor, sr: int, fps: float, max_shift: float = 0.5) -> LipSync:
    """Best correlation over shifts of the speech envelope against the mouth contour."""
    mouth = np.asarray(mouth, dtype=np.float64)
    env = speech_envelope(wav, sr, fps, len(mouth))
    best, best_k = -math.inf, 0
    max_k = int(round(max_shift * fps))
    for k in range(-max_k, max_k + 1):  # k > 0: the audio event comes k frames after the mouth event
        a, b = (mouth[: len(mouth) - k], env[k:]) if k >= 0 else (mouth[-k:], env[: len(env) + k])
        r = _pearson(a, b)
        if not math.isnan(r) and r > best:
            best, best_k = r, k
    if best == -math.inf:
        return LipSync(float("nan"), float("nan"), float("nan"))
    return LipSync(best, 1000.0 * best_k / fps, _pearson(mouth, env))
