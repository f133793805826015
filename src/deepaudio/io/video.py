"""Video through PyAV: probe and frame sampling at any rate (also variable frame rate).

The V2A encoders want frames on a fixed clock: CLIP at 8 fps resized to 384 x 384 and Synchformer at
25 fps resized (short side 224) and centre-cropped to 224 x 224 (MMAudio's preprocessing). Real
videos are often variable-frame-rate (phones) so we never assume frame ``i`` is at ``i / fps``: for
each target time ``start + k / fps`` we take the latest decoded frame whose presentation time is at or
before it, which is what a player shows at that instant. Times are in seconds from the first frame
of the video stream.

Decoding streams: only the frame that might still be shown is kept, and only the sampled frames are
converted to RGB and resized, so a long 1080p video sampled at a low rate costs a few frames of
memory. ``iter_frames`` is the generator; ``read_frames`` stacks its output (with a size guard).
``write_video`` (in ``video_write``) is re-exported here.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch

from deepaudio.errors import MediaError
from deepaudio.io.audio import _short, check_media_file
from deepaudio.io.video_write import pick_video_codec, write_video  # re-exported: writing is video I/O too

__all__ = ["VideoInfo", "iter_frames", "pick_video_codec", "probe_video", "read_frames", "write_video"]

_EPS = 1e-6  # seconds; absorbs float rounding of pts * time_base against k / fps


@dataclasses.dataclass(frozen=True)
class VideoInfo:
    """What ``probe_video`` finds. ``width``/``height`` are as displayed (after ``rotation``)."""

    path: str
    duration: float
    fps: float
    width: int
    height: int
    rotation: int  # counter-clockwise degrees to turn the coded picture for display (ffprobe's value)
    has_audio: bool
    n_frames: int
    has_video: bool = True
    video_codec: str | None = None
    coded_width: int = 0
    coded_height: int = 0
    is_vfr: bool = False
    audio_codec: str | None = None
    audio_sample_rate: int | None = None
    audio_channels: int | None = None
    n_audio_streams: int = 0
    container: str | None = None

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _open(path: Path):
    """Open ``path`` for reading; raise ``MediaError`` for garbage, stream-less or truncated files."""
    import av

    try:
        container = av.open(str(path))
    except av.FFmpegError as exc:
        raise MediaError(f"cannot be opened as media ({_short(exc)})", path,
                         "the file is corrupt, truncated or not a media file") from exc
    try:
        if not container.streams:
            raise MediaError("contains no readable streams", path, "the file is truncated or not a media file")
        _check_complete(container, path)
    except BaseException:
        container.close()
        raise
    return container


def _check_complete(container, path: Path) -> None:
    """A seek index (mp4 sample tables) that points past the end of the file means a cut-off download."""
    size = path.stat().st_size
    for st in container.streams:
        try:
            entries = st.index_entries
            last = entries[len(entries) - 1] if len(entries) else None
        except Exception:  # no index for this format
            continue
        if last is not None and last.pos >= 0 and last.pos + last.size > size:
            raise MediaError(f"file is truncated: its index needs {last.pos + last.size} bytes, the file has {size}",
                             path, "re-export or re-download it")


def _video_stream(container, path: Path):
    if not container.streams.video:
        raise MediaError("has no video stream", path, "give a video file")
    return container.streams.video[0]


def _stream_origin(stream) -> int:
    return stream.start_time if stream.start_time is not None else 0


def _rotation_of(frame, stream) -> int:
    rot = None
    try:
        rot = frame.rotation
    except Exception:  # older FFmpeg without frame side data: fall back to the legacy tag
        rot = None
    if not rot and "rotate" in stream.metadata:
        try:  # the old mp4 tag means clockwise degrees
            rot = -int(float(stream.metadata["rotate"]))
        except ValueError:
            rot = 0
    rot = (int(round((rot or 0) / 90.0)) * 90) % 360
    return rot - 360 if rot > 180 else rot  # in (-180, 180], as ffprobe prints it


def probe_video(path: str | Path, require_video: bool = True) -> VideoInfo:
    """Describe a media file: duration, fps, displayed size, rotation, streams, frame count.

    Decodes only the first video frame (for the rotation side data). ``require_video=False`` also
    describes audio-only files (``has_video=False``) instead of raising.
    """
    p = check_media_file(path)
    with _open(p) as container:
        audio = container.streams.audio
        a0 = audio[0] if audio else None
        base = dict(path=str(p), has_audio=bool(audio), n_audio_streams=len(audio),
                    audio_codec=a0.codec_context.name if a0 else None,
                    audio_sample_rate=(a0.codec_context.sample_rate or None) if a0 else None,
                    audio_channels=(a0.codec_context.channels or None) if a0 else None,
                    container=container.format.name)
        if not container.streams.video:
            if require_video:
                raise MediaError("has no video stream", p, "give a video file")
            dur = _audio_duration(container, a0)
            if dur <= 0:
                raise MediaError("has zero duration", p, "use a file with content")
            return VideoInfo(duration=dur, fps=0.0, width=0, height=0, rotation=0, n_frames=0, has_video=False,
                             **base)
        st = container.streams.video[0]
        first = _first_frame(container, st, p)
        rotation = _rotation_of(first, st)
        cw, ch = first.width, first.height
        n_frames = st.frames or _count_packets(p, container, st)
        duration = _video_duration(container, st)
        if duration <= 0 or n_frames == 0:
            raise MediaError("has zero duration (no video frames)", p, "use a video with content")
        avg = float(st.average_rate) if st.average_rate else 0.0
        fps = avg or (n_frames / duration)
        w, h = (ch, cw) if rotation % 180 else (cw, ch)
        return VideoInfo(duration=duration, fps=fps, width=w, height=h, rotation=rotation, n_frames=int(n_frames),
                         video_codec=st.codec_context.name, coded_width=cw, coded_height=ch,
                         is_vfr=_is_vfr(st, n_frames), **base)


def video_tags(path: str | Path) -> dict[str, str]:
    """The container's metadata tags (``comment``, ``title``, ...), as written by ``write_video(metadata=)``."""
    with _open(Path(path)) as container:
        return {str(k): str(v) for k, v in container.metadata.items()}


