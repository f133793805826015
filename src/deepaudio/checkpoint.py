"""Checkpoint folders and safe loading of official weight files.

A deepaudio checkpoint is a folder::

    config.json        {"format_version": 1, "kind": "<model kind>", "config": {...}, "meta": {...}}
    model.safetensors  the state dict (no pickled code anywhere)
    (extra files)      e.g. vocab.txt for the TTS

Model classes declare ``kind`` and ``config_class`` and register themselves with
:func:`register_model`; ``load_model(dir)`` builds the right class from ``config.json``.
Official ``.pt/.pth/.bin`` files are read with ``torch.load(weights_only=True)`` only.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from deepaudio.config import from_dict, to_dict
from deepaudio.errors import CheckpointError, DeepAudioError
from deepaudio.io.atomic import atomic_dir
from deepaudio.perf import empty_like_module

FORMAT_VERSION = 1
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"

_MODEL_CLASSES: dict[str, type] = {}


def register_model(cls: type) -> type:
    """Class decorator: make ``cls`` loadable by :func:`load_model` under ``cls.kind``."""
    kind = cls.kind
    if kind in _MODEL_CLASSES and _MODEL_CLASSES[kind] is not cls:
        raise ValueError(f"model kind {kind!r} registered twice")
    _MODEL_CLASSES[kind] = cls
    return cls


def save_checkpoint(directory: str | Path, kind: str, config: Any, state_dict: Mapping[str, torch.Tensor],
                    meta: Mapping[str, Any] | None = None, extra_files: Mapping[str, str | bytes] | None = None,
                    dtype: torch.dtype | None = None) -> Path:
    """Write a checkpoint folder atomically (the old folder, if any, is replaced as a whole).

    ``dtype`` casts floating tensors (e.g. ``torch.float16`` for shipped weights).
    """
    cfg = to_dict(config) if not isinstance(config, Mapping) else dict(config)
    tensors = {}
    for k, v in state_dict.items():
        v = v.detach().to("cpu")
        if dtype is not None and v.is_floating_point():
            v = v.to(dtype)
        tensors[k] = v.contiguous()
    directory = Path(directory)
    with atomic_dir(directory) as tmp:
        doc = {"format_version": FORMAT_VERSION, "kind": kind, "config": cfg, "meta": dict(meta or {})}
        (tmp / CONFIG_NAME).write_text(json.dumps(doc, indent=2, sort_keys=False) + "\n")
        save_file(tensors, str(tmp / WEIGHTS_NAME))
        for name, content in (extra_files or {}).items():
            target = tmp / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content)
    return directory


def read_checkpoint(directory: str | Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Return ``(config document, state dict)`` of a checkpoint folder, validating both."""
    directory = Path(directory).expanduser()
    if not directory.is_dir():
        raise CheckpointError("checkpoint folder not found", directory,
                              "give a folder holding config.json and model.safetensors")
    if not (directory / CONFIG_NAME).is_file():
        raise CheckpointError("no config.json in checkpoint folder", directory,
                              "official files must be converted first: deepaudio convert")
    return read_config(directory), load_safetensors(directory / WEIGHTS_NAME)


def load_safetensors(path: str | Path) -> dict[str, torch.Tensor]:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError("weights file not found", path)
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"cannot read safetensors file ({exc})", path, "the file may be truncated") from exc


