"""Shared CLI option helpers: device/dtype, the bundled default model folder, per-item batch options."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from deepaudio.config import DTYPE_NAMES, resolve_dtype
from deepaudio.errors import ConfigError, InputError
from deepaudio.pipelines.outputs import (  # noqa: F401  (re-exported for the commands)
    VIDEO_SUFFIXES,
    check_result_output,
    write_result,
    write_sidecar,
)


def add_device_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda if available)")
    parser.add_argument("--dtype", choices=sorted(DTYPE_NAMES), default="fp32", help="compute precision (default fp32)")


def parse_device(name: str | None) -> torch.device:
    """``--device`` as a torch device (default: cuda if available); a clear error for a bad name or a CUDA
    device on a machine without one."""
    from deepaudio.distributed import cuda_device_for_rank

    name = name or ("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = cuda_device_for_rank(name)  # under torchrun, "cuda" is the rank's local GPU
    except RuntimeError as exc:
        raise ConfigError(f"bad --device {name!r}", hint="use cpu, cuda or cuda:N") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda was asked for but no CUDA device is available", hint="use --device cpu")
    return device


def resolve_device(args: argparse.Namespace) -> tuple[torch.device, torch.dtype]:
    device = parse_device(args.device)
    dtype = resolve_dtype(args.dtype)
    if device.type == "cpu" and dtype == torch.float16:
        raise ConfigError("fp16 is not supported on CPU", hint="use --dtype bf16 or fp32")
    return device, dtype


_NOTED = {"bundled": False, "pending": False}


def default_model_dir(part: str) -> Path:
    """Folder of a part of the bundled default model (``deepaudio/assets/default/<part>``). Every command
    that falls back to the bundled model comes through here, so this is where users are told, once per
    process, that what they hear is the toy model (on stderr: stdout stays the command's own output). The
    note is printed when the command has succeeded (:func:`flush_bundled_note`), so that a failure stays one
    line."""
    from deepaudio.assets import bundled_dir

    path = bundled_dir(part)
    if not _NOTED["bundled"]:
        _NOTED["bundled"] = _NOTED["pending"] = True
    return path


def flush_bundled_note() -> None:
    """Say once, after a successful command that used the bundled default, that its output is a toy output."""

    from deepaudio.assets import BUNDLED_NOTE

    if _NOTED["pending"]:
        _NOTED["pending"] = False
        print(BUNDLED_NOTE, file=sys.stderr, flush=True)


def model_dir_or_default(model: Path | None, part: str) -> Path:
    """``--model``/``--ckpt`` when given, else the bundled default ``part`` (with its note)."""
    return model if model is not None else default_model_dir(part)


def option_float(opts: dict, key: str, default, video: Path):
    """A numeric per-item option of a batch CSV row (the failure names the row's video)."""
    if key not in opts:
        return default
    import math

    try:
        value = float(opts[key])
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise InputError(f"batch CSV column {key}={opts[key]!r} is not a positive number", video)
    return value


ASR_HELP = ("local faster-whisper (CTranslate2) folder that transcribes the reference voice when no --ref-text "
            "is given (default: the packaged Whisper tiny.en, English only)")
LANGUAGE_HELP = "language of the reference voice for --asr-model, e.g. en, fr, zh (default: detected)"


def add_asr_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--asr-model", type=Path, help=ASR_HELP)
    parser.add_argument("--language", help=LANGUAGE_HELP)


def asr_kwargs(args: argparse.Namespace) -> dict:
    """``asr_model``/``asr_language`` for the TTS call; a bad folder is reported before any model loads."""
    if getattr(args, "asr_model", None) is None:
        return {"asr_language": args.language} if getattr(args, "language", None) else {}
    from deepaudio.perception.asr import resolve_model_path

    resolve_model_path(args.asr_model)
    return {"asr_model": str(args.asr_model), "asr_language": args.language}


VOCODER_HELP = ("mel vocoder for TTS/V2S: a Vocos or BigVGAN-v2 24 kHz folder, converted or as released, or "
                "'griffin-lim' (default: the model's own, else the bundled small vocoder when it reads the model's "
                "mel, else Griffin-Lim); its mel is checked against the TTS's")


def add_pipeline_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared by ``run`` and ``dub``."""
    parser.add_argument("--model", type=Path, help="DeepAudio pipeline folder (default: the bundled default)")
    parser.add_argument("--ref-audio", type=Path, help="reference voice (wav/flac/mp3...; default: the bundled "
                        "default voice)")
    parser.add_argument("--ref-text", help="transcript of the reference voice (default: transcribed offline)")
    parser.add_argument("--vocoder", type=Path, help=VOCODER_HELP)
    add_asr_arguments(parser)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=25, help="V2A Euler steps")
    parser.add_argument("--cfg", type=float, help="V2A guidance weight (default: the model's)")
    parser.add_argument("--nfe", type=int, default=32, help="TTS/V2S ODE steps")
    parser.add_argument("--duck-db", type=float, default=-12.0,
                        help="ambience lowered by this much while speech is active (dB, default -12; 0 = no ducking)")
    parser.add_argument("--speech-lufs", type=float, default=-20.0,
                        help="speech loudness in the mix (LUFS, default -20)")
    parser.add_argument("--ambience-ratio-db", type=float, default=10.0,
                        help="ambience kept at least this many dB below the speech loudness (default 10)")
    parser.add_argument("--no-levelling", action="store_true",
                        help="mix the tracks at their own levels (ducking only)")
    parser.add_argument("--fit", choices=("error", "speed"), default="error",
                        help="a transcript too long for its window: stop with an error, or speak faster")
    parser.add_argument("--timing", choices=("v2a", "lips", "mix"), default="v2a",
                        help="speech timing from the V2A ambience energy (the paper), the speaker's mouth opening "
                             "(needs a visible face; works without V2A weights) or the mean of both")
    add_device_arguments(parser)


def mix_options(args: argparse.Namespace) -> dict:
    """``mix_kwargs`` of the DeepAudio pipeline from the ``run``/``dub`` options."""
    if args.no_levelling:
        return {"speech_lufs": None, "ambience_ratio_db": None}
    return {"speech_lufs": args.speech_lufs, "ambience_ratio_db": args.ambience_ratio_db}


def load_deepaudio(args: argparse.Namespace):
    from deepaudio.pipelines.deepaudio import DeepAudio

    device, dtype = resolve_device(args)
    return DeepAudio.from_pretrained(model_dir_or_default(args.model, "pipeline"), device=device, dtype=dtype,
                                     vocoder=getattr(args, "vocoder", None),
                                     separator=getattr(args, "separator", None))