def _is_vfr(st, n_frames: int) -> bool:
    """Unequal gaps between the indexed frame times (only when the index lists every frame, as mp4 does)."""
    try:
        entries = st.index_entries
        if len(entries) != n_frames or n_frames < 3:
            return False
        gaps = np.diff(np.sort(np.array([e.timestamp for e in entries], dtype=np.int64)))
    except Exception:  # no index: unknown, report constant
        return False
    return bool(gaps.max() - gaps.min() > max(1, 0.01 * np.median(gaps)))


def _audio_duration(container, stream) -> float:
    if stream is not None and stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    return container.duration / 1e6 if container.duration else 0.0


def _video_duration(container, st) -> float:
    if st.duration and st.time_base:
        return float(st.duration * st.time_base)
    if container.duration:
        return container.duration / 1e6 - (float(st.start_time * st.time_base) if st.start_time else 0.0)
    return 0.0


def _first_frame(container, st, p: Path):
    import av

    try:
        for frame in container.decode(st):
            return frame
    except av.FFmpegError as exc:
        raise MediaError(f"video cannot be decoded ({_short(exc)})", p, "the file is corrupt") from exc
    raise MediaError("has zero duration (no decodable video frames)", p, "use a video with content")


def _count_packets(p: Path, container, st) -> int:
    """Frame count for containers without one (Matroska, WebM, TS): counted by demuxing (no decoding)
    up to 256 MB, otherwise estimated from duration x average rate (reading a whole film to probe it
    would take longer than users expect)."""
    if p.stat().st_size > 256 << 20:
        rate = st.average_rate or st.guessed_rate
        return int(round(_video_duration(container, st) * float(rate))) if rate else 0
    with _open(p) as again:
        vs = again.streams.video[0]
        return sum(1 for pkt in again.demux(vs) if pkt.size)


# ----------------------------------------------------------------------------------------- geometry


def _target_size(size: int | Sequence[int] | None) -> tuple[int, int] | None:
    if size is None:
        return None
    if isinstance(size, int):
        return (size, size)
    h, w = (int(v) for v in size)
    return (h, w)


