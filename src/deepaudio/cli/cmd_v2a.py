"""``deepaudio v2a VIDEO -o out.wav [--mux out.mp4]``: ambient sound for a video (or a batch of them).

Without a video, ``deepaudio v2a --prompt "rain on a tin roof" --duration 8 -o rain.wav`` is text-to-audio
(MMAudio's no-video mode).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from deepaudio.cli.common import add_device_arguments, model_dir_or_default, option_float, resolve_device
from deepaudio.io.batch_inputs import is_batch_source

NAME = "v2a"
HELP = "generate ambient sound synchronised with a video (any length; folder/CSV for batches), or from text"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("video", type=Path, nargs="?", help="video file, or a batch: a folder, a CSV/JSONL manifest "
                        "(column 'video'; optional name, prompt, negative_prompt, duration, seed) or a .txt list of "
                        "paths (sharded over the processes of torchrun); leave out for text-to-audio (--prompt and "
                        "--duration)")
    parser.add_argument("-o", "--output", type=Path, help="output .wav/.flac (batch: output folder)")
    parser.add_argument("--mux", type=Path, help="also write a copy of the video with this sound (batch: folder)")
    parser.add_argument("--model", type=Path, help="V2A pipeline folder (default: the bundled default)")
    parser.add_argument("--prompt", default="", help="text prompt describing the sound")
    parser.add_argument("--negative-prompt", default="", help="what the sound should not contain")
    parser.add_argument("--duration", type=float, help="seconds to generate (default: the whole video; required "
                        "without a video)")
    parser.add_argument("--steps", type=int, default=25, help="Euler steps (default 25)")
    parser.add_argument("--cfg", type=float, help="classifier-free guidance weight (default: the model's config.json "
                        "cfg_strength, else MMAudio's 4.5)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--overlap", type=float, default=1.0, help="seconds of overlap between windows")
    parser.add_argument("--overwrite", action="store_true", help="batch: regenerate existing outputs")
    parser.add_argument("--compile", action="store_true", help="compile the guided network step (torch.compile, "
                        "frozen weights; pays from the first 8 s window; docs/speed.md)")
    add_device_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from deepaudio.errors import InputError
    from deepaudio.io.audio import check_audio_output
    from deepaudio.io.video import probe_video
    from deepaudio.pipelines.v2a import V2APipeline

    device, dtype = resolve_device(args)
    if args.output is None and args.mux is None:
        raise InputError("no output given", hint="add -o out.wav and/or --mux out.mp4")
    if args.video is None:
        if args.mux is not None:
            raise InputError("--mux needs a video", hint="leave out --mux for text-to-audio, or give a video")
        if not args.prompt.strip():
            raise InputError("text-to-audio needs a --prompt", hint='e.g. --prompt "rain on a tin roof" --duration 8')
        if args.duration is None or args.duration <= 0:
            raise InputError("text-to-audio needs a positive --duration", hint="e.g. --duration 8")
        if args.output is not None:
            check_audio_output(args.output, [])
    elif not is_batch_source(args.video):  # checked before the model is loaded
        probe_video(args.video)
        if args.output is not None:
            check_audio_output(args.output, [args.video])
    pipe = V2APipeline.from_pretrained(model_dir_or_default(args.model, "v2a"), device=device, dtype=dtype)
    if args.compile:
        pipe.compile()
    if args.video is None or not is_batch_source(args.video):
        _note_prompt(pipe, [{}], args)
        _one(pipe, args.video, args.output, args.mux, args, {})
        return 0
    from deepaudio.cli.batch import video_batch

    _note_prompt(pipe, [{}], args)
    return video_batch(args, "v2a", device, lambda video, out, mux, opts, say: _one(pipe, video, out, mux, args,
                                                                                     opts, say))


PROMPT_NOTE = ("note: this V2A model has no text conditioning (it was trained without prompts, like the bundled "
               "toy model); --prompt/--negative-prompt are ignored; official MMAudio weights use them")


def _note_prompt(pipe, item_opts: list[dict], args: argparse.Namespace) -> None:
    """One line, once per command, when prompts were given to a model that cannot use them."""
    if any(pipe.ignores_prompt(o.get("prompt", args.prompt), o.get("negative_prompt", args.negative_prompt))
           for o in item_opts):
        print(PROMPT_NOTE, file=sys.stderr, flush=True)


def _one(pipe, video: Path | None, out: Path | None, mux: Path | None, args: argparse.Namespace, opts: dict,
         say=print) -> None:
    from deepaudio.io.atomic import check_output_path
    from deepaudio.io.audio import save_audio

    inputs = [video] if video is not None else []
    for p in (out, mux):
        if p is not None:
            check_output_path(p, inputs)
    from deepaudio.assets import BUNDLED_LABEL, model_label
    from deepaudio.cli.common import write_sidecar

    prompt, negative = opts.get("prompt", args.prompt), opts.get("negative_prompt", args.negative_prompt)
    wav, sr = pipe(video, prompt=prompt, negative_prompt=negative,
                   duration=option_float(opts, "duration", args.duration, video), steps=args.steps,
                   cfg_strength=args.cfg, seed=int(opts.get("seed", args.seed)), overlap=args.overlap)
    if out is not None:
        save_audio(out, wav, sr, inputs=inputs)
        say(f"wrote {out}")
    if mux is not None:
        from deepaudio.io.mux import mux_audio

        mux_audio(video, [(wav, sr, "ambience")], mux)
        say(f"wrote {mux}")
    info = {"task": "v2a", "model": model_label(args.model) or BUNDLED_LABEL,
            "video": None if video is None else str(video),
            "prompt": prompt, "negative_prompt": negative,
            "prompt_used": bool(prompt or negative) and pipe.text_conditioning,
            "text_conditioning": pipe.text_conditioning, "seed": args.seed, "steps": args.steps,
            "cfg": pipe.default_cfg if args.cfg is None else args.cfg}
    say(f"wrote {write_sidecar(out or mux, info, inputs)}")
