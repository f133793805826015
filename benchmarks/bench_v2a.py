"""Speed of the V2A networks for one 8 s clip with random weights (no checkpoint needed).

For each network preset: condition projection (once per clip), one guided Euler step (two forwards,
conditional + unconditional, batch 1, as MMAudio samples), the 25-step estimate, and the VAE decode of
the resulting latents, in fp32 and bf16. Few steps are timed and extrapolated linearly (every step costs
the same).

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_v2a.py --presets small_16k large_44k --steps 2
"""

from __future__ import annotations

import argparse
import gc
import json
import time

import torch

from deepaudio.config import DTYPES
from deepaudio.models.v2a.config import MMAUDIO_PRESETS, VAE_PRESETS, VAEConfig
from deepaudio.models.v2a.mmdit import MMAudioNet
from deepaudio.models.v2a.sampling import DEFAULT_STEPS, guided_flow
from deepaudio.models.v2a.vae import MelVAE


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(fn, device: torch.device) -> tuple[float, object]:
    _sync(device)
    t0 = time.perf_counter()
    out = fn()
    _sync(device)
    return time.perf_counter() - t0, out


@torch.inference_mode()
def _bench_network(preset: str, dtype: torch.dtype, steps: int, device: torch.device, warmup: bool):
    cfg = MMAUDIO_PRESETS.get(preset)
    torch.manual_seed(0)
    net = MMAudioNet(cfg).to(device=device, dtype=dtype).eval()
    net.latent_mean.zero_()
    net.latent_std.fill_(1.0)
    g = torch.Generator().manual_seed(0)

    def rnd(*shape):
        return torch.randn(*shape, generator=g).to(device, dtype)

    clip, sync = rnd(1, cfg.clip_seq_len, cfg.clip_dim), rnd(1, cfg.sync_seq_len, cfg.sync_dim)
    text = rnd(1, cfg.text_seq_len, cfg.text_dim)
    t_cond, cond = _timed(lambda: net.preprocess_conditions(clip, sync, text), device)
    f = guided_flow(net, cond, net.get_empty_conditions(1), cfg_strength=4.5)
    x = rnd(1, cfg.latent_seq_len, cfg.latent_dim)
    if warmup:
        f(torch.tensor(0.0), x)
    times = []
    for k in range(steps):
        dt, v = _timed(lambda k=k, x=x: f(torch.tensor(k / DEFAULT_STEPS), x), device)
        x = x + v / DEFAULT_STEPS
        times.append(dt)
    return cfg, t_cond, sum(times) / len(times), net.unnormalize(x)


@torch.inference_mode()
def _bench_vae(latents: torch.Tensor, device: torch.device):
    vae_cfg = {20: VAE_PRESETS.get("16k"), 40: VAE_PRESETS.get("44k")}.get(
        latents.shape[-1], VAEConfig(embed_dim=latents.shape[-1], hidden_dim=8))
    vae = MelVAE(vae_cfg).to(device=device, dtype=latents.dtype)
    return _timed(lambda: vae.eval().decode_latents(latents), device)


def bench_preset(preset: str, dtype_name: str, steps: int, device: torch.device, warmup: bool) -> dict:
    cfg, t_cond, step, latents = _bench_network(preset, DTYPES[dtype_name], steps, device, warmup)
    gc.collect()
    t_vae, mel = _bench_vae(latents, device)
    gc.collect()
    return {"preset": preset, "dtype": dtype_name, "device": str(device), "threads": torch.get_num_threads(),
            "latent_frames": cfg.latent_seq_len, "conditions_s": round(t_cond, 3), "step_s": round(step, 3),
            "steps_timed": steps, f"{DEFAULT_STEPS}_steps_s": round(t_cond + DEFAULT_STEPS * step, 2),
            "vae_decode_s": round(t_vae, 3), "mel_shape": list(mel.shape)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presets", nargs="+", default=["small_16k", "large_44k"], choices=MMAUDIO_PRESETS.names())
    ap.add_argument("--dtypes", nargs="+", default=["fp32", "bf16"], choices=["fp32", "bf16", "fp16"])
    ap.add_argument("--steps", type=int, default=2, help="Euler steps actually timed (then extrapolated)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--warmup", action="store_true", help="one untimed step first")
    args = ap.parse_args()
    device = torch.device(args.device)
    for preset in args.presets:
        for dt in args.dtypes:
            print(json.dumps(bench_preset(preset, dt, args.steps, device, args.warmup)), flush=True)


if __name__ == "__main__":
    main()
