"""Frame sampling speed and memory on a generated HD video (not part of the test run).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_io_video.py [--seconds 20] [--height 1080]

Writes a moving-square video at 25 fps, then times ``read_frames`` at the two V2A settings (8 fps /
384 px resize, 25 fps / 224 px centre crop), ``iter_frames`` at 1 fps, ``probe_video`` and
``mux_audio``, and reports the resident memory while streaming (VmRSS sampled at every yielded frame).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--height", type=int, default=1080)
    args = ap.parse_args()
    from deepaudio.io import testmedia as tm
    from deepaudio.io.mux import mux_audio
    from deepaudio.io.video import iter_frames, probe_video, read_frames, write_video

    h = args.height
    w = h * 16 // 9
    n = int(args.seconds * 25)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "hd.mp4"
        t0 = time.perf_counter()
        write_video(path, (tm.square_frame(i, n, w, h) for i in range(n)), 25, preset="ultrafast")
        print(f"write_video {w}x{h} {n} frames: {time.perf_counter() - t0:.2f} s "
              f"({path.stat().st_size / 2**20:.1f} MB)")
        t0 = time.perf_counter()
        info = probe_video(path)
        print(f"probe_video: {1000 * (time.perf_counter() - t0):.1f} ms -> {info.n_frames} frames, {info.duration} s")
        for fps, size, crop in [(8, 384, "resize"), (25, 224, "center")]:
            t0 = time.perf_counter()
            frames, _ = read_frames(path, fps=fps, size=size, crop=crop)
            dt = time.perf_counter() - t0
            print(f"read_frames fps={fps} size={size} {crop}: {tuple(frames.shape)} in {dt:.2f} s "
                  f"({n / dt:.0f} source frames/s)")
            del frames
        base = rss_mb()
        peak = base
        t0 = time.perf_counter()
        count = 0
        for _img, _t in iter_frames(path, fps=1):
            peak = max(peak, rss_mb())
            count += 1
        print(f"iter_frames fps=1 full size: {count} frames in {time.perf_counter() - t0:.2f} s, "
              f"RSS grew {peak - base:.0f} MB while streaming (one frame is {w * h * 3 / 2**20:.1f} MB)")
        wav = np.zeros((2, int(args.seconds * 48000)), np.float32)
        t0 = time.perf_counter()
        mux_audio(path, [(wav, 48000, "mix")], Path(tmp) / "muxed.mp4")
        print(f"mux_audio (copy video, AAC stereo): {time.perf_counter() - t0:.2f} s")


if __name__ == "__main__":
    main()
