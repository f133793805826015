"""``deepaudio v2a VIDEO -o out.wav [--mux out.mp4]``: ambient sound for a video (or a batch of them)."""

from __future__ import annotations

import argparse
from pathlib import Path

from deepaudio.cli.common import add_device_arguments, default_model_dir, resolve_device
from deepaudio.io.batch_inputs import is_batch_source

NAME = "v2a"
HELP = "generate ambient sound synchronised with a video (any length; folder/CSV for batches)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("video", type=Path, help="video file, or a batch: a folder, a CSV/JSONL manifest (column "
                        "'video'; optional name, prompt, negative_prompt, duration, seed) or a .txt list of paths "
                        "(sharded over the processes of torchrun)")
    parser.add_argument("-o", "--output", type=Path, help="output .wav/.flac (batch: output folder)")
    parser.add_argument("--mux", type=Path, help="also write a copy of the video with this sound (batch: folder)")
    parser.add_argument("--model", type=Path, help="V2A pipeline folder (default: the bundled default)")
    parser.add_argument("--prompt", default="", help="text prompt describing the sound")
    parser.add_argument("--negative-prompt", default="", help="what the sound should not contain")
    parser.add_argument("--duration", type=float, help="seconds to generate (default: the whole video)")
    parser.add_argument("--steps", type=int, default=25, help="Euler steps (default 25)")
    parser.add_argument("--cfg", type=float, help="classifier-free guidance weight (default: the model's config.json "
                        "cfg_strength, else MMAudio's 4.5)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--overlap", type=float, default=1.0, help="seconds of overlap between windows")
    parser.add_argument("--overwrite", action="store_true", help="batch: regenerate existing outputs")
    add_device_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from deepaudio.errors import InputError
    from deepaudio.pipelines.v2a import V2APipeline

    device, dtype = resolve_device(args)
    if args.output is None and args.mux is None:
        raise InputError("no output given", hint="add -o out.wav and/or --mux out.mp4")
    pipe = V2APipeline.from_pretrained(args.model or default_model_dir("v2a"), device=device, dtype=dtype)
    if not is_batch_source(args.video):
        _one(pipe, args.video, args.output, args.mux, args, {})
        return 0
    from deepaudio.cli.batch import video_batch

    return video_batch(args, "v2a", device, lambda video, out, mux, opts, say: _one(pipe, video, out, mux, args,
                                                                                     opts, say))


def _one(pipe, video: Path, out: Path | None, mux: Path | None, args: argparse.Namespace, opts: dict,
         say=print) -> None:
    from deepaudio.io.atomic import check_output_path
    from deepaudio.io.audio import save_audio

    for p in (out, mux):
        if p is not None:
            check_output_path(p, [video])
    wav, sr = pipe(video, prompt=opts.get("prompt", args.prompt),
                   negative_prompt=opts.get("negative_prompt", args.negative_prompt),
                   duration=float(opts["duration"]) if "duration" in opts else args.duration, steps=args.steps,
                   cfg_strength=args.cfg, seed=int(opts.get("seed", args.seed)), overlap=args.overlap)
    if out is not None:
        save_audio(out, wav, sr, inputs=[video])
        say(f"wrote {out}")
    if mux is not None:
        from deepaudio.io.mux import mux_audio

        mux_audio(video, [(wav, sr, "ambience")], mux)
        say(f"wrote {mux}")
