"""One config system: frozen dataclasses, named presets in registries, JSON round-trips.

Variants are made with ``dataclasses.replace(preset, ...)``, never by editing a preset in place.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import torch

from deepaudio.errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """Named presets (or classes) of one kind, e.g. ``TTS_PRESETS.get("F5TTS_Base")``."""

    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, Callable[[], T]] = {}

    def register(self, name: str) -> Callable[[Callable[[], T]], Callable[[], T]]:
        def deco(fn: Callable[[], T]) -> Callable[[], T]:
            if name in self._items:
                raise ValueError(f"{self.kind} preset {name!r} registered twice")
            self._items[name] = fn
            return fn

        return deco

    def add(self, name: str, value: T) -> None:
        self.register(name)(lambda: value)

    def get(self, name: str) -> T:
        if name not in self._items:
            raise ConfigError(f"unknown {self.kind} {name!r}", hint=f"choose one of: {', '.join(self.names())}")
        return self._items[name]()

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items


def to_dict(cfg: Any) -> dict[str, Any]:
    """A JSON-ready dict of a (nested) config dataclass; tuples become lists."""
    if not dataclasses.is_dataclass(cfg):
        raise TypeError(f"{type(cfg).__name__} is not a dataclass")
    return dataclasses.asdict(cfg)


def from_dict(cls: type[T], data: dict[str, Any], where: Any = None, strict: bool = False) -> T:
    """Build ``cls`` from ``data`` (inverse of :func:`to_dict`); unknown keys are an error.

    ``strict``: keys without a default are required and scalar values must have their field's type
    (an int may stand for a float); errors name the key and ``where`` (the file read)."""
    if not isinstance(data, dict):
        raise ConfigError(f"expected an object for {cls.__name__}, got {type(data).__name__}", where)
    hints = typing.get_type_hints(cls)
    fields = dataclasses.fields(cls)
    unknown = sorted(set(data) - {f.name for f in fields})
    if unknown:
        raise ConfigError(f"unknown {cls.__name__} field(s): {', '.join(unknown)}", where)
    if strict:
        missing = [f.name for f in fields if f.name not in data and f.default is dataclasses.MISSING
                   and f.default_factory is dataclasses.MISSING]
        if missing:
            raise ConfigError(f"{cls.__name__} needs the key(s) {', '.join(missing)}", where)
        for key, value in data.items():
            _check_type(cls, key, hints[key], value, where)
    kwargs = {}
    for k, v in data.items():
        if strict and dataclasses.is_dataclass(hints[k]):
            kwargs[k] = from_dict(hints[k], v, where, strict)
            continue
        try:
            kwargs[k] = _coerce(hints[k], v)
        except ConfigError as exc:
            raise ConfigError(f"{cls.__name__}.{k}: {exc}", where) from None
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"bad {cls.__name__} config: {exc}") from exc


def _check_type(cls: type, key: str, tp: Any, value: Any, where: Any) -> None:
    allowed = typing.get_args(tp) if typing.get_origin(tp) in (typing.Union, types.UnionType) else (tp,)
    if value is None and type(None) in allowed:
        return
    for t in allowed:
        if t is float and isinstance(value, int | float) and not isinstance(value, bool):
            return
        if t in (int, str, bool) and isinstance(value, t) and not (t is int and isinstance(value, bool)):
            return
        if t not in (int, float, str, bool, type(None)):
            return  # containers and nested configs are checked by their own readers
    names = " or ".join(getattr(t, "__name__", str(t)) for t in allowed)
    raise ConfigError(f"{cls.__name__} key {key!r} must be {names}, got {value!r}", where)


def _coerce(tp: Any, value: Any) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if value is None:
        return None
    _check_scalar(tp, value)
    if dataclasses.is_dataclass(tp) and isinstance(value, dict):
        return from_dict(tp, value)
    if origin in (typing.Union, types.UnionType):
        for arg in args:
            if arg is type(None):
                continue
            if dataclasses.is_dataclass(arg) and isinstance(value, dict):
                return from_dict(arg, value)
            if typing.get_origin(arg) is tuple or arg is tuple:
                return _coerce(arg, value)
        return value
    if origin is tuple and isinstance(value, list):
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(args[0], v) for v in value)
        if args:
            return tuple(_coerce(a, v) for a, v in zip(args, value))
        return tuple(value)
    return value


# The one dtype table: short names (the CLI's --dtype choices) and PyTorch's long names.
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16,
          "float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
DTYPE_NAMES = ("fp32", "bf16", "fp16")


def resolve_dtype(dtype: str | torch.dtype, where: str | None = None) -> torch.dtype:
    """A ``torch.dtype`` from itself or one of :data:`DTYPES`' names; ``ConfigError`` naming ``where`` else."""
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype not in DTYPES:
        raise ConfigError(f"unknown dtype {dtype!r}" + (f" in {where}" if where else ""),
                          hint="use fp32, bf16 or fp16 (or float32, bfloat16, float16)")
    return DTYPES[dtype]


MAX_INT = 2**40  # no size or count in a config is larger; bigger numbers are damage or an attack


def _check_scalar(tp: Any, value: Any) -> None:
    """A JSON value must have the field's scalar type (an int where an int belongs, finite floats)."""
    import math

    if tp is bool and not isinstance(value, bool):
        raise ConfigError(f"expected true/false, got {value!r}"[:120])
    if tp is int and (isinstance(value, bool) or not isinstance(value, int) or abs(value) > MAX_INT):
        raise ConfigError(f"expected an integer, got {value!r}"[:120])
    if tp is float and (isinstance(value, bool) or not isinstance(value, (int, float))
                        or not math.isfinite(value)):
        raise ConfigError(f"expected a finite number, got {value!r}"[:120])
    if tp is str and not isinstance(value, str):
        raise ConfigError(f"expected text, got {value!r}"[:120])


