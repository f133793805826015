"""Score a set of items: per-item metrics, set-level V2A metrics, backends and unavailable metrics.

Each metric declares what it needs (a transcript, a reference, a video, a model path); a metric whose
backend is missing is reported once as unavailable with the option or package that enables it, and
an item that lacks an input gets its reason in the problem list, so nothing is skipped silently.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from deepaudio.errors import BackendUnavailable, CheckpointError, DeepAudioError, InputError
from deepaudio.eval.items import Item

TASK_METRICS = {
    "tts": ("wer", "spk_sim", "sim_o", "dnsmos", "speech_rate"),
    "v2s": ("wer", "spk_sim", "emo_sim", "mcd", "mcd_sl", "lip_sync", "dnsmos", "speech_rate"),
    "v2a": ("fd_passt", "fd_panns", "fd_vgg", "kl_panns", "kl_passt", "is", "ib_score", "desync", "av_align_ms",
            "speech_rate", "silence_rate"),
}
ITEM_METRICS = ("wer", "spk_sim", "sim_o", "emo_sim", "mcd", "mcd_sl", "lip_sync", "dnsmos", "speech_rate",
                "silence_rate", "av_align_ms")
SET_METRICS = ("fd_passt", "fd_panns", "fd_vgg", "kl_panns", "kl_passt", "is", "ib_score", "desync")
ALL_METRICS = ITEM_METRICS + SET_METRICS
NO_DIRECTION = {"speech_rate"}  # wanted high for speech, low after voice-over removal
LOWER_IS_BETTER = {"wer", "mcd", "mcd_sl", "fd_passt", "fd_panns", "fd_vgg", "kl_panns", "kl_passt", "desync",
                   "av_align_ms", "silence_rate"}


@dataclass(frozen=True)
class EvalOptions:
    task: str = "v2s"
    metrics: tuple[str, ...] = ()
    asr_model: str | None = None
    asr_language: str | None = "en"  # None: detected per clip (multilingual models)
    beam_size: int = 5
    wavlm_sv: str | None = None
    sim_o: str | None = None
    emotion_model: str | None = None
    panns: str | None = None
    vggish: str | None = None
    synchformer: str | None = None
    passt: str | None = None
    imagebind: str | None = None
    gen_features: str | None = None
    ref_features: str | None = None
    device: str = "cpu"
    mcd_alignment: str = "fastdtw"

    def chosen(self) -> tuple[str, ...]:
        return self.metrics or TASK_METRICS[self.task]


@dataclass
class EvalResult:
    rows: list[dict] = field(default_factory=list)
    summary: dict[str, float | None] = field(default_factory=dict)
    backends: dict[str, str] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def _load(path, cache: dict):
    from deepaudio.io.audio import load_audio

    if path not in cache:
        cache[path] = load_audio(path)
    return cache[path]


class _Scorer:
    """Per-item metric functions; each returns columns for the item's CSV row."""

    def __init__(self, opts: EvalOptions):
        self.opts = opts
        self.cache: dict = {}

    def gen(self, item: Item):
        return _load(item.gen, self.cache)

    def ref(self, item: Item, what: str = "reference"):
        if item.ref is None or not item.ref.is_file():
            raise _Skip(f"no {what} audio")
        return _load(item.ref, self.cache)

    def wer(self, item: Item) -> dict:
        from deepaudio.eval.wer import wer
        from deepaudio.perception.asr import transcribe

        if not item.text:
            raise _Skip("no transcript (NAME.txt)")
        hyp = transcribe(*self.gen(item), model=self.opts.asr_model, beam_size=self.opts.beam_size,
                         language=self.opts.asr_language)
        return {"wer": wer(item.text, hyp), "text": item.text, "hypothesis": hyp}

    def spk_sim(self, item: Item) -> dict:
        from deepaudio.eval.speaker import speaker_similarity

        # TTS (SIM-O style) compares with the voice prompt; dubbing compares with the target clip.
        use_prompt = self.opts.task == "tts" and item.prompt is not None and item.prompt.is_file()
        other = _load(item.prompt, self.cache) if use_prompt else self.ref(item)
        return {"spk_sim": speaker_similarity(self.gen(item), other, self.opts.wavlm_sv, self.opts.device)}

    def sim_o(self, item: Item) -> dict:
        from deepaudio.eval.speaker import sim_o

        use_prompt = item.prompt is not None and item.prompt.is_file()
        other = _load(item.prompt, self.cache) if use_prompt else self.ref(item, "prompt or reference")
        return {"sim_o": sim_o(self.gen(item), other, self.opts.sim_o, self.opts.device)}

    def emo_sim(self, item: Item) -> dict:
        from deepaudio.eval.speaker import emotion_similarity

        return {"emo_sim": emotion_similarity(self.gen(item), self.ref(item), self.opts.emotion_model,
                                              self.opts.device)}

    def mcd(self, item: Item) -> dict:
        from deepaudio.eval.mcd import mcd

        res = mcd(*self.ref(item), *self.gen(item), alignment=self.opts.mcd_alignment)
        return {"mcd": res.mcd, "mcd_sl": res.mcd_sl}

    mcd_sl = mcd

    def lip_sync(self, item: Item) -> dict:
        from deepaudio.eval.sync import lip_sync, read_mouth_contour, tracked_mouth_contour

        if item.video is None:
            raise _Skip("no video")
        stored = Path(item.video).with_suffix(".mouth.npy").is_file() or \
            Path(item.video).with_suffix(".mouth.csv").is_file()
        try:  # a contour written beside the video wins; else the mouth tracker measures it on the video
            mouth, rate = read_mouth_contour(item.video) if stored else tracked_mouth_contour(item.video)[:2]
        except InputError as exc:
            raise _Skip(str(exc)) from exc
        if rate is None:
            from deepaudio.io.video import probe_video

            rate = probe_video(item.video).fps
        res = lip_sync(mouth, *self.gen(item), fps=rate)
        return {"lip_sync": res.correlation, "lip_offset_ms": res.offset_ms}

    def dnsmos(self, item: Item) -> dict:
        from deepaudio.eval.quality import dnsmos

        s = dnsmos(*self.gen(item))
        return {"dnsmos": s["ovrl"], "dnsmos_sig": s["sig"], "dnsmos_bak": s["bak"], "dnsmos_p808": s["p808"]}

    def speech_rate(self, item: Item) -> dict:
        from deepaudio.eval.quality import speech_presence

        s = speech_presence(*self.gen(item))
        return {"speech_rate": s["has_speech"], "speech_fraction": s["speech_fraction"]}

    def silence_rate(self, item: Item) -> dict:
        from deepaudio.eval.quality import silence

        s = silence(*self.gen(item))
        return {"silence_rate": s["silence_fraction"], "is_silent": s["is_silent"]}

    def av_align_ms(self, item: Item) -> dict:
        from deepaudio.eval.sync import onset_alignment

        if item.video is None:
            raise _Skip("no video")
        res = onset_alignment(item.video, *self.gen(item))
        return {"av_align_ms": res.median_abs_ms, "av_offset_ms": res.median_offset_ms,
                "av_matched": f"{res.matched}/{res.visual_peaks}"}


