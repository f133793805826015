"""Fit a prompt aligner (``models.tts.durations.PromptAligner``: per-token Gaussians of the aligner features) from
a TTS run's forced alignments: ``OUT/alignments.json`` of ``deepaudio train tts --durations``.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/fit_prompt_aligner.py --run runs/v7/tts --out aligner.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run", type=Path, required=True, help="training run folder with alignments.json")
    ap.add_argument("--model", type=Path, help="TTS folder whose tokenizer encodes the texts (default: bundled)")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()

    from deepaudio.io.atomic import atomic_path
    from deepaudio.io.audio import load_audio
    from deepaudio.models.tts.durations import PromptAligner
    from deepaudio.pipelines.tts import TTSPipeline

    pipe = TTSPipeline.from_pretrained(args.model)
    doc = json.loads((args.run / "alignments.json").read_text(encoding="utf-8"))["train"]
    mels, ids, durs, t0 = [], [], [], time.time()
    for key, dur in zip(doc["keys"], doc["durations"]):
        if dur is None:
            continue
        path, text = key.split("|", 1)
        seq = pipe.tokenizer.encode(text)
        wav, _ = load_audio(path, sample_rate=24000, mono=True)
        mel = pipe._mel(wav.reshape(-1))
        if len(seq) != len(dur) or mel.shape[0] != sum(dur):
            raise SystemExit(f"{path}: the alignment does not match this tokenizer or mel")
        mels.append(mel)
        ids.append(seq)
        durs.append(dur)
    aligner = PromptAligner.fit(mels, ids, durs)
    with atomic_path(args.out) as tmp:
        tmp.write_text(aligner.to_text(), encoding="utf-8")
    print(f"{len(mels)} clips, {len(aligner.means)} tokens, {time.time() - t0:.0f} s -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