def _resize_plan(w: int, h: int, size: tuple[int, int] | None, crop: str) -> tuple[int, int, tuple[int, int] | None]:
    """Scaled (width, height) and the centre-crop box (top, left) for a displayed ``w x h`` picture.

    ``crop='center'`` scales so the picture covers the target (for a square target: short side equals
    the size, the long side truncated like torchvision's ``Resize(int)``) and cuts the middle;
    ``crop='resize'`` stretches to the target (MMAudio's CLIP input, ``Resize((384, 384))``).
    """
    if size is None:
        return w, h, None
    th, tw = size
    if crop == "resize":
        return tw, th, None
    if crop != "center":
        raise ValueError(f"crop must be 'center' or 'resize', got {crop!r}")
    scale = max(th / h, tw / w)
    if th == tw:
        short, long_ = min(w, h), max(w, h)
        new_long = max(th, int(th * long_ / short))
        sw, sh = (th, new_long) if w <= h else (new_long, th)
    else:
        sw, sh = max(tw, int(round(w * scale))), max(th, int(round(h * scale)))
    return sw, sh, ((sh - th) // 2, (sw - tw) // 2)


def _to_rgb(frame, rotation: int, size: tuple[int, int] | None, crop: str, interpolation: str) -> np.ndarray:
    quarter = (rotation // 90) % 4
    cw, ch = frame.width, frame.height
    dw, dh = (ch, cw) if quarter % 2 else (cw, ch)
    sw, sh, box = _resize_plan(dw, dh, size, crop)
    ow, oh = (sh, sw) if quarter % 2 else (sw, sh)  # scale in coded orientation, rotate after
    img = frame.reformat(width=ow, height=oh, format="rgb24", interpolation=interpolation).to_ndarray()
    if quarter:
        img = np.rot90(img, k=quarter)
    if box is not None:
        top, left = box
        img = img[top:top + size[0], left:left + size[1]]
    return np.ascontiguousarray(img)


# ----------------------------------------------------------------------------------------- sampling


def iter_frames(path: str | Path, fps: float | None = None, size: int | Sequence[int] | None = None,
                crop: str = "center", start: float = 0.0, duration: float | None = None,
                interpolation: str = "BICUBIC", autorotate: bool = True) -> Iterator[tuple[torch.Tensor, float]]:
    """Yield ``(frame uint8 [H, W, 3], time in s)`` sampled at ``fps`` (or every frame when None).

    Target times are ``start + k / fps`` for ``k = 0, 1, ...`` while before ``start + duration`` and
    the end of the video (the last frame's time plus its duration); each gets the latest frame at or
    before it. Memory: one pending decoded frame plus the one being yielded.
    """
    import av

    p = check_media_file(path)
    if fps is not None and not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    if start < 0 or (duration is not None and duration <= 0):
        raise ValueError(f"need start >= 0 and duration > 0, got start={start}, duration={duration}")
    target = _target_size(size)
    stop = math.inf if duration is None else start + duration
    with _open(p) as container:
        st = _video_stream(container, p)
        st.thread_type = "AUTO"
        tb, origin = st.time_base, _stream_origin(st)
        if start > 0:
            container.seek(origin + int(start / tb), stream=st, backward=True, any_frame=False)
        rotation = None
        cache: tuple[object, torch.Tensor] | None = None  # (decoded frame, its converted picture)
        prev, prev_end, k, n_seen = None, None, 0, 0

        def picture(frame) -> torch.Tensor:
            nonlocal cache
            if cache is not None and cache[0] is frame:  # a repeat (fps above the source rate): own copy
                return cache[1].clone()
            rot = rotation if autorotate else 0
            cache = (frame, torch.from_numpy(_to_rgb(frame, rot, target, crop, interpolation)))
            return cache[1]

        try:
            for frame in container.decode(st):
                if frame.pts is None:
                    continue
                n_seen += 1
                if rotation is None:
                    rotation = _rotation_of(frame, st)
                t = float((frame.pts - origin) * tb)
                if fps is None:
                    if t >= stop - _EPS:
                        break
                    if t >= start - _EPS:
                        yield picture(frame), t
                    continue
                # Emit every target time that falls before this frame: the previous frame is shown then.
                while prev is not None and start + k / fps < min(t, stop) - _EPS:
                    yield picture(prev), start + k / fps
                    k += 1
                if start + k / fps >= stop - _EPS:
                    break
                prev = frame
                prev_end = t + _frame_duration(frame, st)
        except av.FFmpegError as exc:
            raise MediaError(f"video stops with a decoding error ({_short(exc)})", p,
                             "the file is truncated or corrupt") from exc
        if n_seen == 0:
            raise MediaError("has no decodable video frames", p, "the file is empty, truncated or corrupt")
        if fps is not None and prev is not None:
            end = min(prev_end, stop)
            while start + k / fps < end - _EPS:
                yield picture(prev), start + k / fps
                k += 1


def _frame_duration(frame, st) -> float:
    if frame.duration:
        return float(frame.duration * frame.time_base)
    rate = st.average_rate or st.guessed_rate or st.base_rate
    return float(1 / rate) if rate else 0.0


def read_frames(path: str | Path, fps: float | None = None, size: int | Sequence[int] | None = None,
                crop: str = "center", start: float = 0.0, duration: float | None = None,
                interpolation: str = "BICUBIC", max_bytes: int | None = 4 << 30) -> tuple[torch.Tensor, torch.Tensor]:
    """Sample frames like ``iter_frames`` and stack them: ``(uint8 [T, H, W, 3], float64 times [T])``.

    ``max_bytes`` refuses, before decoding, a request whose stacked frames would exceed it (use
    ``iter_frames`` or a lower fps/size for long videos).
    """
    info = probe_video(path)
    if max_bytes is not None:
        span = max(0.0, min(info.duration - start, duration if duration is not None else math.inf))
        count = math.ceil(span * (fps or info.fps)) + 1
        th, tw = _target_size(size) or (info.height, info.width)
        need = count * th * tw * 3
        if need > max_bytes:
            raise MediaError(f"sampling {count} frames of {tw}x{th} needs {need / 2**30:.1f} GiB (limit "
                             f"{max_bytes / 2**30:.1f} GiB)", path,
                             "lower fps/size, give start/duration, or stream with iter_frames")
    frames, times = [], []
    for img, t in iter_frames(path, fps, size, crop, start, duration, interpolation):
        if frames and img.shape != frames[0].shape:  # mid-stream resolution change without a size
            raise MediaError("frame size changes inside the video", path, "give size= to resize every frame")
        frames.append(img)
        times.append(t)
    if not frames:
        raise MediaError(f"no frames between {start:.3f} s and the end of the video ({info.duration:.3f} s)", path,
                         "check start and duration")
    return torch.stack(frames), torch.tensor(times, dtype=torch.float64)
