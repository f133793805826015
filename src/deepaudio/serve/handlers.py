"""What each tab (and its HTTP endpoint) does: plain functions over one :class:`Session`, free of Gradio.

A request reads only files inside the session's upload folder or its examples folder (anything else
is refused, whatever the API caller sends), works in its own temporary folder that is removed when the
request ends (success or error), and publishes its results by moving them into a fresh folder under
the upload/output folder, so a failed request leaves nothing half-written. Bad input raises the same
:class:`DeepAudioError` the CLI prints; :meth:`Session.message` turns it into the one line the page
shows, with server folders cut from file names.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from deepaudio.errors import ConfigError, DeepAudioError, InputError

Progress = Callable[..., object]
AUDIO_SUFFIXES = {".wav", ".flac", ".mp3", ".ogg", ".m4a", ".aac", ".opus", ".webm"}


def _no_progress(*_args, **_kwargs) -> None:
    return None


@dataclass(frozen=True)
class Limits:
    max_upload_mb: float = 200.0
    max_video_s: float = 120.0
    max_steps: int = 200  # V2A Euler steps and TTS ODE evaluations a request may ask for


class Session:
    """The loaded models and the folders of one running server, shared by all requests."""

    def __init__(self, pipe, root: str | Path, limits: Limits = Limits(), examples: str | Path | None = None,
                 think=None, workers: int = 1):
        self.pipe, self.limits = pipe, limits
        self.model_dir: Path | None = None  # the --model folder, for the sidecars (None: the bundled default)
        # The model runs on these threads only, not on whichever of the web server's pool threads takes the
        # request: each new thread that allocates tensors gets its own malloc arena, and the server's memory
        # grew round after round (bench_serve_load.py) while the same handlers on one thread stayed flat.
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="deepaudio-model")
        self.root = Path(root).resolve()
        self.files = self.root / "files"  # uploads (Gradio's cache) and published results
        self.work = self.root / "work"  # per-request temporary folders
        self.examples = Path(examples).resolve() if examples else self.root / "examples"
        for folder in (self.files, self.work, self.examples):
            folder.mkdir(parents=True, exist_ok=True)
        self._think = think

    @property
    def think(self):
        """DeepSound-V1 on the same V2A model (no second load)."""
        if self._think is None:
            from deepaudio.pipelines.think import ThinkPipeline

            self._think = ThinkPipeline(v2a=self.pipe.v2a, device=getattr(self.pipe.v2a, "device", "cpu"))
        return self._think

    # ------------------------------------------------------------------------------------ inputs
    def input_file(self, value, what: str, required: bool = True) -> Path | None:
        """An uploaded file's path, refused unless it lies inside the upload or examples folder."""
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                raise InputError(f"no {what} given", hint=f"upload a {what}")
            return None
        path = Path(value if isinstance(value, str) else getattr(value, "path", value)).resolve()
        if not any(path.is_relative_to(root) for root in (self.files, self.examples)):
            raise InputError(f"{what} is outside the server's upload folder", path.name, "upload the file instead")
        if not path.is_file():
            raise InputError(f"{what} not found", path.name, "upload it again")
        size_mb = path.stat().st_size / 1e6
        if size_mb > self.limits.max_upload_mb:
            raise InputError(f"{what} is {size_mb:.1f} MB, over this server's limit of "
                             f"{self.limits.max_upload_mb:g} MB", path.name, "upload a shorter or smaller file")
        return path

    def video(self, value, required: bool = True) -> Path | None:
        """An uploaded video that has frames and fits the length limit."""
        from deepaudio.io.video import probe_video

        path = self.input_file(value, "video", required)
        if path is not None:
            seconds = probe_video(path).duration
            if seconds > self.limits.max_video_s:
                raise InputError(f"video is {seconds:.1f} s long, over this server's limit of "
                                 f"{self.limits.max_video_s:g} s", path, "trim it first")
        return path

    def steps(self, value, name: str) -> int:
        try:
            x = float(value)
        except (TypeError, ValueError):
            x = float("nan")
        if not (x.is_integer() and 1 <= x <= self.limits.max_steps):
            raise ConfigError(f"{name} must be a whole number from 1 to {self.limits.max_steps}, got {value}")
        return int(x)

    # ------------------------------------------------------------------------------------ folders
    @contextmanager
    def request(self) -> Iterator[tuple[Path, Callable[..., list[Path]]]]:
        """``(work, publish)``: a temporary folder removed when the request ends, and ``publish(*paths)``
        that moves finished results into a new output folder and returns their new paths."""
        out = self.files / f"out-{uuid.uuid4().hex}"
        with tempfile.TemporaryDirectory(dir=self.work, prefix="req-") as tmp:
            work = Path(tmp)

            def publish(*paths: Path | None) -> list[Path | None]:
                out.mkdir(parents=True, exist_ok=True)
                return [None if p is None else Path(shutil.move(str(p), str(out / p.name))) for p in paths]

            yield work, publish

    def message(self, exc: BaseException) -> str:
        """The CLI's one-line message, with the server's folders cut from file names."""
        text = str(exc) if isinstance(exc, DeepAudioError) else \
            f"internal error ({type(exc).__name__}); the server log has the details"
        for root in sorted({str(self.root), str(self.examples)}, key=len, reverse=True):
            text = re.sub(re.escape(root) + r"/(?:[^\s/]+/)*", "", text)
        return " ".join(text.split())


