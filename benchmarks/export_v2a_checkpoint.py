"""Export the EMA weights of a V2A training checkpoint as a ``v2a_pipeline`` folder, while the run goes on.

Runs keep only their last two ``step_*`` checkpoints; this writes one to a folder of its own so that
points along a run can be measured later (``bench_default_v2a.py --model OUT``).

    python benchmarks/export_v2a_checkpoint.py RUN_DIR OUT [--config tiny_m2] [--step N] [--weights ema|model]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path, help="a `deepaudio train v2a --out` folder")
    ap.add_argument("out", type=Path, help="pipeline folder to write")
    ap.add_argument("--config", default="tiny", help="the run's --config")
    ap.add_argument("--step", type=int, help="checkpoint step (default: the newest)")
    ap.add_argument("--weights", choices=("ema", "model"), default="ema")
    args = ap.parse_args()
    from deepaudio.checkpoint import load_state_strict
    from deepaudio.train import state
    from deepaudio.train.v2a import V2A_SETUPS, TinyV2AModel, export_pipeline

    ckpt = state.find_checkpoint(args.run, args.step)
    tensors, doc = state.read_training_checkpoint(ckpt, stems=(args.weights,))
    setup = V2A_SETUPS.get(args.config)
    model = TinyV2AModel(setup)
    # (a run with --onset-loss also holds the training-only onset head, which the pipeline does not use)
    weights = {k: v.float() for k, v in tensors[args.weights].items() if not k.startswith("onset_head.")}
    load_state_strict(model, weights, ckpt)
    step = doc.get("step")
    export_pipeline(model.eval(), setup, args.out, {"stage": "v2a", "setup": args.config, "steps": step,
                                                     "weights": args.weights, "source": str(ckpt)})
    print(f"wrote {args.out} ({ckpt.name}, {args.weights})")
    return 0


if __name__ == "__main__":
    from deepaudio.errors import DeepAudioError

    try:
        with torch.no_grad():
            sys.exit(main())
    except DeepAudioError as err:  # one line, not a traceback
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
