"""How separable are the toy world's voices to the speaker judge (Resemblyzer)? A voice-set check.

The TTS floor asks that an item's prompt speaker be the most similar of all speakers; that cannot hold
for the model if it does not hold for the real recordings. For every voice, K sentences are synthesised;
item (voice v, sentence i) is scored correct when its cosine to voice v's prompt (sentence i+1) beats
its cosine to every other voice's prompt (their sentence i+1). Reported for the current speaker list and
for it with extra candidate voices (``--extra engine:voice[:rate] ...``), with the most confusable pairs.

    python benchmarks/bench_voice_set.py [--k 8] [--extra espeak:en-us+m7:150 ...] [--drop ID ...] [--json F]

Measured 2026-12-02 (k=8, ``results/voice_set.json``) on the then 12 voices: 92.7%; without flite-kal16 and
espeak-gb-f4 (centroid cosines 0.953 to flite-kal and 0.991 to espeak-gb-m1) 100%. Five more espeak
variants (us+m7, us+f5, klatt4, us+croak, gb-x-rp+m2) on top of that dropped it to 90.8%: espeak's variants
sit close together (us+f5 0.973 to us-f2). The world dropped those two voices on 2026-12-03; the earlier
set is ``--extra flite:kal16 espeak:en-gb+f4:145``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
from pathlib import Path

import torch


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--k", type=int, default=8, help="sentences per voice")
    ap.add_argument("--extra", nargs="*", default=[], help="candidate voices engine:voice[:rate]")
    ap.add_argument("--drop", nargs="*", default=[], help="speaker ids to leave out of the proposed set")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    from deepaudio.data.toyworld.sentences import SENTENCES
    from deepaudio.data.toyworld.voices import SPEAKERS, Speaker, VoiceBank
    from deepaudio.eval.speaker import Resemblyzer

    extra = []
    for spec in args.extra:
        parts = spec.split(":")
        extra.append(Speaker(f"{parts[0]}-{parts[1]}", parts[0], parts[1], int(parts[2]) if len(parts) > 2 else 0))
    voices = list(SPEAKERS) + extra
    bank = VoiceBank(Path(tempfile.gettempdir()) / "deepaudio_voice_set_cache")
    judge = Resemblyzer()
    texts = SENTENCES[: args.k]
    emb = {}
    for v in voices:
        try:
            emb[v.id] = torch.stack([judge.embed(torch.from_numpy(bank.synthesize(v, t))[None], bank.sample_rate)
                                     for t in texts])
        except Exception as exc:  # a voice this machine lacks (e.g. piper without its package)
            print(f"skipping {v.id}: {exc}", file=sys.stderr)
        else:
            print(f"{v.id}: {len(texts)} utterances", file=sys.stderr)

    def accuracy(ids: list[str]) -> float:
        hits = 0
        for v in ids:
            for i in range(args.k):
                j = (i + 1) % args.k
                sims = {s: float(emb[v][i] @ emb[s][j]) for s in ids}
                hits += max(sims, key=sims.get) == v
        return hits / (len(ids) * args.k)

    def centroid_cos(a: str, b: str) -> float:
        ca, cb = emb[a].mean(0), emb[b].mean(0)
        return float(ca @ cb / (ca.norm() * cb.norm()))

    current = [v.id for v in SPEAKERS if v.id in emb]
    proposed = [i for i in current if i not in args.drop] + [v.id for v in extra if v.id in emb]
    pairs = sorted(((centroid_cos(a, b), a, b) for a, b in itertools.combinations(proposed + [
        i for i in current if i not in proposed], 2)), reverse=True)[:10]
    report = {"k": args.k, "judge": judge.name, "current": {"voices": current, "top1": accuracy(current)},
              "proposed": {"voices": proposed, "top1": accuracy(proposed)},
              "closest_pairs": [{"a": a, "b": b, "centroid_cosine": round(c, 3)} for c, a, b in pairs]}
    print(json.dumps(report, indent=1))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
