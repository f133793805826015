"""The end-to-end DeepAudio pipeline: instruction -> task -> ambience, speech, dubbing.

``DeepAudio.from_pretrained(dir)`` loads the gate, V2A, TTS and V2S parts named in the folder's
``config.json``; ``pipe(video=..., instruction=..., transcript=None, reference_audio=None,
reference_text=None)`` returns a :class:`DeepAudioResult`. The modules that run follow the gate, as
in the paper (eq. 2-4): V2A only for ``v2a``, TTS only for ``tts``, V2A then energy-conditioned TTS
for ``v2s`` (speech only) and ``dub`` (speech mixed over the ambience with ducking).

Timing (beyond the paper): the V2S contour comes from the V2A output's energy (``timing='v2a'``, the
paper's audio knowledge), from the speaker's mouth opening in the video (``timing='lips'``, see
``deepaudio.v2s.contour``; needs no V2A model: without one the ambience is skipped and the result is
speech only), from the mean of both (``timing='mix'``), or from a contour the caller supplies
(``timing_contour``, which wins over ``timing``).
Subtitle dubbing speaks each SRT cue inside its own window: the contour is cut to the cue and the
speech is placed at the cue's start over one ambience track for the whole video.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from deepaudio.checkpoint import read_config
from deepaudio.config import from_dict
from deepaudio.dsp.energy import fit_contour
from deepaudio.dsp.mix import mix_with_ducking
from deepaudio.errors import ConfigError, InputError
from deepaudio.models.router import Route
from deepaudio.pipelines.result import resolve_settings
from deepaudio.v2s.contour import MEL_HOP, SPEECH_RATE, check_timing, contour_length, timing_contour_for

# Faster than this is not intelligible speech (read English runs at ~12-16 characters per second).
MAX_CHARS_PER_SECOND = 20.0


V2S_NFE = 32  # the dubbing default of the CLI (run/dub --nfe) and the API


def check_fits(text: str, seconds: float, fit: str = "error", where: str = "the video") -> None:
    """Refuse a transcript too long for its window unless the caller accepts fast speech (``fit='speed'``)."""
    if fit not in ("error", "speed"):
        raise ConfigError(f"unknown fit mode {fit!r}", hint="use error or speed")
    from deepaudio.text.normalize import expand_english, is_cjk

    text = text if any(is_cjk(c) for c in text) else expand_english(text)  # "$5" takes "five dollars" to say
    rate = len(text.strip()) / max(seconds, 1e-6)
    if rate > MAX_CHARS_PER_SECOND and fit == "error":
        raise InputError(f"the transcript needs about {len(text.strip()) / 15:.1f} s of speech but {where} gives "
                         f"{seconds:.2f} s ({rate:.0f} characters/s)",
                         hint="shorten the text, or pass --fit speed to speak faster")


@dataclass(frozen=True)
class DeepAudioSettings:
    seed: int | None = 0  # V2A and TTS noise (subtitle cue k uses seed + k)
    duck_db: float = -12.0  # ambience level under speech when mixing (dub)
    fit: str = "error"  # a transcript too long for its window: "error", or "speed" to speak faster
    timing: str = "v2a"  # the V2S contour source: "v2a", "lips" or "mix"

    def __post_init__(self) -> None:
        from deepaudio import checks

        checks.seed("seed", self.seed), checks.number("duck_db", self.duck_db, -120, 0)
        check_timing(self.timing)
        if self.fit not in ("error", "speed"):
            raise ConfigError(f"unknown fit mode {self.fit!r}", hint="use error or speed")


def _settings(settings, seed, duck_db, fit, timing) -> tuple:
    s = resolve_settings(DeepAudioSettings, settings, seed=seed, duck_db=duck_db, fit=fit, timing=timing)
    return s.seed, s.duck_db, s.fit, s.timing


@dataclass(frozen=True)
class DeepAudioBundle:
    """The ``config.json`` of a DeepAudio folder: each part's sub-folder, or None where it has none."""

    router: str | None = None  # the instruction gate (without one, calls must name the task)
    v2a: str | None = None
    tts: str | None = None
    v2s: str | None = None  # the energy-conditioned TTS (may be the same folder as tts)
    vocoder: str | None = None  # a Vocos folder for the TTS parts (None: the TTS pipeline's default)


