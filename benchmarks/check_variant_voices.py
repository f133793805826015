"""Are the speech corpus' espeak-ng variant voices (VARIANT_SPEAKERS) and warped voices (WARPED_SPEAKERS) new
speakers, and none of them a copy of a held-out voice? Resemblyzer centroids (5 utterances each) of every corpus
voice and every held-out voice.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/check_variant_voices.py --corpus data/speech_all \\
        data/speech_variants [data/speech_warped] --json benchmarks/results/variant_voices.json

Reports, for each held-out voice, its nearest training voices and how much nearer the nearest new (variant or
warped) voice is than the nearest older one (``heldout_gain``: > 0 would make that held-out voice less unheard),
and for each new voice its nearest other training voice. Measured 2026-12-04: no variant is nearer to a held-out
voice than an older training voice is (by more than 0.003); 10 of the 20 variants sit within 0.95 of an older voice
(espeak-ng's variants share formant sets), the others (Klatt, Michael, Travis, Anika, Jacky, Annie, grandma, shelby
...) are new. With the warped voices (``warped_voices.json``): their nearest other voice is at 0.77-0.94, and none
is nearer a held-out voice than an older voice (New York f4: -0.019) once espeak-rp-f1-w112 is left out (+0.011).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
from pathlib import Path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", nargs="+", type=Path, required=True, help="speech-corpus folders")
    ap.add_argument("--per-voice", type=int, default=5)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    import numpy as np
    import soundfile as sf
    import torch

    from deepaudio.data.toyworld.sentences import SENTENCES
    from deepaudio.data.toyworld.voices import HELDOUT_SPEAKERS, VARIANT_SPEAKERS, WARPED_SPEAKERS, VoiceBank
    from deepaudio.eval.speaker import Resemblyzer

    spk = Resemblyzer()

    def centroid(wavs) -> torch.Tensor:
        es = [spk.embed(torch.from_numpy(np.asarray(w, dtype=np.float32)), 24000) for w in wavs]
        c = torch.stack([e / e.norm() for e in es]).mean(0)
        return c / c.norm()

    paths: dict[str, list[Path]] = {}
    for corpus in args.corpus:
        manifest = corpus / "manifests" / "tts_train.csv"
        with manifest.open(encoding="utf-8") as f:
            for row in csv.DictReader(f):
                paths.setdefault(row["speaker"], []).append(manifest.parent / row["audio_path"])
    train = {s: centroid(sf.read(p, dtype="float32")[0] for p in ps[:args.per_voice]) for s, ps in paths.items()}
    bank = VoiceBank(tempfile.mkdtemp())
    held = {h.id: centroid(bank.synthesize(h, t) for t in SENTENCES[:args.per_voice]) for h in HELDOUT_SPEAKERS}

    new = [v.id for v in VARIANT_SPEAKERS + WARPED_SPEAKERS if v.id in train]

    def nearest(c, exclude=None, k=3, among=None):
        sims = sorted(((float(c @ t), s) for s, t in train.items() if s != exclude and (among is None or s in among)),
                      reverse=True)[:k]
        return [{"voice": s, "cosine": round(v, 3)} for v, s in sims]

    older = [s for s in train if s not in new]
    out = {"heldout_nearest": {h: nearest(c) for h, c in held.items()},
           "heldout_gain": {h: round(nearest(c, 1, among=new)[0]["cosine"] - nearest(c, 1, among=older)[0]["cosine"], 3)
                            for h, c in held.items()} if new else {},
           "variant_nearest": {v: nearest(train[v], exclude=v, k=2) for v in new}}
    text = json.dumps(out, indent=1)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
