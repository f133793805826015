"""The TTS on voices and sentences no training set has: WER beside the judge's own WER on those voices, and
prompt-speaker similarity (issue #26's goals: WER within 8 points of the judge's WER on the voice's own
recordings, Resemblyzer cosine to the prompt >= 0.75).

Voices: ``deepaudio.data.toyworld.voices.HELDOUT_SPEAKERS`` (a festival diphone speaker and two espeak-ng
accents and variants no training voice has; ``--voices`` takes any other id, e.g. a training voice for
comparison). Sentences: the toy world's test sentences (seed 0; written for the project, never in a training
split) and, with ``--wordnet DIR``, WordNet usage examples from the far end of the speech corpus' order (a
corpus speaks its first N, 4000 for the bundled TTS; of the 22 183 usable ones the last ``--n-wordnet`` are
spoken by no corpus of up to 22 183 - n utterances).

For each voice, one sentence is the prompt (its recording and text are the reference) and the others are
spoken by the TTS. Per item: ``wer``/``wer2`` of the generated speech with the two judges, ``wer_truth``/
``wer_truth2`` of the voice's own recording of the same sentence (the floor), ``spk_sim`` = cosine of the
generated speech to the prompt, ``spk_sim_truth`` = the same for the voice's own recording (the ceiling),
``dnsmos``/``dnsmos_truth`` the DNSMOS overall score of both. ``--prompt-degrade SNR`` gives the TTS the prompt
through a 16 kHz channel with white noise (what a real microphone recording looks like to it) while similarity
is still measured to the clean prompt.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_heldout_voices.py --asr-model2 models/whisper-base \\
        --wordnet data/speech_wordnet.wordnet/usr/share/wordnet --out benchmarks/results/heldout_voices.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

GOAL_WER_GAP = 0.08
GOAL_SPK_SIM = 0.75
CORPUS_MAX = 10000  # the largest speech corpus the held-out WordNet sentences must stay out of (bundled: 4000)


def heldout_sentences(n_toy: int, wordnet: Path | None, n_wordnet: int) -> list[tuple[str, str]]:
    """(source, sentence) pairs: toy-world test sentences first, then WordNet ones no corpus speaks."""
    from deepaudio.data.toyworld.config import WorldConfig
    from deepaudio.data.toyworld.sentences import SENTENCES
    from deepaudio.data.toyworld.speech_corpus import corpus_order
    from deepaudio.data.toyworld.splits import sentence_splits
    from deepaudio.data.toyworld.text_sources import corpus_sentences, wordnet_examples

    test = sentence_splits(SENTENCES, WorldConfig().sentence_fractions, 0)["test"]
    out = [("toy-test", s) for s in test[:n_toy]]
    if wordnet is not None:
        order = corpus_order(corpus_sentences(wordnet_examples(wordnet), exclude=SENTENCES), seed=0)
        if len(order) - n_wordnet < CORPUS_MAX:
            raise SystemExit(f"--wordnet: only {len(order)} sentences; the last {n_wordnet} would overlap a "
                             f"{CORPUS_MAX}-utterance corpus")
        out += [("wordnet-tail", s) for s in order[-n_wordnet:]]
    return out


def voice_rows(pipe, speaker, sentences, bank, spk, args, workdir: Path) -> list[dict]:
    """Prompt = the voice's first sentence; every other sentence spoken by the TTS and by the voice itself."""
    import torch

    from deepaudio.eval.quality import dnsmos
    from deepaudio.eval.speaker import cosine
    from deepaudio.eval.wer import wer
    from deepaudio.io.audio import save_audio
    from deepaudio.perception.asr import transcribe

    (_, prompt_text), rest = sentences[0], sentences[1:]
    prompt = torch.from_numpy(bank.synthesize(speaker, prompt_text))[None]
    prompt_path = workdir / f"{speaker.id}_prompt.wav"
    prompt_emb = spk.embed(prompt, 24000)
    if args.prompt_degrade is not None:  # the TTS gets a recording-like prompt; the judge keeps the clean one
        prompt = degrade(prompt, args.prompt_degrade, args.seed)
    save_audio(prompt_path, prompt[0].numpy(), 24000)
    rows = []
    for k, (source, text) in enumerate(rest):
        real = torch.from_numpy(bank.synthesize(speaker, text))[None]
        result = pipe(text, str(prompt_path), ref_text=prompt_text, nfe=args.nfe, schedule=args.schedule,
                      seed=args.seed + k, timbre=args.timbre, cfg_strength=args.cfg,
                      **({} if args.adapt is None else {"adapt": args.adapt, "adapt_lr": args.adapt_lr}))
        gen, sr = result
        row = {"voice": speaker.id, "source": source, "text": text, "seconds": gen.shape[-1] / sr,
               "spk_sim": cosine(spk.embed(gen, sr), prompt_emb), "spk_sim_truth": cosine(spk.embed(real, 24000),
                                                                                          prompt_emb),
               "dnsmos": dnsmos(gen, sr)["ovrl"], "dnsmos_truth": dnsmos(real, 24000)["ovrl"]}
        for sfx, judge in (("", args.asr_model), ("2", args.asr_model2)):
            if sfx and judge is None:
                continue
            row[f"hyp{sfx}"] = transcribe(gen, sr, model=judge)
            row[f"wer{sfx}"] = wer(text, row[f"hyp{sfx}"])
            row[f"hyp_truth{sfx}"] = transcribe(real, 24000, model=judge)
            row[f"wer_truth{sfx}"] = wer(text, row[f"hyp_truth{sfx}"])
        rows.append(row)
        print(f"[{speaker.id} {k + 1}/{len(rest)}] wer {row['wer']:.2f} (truth {row['wer_truth']:.2f}) "
              f"sim {row['spk_sim']:.2f} | {text!r} -> {row['hyp']!r}", file=sys.stderr, flush=True)
    return rows


