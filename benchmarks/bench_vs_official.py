"""Speed beside the official code, at official sizes with random weights, all timed in one run.

    OMP_NUM_THREADS=2 PYTHONPATH=src .venv/bin/python benchmarks/bench_vs_official.py \\
        --f5-src /path/F5-TTS/src --mmaudio-src /path/MMAudio --deps /tmp/offdeps \\
        --json benchmarks/results/bench_vs_official.json

Network figures (one JSON line each, ``official_s``, ``project_s``, ``ratio`` = official / project,
``max_abs_diff`` of the two outputs on the same weights): the official F5TTS_v1_Base DiT and MMAudio
small_16k network are built from the given source folders with random weights (std 0.02, seeded), those
weights are converted to the project layout by the project's converters (``convert.f5``,
``convert.mmaudio``), and one guided ODE step is timed for each (F5: 15 s of frames, batched CFG with
the text cache, as ``CFM.sample``; MMAudio: 8 s, ``ode_wrapper`` = two passes; the project runs its
pipeline's batched form). fp32 in both; bf16 as the official code would run it on a CPU (autocast,
weights fp32) and with its weights cast to bf16, against the project's bf16 weights; with ``--compile``
the project's bf16 step once more, compiled (``deepaudio.perf.compile_for_inference``; the official code
runs eager, as it ships), with its compile time.
End-to-end figures (project only): ``deepaudio`` TTS for 10 s of speech with a 5 s reference (EPSS 7
and NFE 32, bf16) and V2A for an 8 s video (small_16k and large_44k, bf16; first run with features,
second run with another prompt from the feature cache). ``floor_s`` is the measured FLOPs of the run's
networks (torch's FlopCounterMode) at the best matmul and attention throughput measured here in the same
run; ``time_over_floor`` = project_s / floor_s.

The official code is not a dependency: its sources come by path and its pure-Python deps from
``--deps`` (e.g. ``pip install --target DIR --no-deps x_transformers einx loguru torchdiffeq pypinyin
rjieba frozendict``). torchaudio has no build for this torch; F5's ``modules.py`` imports it at module
level only for mel code not called here, so a stand-in module is installed when it is missing. F5's
package ``__init__`` (trainer, datasets) is bypassed by registering its package folders directly. The
V2A CLIP tokenizer gets synthetic BPE merges (49408 ids) since no merges file ships: the text tower's
cost does not depend on which ids it sees.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import types
from pathlib import Path

import torch

from deepaudio.perf import compile_for_inference, tune_allocator

F5_V1 = dict(dim=1024, depth=22, heads=16, ff_mult=2, text_dim=512, text_mask_padding=True, qk_norm=None,
             conv_layers=4, pe_attn_head=None, mel_dim=100, text_num_embeds=2545)
MM_SHAPES = dict(latent=250, clip=64, sync=192, text=77)


def _emit(rows: list, **row) -> None:
    row = {k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}
    rows.append(row)
    print(json.dumps(row), flush=True)


def _best(fn, repeat: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def _randomize(module: torch.nn.Module, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            if p.is_floating_point():
                p.copy_(torch.randn(p.shape, generator=g) * 0.02 + (1.0 if p.ndim == 1 and "weight" in name else 0.0))


# ------------------------------------------------------------------------------------- official imports
def _official_path(f5_src: Path, mm_src: Path, deps: Path | None) -> None:
    for p in (deps, mm_src, f5_src):
        if p is not None:
            sys.path.insert(0, str(p))
    try:
        import torchaudio  # noqa: F401
    except ImportError:
        sys.modules["torchaudio"] = types.ModuleType("torchaudio")  # mel code only; not called here
    for pkg in ("f5_tts", "f5_tts/model", "f5_tts/model/backbones"):  # skip the heavy package __init__s
        mod = types.ModuleType(pkg.replace("/", "."))
        mod.__path__ = [str(f5_src / pkg)]
        sys.modules[mod.__name__] = mod


# ------------------------------------------------------------------------------------------------ peaks
def _peaks() -> dict:
    """Best bf16/fp32 matmul and bf16 attention throughput here (TFLOP/s), for the floors."""
    out = {}
    for name, dt in (("bf16", torch.bfloat16), ("fp32", torch.float32)):
        a, b = torch.randn(2048, 4096, dtype=dt), torch.randn(4096, 4096, dtype=dt)
        out[f"mm_{name}"] = 2 * 2048 * 4096 * 4096 / _best(lambda a=a, b=b: a @ b, 3) / 1e12
        q = torch.randn(2, 16, 1406, 64, dtype=dt)
        attn = lambda q=q: torch.nn.functional.scaled_dot_product_attention(q, q, q)  # noqa: E731
        out[f"attn_{name}"] = 4 * 2 * 16 * 1406 ** 2 * 64 / _best(attn, 3) / 1e12
    return out


def _flops(fn) -> tuple[float, float]:
    """(matmul/conv FLOPs, attention FLOPs) of one call."""
    from torch.utils.flop_counter import FlopCounterMode

    def sdpa_cpu(q, k, v, *args, out_shape=None, **kwargs) -> int:  # not counted by torch on CPU
        return 4 * q[0] * q[1] * q[2] * k[2] * q[3]

    cpu_attn = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu
    with FlopCounterMode(display=False, custom_mapping={cpu_attn: sdpa_cpu}) as counter:
        fn()
    attn = mm = 0
    for op, n in counter.get_flop_counts()["Global"].items():
        if "attention" in str(op):
            attn += n
        else:
            mm += n
    return float(mm), float(attn)


def _floor(flops: tuple[float, float], peaks: dict, dt: str = "bf16") -> float:
    return flops[0] / (peaks[f"mm_{dt}"] * 1e12) + flops[1] / (peaks[f"attn_{dt}"] * 1e12)


# ------------------------------------------------------------------------------------------ F5 network
def _compiled_figure(rows: list, figure: str, make_step, ref: torch.Tensor, official_s: float, repeat: int,
                     floor: float, **extra) -> None:
    """The project's bf16 step again, compiled (``--compile``): compile time apart, error against fp32."""
    start = time.perf_counter()
    step = make_step()
    step()  # the first call compiles: compile_s is the time to a first result (one or two steps included)
    compile_s = time.perf_counter() - start
    t = _best(step, repeat)
    _emit(rows, figure=figure, official_s=official_s, project_s=t, ratio=official_s / t, compile_s=compile_s,
          max_abs_diff_vs_fp32=float((step() - ref).abs().max()), floor_s=floor, time_over_floor=t / floor, **extra)


