"""``deepaudio tts --text "..." --ref-audio voice.wav -o out.wav --ckpt DIR``: speech in a reference voice."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from deepaudio.cli.common import (
    VOCODER_HELP,
    add_asr_arguments,
    add_device_arguments,
    asr_kwargs,
    model_dir_or_default,
    resolve_device,
    write_sidecar,
)

NAME = "tts"
HELP = "speak text in the voice of a reference recording (F5-TTS)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument("--text", help="text to speak")
    src.add_argument("--text-file", type=Path, help="UTF-8 file with the text to speak")
    src.add_argument("--manifest", type=Path, help="batch: CSV/JSONL rows (name, text or text_file, ref_audio, "
                     "ref_text, duration, speed, seed), a folder or a .txt list of text files; -o is then a "
                     "folder of NAME.wav (sharded over the processes of torchrun)")
    parser.add_argument("--ref-audio", type=Path, help="reference voice recording (3-15 s; default: the bundled "
                        "default voice; batch: for rows without ref_audio)")
    parser.add_argument("--ref-text", help="transcript of the reference (default: transcribed with Whisper)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="output audio file (.wav/.flac; "
                        "batch: folder)")
    parser.add_argument("--overwrite", action="store_true", help="batch: regenerate existing outputs")
    parser.add_argument("--ckpt", type=Path, help="TTS checkpoint folder (default: the bundled default)")
    parser.add_argument("--vocoder", type=Path, help=VOCODER_HELP)
    parser.add_argument("--nfe", type=int, default=7, help="ODE steps (default 7, EPSS; 32 with --schedule uniform "
                        "was the default before: equal quality measured, docs/speed.md)")
    parser.add_argument("--cfg", type=float, default=2.0, help="F5 guidance strength (default 2.0; 0 = off)")
    parser.add_argument("--sway", type=float, default=-1.0, help="sway sampling coefficient (default -1)")
    parser.add_argument("--solver", choices=["euler", "midpoint", "rk4"], default="euler")
    parser.add_argument("--schedule", choices=["uniform", "epss"], default="epss",
                        help="time grid (default epss; a step count EPSS has no table for runs uniform)")
    parser.add_argument("--seed", type=int, help="random seed (default: random; batch: 0, and each item's seed "
                        "derives from it and the item's name)")
    parser.add_argument("--speed", type=float, default=1.0, help="speaking rate factor (default 1.0)")
    parser.add_argument("--timbre", type=float, default=1.0, help="0..1: match the speech's spectral envelope to "
                        "the reference voice's (default 1; 0 = the model's own)")
    parser.add_argument("--adapt", type=int, default=0, help="speaker adaptation: train the biases of a copy of the "
                        "model on the reference for this many steps before speaking (default 0 = off; 60 raised "
                        "unheard synthetic voices' similarity but lowered real voices', docs/tts.md)")
    parser.add_argument("--duration", type=float, help="seconds of new speech (default: from the text length)")
    add_asr_arguments(parser)
    parser.add_argument("--compile", action="store_true", help="compile the network (torch.compile, frozen "
                        "weights): ~40 s (F5 Base, 2 cores) per new length; for long equal-length batches")
    parser.add_argument("--int8", action="store_true", help="static int8 on an x86 CPU (needs torchao and fp32 "
                        "weights; approximate; the first call calibrates, each new length compiles, ~1.5 min for "
                        "F5 Base): for long equal-length batches")
    add_device_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from deepaudio import checks
    from deepaudio.errors import InputError
    from deepaudio.io.audio import check_audio_output, check_media_file, save_audio
    from deepaudio.pipelines.deepaudio import resolve_voice
    from deepaudio.pipelines.tts import TTSPipeline

    device, dtype = resolve_device(args)
    _check_int8(args, device)
    if args.manifest is not None:
        return _batch(args, device, dtype)
    # Everything a user can get wrong is checked before the model is loaded.
    ref_audio, ref_text, voice = resolve_voice(args.ref_audio, args.ref_text)
    check_audio_output(args.output, [ref_audio] + ([args.text_file] if args.text_file else []))
    check_media_file(ref_audio)
    text = args.text
    if args.text_file is not None:
        try:
            text = args.text_file.read_text(encoding="utf-8")
        except OSError as exc:
            raise InputError(f"cannot read the text file ({exc.strerror})", args.text_file) from exc
        except UnicodeDecodeError as exc:
            raise InputError(f"text file is not UTF-8 (byte {exc.start})", args.text_file,
                             "save it as UTF-8") from exc
        checks.text("text file", text)
    asr = asr_kwargs(args)
    pipe = TTSPipeline.from_pretrained(model_dir_or_default(args.ckpt, "tts"), vocoder=args.vocoder, device=device,
                                       dtype=dtype)
    _speed_options(args, pipe)
    result = pipe(text, ref_audio, ref_text=ref_text, nfe=args.nfe, cfg_strength=args.cfg,
                  sway=args.sway, solver=args.solver, schedule=args.schedule, seed=args.seed, speed=args.speed,
                  timbre=args.timbre, adapt=args.adapt, duration=args.duration, progress=_progress(text), **asr)
    wav, sr = result
    save_audio(args.output, wav, sr, inputs=[ref_audio])
    print(f"wrote {args.output} ({wav.shape[-1] / sr:.2f} s) in {voice}")
    from deepaudio.assets import BUNDLED_LABEL, model_label

    info = {"task": "tts", "model": model_label(args.ckpt) or BUNDLED_LABEL, "text": text, "voice": voice,
            "ref_audio": str(ref_audio), "vocoder": pipe.vocoder.label, "seed": args.seed, "nfe": args.nfe,
            "cfg": args.cfg, "timbre": args.timbre, "adapt": result.metadata["adapt"],
            "seconds": round(wav.shape[-1] / sr, 3)}
    if args.int8:  # one text is one solve: the calibrating one, computed in fp32
        info["int8"] = "calibrated only (this solve ran in fp32; int8 pays from the second call: use --manifest)"
        print("note: --int8 calibrates on the first solve, which runs in fp32; a single text gains nothing "
              "(give a --manifest batch)", file=sys.stderr)
    print(f"wrote {write_sidecar(args.output, info, [ref_audio])}")
    return 0


def _check_int8(args: argparse.Namespace, device) -> None:
    """--int8's needs, before a model is loaded: fp32 weights, a CPU, torchao."""
    if not args.int8:
        return
    from deepaudio.errors import ConfigError
    from deepaudio.quant import require_torchao

    if args.dtype != "fp32":
        raise ConfigError(f"--int8 quantises fp32 weights; --dtype {args.dtype} was given",
                          hint="leave out --dtype (or give fp32) with --int8")
    if device.type != "cpu":
        raise ConfigError(f"--int8 runs on x86 CPUs only; the device is {device}",
                          hint="use --dtype bf16 on a GPU instead")
    require_torchao()


