"""Export the EMA weights of a phoneme-TTS training checkpoint as a TTS folder, while the run goes on.

The run's own ``model/`` is written only when it ends; this builds one from ``checkpoints/step_*``
(the network config from the folder the run started from: ``--init``'s, since a continued run keeps
the architecture), the run's vocabulary and the duration table fitted on its ``alignments.json``, so
``bench_default_tts.py --model OUT`` can measure points along a run.

    python benchmarks/export_tts_checkpoint.py RUN_DIR OUT --like src/deepaudio/assets/default/tts [--step N]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path, help="a `deepaudio train tts --durations --out` folder")
    ap.add_argument("out", type=Path, help="TTS folder to write")
    ap.add_argument("--like", type=Path, required=True, help="a TTS folder with the run's architecture (its --init)")
    ap.add_argument("--step", type=int, help="checkpoint step (default: the newest)")
    ap.add_argument("--weights", choices=("ema", "model"), default="ema")
    args = ap.parse_args()
    from deepaudio.checkpoint import load_state_strict
    from deepaudio.models.tts.dit import DiT
    from deepaudio.models.tts.durations import FILE as TABLE_FILE
    from deepaudio.models.tts.durations import DurationTable
    from deepaudio.text import Tokenizer, Vocab
    from deepaudio.train import state

    ckpt = state.find_checkpoint(args.run, args.step)
    tensors, doc = state.read_training_checkpoint(ckpt, stems=(args.weights,))
    net = DiT.from_pretrained(args.like)
    weights = {k.removeprefix("net."): v.float() for k, v in tensors[args.weights].items() if k.startswith("net.")}
    load_state_strict(net, weights, ckpt)
    vocab_text = (args.run / "vocab.txt").read_text(encoding="utf-8")
    tok = Tokenizer(Vocab.load(args.run / "vocab.txt"))
    aligned = json.loads((args.run / "alignments.json").read_text(encoding="utf-8"))["train"]
    pairs = [(tok.encode(key.split("|", 1)[1]), d) for key, d in zip(aligned["keys"], aligned["durations"])
             if d is not None]
    table = DurationTable.fit([p[0] for p in pairs], [p[1] for p in pairs])
    extra = {"vocab.txt": vocab_text, TABLE_FILE: table.to_text()}
    step = doc.get("step", ckpt.name)
    net.save_pretrained(args.out, meta={"stage": "tts", "steps": step, "weights": args.weights,
                                        "exported_from": str(ckpt)}, extra_files=extra)
    print(f"exported {ckpt} ({args.weights}) to {args.out}")
    return 0


if __name__ == "__main__":
    from deepaudio.errors import DeepAudioError

    try:
        raise SystemExit(main())
    except DeepAudioError as err:  # one line, not a traceback
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
