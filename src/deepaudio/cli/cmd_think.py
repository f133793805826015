"""``deepaudio think VIDEO -o out.wav``: DeepSound-V1 step by step (find and remove unwanted voice-over).

Generates ambience with the V2A model (or takes ``--audio TRACK``, a track from any tool), checks it for
voice-over, removes it, checks for silence and post-processes; the trace is written as JSON beside the
output (``out.think.json``). A folder or CSV of videos runs a batch (``--audio`` then names a folder of
tracks matched by file stem, or a CSV column ``audio``).
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from deepaudio.cli.common import add_device_arguments, resolve_device
from deepaudio.io.batch_inputs import is_batch_source

NAME = "think"
HELP = "step-by-step generation: detect and remove voice-over (DeepSound-V1), with a JSON trace"
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".m4a", ".aac")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("video", type=Path, help="video file, or a folder / CSV (column 'video') for a batch")
    parser.add_argument("-o", "--output", type=Path, help="output .wav/.flac (batch: output folder)")
    parser.add_argument("--mux", type=Path, help="also write a copy of the video with this sound (batch: folder)")
    parser.add_argument("--audio", type=Path, help="inspect/clean this sound track instead of generating one "
                        "(batch: a folder of tracks named like the videos)")
    parser.add_argument("--model", type=Path, help="V2A pipeline folder (default: the bundled default; not "
                        "needed with --audio unless --post neg)")
    parser.add_argument("--reasoner", default="perception",
                        help="perception (offline, default) | openai:URL | local:PATH")
    parser.add_argument("--llm-model", default="default", help="model name sent to an openai: endpoint")
    parser.add_argument("--separator", type=Path, help="BS-RoFormer vocal checkpoint (.ckpt/.pth/.safetensors)")
    parser.add_argument("--post", choices=("rm", "rep", "neg"),
                        help="if the cleaned audio is silent: rm (no audio), rep (keep step-1 audio), neg "
                        "(regenerate with negative prompt 'human voice'); default neg with a V2A model, else rm")
    parser.add_argument("--max-rounds", type=int, default=2,
                        help="repeat detect/remove/check up to N times (default 2: a second round removes "
                        "remnants of the voice-over)")
    parser.add_argument("--steps", type=int, help="V2A Euler steps (default 25)")
    parser.add_argument("--cfg", type=float, help="V2A guidance weight (default: the model's)")
    parser.add_argument("--face-backend", default="auto", choices=("auto", "mediapipe", "dlib", "toon"),
                        help="face detector for visible talking (auto: real detectors; the cartoon detector "
                             "only on toy-world videos, whose container tag says so)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--overwrite", action="store_true", help="batch: redo existing outputs")
    add_device_arguments(parser)


def _pipeline(args: argparse.Namespace):
    from deepaudio.cli.common import model_dir_or_default
    from deepaudio.pipelines.think import ThinkPipeline
    from deepaudio.think.reasoners import make_reasoner

    device, dtype = resolve_device(args)
    need_v2a = args.audio is None or args.post == "neg" or args.model is not None
    model = model_dir_or_default(args.model, "v2a") if need_v2a else None
    pipe = ThinkPipeline.from_options(model, "perception", args.separator, device, dtype)
    if args.reasoner.startswith("openai:"):
        from deepaudio.think.reasoner_openai import OpenAIReasoner

        pipe.reasoner = OpenAIReasoner(args.reasoner.partition(":")[2], model=args.llm_model)
    elif args.reasoner != "perception":
        pipe.reasoner = make_reasoner(args.reasoner, device)
    from deepaudio.assets import model_label

    pipe.model_label = model_label(model)  # recorded in every trace: "bundled-default", a path, or None
    return pipe


def run(args: argparse.Namespace) -> int:
    from deepaudio.errors import InputError
    from deepaudio.io.audio import check_audio_output
    from deepaudio.pipelines.think import ThinkSettings

    if args.output is None and args.mux is None:
        raise InputError("no output given", hint="add -o out.wav and/or --mux out.mp4")
    settings = ThinkSettings(post=args.post, max_rounds=args.max_rounds, seed=args.seed, steps=args.steps,
                             cfg_strength=args.cfg, face_backend=args.face_backend)
    batch = is_batch_source(args.video)
    if args.audio is not None and not args.audio.exists():
        raise InputError("sound track not found", args.audio, "give an existing audio file (batch: folder)")
    if args.audio is not None and batch != args.audio.is_dir():
        raise InputError("--audio must be a folder for a batch and a file for one video", args.audio)
    if not batch and not args.video.is_file():
        raise InputError("video not found", args.video, "give an existing video file, folder or CSV")
    if not batch and args.output is not None:  # before any model is loaded
        check_audio_output(args.output, [args.video] + ([args.audio] if args.audio else []))
    pipe = _pipeline(args)
    if not batch:
        _one(pipe, args.video, args.audio, args.output, args.mux, settings)
        return 0
    from deepaudio.cli.batch import video_batch
    from deepaudio.think.trace import trace_path_for

    def one(video: Path, out: Path | None, mux: Path | None, opts: dict, say) -> None:
        item_settings = dataclasses.replace(settings, seed=int(opts["seed"]))
        _one(pipe, video, _batch_audio(args.audio, video, opts), out, mux, item_settings, say)

    return video_batch(args, "think", resolve_device(args)[0], one, side_file=trace_path_for)


def _batch_audio(folder: Path | None, video: Path, opts: dict) -> Path | None:
    from deepaudio.errors import InputError

    if "audio" in opts:
        p = Path(opts["audio"])
        return p if p.is_absolute() else video.parent / p
    if folder is None:
        return None
    for suffix in AUDIO_SUFFIXES:
        if (folder / f"{video.stem}{suffix}").is_file():
            return folder / f"{video.stem}{suffix}"
    raise InputError(f"no sound track named {video.stem}.* in the --audio folder", folder)


def _one(pipe, video: Path, audio: Path | None, out: Path | None, mux: Path | None, settings, say=print) -> None:
    from deepaudio.io.atomic import check_output_path
    from deepaudio.io.audio import save_audio
    from deepaudio.think.trace import trace_path_for

    inputs = [video] + ([audio] if audio else [])
    for p in (out, mux):
        if p is not None:
            check_output_path(p, inputs)
    wav, sr, trace = pipe(video, audio, settings)
    if out is not None:
        save_audio(out, wav, sr, inputs=inputs)
        say(f"wrote {out}")
    if mux is not None:
        from deepaudio.io.mux import mux_audio

        mux_audio(video, [(wav, sr, "think")], mux)
        say(f"wrote {mux}")
    trace.settings["model"] = getattr(pipe, "model_label", None)
    path = trace.save(trace_path_for(out or mux), inputs)
    say(f"{video.name}: {trace.outcome} (trace {path})")
