"""``deepaudio run --video in.mp4 --instruction "..." -o out.mp4``: the instruction picks the task."""

from __future__ import annotations

import argparse
from pathlib import Path

from deepaudio.cli.common import add_pipeline_arguments, asr_kwargs, load_deepaudio, write_result
from deepaudio.models.gate import TASKS

NAME = "run"
HELP = "instruction-routed generation: ambience, speech, timed speech, a full dub or voice-over removal"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--video", type=Path, help="input video (needed for v2a, v2s and dub)")
    parser.add_argument("--instruction", required=True, help='e.g. "Dub this clip saying \\"hello there\\""')
    parser.add_argument("--text", help="transcript (default: the one quoted in the instruction)")
    parser.add_argument("--task", choices=TASKS, help="override the gate's decision")
    parser.add_argument("--audio", type=Path, help="task think: the sound track to clean (default: the video's "
                        "own, else V2A audio generated for it)")
    parser.add_argument("--separator", type=Path, help="task think: BS-RoFormer vocal checkpoint to remove the "
                        "voice-over with (default: span suppression / negative-prompt regeneration)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="out.mp4 (video + tracks) or out.wav")
    add_pipeline_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from deepaudio.cli.common import check_result_output
    from deepaudio.errors import InputError
    from deepaudio.io.audio import check_media_file

    if args.video is not None and not args.video.is_file():
        raise InputError("video not found", args.video)
    check_result_output(args.output, args.video, [args.ref_audio, args.audio, getattr(args, "srt", None)])
    if args.ref_audio is not None:
        check_media_file(args.ref_audio)
    if args.audio is not None:
        check_media_file(args.audio)
    pipe = load_deepaudio(args)
    result = dispatch(pipe, args)
    print(result.route.explain())
    if result.voice:
        print(f"voice: {result.voice}")
    for path in write_result(result, args.video, args.output, model=args.model):
        print(f"wrote {path}")
    return 0


def dispatch(pipe, args: argparse.Namespace):
    """Run one instruction on a loaded :class:`~deepaudio.pipelines.deepaudio.DeepAudio` with ``run``'s
    options (the web app's Instruction tab calls this too); returns the ``DeepAudioResult``."""
    return pipe(video=args.video, instruction=args.instruction, transcript=args.text, task=args.task,
                reference_audio=args.ref_audio, reference_text=args.ref_text, seed=args.seed,
                duck_db=args.duck_db, fit=args.fit, v2a_kwargs={"steps": args.steps, "cfg_strength": args.cfg},
                tts_kwargs={"nfe": args.nfe, **asr_kwargs(args)}, timing=args.timing,
                audio=getattr(args, "audio", None))
