"""Converters from official checkpoint layouts to deepaudio checkpoint folders.

Each converter registers under a name (``f5tts``, ``mmaudio``, ``vocos``, ...) with
``@register_converter(name, help)``; its function takes ``(sources: list[Path], out_dir: Path,
options: dict[str, str]) -> Path`` and writes the folder atomically (``Pretrained.save_pretrained``).
``deepaudio convert NAME SOURCE... -o OUT [--set key=value]`` calls it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from deepaudio.errors import ConfigError

ConverterFn = Callable[[list[Path], Path, dict[str, str]], Path]


@dataclass(frozen=True)
class Converter:
    name: str
    help: str
    fn: ConverterFn


_CONVERTERS: dict[str, Converter] = {}
# Modules that define converters (imported lazily).
CONVERTER_MODULES = ("deepaudio.convert.f5", "deepaudio.convert.mmaudio", "deepaudio.convert.vocoders",
                     "deepaudio.convert.bundles")


def register_converter(name: str, help: str) -> Callable[[ConverterFn], ConverterFn]:
    def deco(fn: ConverterFn) -> ConverterFn:
        _CONVERTERS[name] = Converter(name, help, fn)
        return fn

    return deco


def converters() -> dict[str, Converter]:
    for mod in CONVERTER_MODULES:
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as exc:
            if exc.name != mod:
                raise
    return dict(sorted(_CONVERTERS.items()))


def get_converter(name: str) -> Converter:
    table = converters()
    if name not in table:
        raise ConfigError(f"unknown converter {name!r}", hint=f"choose one of: {', '.join(table) or 'none yet'}")
    return table[name]
