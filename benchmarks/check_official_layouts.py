"""Run the user commands on full-size random weights in the official layouts (every official-weight path).

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/check_official_layouts.py --work /tmp/layouts \
        --out benchmarks/results/official_layouts.json

No official weights are available offline, so every file is built here with random weights in the
released key layout and at the released size:
- BS-RoFormer ``vocals_317`` (dim 512, depth 12, stereo 44.1 kHz) in the published layout (feed-forward
  under ``.net``, bs-roformer >= 0.0.2 / music-source-separation) and in ours; both load, the layout is
  named, the outputs are compared; ``deepaudio think --separator`` runs on the published file.
- F5TTS_v1_Base from the parity set's ``manifests/f5tts_v1_base_dit.json`` (364 tensors, EMA keys + step +
  initted as in model_1250000.safetensors): ``convert f5tts`` without a preset (refused), with one, and a
  pre-v1 .pt carrying the legacy mel buffers (decided Base).
- BigVGAN-v2 24 kHz 100 bands as released (config.json + bigvgan_generator.pt, weight_g/weight_v) as the
  ``tts --vocoder``: once for a Vocos-mel TTS (the mismatch line), once for ``--set mel=bigvgan``.
- ``v2a --prompt ... --duration 8`` with the bundled default (text-to-audio, no video).
Each command's exit code, run time and its last stderr lines go to the JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
# The key/shape manifests come with the reference vectors (DEEPAUDIO_PARITY_DIR, as for the tests).
PARITY = Path(os.environ.get("DEEPAUDIO_PARITY_DIR") or ROOT.parent / "shared" / "parity")


def cli(*args: str, results: list, name: str) -> int:
    cmd = [sys.executable, "-m", "deepaudio.cli.main", *map(str, args)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    lines = [x for x in (proc.stderr + proc.stdout).splitlines() if x.strip() and "%|" not in x]
    results.append({"name": name, "command": "deepaudio " + " ".join(map(str, args)), "rc": proc.returncode,
                    "seconds": round(time.perf_counter() - t0, 1), "output": lines[-4:]})
    print(f"[{proc.returncode}] {name}: {lines[-1] if lines else ''}", flush=True)
    return proc.returncode


def bsroformer(work: Path, results: list) -> None:
    from deepaudio.io.audio import save_audio
    from deepaudio.io.testmedia import moving_square_video
    from deepaudio.models.separation.bsroformer import BSROFORMER_PRESETS, BSRoFormer
    from deepaudio.think.separator import load_separator

    torch.manual_seed(0)
    model = BSRoFormer(BSROFORMER_PRESETS.get("vocals_317"))
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.02 * torch.randn_like(p))
    ours = {k: v for k, v in model.state_dict().items()}
    ff = re.compile(r"^(layers\.\d+\.\d+\.layers\.\d+\.1\.)(\d+\.)")  # the feed-forward's Sequential
    published = {ff.sub(r"\1net.\2", k): v for k, v in ours.items()}
    torch.save(ours, work / "ours.ckpt")
    torch.save({"state_dict": {f"model.{k}": v for k, v in published.items()}}, work / "published.ckpt")
    a, b = load_separator(work / "ours.ckpt"), load_separator(work / "published.ckpt")
    x = 0.1 * torch.randn(1, 2, 2 * 44100)
    with torch.no_grad():
        diff = float((a(x) - b(x)).abs().max())
    results.append({"name": "bsroformer layouts", "ours": a.checkpoint_layout, "published": b.checkpoint_layout,
                    "params": sum(p.numel() for p in model.parameters()), "max_abs_diff": diff})
    print(f"bs-roformer: {b.checkpoint_layout}; max |ours - published| = {diff:.3g}", flush=True)
    video = moving_square_video(work / "clip.mp4", duration=2.0, width=64, height=48).path
    from deepaudio.eval import samples

    speech, sr = samples.flite("Welcome back to the show, here is the news.", "rms")  # off screen: voice-over
    save_audio(work / "track.wav", speech.repeat(2, 1), sr)
    cli("think", video, "--audio", work / "track.wav", "--separator", work / "published.ckpt", "-o",
        work / "clean.wav", "--device", "cpu", results=results, name="think with the published BS-RoFormer")


def f5_files(work: Path) -> tuple[Path, Path, Path]:
    manifest = PARITY / "manifests" / "f5tts_v1_base_dit.json"
    if not manifest.is_file():
        sys.exit(f"no F5-TTS manifest at {manifest}: set DEEPAUDIO_PARITY_DIR to the reference-vector folder")
    shapes = json.loads(manifest.read_text())["state_dict"]
    gen = torch.Generator().manual_seed(0)
    state = {f"ema_model.transformer.{k}": (0.02 * torch.randn(s, generator=gen)).half() for k, s in shapes.items()}
    state["ema_model.transformer.rotary_embed.inv_freq"] = 1.0 / 10000 ** (torch.arange(0, 64, 2).float() / 64)
    from safetensors.torch import save_file

    folder = work / "F5TTS_v1_Base"
    folder.mkdir(exist_ok=True)
    v1 = folder / "model_1250000.safetensors"
    save_file({**state, "step": torch.tensor(1250000), "initted": torch.tensor(True)}, str(v1))
    legacy = dict(state, **{"ema_model.mel_spec.mel_stft.spectrogram.window": torch.hann_window(1024),
                            "ema_model.mel_spec.mel_stft.mel_scale.fb": torch.zeros(513, 100)})
    base = work / "F5TTS_Base" / "model_1200000.pt"
    base.parent.mkdir(exist_ok=True)
    torch.save({"ema_model_state_dict": legacy}, base)
    vocab = work / "vocab.txt"
    tokens = [" "] + list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.,'!?")
    tokens += [f"t{i}" for i in range(2545 - len(tokens))]
    vocab.write_text("\n".join(tokens) + "\n", encoding="utf-8")
    return v1, base, vocab


def bigvgan_24k(work: Path) -> Path:
    from deepaudio.models.vocoders.bigvgan import BIGVGAN_PRESETS, BigVGAN

    cfg = BIGVGAN_PRESETS.get("bigvgan_v2_24khz_100band_256x")
    torch.manual_seed(0)
    state = BigVGAN(cfg, weight_norm=True).state_dict()
    state = {k.replace(".parametrizations.weight.original0", ".weight_g")
             .replace(".parametrizations.weight.original1", ".weight_v"): v for k, v in state.items()}
    folder = work / "bigvgan_v2_24khz_100band_256x"
    folder.mkdir(exist_ok=True)
    torch.save({"generator": state}, folder / "bigvgan_generator.pt")
    doc = {k: list(v) if isinstance(v, tuple) else v for k, v in vars(cfg).items() if k != "sample_rate"}
    doc.update(sampling_rate=24000, hop_size=256, num_freq=1025)
    (folder / "config.json").write_text(json.dumps(doc, indent=1))
    return folder


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--work", type=Path, required=True, help="scratch folder (about 2 GB)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "official_layouts.json")
    ap.add_argument("--skip", nargs="*", default=[], choices=["bsroformer", "f5", "v2a"])
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    results: list = []
    if "bsroformer" not in args.skip:
        bsroformer(args.work, results)
    if "f5" not in args.skip:
        from deepaudio.eval import samples
        from deepaudio.io.audio import save_audio

        v1, base, vocab = f5_files(args.work)
        w = args.work
        cli("convert", "f5tts", v1, vocab, "-o", w / "f5_auto", results=results, name="f5 v1, no preset")
        cli("convert", "f5tts", v1, vocab, "-o", w / "f5_v1", "--set", "preset=F5TTS_v1_Base", "--set", "dtype=fp16",
            results=results, name="f5 v1, preset given")
        cli("convert", "f5tts", base, vocab, "-o", w / "f5_base", "--set", "dtype=fp16", results=results,
            name="f5 pre-v1 .pt (legacy mel buffers), no preset")
        cli("convert", "f5tts", v1, vocab, "-o", w / "f5_v1_bigvgan", "--set", "preset=F5TTS_v1_Base", "--set",
            "dtype=fp16", "--set", "mel=bigvgan", results=results, name="f5 v1 for the BigVGAN mel")
        voc = bigvgan_24k(w)
        wav, sr = samples.flite("The shop opens at ten.", "slt")
        save_audio(w / "ref.wav", wav, sr)
        for ckpt in ("f5_v1", "f5_v1_bigvgan"):
            cli("tts", "--ckpt", w / ckpt, "--vocoder", voc, "--text", "hello there.", "--ref-audio", w / "ref.wav",
                "--ref-text", "The shop opens at ten.", "--nfe", "2", "--duration", "0.5", "--seed", "0", "-o",
                w / f"{ckpt}.wav", "--device", "cpu", results=results, name=f"tts {ckpt} + BigVGAN-v2 24 kHz")
    if "v2a" not in args.skip:
        cli("v2a", "--prompt", "rain on a tin roof", "--duration", "8", "-o", args.work / "rain.wav", "--device", "cpu",
            results=results, name="text-to-audio, bundled default")
    if args.out.is_file():  # a partial run (--skip) replaces only its own entries
        names = {r["name"] for r in results}
        results = [r for r in json.loads(args.out.read_text()) if r["name"] not in names] + results
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
