"""Where the time of one static int8 F5 v1 Base CFG step goes (``tts --int8``), by ``torch.profiler``.

F5TTS_v1_Base with random weights (std 0.02), 15 s of frames, calibrated on two random steps, converted and
compiled by ``deepaudio.quant``; prints one timed step and the profiler's table by self CPU time.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/profile_int8_f5.py

2026-12-04 (2 vCPUs, Xeon with AMX): step 1.41 s; flash attention 0.77 s (55 %), int8 Linears
(``onednn::qlinear_pointwise``) 0.34 s, the compiled graph's own fused kernels 0.25 s (docs/speed.md). A second
run, the VM slower then: step 1.78 s, the same shares (53 % / 24 % / 17 %).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from probe_int8_f5 import random_f5_base  # noqa: E402

from deepaudio.quant import quantize_int8  # noqa: E402


def main() -> None:
    model = random_f5_base()
    n = 1406

    def inputs(seed):
        g = torch.Generator().manual_seed(seed)
        return (torch.randn(1, n, 100, generator=g), torch.randn(1, n, 100, generator=g),
                torch.randint(0, 2544, (1, 160), generator=g), torch.rand(1, generator=g))

    fwd = quantize_int8(model)
    with torch.no_grad():
        for seed in (2, 3):
            model(*inputs(seed), cfg_infer=True, cache={})
        fwd.finish_calibration()
        x, cache = inputs(1), {}
        for _ in range(2):  # compile, then warm
            model(*x, cfg_infer=True, cache=cache)
        start = time.perf_counter()
        model(*x, cfg_infer=True, cache=cache)
        print(f"int8 step: {time.perf_counter() - start:.3f} s")
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
            model(*x, cfg_infer=True, cache=cache)
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=12))


if __name__ == "__main__":
    main()
