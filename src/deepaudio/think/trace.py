"""The structured trace of one DeepSound-V1 run, saved as JSON beside the output.

DeepSound-V1 answers each question with a chain of thought in four parts (summary, caption, reasoning,
conclusion). Every step here records those four texts plus the measurements that produced them, so a
user can see *why* the voice-over was (or was not) removed and re-check the numbers.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from deepaudio.io.atomic import atomic_path

TRACE_FORMAT = 1
STEP_NAMES = ("plan", "generate", "detect", "remove", "silence", "post")


def _jsonable(value: Any) -> Any:
    """Plain JSON values: floats rounded to 4 decimals, NaN/inf as null, tuples as lists."""
    if isinstance(value, float):
        return None if not math.isfinite(value) else round(value, 4)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy / torch scalars
        return _jsonable(value.item())
    return value


@dataclass
class Step:
    """One step of the procedure: what was asked, what was seen, why, what was decided, and the numbers."""

    name: str
    round: int = 0
    summary: str = ""
    caption: str = ""
    reasoning: str = ""
    conclusion: str = ""
    measurements: dict[str, Any] = field(default_factory=dict)
    backend: str = ""
    seconds: float = 0.0


@dataclass
class Trace:
    """All steps of one run plus its settings and the final outcome."""

    source: str
    mode: str  # "generate" (V2A from the video) or "audio" (a track the user brought)
    settings: dict[str, Any] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)
    outcome: str = ""

    def add(self, step: Step, started: float | None = None) -> Step:
        if started is not None:
            step.seconds = time.perf_counter() - started
        self.steps.append(step)
        return step

    def find(self, name: str) -> list[Step]:
        return [s for s in self.steps if s.name == name]

    def to_dict(self) -> dict[str, Any]:
        return _jsonable({"format": TRACE_FORMAT, "source": self.source, "mode": self.mode,
                          "settings": self.settings, "outcome": self.outcome,
                          "steps": [asdict(s) for s in self.steps]})

    def save(self, path: str | Path, inputs: tuple = ()) -> Path:
        """Write the trace as indented JSON, atomically."""
        path = Path(path)
        with atomic_path(path, inputs) as tmp:
            tmp.write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        return path


def trace_path_for(output: str | Path) -> Path:
    """The trace sits beside the output: ``out.wav`` -> ``out.think.json``."""
    output = Path(output)
    return output.with_name(output.stem + ".think.json")