class _Skip(Exception):
    """This item lacks an input the metric needs (reported per item, not a failure of the backend)."""


def backend_names(opts: EvalOptions) -> dict[str, str]:
    """Backend name for every per-item metric, as the report prints it."""
    from deepaudio.eval import mcd, quality, sync
    from deepaudio.perception import asr

    spk = f"wavlm-xvector ({opts.wavlm_sv})" if opts.wavlm_sv else "resemblyzer-ge2e (packaged)"
    return {
        "wer": f"{asr.backend_name(opts.asr_model)}, beam {opts.beam_size}",
        "spk_sim": spk, "sim_o": f"ECAPA-TDNN on WavLM ({opts.sim_o})",
        "emo_sim": f"wav2vec2-emotion ({opts.emotion_model})" if opts.emotion_model else "none",
        "mcd": mcd.backend_name("auto", opts.mcd_alignment), "mcd_sl": mcd.backend_name("auto", opts.mcd_alignment),
        "lip_sync": sync.LIPSYNC_BACKEND, "dnsmos": quality.DNSMOS_BACKEND, "speech_rate": quality.VAD_BACKEND,
        "silence_rate": quality.SILENCE_BACKEND, "av_align_ms": sync.ONSET_BACKEND,
    }


def run_eval(items: list[Item], opts: EvalOptions, progress: Callable | None = None) -> EvalResult:
    """Score ``items`` with the chosen metrics."""
    return aggregate(items, opts, score_items(items, opts, progress))


