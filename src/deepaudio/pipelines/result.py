"""One result type and one settings convention for every pipeline.

Every pipeline call returns a :class:`GenerationResult`: ``audio`` (float32 [channels, samples]),
``sample_rate`` and ``metadata`` (what the run decided: windows, seed, task, trace ...). It also unpacks
like the ``(audio, sample_rate)`` tuples the pipelines returned before (``wav, sr = pipe(...)``).

Generation settings are frozen dataclasses (``V2ASettings``, ``TTSSettings``, ``ThinkSettings``); a call
takes either ``settings=`` or the same values as keyword arguments, not both.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, TypeVar

import torch

from deepaudio.errors import ConfigError

S = TypeVar("S")


@dataclass(frozen=True)
class GenerationResult:
    audio: torch.Tensor  # (channels, samples), float32
    sample_rate: int
    metadata: dict[str, Any] = field(default_factory=dict)

    def __iter__(self):  # ``wav, sr = pipe(...)`` keeps working
        return iter((self.audio, self.sample_rate))

    def __getitem__(self, index: int):
        return (self.audio, self.sample_rate)[index]

    def __len__(self) -> int:
        return 2

    @property
    def duration(self) -> float:
        return self.audio.shape[-1] / self.sample_rate


def resolve_settings(cls: type[S], settings: S | None, **keywords) -> S:
    """``settings`` if given (then every keyword must still hold its default), else ``cls(**keywords)``."""
    if settings is None:
        return cls(**keywords)
    if not isinstance(settings, cls):
        raise ConfigError(f"settings must be a {cls.__name__}, got {type(settings).__name__}")
    defaults = {f.name: f.default for f in dataclasses.fields(cls)}
    clash = sorted(k for k, v in keywords.items() if k in defaults and v != defaults[k])
    if clash:
        raise ConfigError(f"give either settings= or the keyword(s) {', '.join(clash)}, not both")
    return settings
