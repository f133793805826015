"""The bundled small vocoder against Griffin-Lim, by copy-synthesis: each recording's F5 mel decoded by both.

Material no vocoder training saw (the vocoder trained on WordNet sentences of the toy-world and extra voices):
- ``heldout``: the held-out voices (``voices.HELDOUT_SPEAKERS``) speaking toy-world test sentences;
- ``seen``: every toy-world voice speaking toy-world test sentences (voices it heard, sentences it did not);
- ``real``: the five LibriVox read-speech recordings of Debian pocketsphinx-testdata (a real human voice, 16 kHz
  recordings resampled to 24 kHz).

Per clip and decoder: WER with two Whisper judges (tiny.en packaged, ``--asr-model2``: e.g. models/whisper-base),
DNSMOS overall, MCD (dB, DTW-aligned) and Resemblyzer cosine against the original recording, and the decode
time (RTF = seconds of decoding per second of audio, on this machine's threads). The original recording's
own WER and DNSMOS are the ceiling. A picture compares the spectrograms of one held-out clip.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_vocoder_default.py --asr-model2 models/whisper-base \\
        --out benchmarks/results/vocoder_default.json --picture benchmarks/results/vocoder_default.png
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

LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")


def librivox() -> list[tuple[str, str, torch.Tensor]]:
    from deepaudio.io.audio import load_audio

    out = []
    for line in (LIBRIVOX / "transcription").read_text().splitlines():
        m = re.match(r"<s> (.*) </s> \((.*)\)", line.strip())
        if m:
            wav, _ = load_audio(LIBRIVOX / f"{m.group(2)}.wav", sample_rate=24000, mono=True)
            out.append((f"librivox-{m.group(2)[-4:]}", m.group(1), wav))
    return out


def synthetic(speakers, sentences, per_voice: int, cache: Path) -> list[tuple[str, str, torch.Tensor]]:
    from deepaudio.data.toyworld.voices import VoiceBank

    bank, out = VoiceBank(cache), []
    for i, spk in enumerate(speakers):
        for k in range(per_voice):
            text = sentences[(i * per_voice + k) % len(sentences)]
            out.append((f"{spk.id}-{k}", text, torch.from_numpy(bank.synthesize(spk, text))[None]))
    return out


def material(per_voice: int, cache: Path) -> dict[str, list]:
    from deepaudio.data.toyworld.config import WorldConfig
    from deepaudio.data.toyworld.sentences import SENTENCES
    from deepaudio.data.toyworld.splits import sentence_splits
    from deepaudio.data.toyworld.voices import HELDOUT_SPEAKERS, SPEAKERS

    test = sentence_splits(SENTENCES, WorldConfig().sentence_fractions, 0)["test"]
    sets = {"heldout": synthetic(HELDOUT_SPEAKERS, test, per_voice * 2, cache),
            "seen": synthetic(SPEAKERS, test[::-1], per_voice, cache)}
    if LIBRIVOX.is_dir():
        sets["real"] = librivox()
    else:
        print("pocketsphinx-testdata is not installed: no real recordings (apt-get install pocketsphinx-testdata)",
              file=sys.stderr)
    return sets


def score(name: str, text: str, ref: torch.Tensor, decoders: dict, judges: dict, spk) -> dict:
    from deepaudio.dsp.mel import F5_24K, mel_spectrogram
    from deepaudio.eval.mcd import mcd
    from deepaudio.eval.quality import dnsmos
    from deepaudio.eval.speaker import cosine
    from deepaudio.eval.wer import wer
    from deepaudio.perception.asr import transcribe

    row = {"clip": name, "text": text, "seconds": ref.shape[-1] / 24000}
    mel = mel_spectrogram(ref, F5_24K)  # (1, 100, T)
    ref_emb = spk.embed(ref, 24000)
    outs = {"original": ref}
    for label, voc in decoders.items():
        t0 = time.perf_counter()
        with torch.inference_mode():
            outs[label] = voc.decode(mel).reshape(1, -1).float()
        row[f"rtf_{label}"] = (time.perf_counter() - t0) / row["seconds"]
    for label, wav in outs.items():
        for jname, judge in judges.items():
            row[f"wer_{jname}_{label}"] = wer(text, transcribe(wav, 24000, model=judge))
        row[f"dnsmos_{label}"] = dnsmos(wav, 24000)["ovrl"]
        if label != "original":
            row[f"mcd_{label}"] = mcd(ref, 24000, wav, 24000).mcd
            row[f"spk_{label}"] = cosine(spk.embed(wav, 24000), ref_emb)
    return row


def picture(path: Path, name: str, ref: torch.Tensor, decoders: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from deepaudio.dsp.mel import F5_24K, mel_spectrogram

    mel = mel_spectrogram(ref, F5_24K)
    with torch.inference_mode():
        panels = [("original", mel[0])] + [(k, mel_spectrogram(v.decode(mel).reshape(1, -1).float(), F5_24K)[0])
                                           for k, v in decoders.items()]
    fig, axes = plt.subplots(len(panels), 1, figsize=(9, 2.4 * len(panels)), sharex=True)
    for ax, (label, m) in zip(axes, panels):
        ax.imshow(m.numpy(), origin="lower", aspect="auto", vmin=-11.5, vmax=2)
        ax.set_ylabel(f"{label}\nmel bin")
    axes[0].set_title(f"log-mel of {name}: the recording and its copy-synthesis")
    axes[-1].set_xlabel("frame (10.7 ms)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def summarise(rows: list[dict]) -> dict:
    keys = sorted({k for r in rows for k in r if k.split("_")[0] in ("wer", "dnsmos", "mcd", "spk", "rtf")})
    return {k: sum(r[k] for r in rows) / len(rows) for k in keys} | {"n": len(rows)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--vocoder", type=Path, help="vocoder folder (default: the bundled one)")
    ap.add_argument("--per-voice", type=int, default=2, help="sentences per seen voice (held-out voices: twice)")
    ap.add_argument("--asr-model", type=Path, help="first judge (default: the packaged Whisper tiny.en)")
    ap.add_argument("--asr-model2", type=Path, help="second judge, e.g. models/whisper-base")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--picture", type=Path)
    args = ap.parse_args()

    from deepaudio.dsp.mel import F5_24K
    from deepaudio.eval.speaker import Resemblyzer
    from deepaudio.pipelines.tts import GRIFFIN_LIM, load_vocoder

    decoders = {"griffinlim": load_vocoder(GRIFFIN_LIM, "cpu", F5_24K),
                "vocoder": load_vocoder(args.vocoder, "cpu", F5_24K, quiet=True)}
    judges = {"tiny": args.asr_model} | ({"base": args.asr_model2} if args.asr_model2 else {})
    spk = Resemblyzer()
    result = {"vocoder": decoders["vocoder"].label, "threads": torch.get_num_threads(), "sets": {}}
    with tempfile.TemporaryDirectory() as tmp:
        sets = material(args.per_voice, Path(tmp))
        for set_name, clips in sets.items():
            rows = []
            for k, (name, text, wav) in enumerate(clips):
                rows.append(score(name, text, wav, decoders, judges, spk))
                r = rows[-1]
                print(f"[{set_name} {k + 1}/{len(clips)}] {name}: wer tiny gl {r['wer_tiny_griffinlim']:.2f} voc "
                      f"{r['wer_tiny_vocoder']:.2f} orig {r['wer_tiny_original']:.2f} | dnsmos gl "
                      f"{r['dnsmos_griffinlim']:.2f} voc {r['dnsmos_vocoder']:.2f} | mcd gl {r['mcd_griffinlim']:.2f} "
                      f"voc {r['mcd_vocoder']:.2f}", file=sys.stderr, flush=True)
            result["sets"][set_name] = {"summary": summarise(rows), "items": rows}
            if args.picture and set_name == "heldout":
                name, _, wav = clips[0]
                picture(args.picture, name, wav, decoders)
    result["summary"] = summarise([r for s in result["sets"].values() for r in s["items"]])
    text = json.dumps(result, indent=1)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", encoding="utf-8")
    print(json.dumps({"vocoder": result["vocoder"], "summary": result["summary"],
                      **{k: v["summary"] for k, v in result["sets"].items()}}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
