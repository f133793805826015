"""``deepaudio tts --text "..." --ref-audio voice.wav -o out.wav --ckpt DIR``: speech in a reference voice."""

from __future__ import annotations

import argparse
from pathlib import Path

from deepaudio.cli.common import add_device_arguments, model_dir_or_default, resolve_device, write_sidecar

NAME = "tts"
HELP = "speak text in the voice of a reference recording (F5-TTS)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument("--text", help="text to speak")
    src.add_argument("--text-file", type=Path, help="UTF-8 file with the text to speak")
    parser.add_argument("--ref-audio", type=Path, required=True, help="reference voice recording (3-15 s)")
    parser.add_argument("--ref-text", help="transcript of the reference (default: transcribed with Whisper)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="output audio file (.wav/.flac)")
    parser.add_argument("--ckpt", type=Path, help="TTS checkpoint folder (default: the bundled default)")
    parser.add_argument("--vocoder", type=Path, help="Vocos checkpoint folder (default: Griffin-Lim)")
    parser.add_argument("--nfe", type=int, default=32, help="ODE steps (default 32)")
    parser.add_argument("--cfg", type=float, default=2.0, help="F5 guidance strength (default 2.0; 0 = off)")
    parser.add_argument("--sway", type=float, default=-1.0, help="sway sampling coefficient (default -1)")
    parser.add_argument("--solver", choices=["euler", "midpoint", "rk4"], default="euler")
    parser.add_argument("--schedule", choices=["uniform", "epss"], default="uniform", help="time grid")
    parser.add_argument("--seed", type=int, help="random seed (default: random)")
    parser.add_argument("--speed", type=float, default=1.0, help="speaking rate factor (default 1.0)")
    parser.add_argument("--duration", type=float, help="seconds of new speech (default: from the text length)")
    add_device_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from deepaudio.errors import InputError
    from deepaudio.io.atomic import check_output_path
    from deepaudio.io.audio import save_audio
    from deepaudio.pipelines.tts import TTSPipeline

    device, dtype = resolve_device(args)
    check_output_path(args.output, [args.ref_audio])
    text = args.text
    if args.text_file is not None:
        try:
            text = args.text_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read the text file ({exc})", args.text_file) from exc
    pipe = TTSPipeline.from_pretrained(model_dir_or_default(args.ckpt, "tts"), vocoder=args.vocoder, device=device,
                                       dtype=dtype)
    wav, sr = pipe(text, args.ref_audio, ref_text=args.ref_text, nfe=args.nfe, cfg_strength=args.cfg,
                   sway=args.sway, solver=args.solver, schedule=args.schedule, seed=args.seed, speed=args.speed,
                   duration=args.duration)
    save_audio(args.output, wav, sr, inputs=[args.ref_audio])
    print(f"wrote {args.output} ({wav.shape[-1] / sr:.2f} s)")
    from deepaudio.assets import BUNDLED_LABEL, model_label

    info = {"task": "tts", "model": model_label(args.ckpt) or BUNDLED_LABEL, "text": text,
            "ref_audio": str(args.ref_audio), "seed": args.seed, "nfe": args.nfe, "cfg": args.cfg,
            "seconds": round(wav.shape[-1] / sr, 3)}
    print(f"wrote {write_sidecar(args.output, info)}")
    return 0
