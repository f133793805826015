"""Visible talking: does a mouth on screen move with a stretch of speech?

DeepSound-V1 asks its video-audio LLM whether the speech in the generated audio is supported by the
picture. The offline reasoner answers the same question from measurements: for each speech segment it
correlates the speech envelope (RMS per video frame) with mouth movement over the same span.

Mouth movement comes from ``deepaudio.perception.mouth.mouth_track`` (face backends). On real footage that
is the only evidence: a clip where no real face detector finds a face has no on-screen speaker, so its
speech is voice-over. A model-free measurement, the mean brightness of small image blocks over time, is
added only on toy-world videos (tagged by the toy world's writer; see ``perception.toon``), where it was
calibrated: an opening cartoon mouth changes the brightness of the blocks it covers in step with the
speech energy. On real footage a bouncing ball's blocks followed a narrator's syllables just as well
(|r| 0.70 on an off-screen voice), which is why the blocks are not trusted there.

Both signals are compared as frame-to-frame *changes* (first differences): slow drifts such as an object
crossing a block or a fade in the speech level correlate by chance, syllable-rate changes do not. On
calibration toy clips (48 speech segments, mp4-encoded) the best |r| of differences, with each
candidate's two strongest coincidences left out, is 0.65-0.98 for talking faces and 0.24-0.54 for
off-screen speech (raw levels overlap: 0.35-0.82 against 0.66-0.99). The benchmark uses other seeds.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

FALLBACK_SIZE = 96  # frames are resized to this square before blocking
FALLBACK_BLOCK = 6  # block side in pixels: a mouth of a face filling a tenth of the frame spans a few blocks
MAX_SHIFT_S = 0.05  # audio may lag or lead the lips by about one video frame
DROP_FRAMES = 2  # strongest coincidences left out per candidate (a blink is two changes)
# Speech envelope: each STFT bin's level outside the speech segments (this quantile over those frames) is
# taken as the ambience and subtracted before the envelope is summed. Loud ambience (impacts, hum) otherwise
# dominates the frame-to-frame changes: on held-out dub clips (seed 17) two talking faces scored 0.56 / 0.60
# against the mix and 0.82 / 0.75 with a 0.9 floor (0.95 / 0.97 against the clean speech); a 0.5 floor
# (median) gave 0.69 / 0.68 as impacts are sparse. Off-screen speech stays at <= 0.48 (20 voice-over clips).
ENVELOPE_FLOOR_QUANTILE = 0.9
ENVELOPE_FFT_S = 0.04  # STFT window of the envelope (about 40 ms), hop a quarter of it
TALKING_THRESHOLD = 0.6  # calibration clips (toy world tiny/seed 5, default/seed 7): off-screen <= 0.54, on >= 0.65
# Real faces (landmark opening over the face scale, dlib): within a speech segment a photo that does not move
# its mouth varies by <= 0.022 (landmark jitter under a slow pan/zoom), a warped talking one by >= 0.067
# (realworld dev split, seed 1, 12 + 12 clips). Below this the mouth is still: no on-screen talker.
MOUTH_MOTION = 0.04


@dataclass(frozen=True)
class MouthSignals:
    """Candidate mouth-movement signals at the video frame times.

    ``signals`` [T, K]: K candidates (the landmark mouth opening, when a face was found, and one per image
    block); ``present`` [T] whether the landmark tracker saw a face (all True without landmarks);
    ``source`` names which measurements produced them.
    """

    times: np.ndarray
    signals: np.ndarray
    present: np.ndarray
    source: str
    real: bool = False  # real footage: column 0 is a real face's opening, scored by level (see talking_score)

    @property
    def fps(self) -> float:
        return float(1.0 / np.median(np.diff(self.times))) if len(self.times) > 1 else 25.0


def block_signals(frames: torch.Tensor | np.ndarray, block: int = FALLBACK_BLOCK) -> np.ndarray:
    """Mean brightness of each ``block`` x ``block`` tile: uint8 [T, H, W, 3] -> float [T, tiles]."""
    x = torch.as_tensor(np.asarray(frames)).float().mean(-1)  # (t, h, w) grey
    t, h, w = x.shape
    x = x[:, : h - h % block, : w - w % block]
    x = x.unfold(1, block, block).unfold(2, block, block).mean((-1, -2))  # (t, h/b, w/b)
    return x.reshape(t, -1).numpy().astype(np.float64)


def _landmark_track(video: Path, toy: bool, backend: str = "auto"):
    """(times, opening, face_present, backend) from the landmark tracker, or None when it sees no face."""
    try:
        from deepaudio.perception.mouth import mouth_track
    except ImportError:
        return None
    from deepaudio.errors import BackendUnavailable, InputError

    try:
        track = mouth_track(video, backend=backend, toy=toy)
    except (BackendUnavailable, InputError):  # no usable face backend: no face seen
        return None
    present = np.asarray(track.face_present, dtype=bool)
    if not present.any():
        return None
    opening = np.nan_to_num(np.asarray(track.opening, np.float64))
    return np.asarray(track.times, dtype=np.float64), opening, present, track.backend


def mouth_signals(video: str | Path | None = None, frames: torch.Tensor | np.ndarray | None = None,
                  fps: float | None = None, use_landmarks: bool = True, toy: bool | None = None,
                  backend: str = "auto") -> MouthSignals:
    """Mouth-movement candidates of a video file (or of frames already in memory at ``fps``).

    Toy-world footage (``toy``; default: the file's toy-world tag, True for frames in memory, which only
    tests and benchmarks pass): the image blocks plus the landmark opening when a face is found (either
    may catch a talker the other misses: landmarks fail on drawn faces, blocks on moving heads). Any other
    video: the landmark opening of a real face detector alone, and no candidate at all when it sees no face.
    """
    if frames is None:
        if video is None:
            raise ValueError("give a video path or frames")
        if toy is None:
            from deepaudio.perception.toon import is_toy_world_video

            toy = is_toy_world_video(video)
        landmarks = _landmark_track(Path(video), toy, backend) if use_landmarks else None
        from deepaudio.io.video import probe_video, read_frames

        info = probe_video(video)
        fps = float(min(info.fps, 25.0)) if info.fps else 25.0
        frames, times = read_frames(video, fps=fps, size=FALLBACK_SIZE, crop="resize")
        times = times.numpy()
    else:
        if fps is None:
            raise ValueError("frames need their fps")
        toy, landmarks = (True if toy is None else toy), None
        frames = torch.as_tensor(np.asarray(frames))
        if frames.shape[1] != FALLBACK_SIZE or frames.shape[2] != FALLBACK_SIZE:
            x = frames.permute(0, 3, 1, 2).float()
            x = torch.nn.functional.interpolate(x, size=(FALLBACK_SIZE, FALLBACK_SIZE), mode="area")
            frames = x.permute(0, 2, 3, 1)
        times = np.arange(frames.shape[0]) / float(fps)
    if toy:
        sig, present, source = block_signals(frames), np.ones(len(times), dtype=bool), "block_brightness"
    else:
        sig, present, source = np.zeros((len(times), 0)), np.zeros(len(times), dtype=bool), "no_face"
    if landmarks is not None:
        lt, opening, face, name = landmarks
        # Put the landmark opening on the block frames' clock (nearest earlier landmark frame).
        k = np.clip(np.searchsorted(lt, times + 1e-6) - 1, 0, len(lt) - 1)
        sig = np.concatenate([opening[k, None], sig], 1)
        present = face[k]
        source = f"mouth_track({name})" + ("+block_brightness" if toy else "")
    return MouthSignals(times, sig, present, source, real=not toy)


def speech_envelope(wav: torch.Tensor, sr: int, times: np.ndarray, fps: float,
                    segments: list[tuple[float, float]] | None = None,
                    floor_quantile: float | None = ENVELOPE_FLOOR_QUANTILE) -> np.ndarray:
    """Speech energy over one video frame starting at each frame time -> [T].

    Without ``segments`` (or with ``floor_quantile`` None): the RMS of the mono mix. With the speech
    ``segments``: the RMS of STFT magnitudes after subtracting, per bin, the ``floor_quantile`` level of
    the frames outside the segments (the ambience), so the envelope follows the voice, not the background.
    With fewer than 4 frames outside the segments the floor comes from the 10th percentile of all frames.
    """
    x = (wav if wav.dim() == 1 else wav.mean(0)).detach().double().cpu()
    if segments is None or floor_quantile is None:
        n = int(round(sr / fps))
        starts = np.clip(np.round(times * sr).astype(np.int64), 0, max(0, x.numel() - 1))
        x = torch.nn.functional.pad(x, (0, n))
        idx = torch.as_tensor(starts)[:, None] + torch.arange(n)[None]
        return x[idx].square().mean(-1).sqrt().numpy()
    n_fft = 2 ** int(round(np.log2(max(16.0, sr * ENVELOPE_FFT_S))))
    hop = n_fft // 4
    if x.numel() < n_fft:
        x = torch.nn.functional.pad(x, (0, n_fft - x.numel()))
    mag = torch.stft(x, n_fft, hop, window=torch.hann_window(n_fft, dtype=torch.float64), center=False,
                     return_complex=True).abs()  # (f, t), frame k covers [k hop, k hop + n_fft)
    centre = (torch.arange(mag.shape[1], dtype=torch.float64) * hop + n_fft / 2) / sr
    inside = torch.zeros(mag.shape[1], dtype=torch.bool)
    for s, e in segments:
        inside |= (centre >= s) & (centre < e)
    floor = (mag[:, ~inside].quantile(floor_quantile, dim=1, keepdim=True) if int((~inside).sum()) >= 4
             else mag.quantile(0.1, dim=1, keepdim=True))
    energy = (mag - floor).clamp_min(0).square().sum(0)  # (t)
    c = centre.numpy()
    lo = np.clip(np.searchsorted(c, times), 0, len(c) - 1)
    hi = np.maximum(np.clip(np.searchsorted(c, times + 1.0 / fps), 0, len(c)), lo + 1)
    csum = torch.cat([torch.zeros(1, dtype=torch.float64), energy.cumsum(0)]).numpy()
    return np.sqrt((csum[hi] - csum[lo]) / (hi - lo))


def _abs_corr_columns(a: np.ndarray, b: np.ndarray, drop: int = 0) -> np.ndarray:
    """|Pearson r| of vector ``a`` [n] with every column of ``b`` [n, K]; constant columns give 0.

    ``drop`` > 0 leaves out, per column, the ``drop`` frames that contribute most to the covariance, so a
    column that changes once or twice (a blink, an object entering a block) cannot score on one
    coincidence with a speech onset; a talking mouth moves on many frames and keeps its score.
    """
    a = a - a.mean()
    b = b - b.mean(0, keepdims=True)
    a = np.broadcast_to(a[:, None], b.shape).copy()
    if drop > 0 and a.shape[0] > drop + 3:
        top = np.argsort(-np.abs(a * b), axis=0)[:drop]  # (drop, K)
        cols = np.arange(b.shape[1])[None]
        b = b.copy()
        a[top, cols] = 0.0
        b[top, cols] = 0.0
    den = np.sqrt((a * a).sum(0) * (b * b).sum(0))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(den > 1e-9, (a * b).sum(0) / den, 0.0)
    return np.abs(r)


def talking_score(signals: MouthSignals, envelope: np.ndarray, start: float, end: float,
                  max_shift_s: float = MAX_SHIFT_S) -> dict[str, float]:
    """How well some mouth on screen follows the speech in [start, end).

    Returns ``score`` (best |r| of frame-to-frame changes over candidates and shifts of up to
    ``max_shift_s``), ``face`` (share of the span's frames with a face) and ``frames`` (frames in the
    span). A span shorter than 5 frames
    cannot be judged and scores 0.
    """
    sel = np.flatnonzero((signals.times >= start) & (signals.times < end))
    out = {"score": 0.0, "face": float(signals.present[sel].mean()) if sel.size else 0.0, "frames": int(sel.size)}
    if sel.size < 5:
        return out
    if signals.real:
        out["score"] = _real_face_score(signals, envelope, sel, max_shift_s)
        return out
    max_k = int(round(max_shift_s * signals.fps))
    best = 0.0
    for k in range(-max_k, max_k + 1):  # k > 0: the sound comes k frames after the picture
        vid = sel - k
        ok = (vid >= 0) & (vid < len(signals.times))
        if ok.sum() < 5:
            continue
        cand = signals.signals[vid[ok]]
        r = _abs_corr_columns(np.diff(envelope[sel[ok]]), np.diff(cand, axis=0), drop=DROP_FRAMES)
        best = max(best, float(r.max()) if r.size else 0.0)
    out["score"] = best
    return out


def _real_face_score(signals: MouthSignals, envelope: np.ndarray, sel: np.ndarray, max_shift_s: float) -> float:
    """A real face's talking score: 0 when no face is seen in half the span or its mouth opening varies by
    less than ``MOUTH_MOTION`` (a still mouth); else the best Pearson r (signed: a mouth opens when the
    voice is loud) of the opening *level* with the envelope over shifts of up to ``max_shift_s``.

    Levels, not changes: landmark jitter makes frame-to-frame changes of a real mouth noisy (warped talking
    photos scored 0.27-0.84 on changes, 0.73-0.96 on levels; realworld dev split), and the opening is
    already normalised by the face size, so a zoom or pan does not drift it.
    """
    if signals.signals.shape[1] == 0 or signals.present[sel].mean() < 0.5:
        return 0.0
    seen = sel[signals.present[sel]]
    low, high = np.quantile(signals.signals[seen, 0], [0.05, 0.95])
    if high - low < MOUTH_MOTION:
        return 0.0
    best, max_k = 0.0, int(round(max_shift_s * signals.fps))
    for k in range(-max_k, max_k + 1):
        vid = seen - k
        ok = (vid >= 0) & (vid < len(signals.times))
        a, b = envelope[seen[ok]], signals.signals[vid[ok], 0]
        if ok.sum() >= 5 and a.std() > 0 and b.std() > 0:
            best = max(best, float(np.corrcoef(a, b)[0, 1]))
    return best