def load_weights_file(path: str | Path) -> dict[str, Any]:
    """Load an official weight file safely: safetensors, or torch pickles with ``weights_only=True``.

    Files that need arbitrary pickled code are refused: we never execute code from a checkpoint.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise CheckpointError("weights file not found", path)
    if path.suffix == ".safetensors":
        return load_safetensors(path)
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises UnpicklingError, RuntimeError, EOFError...
        # torch's own text suggests weights_only=False, which we never do: report only the error kind.
        detail = next((line.split("error:")[-1].strip() for line in str(exc).splitlines() if "error:" in line), "")
        msg = f"{type(exc).__name__}{': ' + detail if detail else ''}"
        if "Unsupported global" in str(exc) or "can still be loaded" in str(exc):  # a class/function to import
            raise CheckpointError("refusing to load: the file needs pickled code to unpickle", path,
                                  "re-save it as plain tensors or safetensors with the original tool") from exc
        raise CheckpointError(f"cannot read weights ({msg})", path,
                              "the file may be truncated or not a torch file") from exc
    if not isinstance(obj, dict):
        raise CheckpointError(f"expected a dict of tensors, got {type(obj).__name__}", path)
    return obj


def load_model(directory: str | Path, device: str | torch.device = "cpu", dtype: torch.dtype | None = None,
               expect_kind: str | tuple[str, ...] | None = None):
    """Build the registered model class named in ``config.json`` and load its weights strictly.

    The config is validated and the model is first built on the ``meta`` device (no memory), and its
    parameter shapes are compared with the weights file's header: a config declaring a giant or negative
    size fails in one line before anything is allocated. Weights with NaN or infinite values are refused.
    """
    directory = Path(directory).expanduser()
    if not directory.is_dir():
        raise CheckpointError("checkpoint folder not found", directory,
                              "give a folder holding config.json and model.safetensors")
    doc = read_config(directory, expect_kind)
    kind = doc.get("kind")
    if kind not in _MODEL_CLASSES:
        _import_model_modules()
    cls = _MODEL_CLASSES.get(kind)
    if cls is None:
        raise CheckpointError(f"unknown model kind {kind!r}", directory)
    if not isinstance(doc.get("config"), dict):
        raise CheckpointError("config.json has no 'config' object", directory / CONFIG_NAME)
    try:
        config = from_dict(cls.config_class, doc["config"])
    except DeepAudioError as exc:
        raise CheckpointError(f"bad model config: {exc}", directory / CONFIG_NAME) from exc
    weights = directory / WEIGHTS_NAME
    check_shapes(_meta_model(cls, config, directory), weight_shapes(weights), directory)
    state = load_safetensors(weights)
    bad = next((k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()), None)
    if bad is not None:
        raise CheckpointError(f"weights hold NaN or infinite values (e.g. {bad})", weights,
                              "the training run diverged or the file is damaged; use an earlier checkpoint")
    # No random init (every persistent tensor is loaded next) and the cast done first, so each weight
    # is written once in its final dtype; the result equals building, loading, then casting.
    model = empty_like_module(cls, config, dtype)
    load_state_strict(model, state, directory)
    model.checkpoint_meta = doc.get("meta", {})
    model.eval()
    return model.to(device=device)


def _meta_model(cls, config, directory: Path):
    """The model built without memory; a config that cannot build (negative size, ...) is one line."""
    try:
        with torch.device("meta"):
            return cls(config)
    except Exception as exc:  # noqa: BLE001 - any failure to build means the config is invalid
        detail = " ".join(str(exc).split())[:160]
        raise CheckpointError(f"config.json describes no valid model ({type(exc).__name__}: {detail})",
                              directory / CONFIG_NAME, "re-export or re-convert the checkpoint") from exc


def weight_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    """Tensor shapes from a safetensors header (nothing is loaded)."""
    from safetensors import safe_open

    if not path.is_file():
        raise CheckpointError("weights file not found", path)
    try:
        with safe_open(str(path), framework="pt") as f:
            return {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"cannot read safetensors file ({exc})", path, "the file may be truncated") from exc


def check_shapes(module: torch.nn.Module, shapes: Mapping[str, tuple[int, ...]], source: str | Path) -> None:
    """Compare a (meta) model's state-dict shapes with a weights file's before allocating the model."""
    own = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    declared = sum(math.prod(s) for s in own.values())
    stored = sum(math.prod(s) for s in shapes.values())
    if declared > 2 * stored + 1_000_000:
        raise CheckpointError(f"config declares {declared / 1e6:.1f} M parameters but the weights file holds "
                              f"{stored / 1e6:.1f} M", source, "the config does not belong to these weights")
    _report_mismatch(own, shapes, source)


def load_state_strict(module: torch.nn.Module, state: Mapping[str, torch.Tensor], source: str | Path) -> None:
    """``load_state_dict(strict=True)`` with a one-line error that names the first few mismatches."""
    _report_mismatch({k: tuple(v.shape) for k, v in module.state_dict().items()},
                     {k: tuple(v.shape) for k, v in state.items()}, source)
    module.load_state_dict(dict(state), strict=True)


def _report_mismatch(own: Mapping[str, tuple], state: Mapping[str, tuple], source) -> None:
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shape = [k for k in own if k in state and own[k] != state[k]]
    if missing or unexpected or shape:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing (e.g. {', '.join(missing[:3])})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected (e.g. {', '.join(unexpected[:3])})")
        if shape:
            k = shape[0]
            parts.append(f"{len(shape)} with other shapes (e.g. {k}: {state[k]} vs {own[k]})")
        raise CheckpointError("weights do not match the model: " + "; ".join(parts), source,
                              "check that the config/preset matches the checkpoint")


def _import_model_modules() -> None:
    """Import the model packages so that their classes register (lazily: no import-time work)."""
    import importlib

    for name in ("deepaudio.models.registry",):
        try:
            importlib.import_module(name)
        except ModuleNotFoundError:
            pass


class Pretrained:
    """Mixin for ``nn.Module`` models: ``save_pretrained`` / ``from_pretrained`` via a checkpoint folder."""

    kind: str = ""
    config_class: type = object

    def save_pretrained(self, directory: str | Path, meta: Mapping[str, Any] | None = None,
                        extra_files: Mapping[str, str | bytes] | None = None,
                        dtype: torch.dtype | None = None) -> Path:
        return save_checkpoint(directory, self.kind, self.config, self.state_dict(), meta, extra_files, dtype)

    @classmethod
    def from_pretrained(cls, directory: str | Path, device: str | torch.device = "cpu",
                        dtype: torch.dtype | None = None):
        return load_model(directory, device=device, dtype=dtype, expect_kind=cls.kind)


def read_config(directory: str | Path, expect_kind: str | tuple[str, ...] | None = None) -> dict[str, Any]:
    """The validated ``config.json`` document of a folder that may hold no weights of its own (a bundle
    of sub-checkpoints such as a pipeline folder)."""
    directory = Path(directory).expanduser()
    cfg_path = directory / CONFIG_NAME
    if not cfg_path.is_file():
        raise CheckpointError("no config.json in folder", directory, "give a deepaudio checkpoint folder")
    try:
        doc = json.loads(cfg_path.read_bytes().decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError, NaN-free nesting bombs
        raise CheckpointError(f"config.json is not valid JSON ({' '.join(str(exc).split())[:120]})", cfg_path) from exc
    except OSError as exc:
        raise CheckpointError(f"config.json cannot be read ({exc.strerror})", cfg_path) from exc
    if not isinstance(doc, dict):
        raise CheckpointError(f"config.json holds {_json_type(doc)}, expected an object", cfg_path,
                              "re-export or re-convert the checkpoint")
    version = doc.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= FORMAT_VERSION:
        hint = "upgrade deepaudio" if isinstance(version, int) and version > FORMAT_VERSION else "re-export it"
        raise CheckpointError(f"unsupported format_version {version!r}", cfg_path, hint)
    if not isinstance(doc.get("kind"), str):
        raise CheckpointError("config.json names no model kind", cfg_path, "re-export or re-convert the checkpoint")
    for key in ("config", "meta"):
        if key in doc and not isinstance(doc[key], dict):
            raise CheckpointError(f"config.json '{key}' is a {type(doc[key]).__name__}, expected an object", cfg_path)
    if expect_kind is not None:
        allowed = (expect_kind,) if isinstance(expect_kind, str) else expect_kind
        if doc.get("kind") not in allowed:
            raise CheckpointError(f"folder holds a {doc.get('kind')!r}, expected {' or '.join(allowed)}", directory)
    return doc


def _json_type(value) -> str:
    names = {list: "a list", str: "a string", int: "a number", float: "a number", bool: "true/false"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


def write_config(directory: str | Path, kind: str, config: Mapping[str, Any], meta: Mapping[str, Any] | None = None
                 ) -> None:
    """Write a bundle's ``config.json`` atomically inside an existing folder."""
    from deepaudio.io.atomic import atomic_path

    doc = {"format_version": FORMAT_VERSION, "kind": kind, "config": dict(config), "meta": dict(meta or {})}
    with atomic_path(Path(directory) / CONFIG_NAME) as tmp:
        tmp.write_text(json.dumps(doc, indent=2) + "\n")
