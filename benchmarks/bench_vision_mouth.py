"""Face detection rate and mouth-contour accuracy of each face backend (not part of the test run).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_vision_mouth.py [--n 30] [--backends dlib,toon]
        [--photo astronaut.png --photo-mouth 222,146 --photo-mouth-width 48] [--json out.json]

Toy world: ``--n`` clips of the kinds talk, dub, dialogue and voiceover (seed 0, cached speech). For each
backend and clip: the share of frames with a face, the correlation between the measured opening and the
drawn one (sum over talking faces, per video frame), and the correlation between ``track_to_contour``
(93.75 frames/s) and the energy contour of the clip's speech track, the paper's timing signal. Voice-over
clips (a still face or no face) should be refused with an InputError.

Photo (optional): a face photograph whose mouth is opened by a jaw-drop warp below the lip line (the
gap filled with a dark mouth interior) following a speech-like track, 4 s at 25 fps. Give the mouth
centre in pixels; the picture is cropped to 256x256 around it. No photo ships with deepaudio;
``skimage/data/astronaut.png`` (a public-domain NASA portrait) in the scikit-image wheel is one.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from deepaudio.dsp.energy import energy_contour
from deepaudio.errors import InputError
from deepaudio.perception.faces import available_backends
from deepaudio.perception.mouth import mouth_track, track_to_contour

FPS, SR = 25, 24000


def _corr(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.corrcoef(a, b)[0, 1]) if a.std() > 0 and b.std() > 0 else float("nan")


def measure(frames: np.ndarray, truth: np.ndarray | None, speech: np.ndarray | None, backend: str) -> dict:
    t0 = time.perf_counter()
    track = mouth_track((frames, FPS), backend=backend)
    ms = 1e3 * (time.perf_counter() - t0) / len(frames)
    row = {"backend": backend, "detect": track.face_fraction, "ms_per_frame": ms}
    try:
        contour = track_to_contour(track)
    except InputError as err:
        return row | {"refused": str(err)}
    row["refused"] = None
    if truth is not None:
        row["r_frames"] = _corr(track.opening.numpy(), truth)
    if speech is not None:
        energy = energy_contour(torch.from_numpy(speech), SR, target_len=contour.numel())
        row["r_energy"] = _corr(contour.numpy(), energy.numpy())
    return row


def toyworld_rows(n: int, backends: list[str]) -> list[dict]:
    from deepaudio.data.toyworld import WORLD_PRESETS, ToyWorld

    cfg = dataclasses.replace(WORLD_PRESETS.get("default"), kinds=("talk", "dub", "dialogue", "voiceover"))
    world, rows = ToyWorld(cfg, seed=0), []
    for i in range(n):
        clip = world.clip(i)
        faces = clip.truth["faces"]
        talking = [np.asarray(f["mouth"]) for f in faces if f["talking"]]
        truth = np.sum(talking, axis=0) if talking else None
        speech = clip.speech if clip.kind != "voiceover" else None
        for b in backends:
            rows.append({"clip": i, "kind": clip.kind, "faces": len(faces)} | measure(clip.frames, truth, speech, b))
            print(json.dumps(rows[-1]), flush=True)
    return rows


def photo_rows(path: Path, mouth: tuple[float, float], width: float, backends: list[str], seeds=(0, 1)) -> list[dict]:
    from PIL import Image

    from deepaudio.data.realworld import jaw_warp
    from deepaudio.data.toyworld.faces import video_energy

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from test_perception_mouth import speechlike

    img = np.asarray(Image.open(path).convert("RGB"))
    x0, y0 = int(mouth[0]) - 128, int(mouth[1]) - 148
    crop = img[max(y0, 0): y0 + 256, max(x0, 0): x0 + 256]
    geometry = (mouth[0] - max(x0, 0), mouth[1] - max(y0, 0), width)

    def frame(m: float) -> np.ndarray:
        return jaw_warp(crop, geometry, m)

    rows = []
    for seed in seeds:
        wav = speechlike(np.random.default_rng(seed), 4.0)
        truth = video_energy(wav, SR, FPS, 4 * FPS)
        frames = np.stack([frame(float(m)) for m in truth])
        for b in backends:
            rows.append({"photo": str(path), "seed": seed} | measure(frames, truth, wav, b))
            print(json.dumps(rows[-1]), flush=True)
    return rows


def summary(rows: list[dict]) -> None:
    keys = sorted({(r.get("kind", "photo"), r["backend"]) for r in rows})
    print(f"{'set':10} {'backend':10} {'clips':>5} {'detect':>7} {'refused':>7} {'r frames':>8} {'r energy':>8} "
          f"{'ms/frame':>8}")
    for kind, b in keys:
        sel = [r for r in rows if r.get("kind", "photo") == kind and r["backend"] == b]

        def mean(k, sel=sel):
            v = [r[k] for r in sel if r.get(k) is not None and not np.isnan(r[k])]
            return f"{np.mean(v):8.3f}" if v else f"{'-':>8}"

        refused = sum(r["refused"] is not None for r in sel)
        print(f"{kind:10} {b:10} {len(sel):5d} {mean('detect')[1:]:>7} {refused:7d} {mean('r_frames')} "
              f"{mean('r_energy')} {mean('ms_per_frame')}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=30)
    ap.add_argument("--backends", default=None, help="comma-separated (default: all installed)")
    ap.add_argument("--photo", type=Path)
    ap.add_argument("--photo-mouth", default="222,146", help="mouth centre x,y in the photo (pixels)")
    ap.add_argument("--photo-mouth-width", type=float, default=48.0)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    backends = args.backends.split(",") if args.backends else available_backends()
    rows = toyworld_rows(args.n, backends) if args.n else []
    if args.photo:
        mx, my = (float(v) for v in args.photo_mouth.split(","))
        rows += photo_rows(args.photo, (mx, my), args.photo_mouth_width, backends)
    summary(rows)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