@dataclass
class DeepAudioResult:
    route: Route
    sample_rate: int
    mix: torch.Tensor  # (C, L): what goes on the sound track
    ambience: torch.Tensor | None = None
    speech: torch.Tensor | None = None
    contour: torch.Tensor | None = None  # the V2S timing contour (frames at 93.75/s)
    segments: list[tuple[float, float, str]] = field(default_factory=list)  # (start, end, text) spoken
    voice: str | None = None  # which reference voice spoke (None: no speech)
    vocoder: str | None = None  # which vocoder made the speech (None: no speech)
    trace: object | None = None  # task 'think': the step-by-step Trace (think.trace), saved beside the output

    # The attributes every pipeline result has (``pipelines.result.GenerationResult``).
    @property
    def audio(self) -> torch.Tensor:
        return self.mix

    @property
    def metadata(self) -> dict:
        return {"task": self.route.task, "explanation": self.route.explain(),
                "probabilities": self.route.probabilities,
                "segments": [{"start": a, "end": b, "text": t} for a, b, t in self.segments],
                **({"voice": self.voice} if self.voice else {}), **({"vocoder": self.vocoder} if self.vocoder else {})}


def _resample(wav: torch.Tensor, sr: int, target: int) -> torch.Tensor:
    if sr == target:
        return wav
    from deepaudio.io.audio import resample

    return resample(wav, sr, target)


def check_reference(reference_audio) -> tuple[torch.Tensor, int]:
    """Load the reference voice once (only the part TTS keeps: 15 s and a margin) and refuse one that cannot
    carry a voice, with the same checks as `deepaudio tts` (rate, length, silence, near-silence)."""
    from deepaudio.io.audio import load_audio, resample
    from deepaudio.pipelines.tts_reference import MAX_REFERENCE_SECONDS, check_reference_voice, check_voice

    where = reference_audio if isinstance(reference_audio, (str, Path)) else None
    if where is not None:
        wav, sr = load_audio(reference_audio, mono=True, max_seconds=MAX_REFERENCE_SECONDS + 0.5)
    else:
        wav, sr = reference_audio
        wav = torch.as_tensor(wav, dtype=torch.float32)
        wav = wav[None] if wav.ndim == 1 else wav
    check_voice(wav, int(sr), where)
    check_reference_voice(wav, int(sr), where)
    if where is not None and sr != SPEECH_RATE:
        wav, sr = resample(wav, sr, SPEECH_RATE), SPEECH_RATE
    return wav, sr


def _check_call(instruction, transcript, reference_audio, reference_text) -> None:
    """API arguments checked like the CLI's, raising the project's error types (the settings are checked by
    ``DeepAudioSettings``)."""
    from deepaudio import checks

    checks.text("instruction", instruction)
    for name, value in (("transcript", transcript), ("reference_text", reference_text)):
        if value is not None:
            checks.text(name, value)
    if reference_audio is not None and not isinstance(reference_audio, (str, Path)):
        if not (isinstance(reference_audio, (tuple, list)) and len(reference_audio) == 2):
            raise InputError("reference_audio must be a file path or (waveform, sample_rate)")
        wav, sr = reference_audio
        checks.number("reference sample rate", sr, 1, integer=True)
        if torch.as_tensor(wav).ndim not in (1, 2):
            raise InputError(f"reference waveform must be [samples] or [channels, samples], got "
                             f"{torch.as_tensor(wav).ndim} dimensions")


def resolve_voice(reference_audio, reference_text: str | None) -> tuple[object, str | None, str]:
    """(audio, text, label): the caller's reference voice, or the bundled default voice (with its own
    transcript) when none is given, as F5-TTS users get one. ``label`` says which, for messages and sidecars."""
    if reference_audio is not None:
        # the file's name only: a server must not show its folders, and a CLI user knows where the file is
        name = Path(reference_audio).name if isinstance(reference_audio, (str, Path)) else "(a waveform)"
        return reference_audio, reference_text, f"the reference voice {name}"
    if reference_text:
        raise InputError("a reference text was given without a reference voice",
                         hint="pass --ref-audio with it, or drop --ref-text to use the default voice")
    from deepaudio.assets import default_voice

    voice = default_voice()
    return voice.audio, voice.text, voice.label




def _clip(video):
    """The video probed once for the whole run (V2A, lip timing and length all read this clip)."""
    if video is None:
        return None
    from deepaudio.io.clip import VideoClip

    return VideoClip.of(video)


