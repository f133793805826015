"""Picture of the forced alignments a ``deepaudio train tts --durations`` run found: log-mel of a few
training clips with the phoneme boundaries drawn over them.

    .venv/bin/python benchmarks/plot_tts_alignment.py --run runs/tts \\
        --data data/toyworld/manifests/tts_train.csv --out benchmarks/results/tts_alignment.png
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run", type=Path, required=True, help="run folder with alignments.json and vocab.txt")
    ap.add_argument("--data", type=Path, required=True, help="the run's training manifest")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--clips", type=int, nargs="+", default=[0, 5, 9], help="manifest row indices")
    args = ap.parse_args()

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from deepaudio.data.manifest import read_manifest
    from deepaudio.data.tts import TTSDataset
    from deepaudio.text import Tokenizer, Vocab

    rows = read_manifest(args.data)
    doc = json.loads((args.run / "alignments.json").read_text(encoding="utf-8"))["train"]
    vocab = Vocab.load(args.run / "vocab.txt")
    tok = Tokenizer(vocab)
    ds = TTSDataset(rows)
    fig, axes = plt.subplots(len(args.clips), 1, figsize=(14, 3 * len(args.clips)), squeeze=False)
    for ax, u in zip(axes[:, 0], args.clips):
        durs = doc["durations"][u]
        mel = ds[u]["mel"].numpy().T
        ax.imshow(mel, origin="lower", aspect="auto", cmap="magma")
        start = 0
        for i, d in zip(tok.encode(rows[u].text), durs or []):
            if d:
                ax.axvline(start + d - 0.5, color="c", lw=0.6)
                ax.text(start + d / 2, mel.shape[0] - 10, vocab.tokens[i], color="w", ha="center", fontsize=7)
            start += d
        n_tok, n_frames = len(durs or []), int(np.sum(durs or [0]))
        ax.set_title(f"{rows[u].speaker}: {rows[u].text}  ({n_tok} tokens, {n_frames} frames)")
        ax.set_ylabel("mel bin")
    axes[-1, 0].set_xlabel("frame (10.7 ms)")
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=80)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
