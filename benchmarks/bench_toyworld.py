"""Toy-world generation speed per scene kind (not part of the test run).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_toyworld.py [--n 10] [--cache DIR] [--preset default]

For each scene kind, generates ``--n`` clips in memory and writes them (two mp4s, wav stems, JSON),
timing the two parts separately in wall-clock and CPU seconds. Speech comes from ``--cache``; a first
run with an empty cache also times synthesis (and piper's model load). CPU seconds are the number to
compare on a shared machine; wall-clock clips/s is what a user sees.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

from deepaudio.data.toyworld import KINDS, WORLD_PRESETS, ToyWorld
from deepaudio.data.toyworld.writer import write_clip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10)
    ap.add_argument("--preset", default="default")
    ap.add_argument("--cache", default=None)
    args = ap.parse_args()
    cfg = WORLD_PRESETS.get(args.preset)
    total_wall = total_cpu = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(args.cache or Path(tmp) / "cache")
        print(f"{'kind':10} {'gen wall':>9} {'gen cpu':>8} {'write wall':>10} {'write cpu':>9}   (seconds per clip)")
        for kind in KINDS:
            world = ToyWorld(dataclasses.replace(cfg, kinds=(kind,)), seed=1, cache_dir=cache)
            gen_w = gen_c = wr_w = wr_c = 0.0
            for i in range(args.n):
                w0, c0 = time.perf_counter(), time.process_time()
                clip = world.clip(i, "train")
                w1, c1 = time.perf_counter(), time.process_time()
                write_clip(clip, Path(tmp) / kind / clip.clip_id)
                gen_w, gen_c = gen_w + w1 - w0, gen_c + c1 - c0
                wr_w, wr_c = wr_w + time.perf_counter() - w1, wr_c + time.process_time() - c1
            n = args.n
            print(f"{kind:10} {gen_w / n:9.3f} {gen_c / n:8.3f} {wr_w / n:10.3f} {wr_c / n:9.3f}")
            total_wall += gen_w + wr_w
            total_cpu += gen_c + wr_c
    n_all = args.n * len(KINDS)
    print(f"all kinds: {n_all / total_wall:.2f} clips/s wall, {n_all / total_cpu:.2f} clips/s per CPU second")


if __name__ == "__main__":
    main()
