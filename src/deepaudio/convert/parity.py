"""Run reference-vector files (made by running the official code; not stored in this repository) against ours.

A file ``<case>.safetensors`` holds ``weights.*`` (official state dict), ``in.*`` inputs and ``out.*``
reference outputs; ``<case>.json`` names the official module and the calls. A *handler* for that
module kind builds our module from the sidecar, loads the official weights (directly or through the
converter) and returns our outputs under the same ``out.*`` names. Handlers register by the first
word of the sidecar's ``module`` field, e.g. ``f5_tts.model.backbones.dit.DiT``.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from deepaudio.checkpoint import load_safetensors
from deepaudio.errors import ParityError

Handler = Callable[[dict, dict[str, torch.Tensor]], dict[str, torch.Tensor]]
_HANDLERS: dict[str, Handler] = {}
# Modules that define handlers; imported on first use so that importing this file stays cheap.
HANDLER_MODULES = (
    "deepaudio.convert.parity_f5",
    "deepaudio.convert.parity_vocoders",
    "deepaudio.convert.parity_mmaudio",
    "deepaudio.convert.parity_dsp",
)


def register_handler(*modules: str) -> Callable[[Handler], Handler]:
    """Register ``fn(sidecar, tensors) -> {"out.x": tensor}`` for official module names."""

    def deco(fn: Handler) -> Handler:
        for m in modules:
            _HANDLERS[m] = fn
        return fn

    return deco


def _load_handlers() -> None:
    for name in HANDLER_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise


@dataclass(frozen=True)
class ParityResult:
    case: str
    output: str
    max_abs_err: float
    tolerance: float
    shape: tuple[int, ...]

    @property
    def ok(self) -> bool:
        return self.max_abs_err <= self.tolerance


def read_case(path: str | Path) -> tuple[dict, dict[str, torch.Tensor]]:
    """Return ``(sidecar, tensors)`` for a case given as ``.safetensors`` or ``.json`` path."""
    path = Path(path)
    st = path.with_suffix(".safetensors")
    js = path.with_suffix(".json")
    if not st.is_file():
        raise ParityError("reference tensors not found", st)
    if not js.is_file():
        raise ParityError("sidecar JSON not found beside the tensors", js)
    try:
        sidecar = json.loads(js.read_text())
    except json.JSONDecodeError as exc:
        raise ParityError(f"sidecar is not valid JSON ({exc})", js) from exc
    if "module" not in sidecar:
        raise ParityError("sidecar has no 'module' field", js)
    return sidecar, load_safetensors(st)


def run_case(path: str | Path, tolerance: float = 1e-4) -> list[ParityResult]:
    sidecar, tensors = read_case(path)
    kind = sidecar["module"].split()[0]
    _load_handlers()
    handler = _HANDLERS.get(kind)
    if handler is None:
        raise ParityError(f"module kind {kind!r} is not implemented yet", path)
    torch.manual_seed(0)
    with torch.no_grad():
        ours = handler(sidecar, tensors)
    case = sidecar.get("case", Path(path).stem)
    results = []
    expected = sorted(k for k in tensors if k.startswith("out."))
    for key in expected:
        if key not in ours:
            results.append(ParityResult(case, key, float("inf"), tolerance, tuple(tensors[key].shape)))
            continue
        ref = tensors[key]
        got = ours[key].detach().to("cpu")
        if tuple(got.shape) != tuple(ref.shape):
            raise ParityError(f"{key}: our shape {tuple(got.shape)} differs from reference {tuple(ref.shape)}", path)
        err = (got.double() - ref.double()).abs().max().item() if ref.numel() else 0.0
        results.append(ParityResult(case, key, err, tolerance, tuple(ref.shape)))
    return results
