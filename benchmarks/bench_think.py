"""Voice-over detection and removal measured on held-out toy-world clips (DeepSound-V1 steps 2-4).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_think.py [--clips 20] [--seed 13] [--max-rounds 2] \
        [--out FILE.json]

The default V2A model for the toy world is not trained yet, so this measures the ``--audio`` path: the
sound tracks are the toy world's own (ambience + speech), i.e. what a V2A model trained on such data
would produce. ``voiceover`` clips carry off-screen speech (a still face or none): all their speech is
voice-over. ``talk`` (a cartoon face speaking) and ``dub`` (a speaking face among sounding objects) clips
carry speech that belongs. The talking-score threshold was set on seeds 5 and 7 and the suppression
level on seed 11; the default seed here (13) is held out from both.

Reported per kind: voice-over rate before/after (clips whose track still has VAD speech, for voiceover
clips), speech kept (talk/dub clips whose output keeps >= 50 % of the speech seconds the VAD found
before), ambience SNR against the clean ambience (voiceover clips), onset alignment (median |offset|
of sound onsets to visual motion peaks, ``eval.sync``), silence (frames below -50 dB, share of silent
clips, against the share of clips whose true ambience (the track minus its speech) is silent by the
same test: a voice-over over a nearly silent scene should end silent) and seconds per clip.

Measured (2026-11-22, shared 2-core CPU, 20 clips per kind, perception reasoner, span
suppression, 2 rounds; ``benchmarks/results/think.json`` from ``--combine`` of the per-seed outputs
``think_seed{13,19,23,17}.json``). Seeds 19 and 23 untouched while developing, 13 looked at during earlier
development, 17 used to find the dub failures (``think_dub_failure.png``):
voice-over rate 100 % -> 0 % on seeds 13, 19, 23 (was 5 % on 13 before the remnant round); speech kept
on talking faces 100 % (talk and dub, every seed; dub was 90 % on 13 and 17 with the mix-RMS envelope).
Onset error on voice-over clips (before -> after): 58.8 -> 26.7 ms (13), 35.3 -> 38.0 ms (19), 49.5 -> 43.0
ms (23); talk/dub unchanged (nothing removed). Silent clips after removal: 10 % on seed 13 (2 voice-over
clips over sparse impacts: the clamp takes the impacts inside the span too, > 90 % of frames fall below
-50 dB and ``--post rm`` empties the track; the true ambience is silent in 0 %), 0 % on 19 and 23.
Ambience SNR -2.1 -> +5.6 dB (13), -3.1 -> +4.0 dB (19), +0.1 -> +6.1 dB (23).
Seed 17 (development seed for this fix): voice-over 95 % -> 0 %, speech kept 100 % talk and dub, onset
36.5 -> 41.3 ms, no silent clip, ambience SNR -1.5 -> +6.0 dB. Mean over the four seeds (``think.json``):
voice-over onset error 45.0 -> 37.2 ms, silent clips 0 -> 2.5 %.

    for s in 13 19 23 17; do OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_think.py --seed $s \
        --out benchmarks/results/think_seed$s.json; done
    .venv/bin/python benchmarks/bench_think.py --combine benchmarks/results/think_seed*.json \
        --out benchmarks/results/think.json
    .venv/bin/python benchmarks/bench_think.py --seed 17 --picture dub:16 --out benchmarks/results/think_dub_failure.png
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

SR = 24000


def _snr_db(ref: torch.Tensor, est: torch.Tensor) -> float:
    noise = (est - ref).square().sum()
    return float(10 * torch.log10(ref.square().sum() / noise.clamp_min(1e-12))) if ref.abs().max() > 0 else math.nan


def _mean(values) -> float:
    vals = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    return float(np.mean(vals)) if vals else math.nan


def _true_ambience(clip) -> torch.Tensor:
    """The clip's sound track without its speech (the mix is ambience + speech, scaled by ``mix_gain``)."""
    mix = torch.from_numpy(clip.mix)[None]
    if clip.speech is None:
        return mix
    return mix - torch.from_numpy(clip.speech)[None] * clip.truth["mix_gain"]


