"""Shared CLI option helpers: device/dtype, the bundled default model folder, batch inputs."""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import torch

from deepaudio.errors import ConfigError, InputError

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
VIDEO_SUFFIXES = {".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v"}


def add_device_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda if available)")
    parser.add_argument("--dtype", choices=sorted(DTYPES), default="fp32", help="compute precision (default fp32)")


def resolve_device(args: argparse.Namespace) -> tuple[torch.device, torch.dtype]:
    from deepaudio.distributed import cuda_device_for_rank

    name = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = cuda_device_for_rank(name)  # under torchrun, "cuda" is the rank's local GPU
    except RuntimeError as exc:
        raise ConfigError(f"bad --device {name!r}") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda was asked for but no CUDA device is available", hint="use --device cpu")
    dtype = DTYPES[args.dtype]
    if device.type == "cpu" and dtype == torch.float16:
        raise ConfigError("fp16 is not supported on CPU", hint="use --dtype bf16 or fp32")
    return device, dtype


def default_model_dir(part: str) -> Path:
    """Folder of a part of the bundled default model (``deepaudio/assets/default/<part>``)."""
    from deepaudio.assets import bundled_dir

    return bundled_dir(part)


def list_batch_inputs(source: Path) -> list[tuple[Path, dict[str, str]]]:
    """Videos of a folder (sorted) or of a CSV with a ``video`` column (other columns are per-item options)."""
    if source.is_dir():
        items = sorted(p for p in source.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)
        return [(p, {}) for p in items]
    if source.suffix.lower() == ".csv":
        with source.open(newline="") as f:
            rows = list(csv.DictReader(f))
        if not rows or "video" not in rows[0]:
            raise InputError("batch CSV needs a 'video' column", source)
        return [(Path(r["video"]) if Path(r["video"]).is_absolute() else source.parent / r["video"],
                 {k: v for k, v in r.items() if k != "video" and v}) for r in rows]
    raise InputError("batch input must be a folder of videos or a CSV file", source)


def add_pipeline_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared by ``run`` and ``dub``."""
    parser.add_argument("--model", type=Path, help="DeepAudio pipeline folder (default: the bundled default)")
    parser.add_argument("--ref-audio", type=Path, help="reference voice (wav/flac/mp3...)")
    parser.add_argument("--ref-text", help="transcript of the reference voice (default: transcribed offline)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=25, help="V2A Euler steps")
    parser.add_argument("--cfg", type=float, help="V2A guidance weight (default: the model's)")
    parser.add_argument("--nfe", type=int, default=32, help="TTS/V2S ODE steps")
    parser.add_argument("--duck-db", type=float, default=-12.0, help="ambience level under speech (dB)")
    parser.add_argument("--fit", choices=("error", "speed"), default="error",
                        help="a transcript too long for its window: stop with an error, or speak faster")
    parser.add_argument("--timing", choices=("v2a", "lips", "mix"), default="v2a",
                        help="speech timing from the V2A ambience energy (the paper), the speaker's mouth opening "
                             "(needs a visible face; works without V2A weights) or the mean of both")
    add_device_arguments(parser)


def load_deepaudio(args: argparse.Namespace):
    from deepaudio.pipelines.deepaudio import DeepAudio

    device, dtype = resolve_device(args)
    return DeepAudio.from_pretrained(args.model or default_model_dir("pipeline"), device=device, dtype=dtype)


def write_result(result, video: Path | None, output: Path, stems: bool = True) -> list[Path]:
    """Write a DeepAudio result: ``.wav/.flac`` -> the mix; a video suffix -> the video with the mix as
    track 1 and (``stems``) speech and ambience as extra tracks; ``<stem>.json`` beside it lists the route
    and spoken segments. Returns the files written."""
    import json

    from deepaudio.io.atomic import atomic_path, check_output_path
    from deepaudio.io.audio import save_audio

    check_output_path(output, [video] if video else [])
    written = []
    sr = result.sample_rate
    if output.suffix.lower() in VIDEO_SUFFIXES:
        if video is None:
            raise InputError("a video output needs an input video", output, "write .wav instead")
        from deepaudio.io.mux import mux_audio

        tracks = [(result.mix, sr, "mix")]
        if stems and result.speech is not None:
            tracks.append((result.speech, sr, "speech"))
        if stems and result.ambience is not None and result.speech is not None:
            tracks.append((result.ambience, sr, "ambience"))
        mux_audio(video, tracks, output)
    else:
        save_audio(output, result.mix, sr, inputs=[video] if video else [])
    written.append(output)
    info = {"task": result.route.task, "explanation": result.route.explain(),
            "probabilities": result.route.probabilities,
            "segments": [{"start": a, "end": b, "text": t} for a, b, t in result.segments]}
    side = output.with_suffix(".json")
    with atomic_path(side) as tmp:
        tmp.write_text(json.dumps(info, indent=2) + "\n")
    written.append(side)
    return written