def degrade(wav, snr_db: float, seed: int):
    """(1, L) 24 kHz -> the same through a 16 kHz channel (nothing above 8 kHz) with white noise at ``snr_db``
    below the speech's mean power: what a real microphone recording at 16 kHz looks like to the TTS."""
    import torch

    from deepaudio.io.audio import resample

    low = resample(resample(wav, 24000, 16000), 16000, 24000)[..., : wav.shape[-1]]
    g = torch.Generator().manual_seed(seed)
    noise = torch.randn(low.shape, generator=g)
    power = low.pow(2).mean()
    return low + noise * (power / 10 ** (snr_db / 10)).sqrt()


def summarise(rows: list[dict]) -> dict:
    def mean(key, part):
        vals = [r[key] for r in part if r.get(key) is not None]
        return sum(vals) / len(vals) if vals else None

    def block(part):
        out = {k: mean(k, part) for k in ("wer", "wer_truth", "wer2", "wer_truth2", "spk_sim", "spk_sim_truth",
                                          "dnsmos", "dnsmos_truth")}
        out["n"] = len(part)
        for sfx in ("", "2"):
            if out[f"wer{sfx}"] is not None:
                out[f"wer_gap{sfx}"] = out[f"wer{sfx}"] - out[f"wer_truth{sfx}"]
        return out

    summary = block(rows)
    for key in ("voice", "source"):
        summary[f"by_{key}"] = {v: block([r for r in rows if r[key] == v]) for v in dict.fromkeys(r[key] for r in rows)}
    summary["goals"] = {f"wer_gap{sfx} <= {GOAL_WER_GAP}": summary[f"wer_gap{sfx}"] <= GOAL_WER_GAP
                        for sfx in ("", "2") if f"wer_gap{sfx}" in summary}
    summary["goals"][f"spk_sim >= {GOAL_SPK_SIM}"] = summary["spk_sim"] >= GOAL_SPK_SIM
    return summary


