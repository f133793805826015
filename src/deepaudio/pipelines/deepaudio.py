"""The end-to-end DeepAudio pipeline: instruction -> task -> ambience, speech, dubbing.

``DeepAudio.from_pretrained(dir)`` loads the gate, V2A, TTS and V2S parts named in the folder's
``config.json``; ``pipe(video=..., instruction=..., transcript=None, reference_audio=None,
reference_text=None)`` returns a :class:`DeepAudioResult`. The modules that run follow the gate, as
in the paper (eq. 2-4): V2A only for ``v2a``, TTS only for ``tts``, V2A then energy-conditioned TTS
for ``v2s`` (speech only) and ``dub`` (speech mixed over the ambience with ducking).

Timing (beyond the paper): the V2S contour comes from the V2A output's energy (``timing='v2a'``, the
paper's audio knowledge), from the speaker's mouth opening in the video (``timing='lips'``, see
``deepaudio.vision.mouth``; needs no V2A model: without one the ambience is skipped and the result is
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
from deepaudio.dsp.energy import energy_contour, fit_contour
from deepaudio.dsp.mix import mix_with_ducking
from deepaudio.errors import ConfigError, InputError
from deepaudio.pipelines.router import Route

SPEECH_RATE = 24000
MEL_HOP = 256  # TTS mel frames: 24000 / 256 = 93.75 per second
# Faster than this is not intelligible speech (read English runs at ~12-16 characters per second).
MAX_CHARS_PER_SECOND = 20.0
TIMINGS = ("v2a", "lips", "mix")


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


@dataclass
class DeepAudioResult:
    route: Route
    sample_rate: int
    mix: torch.Tensor  # (C, L): what goes on the sound track
    ambience: torch.Tensor | None = None
    speech: torch.Tensor | None = None
    contour: torch.Tensor | None = None  # the V2S timing contour (frames at 93.75/s)
    segments: list[tuple[float, float, str]] = field(default_factory=list)  # (start, end, text) spoken


def _resample(wav: torch.Tensor, sr: int, target: int) -> torch.Tensor:
    if sr == target:
        return wav
    from deepaudio.io.audio import resample

    return resample(wav, sr, target)


def check_reference(reference_audio) -> tuple[torch.Tensor, int]:
    """Load the reference voice once and refuse one that cannot carry a voice: shorter than 1 s, or silent."""
    from deepaudio.dsp.energy import is_silent
    from deepaudio.io.audio import load_audio

    where = reference_audio if isinstance(reference_audio, (str, Path)) else None
    if where is not None:
        wav, sr = load_audio(reference_audio, sample_rate=SPEECH_RATE, mono=True)
    else:
        wav, sr = reference_audio
        wav = torch.as_tensor(wav, dtype=torch.float32)
        wav = wav[None] if wav.ndim == 1 else wav
    if wav.shape[-1] < sr:
        raise InputError(f"reference voice is {wav.shape[-1] / sr:.2f} s long, shorter than 1 s", where,
                         "give 3-15 s of clean speech")
    if is_silent(wav, sr):
        raise InputError("reference voice is silent (over 90% of frames below -50 dB)", where,
                         "give a recording of the voice to imitate")
    return wav, sr


def contour_frames(seconds: float) -> int:
    return int(round(seconds * SPEECH_RATE / MEL_HOP))


def check_timing(timing: str) -> None:
    if timing not in TIMINGS:
        raise ConfigError(f"unknown timing {timing!r}", hint=f"use one of {', '.join(TIMINGS)}")


def timing_contour_for(video, timing: str, ambience: torch.Tensor | None, frames: int) -> torch.Tensor:
    """The V2S contour (frames,) for ``timing``: V2A energy, mouth opening, or their mean. Each part is
    divided by its own maximum first (both are in [0, 1] with peak 1), so ``mix`` lies between them."""
    check_timing(timing)
    parts = []
    if timing in ("v2a", "mix"):
        if ambience is None:
            raise ConfigError(f"timing '{timing}' needs a V2A model", hint="add a 'v2a' part, or use --timing lips")
        energy = fit_contour(energy_contour(ambience, SPEECH_RATE), frames)
        peak = energy.max() if energy.numel() else energy.new_zeros(())
        parts.append(energy / peak if peak > 0 else energy)
    if timing in ("lips", "mix"):
        from deepaudio.vision.mouth import mouth_contour

        parts.append(mouth_contour(video, n_frames=frames).to(parts[0].device if parts else "cpu"))
    return parts[0] if len(parts) == 1 else 0.5 * (parts[0] + parts[1])


def _video_samples(video) -> int:
    from deepaudio.io.video import probe_video

    return int(round(probe_video(video).duration * SPEECH_RATE))


class DeepAudio:
    def __init__(self, router=None, v2a=None, tts=None, v2s=None):
        self.router, self.v2a, self.tts, self.v2s = router, v2a, tts, v2s

    @classmethod
    def from_pretrained(cls, directory: str | Path, device: str | torch.device = "cpu",
                        dtype: torch.dtype = torch.float32, encoder_path: str | None = None) -> DeepAudio:
        from deepaudio.pipelines.router import Router
        from deepaudio.pipelines.tts import TTSPipeline
        from deepaudio.pipelines.v2a import V2APipeline

        directory = Path(directory)
        cfg = read_config(directory, "deepaudio_pipeline")["config"]

        def part(name):
            return directory / cfg[name] if cfg.get(name) else None

        router = Router.from_pretrained(part("router"), encoder_path, device) if part("router") else None
        v2a = V2APipeline.from_pretrained(part("v2a"), device, dtype) if part("v2a") else None
        vocoder = part("vocoder")
        tts = TTSPipeline.from_pretrained(part("tts"), vocoder=vocoder, device=device) if part("tts") else None
        if part("v2s") is not None and part("v2s") == part("tts"):
            v2s = tts  # one energy-conditioned checkpoint serves both tasks
        else:
            v2s = TTSPipeline.from_pretrained(part("v2s"), vocoder=vocoder, device=device) if part("v2s") else None
        return cls(router, v2a, tts, v2s)

    # ----------------------------------------------------------------------------------------- parts
    def route(self, instruction: str, task: str | None = None) -> Route:
        if self.router is None:
            if task is None:
                raise ConfigError("this pipeline has no instruction gate", hint="pass task= (v2a, tts, v2s, dub)")
            from deepaudio.models.gate import TASK_MODULES
            from deepaudio.pipelines.router import extract_transcript

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

    def speech_timed(self, transcript: str, reference_audio, reference_text, contour: torch.Tensor,
                     seed: int | None, fit: str = "error", where: str = "the video", samples: int | None = None,
                     **tts_kwargs) -> torch.Tensor:
        """Speech that fills exactly the contour's window (V2S: duration = prompt + contour frames),
        cropped or padded to ``samples`` (default: contour frames x hop)."""
        check_fits(transcript, contour.numel() * MEL_HOP / SPEECH_RATE, fit, where)
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

    # ------------------------------------------------------------------------------------------ call
    def __call__(self, video=None, instruction: str = "", transcript: str | None = None, reference_audio=None,
                 reference_text: str | None = None, task: str | None = None, seed: int | None = 0,
                 timing_contour: torch.Tensor | None = None, duck_db: float = -12.0, fit: str = "error",
                 v2a_kwargs: dict | None = None, tts_kwargs: dict | None = None,
                 timing: str = "v2a", mix_kwargs: dict | None = None) -> DeepAudioResult:
        """``mix_kwargs``: levelling options of ``dsp.mix.mix_with_ducking`` (speech_lufs, ambience_ratio_db)."""
        route = self.route(instruction, task)
        text = transcript if transcript is not None else route.transcript
        v2a_kwargs, tts_kwargs = dict(v2a_kwargs or {}), dict(tts_kwargs or {})
        if route.task in ("tts", "v2s", "dub"):
            if not text or not text.strip():
                raise InputError(f"the task '{route.task}' needs a transcript",
                                 hint='pass --text, or quote it in the instruction: saying "..."')
            if reference_audio is None:
                raise InputError(f"the task '{route.task}' needs a reference voice", hint="pass --ref-audio voice.wav")
            reference_audio = check_reference(reference_audio)
        if route.task in ("v2a", "v2s", "dub") and video is None:
            raise InputError(f"the task '{route.task}' needs a video", hint="pass --video")

        if route.task == "tts":
            wav, sr = self._need("tts")(text, reference_audio, reference_text, seed=seed, **tts_kwargs)
            wav = _resample(wav, sr, SPEECH_RATE)
            return DeepAudioResult(route, SPEECH_RATE, wav, speech=wav)
        if route.task == "v2a":
            ambience = self.ambience(video, seed, **v2a_kwargs)
            return DeepAudioResult(route, SPEECH_RATE, ambience, ambience=ambience)
        ambience = self._timed_ambience(video, route.task, timing, seed, v2a_kwargs)
        total = ambience.shape[-1] if ambience is not None else _video_samples(video)
        frames = contour_frames(total / SPEECH_RATE)
        contour = fit_contour(timing_contour, frames) if timing_contour is not None else \
            timing_contour_for(video, timing, ambience, frames)
        speech = self.speech_timed(text, reference_audio, reference_text, contour, seed, fit,
                                   samples=total, **tts_kwargs)
        duration = total / SPEECH_RATE
        if route.task == "v2s" or ambience is None:
            return DeepAudioResult(route, SPEECH_RATE, speech, ambience=ambience, speech=speech, contour=contour,
                                   segments=[(0.0, duration, text)])
        mix = mix_with_ducking(speech, ambience, SPEECH_RATE, duck_db=duck_db, **dict(mix_kwargs or {}))
        return DeepAudioResult(route, SPEECH_RATE, mix, ambience=ambience, speech=speech, contour=contour,
                               segments=[(0.0, duration, text)])

    def dub_subtitles(self, video, cues, reference_audio, reference_text: str | None = None, seed: int | None = 0,
                      timing_contour: torch.Tensor | None = None, duck_db: float = -12.0, fit: str = "error",
                      v2a_kwargs: dict | None = None, tts_kwargs: dict | None = None,
                      timing: str = "v2a", mix_kwargs: dict | None = None) -> DeepAudioResult:
        """Every cue spoken inside its own window, over one ambience track for the whole video."""
        from deepaudio.models.gate import TASK_MODULES

        if not cues:
            raise InputError("the subtitle file has no cues")
        reference_audio = check_reference(reference_audio)
        ambience = self._timed_ambience(video, "dub", timing, seed, dict(v2a_kwargs or {}))
        total = ambience.shape[-1] if ambience is not None else _video_samples(video)
        frames = contour_frames(total / SPEECH_RATE)
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
                               segments=segments)