# ---------------------------------------------------------------------------------------------- tabs
def _v2a_progress(progress: Progress, lo: float, hi: float) -> Callable[[str], None]:
    """The V2A pipeline's step callback ("window 1/2 step 3/25") as page progress between ``lo`` and ``hi``."""
    def step(msg: str) -> None:
        m = re.fullmatch(r"window (\d+)/(\d+) step (\d+)/(\d+)", msg)
        done = (int(m[1]) - 1 + int(m[3]) / int(m[4])) / int(m[2]) if m else 0.0
        progress(lo + (hi - lo) * done, desc=f"sound: {msg}")

    return step


def _tts_progress(progress: Progress, lo: float, hi: float) -> Callable[[int, int], None]:
    """The TTS ODE's step callback (k of n) as page progress between ``lo`` and ``hi``."""
    return lambda k, n: progress(lo + (hi - lo) * k / n, desc=f"speech: ODE step {k}/{n}")


def _v2a_kwargs(s: Session, steps, cfg, prompt: str = "", negative_prompt: str = "") -> dict:
    return {"steps": s.steps(steps, "steps"), "cfg_strength": None if cfg in (None, "") else float(cfg),
            "prompt": prompt or "", "negative_prompt": negative_prompt or ""}


def _seed(seed) -> int | None:
    return None if seed in (None, "") else int(seed)


def sound_for_video(s: Session, video, prompt: str = "", negative_prompt: str = "", steps=25, cfg=None, seed=42,
                    progress: Progress = _no_progress) -> tuple[Path, Path, Path, str]:
    """V2A: the video with its generated sound, the sound alone, and a picture of both."""
    from deepaudio.cli.common import write_result
    from deepaudio.io.audio import save_audio
    from deepaudio.viz import clip_figure, default_title

    path = s.video(video)
    kwargs = {**_v2a_kwargs(s, steps, cfg, prompt, negative_prompt), "progress": _v2a_progress(progress, 0.02, 0.85)}
    with s.request() as (work, publish):
        progress(0.02, desc="reading the video")
        result = s.pipe(video=path, task="v2a", seed=_seed(seed), v2a_kwargs=kwargs)
        progress(0.85, desc="writing the video and the picture")
        mp4 = write_result(result, path, work / f"{path.stem}_sound.mp4", model=s.model_dir)[0]
        wav = save_audio(work / f"{path.stem}_sound.wav", result.mix, result.sample_rate)
        png = clip_figure(path, result, work / f"{path.stem}_sound.png", title=default_title(result, seed=_seed(seed)))
        mp4, wav, png = publish(mp4, wav, png)
    return mp4, wav, png, f"{result.mix.shape[-1] / result.sample_rate:.2f} s of sound for {path.name}, " \
                          f"{kwargs['steps']} steps, seed {_seed(seed)}"


