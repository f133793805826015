"""Seconds per speaker-adaptation step (``pipelines.tts_adapt``) of the bundled TTS, by reference length.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_tts_adapt_speed.py --out benchmarks/results/tts_adapt_speed.json

Random log-mels and ids stand in for a reference (the cost does not depend on the values). A reference
longer than 6 s trains on 6 s windows, so its steps cost what a 6 s one's do.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, nargs="+", default=[3.7, 6.0, 15.0])
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()

    import torch

    from deepaudio.pipelines.tts import TTSPipeline
    from deepaudio.pipelines.tts_adapt import _fast_bf16, adapt_network

    pipe = TTSPipeline.from_pretrained()
    rows = []
    for seconds in args.seconds:
        n = int(seconds * 24000 / 256)
        mel, text = torch.randn(n, 100) - 5, torch.randint(1, 60, (n,))
        adapt_network(pipe.model, mel, text, 1, 1e-3)  # warm-up
        t0 = time.perf_counter()
        adapt_network(pipe.model, mel, text, args.steps, 1e-3)
        per_step = (time.perf_counter() - t0) / args.steps
        rows.append({"reference_s": seconds, "frames": n, "s_per_step": round(per_step, 4),
                     "s_for_60_steps": round(per_step * 60, 1)})
        print(rows[-1], flush=True)
    out = {"threads": torch.get_num_threads(), "bf16": _fast_bf16(torch.device("cpu")), "rows": rows}
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
