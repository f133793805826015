"""Is speech mixed over ambience still intelligible? Whisper WER of the mix vs the speech alone.

Speech: the five read LibriVox sentences shipped with pocketsphinx's test data (real recordings, with
transcripts). Ambience, two kinds:

- ``babble``: four other recordings of the same data (the other LibriVox sentences, the ``cards`` and
  ``goforward``/``numbers``/``something`` utterances) overlaid at their own levels, each looped from a
  random offset (seeded) to the sentence's length: a crowd of talkers, the hardest ambience for speech;
- ``v2a``: the bundled default V2A model's output for a synthetic moving-square video (seed 0).

Each ambience is set to ``--levels`` dB relative to the speech's loudness (BS.1770; 0 = as loud as the
speech, +6 = louder, as a generated crowd can come out), then mixed by ``dsp.mix.mix_with_ducking``:

- ``before``: ducking only (-12 dB under speech, the tracks' own levels: what dub/run did);
- ``after``: the defaults (speech at -20 LUFS, ambience at least 10 dB below it, then -12 dB ducking);
- ``ratio15`` / ``ratio20``: the defaults with the ambience kept 15 / 20 dB below the speech;
- ``duck_sweep``: the defaults with other ducking depths, on babble at the first level.

WER: packaged Whisper tiny.en (beam 5) on 16 kHz audio against the transcript (``eval.text`` normaliser).

``--dub N`` instead dubs the ``talk`` and ``voiceover`` clips of N toy-world demo groups end to end with
the bundled default (CLI defaults: 25 V2A steps, NFE 32, seed 0, ``fit=speed``) and scores the generated
speech track and its mix with the generated ambience, mixed both ways (same tracks, only the mix differs).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_mix_intelligibility.py \\
        --out benchmarks/results/mix_intelligibility.json
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_mix_intelligibility.py --dub 2 \\
        --out benchmarks/results/mix_intelligibility_dub.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

DATA = Path("/usr/share/pocketsphinx/test/data")
SR = 16000


def read_speech(data: Path) -> list[tuple[str, torch.Tensor, str]]:
    """(name, (1, N) waveform, transcript) of the LibriVox sentences."""
    from deepaudio.io.audio import load_audio

    out = []
    for line in (data / "librivox" / "transcription").read_text().splitlines():
        words, _, name = line.rpartition("(")
        text = words.replace("<s>", "").replace("</s>", "").strip()
        wav, _ = load_audio(data / "librivox" / f"{name.strip(') ')}.wav", sample_rate=SR, mono=True)
        out.append((name.strip(") "), wav, text))
    return out


def talkers(data: Path, exclude: str) -> list[torch.Tensor]:
    """Every other utterance of the test data, (N,) at 16 kHz."""
    from deepaudio.io.audio import load_audio

    wavs = [load_audio(p, sample_rate=SR, mono=True)[0][0] for p in sorted((data / "librivox").glob("*.wav"))
            if exclude not in p.name]
    wavs += [load_audio(p, sample_rate=SR, mono=True)[0][0] for p in sorted((data / "cards").glob("*.wav"))]
    for raw in ("goforward.raw", "numbers.raw", "something.raw"):  # 16 kHz signed 16-bit mono
        wavs.append(torch.from_numpy(np.fromfile(data / raw, dtype="<i2").astype(np.float32) / 32768))
    return wavs


def loop_to(wav: torch.Tensor, n: int, offset: int) -> torch.Tensor:
    reps = -(-(n + offset) // wav.numel())
    return wav.repeat(reps)[offset: offset + n]


def babble(pool: list[torch.Tensor], n: int, rng: np.random.Generator, k: int = 4) -> torch.Tensor:
    picks = rng.choice(len(pool), size=k, replace=False)
    return sum(loop_to(pool[i], n, int(rng.integers(pool[i].numel()))) for i in picks)[None]


def v2a_ambience(seconds: float, tmp: Path) -> torch.Tensor:
    from deepaudio.assets import bundled_dir
    from deepaudio.io.audio import resample
    from deepaudio.io.testmedia import moving_square_video
    from deepaudio.pipelines.v2a import V2APipeline

    video = moving_square_video(tmp / "square.mp4", duration=seconds, width=128, height=96).path
    pipe = V2APipeline.from_pretrained(bundled_dir("v2a"))
    wav, sr = pipe(video, seed=0)
    return resample(wav, sr, SR) if sr != SR else wav


def at_level(ambience: torch.Tensor, speech: torch.Tensor, rel_db: float) -> torch.Tensor:
    from deepaudio.dsp.loudness import integrated_loudness

    gain = integrated_loudness(speech, SR) + rel_db - integrated_loudness(ambience, SR)
    return ambience * 10 ** (gain / 20)


def dub_rows(groups: int, score, methods: dict) -> list[dict]:
    """End-to-end dubs of toy-world clips with the bundled default; WER of speech and of both mixes."""
    from deepaudio.assets import bundled_dir
    from deepaudio.dsp.mix import mix_with_ducking
    from deepaudio.io.audio import resample
    from deepaudio.pipelines.deepaudio import DeepAudio
    from deepaudio.pipelines.demo import DemoSettings, make_clips

    pipe = DeepAudio.from_pretrained(bundled_dir("pipeline"))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        clips = [c for c in make_clips(Path(tmp), DemoSettings(n=groups)) if c.prompt is not None]
        for c in clips:
            text = c.truth["transcript"]
            res = pipe(video=c.video, task="dub", transcript=text, reference_audio=c.prompt,
                       reference_text=c.prompt_text, seed=0, fit="speed")
            row = {"clip": c.name, "text": text, "speech": score(resample(res.speech, res.sample_rate, SR), text)}
            for method, kw in methods.items():
                mix = mix_with_ducking(res.speech, res.ambience, res.sample_rate, **kw)
                row[f"mix_{method}"] = score(resample(mix, res.sample_rate, SR), text)
            rows.append(row)
            print(json.dumps({k: v if isinstance(v, str) else round(v, 3) for k, v in row.items()}), flush=True)
    return rows


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", type=Path, default=DATA, help="pocketsphinx test data folder")
    p.add_argument("--levels", type=float, nargs="+", default=[0.0, 6.0], help="ambience dB relative to speech")
    p.add_argument("--ducks", type=float, nargs="+", default=[0.0, -6.0, -20.0], help="duck_sweep depths (dB)")
    p.add_argument("--asr-model", help="local CTranslate2 Whisper folder (default: packaged tiny.en)")
    p.add_argument("--dub", type=int, default=0, help="end-to-end dubs of this many toy-world demo groups instead")
    p.add_argument("--out", type=Path)
    args = p.parse_args()

    from deepaudio.eval.asr import backend_name, transcribe

    from deepaudio.eval.text import normalize_text
    from deepaudio.eval.wer import wer

    def score(wav: torch.Tensor, text: str) -> float:
        return wer(normalize_text(text), normalize_text(transcribe(wav, SR, model=args.asr_model)))

    start = time.perf_counter()
    methods = {"before": dict(speech_lufs=None, ambience_ratio_db=None), "after": {},
               "ratio15": dict(ambience_ratio_db=15.0), "ratio20": dict(ambience_ratio_db=20.0)}
    rows = dub_rows(args.dub, score, methods) if args.dub else measure(args, score, methods)
    keys = [k for k in rows[0] if k not in ("clip", "text")]
    mean = {k: round(sum(r[k] for r in rows) / len(rows), 4) for k in keys}
    report = {"judge": backend_name(args.asr_model), "levels_db": None if args.dub else args.levels,
              "mean_wer": mean, "seconds": round(time.perf_counter() - start, 1), "items": rows}
    print(json.dumps(mean, indent=1))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=1) + "\n")
    return 0


def measure(args, score, methods: dict) -> list[dict]:
    """Real speech over babble and over bundled V2A output, at each level, mixed both ways."""
    from deepaudio.dsp.mix import mix_with_ducking

    speech = read_speech(args.data)
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        v2a = v2a_ambience(max(w.shape[-1] for _, w, _ in speech) / SR + 0.5, Path(tmp))
    rows = []
    for name, wav, text in speech:
        n = wav.shape[-1]
        ambiences = {"babble": babble(talkers(args.data, name), n, rng), "v2a": loop_to(v2a[0], n, 0)[None]}
        row = {"clip": name, "text": text, "speech": score(wav, text)}
        for kind, amb in ambiences.items():
            for level in args.levels:
                a = at_level(amb, wav, level)
                for method, kw in methods.items():
                    row[f"{kind}{level:+g}_{method}"] = score(mix_with_ducking(wav, a, SR, **kw), text)
        a = at_level(ambiences["babble"], wav, args.levels[0])
        for duck in args.ducks:
            row[f"duck{duck:+g}"] = score(mix_with_ducking(wav, a, SR, duck_db=duck), text)
        rows.append(row)
        print(json.dumps({k: v if isinstance(v, str) else round(v, 3) for k, v in row.items() if k != "text"}),
              flush=True)
    return rows


if __name__ == "__main__":
    sys.exit(main())
