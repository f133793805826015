"""Static int8 (``tts --int8``: PT2E, AMX int8) against the official bf16 F5 v1 Base CFG step.

Measured beside the official step in one run (issue #23's last figure): the official F5TTS_v1_Base DiT
from its sources (as ``bench_vs_official.py``: random weights std 0.02, converted to the project's layout),
one batched CFG step on 15 s of frames with the text embedding cached, and three project forms of the same
step: bf16 weights eager, bf16 compiled (``perf.compile_for_inference``, the shipped ``--compile``), and
static int8 with bf16 elsewhere as ``tts --int8`` runs it (``deepaudio.quant``): the step exported with
``torch.export``, annotated by torchao's ``X86InductorQuantizer`` (int8 weights per channel, int8
activations per tensor), calibrated on ``--calib`` other random steps, converted, and compiled by Inductor
with frozen weights under bf16 autocast (AMX int8 for the Linears, bf16 for attention and the rest).
Needs the ``int8`` extra (torchao).

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/probe_int8_static_f5.py --f5-src /path/F5-TTS/src \\
        --deps /tmp/offdeps --json benchmarks/results/probe_int8_static_f5.json

Prints one JSON line per form with its seconds, ratio = official / form, and the max difference to the
fp32 output of the same weights (output scale about 3).
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_vs_official import F5_V1, _best, _official_path, _randomize  # noqa: E402

from deepaudio.perf import compile_for_inference  # noqa: E402
from deepaudio.quant import quantize_int8  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--f5-src", type=Path, required=True, help="the official F5-TTS repository's src folder")
    ap.add_argument("--deps", type=Path, help="folder of the official code's pure-Python dependencies")
    ap.add_argument("--seconds", type=float, default=15.0)
    ap.add_argument("--calib", type=int, default=4, help="calibration steps (other random inputs and times)")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    _official_path(args.f5_src, args.f5_src, args.deps)
    from f5_tts.model.backbones.dit import DiT as OfficialDiT

    from deepaudio.convert.f5 import official_to_dit_state
    from deepaudio.models.tts.config import TTS_PRESETS
    from deepaudio.models.tts.dit import DiT

    torch.manual_seed(0)
    off = OfficialDiT(**F5_V1).eval()
    _randomize(off, 0)
    ours = DiT(TTS_PRESETS.get("F5TTS_v1_Base"))
    ours.load_state_dict(official_to_dit_state(off.state_dict()), strict=True)
    ours.eval()
    n = round(args.seconds * 93.75)

    def inputs(seed):
        g = torch.Generator().manual_seed(seed)
        x, cond = torch.randn(1, n, 100, generator=g), torch.randn(1, n, 100, generator=g)
        cond[:, round(n / 3):] = 0
        return x, cond, torch.randint(0, 2544, (1, 160), generator=g), torch.rand(1, generator=g)

    x, cond, text, t = inputs(1)
    rows = []

    def emit(**row):
        row = {k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}
        rows.append(row)
        print(json.dumps(row), flush=True)

    with torch.inference_mode():
        def official(model, autocast):
            model.clear_cache()
            dt = next(model.parameters()).dtype

            def run():
                with torch.autocast("cpu", torch.bfloat16, enabled=autocast):
                    return model(x=x.to(dt), cond=cond.to(dt), text=text, time=t.to(dt), cfg_infer=True,
                                 cache=True).float()
            run()
            return run

        ref = official(off, False)()
        t_auto = _best(official(off, True), args.repeat)
        t_off = min(t_auto, _best(official(off.to(torch.bfloat16), False), args.repeat))
        emit(form="official bf16 (best of autocast, bf16 weights)", s=t_off, frames=n)

        bf = copy.deepcopy(ours).to(torch.bfloat16)

        def project(model):
            cache = {}
            return lambda: model(x.bfloat16(), cond.bfloat16(), text, t, cfg_infer=True, cache=cache).float()

        s = _best(project(bf), args.repeat)
        emit(form="project bf16 eager", s=s, ratio=t_off / s, max_abs_diff_vs_fp32=float((project(bf)() - ref)
                                                                                        .abs().max()))
        start = time.perf_counter()
        step = project(compile_for_inference(copy.deepcopy(bf)))
        step()
        compile_s = time.perf_counter() - start
        s = _best(step, args.repeat)
        emit(form="project bf16 compiled", s=s, ratio=t_off / s, compile_s=compile_s,
             max_abs_diff_vs_fp32=float((step() - ref).abs().max()))
        torch._dynamo.reset()

    # static int8, the shipped code (deepaudio.quant, `tts --int8`): calibrating calls on other random
    # inputs and times (the first solve's role), then the converted and compiled step
    q = copy.deepcopy(ours)
    fwd = quantize_int8(q)
    start = time.perf_counter()
    with torch.no_grad():
        for seed in range(2, 2 + args.calib):
            xc, cc, tc, tt = inputs(seed)
            q(xc, cc, tc, tt, cfg_infer=True, cache={})
        fwd.finish_calibration()
        prepare_s = time.perf_counter() - start
        cache = {}
        start = time.perf_counter()
        out = q(x, cond, text, t, cfg_infer=True, cache=cache).float()
        compile_s = time.perf_counter() - start
        s = _best(lambda: q(x, cond, text, t, cfg_infer=True, cache=cache), args.repeat)
    emit(form="project int8 static (mixed bf16) compiled", s=s, ratio=t_off / s, compile_s=compile_s,
         export_calibrate_s=prepare_s, max_abs_diff_vs_fp32=float((out - ref).abs().max()))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
