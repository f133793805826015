"""``deepaudio tts --text "..." --ref-audio voice.wav -o out.wav --ckpt DIR``: speech in a reference voice."""

from __future__ import annotations

import argparse
from pathlib import Path

from deepaudio.cli.common import add_device_arguments, default_model_dir, resolve_device

NAME = "tts"
HELP = "speak text in the voice of a reference recording (F5-TTS)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument("--text", help="text to speak")
    src.add_argument("--text-file", type=Path, help="UTF-8 file with the text to speak")
    src.add_argument("--manifest", type=Path, help="batch: CSV/JSONL rows (name, text or text_file, ref_audio, "
                     "ref_text, duration, speed, seed), a folder or a .txt list of text files; -o is then a "
                     "folder of NAME.wav (sharded over the processes of torchrun)")
    parser.add_argument("--ref-audio", type=Path, help="reference voice recording (3-15 s; batch: for rows "
                        "without ref_audio)")
    parser.add_argument("--ref-text", help="transcript of the reference (default: transcribed with Whisper)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="output audio file (.wav/.flac; "
                        "batch: folder)")
    parser.add_argument("--overwrite", action="store_true", help="batch: regenerate existing outputs")
    parser.add_argument("--ckpt", type=Path, help="TTS checkpoint folder (default: the bundled default)")
    parser.add_argument("--vocoder", type=Path, help="Vocos checkpoint folder (default: Griffin-Lim)")
    parser.add_argument("--nfe", type=int, default=32, help="ODE steps (default 32)")
    parser.add_argument("--cfg", type=float, default=2.0, help="F5 guidance strength (default 2.0; 0 = off)")
    parser.add_argument("--sway", type=float, default=-1.0, help="sway sampling coefficient (default -1)")
    parser.add_argument("--solver", choices=["euler", "midpoint", "rk4"], default="euler")
    parser.add_argument("--schedule", choices=["uniform", "epss"], default="uniform", help="time grid")
    parser.add_argument("--seed", type=int, help="random seed (default: random; batch: 0, and each item's seed "
                        "derives from it and the item's name)")
    parser.add_argument("--speed", type=float, default=1.0, help="speaking rate factor (default 1.0)")
    parser.add_argument("--duration", type=float, help="seconds of new speech (default: from the text length)")
    add_device_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from deepaudio.errors import InputError
    from deepaudio.io.atomic import check_output_path
    from deepaudio.io.audio import save_audio
    from deepaudio.pipelines.tts import TTSPipeline

    device, dtype = resolve_device(args)
    if args.manifest is not None:
        return _batch(args, device, dtype)
    if args.ref_audio is None:
        raise InputError("no reference voice given", hint="pass --ref-audio voice.wav")
    check_output_path(args.output, [args.ref_audio])
    text = args.text
    if args.text_file is not None:
        try:
            text = args.text_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read the text file ({exc})", args.text_file) from exc
    pipe = TTSPipeline.from_pretrained(args.ckpt or default_model_dir("tts"), vocoder=args.vocoder, device=device,
                                       dtype=dtype)
    wav, sr = pipe(text, args.ref_audio, ref_text=args.ref_text, nfe=args.nfe, cfg_strength=args.cfg,
                   sway=args.sway, solver=args.solver, schedule=args.schedule, seed=args.seed, speed=args.speed,
                   duration=args.duration)
    save_audio(args.output, wav, sr, inputs=[args.ref_audio])
    print(f"wrote {args.output} ({wav.shape[-1] / sr:.2f} s)")
    return 0


def _batch(args: argparse.Namespace, device, dtype) -> int:
    from deepaudio.cli.batch import tts_batch
    from deepaudio.errors import InputError
    from deepaudio.pipelines.tts import TTSPipeline

    if args.output.suffix.lower() in (".wav", ".flac"):
        raise InputError("a batch writes into a folder", args.output, "give -o OUT_FOLDER")
    if args.ref_audio is not None and not args.ref_audio.is_file():
        raise InputError("reference voice not found", args.ref_audio)
    pipe = TTSPipeline.from_pretrained(args.ckpt or default_model_dir("tts"), vocoder=args.vocoder, device=device,
                                       dtype=dtype)
    return tts_batch(args, pipe, device)