def _speed_options(args: argparse.Namespace, pipe) -> None:
    """--int8 (which compiles its int8 graphs itself) or --compile."""
    if args.int8:
        pipe.quantize_int8()
    elif args.compile:
        pipe.compile()


def _progress(text: str):
    """A progress line on stderr for long texts (several batches of chunks), None for short ones."""
    import sys

    if len(text) < 400:
        return None
    state = {"batch": 0}

    def show(i: int, n: int) -> None:
        state["batch"] += i == 1
        end = "\n" if i == n and not sys.stderr.isatty() else ""
        print(f"\rdeepaudio: batch {state['batch']} step {i}/{n}", end=end, file=sys.stderr, flush=True)

    return show


def _batch(args: argparse.Namespace, device, dtype) -> int:
    from deepaudio.cli.batch import tts_batch
    from deepaudio.errors import InputError
    from deepaudio.pipelines.tts import TTSPipeline

    if args.output.suffix.lower() in (".wav", ".flac"):
        raise InputError("a batch writes into a folder", args.output, "give -o OUT_FOLDER")
    if args.ref_audio is not None and not args.ref_audio.is_file():
        raise InputError("reference voice not found", args.ref_audio)
    pipe = TTSPipeline.from_pretrained(model_dir_or_default(args.ckpt, "tts"), vocoder=args.vocoder, device=device,
                                       dtype=dtype)
    _speed_options(args, pipe)
    return tts_batch(args, pipe, device)
