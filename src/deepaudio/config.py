"""One config system: frozen dataclasses, named presets in registries, JSON round-trips.

Variants are made with ``dataclasses.replace(preset, ...)``, never by editing a preset in place.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable
from typing import Any, Generic, TypeVar

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


def from_dict(cls: type[T], data: dict[str, Any]) -> T:
    """Build ``cls`` from ``data`` (inverse of :func:`to_dict`); unknown keys are an error."""
    if not isinstance(data, dict):
        raise ConfigError(f"expected an object for {cls.__name__}, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"unknown {cls.__name__} field(s): {', '.join(unknown)}")
    kwargs = {}
    for k, v in data.items():
        try:
            kwargs[k] = _coerce(hints[k], v)
        except ConfigError as exc:
            raise ConfigError(f"{cls.__name__}.{k}: {exc}") from None
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"bad {cls.__name__} config: {exc}") from exc


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
