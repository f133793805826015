"""``deepaudio v2a VIDEO -o out.wav [--mux out.mp4]``: ambient sound for a video (or a batch of them)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from deepaudio.cli.common import add_device_arguments, list_batch_inputs, model_dir_or_default, resolve_device

NAME = "v2a"
HELP = "generate ambient sound synchronised with a video (any length; folder/CSV for batches)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("video", type=Path, help="video file, or a folder / CSV (column 'video') for a batch")
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
    from deepaudio.errors import DeepAudioError, InputError
    from deepaudio.pipelines.v2a import V2APipeline

    device, dtype = resolve_device(args)
    if args.output is None and args.mux is None:
        raise InputError("no output given", hint="add -o out.wav and/or --mux out.mp4")
    pipe = V2APipeline.from_pretrained(model_dir_or_default(args.model, "v2a"), device=device, dtype=dtype)
    if not args.video.is_dir() and args.video.suffix.lower() != ".csv":
        _note_prompt(pipe, [{}], args)
        _one(pipe, args.video, args.output, args.mux, args, {})
        return 0
    from tqdm import tqdm

    items = list_batch_inputs(args.video)
    _note_prompt(pipe, [opts for _, opts in items], args)
    failed = 0
    for video, opts in tqdm(items, desc="v2a", unit="video"):
        out = args.output / f"{video.stem}.wav" if args.output else None
        mux = args.mux / f"{video.stem}.mp4" if args.mux else None
        if not args.overwrite and all(p is None or p.exists() for p in (out, mux)):
            continue
        try:
            _one(pipe, video, out, mux, args, opts)
        except DeepAudioError as exc:  # one bad file is reported, the batch goes on
            failed += 1
            tqdm.write(f"deepaudio: error: {exc}", file=sys.stderr)
    print(f"{len(items) - failed}/{len(items)} videos done" + (f", {failed} failed" if failed else ""))
    return 1 if failed else 0


PROMPT_NOTE = ("note: this V2A model has no text conditioning (it was trained without prompts, like the bundled "
               "toy model); --prompt/--negative-prompt are ignored; official MMAudio weights use them")


def _note_prompt(pipe, item_opts: list[dict], args: argparse.Namespace) -> None:
    """One line, once per command, when prompts were given to a model that cannot use them."""
    if any(pipe.ignores_prompt(o.get("prompt", args.prompt), o.get("negative_prompt", args.negative_prompt))
           for o in item_opts):
        print(PROMPT_NOTE, file=sys.stderr, flush=True)


def _one(pipe, video: Path, out: Path | None, mux: Path | None, args: argparse.Namespace, opts: dict) -> None:
    from deepaudio.io.atomic import check_output_path
    from deepaudio.io.audio import save_audio

    for p in (out, mux):
        if p is not None:
            check_output_path(p, [video])
    from deepaudio.assets import BUNDLED_LABEL, model_label
    from deepaudio.cli.common import write_sidecar

    prompt, negative = opts.get("prompt", args.prompt), opts.get("negative_prompt", args.negative_prompt)
    wav, sr = pipe(video, prompt=prompt, negative_prompt=negative,
                   duration=float(opts["duration"]) if "duration" in opts else args.duration, steps=args.steps,
                   cfg_strength=args.cfg, seed=args.seed, overlap=args.overlap)
    if out is not None:
        save_audio(out, wav, sr, inputs=[video])
        print(f"wrote {out}")
    if mux is not None:
        from deepaudio.io.mux import mux_audio

        mux_audio(video, [(wav, sr, "ambience")], mux)
        print(f"wrote {mux}")
    info = {"task": "v2a", "model": model_label(args.model) or BUNDLED_LABEL, "video": str(video),
            "prompt": prompt, "negative_prompt": negative,
            "prompt_used": bool(prompt or negative) and pipe.text_conditioning,
            "text_conditioning": pipe.text_conditioning, "seed": args.seed, "steps": args.steps,
            "cfg": pipe.default_cfg if args.cfg is None else args.cfg}
    print(f"wrote {write_sidecar(out or mux, info)}")
