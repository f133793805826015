"""Measure a V2A pipeline on held-out toy-world clips (floors: median onset error <= 40 ms, >= 90% matched).

- Impacts (bounce clips): each audible contact recorded in ``meta.json`` is matched to the nearest
  spectral-flux onset of the generated audio within +-250 ms; we report the median |offset| in ms and
  the fraction of contacts matched. The same on the true ambience gives the measurement's floor.
  The median alone flatters a model that fills the clip with onsets, so we also report the onsets per
  second and their precision (the fraction of generated onsets within +-50 ms of an audible contact), each
  beside the true track and beside chance (contacts mirrored in time).
- Does the timing follow the picture? ``--shift S`` (default 0.5 s) also generates each bounce clip from
  its video delayed by S s (first frame held), with the same noise seed, and reports the onset precision
  against the delayed contacts and against the original ones. A model that times sounds from the
  picture scores the former as it scores the undelayed clip; one that ignores the picture scores the latter.
- Silent scenes: the fraction of 2048/512 frames (16 kHz) under -50 dB (floor: >= 90%).
- ``--pictures DIR``: generated vs true spectrogram with the contact times, for the first clip of each kind.

    python benchmarks/bench_default_v2a.py --world data/toyworld [--model DIR] [--steps 25] [--n 6] \
        [--json out.json] [--pictures DIR]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from deepaudio.dsp.energy import silent_fraction
from deepaudio.eval.sync import pick_peaks, spectral_flux
from deepaudio.io.audio import load_audio


def onsets_of(wav: torch.Tensor, sr: int) -> np.ndarray:
    """Spectral-flux onset times (s) of one track, computed once and shared by every measure below."""
    flux, times = spectral_flux(wav, sr)
    return pick_peaks(flux, times, min_gap=0.03, k=1.0)


def impact_offsets(onsets: np.ndarray, contacts: list[float], window: float = 0.25) -> list[float | None]:
    out = []
    for t in contacts:
        if onsets.size == 0:
            out.append(None)
            continue
        j = int(np.argmin(np.abs(onsets - t)))
        d = float(onsets[j] - t)
        out.append(d if abs(d) <= window else None)
    return out


def onset_density(onsets: np.ndarray, contacts: list[float], seconds: float,
                  tol: float = 0.05) -> tuple[int, int, float]:
    """(onsets, onsets within ``tol`` s of a contact, seconds) of one clip."""
    c = np.asarray(contacts, dtype=np.float64)
    near = int(sum(1 for t in onsets if c.size and np.min(np.abs(c - t)) <= tol))
    return int(onsets.size), near, seconds


def density_summary(rows: list[tuple[int, int, float]]) -> dict:
    onsets, near, secs = (sum(r[i] for r in rows) for i in range(3))
    return {"onsets_per_s": onsets / secs if secs else None, "precision_50ms": near / onsets if onsets else None}


def delayed_video(src: Path, out: Path, delay: float, duration: float) -> Path:
    """``src`` delayed by ``delay`` s (its first frame held), cut to ``duration``, without audio."""
    subprocess.run(["ffmpeg", "-y", "-loglevel", "error", "-i", str(src), "-vf",
                    f"tpad=start_duration={delay}:start_mode=clone", "-t", f"{duration}", "-an", str(out)], check=True)
    return out


def summarize(offsets: list[float | None]) -> dict:
    hit = [abs(d) * 1000 for d in offsets if d is not None]
    return {"contacts": len(offsets), "matched": len(hit), "recall": len(hit) / max(1, len(offsets)),
            "median_abs_ms": float(np.median(hit)) if hit else None}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--world", type=Path, required=True, help="toy world folder (deepaudio toyworld --out)")
    ap.add_argument("--model", type=Path, help="V2A pipeline folder (default: the bundled default)")
    ap.add_argument("--split", default="test")
    ap.add_argument("--n", type=int, default=6, help="clips per kind")
    ap.add_argument("--steps", type=int, default=25)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cfg", type=float, default=None, help="guidance strength (default: the pipeline's)")
    ap.add_argument("--shift", type=float, default=0.5, help="delay (s) of the picture-following test (0: off)")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--pictures", type=Path, help="folder for spectrogram pictures of the first clip of each kind")
    args = ap.parse_args()
    from deepaudio.assets import bundled_dir
    from deepaudio.pipelines.v2a import V2APipeline

    pipe = V2APipeline.from_pretrained(args.model or bundled_dir("v2a"))
    metas = [(json.loads(p.read_text()), p.parent)
             for p in sorted((args.world / "clips" / args.split).glob("*/meta.json"))]
    gen_off, true_off, chance_off, silent_gen, silent_true, secs = [], [], [], [], [], []
    dens = {"generated": [], "true_ambience": [], "chance (mirrored contact times)": []}
    shift = {"delayed video vs delayed contacts": [], "delayed video vs original contacts": []}
    tmp = Path(tempfile.mkdtemp(prefix="bench_v2a_"))
    for kind in ("bounce", "silent"):
        for meta, folder in [m for m in metas if m[0]["kind"] == kind][: args.n]:
            t0 = time.perf_counter()
            extra = {} if args.cfg is None else {"cfg_strength": args.cfg}
            wav, sr = pipe(folder / "video.mp4", steps=args.steps, seed=args.seed, **extra)
            secs.append(time.perf_counter() - t0)
            truth, tsr = load_audio(folder / "ambience_16k.wav", sample_rate=sr, mono=True)
            if kind == "bounce":
                contacts = [c["time"] for layer in meta["layers"] for c in layer.get("contacts", ())
                            if c.get("audible")]
                gen_on, true_on, secs_clip = onsets_of(wav, sr), onsets_of(truth, sr), wav.shape[-1] / sr
                gen_off += impact_offsets(gen_on, contacts)
                # Chance level: the same audio against the contacts mirrored in time (same count and spacing).
                mirrored = [meta["duration"] - t for t in contacts]
                chance_off += impact_offsets(gen_on, mirrored)
                true_off += impact_offsets(true_on, contacts)
                dens["generated"].append(onset_density(gen_on, contacts, secs_clip))
                dens["true_ambience"].append(onset_density(true_on, contacts, truth.shape[-1] / sr))
                dens["chance (mirrored contact times)"].append(onset_density(gen_on, mirrored, secs_clip))
                if args.shift > 0:
                    late = delayed_video(folder / "video.mp4", tmp / f"{folder.name}.mp4", args.shift, meta["duration"])
                    wav_late, _ = pipe(late, steps=args.steps, seed=args.seed, **extra)
                    late_on = onsets_of(wav_late, sr)
                    moved = [t + args.shift for t in contacts if t + args.shift < meta["duration"]]
                    shift["delayed video vs delayed contacts"].append(onset_density(late_on, moved, secs_clip))
                    shift["delayed video vs original contacts"].append(onset_density(late_on, contacts, secs_clip))
            else:
                silent_gen.append(silent_fraction(wav, sr))
                silent_true.append(silent_fraction(truth, sr))
            first = len(silent_gen) == 1 if kind == "silent" else len(dens["generated"]) == 1
            if args.pictures is not None and first:
                from deepaudio.viz import compare_spectrograms

                events = contacts if kind == "bounce" else []
                png = compare_spectrograms([("generated", wav, sr), ("true ambience", truth, tsr)],
                                           args.pictures / f"v2a_{kind}_{folder.name}.png",
                                           title=f"{kind} clip {folder.name}: generated vs true (lines: audible "
                                                 f"contacts); model {args.model or 'bundled'}", events=events)
                print(f"wrote {png}", file=sys.stderr)
            print(f"{kind} {folder.name}: {secs[-1]:.1f} s", file=sys.stderr)
    report = {"model": str(args.model or "bundled default"), "steps": args.steps, "seed": args.seed, "cfg": args.cfg,
              "impacts_generated": summarize(gen_off), "impacts_true_ambience": summarize(true_off),
              "impacts_chance (mirrored contact times)": summarize(chance_off),
              "onset_density": {k: density_summary(v) for k, v in dens.items()},
              "picture_following": ({"shift_s": args.shift, **{k: density_summary(v)["precision_50ms"]
                                                               for k, v in shift.items()}} if args.shift > 0 else None),
              "silent_frames_generated": float(np.mean(silent_gen)) if silent_gen else None,
              "silent_frames_true": float(np.mean(silent_true)) if silent_true else None,
              "seconds_per_clip": float(np.mean(secs)) if secs else None}
    shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
