"""Time the official V2A encoders at their real sizes (random weights): CLIP DFN5B ViT-H/14 on 384 px frames,
CLIP text on 77 tokens, Synchformer on one 16-frame 224 px segment. An 8 s window needs 64 CLIP frames,
23 Synchformer segments and one (or two, with a negative prompt) text passes.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_v2a_official.py --frames 1 --segments 1 [--device cuda]
"""

from __future__ import annotations

import argparse
import json
import time

import torch


def _timed(fn, repeat: int) -> float:
    fn()  # warm-up
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(repeat):
        fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return (time.perf_counter() - t0) / repeat


def main() -> None:
    from deepaudio.models.encoders.clip import CLIP_PRESETS, OpenCLIP
    from deepaudio.models.encoders.synchformer import SYNCHFORMER_PRESETS, Synchformer

    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=1, help="CLIP frames per call")
    ap.add_argument("--segments", type=int, default=1, help="Synchformer segments per call")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", default="float32", choices=("float32", "bfloat16", "float16"))
    args = ap.parse_args()
    dtype = getattr(torch, args.dtype)
    dev = torch.device(args.device)
    res = {"device": str(dev), "dtype": args.dtype, "threads": torch.get_num_threads()}
    with torch.no_grad():
        t0 = time.perf_counter()
        clip = OpenCLIP(CLIP_PRESETS.get("dfn5b_vit_h_14_384"), device=dev, dtype=dtype).eval()
        res["clip_build_s"] = round(time.perf_counter() - t0, 2)
        res["clip_params_M"] = round(sum(p.numel() for p in clip.parameters()) / 1e6, 2)
        x = torch.randn(args.frames, 3, 384, 384, device=dev, dtype=dtype)
        res["clip_image_s_per_frame"] = round(_timed(lambda: clip.encode_image(x, True), args.repeat) / args.frames, 3)
        tok = torch.randint(0, 49406, (1, 77), device=dev)
        res["clip_text_s"] = round(_timed(lambda: clip.encode_text_tokens(tok), args.repeat), 3)
        clip = None  # free its memory before building the Synchformer
        sync = Synchformer(SYNCHFORMER_PRESETS.get("base"), device=dev, dtype=dtype).eval()
        seg = torch.randn(1, args.segments, 16, 3, 224, 224, device=dev, dtype=dtype)
        res["sync_s_per_segment"] = round(_timed(lambda: sync(seg), args.repeat) / args.segments, 3)
    res["estimated_8s_window_s"] = round(64 * res["clip_image_s_per_frame"] + 23 * res["sync_s_per_segment"]
                                         + res["clip_text_s"], 1)
    print(json.dumps(res))


if __name__ == "__main__":
    main()