def measure_clip(pipe, clip, folder: Path, settings=None) -> dict:
    from deepaudio.dsp.energy import is_silent, silent_fraction
    from deepaudio.eval.sync import onset_alignment
    from deepaudio.io.video import write_video
    from deepaudio.think.evidence import speech_segments

    video = folder / f"{clip.kind}_{clip.index}.mp4"
    write_video(video, clip.frames, clip.truth["fps"])
    mix = torch.from_numpy(clip.mix)[None]
    t0 = time.perf_counter()
    out, sr, trace = pipe(video, audio=(mix, SR), settings=settings)
    seconds = time.perf_counter() - t0
    before, after = speech_segments(mix, SR), speech_segments(out, sr)
    sec = lambda segs: sum(e - s for s, e in segs)  # noqa: E731
    row = {"kind": clip.kind, "index": clip.index, "seconds": seconds, "outcome": trace.outcome,
           "speech_before": bool(before), "speech_after": bool(after), "speech_s_before": sec(before),
           "speech_s_after": sec(after), "voice_over_found": bool(trace.find("detect")[0].measurements["voice_over"]),
           "talking": [s["talking"] for s in trace.find("detect")[0].measurements["evidence"]["segments"]],
           "silent_frac_before": silent_fraction(mix, SR), "silent_frac_after": silent_fraction(out, sr),
           "silent_before": is_silent(mix, SR), "silent_after": is_silent(out, sr),
           "ambience_silent": is_silent(_true_ambience(clip), SR)}
    onset_b, onset_a = onset_alignment(video, mix, SR), onset_alignment(video, out, sr)
    row.update(onset_ms_before=onset_b.median_abs_ms, onset_ms_after=onset_a.median_abs_ms,
               onset_matched_before=onset_b.matched, onset_matched_after=onset_a.matched)
    if clip.kind == "voiceover":
        ambience = _true_ambience(clip)
        row.update(amb_snr_before=_snr_db(ambience, mix), amb_snr_after=_snr_db(ambience, out))
    return row


def summarise(rows: list[dict]) -> dict:
    out = {}
    for kind in sorted({r["kind"] for r in rows}):
        rs = [r for r in rows if r["kind"] == kind]
        s = {"clips": len(rs), "seconds_per_clip": _mean(r["seconds"] for r in rs),
             "flagged_voice_over": _mean(float(r["voice_over_found"]) for r in rs),
             "onset_ms_before": _mean(r["onset_ms_before"] for r in rs),
             "onset_ms_after": _mean(r["onset_ms_after"] for r in rs),
             "onset_matched_before": _mean(r["onset_matched_before"] for r in rs),
             "onset_matched_after": _mean(r["onset_matched_after"] for r in rs),
             "silent_frac_before": _mean(r["silent_frac_before"] for r in rs),
             "silent_frac_after": _mean(r["silent_frac_after"] for r in rs),
             "silent_clips_before": _mean(float(r["silent_before"]) for r in rs),
             "silent_clips_after": _mean(float(r["silent_after"]) for r in rs),
             "ambience_silent_truth": _mean(float(r["ambience_silent"]) for r in rs)}
        if kind == "voiceover":
            s.update(voice_over_rate_before=_mean(float(r["speech_before"]) for r in rs),
                     voice_over_rate_after=_mean(float(r["speech_after"]) for r in rs),
                     amb_snr_db_before=_mean(r["amb_snr_before"] for r in rs),
                     amb_snr_db_after=_mean(r["amb_snr_after"] for r in rs))
        else:
            kept = [r["speech_s_after"] >= 0.5 * r["speech_s_before"] for r in rs if r["speech_before"]]
            s.update(speech_kept=_mean(float(k) for k in kept), speech_clips=len(kept))
        out[kind] = s
    return out


