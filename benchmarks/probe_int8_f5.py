"""Does dynamic int8 quantisation of the F5 DiT's transformer Linears beat bf16 on this CPU? (No, measured.)

F5TTS_v1_Base with random weights (std 0.02), one batched CFG step on 15 s of frames (as bench_vs_official.py),
best of 2 after a warm-up: bf16 weights eager against ``torch.ao.quantization.quantize_dynamic`` (qint8) of
the transformer blocks' Linears, with each quantised engine. The time embedding keeps its float Linears (our
code reads their weight dtype).

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/probe_int8_f5.py

2026-12-04, 2 vCPUs of a Xeon with AMX: bf16 1.72-1.77 s; int8 dynamic 3.43 s (engine x86) and 2.89 s
(onednn), max diff to fp32 0.030 / 0.032 (output scale 3.0). The step spends its time in attention and in
bf16 AMX matmuls already; dynamic quantisation adds per-call activation quantisation and fp32 glue.
"""

from __future__ import annotations

import copy
import json
import time

import torch

from deepaudio.models.tts.config import TTS_PRESETS
from deepaudio.models.tts.dit import DiT


def random_f5_base() -> DiT:
    """F5TTS_v1_Base with seeded random weights (std 0.02), in eval mode (also used by profile_int8_f5.py)."""
    torch.manual_seed(0)
    model = DiT(TTS_PRESETS.get("F5TTS_v1_Base")).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.02)
    return model


def main() -> None:
    model = random_f5_base()
    g = torch.Generator().manual_seed(1)
    n = 1406
    x, cond = torch.randn(1, n, 100, generator=g), torch.randn(1, n, 100, generator=g)
    cond[:, n // 3:] = 0
    text, t = torch.randint(0, 2545, (1, 160), generator=g), torch.tensor([0.3])

    def run(m, dt):
        with torch.inference_mode():
            return m(x.to(dt), cond.to(dt), text, t, cfg_infer=True, cache={}).float()

    def best(m, dt):
        run(m, dt)
        times = []
        for _ in range(2):
            start = time.perf_counter()
            run(m, dt)
            times.append(time.perf_counter() - start)
        return min(times)

    ref = run(model, torch.float32)
    rows = [{"mode": "bf16", "s": best(copy.deepcopy(model).to(torch.bfloat16), torch.bfloat16)}]
    for engine in ("x86", "onednn"):
        if engine not in torch.backends.quantized.supported_engines:
            continue
        torch.backends.quantized.engine = engine
        q = copy.deepcopy(model)
        q.transformer_blocks = torch.ao.quantization.quantize_dynamic(q.transformer_blocks, {torch.nn.Linear},
                                                                     dtype=torch.qint8)
        rows.append({"mode": f"int8 dynamic ({engine})", "s": best(q, torch.float32),
                     "max_abs_diff_vs_fp32": float((run(q, torch.float32) - ref).abs().max())})
    for row in rows:
        print(json.dumps(row))


if __name__ == "__main__":
    main()
