"""Training speed of the TTS objective (one optimizer update = forward, backward, clip, AdamW, EMA).

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_train_tts.py --presets tiny --frames 3200 --steps 5
    .venv/bin/python benchmarks/bench_train_tts.py --device cuda --presets F5TTS_Base --frames 3200

Batches are random log-mel-like tensors of ``--frames`` padded frames (4 clips) with random character ids:
the cost of a step does not depend on the values. Reports seconds per update and frames per second for
fp32 and bf16 autocast, through the same ``_update`` the training loop runs.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time

import torch

from deepaudio.models.tts.config import TTS_PRESETS
from deepaudio.models.tts.dit import DiT
from deepaudio.models.tts.objective import TTSFlowMatching
from deepaudio.train.ema import EMA, EMAConfig
from deepaudio.train.loop import TrainConfig, _update, make_accelerator
from deepaudio.train.optim import build_adamw


class RandomBatches:
    def __init__(self, frames: int, clips: int, vocab: int):
        n = frames // clips
        g = torch.Generator().manual_seed(0)
        self.batch = {"mel": torch.randn(clips, n, 100, generator=g) * 2 - 5,
                      "lens": torch.tensor([n - 7 * i for i in range(clips)]),
                      "text": torch.randint(0, vocab, (clips, n // 6), generator=g)}

    def epoch_batches(self, epoch):
        return [0]

    def load(self, key):
        return self.batch


def bench(preset: str, precision: str, frames: int, steps: int, device: str) -> dict:
    cfg = TrainConfig(steps=steps, lr=1e-4, precision=precision, device=device)
    acc = make_accelerator(cfg)
    net = DiT(dataclasses.replace(TTS_PRESETS.get(preset), text_num_embeds=64))
    model = TTSFlowMatching(net).to(acc.device).train()
    ema = EMA(model, EMAConfig(update_after=0, update_every=1))
    opt = build_adamw(model, cfg.lr, cfg.weight_decay, cfg.betas, cfg.eps)
    wrapped, opt = acc.prepare(model, opt)
    data = RandomBatches(frames, 4, 64)
    _update(acc, wrapped, opt, data, [0], cfg.lr, cfg)  # warm-up (allocations, kernels)
    if acc.device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        _update(acc, wrapped, opt, data, [0], cfg.lr, cfg)
        ema.update(model)
    if acc.device.type == "cuda":
        torch.cuda.synchronize()
    dt = (time.perf_counter() - t0) / steps
    return {"preset": preset, "precision": precision, "frames": frames, "device": str(acc.device),
            "params_M": round(sum(p.numel() for p in net.parameters()) / 1e6, 2), "s_per_update": round(dt, 4),
            "frames_per_s": round(frames / dt, 1), "threads": torch.get_num_threads()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presets", nargs="+", default=["tiny"])
    ap.add_argument("--precisions", nargs="+", default=["fp32", "bf16"])
    ap.add_argument("--frames", type=int, default=3200)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--device", choices=("auto", "cpu"), default="auto")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()
    rows = [bench(p, prec, args.frames, args.steps, args.device) for p in args.presets for prec in args.precisions]
    for r in rows:
        print(f"{r['preset']:14} {r['precision']:5} {r['params_M']:8.2f}M  {r['s_per_update']:.4f} s/update  "
              f"{r['frames_per_s']:9.1f} frames/s  ({r['device']}, {r['threads']} threads)")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=2)


if __name__ == "__main__":
    main()