def picture(seed: int, preset: str, kind: str, index: int, out: Path) -> dict:
    """Mouth movement against the speech envelope (mix RMS and ambience floor subtracted) with the VAD segments."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from deepaudio.data.toyworld import WORLD_PRESETS, ToyWorld
    from deepaudio.io.video import write_video
    from deepaudio.think.evidence import speech_segments
    from deepaudio.think.visual import TALKING_THRESHOLD, mouth_signals, speech_envelope, talking_score

    world = ToyWorld(dataclasses.replace(WORLD_PRESETS.get(preset), kinds=(kind,)), seed=seed)
    clip = world.clip(index, "test")
    with tempfile.TemporaryDirectory() as tmp:
        video = Path(tmp) / "clip.mp4"
        write_video(video, clip.frames, clip.truth["fps"])
        mouth = mouth_signals(video)
    mix = torch.from_numpy(clip.mix)[None]
    segs = speech_segments(mix, SR)
    env_mix = speech_envelope(mix, SR, mouth.times, mouth.fps)
    env_floor = speech_envelope(mix, SR, mouth.times, mouth.fps, segs)
    speech = torch.from_numpy(clip.speech)[None] * clip.truth["mix_gain"] if clip.speech is not None else None
    env_clean = speech_envelope(speech, SR, mouth.times, mouth.fps) if speech is not None else None
    scores = [{"segment": [s, e], "mix": talking_score(mouth, env_mix, s, e)["score"],
               "floor_subtracted": talking_score(mouth, env_floor, s, e)["score"],
               "clean_speech": talking_score(mouth, env_clean, s, e)["score"] if env_clean is not None else None}
              for s, e in segs]
    norm = lambda x: (x - x.min()) / max(float(x.max() - x.min()), 1e-12)  # noqa: E731
    fig, ax = plt.subplots(figsize=(10, 3.6))
    for s, e in segs:
        ax.axvspan(s, e, color="0.85", label="VAD speech segment" if s == segs[0][0] else None)
    lip = mouth.signals[:, 0] if mouth.source.startswith("mouth_track") else None
    if lip is not None:
        ax.plot(mouth.times, norm(lip) + 2.2, color="C3", label="mouth opening (landmarks)")
    ax.plot(mouth.times, norm(env_mix) + 1.1, color="C0", label="envelope: mix RMS (before)")
    ax.plot(mouth.times, norm(env_floor), color="C2", label="envelope: ambience floor subtracted (after)")
    if env_clean is not None:
        ax.plot(mouth.times, norm(env_clean), color="k", lw=0.8, ls=":", label="clean speech (truth)")
    title = "; ".join(f"r mix {d['mix']:.2f} -> floor {d['floor_subtracted']:.2f}" for d in scores)
    ax.set_title(f"{kind} clip {index} (seed {seed}, test): {title} (threshold {TALKING_THRESHOLD})", fontsize=9)
    ax.set_xlabel("seconds")
    ax.set_yticks([])
    ax.legend(fontsize=7, loc="upper right", ncol=2)
    fig.tight_layout()
    from deepaudio.io.atomic import atomic_path

    with atomic_path(out) as tmp_png:
        fig.savefig(tmp_png, dpi=110, format="png")
    return {"seed": seed, "kind": kind, "index": index, "mouth_source": mouth.source, "scores": scores}


def combine(files: list[Path]) -> dict:
    """Per-seed summaries and their mean over seeds."""
    runs = {str(json.loads(f.read_text())["settings"]["seed"]): json.loads(f.read_text())["summary"] for f in files}
    mean = {}
    for kind in sorted({k for r in runs.values() for k in r}):
        keys = sorted({k for r in runs.values() for k in r.get(kind, {})})
        mean[kind] = {k: _mean(r[kind].get(k) for r in runs.values() if kind in r) for k in keys}
    return {"seeds": sorted(runs, key=int), "per_seed": runs, "mean_over_seeds": mean}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clips", type=int, default=20, help="clips per kind")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--preset", default="default")
    ap.add_argument("--kinds", default="voiceover,talk,dub")
    ap.add_argument("--max-rounds", type=int, default=2)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--picture", metavar="KIND:INDEX", help="only draw mouth vs envelopes of one clip to --out PNG")
    ap.add_argument("--combine", type=Path, nargs="+", metavar="JSON",
                    help="only merge per-seed outputs of this script into --out (per seed + mean over seeds)")
    args = ap.parse_args()
    if args.picture or args.combine:
        if not args.out:
            ap.error("--picture and --combine need --out")
        from deepaudio.io.atomic import atomic_path

        if args.picture:
            kind, _, index = args.picture.partition(":")
            print(json.dumps(picture(args.seed, args.preset, kind, int(index), args.out), indent=1))
        else:
            with atomic_path(args.out) as tmp:
                tmp.write_text(json.dumps(combine(args.combine), indent=1, default=float))
        return
    from deepaudio.data.toyworld import WORLD_PRESETS, ToyWorld
    from deepaudio.pipelines.think import ThinkPipeline, ThinkSettings

    torch.set_num_threads(1)
    pipe = ThinkPipeline()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.kinds.split(","):
            world = ToyWorld(dataclasses.replace(WORLD_PRESETS.get(args.preset), kinds=(kind,)), seed=args.seed)
            for i in range(args.clips):
                settings = ThinkSettings(max_rounds=args.max_rounds)
                rows.append(measure_clip(pipe, world.clip(i, "test"), Path(tmp), settings))
                r = rows[-1]
                print(f"{kind:9s} {i:3d} speech {r['speech_before']:d}->{r['speech_after']:d} talking "
                      f"{[round(t, 2) for t in r['talking']]} {r['outcome']} ({r['seconds']:.1f} s)", flush=True)
    summary = summarise(rows)
    print(json.dumps(summary, indent=2))
    if args.out:
        from deepaudio.io.atomic import atomic_path

        with atomic_path(args.out) as tmp:
            tmp.write_text(json.dumps({"settings": vars(args) | {"out": str(args.out)}, "summary": summary,
                                        "clips": rows}, indent=1, default=float))


if __name__ == "__main__":
    main()