class DeepAudio:
    def __init__(self, router=None, v2a=None, tts=None, v2s=None, separator=None):
        self.router, self.v2a, self.tts, self.v2s = router, v2a, tts, v2s
        self.separator = separator  # task 'think': a SeparatorRemover (BS-RoFormer), else the built-in removers

    @classmethod
    def from_pretrained(cls, directory: str | Path | None = None, device: str | torch.device = "cpu",
                        dtype: torch.dtype = torch.float32, encoder_path: str | None = None,
                        vocoder: str | Path | None = None, separator: str | Path | None = None) -> DeepAudio:
        """Load a DeepAudio folder (``config.json`` of kind ``deepaudio_pipeline`` naming its parts);
        ``None`` loads the bundled default (``deepaudio/assets/default``). ``vocoder`` (a Vocos or BigVGAN
        folder) replaces the bundle's own for TTS and V2S; ``separator`` (a BS-RoFormer vocal checkpoint) is
        what task 'think' removes voice-over with."""
        from deepaudio.models.router import Router
        from deepaudio.pipelines.tts import TTSPipeline
        from deepaudio.pipelines.v2a import V2APipeline

        if directory is None:
            from deepaudio.assets import bundled_dir

            directory = bundled_dir("pipeline")
        directory = Path(directory)
        parts = from_dict(DeepAudioBundle, read_config(directory, "deepaudio_pipeline")["config"],
                          directory / "config.json", strict=True)

        def part(name):
            return directory / getattr(parts, name) if getattr(parts, name) else None

        router = Router.from_pretrained(part("router"), encoder_path, device) if part("router") else None
        v2a = V2APipeline.from_pretrained(part("v2a"), device, dtype) if part("v2a") else None
        vocoder = vocoder if vocoder is not None else part("vocoder")
        sep = None
        if separator is not None:
            from deepaudio.think.removal import SeparatorRemover

            sep = SeparatorRemover(separator, device)
        tts = TTSPipeline.from_pretrained(part("tts"), vocoder=vocoder, device=device) if part("tts") else None
        if part("v2s") is not None and part("v2s") == part("tts"):
            v2s = tts  # one energy-conditioned checkpoint serves both tasks
        else:
            v2s = TTSPipeline.from_pretrained(part("v2s"), vocoder=vocoder, device=device) if part("v2s") else None
        return cls(router, v2a, tts, v2s, sep)

    # ----------------------------------------------------------------------------------------- parts
    def route(self, instruction: str, task: str | None = None) -> Route:
        if self.router is None:
            if task is None:
                raise ConfigError("this pipeline has no instruction gate", hint="pass task= (v2a, tts, v2s, dub)")
            from deepaudio.models.gate import TASK_MODULES
            from deepaudio.models.router import extract_transcript

            return Route(task, {}, extract_transcript(instruction or ""), True, TASK_MODULES[task])
        return self.router(instruction, task)

    def _need(self, name: str):
        part = getattr(self, name)
        if part is None:
            raise ConfigError(f"this pipeline has no {name.upper()} model", hint=f"add a '{name}' part to the folder")
        return part

    def ambience(self, video, seed: int | None, **v2a_kwargs) -> torch.Tensor:
        wav, sr = self._need("v2a")(video, seed=seed, **v2a_kwargs)
        return _resample(wav, sr, SPEECH_RATE)

    def _timed_ambience(self, video, task: str, timing: str, seed: int | None, v2a_kwargs: dict) -> torch.Tensor | None:
        """Ambience for timing and mixing; ``None`` where lip timing makes it optional: always for v2s,
        and for dub when the pipeline has no V2A model (the dub is then speech only)."""
        check_timing(timing)
        if timing == "lips" and (task == "v2s" or self.v2a is None):
            return None
        return self.ambience(video, seed, **v2a_kwargs)

    def _check_speakable(self, text: str, what: str, reference_text: str | None, task: str = "dub") -> None:
        """Refuse text (and a reference transcript) the speaking model has no tokens for."""
        model = self.tts if task == "tts" else (self.v2s or self.tts)
        tokenizer = getattr(model, "tokenizer", None)
        if tokenizer is None:
            return
        tokenizer.check_speakable(text, what)
        if reference_text and reference_text.strip():
            tokenizer.check_speakable(reference_text, "reference text")

    def speech_timed(self, transcript: str, reference_audio, reference_text, contour: torch.Tensor,
                     seed: int | None, fit: str = "error", where: str = "the video", samples: int | None = None,
                     **tts_kwargs) -> torch.Tensor:
        """Speech that fills exactly the contour's window (V2S: duration = prompt + contour frames),
        cropped or padded to ``samples`` (default: contour frames x hop)."""
        check_fits(transcript, contour.numel() * MEL_HOP / SPEECH_RATE, fit, where)
        # V2S keeps NFE 32 (uniform, sway) unless told: its lip timing was measured there, EPSS 7 only for TTS
        tts_kwargs = {"nfe": V2S_NFE, **tts_kwargs}
        model = self.v2s or self._need("tts")
        if self.v2s is None or not model.model.config.energy_input:
            # No energy-conditioned model: plain TTS with the window's duration (timing by length only).
            wav, sr = model(transcript, reference_audio, reference_text, duration=contour.numel() * MEL_HOP /
                            SPEECH_RATE, seed=seed, **tts_kwargs)
        else:
            wav, sr = model(transcript, reference_audio, reference_text, energy=contour, ref_energy="speech", seed=seed,
                            **tts_kwargs)
        wav = _resample(wav, sr, SPEECH_RATE)
        n = contour.numel() * MEL_HOP if samples is None else samples
        return torch.nn.functional.pad(wav[..., :n], (0, max(0, n - wav.shape[-1])))

    def think(self, route: Route, video, audio=None, seed: int | None = 0, v2a_kwargs: dict | None = None,
              max_rounds: int = 2) -> DeepAudioResult:
        """Task 'think' (DeepSound-V1): find and remove voice-over, step by step.

        The sound cleaned is ``audio`` (a file or ``(wav, sr)``), else the video's own sound track when it
        has one (what "remove the narrator" asks for), else V2A audio generated for the video (the paper's
        step 1).
        """
        from deepaudio.io.video import probe_video
        from deepaudio.pipelines.think import ThinkPipeline, ThinkSettings

        if audio is None and probe_video(video).has_audio:
            audio = Path(video)
        kw = dict(v2a_kwargs or {})
        settings = ThinkSettings(max_rounds=max_rounds, seed=seed, steps=kw.get("steps"),
                                 cfg_strength=kw.get("cfg_strength"))
        device = getattr(self.v2a, "device", "cpu")
        wav, sr, trace = ThinkPipeline(self.v2a, None, self.separator, device)(video, audio, settings)
        return DeepAudioResult(route, sr, wav, ambience=wav, trace=trace)

    def _vocoder_label(self) -> str | None:
        tts = self.v2s or self.tts
        return getattr(getattr(tts, "vocoder", None), "label", None)

    # ------------------------------------------------------------------------------------------ call
    def __call__(self, video=None, instruction: str = "", transcript: str | None = None, reference_audio=None,
                 reference_text: str | None = None, task: str | None = None, seed: int | None = 0,
                 timing_contour: torch.Tensor | None = None, duck_db: float = -12.0, fit: str = "error",
                 v2a_kwargs: dict | None = None, tts_kwargs: dict | None = None,
                 timing: str = "v2a", settings: DeepAudioSettings | None = None, audio=None,
                 mix_kwargs: dict | None = None) -> DeepAudioResult:
        """The instruction's dispatch: the gate (or ``task``) picks v2a, tts, v2s, dub or think and the
        matching parts run. ``audio`` is the sound track task 'think' cleans (default: the video's own).
        ``mix_kwargs``: levelling options of ``dsp.mix.mix_with_ducking`` (speech_lufs, ambience_ratio_db)."""
        seed, duck_db, fit, timing = _settings(settings, seed, duck_db, fit, timing)
        _check_call(instruction, transcript, reference_audio, reference_text)
        route = self.route(instruction, task)
        video = _clip(video) if route.task not in ("tts", "think") else video
        text = transcript if transcript is not None else route.transcript
        v2a_kwargs, tts_kwargs = dict(v2a_kwargs or {}), dict(tts_kwargs or {})
        voice = None
        if route.task in ("tts", "v2s", "dub"):
            if not text or not text.strip():
                raise InputError(f"the task '{route.task}' needs a transcript",
                                 hint='pass --text, or quote it in the instruction: saying "..."')
            reference_audio, reference_text, voice = resolve_voice(reference_audio, reference_text)
            self._check_speakable(text, "transcript", reference_text, route.task)
            reference_audio = check_reference(reference_audio)
        if route.task in ("v2a", "v2s", "dub", "think") and video is None:
            raise InputError(f"the task '{route.task}' needs a video", hint="pass --video")
        if route.task == "think":
            return self.think(route, video, audio, seed, v2a_kwargs)

        if route.task == "tts":
            wav, sr = self._need("tts")(text, reference_audio, reference_text, seed=seed, **tts_kwargs)
            wav = _resample(wav, sr, SPEECH_RATE)
            return DeepAudioResult(route, SPEECH_RATE, wav, speech=wav, voice=voice, vocoder=self._vocoder_label())
        if route.task == "v2a":
            ambience = self.ambience(video, seed, **v2a_kwargs)
            return DeepAudioResult(route, SPEECH_RATE, ambience, ambience=ambience)
        ambience = self._timed_ambience(video, route.task, timing, seed, v2a_kwargs)
        total = ambience.shape[-1] if ambience is not None else int(round(video.duration * SPEECH_RATE))
        frames = contour_length(total / SPEECH_RATE)
        contour = fit_contour(timing_contour, frames) if timing_contour is not None else \
            timing_contour_for(video, timing, ambience, frames)
        speech = self.speech_timed(text, reference_audio, reference_text, contour, seed, fit,
                                   samples=total, **tts_kwargs)
        duration = total / SPEECH_RATE
        if route.task == "v2s" or ambience is None:
            return DeepAudioResult(route, SPEECH_RATE, speech, ambience=ambience, speech=speech, contour=contour,
                                   segments=[(0.0, duration, text)], voice=voice, vocoder=self._vocoder_label())
        mix = mix_with_ducking(speech, ambience, SPEECH_RATE, duck_db=duck_db, **dict(mix_kwargs or {}))
        return DeepAudioResult(route, SPEECH_RATE, mix, ambience=ambience, speech=speech, contour=contour,
                               segments=[(0.0, duration, text)], voice=voice, vocoder=self._vocoder_label())

    def dub_subtitles(self, video, cues, reference_audio=None, reference_text: str | None = None, seed: int | None = 0,
                      timing_contour: torch.Tensor | None = None, duck_db: float = -12.0, fit: str = "error",
                      v2a_kwargs: dict | None = None, tts_kwargs: dict | None = None,
                      timing: str = "v2a", settings: DeepAudioSettings | None = None,
                      mix_kwargs: dict | None = None) -> DeepAudioResult:
        """Every cue spoken inside its own window, over one ambience track for the whole video (in the
        bundled default voice when ``reference_audio`` is None)."""
        seed, duck_db, fit, timing = _settings(settings, seed, duck_db, fit, timing)
        from deepaudio.models.gate import TASK_MODULES

        _check_call("", None, reference_audio, reference_text)
        if not cues:
            raise InputError("the subtitle file has no cues")
        reference_audio, reference_text, voice = resolve_voice(reference_audio, reference_text)
        for cue in cues:  # before anything is generated: a cue in another script is named, not crashed on
            self._check_speakable(cue.text, f"subtitle {cue.index} ({cue.start:.2f}-{cue.end:.2f} s)", reference_text)
        video = _clip(video)
        reference_audio = check_reference(reference_audio)
        ambience = self._timed_ambience(video, "dub", timing, seed, dict(v2a_kwargs or {}))
        total = ambience.shape[-1] if ambience is not None else int(round(video.duration * SPEECH_RATE))
        frames = contour_length(total / SPEECH_RATE)
        contour = fit_contour(timing_contour, frames) if timing_contour is not None else \
            timing_contour_for(video, timing, ambience, frames)
        speech = torch.zeros(1, total) if ambience is None else torch.zeros_like(ambience[:1])
        segments = []
        for k, cue in enumerate(cues):
            a, b = int(round(cue.start * SPEECH_RATE / MEL_HOP)), int(round(cue.end * SPEECH_RATE / MEL_HOP))
            b = min(b, contour.numel())
            if b - a < 2:
                raise InputError(f"subtitle {cue.index} ({cue.start:.2f}-{cue.end:.2f} s) lies outside the video")
            s = int(round(cue.start * SPEECH_RATE))  # sample-exact placement; the contour is frame-exact
            n = min(total, int(round(cue.end * SPEECH_RATE))) - s
            piece = self.speech_timed(cue.text, reference_audio, reference_text, contour[a:b],
                                      None if seed is None else seed + k, fit, f"subtitle {cue.index}",
                                      samples=n, **dict(tts_kwargs or {}))
            speech[:, s:s + piece.shape[-1]] += piece[:, : total - s]
            segments.append((cue.start, cue.end, cue.text))
        mix = speech if ambience is None else mix_with_ducking(speech, ambience, SPEECH_RATE, duck_db=duck_db,
                                                               **dict(mix_kwargs or {}))
        route = Route("dub", {}, None, True, TASK_MODULES["dub"])
        return DeepAudioResult(route, SPEECH_RATE, mix, ambience=ambience, speech=speech, contour=contour,
                               segments=segments, voice=voice, vocoder=self._vocoder_label())
