"""Argument checks shared by the CLI and the Python API: every bad value raises the project's error type.

``number`` refuses non-numbers, booleans, non-finite values and values outside a range; ``text`` refuses
non-strings, text that is not valid UTF-8 (undecodable argv bytes arrive as lone surrogates), NUL
bytes and overlong text. Messages name the option or parameter, so the CLI and the API read the same.
"""

from __future__ import annotations

import math
import numbers

from deepaudio.errors import ConfigError, InputError

MAX_TEXT_CHARS = 20000  # ~25 min of speech; longer texts go through several runs or an SRT file
SEED_MAX = 2**64 - 1    # torch.Generator.manual_seed accepts [0, 2**64)


def number(name: str, value, low=None, high=None, integer: bool = False, hint: str | None = None):
    """``value`` if it is a finite (integer) number inside [low, high], else ``ConfigError``."""
    kind = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kind):
        raise ConfigError(f"{name} must be {'an integer' if integer else 'a number'}, got {type(value).__name__}")
    if not integer and not math.isfinite(float(value)):
        raise ConfigError(f"{name} must be a finite number, got {value}")
    if low is not None and value < low:
        raise ConfigError(f"{name} must be at least {_fmt(low)}, got {_fmt(value)}")
    if high is not None and value > high:
        raise ConfigError(f"{name} must be at most {_fmt(high)}, got {_fmt(value)}", hint=hint)
    return value


def optional_number(name: str, value, low=None, high=None, integer: bool = False):
    return None if value is None else number(name, value, low, high, integer)


def seed(name: str, value):
    return None if value is None else number(name, value, 0, SEED_MAX, integer=True)


def text(name: str, value, max_chars: int = MAX_TEXT_CHARS, allow_empty: bool = True) -> str:
    if not isinstance(value, str):
        raise InputError(f"{name} must be text (str), got {type(value).__name__}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        bad = value[exc.start:exc.end].encode("utf-8", "surrogateescape")
        raise InputError(f"{name} is not valid UTF-8 (byte {bad[:4].hex(' ')} at character {exc.start})",
                         hint="pass text in UTF-8") from None
    if "\x00" in value:
        raise InputError(f"{name} contains a NUL byte", hint="remove control characters")
    if len(value) > max_chars:
        raise InputError(f"{name} has {len(value)} characters, more than {max_chars}",
                         hint="split the text into several runs (or a dub SRT file)")
    if not allow_empty and not value.strip():
        raise InputError(f"{name} is empty", hint="give some text")
    return value


def _fmt(v) -> str:
    if isinstance(v, numbers.Integral) and abs(v) >= 10**40:
        return f"{float(v):.3e}"
    return str(v) if isinstance(v, numbers.Integral) else f"{float(v):g}"