def calibrate_int8(pipe, bank, workdir: Path, args) -> None:
    """Quantise ``pipe`` and calibrate it on a call no row scores: a toy-world training voice reading two of the
    toy world's training sentences (neither a held-out voice nor a held-out sentence)."""
    from deepaudio.data.toyworld.config import WorldConfig
    from deepaudio.data.toyworld.sentences import SENTENCES
    from deepaudio.data.toyworld.splits import sentence_splits
    from deepaudio.data.toyworld.voices import SPEAKER_BY_ID
    from deepaudio.io.audio import save_audio

    train = sentence_splits(SENTENCES, WorldConfig().sentence_fractions, 0)["train"]
    prompt = workdir / "int8_calibration_prompt.wav"
    save_audio(prompt, bank.synthesize(SPEAKER_BY_ID["flite-slt"], train[0]), 24000)
    pipe.quantize_int8(compiled=False)
    pipe(train[1], str(prompt), ref_text=train[0], nfe=args.nfe, schedule=args.schedule, seed=args.seed)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", type=Path, help="TTS checkpoint folder (default: the bundled one)")
    ap.add_argument("--vocoder", help="vocoder folder, or 'griffin-lim' (default: the TTS pipeline's default)")
    ap.add_argument("--voices", nargs="+", help="speaker ids (default: the held-out voices)")
    ap.add_argument("--n-toy", type=int, default=11, help="toy-world test sentences (the first one is the prompt)")
    ap.add_argument("--wordnet", type=Path, help="WordNet dict folder: add held-out WordNet sentences")
    ap.add_argument("--n-wordnet", type=int, default=10)
    ap.add_argument("--nfe", type=int, default=32)
    ap.add_argument("--schedule", default="uniform", help="uniform (the CLI default) or epss")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--adapt", type=int, help="speaker adaptation steps (default: the pipeline's; 0 = off)")
    ap.add_argument("--adapt-lr", type=float, default=1e-3, help="speaker adaptation learning rate (default: "
                    "the pipeline's)")
    ap.add_argument("--prompt-degrade", type=float, metavar="SNR_DB",
                    help="give the TTS the prompt through a 16 kHz channel with white noise at this SNR (the "
                         "similarity is still measured to the clean prompt)")
    ap.add_argument("--cfg", type=float, default=2.0, help="classifier-free guidance strength (TTSSettings default 2)")
    ap.add_argument("--timbre", type=float, default=0.0, help="envelope matching strength 0..1 (TTSPipeline timbre)")
    ap.add_argument("--timbre-max-db", type=float, help="tuning: match_timbre's bound (default: its own, 9 dB)")
    ap.add_argument("--timbre-smooth", type=int, help="tuning: match_timbre's smoothing in mel bins (default 5)")
    ap.add_argument("--asr-model", type=Path, help="first judge (default: the packaged Whisper tiny.en)")
    ap.add_argument("--asr-model2", type=Path, help="second judge, e.g. models/whisper-base")
    ap.add_argument("--int8", action="store_true", help="the network static int8 (TTSPipeline.quantize_int8), its "
                    "graphs eager (int8 quantise/dequantise emulated in fp32: the int8 numbers without a compile per "
                    "length), calibrated on one unscored call first (a training voice and sentence)")
    ap.add_argument("--out", type=Path, help="summary JSON")
    args = ap.parse_args()

    from deepaudio.data.toyworld.voices import HELDOUT_BY_ID, HELDOUT_SPEAKERS, SPEAKER_BY_ID, VoiceBank
    from deepaudio.dsp import timbre
    from deepaudio.eval.speaker import Resemblyzer
    from deepaudio.pipelines.tts import TTSPipeline

    if args.timbre_max_db is not None or args.timbre_smooth is not None:  # the pipeline calls it with its defaults
        strength, max_db, smooth, floor = timbre.match_timbre.__defaults__
        timbre.match_timbre.__defaults__ = (strength, args.timbre_max_db or max_db, args.timbre_smooth or smooth,
                                            floor)
    known = {**SPEAKER_BY_ID, **HELDOUT_BY_ID}
    unknown = [v for v in args.voices or () if v not in known]
    if unknown:
        raise SystemExit(f"unknown voice(s) {', '.join(unknown)}; known: {', '.join(known)}")
    voices = [known[v] for v in args.voices] if args.voices else list(HELDOUT_SPEAKERS)
    sentences = heldout_sentences(args.n_toy, args.wordnet, args.n_wordnet)
    kwargs = {} if args.vocoder is None else {"vocoder": args.vocoder}
    pipe = TTSPipeline.from_pretrained(args.model, **kwargs)
    spk, rows, t0 = Resemblyzer(), [], time.time()
    with tempfile.TemporaryDirectory() as tmp:
        bank = VoiceBank(Path(tmp) / "cache")
        if args.int8:
            calibrate_int8(pipe, bank, Path(tmp), args)
        for speaker in voices:
            rows += voice_rows(pipe, speaker, sentences, bank, spk, args, Path(tmp))
    summary = {"model": str(args.model or "bundled"), "int8": args.int8, "nfe": args.nfe, "schedule": args.schedule,
               "cfg": args.cfg, "prompt_degrade": args.prompt_degrade,
               "timbre": args.timbre, "adapt": "default" if args.adapt is None else args.adapt,
               "adapt_lr": args.adapt_lr,
               "timbre_max_db_smooth": list(timbre.match_timbre.__defaults__[1:3]),
               "vocoder": getattr(pipe.vocoder, "label", type(pipe.vocoder).__name__),
               "voices": [v.id for v in voices], "judge": str(args.asr_model or "whisper tiny.en (packaged)"),
               "judge2": str(args.asr_model2) if args.asr_model2 else None, **summarise(rows),
               "seconds": time.time() - t0, "items": rows}
    text = json.dumps(summary, indent=1)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in summary.items() if k not in ("items",)}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
