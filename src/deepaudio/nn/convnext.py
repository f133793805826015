"""ConvNeXt-V2 block over sequences (Woo et al. 2023), as used by the F5-TTS text encoder.

Shape key: B batch, N sequence, D channels.

Depthwise conv (kernel 7) -> LayerNorm (eps 1e-6) -> Linear up -> GELU -> GRN -> Linear down, plus
the residual. GRN (global response normalisation) normalises each channel's L2 norm over the
*sequence* axis by the mean over channels, which keeps channels competing (ConvNeXt-V2 eq. 1-3).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class GRN(nn.Module):
    def __init__(self, dim: int, device: torch.device | str | None = None):
        super().__init__()
        self.gamma = nn.Parameter(torch.zeros(1, 1, dim, device=device))
        self.beta = nn.Parameter(torch.zeros(1, 1, dim, device=device))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, N, D)
        gx = torch.norm(x, p=2, dim=1, keepdim=True)  # (B, 1, D)
        nx = gx / (gx.mean(dim=-1, keepdim=True) + 1e-6)
        return self.gamma * (x * nx) + self.beta + x


class ConvNeXtV2Block(nn.Module):
    def __init__(self, dim: int, hidden: int, dilation: int = 1, device: torch.device | str | None = None):
        super().__init__()
        pad = dilation * 3
        self.dwconv = nn.Conv1d(dim, dim, 7, padding=pad, groups=dim, dilation=dilation, device=device)
        self.norm = nn.LayerNorm(dim, eps=1e-6, device=device)
        self.pwconv1 = nn.Linear(dim, hidden, device=device)
        self.grn = GRN(hidden, device=device)
        self.pwconv2 = nn.Linear(hidden, dim, device=device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, N, D)
        h = self.dwconv(x.transpose(1, 2)).transpose(1, 2)
        h = self.pwconv1(self.norm(h))
        h = self.grn(F.gelu(h))
        return x + self.pwconv2(h)
