"""``deepaudio run --video in.mp4 --instruction "..." -o out.mp4``: the instruction picks the task."""

from __future__ import annotations

import argparse
from pathlib import Path

from deepaudio.cli.common import add_pipeline_arguments, load_deepaudio, mix_options, write_result

NAME = "run"
HELP = "instruction-routed generation: ambience, speech, timed speech or a full dub"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--video", type=Path, help="input video (needed for v2a, v2s and dub)")
    parser.add_argument("--instruction", required=True, help='e.g. "Dub this clip saying \\"hello there\\""')
    parser.add_argument("--text", help="transcript (default: the one quoted in the instruction)")
    parser.add_argument("--task", choices=("v2a", "tts", "v2s", "dub"), help="override the gate's decision")
    parser.add_argument("-o", "--output", type=Path, required=True, help="out.mp4 (video + tracks) or out.wav")
    add_pipeline_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from deepaudio.errors import InputError
    from deepaudio.io.atomic import check_output_path

    if args.video is not None and not args.video.is_file():
        raise InputError("video not found", args.video)
    check_output_path(args.output, [p for p in (args.video, args.ref_audio) if p is not None])
    pipe = load_deepaudio(args)
    result = pipe(video=args.video, instruction=args.instruction, transcript=args.text, task=args.task,
                  reference_audio=args.ref_audio, reference_text=args.ref_text, seed=args.seed,
                  duck_db=args.duck_db, fit=args.fit, v2a_kwargs={"steps": args.steps, "cfg_strength": args.cfg},
                  tts_kwargs={"nfe": args.nfe}, timing=args.timing, mix_kwargs=mix_options(args))
    print(result.route.explain())
    for path in write_result(result, args.video, args.output, model=args.model):
        print(f"wrote {path}")
    return 0
