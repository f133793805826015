"""Writing videos from RGB frames: h264 (libx264) or mpeg4, optional AAC audio, CFR or VFR, atomic.

Used by the tests and the toy-world generator, so it favours robustness (odd sizes, tensors or any
iterable of frames, NTSC rates) and speed (``veryfast`` preset, audio interleaved as it is encoded so
the muxer never buffers a whole track). Re-exported as ``deepaudio.io.video.write_video``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

from deepaudio.errors import OutputPathError
from deepaudio.io.atomic import atomic_path
from deepaudio.io.audio import add_audio_stream, as_waveform, encode_audio_packets

_CONTAINERS = {".mp4": "mp4", ".mov": "mov", ".mkv": "matroska", ".m4v": "mp4", ".avi": "avi"}


def pick_video_codec() -> str:
    """libx264 when this FFmpeg build has it, else the always-present mpeg4 encoder."""
    import av

    try:
        av.codec.Codec("libx264", "w")
        return "libx264"
    except Exception:
        return "mpeg4"


def write_video(path: str | Path, frames: Iterable[np.ndarray | torch.Tensor] | np.ndarray | torch.Tensor,
                fps: float, audio: torch.Tensor | np.ndarray | None = None, sample_rate: int | None = None,
                inputs: Sequence[str | Path] = (), codec: str | None = None, crf: int = 18,
                preset: str = "veryfast", faststart: bool = True, rotation: int = 0,
                timestamps: Sequence[float] | None = None, end: float | None = None,
                gop: int | None = None, metadata: dict[str, str] | None = None) -> Path:
    """Encode RGB frames ``[T, H, W, 3]`` uint8 (array, tensor or any iterable of frames) atomically.

    Video: h264 (libx264, yuv420p; odd sizes are padded by one edge pixel) or mpeg4. Audio: optional
    ``[C, N]`` waveform at ``sample_rate``, AAC, interleaved with the video as it is encoded.
    ``timestamps`` (seconds, increasing) writes a variable-frame-rate video whose last frame lasts until
    ``end`` (default: one more gap); ``rotation`` stores a display-matrix rotation (counter-clockwise
    degrees, ffprobe's convention) without touching the pixels. ``gop`` sets the keyframe interval.
    ``metadata`` becomes the container's tags (e.g. ``{"comment": ...}``; read back by ``video_tags``).
    """
    import av

    out = Path(path)
    fmt = _CONTAINERS.get(out.suffix.lower())
    if fmt is None:
        raise OutputPathError(f"unknown video format '{out.suffix or '(none)'}'", out,
                              f"use one of {', '.join(sorted(_CONTAINERS))}")
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    if audio is not None and not sample_rate:
        raise ValueError("sample_rate is required with audio")
    rate = Fraction(fps).limit_denominator(1001)
    codec = codec or pick_video_codec()
    tb = Fraction(1, 90000) if timestamps is not None else 1 / rate
    wav = None if audio is None else as_waveform(audio).detach().cpu().numpy()
    durations = _vfr_durations(timestamps, end, tb) if timestamps is not None else {}

    def mux_video(packets) -> None:
        for pkt in packets:  # explicit durations fix where a VFR video ends (muxers guess otherwise)
            if pkt.pts in durations:
                pkt.duration = durations[pkt.pts]
            container.mux(pkt)
    with atomic_path(out, inputs) as tmp:
        options = {"movflags": "+faststart"} if faststart and fmt in ("mp4", "mov") else {}
        with av.open(str(tmp), "w", format=fmt, options=options) as container:
            container.metadata.update({str(k): str(v) for k, v in (metadata or {}).items()})
            vs, n = None, 0
            a_stream, a_packets, a_next = None, None, None
            for i, img in enumerate(frames):
                arr = _as_rgb_array(img)
                if vs is None:
                    vs = _add_video_stream(container, codec, rate, arr, crf, preset, tb, rotation,
                                           vfr=timestamps is not None, gop=gop)
                    if wav is not None:
                        a_stream = add_audio_stream(container, wav.shape[0], int(sample_rate))
                        a_packets = encode_audio_packets(a_stream, wav, int(sample_rate))
                        a_next = next(a_packets, None)
                arr = _fit(arr, vs.width, vs.height)
                frame = av.VideoFrame.from_ndarray(arr, format="rgb24")
                frame.pts = i if timestamps is None else int(round(float(timestamps[i]) / tb))
                frame.time_base = tb
                mux_video(vs.encode(frame))
                # Keep audio about level with video so the muxer never buffers a whole track.
                now = float(frame.pts * tb)
                while a_next is not None and a_next.pts is not None and float(a_next.pts * a_next.time_base) <= now:
                    container.mux(a_next)
                    a_next = next(a_packets, None)
                n += 1
            if vs is None:
                raise ValueError("write_video got no frames")
            if timestamps is not None and len(timestamps) != n:
                raise ValueError(f"{len(timestamps)} timestamps for {n} frames")
            mux_video(vs.encode(None))
            while a_next is not None:
                container.mux(a_next)
                a_next = next(a_packets, None)
    return out


def _vfr_durations(timestamps: Sequence[float], end: float | None, tb: Fraction) -> dict[int, int]:
    ts = [float(t) for t in timestamps]
    if any(b <= a for a, b in zip(ts, ts[1:])) or (ts and ts[0] < 0):
        raise ValueError("timestamps must be >= 0 and strictly increasing")
    if end is None:
        end = ts[-1] + (ts[-1] - ts[-2] if len(ts) > 1 else 0.04)
    if end <= ts[-1]:
        raise ValueError(f"end ({end}) must come after the last timestamp ({ts[-1]})")
    pts = [int(round(t / tb)) for t in [*ts, end]]
    return {a: b - a for a, b in zip(pts, pts[1:])}


def _as_rgb_array(img) -> np.ndarray:
    arr = img.detach().cpu().numpy() if isinstance(img, torch.Tensor) else np.asarray(img)
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=-1)
    if arr.ndim != 3 or arr.shape[-1] != 3:
        raise ValueError(f"frames must be [H, W, 3] RGB, got shape {arr.shape}")
    if arr.dtype != np.uint8:
        if np.issubdtype(arr.dtype, np.floating):
            raise ValueError("frames must be uint8 0..255 (convert float images with (x * 255).round())")
        arr = np.clip(arr, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(arr)


def _fit(arr: np.ndarray, width: int, height: int) -> np.ndarray:
    h, w = arr.shape[:2]
    if (h, w) == (height, width):
        return arr
    if h > height or w > width or height - h > 1 or width - w > 1:
        raise ValueError(f"frame size {w}x{h} differs from the first frame ({width}x{height})")
    return np.pad(arr, ((0, height - h), (0, width - w), (0, 0)), mode="edge")


def _add_video_stream(container, codec: str, rate: Fraction, arr: np.ndarray, crf: int, preset: str,
                      tb: Fraction, rotation: int, vfr: bool = False, gop: int | None = None):
    h, w = arr.shape[:2]
    vs = container.add_stream(codec, rate=rate)
    # yuv420p needs even sizes: round up (the extra row/column repeats the edge).
    vs.width, vs.height = w + (w % 2), h + (h % 2)
    vs.pix_fmt = "yuv420p"
    vs.codec_context.time_base = tb
    vs.time_base = tb
    if codec == "libx264":
        # No B-frames for VFR so packets leave in presentation order and carry their own durations.
        vs.options = {"crf": str(crf), "preset": preset, **({"bf": "0"} if vfr else {})}
    else:
        vs.bit_rate = max(200_000, int(w * h * float(rate) * 0.2))
    if gop:
        vs.codec_context.gop_size = int(gop)
    if rotation:
        vs.set_display_rotation(rotation)
    return vs
