"""Training checkpoints that resume exactly and hold no pickles.

A checkpoint is a folder ``<out>/checkpoints/step_<NNNNNNNN>/`` written atomically::

    model.safetensors      online weights (the trainable module, unwrapped from DDP)
    ema.safetensors        EMA weights
    optimizer.safetensors  optimizer tensors (exp_avg, exp_avg_sq, step) keyed "<param id>.<name>"
    state.json             step, data position (epoch + index in the epoch's batch order), scheduler,
                           EMA counter, optimizer structure, every rank's RNG states, the run's config

Exact resume needs all of it: same weights and moments, the same next batch, and the same random
draws (span masks, noise, times, dropout, CFG drops) on every rank.
"""

from __future__ import annotations

import base64
import json
import os
import random
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import save_file

from deepaudio.checkpoint import load_safetensors
from deepaudio.errors import CheckpointError, ConfigError, InputError
from deepaudio.io.atomic import atomic_dir

STATE_FORMAT = 1
STATE_NAME = "state.json"
_PREFIX = "step_"


@dataclass
class Position:
    """Where training stands: optimizer updates done, the epoch, and how many of the epoch's batches
    (all ranks together) were consumed, so a run may resume on another number of processes."""

    step: int = 0
    epoch: int = 0
    index: int = 0


def checkpoint_dir(root: Path, step: int) -> Path:
    return Path(root) / f"{_PREFIX}{step:08d}"


def list_checkpoints(root: str | Path) -> list[Path]:
    """Complete checkpoint folders under ``root``, oldest first (atomic writes leave no partial ones)."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if p.is_dir() and p.name.startswith(_PREFIX) and (p / STATE_NAME).is_file()]
    return sorted(found, key=lambda p: int(p.name[len(_PREFIX):]))


def find_checkpoint(run: str | Path, step: int | None = None) -> Path:
    """The newest checkpoint of a run folder (``RUN/checkpoints``), or the one of ``step``."""
    root = Path(run) / "checkpoints"
    found = list_checkpoints(root)
    if step is not None:
        found = [c for c in found if c.name == checkpoint_dir(root, step).name]
    if not found:
        raise InputError("no such training checkpoint", root, "check the run folder and --step")
    return found[-1]


def prune_checkpoints(root: str | Path, keep: int) -> None:
    """Keep the newest ``keep`` checkpoints (all if ``keep <= 0``) and drop temporary folders that a killed
    save left behind (only the main process writes here, right before calling this)."""
    from deepaudio.io.atomic import HOST, TAG, clean_stale

    root = Path(root)
    clean_stale(root)
    for stale in root.glob(f".{_PREFIX}*"):  # older releases' temporary names
        if stale.is_dir() and stale.name.endswith((".tmp", ".old")):
            shutil.rmtree(stale, ignore_errors=True)
    doomed = [p for p in root.glob(f"{_PREFIX}*") if p.is_dir() and not (p / STATE_NAME).is_file()]
    if keep > 0:
        doomed += list_checkpoints(root)[:-keep]
    for old in doomed:
        # Renamed away first (atomic), then deleted: a kill in between leaves a hidden temporary folder that
        # the next save removes, never a half-deleted step_* folder.
        gone = root / f".{old.name}{TAG}{HOST}-{os.getpid()}-prune"
        try:
            os.replace(old, gone)
        except OSError:
            continue
        shutil.rmtree(gone, ignore_errors=True)


def save_training_checkpoint(path: Path, tensors: dict[str, dict[str, torch.Tensor]], state: dict[str, Any]) -> Path:
    """Write ``tensors`` (file stem -> state dict) and ``state`` (JSON) into the folder ``path`` atomically."""
    with atomic_dir(path) as tmp:
        for stem, sd in tensors.items():
            save_file(_plain_tensors(sd), str(tmp / f"{stem}.safetensors"))
        doc = {"format_version": STATE_FORMAT, **state}
        (tmp / STATE_NAME).write_text(json.dumps(doc, indent=1) + "\n")
    return path


def read_training_checkpoint(path: str | Path, stems: tuple[str, ...] = ("model", "ema", "optimizer"),
                             ) -> tuple[dict[str, dict[str, torch.Tensor]], dict[str, Any]]:
    path = Path(path)
    state_path = path / STATE_NAME
    if not state_path.is_file():
        raise CheckpointError("not a training checkpoint (no state.json)", path, "resume from a step_* folder")
    try:
        state = json.loads(state_path.read_text())
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"state.json is not valid JSON ({exc})", state_path) from exc
    if state.get("format_version") != STATE_FORMAT:
        raise CheckpointError(f"unsupported training state format {state.get('format_version')!r}", state_path)
    return {stem: load_safetensors(path / f"{stem}.safetensors") for stem in stems}, state


def _plain_tensors(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """CPU, contiguous, and no two entries sharing memory (safetensors refuses tied storage)."""
    out, seen = {}, set()
    for k, v in sd.items():
        v = v.detach().to("cpu").contiguous()
        ptr = (v.untyped_storage().data_ptr(), v.storage_offset()) if v.numel() else None
        if ptr is not None and ptr in seen:
            v = v.clone()
        elif ptr is not None:
            seen.add(ptr)
        out[k] = v
    return out


# -- random number generators ------------------------------------------------------------------------------


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def rng_state() -> dict[str, Any]:
    """This process's generator states as JSON-ready values (python, numpy, torch CPU, CUDA devices)."""
    py = random.getstate()
    np_state = np.random.get_state()
    doc = {
        "python": [py[0], list(py[1]), py[2]],
        "numpy": [np_state[0], np_state[1].tolist(), int(np_state[2]), int(np_state[3]), float(np_state[4])],
        "torch": _b64(torch.get_rng_state()),
    }
    if torch.cuda.is_available():
        doc["cuda"] = [_b64(s) for s in torch.cuda.get_rng_state_all()]
    return doc


def set_rng_state(doc: dict[str, Any]) -> None:
    py = doc["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    n = doc["numpy"]
    np.random.set_state((n[0], np.asarray(n[1], dtype=np.uint32), n[2], n[3], n[4]))
    torch.set_rng_state(_unb64(doc["torch"]))
    if "cuda" in doc and torch.cuda.is_available():
        states = [_unb64(s) for s in doc["cuda"]]
        if len(states) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(states)


def _b64(t: torch.Tensor) -> str:
    return base64.b64encode(t.numpy().tobytes()).decode("ascii")


def _unb64(s: str) -> torch.Tensor:
    return torch.frombuffer(bytearray(base64.b64decode(s)), dtype=torch.uint8)


def refuse_existing_run(out: Path, resume: bool) -> None:
    """Stop before anything in ``out`` is touched when it holds a run and ``--resume`` was not given."""
    if list_checkpoints(Path(out) / "checkpoints") and not resume:
        raise ConfigError("the output folder already holds training checkpoints", out,
                              "pass --resume to continue, or choose another output folder")
