"""Peak memory of the sharding step of a batch command on long manifests (issue #24).

The sharding step is what every rank does before generating anything: stream the manifest
(:func:`deepaudio.io.batch_inputs.iter_items`) and keep the items it owns
(:meth:`deepaudio.distributed.BatchRun.mine`). For each manifest size (CSV, JSONL and a text list of
paths) a fresh interpreter measures:

- ``tracemalloc_peak_kb``: the peak of Python allocations while one rank of ``--world`` walks its share;
- ``rss_delta_kb``: growth of the process's peak resident set (``ru_maxrss``) over the same walk;
- ``list_peak_kb``: for contrast, the peak when the items are first loaded into a list (what a
  non-streaming reader costs);
- ``run_*``: the whole batch loop of one process (``BatchRun.run`` over every row with a generator that
  does nothing: output checks, the per-item journal, the summary), its peak and time;
- ``seconds``: wall time of the walk (noisy: shared CPU).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_shard_memory.py --sizes 1000 10000 100000 \\
        --out benchmarks/results/shard_memory.json
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import json, resource, sys, time, tracemalloc
from pathlib import Path
from deepaudio.distributed import BatchRun
from deepaudio.io.batch_inputs import iter_items
path, world, mode = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
import os
os.environ.update(RANK="0", WORLD_SIZE=str(world), LOCAL_RANK="0")
run = BatchRun("bench", path.parent, "cpu")
rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
tracemalloc.start()
t0 = time.perf_counter()
items = iter_items(path, "video", ())
if mode == "list":
    items = list(items)
if mode == "run":  # the whole batch loop of one process with a no-op generator: journal, summary
    run.run(items, lambda item: [path.parent / "out" / (item.name + ".wav")], lambda item, outs: None)
    mine = json.loads((path.parent / "batch_summary.json").read_text())["done"]
else:
    mine = sum(1 for _ in run.mine(items))
secs = time.perf_counter() - t0
peak = tracemalloc.get_traced_memory()[1]
tracemalloc.stop()
rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"mine": mine, "peak_kb": peak / 1024, "rss_delta_kb": rss1 - rss0, "seconds": secs}))
"""


def write_manifest(path: Path, n: int) -> None:
    with path.open("w") as f:
        if path.suffix == ".csv":
            f.write("video,prompt\n")
        for i in range(n):
            video = f"clips/{i // 1000:04d}/clip_{i:08d}.mp4"
            prompt = f"a dog barks in the distance while rain falls, take {i}"
            if path.suffix == ".csv":
                f.write(f"{video},{prompt}\n")
            elif path.suffix == ".jsonl":
                f.write(json.dumps({"video": video, "prompt": prompt}) + "\n")
            else:
                f.write(video + "\n")


def measure(path: Path, world: int, mode: str) -> dict:
    src = Path(__file__).resolve().parents[1] / "src"
    out = subprocess.run([sys.executable, "-c", CHILD, str(path), str(world), mode], capture_output=True,
                         text=True, check=True, env={"PYTHONPATH": str(src), "OMP_NUM_THREADS": "1",
                                                     "PATH": "/usr/bin:/bin"})
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    p.add_argument("--world", type=int, default=8, help="ranks the manifest is shared between (rank 0 measured)")
    p.add_argument("--out", type=Path)
    args = p.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind in (".csv", ".jsonl", ".txt"):
            for n in args.sizes:
                path = Path(tmp) / f"manifest_{n}{kind}"
                write_manifest(path, n)
                stream, listed = measure(path, args.world, "stream"), measure(path, args.world, "list")
                whole = measure(path, 1, "run")
                row = {"format": kind[1:], "rows": n, "file_kb": round(path.stat().st_size / 1024),
                       "rank0_items": stream["mine"], "tracemalloc_peak_kb": round(stream["peak_kb"], 1),
                       "rss_delta_kb": stream["rss_delta_kb"], "seconds": round(stream["seconds"], 3),
                       "list_peak_kb": round(listed["peak_kb"], 1), "run_items": whole["mine"],
                       "run_peak_kb": round(whole["peak_kb"], 1), "run_rss_delta_kb": whole["rss_delta_kb"],
                       "run_seconds": round(whole["seconds"], 3)}
                rows.append(row)
                print(json.dumps(row), flush=True)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"world": args.world, "rows": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
