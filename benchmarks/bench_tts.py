"""Speed of the F5-TTS DiT sampler at full size (random weights): seconds per NFE step and real-time factor.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_tts.py --device cpu --steps 2
    .venv/bin/python benchmarks/bench_tts.py --device cuda --steps 8

One "step" is one Euler step = one velocity evaluation with guidance, i.e. one batched CFG pass (2B rows)
or two passes (conditional + unconditional). The sequence is ``--seconds`` of audio at 93.75 frames/s of
which the first ``--prompt`` seconds are the reference. RTF = (time for ``--nfe`` steps) / seconds of
audio; the vocoder is not included. Results are printed as a table and optionally written as JSON.
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from deepaudio.config import DTYPES
from deepaudio.dsp.energy import CONTOUR_RATE
from deepaudio.models.tts.cfm import sample
from deepaudio.models.tts.config import TTS_PRESETS
from deepaudio.models.tts.dit import DiT


def run_case(model, frames, prompt, steps, batched, device):
    cond = torch.randn(1, prompt, 100, device=device)
    text = torch.randint(0, 2545, (1, 160), device=device)
    kw = dict(lens=torch.tensor([prompt], device=device), cfg_strength=2.0, batched_cfg=batched,
              generator=torch.Generator().manual_seed(0))
    sample(model, cond, text, frames, steps=1, **kw)  # warm-up (kernels, allocator)
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    sample(model, cond, text, frames, steps=steps, **kw)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / steps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="F5TTS_v1_Base")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--dtypes", default="fp32,bf16")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--prompt", type=float, default=3.0)
    ap.add_argument("--steps", type=int, default=2, help="timed steps per case (after one warm-up step)")
    ap.add_argument("--nfe", type=int, default=32, help="NFE used for the RTF figure")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()

    device = torch.device(args.device)
    frames = int(round(args.seconds * CONTOUR_RATE))
    prompt = int(round(args.prompt * CONTOUR_RATE))
    base = DiT(TTS_PRESETS.get(args.preset), device=device).eval()
    rows = []
    print(f"{args.preset}, {frames} frames ({args.seconds:g} s, {args.prompt:g} s prompt), device {device}, "
          f"threads {torch.get_num_threads()}")
    print(f"{'dtype':6} {'cfg':9} {'s/step':>9} {'RTF@' + str(args.nfe):>9}")
    with torch.inference_mode():
        for name in args.dtypes.split(","):
            model = base.to(DTYPES[name])
            for batched in (True, False):
                sec = run_case(model, frames, prompt, args.steps, batched, device)
                rtf = sec * args.nfe / args.seconds
                mode = "batched" if batched else "two-pass"
                rows.append({"dtype": name, "cfg": mode, "s_per_step": sec, "rtf": rtf})
                print(f"{name:6} {mode:9} {sec:9.3f} {rtf:9.2f}", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"preset": args.preset, "device": str(device), "frames": frames, "rows": rows}, f, indent=2)


if __name__ == "__main__":
    main()