def score_items(items: list[Item], opts: EvalOptions, progress: Callable | None = None) -> EvalResult:
    """The per-item metrics of ``items`` (rows, problems, backends); no summary yet (:func:`aggregate`)."""
    res = EvalResult()
    chosen = opts.chosen()
    names = backend_names(opts)
    per_item = [m for m in chosen if m in ITEM_METRICS and not (m == "mcd_sl" and "mcd" in chosen)]
    scorer = _Scorer(opts)
    if "emo_sim" in chosen and opts.emotion_model is None:
        res.unavailable["emo_sim"] = "no wav2vec2 emotion model given (pass --emotion-model FOLDER; no substitute)"
    if "sim_o" in chosen and opts.sim_o is None:
        res.unavailable["sim_o"] = "no ECAPA-TDNN + WavLM-large checkpoint (pass --sim-o wavlm_large_finetune.pth)"
    iterator = progress(items) if progress else items
    for item in iterator:
        row: dict = {"name": item.name, "setting": item.setting, "gen": str(item.gen or ""),
                     "ref": str(item.ref or ""), "prompt": str(item.prompt or "")}
        for p in item.problems:
            res.problems.append(f"{item.name}: {p}")
        if item.gen is None or not item.gen.is_file():
            res.rows.append(row)
            continue
        scorer.cache.clear()  # only the current item's files stay in memory
        for metric in per_item:
            if metric in res.unavailable:
                continue
            try:
                row.update(getattr(scorer, metric)(item))
                res.backends[metric] = names[metric]
                if metric == "mcd" and "mcd_sl" in chosen:
                    res.backends["mcd_sl"] = names["mcd_sl"]
            except BackendUnavailable as exc:
                res.unavailable[metric] = str(exc)
            except CheckpointError:
                raise  # a wrong model path is the user's to fix before scoring anything
            except _Skip as exc:
                res.problems.append(f"{item.name}: {metric} skipped: {exc}")
            except (DeepAudioError, RuntimeError, ValueError, OSError) as exc:
                res.problems.append(f"{item.name}: {metric} failed: {exc}")
        res.rows.append(row)
    return res


def aggregate(items: list[Item], opts: EvalOptions, res: EvalResult) -> EvalResult:
    """Means of the per-item metrics over ``res.rows`` and the set-level metrics of ``items``."""
    chosen = opts.chosen()
    for metric in chosen:
        if metric in ITEM_METRICS and metric not in res.unavailable:
            vals = [r[metric] for r in res.rows if isinstance(r.get(metric), float) and math.isfinite(r[metric])]
            if vals:
                res.summary[metric] = float(np.mean(vals))
                res.summary[f"{metric}_n"] = len(vals)
    _set_metrics(items, opts, [m for m in chosen if m in SET_METRICS], res)
    for metric in chosen:
        if metric not in res.summary and metric not in res.unavailable:
            res.unavailable[metric] = "no item had the inputs it needs (see problems)"
    return res


def _record(res: EvalResult, values: dict, name: str, scored: tuple[float, str, list[str]], why_missing: str) -> None:
    """Store one (value, backend, problems) score: its value and backend, or why it could not be computed."""
    value, backend, problems = scored
    res.problems.extend(problems)
    if math.isfinite(value):
        values[name] = value
        res.backends[name] = backend
    else:
        res.unavailable[name] = why_missing


def _set_metrics(items: list[Item], opts: EvalOptions, wanted: list[str], res: EvalResult) -> None:
    from deepaudio.eval import v2a

    if not wanted:
        return
    values: dict[str, float] = {}
    if opts.gen_features and opts.ref_features:
        cached = v2a.metrics_from_caches(v2a.load_feature_cache(opts.gen_features),
                                         v2a.load_feature_cache(opts.ref_features))
        for k, v in cached.items():
            values[k] = v
            res.backends[k] = f"av-benchmark feature cache ({opts.gen_features})"
    if opts.synchformer and "desync" in wanted and "desync" not in values:
        from deepaudio.eval.desync import desync_from_caches, desync_items

        cached = desync_from_caches(opts) if opts.gen_features and opts.ref_features else None
        _record(res, values, "desync", cached or desync_items(items, opts.synchformer, opts.device),
                "no generated clip paired with a video of at least 4.8 s (see problems)")
    if opts.imagebind and "ib_score" in wanted and "ib_score" not in values:
        from deepaudio.eval.imagebind import ib_score_items

        _record(res, values, "ib_score", ib_score_items(items, opts.imagebind, opts.device),
                "no generated clip paired with a video (see problems)")
    if opts.passt and any(m in wanted and m not in values for m in ("fd_passt", "kl_passt")):
        from deepaudio.eval.passt import passt_metrics

        for k, (v, backend) in passt_metrics(items, opts.passt, [m for m in wanted if m not in values],
                                             opts.device).items():
            values[k] = v
            res.backends[k] = backend
    if opts.panns or opts.vggish:
        from deepaudio.eval.audio_nets import embed_items

        for k, (v, backend) in embed_items(items, opts, [m for m in wanted if m not in values]).items():
            values[k] = v
            res.backends[k] = backend
    for m in wanted:
        if m in values:
            res.summary[m] = values[m]
        else:
            res.unavailable.setdefault(m, str(v2a.unavailable(m)))

