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
    name = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
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
