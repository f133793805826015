"""Count how often one V2A call probes, opens, demuxes and decodes its video.

Wraps ``av.open`` (every container opened), counts ``container.decode``/``container.demux`` passes and
the video frames decoded, and ``deepaudio.io.video.probe_video`` calls, around one
``V2APipeline.__call__`` of the bundled default model on a synthetic clip of ``--seconds`` seconds
(10 s = 3 windows of the bundled 4 s model). Counts, not timings: the result is exact and repeatable.

    PYTHONPATH=src python benchmarks/count_video_io.py [--seconds 10] [--steps 1] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections import Counter
from pathlib import Path


class _Counting:
    """A PyAV container proxy that counts decode/demux passes and decoded video frames."""

    def __init__(self, container, counts: Counter):
        self._c, self._n = container, counts

    def __getattr__(self, name):
        return getattr(self._c, name)

    def __enter__(self):
        self._c.__enter__()
        return self

    def __exit__(self, *exc):
        return self._c.__exit__(*exc)

    def decode(self, *args, **kwargs):
        self._n["decode passes"] += 1
        for frame in self._c.decode(*args, **kwargs):
            if frame.__class__.__name__ == "VideoFrame":
                self._n["video frames decoded"] += 1
            yield frame

    def demux(self, *args, **kwargs):
        self._n["demux passes"] += 1
        yield from self._c.demux(*args, **kwargs)


def count(seconds: float, steps: int) -> dict:
    import av
    import torch

    import deepaudio.io.video as vio
    from deepaudio.assets import bundled_dir
    from deepaudio.io import testmedia as tm
    from deepaudio.pipelines.v2a import V2APipeline

    torch.set_num_threads(1)
    pipe = V2APipeline.from_pretrained(bundled_dir("v2a"))
    with tempfile.TemporaryDirectory() as tmp:
        video = tm.moving_square_video(Path(tmp) / "clip.mp4", duration=seconds).path
        counts: Counter = Counter()
        real_open, real_probe = av.open, vio.probe_video

        def open_counting(*args, **kwargs):
            counts["containers opened"] += 1
            return _Counting(real_open(*args, **kwargs), counts)

        def probe_counting(*args, **kwargs):
            counts["probe_video calls"] += 1
            return real_probe(*args, **kwargs)

        try:  # io.clip (after the redesign) imports probe_video by name: count it there too
            import deepaudio.io.clip as clip_module
        except ImportError:
            clip_module = None
        av.open, vio.probe_video = open_counting, probe_counting
        if clip_module is not None:
            clip_module.probe_video = probe_counting
        try:
            wav, sr = pipe(video, steps=steps, seed=0)
        finally:
            av.open, vio.probe_video = real_open, real_probe
            if clip_module is not None:
                clip_module.probe_video = real_probe
    windows = max(1, -(-(seconds - pipe.window) // (pipe.window - min(1.0, pipe.window / 2)))) + 1 \
        if seconds > pipe.window else 1
    return {"seconds": seconds, "window": pipe.window, "windows": int(windows),
            "source frames": int(round(seconds * 25)), "output samples": int(wav.shape[-1]), **dict(counts)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--steps", type=int, default=1)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    result = count(args.seconds, args.steps)
    for k, v in result.items():
        print(f"{k:>22}: {v}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
