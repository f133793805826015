"""How much of the phoneme TTS's WER comes from its durations? Same model, same items, three timings.

The bundled phoneme TTS is told each frame's phoneme; at inference a context-free duration table
(mean frames per phoneme) sized to the prompt speaker's rate lays the text out. This check scores
validation items (Whisper WER) under

- ``table``: the inference default (table rhythm, length from the prompt's rate);
- ``table_len``: the table's rhythm, but the true utterance length;
- ``oracle``: the aligner's durations of the real recording (true rhythm and length; the prompt's
  phonemes too), i.e. what a perfect duration model would give.

    python benchmarks/bench_tts_durations.py --model runs/tts/model --alignments runs/tts/alignments.json \\
        [--manifest data/toyworld/manifests/tts_val.csv] [--n 20] [--out F.json]

The alignments come from ``deepaudio train tts --durations`` (``OUT/alignments.json``, train and
validation clips). A large ``table`` -> ``oracle`` gap says the duration model, not the acoustic
model, is what to improve.

Measured 2026-12-03 on the validation split: the bundled TTS v2, 16 items, tiny.en: table 38.3%, table
rhythm at the true length 49.7%, oracle 40.3% (``results/tts_durations_bundled_v2.json``). A context
duration predictor (a small convolutional net over the phonemes, since removed) scored worse than the
table on 20 items with Whisper base: 27.4% against 23.5% (``results/tts_durations_predictor.json``,
docs/tts.md). Timing is not what limits this TTS's WER.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf


class _Fixed:
    """A duration table that returns given durations for known token sequences (else the table's)."""

    def __init__(self, table, known: dict[tuple[int, ...], np.ndarray]):
        self.table, self.known = table, known
        self.frames, self.default = table.frames, table.default

    def predict(self, ids):
        hit = self.known.get(tuple(int(i) for i in ids))
        return hit.astype(np.float64) if hit is not None else self.table.predict(ids)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", type=Path, required=True)
    ap.add_argument("--alignments", type=Path, required=True, help="OUT/alignments.json of the training run")
    ap.add_argument("--manifest", type=Path, default=Path("data/toyworld/manifests/tts_val.csv"))
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--modes", nargs="+", default=["table", "table_len", "oracle"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--asr-model", type=Path)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_default_tts import test_items

    from deepaudio.eval.asr import backend_name, transcribe
    from deepaudio.eval.wer import wer
    from deepaudio.pipelines.tts import TTSPipeline

    doc = json.loads(args.alignments.read_text(encoding="utf-8"))
    aligned: dict[str, list[int]] = {}
    for part in doc.values():
        for key, d in zip(part["keys"], part["durations"]):
            if d is not None:
                aligned[key] = d
    pipe = TTSPipeline.from_pretrained(args.model)
    table = pipe.durations
    if table is None:
        raise SystemExit(f"{args.model}: not a phoneme-input TTS (no durations.json)")
    tok = pipe.tokenizer
    items = [it for it in test_items(args.manifest)
             if f"{it['target'].audio_path}|{it['target'].text}" in aligned][: args.n]
    modes = list(args.modes)
    rows = []
    t0 = time.time()
    for k, it in enumerate(items):
        p, tgt = it["prompt"], it["target"]
        d_tgt = np.asarray(aligned[f"{tgt.audio_path}|{tgt.text}"])
        d_prompt = aligned.get(f"{p.audio_path}|{p.text}")
        seconds = sf.info(str(tgt.audio_path)).duration
        row = {"clip": tgt.audio_path.parent.name, "text": tgt.text, "seconds": seconds}
        for mode in modes:
            known: dict = {}
            duration = None
            if mode in ("table_len", "oracle"):
                duration = seconds
            if mode == "oracle":
                known[tuple(tok.encode(tgt.text))] = d_tgt
                if d_prompt is not None:
                    known[tuple(tok.encode(p.text))] = np.asarray(d_prompt)
            pipe.durations = _Fixed(table, known)
            wav, sr = pipe(tgt.text, str(p.audio_path), ref_text=p.text, seed=args.seed + k, duration=duration)
            hyp = transcribe(wav, sr, model=args.asr_model)
            row[mode] = {"hyp": hyp, "wer": wer(tgt.text, hyp), "seconds": wav.shape[-1] / sr}
        pipe.durations = table
        rows.append(row)
        print(f"[{k + 1}/{len(items)}] " + "  ".join(f"{m} {row[m]['wer']:.2f}" for m in modes) + f" | {tgt.text!r}",
              file=sys.stderr, flush=True)
    summary = {"model": str(args.model), "manifest": str(args.manifest), "n": len(rows),
               "judge": backend_name(args.asr_model),
               "wer": {m: float(np.mean([r[m]["wer"] for r in rows])) for m in modes},
               "length_ratio": {m: float(np.mean([r[m]["seconds"] / r["seconds"] for r in rows])) for m in modes},
               "seconds": time.time() - t0, "items": rows}
    print(json.dumps({k: v for k, v in summary.items() if k != "items"}, indent=1))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
