"""``deepaudio dub --video in.mp4 (--text "..." | --srt subs.srt) --ref-audio voice.wav -o out.mp4``."""

from __future__ import annotations

import argparse
from pathlib import Path

from deepaudio.cli.common import add_pipeline_arguments, asr_kwargs, load_deepaudio, mix_options, write_result

NAME = "dub"
HELP = "dub a video: speech timed to the picture (whole clip or every SRT line) mixed over ambience"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--video", type=Path, required=True, help="video file, or a batch: a folder, a CSV/JSONL "
                        "manifest (video, text or srt, ref_audio, ref_text, speech_only, seed, name) or a .txt "
                        "list of paths (sharded over the processes of torchrun)")
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--text", help="transcript spoken over the whole clip")
    what.add_argument("--srt", type=Path, help="subtitles: every line spoken inside its own time window")
    parser.add_argument("--speech-only", action="store_true", help="no ambience in the mix (task v2s)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="out.mp4 (video + tracks) or out.wav "
                        "(batch: folder)")
    parser.add_argument("--format", choices=("mp4", "wav"), default="mp4", help="batch: output kind (default mp4)")
    parser.add_argument("--overwrite", action="store_true", help="batch: redo existing outputs")
    add_pipeline_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from deepaudio.cli.common import check_result_output
    from deepaudio.errors import InputError
    from deepaudio.io.audio import check_media_file
    from deepaudio.io.batch_inputs import is_batch_source

    if is_batch_source(args.video):
        return _batch(args)
    if not args.video.is_file():
        raise InputError("video not found", args.video)
    if args.text is None and args.srt is None:
        raise InputError("nothing to speak", hint="pass --text \"...\" or --srt subs.srt")
    check_result_output(args.output, args.video, [args.ref_audio, getattr(args, "srt", None)])
    if args.ref_audio is not None:
        check_media_file(args.ref_audio)
    pipe = load_deepaudio(args)
    v2a_kwargs, tts_kwargs = {"steps": args.steps, "cfg_strength": args.cfg}, {"nfe": args.nfe, **asr_kwargs(args)}
    if args.srt is not None:
        from deepaudio.io.srt import parse_srt

        result = pipe.dub_subtitles(args.video, parse_srt(args.srt), args.ref_audio, args.ref_text, seed=args.seed,
                                    duck_db=args.duck_db, fit=args.fit, v2a_kwargs=v2a_kwargs, tts_kwargs=tts_kwargs,
                                    timing=args.timing, mix_kwargs=mix_options(args))
    else:
        result = pipe(video=args.video, transcript=args.text, task="v2s" if args.speech_only else "dub",
                      reference_audio=args.ref_audio, reference_text=args.ref_text, seed=args.seed,
                      duck_db=args.duck_db, fit=args.fit, v2a_kwargs=v2a_kwargs, tts_kwargs=tts_kwargs,
                      timing=args.timing, mix_kwargs=mix_options(args))
    print(f"voice: {result.voice}")
    for path in write_result(result, args.video, args.output, model=args.model):
        print(f"wrote {path}")
    return 0


def _batch(args: argparse.Namespace) -> int:
    from deepaudio.cli.batch import dub_batch
    from deepaudio.cli.common import resolve_device
    from deepaudio.errors import InputError

    if args.text is not None or args.srt is not None:
        raise InputError("a batch takes its text from the manifest", hint="use a 'text' or 'srt' column")
    if args.output.suffix:
        raise InputError("a batch writes into a folder", args.output, "give -o OUT_FOLDER")
    pipe = load_deepaudio(args)
    return dub_batch(args, pipe, resolve_device(args)[0], write_result)
