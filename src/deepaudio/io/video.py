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
from deepaudio.io.audio import check_media_file
from deepaudio.io.media import open_media, short_error, video_stream
from deepaudio.io.pictures import resize_plan, target_size, to_rgb  # noqa: F401  (resize_plan: re-exported)
from deepaudio.io.video_write import pick_video_codec, write_video  # re-exported: writing is video I/O too

__all__ = ["FrameRequest", "VideoInfo", "iter_frames", "pick_video_codec", "probe_video", "read_frames",
           "read_requests", "sample_frames", "write_video"]

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
    comment: str = ""  # the container's comment tag (the toy world marks its clips with one)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


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
    with open_media(p) as container:
        audio = container.streams.audio
        a0 = audio[0] if audio else None
        base = dict(path=str(p), has_audio=bool(audio), n_audio_streams=len(audio),
                    audio_codec=a0.codec_context.name if a0 else None,
                    audio_sample_rate=(a0.codec_context.sample_rate or None) if a0 else None,
                    audio_channels=(a0.codec_context.channels or None) if a0 else None,
                    container=container.format.name, comment=str(container.metadata.get("comment", "")))
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
    with open_media(Path(path)) as container:
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
        raise MediaError(f"video cannot be decoded ({short_error(exc)})", p, "the file is corrupt") from exc
    raise MediaError("has zero duration (no decodable video frames)", p, "use a video with content")


def _count_packets(p: Path, container, st) -> int:
    """Frame count for containers without one (Matroska, WebM, TS): counted by demuxing (no decoding)
    up to 256 MB, otherwise estimated from duration x average rate (reading a whole film to probe it
    would take longer than users expect)."""
    if p.stat().st_size > 256 << 20:
        rate = st.average_rate or st.guessed_rate
        return int(round(_video_duration(container, st) * float(rate))) if rate else 0
    with open_media(p) as again:
        vs = again.streams.video[0]
        return sum(1 for pkt in again.demux(vs) if pkt.size)


# ----------------------------------------------------------------------------------------- sampling


@dataclasses.dataclass(frozen=True)
class FrameRequest:
    """One stream of sampled frames: at ``fps`` (None: every frame) over [start, start + duration), each
    turned into a ``size`` picture (``crop`` 'center' or 'resize', see ``io.pictures.resize_plan``)."""

    fps: float | None = None
    size: int | tuple[int, int] | None = None
    crop: str = "center"
    start: float = 0.0
    duration: float | None = None
    interpolation: str = "BICUBIC"

    def __post_init__(self) -> None:
        if self.fps is not None and not self.fps > 0:
            raise ValueError(f"fps must be positive, got {self.fps}")
        if self.start < 0 or (self.duration is not None and self.duration <= 0):
            raise ValueError(f"need start >= 0 and duration > 0, got start={self.start}, duration={self.duration}")

    @property
    def stop(self) -> float:
        return math.inf if self.duration is None else self.start + self.duration


def iter_frames(path: str | Path, fps: float | None = None, size: int | Sequence[int] | None = None,
                crop: str = "center", start: float = 0.0, duration: float | None = None,
                interpolation: str = "BICUBIC", autorotate: bool = True) -> Iterator[tuple[torch.Tensor, float]]:
    """Yield ``(frame uint8 [H, W, 3], time in s)`` sampled at ``fps`` (or every frame when None).

    Target times are ``start + k / fps`` for ``k = 0, 1, ...`` while before ``start + duration`` and
    the end of the video (the last frame's time plus its duration); each gets the latest frame at or
    before it. Memory: one pending decoded frame plus the one being yielded.
    """
    request = FrameRequest(fps, None if size is None else target_size(size), crop, start, duration, interpolation)
    for _, img, t in sample_frames(path, [request], autorotate):
        yield img, t


