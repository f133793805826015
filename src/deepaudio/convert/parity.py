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
        sidecar = json.loads(js.read_bytes().decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError
        raise ParityError(f"sidecar is not valid JSON ({' '.join(str(exc).split())[:120]})", js) from exc
    if not isinstance(sidecar, dict) or not isinstance(sidecar.get("module"), str) or not sidecar["module"].split():
        raise ParityError("sidecar has no 'module' text field", js)
    return sidecar, load_safetensors(st)


def run_case(path: str | Path, tolerance: float = 1e-4, device: str | torch.device = "cpu") -> list[ParityResult]:
    """Compare our outputs with the case's ``out.*`` tensors, our modules built and run on ``device``.

    On CUDA, TF32 is turned off for the run (parity is about exact fp32 arithmetic, and cuDNN convolutions
    take TF32 by default) and restored afterwards.
    """
    sidecar, tensors = read_case(path)
    device = torch.device(device)
    kind = sidecar["module"].split()[0]
    _load_handlers()
    handler = _HANDLERS.get(kind)
    if handler is None:
        raise ParityError(f"module kind {kind!r} is not implemented yet", path)
    torch.manual_seed(0)
    if device.type != "cpu":
        tensors = {k: v if k.startswith("out.") else v.to(device) for k, v in tensors.items()}
    tf32 = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        with torch.no_grad(), device:  # modules the handler builds are made on the device
            ours = handler(sidecar, tensors)
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = tf32
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
