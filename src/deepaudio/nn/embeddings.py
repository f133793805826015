"""Position and time embeddings shared by the DiT networks.

Shape key: B batch, N sequence, D channels.

- ``sinusoidal_time``: the DDPM/DiT sinusoidal features of a flow time t in [0, 1], scaled by 1000
  (F5-TTS ``SinusPositionEmbedding``: half sine, half cosine, frequencies exp(-i ln(1e4)/(half-1))).
- ``TimestepEmbedding``: those features through Linear-SiLU-Linear (keys ``time_mlp.0/2``).
- ``sinusoidal_table``: the [cos | sin] absolute position table the F5 text encoder adds before its
  ConvNeXt blocks (``precompute_freqs_cis``; halves, not interleaved).
- ``ConvPositionEmbedding``: two grouped convs (kernel 31, 16 groups) with Mish, a relative position
  signal; padded frames are zero-filled before and after each conv so padding never leaks in.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def sinusoidal_time(t: torch.Tensor, dim: int, scale: float = 1000.0) -> torch.Tensor:
    """(B,) -> (B, dim) features, in t's dtype."""
    half = dim // 2
    step = math.log(10000) / (half - 1)
    freqs = torch.exp(torch.arange(half, device=t.device).float() * -step)
    arg = scale * t.unsqueeze(1) * freqs.unsqueeze(0)
    return torch.cat((arg.sin(), arg.cos()), dim=-1).to(t.dtype)


class TimestepEmbedding(nn.Module):
    def __init__(self, dim: int, freq_dim: int = 256, device: torch.device | str | None = None):
        super().__init__()
        self.freq_dim = freq_dim
        self.time_mlp = nn.Sequential(nn.Linear(freq_dim, dim, device=device), nn.SiLU(),
                                      nn.Linear(dim, dim, device=device))

    def forward(self, t: torch.Tensor) -> torch.Tensor:  # (B,) -> (B, D)
        # Features in fp32 (t near 0 needs the precision), then the MLP in the weights' dtype.
        return self.time_mlp(sinusoidal_time(t.float(), self.freq_dim).to(self.time_mlp[0].weight.dtype))


def sinusoidal_table(positions: torch.Tensor, dim: int, theta: float = 10000.0) -> torch.Tensor:
    """Integer positions (...,) -> (..., dim) as [cos(p f_0..f_{d/2-1}) | sin(...)], float32."""
    freqs = 1.0 / (theta ** (torch.arange(0, dim, 2, device=positions.device)[: dim // 2].float() / dim))
    ang = positions.unsqueeze(-1).float() * freqs
    return torch.cat((torch.cos(ang), torch.sin(ang)), dim=-1)


class ConvPositionEmbedding(nn.Module):
    def __init__(self, dim: int, kernel_size: int = 31, groups: int = 16, device: torch.device | str | None = None):
        super().__init__()
        if kernel_size % 2 == 0:
            raise ValueError("kernel_size must be odd")
        pad = kernel_size // 2
        self.conv1d = nn.Sequential(
            nn.Conv1d(dim, dim, kernel_size, groups=groups, padding=pad, device=device), nn.Mish(),
            nn.Conv1d(dim, dim, kernel_size, groups=groups, padding=pad, device=device), nn.Mish(),
        )

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        h = x.transpose(1, 2)  # (B, D, N)
        keep = None if mask is None else mask.unsqueeze(1)
        if keep is not None:
            h = h.masked_fill(~keep, 0.0)
        for conv in (self.conv1d[0], self.conv1d[2]):
            h = F.mish(conv(h))
            if keep is not None:
                h = h.masked_fill(~keep, 0.0)
        return h.transpose(1, 2)