def bench_f5(rows: list, peaks: dict, repeat: int, seconds: float, compiled: bool = False) -> None:
    from f5_tts.model.backbones.dit import DiT as OfficialDiT

    from deepaudio.convert.f5 import official_to_dit_state
    from deepaudio.models.tts.config import TTS_PRESETS
    from deepaudio.models.tts.dit import DiT

    off = OfficialDiT(**F5_V1).eval()
    _randomize(off, 0)
    ours = DiT(TTS_PRESETS.get("F5TTS_v1_Base"))
    ours.load_state_dict(official_to_dit_state(off.state_dict()), strict=True)
    ours.eval()
    n, nc = round(seconds * 93.75), round(seconds / 3 * 93.75)
    g = torch.Generator().manual_seed(1)
    x, cond = torch.randn(1, n, 100, generator=g), torch.randn(1, n, 100, generator=g)
    cond[:, nc:] = 0
    text = torch.randint(0, 2544, (1, 160), generator=g)
    t = torch.tensor([0.3])

    def official_step(model, autocast):
        # as CFM.sample: inputs in the weights' dtype, the first step fills the text cache
        model.clear_cache()
        dt = next(model.parameters()).dtype
        xd, cd, td = x.to(dt), cond.to(dt), t.to(dt)
        def run():
            with torch.autocast("cpu", torch.bfloat16, enabled=autocast):
                return model(x=xd, cond=cd, text=text, time=td, cfg_infer=True, cache=True).float()

        run()
        return run

    def project_step(model):
        # the sampler's per-step call: bf16 state in, text embedding cached across steps
        dt, cache = next(model.parameters()).dtype, {}
        c = cond.to(dt)
        run = lambda: model(x.to(dt), c, text, t, cfg_infer=True, cache=cache).float()  # noqa: E731
        run()
        return run

    with torch.inference_mode():
        ref = official_step(off, False)()
        got = project_step(ours)()
        diff = float((ref - got).abs().max())
        print(f"# F5 output scale {float(ref.abs().max()):.3g}", file=sys.stderr)
        f_off = official_step(off, False)
        t_off = _best(f_off, repeat)
        t_our = _best(project_step(ours), repeat)
        flops = _flops(project_step(ours))
        _emit(rows, figure="f5_v1_base_cfg_step_fp32", frames=n, official_s=t_off, project_s=t_our,
              ratio=t_off / t_our, max_abs_diff=diff, floor_s=_floor(flops, peaks, "fp32"),
              time_over_floor=t_our / _floor(flops, peaks, "fp32"))
        t_auto = _best(official_step(off, True), repeat)
        off_bf = off.to(torch.bfloat16)
        t_offbf = _best(official_step(off_bf, False), repeat)
        ours_bf = ours.to(torch.bfloat16)
        t_our = _best(project_step(ours_bf), repeat)
        diff_bf = float((project_step(ours_bf)() - ref).abs().max())
        floor = _floor(flops, peaks, "bf16")
        _emit(rows, figure="f5_v1_base_cfg_step_bf16", frames=n, official_s=min(t_auto, t_offbf),
              official_autocast_s=t_auto, official_bf16_weights_s=t_offbf, project_s=t_our,
              ratio=min(t_auto, t_offbf) / t_our, max_abs_diff_vs_fp32=diff_bf, floor_s=floor,
              time_over_floor=t_our / floor)
        if compiled:
            _compiled_figure(rows, "f5_v1_base_cfg_step_bf16_compiled", lambda: project_step(compile_for_inference(
                ours_bf)), ref, min(t_auto, t_offbf), repeat, floor, frames=n)


