"""A video probed once and decoded in as few passes as the memory budget allows, carried through a run.

``VideoClip(path)`` probes the file once (``info``); ``clip.read(requests)`` samples several frame
streams (e.g. V2A's 8 fps and 25 fps streams of every window) in one decode pass. A clip stands in for
its path anywhere a path is taken (``os.fspath(clip)``), so code that only needs the file still works.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import torch

from deepaudio.io.audio import check_media_file
from deepaudio.io.video import FrameRequest, VideoInfo, probe_video, read_requests

DECODE_BUDGET = 1 << 30  # bytes of sampled frames one decode pass may hold (longer videos take more passes)


class VideoClip(os.PathLike):
    def __init__(self, path: str | Path, info: VideoInfo | None = None):
        self.path = check_media_file(path)
        self.info = info or probe_video(self.path)

    @classmethod
    def of(cls, video: str | Path | VideoClip) -> VideoClip:
        """``video`` itself when it is a clip already, else a newly probed clip."""
        return video if isinstance(video, VideoClip) else cls(video)

    def __fspath__(self) -> str:
        return str(self.path)

    def __repr__(self) -> str:
        return f"VideoClip({str(self.path)!r}, {self.info.duration:.2f} s)"

    @property
    def duration(self) -> float:
        return self.info.duration

    def read(self, requests: Sequence[FrameRequest]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """``(frames uint8 [T, H, W, 3], times [T])`` of each request, from one decode pass."""
        return read_requests(self.path, requests, info=self.info, max_bytes=None)

    def read_grouped(self, groups: Sequence[Sequence[FrameRequest]],
                     budget: int = DECODE_BUDGET) -> list[list[tuple[torch.Tensor, torch.Tensor]]]:
        """The requests of each group (say, one V2A window), decoding consecutive groups together while
        their frames fit ``budget`` bytes: one pass for a clip of a few minutes, a few for a film."""
        out: list[list[tuple[torch.Tensor, torch.Tensor]]] = []
        batch: list[Sequence[FrameRequest]] = []
        held = 0
        for group in list(groups) + [None]:
            size = 0 if group is None else sum(_bytes(r, self.info) for r in group)
            if batch and (group is None or held + size > budget):
                flat = self.read([r for g in batch for r in g])
                for g in batch:
                    out.append(flat[:len(g)])
                    flat = flat[len(g):]
                batch, held = [], 0
            if group is not None:
                batch.append(group)
                held += size
        return out


def _bytes(request: FrameRequest, info: VideoInfo) -> int:
    span = max(0.0, min(info.duration - request.start,
                        request.duration if request.duration is not None else float("inf")))
    size = request.size if request.size is not None else (info.height, info.width)
    h, w = (size, size) if isinstance(size, int) else size
    return (int(span * (request.fps or info.fps)) + 1) * h * w * 3
