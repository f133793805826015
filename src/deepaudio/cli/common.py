"""Shared CLI option helpers: device/dtype, the bundled default model folder, batch inputs."""

from __future__ import annotations

import argparse
import csv
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


def resolve_device(args: argparse.Namespace) -> tuple[torch.device, torch.dtype]:
    from deepaudio.distributed import cuda_device_for_rank

    name = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = cuda_device_for_rank(name)  # under torchrun, "cuda" is the rank's local GPU
    except RuntimeError as exc:
        raise ConfigError(f"bad --device {name!r}") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda was asked for but no CUDA device is available", hint="use --device cpu")
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
    import sys

    from deepaudio.assets import BUNDLED_NOTE

    if _NOTED["pending"]:
        _NOTED["pending"] = False
        print(BUNDLED_NOTE, file=sys.stderr, flush=True)


def model_dir_or_default(model: Path | None, part: str) -> Path:
    """``--model``/``--ckpt`` when given, else the bundled default ``part`` (with its note)."""
    return model if model is not None else default_model_dir(part)


def list_batch_inputs(source: Path) -> list[tuple[Path, dict[str, str]]]:
    """Videos of a folder (sorted) or of a CSV with a ``video`` column (other columns are per-item options)."""
    if source.is_dir():
        items = sorted(p for p in source.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)
        return [(p, {}) for p in items]
    if source.suffix.lower() == ".csv":
        try:
            with source.open(newline="", encoding="utf-8") as f:
                rows = list(csv.DictReader(f))
        except UnicodeDecodeError as exc:
            raise InputError(f"batch CSV is not UTF-8 (byte {exc.start})", source, "save it as UTF-8") from exc
        except csv.Error as exc:
            raise InputError(f"batch CSV cannot be parsed ({exc})", source) from exc
        if not rows or "video" not in rows[0]:
            raise InputError("batch CSV needs a 'video' column", source)
        bad = [i + 2 for i, r in enumerate(rows) if not isinstance(r.get("video"), str) or not r["video"].strip()]
        if bad:
            raise InputError(f"batch CSV row(s) {', '.join(map(str, bad[:5]))} name no video", source)
        return [(Path(r["video"]) if Path(r["video"]).is_absolute() else source.parent / r["video"],
                 {k: v for k, v in r.items() if k and k != "video" and isinstance(v, str) and v}) for r in rows]
    raise InputError("batch input must be a folder of videos or a CSV file", source)


def run_batch(items: list[tuple[Path, dict]], outputs, work, overwrite: bool, desc: str) -> int:
    """Run ``work(video, opts, out, mux)`` over a batch and account for every item honestly.

    ``outputs(video) -> (out, mux)``. An item whose output name another item already claimed (``talk.mkv`` and
    ``talk.mp4`` -> ``talk.wav``), or whose output would overwrite an input, fails with that reason; an item
    whose outputs exist is reported as skipped, not done; one bad item never stops the others, and every
    failure line names its file. Returns the exit code (0 all done or skipped, 2 if any failed).
    """
    from tqdm import tqdm

    from deepaudio.cli.main import describe_failure

    claimed: dict[Path, Path] = {}
    inputs = {p.resolve() for p, _ in items}
    done = skipped = failed = 0
    for video, opts in tqdm(items, desc=desc, unit="video", file=sys.stderr, disable=len(items) < 2):
        out, mux = outputs(video)
        try:
            targets = [p for p in (out, mux) if p is not None]
            for t in targets:
                if t.resolve() in inputs:
                    raise InputError(f"output {t} would overwrite an input video", video,
                                     "write the outputs to another folder")
                if t.resolve() in claimed:
                    raise InputError(f"output {t} is already written for {claimed[t.resolve()]} (same name)", video,
                                     "rename one of the inputs or run them separately")
            if not overwrite and all(t.exists() for t in targets):
                skipped += 1
            else:
                work(video, opts, out, mux)
                done += 1
            claimed.update({t.resolve(): video for t in targets})
        except Exception as exc:  # noqa: BLE001 - reported per item, the batch goes on
            code, line = describe_failure(exc)
            if code != 2:
                raise
            failed += 1
            tqdm.write(f"deepaudio: error: {line if str(video) in line else f'{video}: {line}'}", file=sys.stderr)
    parts = [f"{done}/{len(items)} videos done"]
    if skipped:
        parts.append(f"{skipped} skipped (outputs exist; --overwrite redoes them)")
    if failed:
        parts.append(f"{failed} failed")
    print(", ".join(parts))
    return 2 if failed else 0


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


VOCODER_HELP = ("mel vocoder folder for TTS/V2S: Vocos or BigVGAN-v2 24 kHz, converted or as released "
                "(default: the model's own, else Griffin-Lim); its mel is checked against the TTS's")


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