# -------------------------------------------------------------------------------------- MMAudio network
def bench_mmaudio(rows: list, peaks: dict, repeat: int, compiled: bool = False) -> None:
    from mmaudio.model.networks import get_my_mmaudio

    from deepaudio.convert.mmaudio import network_from_official
    from deepaudio.models.v2a.config import MMAUDIO_PRESETS
    from deepaudio.models.v2a.sampling import guided_flow

    off = get_my_mmaudio("small_16k").eval()
    _randomize(off, 2)
    with torch.no_grad():
        off.latent_mean.zero_()
        off.latent_std.fill_(1.0)
    ours = network_from_official(off.state_dict(), MMAUDIO_PRESETS.get("small_16k")).eval()
    g = torch.Generator().manual_seed(3)
    feats = [torch.randn(1, MM_SHAPES[k], d, generator=g) for k, d in (("clip", 1024), ("sync", 768), ("text", 1024))]
    x = torch.randn(1, MM_SHAPES["latent"], 20, generator=g)
    t = torch.tensor(0.4)

    def official_step(model, dt, autocast=False):
        def run():  # conditions once per clip, as MMAudio's generate does
            with torch.autocast("cpu", torch.bfloat16, enabled=autocast):
                return model.ode_wrapper(t, x.to(dt), c, e, 4.5).float()

        with torch.autocast("cpu", torch.bfloat16, enabled=autocast):
            c = model.preprocess_conditions(*(f.to(dt) for f in feats))
            e = model.get_empty_conditions(1)
        return run

    def project_step(model, dt):
        c = model.preprocess_conditions(*(f.to(dt) for f in feats))
        f = guided_flow(model, c, model.get_empty_conditions(1), 4.5, batched=True)
        return lambda: f(t.to(dt), x.to(dt)).float()

    with torch.inference_mode():
        ref = official_step(off, torch.float32)()
        diff = float((project_step(ours, torch.float32)() - ref).abs().max())
        t_off = _best(official_step(off, torch.float32), repeat)
        t_our = _best(project_step(ours, torch.float32), repeat)
        flops = _flops(project_step(ours, torch.float32))
        _emit(rows, figure="mmaudio_small_16k_cfg_step_fp32", official_s=t_off, project_s=t_our, ratio=t_off / t_our,
              max_abs_diff=diff, floor_s=_floor(flops, peaks, "fp32"),
              time_over_floor=t_our / _floor(flops, peaks, "fp32"))
        t_auto = _best(official_step(off, torch.float32, True), repeat)
        off_bf, ours_bf = off.to(torch.bfloat16), ours.to(torch.bfloat16)
        t_offbf = _best(official_step(off_bf, torch.bfloat16), repeat)
        t_our = _best(project_step(ours_bf, torch.bfloat16), repeat)
        diff_bf = float((project_step(ours_bf, torch.bfloat16)() - ref).abs().max())
        floor = _floor(flops, peaks, "bf16")
        _emit(rows, figure="mmaudio_small_16k_cfg_step_bf16", official_s=min(t_auto, t_offbf),
              official_autocast_s=t_auto, official_bf16_weights_s=t_offbf, project_s=t_our,
              ratio=min(t_auto, t_offbf) / t_our,
              max_abs_diff_vs_fp32=diff_bf, floor_s=floor, time_over_floor=t_our / floor)
        if compiled:
            _compiled_figure(rows, "mmaudio_small_16k_cfg_step_bf16_compiled", lambda: project_step(
                compile_for_inference(ours_bf, ("predict_flow",)), torch.bfloat16), ref, min(t_auto, t_offbf),
                repeat, floor)


