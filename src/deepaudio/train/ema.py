"""Exponential moving average of a model's weights; the EMA copy is what gets exported.

Behaviour follows the schedule F5-TTS trains with (``ema_pytorch`` defaults: beta 0.9999,
update_after_step 100, update_every 10, inv_gamma 1, power 2/3): during the first ``update_after``
updates the EMA simply copies the online weights; afterwards, every ``update_every`` updates,
``ema <- ema + (1 - d) (online - ema)`` with a warm-up decay ``d = min(beta, 1 - (1 + k)^-power)``
where ``k`` counts updates past ``update_after``. The warm-up keeps the average from being dominated
by the random initial weights in short runs. Buffers are copied, not averaged.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class EMAConfig:
    beta: float = 0.9999
    update_after: int = 100
    update_every: int = 10
    power: float = 2 / 3


class EMA:
    """Shadow copy of ``model`` (same device, float32 master values) updated after optimizer steps."""

    def __init__(self, model: torch.nn.Module, config: EMAConfig = EMAConfig()):
        self.config = config
        self.module = copy.deepcopy(model).eval().requires_grad_(False)
        self.num_updates = 0  # how many times update() was called (= optimizer updates)

    def decay(self) -> float:
        k = self.num_updates - self.config.update_after - 1
        if k <= 0:
            return 0.0
        return min(self.config.beta, 1.0 - (1.0 + k) ** -self.config.power)

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        count = self.num_updates
        self.num_updates += 1
        if count % self.config.update_every != 0:
            return
        online = dict(model.named_parameters())
        if count <= self.config.update_after:
            for name, p in self.module.named_parameters():
                p.copy_(online[name])
        else:
            d = self.decay()
            for name, p in self.module.named_parameters():
                p.lerp_(online[name].to(p.dtype), 1.0 - d)
        online_buffers = dict(model.named_buffers())
        for name, b in self.module.named_buffers():
            b.copy_(online_buffers[name])

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.module.state_dict()

    def load_state_dict(self, state: dict[str, torch.Tensor], num_updates: int) -> None:
        self.module.load_state_dict(state, strict=True)
        self.num_updates = int(num_updates)