def sample_frames(path: str | Path, requests: Sequence[FrameRequest],
                  autorotate: bool = True) -> Iterator[tuple[int, torch.Tensor, float]]:
    """One decode pass serving several :class:`FrameRequest` s: yields ``(request index, frame, time)``.

    Each request gets exactly the frames ``iter_frames`` would give it alone (the latest frame at or
    before each target time), so the V2A streams at 8 and 25 fps of every window need one pass.
    """
    import av

    p = check_media_file(path)
    requests = list(requests)
    if not requests:
        return
    targets = [target_size(r.size) for r in requests]
    first = min(r.start for r in requests)
    with open_media(p) as container:
        st = video_stream(container, p)
        st.thread_type = "AUTO"
        tb, origin = st.time_base, _stream_origin(st)
        if first > 0:
            container.seek(origin + int(first / tb), stream=st, backward=True, any_frame=False)
        rotation = None
        caches: list[tuple[object, torch.Tensor] | None] = [None] * len(requests)  # (frame, its picture)
        ks = [0] * len(requests)
        prev, prev_end, n_seen = None, None, 0

        def picture(i: int, frame) -> torch.Tensor:
            cached = caches[i]
            if cached is not None and cached[0] is frame:  # a repeat (fps above the source rate): own copy
                return cached[1].clone()
            r = requests[i]
            img = to_rgb(frame, rotation if autorotate else 0, targets[i], r.crop, r.interpolation)
            caches[i] = (frame, torch.from_numpy(img))
            return caches[i][1]

        try:
            for frame in container.decode(st):
                if frame.pts is None:
                    continue
                n_seen += 1
                if rotation is None:
                    rotation = _rotation_of(frame, st)
                t = float((frame.pts - origin) * tb)
                done = True
                for i, r in enumerate(requests):
                    if r.fps is None:
                        if r.start - _EPS <= t < r.stop - _EPS:
                            yield i, picture(i, frame), t
                        done = done and t >= r.stop - _EPS
                        continue
                    # Emit every target time that falls before this frame: the previous frame is shown then.
                    while prev is not None and r.start + ks[i] / r.fps < min(t, r.stop) - _EPS:
                        yield i, picture(i, prev), r.start + ks[i] / r.fps
                        ks[i] += 1
                    done = done and r.start + ks[i] / r.fps >= r.stop - _EPS
                if done:
                    break
                prev = frame
                prev_end = t + _frame_duration(frame, st)
        except av.FFmpegError as exc:
            raise MediaError(f"video stops with a decoding error ({short_error(exc)})", p,
                             "the file is truncated or corrupt") from exc
        if n_seen == 0:
            raise MediaError("has no decodable video frames", p, "the file is empty, truncated or corrupt")
        for i, r in enumerate(requests):
            if r.fps is None or prev is None:
                continue
            end = min(prev_end, r.stop)
            while r.start + ks[i] / r.fps < end - _EPS:
                yield i, picture(i, prev), r.start + ks[i] / r.fps
                ks[i] += 1


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
    request = FrameRequest(fps, None if size is None else target_size(size), crop, start, duration, interpolation)
    return read_requests(path, [request], max_bytes=max_bytes)[0]


def read_requests(path: str | Path, requests: Sequence[FrameRequest], info: VideoInfo | None = None,
                  max_bytes: int | None = 4 << 30) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Stacked ``(frames, times)`` of each request, all from one decode pass (``sample_frames``).

    ``info`` (a probe already made, e.g. by ``io.clip.VideoClip``) saves probing the file again;
    ``max_bytes`` bounds the frames of all requests together.
    """
    info = info or probe_video(path)
    if max_bytes is not None:
        need, count, th, tw = 0, 0, 0, 0
        for r in requests:
            span = max(0.0, min(info.duration - r.start, r.duration if r.duration is not None else math.inf))
            count = math.ceil(span * (r.fps or info.fps)) + 1
            th, tw = target_size(r.size) or (info.height, info.width)
            need += count * th * tw * 3
        if need > max_bytes:
            raise MediaError(f"sampling {count} frames of {tw}x{th} needs {need / 2**30:.1f} GiB (limit "
                             f"{max_bytes / 2**30:.1f} GiB)", path,
                             "lower fps/size, give start/duration, or stream with iter_frames")
    frames: list[list[torch.Tensor]] = [[] for _ in requests]
    times: list[list[float]] = [[] for _ in requests]
    for i, img, t in sample_frames(path, requests):
        if frames[i] and img.shape != frames[i][0].shape:  # mid-stream resolution change without a size
            raise MediaError("frame size changes inside the video", path, "give size= to resize every frame")
        frames[i].append(img)
        times[i].append(t)
    out = []
    for r, fs, ts in zip(requests, frames, times):
        if not fs:
            raise MediaError(f"no frames between {r.start:.3f} s and the end of the video ({info.duration:.3f} s)",
                             path, "check start and duration")
        out.append((torch.stack(fs), torch.tensor(ts, dtype=torch.float64)))
    return out
