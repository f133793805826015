"""AdamW, the warm-up/decay learning-rate schedule, and a pickle-free form of the optimizer state.

Schedule (F5-TTS trainer: ``LinearLR`` warm-up from ~0 to the peak over ``warmup`` updates, then a
``LinearLR`` decay to ~0 over the remaining updates; DeepAudio V2S fine-tuning uses 300 warm-up
updates): the factor is a pure function of the update count, so the scheduler's whole state is the
step number and resuming cannot drift.

Optimizer state is split into tensors (safetensors) and structure (JSON) so that a training
checkpoint never holds pickled objects.
"""

from __future__ import annotations

from typing import Any

import torch

from deepaudio.errors import CheckpointError, ConfigError


def lr_factor(step: int, warmup: int, total: int, final_ratio: float = 0.0) -> float:
    """Multiplier of the peak learning rate for update number ``step`` (0-based).

    Linear from 1/(warmup+1) up to 1 over ``warmup`` updates, then linear down to ``final_ratio`` at
    ``total``. ``total <= warmup`` means constant after warm-up.
    """
    if warmup > 0 and step < warmup:
        return (step + 1) / (warmup + 1)
    if total <= warmup:
        return 1.0
    frac = min(1.0, (step - warmup) / (total - warmup))
    return 1.0 - (1.0 - final_ratio) * frac


def build_adamw(model: torch.nn.Module, lr: float, weight_decay: float, betas: tuple[float, float],
                eps: float) -> torch.optim.AdamW:
    """AdamW over the trainable parameters; biases and norm gains get no weight decay (1-D tensors)."""
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (decay if p.ndim >= 2 else no_decay).append(p)
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    groups = [g for g in groups if g["params"]]
    if not groups:
        raise ConfigError("the model has no trainable parameters", hint="check --init and frozen modules")
    # foreach=False keeps the arithmetic order fixed, so a resumed run matches bit for bit.
    return torch.optim.AdamW(groups, lr=lr, betas=betas, eps=eps, foreach=False)


def flatten_optimizer_state(state_dict: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """``optimizer.state_dict()`` -> (tensors keyed ``"<param id>.<name>"``, JSON-ready structure)."""
    tensors: dict[str, torch.Tensor] = {}
    state: dict[str, dict[str, Any]] = {}
    for pid, entry in state_dict["state"].items():
        out: dict[str, Any] = {}
        for name, value in entry.items():
            if torch.is_tensor(value):
                key = f"{pid}.{name}"
                tensors[key] = value.detach().to("cpu").contiguous()
                out[name] = {"__tensor__": key}
            else:
                out[name] = _jsonable(value)
        state[str(pid)] = out
    groups = [{k: _jsonable(v) for k, v in g.items()} for g in state_dict["param_groups"]]
    return tensors, {"state": state, "param_groups": groups}


def unflatten_optimizer_state(tensors: dict[str, torch.Tensor], structure: dict[str, Any]) -> dict[str, Any]:
    """Inverse of :func:`flatten_optimizer_state`."""
    state: dict[int, dict[str, Any]] = {}
    for pid, entry in structure["state"].items():
        restored = {}
        for name, value in entry.items():
            if isinstance(value, dict) and "__tensor__" in value:
                if value["__tensor__"] not in tensors:
                    raise CheckpointError(f"optimizer tensor {value['__tensor__']!r} is missing")
                restored[name] = tensors[value["__tensor__"]]
            else:
                restored[name] = _from_json(name, value)
        state[int(pid)] = restored
    groups = [{k: _from_json(k, v) for k, v in g.items()} for g in structure["param_groups"]]
    return {"state": state, "param_groups": groups}


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"optimizer state value of type {type(value).__name__} cannot be stored as JSON")


def _from_json(name: str, value: Any) -> Any:
    # torch optimizers expect tuples for betas-like pairs; lists of param ids stay lists.
    if name != "params" and isinstance(value, list):
        return tuple(value)
    return value
