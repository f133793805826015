"""DeepSound-V1: step-by-step audio generation that finds and removes unwanted voice-over.

``ThinkPipeline(v2a=..., reasoner=..., separator=...)(video) -> (waveform [C, L], rate, Trace)``.

Steps (DeepSound-V1 paper, section 3, with the thresholds of its reference code):
0. plan: the reasoner answers "Generate high-quality audio from video step-by-step.";
1. generate: V2A audio from the video (empty prompt), or take the track the user brings (``audio=``);
2. detect: does the audio contain voice-over (speech no one on screen produces)? If not, done;
3. remove: a BS-RoFormer separator (mix - vocals), else regenerate with the negative prompt
   "human voice" and suppress the spans before decoding, else (user track, no V2A) suppress the spans;
4. silence: more than 90 % of frames below -50 dB?  If silent, post-process: ``rm`` (no audio),
   ``rep`` (keep the step-1 audio) or ``neg`` (regenerate with the negative prompt "human voice").
``max_rounds`` repeats 2-4 on the cleaned audio while voice-over is still found; in a later round a
speech segment overlapping a span already removed is that voice-over's remnant and goes too
(``remnant_spans``). A final ``verify``
step measures the output. Every step is recorded in the trace (summary, caption, reasoning,
conclusion and its measurements).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from deepaudio.errors import ConfigError, InputError
from deepaudio.think.evidence import describe, gather_evidence, silence_stats
from deepaudio.think.reasoners import Answer, Media, PerceptionReasoner, Reasoner, make_reasoner
from deepaudio.think.removal import NEGATIVE_PROMPT, SPAN_PAD_S, NegativePromptRemover, SpanSuppressor, regenerate
from deepaudio.think.trace import Step, Trace
from deepaudio.think.visual import mouth_signals

POST_MODES = ("rm", "rep", "neg")


def remnant_spans(segments, removed, pad: float = SPAN_PAD_S) -> list[tuple[float, float]]:
    """Speech segments of a later round that overlap a span already removed (padded by ``pad``).

    What survives a removal round around a voice-over span is the rest of that voice (a word edge, a
    syllable that stood above the clamp level), merged by the VAD with whatever sound lies beside it;
    its mouth-motion score then measures the neighbouring sound, not the voice. Such a segment is
    removed again whatever its score (seen on held-out voice-over clips: the remnant of a voice-over
    next to dense impacts scored as on-screen against the moving objects and stayed).
    """
    out = []
    for seg in segments:
        s, e = (seg.start, seg.end) if hasattr(seg, "start") else seg
        if any(s < re + pad and e > rs - pad for rs, re in removed):
            out.append((float(s), float(e)))
    return out


@dataclass(frozen=True)
class ThinkSettings:
    post: str | None = None  # None: "neg" when a V2A model is loaded, else "rm"
    max_rounds: int = 2  # a second round re-detects and removes remnants of removed voice-over
    seed: int | None = 0
    steps: int | None = None  # V2A Euler steps (None: 25)
    cfg_strength: float | None = None  # V2A CFG (None: 4.5)
    keyframes: int = 8  # frames shown to a multimodal reasoner

    def __post_init__(self) -> None:
        if self.post is not None and self.post not in POST_MODES:
            raise ConfigError(f"unknown post-processing mode {self.post!r}", hint="choose rm, rep or neg")
        if self.max_rounds < 1:
            raise ConfigError(f"--max-rounds must be at least 1, got {self.max_rounds}")


def _step(name: str, ans: Answer | None = None, rnd: int = 0, backend: str = "", **measurements) -> Step:
    step = Step(name, rnd, backend=backend, measurements=measurements)
    if ans is not None:
        step.summary, step.caption, step.reasoning, step.conclusion = ans.summary, ans.caption, ans.reasoning, \
            ans.conclusion
        if ans.raw:
            step.measurements["raw_answer"] = ans.raw
    return step


class ThinkPipeline:
    def __init__(self, v2a=None, reasoner: Reasoner | None = None, remover=None,
                 device: str | torch.device = "cpu"):
        self.v2a = v2a
        self.reasoner = reasoner or PerceptionReasoner()
        self.remover = remover  # a SeparatorRemover, or None for the defaults
        self.device = torch.device(device)
        self._fallback = PerceptionReasoner()

    @classmethod
    def from_options(cls, model: str | Path | None = None, reasoner: str = "perception",
                     separator: str | Path | None = None, device: str | torch.device = "cpu",
                     dtype: torch.dtype = torch.float32) -> ThinkPipeline:
        """Build from CLI-style options (paths are local; nothing is downloaded)."""
        rsn = make_reasoner(reasoner, device)
        v2a = None
        if model is not None:
            from deepaudio.pipelines.v2a import V2APipeline

            v2a = V2APipeline.from_pretrained(model, device=device, dtype=dtype)
        remover = None
        if separator is not None:
            from deepaudio.think.removal import SeparatorRemover

            remover = SeparatorRemover(separator, device)
        return cls(v2a, rsn, remover, device)

    # --------------------------------------------------------------------------------------- helpers
    def _media(self, video: Path, wav: torch.Tensor, sr: int, keyframes: int) -> Media:
        if self.reasoner.name != "openai" or keyframes <= 0:
            return Media(wav, sr, video=video)
        from deepaudio.io.video import probe_video, read_frames

        dur = max(probe_video(video).duration, 1e-3)
        frames, times = read_frames(video, fps=keyframes / dur, size=224, crop="resize")
        return Media(wav, sr, frames[:keyframes], tuple(float(t) for t in times[:keyframes]), video)

    def _judge(self, ev, media: Media) -> tuple[Answer, str]:
        ans = self.reasoner.judge(ev, media)
        if ans.voice_over is None:  # the model gave no decision: fall back to the measurements, say so
            fb = self._fallback.judge(ev, media)
            fb.summary, fb.raw = ans.summary or fb.summary, ans.raw
            fb.reasoning = f"The {self.reasoner.name} reasoner gave no VOICE-OVER decision; decided from the " \
                           f"measurements. {fb.reasoning}"
            return fb, f"{self.reasoner.name} -> perception fallback"
        return ans, self.reasoner.name

    def _remover(self, video: Path, mode: str, settings: ThinkSettings):
        if self.remover is not None:
            return self.remover
        if self.v2a is not None and mode == "generate":
            return NegativePromptRemover(self.v2a, video, settings.seed, settings.steps, settings.cfg_strength)
        return SpanSuppressor()

    def _post(self, mode: str, video: Path, first: torch.Tensor, sr: int, settings: ThinkSettings):
        if mode == "rm":
            return torch.zeros_like(first), "audio removed (silent track)"
        if mode == "rep":
            return first.clone(), "kept the step-1 audio"
        wav, _ = regenerate(self.v2a, video, [], settings.seed, settings.steps, settings.cfg_strength,
                            NEGATIVE_PROMPT, duration=first.shape[-1] / sr)
        if self.v2a.sample_rate != sr:
            from deepaudio.io.audio import resample

            wav = resample(wav, self.v2a.sample_rate, sr)
        return wav, f"regenerated with the negative prompt {NEGATIVE_PROMPT!r}"

    # ------------------------------------------------------------------------------------------ call
    def __call__(self, video: str | Path, audio: str | Path | tuple[torch.Tensor, int] | None = None,
                 settings: ThinkSettings | None = None) -> tuple[torch.Tensor, int, Trace]:
        settings = settings or ThinkSettings()
        video = Path(video)
        if not video.is_file():
            raise InputError("video not found", video, "give an existing video file")
        mode = "audio" if audio is not None else "generate"
        if mode == "generate" and self.v2a is None:
            raise ConfigError("no V2A model to generate with", video, "give --model V2A_DIR or --audio TRACK")
        post = settings.post or ("neg" if self.v2a is not None else "rm")
        if post == "neg" and self.v2a is None:
            raise ConfigError("--post neg regenerates with a V2A model, none is loaded",
                              hint="give --model V2A_DIR or choose --post rm or rep")
        trace = Trace(str(video), mode, {**asdict(settings), "post": post, "reasoner": self.reasoner.name,
                                         "audio": None if audio is None or isinstance(audio, tuple) else str(audio)})
        t0 = time.perf_counter()
        trace.add(_step("plan", self.reasoner.plan(Media(torch.zeros(1, 0), 16000, video=video)),
                        backend=self.reasoner.name), t0)

        wav, sr = self._first_audio(video, audio, settings, trace)
        mouth = mouth_signals(video)
        wav = self._rounds(video, mode, wav, sr, mouth, post, settings, trace)
        t0 = time.perf_counter()
        ev = gather_evidence(wav, sr, mouth)
        trace.add(_step("verify", Answer("Measure the output.", describe(ev), "", f"{len(ev.off_screen())} "
                                         "off-screen speech segment(s) remain."), backend="perception",
                        evidence=ev.to_dict()), t0)
        return wav, sr, trace

    def _first_audio(self, video: Path, audio, settings: ThinkSettings, trace: Trace) -> tuple[torch.Tensor, int]:
        """Step 1: V2A audio from the video, or the user's track."""
        t0 = time.perf_counter()
        if audio is None:
            kw = {"steps": settings.steps} if settings.steps else {}
            if settings.cfg_strength is not None:
                kw["cfg_strength"] = settings.cfg_strength
            wav, sr = self.v2a(video, seed=settings.seed, **kw)
            gen = Answer("Generate audio from the video.", "", "V2A with an empty text prompt.",
                         f"Generated {wav.shape[-1] / sr:.2f} s at {sr} Hz.")
        else:
            wav, sr = self._load_track(audio)
            gen = Answer("Use the sound track the user brought (no generation).", "", "",
                         f"Loaded {wav.shape[-1] / sr:.2f} s at {sr} Hz.")
        trace.add(_step("generate", gen, backend="v2a" if audio is None else "user track",
                        seconds_audio=wav.shape[-1] / sr, sample_rate=sr), t0)
        return wav, sr

    def _rounds(self, video: Path, mode: str, wav: torch.Tensor, sr: int, mouth, post: str,
                settings: ThinkSettings, trace: Trace) -> torch.Tensor:
        """Steps 2-4, repeated up to ``max_rounds`` times while voice-over is found."""
        first = wav
        removed: list[tuple[float, float]] = []  # spans removed so far (their remnants go in later rounds)
        for rnd in range(1, settings.max_rounds + 1):
            t0 = time.perf_counter()
            ev = gather_evidence(wav, sr, mouth)
            ans, who = self._judge(ev, self._media(video, wav, sr, settings.keyframes))
            remnants = [sp for sp in remnant_spans(ev.segments, removed) if sp not in ans.spans]
            if remnants:
                ans.spans = tuple(sorted(set(ans.spans) | set(remnants)))
                ans.voice_over = True
                ans.conclusion += (f" {len(remnants)} segment(s) overlap voice-over removed in an earlier round: "
                                   "removed again as its remnant.")
            trace.add(_step("detect", ans, rnd, who, evidence=ev.to_dict(), voice_over=ans.voice_over,
                            spans=[list(s) for s in ans.spans], remnants=[list(s) for s in remnants]), t0)
            if not ans.voice_over or not ans.spans:
                trace.outcome = "no voice-over" if rnd == 1 else f"voice-over removed in {rnd - 1} round(s)"
                return wav
            t0 = time.perf_counter()
            remover = self._remover(video, mode, settings)
            wav, info = remover.remove(wav, sr, list(ans.spans))
            removed.extend(ans.spans)
            trace.add(_step("remove", Answer("Remove the voice-over.", "", "Speech with no talking face on screen.",
                                             f"Removed {len(ans.spans)} span(s) with {remover.name}."),
                            rnd, remover.name, **{k: v for k, v in info.items() if k != "backend"},
                            method=info.get("backend", "")), t0)
            t0 = time.perf_counter()
            st = silence_stats(wav, sr)
            trace.add(_step("silence", Answer("Is the cleaned audio silent?", f"Mean level {st['level_db']:.1f} dB, "
                                              f"{100 * st['silent_fraction']:.0f}% of frames below -50 dB.",
                                              "Silent when more than 90% of frames are below -50 dB.",
                                              "silent" if st["silent"] else "not silent"), rnd, "frame RMS", **st), t0)
            if st["silent"]:
                t0 = time.perf_counter()
                wav, what = self._post(post, video, first, sr, settings)
                trace.add(_step("post", Answer(f"Post-process a silent result ({post}).", "", "", what), rnd, post), t0)
                trace.outcome = f"silent after removal: {what}"
                return wav
            trace.outcome = f"voice-over removed ({rnd} round(s))"
        return wav

    @staticmethod
    def _load_track(audio) -> tuple[torch.Tensor, int]:
        if isinstance(audio, tuple):
            wav, sr = audio
            return torch.as_tensor(wav, dtype=torch.float32).reshape(-1, torch.as_tensor(wav).shape[-1]), int(sr)
        from deepaudio.io.audio import load_audio

        return load_audio(audio)