def speech(s: Session, text: str, ref_audio=None, ref_text: str = "", speed=1.0, nfe=7, seed=0,
           progress: Progress = _no_progress) -> tuple[Path, Path, str]:
    """TTS in the uploaded (or recorded) voice, or the bundled default voice when none is given."""
    from deepaudio.io.audio import load_audio, save_audio
    from deepaudio.pipelines.deepaudio import resolve_voice
    from deepaudio.viz import compare_spectrograms

    ref = s.input_file(ref_audio, "reference voice", required=False)
    if not 0.3 <= float(speed) <= 3.0:
        raise ConfigError(f"speed must be between 0.3 and 3, got {speed}")
    tts_kwargs = {"nfe": s.steps(nfe, "NFE"), "speed": float(speed), "progress": _tts_progress(progress, 0.02, 0.85)}
    with s.request() as (work, publish):
        progress(0.02, desc="reading the reference voice")
        result = s.pipe(task="tts", transcript=text, reference_audio=ref, reference_text=ref_text or None,
                        seed=_seed(seed), tts_kwargs=tts_kwargs)
        progress(0.9, desc="drawing the spectrograms")
        wav = save_audio(work / "speech.wav", result.mix, result.sample_rate)
        ref_path, _, _ = resolve_voice(ref, ref_text or None)
        ref_wav, sr = load_audio(ref_path, sample_rate=result.sample_rate, mono=True)
        png = compare_spectrograms([("reference voice", ref_wav, sr), (f'generated: "{text.strip()[:60]}"',
                                                                        result.mix, result.sample_rate)],
                                   work / "speech.png", f"speech in {result.voice}")
        wav, png = publish(wav, png)
    return wav, png, f'"{text.strip()}": {result.mix.shape[-1] / result.sample_rate:.2f} s of speech in {result.voice}'


def dub(s: Session, video, text: str = "", srt=None, ref_audio=None, ref_text: str = "", timing: str = "v2a",
        seed=0, steps=25, nfe=32, progress: Progress = _no_progress) -> tuple[Path, list[Path], Path, str]:
    """The video dubbed with speech timed to the picture (one transcript, or every SRT line in its window)."""
    from deepaudio.cli.common import write_result
    from deepaudio.io.audio import save_audio
    from deepaudio.io.srt import parse_srt
    from deepaudio.viz import clip_figure, default_title

    path = s.video(video)
    srt_path = s.input_file(srt, "subtitle file", required=False)
    if srt_path is not None and text and text.strip():
        raise InputError("give a transcript or a subtitle file, not both")
    cues = parse_srt(srt_path) if srt_path is not None else None
    ref = s.input_file(ref_audio, "reference voice", required=False)
    kw = dict(seed=_seed(seed), timing=timing, reference_text=ref_text or None,
              v2a_kwargs={**_v2a_kwargs(s, steps, None), "progress": _v2a_progress(progress, 0.02, 0.45)},
              tts_kwargs={"nfe": s.steps(nfe, "NFE"), "progress": _tts_progress(progress, 0.45, 0.8)})
    with s.request() as (work, publish):
        progress(0.01, desc="reading the video")
        if cues is not None:
            result = s.pipe.dub_subtitles(path, cues, ref, **kw)
        else:
            result = s.pipe(video=path, task="dub", transcript=text, reference_audio=ref, **kw)
        progress(0.8, desc="writing the video")
        mp4, side = write_result(result, path, work / f"{path.stem}_dub.mp4", model=s.model_dir)
        tracks = [save_audio(work / f"{path.stem}_{name}.wav", getattr(result, name), result.sample_rate)
                  for name in ("mix", "speech", "ambience") if getattr(result, name) is not None]
        png = clip_figure(path, result, work / f"{path.stem}_dub.png", title=default_title(result, seed=_seed(seed),
                                                                                             extra=f"timing {timing}"))
        mp4, png, side, *tracks = publish(mp4, png, side, *tracks)
    said = "; ".join(f"{a:.2f}-{b:.2f} s: {t}" for a, b, t in result.segments)
    return mp4, [*tracks, side], png, f"voice: {result.voice}\n{said}"


