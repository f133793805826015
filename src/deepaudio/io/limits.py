"""The longest media a run accepts, checked from the declared duration before anything is decoded.

A sparse WAV whose header announces hours, or an MP4 whose sample table spaces frames an hour apart,
would otherwise be decoded (or generated for) whole. The limit defaults to one hour; the CLI's
``--max-duration SECONDS`` (or ``DEEPAUDIO_MAX_DURATION``) raises it.
"""

from __future__ import annotations

import os
from pathlib import Path

from deepaudio.errors import MediaError

DEFAULT_MAX_SECONDS = 3600.0
_max_seconds: float | None = None


def max_duration() -> float:
    if _max_seconds is not None:
        return _max_seconds
    try:
        return float(os.environ.get("DEEPAUDIO_MAX_DURATION", DEFAULT_MAX_SECONDS))
    except ValueError:
        return DEFAULT_MAX_SECONDS


def set_max_duration(seconds: float | None) -> None:
    global _max_seconds
    _max_seconds = None if seconds is None else float(seconds)


def check_declared_duration(seconds: float, path: str | Path | None, what: str = "media") -> None:
    """Refuse a file whose declared duration exceeds the limit, before decoding it."""
    limit = max_duration()
    if seconds > limit:
        raise MediaError(f"{what} declares {_hms(seconds)}, longer than the {_hms(limit)} limit", path,
                         f"pass --max-duration {int(seconds) + 1} if it is really that long")


def _hms(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.1f} s"
