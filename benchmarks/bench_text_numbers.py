"""Does the bundled TTS say numbers and symbols? WER before vs after English text expansion.

20 sentences full of numbers, money, times, symbols, abbreviations and acronyms (written for this test,
below) are spoken by the bundled default TTS in two toy-world voices it was trained on (flite kal,
espeak-ng en-us+f2; the prompt is one of the toy world's sentences in that voice) twice:

- ``before``: the tokenizer without expansion (``english=False``), what the bundled model did before:
  integers were read, everything else ('$', '%', '.', ',', '°', 'Dr.') was dropped or read as a pause;
- ``after``: the tokenizer with ``text.normalize.expand_english``.

Each output is transcribed by the packaged Whisper tiny.en (beam 5) and scored against the sentence as
it should be said: reference and transcript both pass through ``expand_english`` and the WER text
normaliser, so "$5.50" written by Whisper and "five dollars fifty cents" count as the same words.
``judge_floor`` is the same judge on the prompt voice itself (flite / espeak-ng) reading the expanded
sentence: the best a toy-world voice can score here. Same seed (0) for both; CPU timing is noisy.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_text_numbers.py \\
        --out benchmarks/results/text_numbers.json
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from pathlib import Path

import torch

SENTENCES = [
    "The ticket costs $5.50 and the bus leaves at 3:30 pm.",
    "She was born on the 22nd of May, 1999.",
    "About 1,234 people came to the show.",
    "Prices rose by 12% in 2021.",
    "Dr. Smith lives at 42 Elm St. near the park.",
    "Tom & Jerry won 3 games in a row.",
    "It was 25°C at noon on the 1st of June.",
    "The meeting is at 10:15 am in room 7.",
    "My phone costs £300 and yours costs €250.",
    "The FBI and the US Army met at 9 pm.",
    "Add 2 + 2 and you get 4.",
    "He ran 5 km in 21 minutes.",
    "The 1990s gave us the first web pages.",
    "Mr. Brown paid $1.5 million for the house.",
    "Only 3.5% of the 800 votes were late.",
    "Send it to bob@mail.com by the 3rd.",
    "We need apples, pears, etc. for 12 guests.",
    "The train left at 6:45 and came back at 11:05.",
    "Chapter 4 starts on page 128.",
    "In 2005, 2 out of 3 kids had a TV.",
]
PROMPT = ("flite-kal", "The weather was calm and the sea was quiet this morning."), \
         ("espeak-us-f2", "A small boat drifted slowly across the bay.")


def score(reference: str, transcript: str) -> float:
    from deepaudio.eval.text import normalize_text
    from deepaudio.eval.wer import wer
    from deepaudio.text.normalize import expand_english

    # Whisper writes times as "3.30 p.m.": the same time as "3:30 pm", not a decimal.
    transcript = re.sub(r"\b(\d{1,2})\.(\d{2})(?=\s?[AaPp]\.?[Mm]\b)", r"\1:\2", transcript)
    return wer(normalize_text(expand_english(reference)), normalize_text(expand_english(transcript)))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", type=Path, help="TTS checkpoint folder (default: the bundled default)")
    p.add_argument("--asr-model", help="local CTranslate2 Whisper folder (default: packaged tiny.en)")
    p.add_argument("--n", type=int, default=len(SENTENCES))
    p.add_argument("--nfe", type=int, default=32)
    p.add_argument("--out", type=Path, help="write the JSON report here")
    args = p.parse_args()

    from deepaudio.eval.asr import backend_name, transcribe

    from deepaudio.assets import bundled_dir
    from deepaudio.data.toyworld.voices import SPEAKER_BY_ID, VoiceBank
    from deepaudio.pipelines.tts import TTSPipeline
    from deepaudio.text.normalize import expand_english

    pipe = TTSPipeline.from_pretrained(args.model or bundled_dir("tts"))
    rows, start = [], time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        bank = VoiceBank(tmp)
        prompts = [(torch.from_numpy(bank.synthesize(SPEAKER_BY_ID[s], t)), t, s) for s, t in PROMPT]
        for i, sentence in enumerate(SENTENCES[: args.n]):
            ref_wav, ref_text, speaker = prompts[i % len(prompts)]
            row = {"text": sentence, "said": expand_english(sentence), "speaker": speaker}
            for name, english in (("before", False), ("after", True)):
                pipe.tokenizer.english = english
                wav, sr = pipe(sentence, (ref_wav, bank.sample_rate), ref_text=ref_text, nfe=args.nfe, seed=0)
                row[f"{name}_transcript"] = transcribe(wav, sr, model=args.asr_model)
                row[f"{name}_wer"] = score(sentence, row[f"{name}_transcript"])
            floor = bank.synthesize(SPEAKER_BY_ID[speaker], row["said"], cache=False)
            row["floor_transcript"] = transcribe(torch.from_numpy(floor)[None], bank.sample_rate, model=args.asr_model)
            row["floor_wer"] = score(sentence, row["floor_transcript"])
            rows.append(row)
            print(f"{i:2d} before {row['before_wer']:.2f} after {row['after_wer']:.2f} floor {row['floor_wer']:.2f}"
                  f"  {sentence}\n     after: {row['after_transcript']}", flush=True)
    mean = {k: round(sum(r[f"{k}_wer"] for r in rows) / len(rows), 4) for k in ("before", "after", "floor")}
    report = {"judge": backend_name(args.asr_model), "model": str(args.model or "bundled-default"), "nfe": args.nfe,
              "seed": 0, "n": len(rows), "mean_wer": mean, "seconds": round(time.perf_counter() - start, 1),
              "items": rows}
    print(json.dumps(report["mean_wer"]))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