def instruction(s: Session, video, instruction_text: str, ref_audio=None, seed=0,
                progress: Progress = _no_progress) -> tuple[dict, Path | None, Path, str]:
    """The gate reads the instruction and picks the task; returns its probabilities and the result
    (a video with sound when a video was given, else the audio)."""
    from deepaudio.cli.common import write_result

    path = s.video(video, required=False)
    ref = s.input_file(ref_audio, "reference voice", required=False)
    if not instruction_text or not instruction_text.strip():
        raise InputError("the instruction is empty", hint='e.g. Dub this clip saying "hello there"')
    with s.request() as (work, publish):
        progress(0.01, desc="routing")
        result = s.pipe(video=path, instruction=instruction_text, reference_audio=ref, seed=_seed(seed),
                        v2a_kwargs={"progress": _v2a_progress(progress, 0.02, 0.45)},
                        tts_kwargs={"progress": _tts_progress(progress, 0.45, 0.85)})
        progress(0.9, desc="writing the result")
        # task 'think' writes its trace between the audio and the sidecar
        files = write_result(result, path, work / "result.wav", model=s.model_dir)
        wav, side = files[0], files[-1]
        mp4 = write_result(result, path, work / "result.mp4", model=s.model_dir)[0] if path is not None else None
        mp4, wav, side = publish(mp4, wav, side)
    status = result.route.explain() + (f"\nvoice: {result.voice}" if result.voice else "")
    return dict(result.route.probabilities), mp4, wav, status


def remove_voice_over(s: Session, video, track=None, seed=42, progress: Progress = _no_progress
                      ) -> tuple[Path, Path, str, Path]:
    """DeepSound-V1: find and remove voice-over in the generated (or given) sound; the trace readably."""
    from deepaudio.io.audio import save_audio
    from deepaudio.io.mux import mux_audio
    from deepaudio.pipelines.think import ThinkSettings
    from deepaudio.think.trace import trace_path_for

    path = s.video(video)
    audio = s.input_file(track, "sound track", required=False)
    with s.request() as (work, publish):
        progress(0.05, desc="thinking step by step")
        wav, sr, trace = s.think(path, audio, ThinkSettings(seed=_seed(seed)))
        out = save_audio(work / f"{path.stem}_clean.wav", wav, sr)
        mp4 = mux_audio(path, [(wav, sr, "cleaned")], work / f"{path.stem}_clean.mp4")
        side = trace.save(trace_path_for(out))
        out, mp4, side = publish(out, mp4, side)
    return out, mp4, trace_markdown(trace), side


def trace_markdown(trace) -> str:
    """The DeepSound trace as a numbered list a person can read (the JSON file has every number)."""
    lines = [f"**Outcome:** {trace.outcome}", ""]
    for k, step in enumerate(trace.steps, 1):
        head = f"{k}. **{step.name}**" + (f" (round {step.round})" if step.round else "")
        said = " ".join(x for x in (step.summary, step.caption, step.reasoning, step.conclusion) if x)
        lines.append(f"{head} — {said} _({step.seconds:.2f} s, {step.backend or 'measurement'})_")
    return "\n".join(lines)
