"""Put new sound tracks on a video without re-encoding the picture.

The video packets are copied byte for byte (no generation loss, and fast: nothing is decoded), each
audio track is encoded to AAC, and any audio, subtitle or data streams of the input are dropped: the
output has exactly the picture and the tracks given. Audio sample 0 is placed at the first video frame,
the same origin that ``io.video`` uses for frame times, so a sound generated for frame times lines up.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from deepaudio.errors import MediaError, OutputPathError
from deepaudio.io.atomic import atomic_path
from deepaudio.io.audio import add_audio_stream, as_waveform, check_media_file, encode_audio_packets
from deepaudio.io.media import open_media, short_error, video_stream
from deepaudio.io.video_write import _CONTAINERS

Track = tuple  # (wav [C, N], sample_rate, title) or (wav, sample_rate, title, language)


def _track_parts(track: Sequence) -> tuple[torch.Tensor, int, str | None, str | None]:
    if len(track) not in (3, 4):
        raise ValueError("a track is (wav, sample_rate, title) or (wav, sample_rate, title, language)")
    wav, sr, title = track[:3]
    language = track[3] if len(track) == 4 else None
    return as_waveform(wav), int(sr), title, language


def _fit_length(wav: np.ndarray, n: int) -> np.ndarray:
    if wav.shape[1] >= n:
        return wav[:, :n]
    return np.pad(wav, ((0, 0), (0, n - wav.shape[1])))


def check_finite_audio(wav, out, what: str = "audio") -> None:
    """Never write NaN or infinite samples (they play as full-scale noise or DC)."""
    from deepaudio.errors import InputError

    if not torch.isfinite(torch.as_tensor(wav)).all():
        raise InputError(f"{what} contains NaN or infinite samples; nothing written", out,
                         "check the inputs and options that produced it")


def mux_audio(video_path: str | Path, tracks: Sequence[Track], out_path: str | Path, match_video: bool = True,
              bitrate: int | None = None, faststart: bool = True) -> Path:
    """Write ``out_path``: ``video_path``'s video stream copied plus one AAC stream per track (atomic).

    ``tracks`` is a list of ``(wav [C, N] or [N], sample_rate, title[, language])``; titles and ISO 639
    language codes go into the stream metadata, the first track is marked default. ``match_video``
    trims or pads (with silence) every track to the video's duration so that players do not show a
    frozen last frame or cut the sound. Mono and stereo only.
    """
    import av

    src = check_media_file(video_path)
    out = Path(out_path)
    fmt = _CONTAINERS.get(out.suffix.lower())
    if fmt is None or fmt == "avi":
        raise OutputPathError(f"cannot mux into '{out.suffix or '(none)'}'", out, "use .mp4, .mov, .m4v or .mkv")
    if not tracks:
        raise ValueError("mux_audio needs at least one audio track")
    parts = [_track_parts(t) for t in tracks]
    for wav, _sr, title, _ in parts:
        if wav.shape[-1] == 0:
            raise ValueError(f"audio track {title!r} is empty")
        if wav.shape[0] not in (1, 2):
            raise ValueError(f"audio track {title!r} has {wav.shape[0]} channels; mux mono or stereo")
        check_finite_audio(wav, out, f"audio track {title!r}")
    with open_media(src) as inp:
        vin = video_stream(inp, src)
        tb = vin.time_base
        origin_s = float(vin.start_time * tb) if vin.start_time is not None else 0.0
        v_duration = float(vin.duration * tb) if vin.duration else (inp.duration or 0) / 1e6
        if v_duration <= 0:
            raise MediaError("video has zero duration", src, "use a video with content")
        with atomic_path(out, inputs=[src]) as tmp:
            options = {"movflags": "+faststart"} if faststart and fmt in ("mp4", "mov") else {}
            try:
                output = av.open(str(tmp), "w", format=fmt, options=options)
            except av.FFmpegError as exc:
                raise OutputPathError(f"cannot be created ({short_error(exc)})", out) from exc
            with output:
                # Container tags travel with the picture (the toy world's tag keys its cartoon face detector).
                output.metadata.update({k: v for k, v in inp.metadata.items() if k in ("comment", "title")})
                vout = output.add_stream_from_template(vin)
                queues = []
                for i, (wav, sr, title, language) in enumerate(parts):
                    data = wav.detach().cpu().numpy()
                    if match_video:
                        data = _fit_length(data, int(round(v_duration * sr)))
                    stream = add_audio_stream(output, data.shape[0], sr, "aac", bitrate, title, language)
                    if i > 0:
                        stream.disposition = 0
                    queues.append(_Queue(encode_audio_packets(stream, np.clip(data, -1.0, 1.0), sr,
                                                                start_pts=int(round(origin_s * sr)))))
                try:
                    _copy_interleaved(inp, vin, vout, output, queues)
                except av.FFmpegError as exc:
                    raise MediaError(f"video packets cannot be copied into {out.suffix} ({short_error(exc)})", src,
                                     "try an .mkv output") from exc
    return out


class _Queue:
    """The next encoded packet of one audio track, pulled lazily from its encoder."""

    def __init__(self, packets):
        self.packets = packets
        self.head = next(packets, None)

    def time(self) -> float:
        return float(self.head.pts * self.head.time_base) if self.head is not None else float("inf")

    def pop(self):
        pkt, self.head = self.head, next(self.packets, None)
        return pkt


def _copy_interleaved(inp, vin, vout, output, queues: list[_Queue]) -> None:
    """Mux video packets unchanged, slotting in audio packets up to each video packet's time."""
    n = 0
    for pkt in inp.demux(vin):
        if pkt.dts is None and pkt.size == 0:  # demuxer's end-of-stream marker
            continue
        now = float(pkt.dts * pkt.time_base) if pkt.dts is not None else 0.0
        for q in queues:
            while q.head is not None and q.time() <= now:
                output.mux(q.pop())
        pkt.stream = vout
        output.mux(pkt)
        n += 1
    if n == 0:
        raise MediaError("has no video packets", inp.name, "the file is empty or truncated")
    for q in queues:
        while q.head is not None:
            output.mux(q.pop())
