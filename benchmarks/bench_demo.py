"""Time ``deepaudio demo`` end to end: wall and CPU seconds per step, against the 60 s budget on 2 cores.

    .venv/bin/python benchmarks/bench_demo.py                      # random weights at bundled-default sizes
    .venv/bin/python benchmarks/bench_demo.py --model PIPELINE_DIR # a real pipeline folder (the bundled default)

Without ``--model`` a random-weight folder is built at the sizes the bundled default is trained at (V2A
``tiny`` setup with its Griffin-Lim mel codec, a 6.3M-parameter energy-conditioned DiT (dim 256, depth 6)
serving TTS and V2S with Griffin-Lim, a MiniLM gate): random weights cost the same
compute as trained ones. CPU seconds are printed beside wall seconds because on a shared machine the wall
time measures the neighbours too.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import time
from pathlib import Path

import torch


def build_default_sized(root: Path) -> Path:
    from deepaudio.checkpoint import write_config
    from deepaudio.models.gate import GateConfig, MoFGate
    from deepaudio.models.tts.config import TTS_PRESETS
    from deepaudio.models.tts.dit import DiT
    from deepaudio.pipelines.tts import TTSPipeline
    from deepaudio.text.tokenizer import Tokenizer, Vocab
    from deepaudio.train.v2a import V2A_SETUPS, TinyV2AModel, export_pipeline

    vocab = [" "] + list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ',.?!-")
    torch.manual_seed(0)
    setup = V2A_SETUPS.get("tiny")
    v2a = TinyV2AModel(setup)
    with torch.no_grad():  # untrained latent statistics would scale noise into inf; trained ones are near these
        v2a.net.latent_mean.zero_()
        v2a.net.latent_std.fill_(1.0)
    export_pipeline(v2a, setup, root / "v2a", {"steps": 0})
    cfg = dataclasses.replace(TTS_PRESETS.get("tiny"), dim=256, depth=6, heads=4, dim_head=64, text_dim=128,
                              text_num_embeds=len(vocab), energy_input=True)
    TTSPipeline(DiT(cfg), Tokenizer(Vocab(vocab)), vocoder=None).save_pretrained(root / "tts")
    MoFGate(GateConfig()).save_pretrained(root / "router")
    write_config(root, "deepaudio_pipeline", {"v2a": "v2a", "tts": "tts", "v2s": "tts", "router": "router"})
    return root


def main() -> None:
    from deepaudio.pipelines.demo import DemoSettings, run_demo

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path, help="pipeline folder (default: random weights at bundled-default sizes)")
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--nfe", type=int, default=8)
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1, as deepaudio demo)")
    p.add_argument("--json", type=Path, help="also write the per-step times here")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model or build_default_sized(Path(tmp) / "model")
        start, cpu = time.perf_counter(), time.process_time()
        steps = run_demo(model, Path(tmp) / "out", DemoSettings(v2a_steps=args.steps, tts_nfe=args.nfe),
                         cache_dir=Path(tmp) / "speech", log=lambda line: None)
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    print(f"{'step':34} {'wall s':>7} {'cpu s':>7}")
    for s in steps:
        print(f"{s.title:34} {s.seconds:7.1f} {s.cpu_seconds:7.1f}")
    print(f"{'total (budget 60 s wall on 2 cores)':34} {wall:7.1f} {cpu:7.1f}")
    if args.json:
        args.json.write_text(json.dumps(dict(wall=wall, cpu=cpu, steps=[
            dict(step=s.title, wall=s.seconds, cpu=s.cpu_seconds) for s in steps]), indent=1))


if __name__ == "__main__":
    main()