_MALLOC_PROBE = """
import time, torch
from deepaudio.perf import compile_for_inference, tune_allocator
from deepaudio.models.encoders.clip import CLIP_PRESETS, OpenCLIP
from deepaudio.perf import skip_init
tune_allocator()
with skip_init():
    clip = OpenCLIP(CLIP_PRESETS.get("dfn5b_vit_h_14_384")).to(torch.bfloat16).eval()
with torch.no_grad():
    for p in clip.parameters():
        p.normal_(0, 0.02)
    x = torch.randn(4, 3, 384, 384, dtype=torch.bfloat16)
    clip.encode_image(x[:1])
    t0 = time.perf_counter()
    clip.encode_image(x)
    print((time.perf_counter() - t0) / 4)
"""


def bench_malloc(rows: list) -> None:
    """CLIP ViT-H/14 bf16 seconds per frame (batch 4) with glibc's defaults and with perf.tune_allocator."""
    import os
    import subprocess

    out = {}
    for mode in ("system", "tuned"):
        env = {**os.environ, "DEEPAUDIO_MALLOC": mode}
        res = subprocess.run([sys.executable, "-c", _MALLOC_PROBE], env=env, capture_output=True, text=True,
                             check=True)
        out[mode] = float(res.stdout.strip().splitlines()[-1])
    _emit(rows, figure="clip_bf16_s_per_frame_allocator", system_malloc_s=out["system"], project_s=out["tuned"],
          ratio=out["system"] / out["tuned"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--f5-src", type=Path, required=True, help="the official F5-TTS 'src' folder")
    ap.add_argument("--mmaudio-src", type=Path, required=True, help="the official MMAudio repository folder")
    ap.add_argument("--deps", type=Path, help="folder with the official code's pure-Python dependencies")
    ap.add_argument("--figures", default="f5,mmaudio,malloc,tts,v2a_small,v2a_large")
    ap.add_argument("--repeat", type=int, default=2, help="timed repeats per network figure (best kept)")
    ap.add_argument("--seconds", type=float, default=15.0, help="F5 sequence length (seconds of frames)")
    ap.add_argument("--compile", action="store_true", help="also time the bf16 network steps compiled "
                    "(deepaudio.perf.compile_for_inference, the --compile option)")
    ap.add_argument("--json", type=Path, help="also write all rows here")
    args = ap.parse_args()
    tune_allocator()
    _official_path(args.f5_src.resolve(), args.mmaudio_src.resolve(), args.deps)
    figures = set(args.figures.split(","))
    rows: list = []
    peaks = _peaks()
    _emit(rows, figure="peaks_tflops", threads=torch.get_num_threads(), **peaks)
    if "f5" in figures:
        bench_f5(rows, peaks, args.repeat, args.seconds, args.compile)
    if "mmaudio" in figures:
        bench_mmaudio(rows, peaks, args.repeat, args.compile)
    if "malloc" in figures:
        bench_malloc(rows)
    if figures & {"tts", "v2a_small", "v2a_large"}:
        from bench_e2e_speed import bench_tts, bench_v2a

        if "tts" in figures:
            bench_tts(rows, peaks, _emit, _floor, _flops, args.f5_src / "f5_tts/infer/examples/vocab.txt")
        presets = [p for p in ("small_16k", "large_44k") if f"v2a_{p.split('_')[0]}" in figures]
        if presets:
            bench_v2a(rows, peaks, _emit, _floor, _flops, presets)
    if args.json:
        from deepaudio.io.atomic import atomic_path

        with atomic_path(args.json) as tmp:
            tmp.write_text(json.dumps({"rows": rows}, indent=1))


if __name__ == "__main__":
    main()
