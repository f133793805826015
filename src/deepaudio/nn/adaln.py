"""Adaptive layer norm with zero-initialised modulation (adaLN-Zero, Peebles & Xie 2023, DiT).

The conditioning vector (the time embedding) is projected to shift/scale/gate parameters, so at
initialisation every residual branch is switched off and the block is the identity. Parameter
names (``linear``) follow the F5-TTS modules so official checkpoints load unchanged.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """LayerNorm(x) * (1 + scale) + shift with (B, D) parameters broadcast over the sequence."""
    x = F.layer_norm(x, (x.shape[-1],), eps=1e-6)
    return torch.addcmul(shift[:, None], x, 1 + scale[:, None])  # x (1 + scale) + shift in one pass


class AdaLNZero(nn.Module):
    """Six modulation vectors per block: (shift, scale, gate) for attention, then for the MLP."""

    def __init__(self, dim: int, device: torch.device | str | None = None):
        super().__init__()
        self.linear = nn.Linear(dim, dim * 6, device=device)

    def forward(self, x: torch.Tensor, emb: torch.Tensor):
        shift_a, scale_a, gate_a, shift_m, scale_m, gate_m = self.linear(F.silu(emb)).chunk(6, dim=1)
        return modulate(x, shift_a, scale_a), gate_a, shift_m, scale_m, gate_m


class AdaLNFinal(nn.Module):
    """Final modulation before the output projection; the reference orders the chunks (scale, shift)."""

    def __init__(self, dim: int, device: torch.device | str | None = None):
        super().__init__()
        self.linear = nn.Linear(dim, dim * 2, device=device)

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        scale, shift = self.linear(F.silu(emb)).chunk(2, dim=1)
        return modulate(x, shift, scale)
