"""Load test of ``deepaudio serve`` on 127.0.0.1: concurrent API requests, mixed TTS and V2A.

Starts the server as a user would (bundled default, ``--concurrency 1``), then runs ``--rounds`` rounds
of ``--requests`` requests through the HTTP API with ``gradio_client``: even ones are Speech (each its own
sentence, bundled default voice), odd ones Sound for a video (the toy-world example clip, each its own
seed). All requests of a round are in the queue at once; they are sent one after another (each
waits until the server has queued the previous one), so with one worker the server must finish them
in that order. Checked per request: it completed, its result files exist in the server's output
folder and are its own (no two requests share a file), and its status names its own sentence or seed.
Measured: latency from submission to result (queue wait included; p50/p95), the server's resident
memory (sampled every 0.1 s; peak per round and after each round).

    PYTHONPATH=src python benchmarks/bench_serve_load.py --out benchmarks/results/serve_load.json

Timings on a shared 2-core machine are noisy: other jobs run beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class RssSampler(threading.Thread):
    def __init__(self, pid: int, every: float = 0.1):
        super().__init__(daemon=True)
        self.pid, self.every, self.peak, self.stop = pid, every, 0.0, threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.peak = max(self.peak, rss_mb(self.pid))
            time.sleep(self.every)


def start_server(workdir: Path, timeout: float = 180.0) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(SRC), "OMP_NUM_THREADS": "1"}
    log = (workdir / "server.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "deepaudio.cli.main", "serve", "--port", str(port), "--device",
                             "cpu", "--workdir", str(workdir / "wd"), "--threads", "1", "--concurrency", "1"],
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    url, deadline = f"http://127.0.0.1:{port}/", time.time() + timeout
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            return proc, url
        except OSError:
            if proc.poll() is not None:
                sys.exit("server exited:\n" + (workdir / "server.log").read_text())
            time.sleep(0.5)
    proc.terminate()
    sys.exit("server did not start")


def request(i: int, video: str, nfe: int, steps: int) -> tuple[str, list, str]:
    """(api_name, arguments, what its status must contain)."""
    from gradio_client import handle_file

    if i % 2 == 0:
        text = f"Request number {i} says the kettle is on."
        return "/speech", [text, None, "", 1.0, nfe, i], f'"{text}"'
    return "/sound_for_video", [handle_file(video), "", "", steps, None, 1000 + i], f"seed {1000 + i}"


def wait_queued(job, timeout: float = 30.0) -> None:
    """Until the server has put the job in its queue (or started it)."""
    from gradio_client.utils import Status

    deadline = time.time() + timeout
    while time.time() < deadline:
        if job.status().code not in (Status.STARTING, Status.JOINING_QUEUE) or job.done():
            return
        time.sleep(0.02)


def run_round(client, n: int, video: str, nfe: int, steps: int, timeout: float) -> list[dict]:
    jobs = []
    for i in range(n):
        api, args, expect = request(i, video, nfe, steps)
        sent = time.perf_counter()
        job = client.submit(*args, api_name=api)
        jobs.append(dict(i=i, api=api, expect=expect, sent=sent, job=job))
        wait_queued(job)
    done_at: dict[int, float] = {}
    deadline = time.time() + timeout
    while len(done_at) < n and time.time() < deadline:
        for j in jobs:
            if j["i"] not in done_at and j["job"].done():
                done_at[j["i"]] = time.perf_counter()
        time.sleep(0.02)
    rows = []
    for j in jobs:
        row = dict(i=j["i"], api=j["api"], done=j["i"] in done_at)
        if row["done"]:
            try:
                out = j["job"].result(timeout=1)
                files = [o["path"] if isinstance(o, dict) else o for o in out[:-1]]
                row.update(latency_s=done_at[j["i"]] - j["sent"], done_rank=sorted(done_at.values()).index(
                    done_at[j["i"]]), own_status=j["expect"] in out[-1], files=files,
                    files_exist=all(Path(f).is_file() for f in files))
            except Exception as exc:  # noqa: BLE001 - a failed request is a result of the test
                row.update(done=False, error=f"{type(exc).__name__}: {exc}")
        rows.append(row)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--nfe", type=int, default=8, help="TTS ODE steps per Speech request")
    ap.add_argument("--steps", type=int, default=8, help="V2A Euler steps per Sound request")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds per round before giving up")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/serve_load.json"))
    args = ap.parse_args()
    from gradio_client import Client

    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        proc, url = start_server(Path(tmp))
        try:
            video = str(Path(tmp) / "wd" / "examples" / "bounce.mp4")
            client = Client(url, verbose=False, download_files=False)
            rounds = []
            for r in range(args.rounds):
                sampler = RssSampler(proc.pid)
                sampler.start()
                t0 = time.perf_counter()
                rows = run_round(client, args.requests, video, args.nfe, args.steps, args.timeout)
                wall = time.perf_counter() - t0
                sampler.stop.set()
                sampler.join()
                time.sleep(1.0)
                rounds.append(summarise(r, rows, wall, sampler.peak, rss_mb(proc.pid)))
                print(json.dumps({k: v for k, v in rounds[-1].items() if k != "requests"}), flush=True)
            leftover = list((Path(tmp) / "wd" / "work").iterdir())
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    report = dict(url="127.0.0.1", concurrency=1, requests_per_round=args.requests, nfe=args.nfe,
                  v2a_steps=args.steps, cpu_count=os.cpu_count(), rounds=rounds,
                  rss_growth_mb=round(rounds[-1]["rss_after_mb"] - rounds[0]["rss_after_mb"], 1),
                  leftover_temp_files=len(leftover), note="shared 2-core machine: timings are noisy")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {args.out}")


def summarise(r: int, rows: list[dict], wall: float, peak: float, after: float) -> dict:
    ok = [x for x in rows if x["done"]]
    lat = sorted(x["latency_s"] for x in ok)
    files = [f for x in ok for f in x["files"]]
    return dict(round=r, completed=len(ok), lost=len(rows) - len(ok), wall_s=round(wall, 1),
                in_order=[x["done_rank"] for x in ok] == list(range(len(ok))),
                own_results=all(x["own_status"] and x["files_exist"] for x in ok),
                distinct_files=len(set(files)) == len(files),
                p50_s=round(statistics.median(lat), 2) if lat else None,
                p95_s=round(lat[min(len(lat) - 1, int(round(0.95 * (len(lat) - 1))))], 2) if lat else None,
                peak_rss_mb=round(peak, 1), rss_after_mb=round(after, 1),
                requests=[{k: v for k, v in x.items() if k != "files"} for x in rows])


if __name__ == "__main__":
    main()
