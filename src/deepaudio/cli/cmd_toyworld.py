"""``deepaudio toyworld``: generate the procedural audio-visual toy data set."""

from __future__ import annotations

import argparse
import dataclasses

NAME = "toyworld"
HELP = "generate the toy audio-visual world (videos, stems, ground truth, manifests)"


def _fractions(text: str) -> tuple[float, float, float]:
    try:
        parts = tuple(float(x) for x in text.replace(",", " ").split())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected three numbers like 0.8,0.1,0.1, got {text!r}") from exc
    if len(parts) != 3:
        raise argparse.ArgumentTypeError(f"expected three numbers like 0.8,0.1,0.1, got {text!r}")
    return parts  # type: ignore[return-value]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from deepaudio.data.toyworld.config import KINDS

    parser.add_argument("--out", required=True, help="output folder (re-running skips finished clips)")
    parser.add_argument("--n", type=int, default=1000, help="number of clips (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="master seed (default 0)")
    parser.add_argument("--kinds", nargs="+", metavar="KIND", help=f"scene kinds to draw from: {' '.join(KINDS)}")
    parser.add_argument("--split-fractions", type=_fractions, metavar="TRAIN,VAL,TEST",
                        help="clip fractions per split (default 0.8,0.1,0.1)")
    parser.add_argument("--speakers", nargs="+", metavar="ID", help="speaker ids to use (default all; e.g. only "
                        "flite-* and espeak-* voices when piper is not installed)")
    parser.add_argument("--unseen-speakers", action="store_true",
                        help="keep the test-only voices (flite-rms, espeak-029-f3) out of train and validation")
    parser.add_argument("--preset", default="default", help="world preset: default (4-8 s, 112 px) or tiny")
    parser.add_argument("--cache", help="speech cache folder (default OUT/cache/speech)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from deepaudio.data.toyworld.config import WORLD_PRESETS
    from deepaudio.data.toyworld.writer import write_dataset
    from deepaudio.errors import ConfigError

    if args.n < 1:
        raise ConfigError(f"--n must be at least 1, got {args.n}")
    cfg = WORLD_PRESETS.get(args.preset)
    changes = {}
    if args.kinds:
        changes["kinds"] = tuple(k for arg in args.kinds for k in arg.split(",") if k)
    if args.speakers:
        changes["speakers"] = tuple(k for arg in args.speakers for k in arg.split(",") if k)
    if args.unseen_speakers:
        changes["unseen_speakers"] = True
    if args.split_fractions:
        changes["split_fractions"] = args.split_fractions
    cfg = dataclasses.replace(cfg, **changes)
    stats = write_dataset(args.out, args.n, cfg, seed=args.seed, cache_dir=args.cache, progress=not args.no_progress)
    rate = f"{stats['clips_per_s']:.2f} clips/s" if stats["written"] else "nothing new"
    split_text = ", ".join(f"{k} {v}" for k, v in stats["per_split"].items())
    print(f"toyworld: wrote {stats['written']} clips, skipped {stats['skipped']} ({rate}); {split_text}; "
          f"manifests in {args.out}/manifests")
    return 0
