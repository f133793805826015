"""Normalisation layers shared by the networks.

``RMSNorm`` is the query/key normalisation of F5-TTS (``qk_norm='rms_norm'``, eps 1e-6): a learned
per-channel ``weight`` and no bias, computed with ``torch.nn.functional.rms_norm``. In half precision
the input is cast to the weight's dtype first, as the reference does.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float = 1e-6, device: torch.device | str | None = None):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim, device=device))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.weight.dtype in (torch.float16, torch.bfloat16):
            x = x.to(self.weight.dtype)
        return F.rms_norm(x, (x.shape[-1],), weight=self.weight, eps=self.eps)
