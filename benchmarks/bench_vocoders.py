"""Decode time of the full-size vocoders for N seconds of audio (random weights; speed does not depend on them).

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_vocoders.py --seconds 10
    .venv/bin/python benchmarks/bench_vocoders.py --models vocos bigvgan_v2 --device cuda --repeat 5

Reports wall time per decode (median of ``--repeat`` after one warm-up) and the real-time factor
(audio seconds per compute second). Weights are random: timing needs shapes only, and no official
weights are available offline.

Measured 2026-11-22 on the shared 2-core development CPU (2 threads, fp32, load average 4-9 from other
jobs, so treat as upper bounds), 10 s of audio:
    vocos (mel_24khz, 13.5M)                 2.75 s median (min 2.37 s), 3.6x real time
    bigvgan_v2 (44khz_128band_512x, 122.2M)  372 s (one timed run), 0.03x real time
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from deepaudio.models.vocoders.bigvgan import BIGVGAN_PRESETS, BigVGAN
from deepaudio.models.vocoders.vocos import VOCOS_PRESETS, Vocos

MODELS = {
    "vocos": lambda: Vocos(VOCOS_PRESETS.get("mel_24khz")),
    "bigvgan_v2": lambda: BigVGAN(BIGVGAN_PRESETS.get("bigvgan_v2_44khz_128band_512x")),
    "bigvgan_16k": lambda: BigVGAN(BIGVGAN_PRESETS.get("mmaudio_16k")),
}


def _mel_input(model: torch.nn.Module, seconds: float) -> torch.Tensor:
    sr, hop = model.sample_rate, model.hop_length
    frames = int(round(seconds * sr / hop))
    if isinstance(model, Vocos):
        frames += 1  # centred ISTFT gives (T - 1) * hop samples
        n_mels = model.config.n_mels
    else:
        n_mels = model.config.num_mels
    return torch.randn(1, n_mels, frames) - 5.0  # a log-mel-like level


def bench(name: str, seconds: float, repeat: int, device: str, dtype: torch.dtype) -> dict:
    torch.manual_seed(0)
    model = MODELS[name]().eval().to(device=device, dtype=dtype)
    mel = _mel_input(model, seconds).to(device=device, dtype=dtype)
    times = []
    with torch.inference_mode():
        for i in range(repeat + 1):
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            wav = model.decode(mel)
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            if i:  # the first call warms up kernels and allocators
                times.append(time.perf_counter() - t0)
    audio_s = wav.shape[-1] / model.sample_rate
    med = statistics.median(times)
    return {"model": name, "device": device, "dtype": str(dtype).replace("torch.", ""), "threads":
            torch.get_num_threads(), "params_M": round(sum(p.numel() for p in model.parameters()) / 1e6, 2),
            "mel_frames": mel.shape[-1], "audio_s": round(audio_s, 3), "decode_s": round(med, 3),
            "min_s": round(min(times), 3), "realtime_factor": round(audio_s / med, 2)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=["vocos", "bigvgan_v2"], choices=sorted(MODELS))
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--device", default="cpu")
    p.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"])
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    for name in args.models:
        print(json.dumps(bench(name, args.seconds, args.repeat, args.device, getattr(torch, args.dtype))), flush=True)


if __name__ == "__main__":
    main()
