"""The TTS with real human voices as prompts: prompt-speaker similarity and WER, two settings paired per item.

Prompts: the human recordings of Debian's pocketsphinx-testdata (16 kHz read speech; no training set, tuning
set or held-out set of this project has them): the LibriVox reader ("he was not an ill disposed young man"),
the "cards" speaker (005), the tidigits speaker, and the three command recordings (goforward, numbers,
something). Each prompt's text is its transcript where the data has one, else the packaged Whisper's
transcription. Sentences: the held-out sentences of ``bench_heldout_voices.py`` (toy-world test sentences,
WordNet tail with ``--wordnet``). Each item is spoken twice, with setting A and B (same seed), so the change is
paired; ``--a``/``--b`` take ``key=value`` TTSPipeline keywords (e.g. ``timbre=0`` vs ``timbre=1``) and
``--vocoder-a``/``--vocoder-b`` a vocoder folder (or ``griffin-lim``) for each side; ``--model-b`` another
checkpoint for side B (two models compared item by item).

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_real_voices.py --a timbre=0 --b timbre=1 \\
        --out benchmarks/results/real_voices_timbre.json

The first file (``real_voices_v7_pitch05.json``) compared ``pitch=0`` with ``pitch=0.5``, a setting that
existed at commit 7cb11cd (docs/tts.md, "What did not help").
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

DATA = Path("/usr/share/pocketsphinx/test/data")


def real_prompts(data: Path, tmp: Path) -> list[tuple[str, Path, str | None]]:
    """(name, 16 kHz wav path, transcript or None) of each real speaker's prompt; raw PCM is converted
    into ``tmp``."""
    import numpy as np

    from deepaudio.io.audio import save_audio

    out = []
    libri = {m.group(2): m.group(1) for m in (re.match(r"<s> (.*) </s> \((.*)\)", line.strip())
                                               for line in (data / "librivox" / "transcription").read_text()
                                               .splitlines()) if m}
    name = "sense_and_sensibility_01_austen_64kb-0880"
    out.append(("librivox", data / "librivox" / f"{name}.wav", libri[name]))
    out.append(("cards", data / "cards" / "005.wav", "eight of spades four of clubs seven of hearts"))
    for key, raw in (("tidigits", data / "tidigits" / "dhd.2934z.raw"), ("goforward", data / "goforward.raw"),
                     ("numbers", data / "numbers.raw"), ("something", data / "something.raw")):
        pcm = np.frombuffer(raw.read_bytes(), dtype="<i2").astype(np.float32) / 32768.0
        path = tmp / f"{key}.wav"
        save_audio(path, pcm, 16000)
        out.append((key, path, None))
    return out


def paired(a: list[float], b: list[float]) -> tuple[float, float]:
    d = [y - x for x, y in zip(a, b)]
    m = sum(d) / len(d)
    se = math.sqrt(sum((x - m) ** 2 for x in d) / (len(d) - 1) / len(d)) if len(d) > 1 else float("nan")
    return m, se


def setting(text: str) -> dict:
    out = {}
    for part in text.split(","):
        key, _, value = part.partition("=")
        out[key.strip()] = int(value) if value.strip().lstrip("-").isdigit() else float(value)
    return out


def main() -> int:
    from bench_heldout_voices import heldout_sentences

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", type=Path, help="TTS checkpoint folder (default: the bundled one)")
    ap.add_argument("--model-b", type=Path, help="another TTS checkpoint for side B (default: --model)")
    ap.add_argument("--a", type=setting, default={}, help="setting A, e.g. timbre=0")
    ap.add_argument("--b", type=setting, default={}, help="setting B, e.g. timbre=1")
    ap.add_argument("--vocoder-a", help="vocoder folder or 'griffin-lim' for A (default: the pipeline's)")
    ap.add_argument("--vocoder-b", help="the same for B")
    ap.add_argument("--n-toy", type=int, default=7, help="toy-world test sentences")
    ap.add_argument("--wordnet", type=Path)
    ap.add_argument("--n-wordnet", type=int, default=0)
    ap.add_argument("--data", type=Path, default=DATA, help="pocketsphinx test data folder")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    if not (args.data / "librivox" / "transcription").is_file():
        raise SystemExit(f"{args.data}: no pocketsphinx test data (apt-get install pocketsphinx-testdata)")

    from deepaudio.eval.quality import dnsmos
    from deepaudio.eval.speaker import Resemblyzer, cosine
    from deepaudio.eval.wer import wer
    from deepaudio.io.audio import load_audio
    from deepaudio.perception.asr import transcribe
    from deepaudio.pipelines.tts import TTSPipeline

    sentences = [s for _, s in heldout_sentences(args.n_toy, args.wordnet, args.n_wordnet)]
    pipes = {"a": TTSPipeline.from_pretrained(args.model, **({"vocoder": args.vocoder_a} if args.vocoder_a else {}))}
    same = args.vocoder_b == args.vocoder_a and args.model_b is None  # one pipeline unless the sides differ
    pipes["b"] = pipes["a"] if same else TTSPipeline.from_pretrained(
        args.model_b or args.model, **({"vocoder": args.vocoder_b} if args.vocoder_b else {}))
    spk, rows, t0 = Resemblyzer(), [], time.time()
    tmp = tempfile.TemporaryDirectory()
    for name, path, text in real_prompts(args.data, Path(tmp.name)):
        wav, sr = load_audio(path, sample_rate=24000, mono=True)
        prompt_emb = spk.embed(wav, sr)
        for k, sentence in enumerate(sentences):
            row = {"voice": name, "text": sentence}
            for tag, kw in (("a", args.a), ("b", args.b)):
                result = pipes[tag](sentence, str(path), ref_text=text, seed=k, **kw)
                gen, gsr = result
                row[f"spk_sim_{tag}"] = cosine(spk.embed(gen, gsr), prompt_emb)
                row[f"hyp_{tag}"] = transcribe(gen, gsr)
                row[f"wer_{tag}"] = wer(sentence, row[f"hyp_{tag}"])
                row[f"dnsmos_{tag}"] = dnsmos(gen, gsr)["ovrl"]
            rows.append(row)
            print(f"[{name} {k + 1}/{len(sentences)}] sim {row['spk_sim_a']:.3f} -> {row['spk_sim_b']:.3f} "
                  f"wer {row['wer_a']:.2f} -> {row['wer_b']:.2f}", file=sys.stderr, flush=True)
    tmp.cleanup()
    summary: dict = {"model": str(args.model or "bundled"), "model_b": str(args.model_b or args.model or "bundled"),
                     "a": args.a, "b": args.b, "n": len(rows),
                     "vocoder_a": pipes["a"].vocoder.label, "vocoder_b": pipes["b"].vocoder.label,
                     "judge": "whisper tiny.en (packaged)"}
    for key in ("spk_sim", "wer", "dnsmos"):
        a, b = [r[f"{key}_a"] for r in rows], [r[f"{key}_b"] for r in rows]
        m, se = paired(a, b)
        summary[key] = {"a": sum(a) / len(a), "b": sum(b) / len(b), "change": m, "se": se}
    summary["by_voice"] = {v: {"spk_sim_a": sum(r["spk_sim_a"] for r in part) / len(part),
                               "spk_sim_b": sum(r["spk_sim_b"] for r in part) / len(part), "n": len(part)}
                           for v in dict.fromkeys(r["voice"] for r in rows)
                           for part in [[r for r in rows if r["voice"] == v]]}
    summary["seconds"] = time.time() - t0
    summary["items"] = rows
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in summary.items() if k != "items"}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
