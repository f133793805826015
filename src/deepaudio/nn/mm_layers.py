"""MMAudio building blocks: channel-last convs, SwiGLU MLPs, the sinusoidal time embedding and RoPE.

Shape key: B batch, N tokens, D channels, H heads, K head dim.

These follow MMAudio (Cheng et al. 2025, ``mmaudio/model/low_level.py``, ``embeddings.py`` and
``ext/rotary_embeddings.py``) closely enough that official state dicts load unchanged:
- the SwiGLU hidden width is ``int(2/3 * hidden)`` rounded *up* to a multiple of 256 (SD3 reference);
- the time embedding's frequency table is built in fp32 as ``1/10000**(arange(0,F,2)/F)`` and only then
  multiplied by ``10000/max_period``: MMAudio v2 uses max_period=1, so frequencies reach 1e4 and the
  sinusoid arguments reach 1e4 rad; computing the table any other way changes the fp32 values;
- RoPE rotates adjacent channel pairs (x[2i], x[2i+1]) with 2x2 matrices, always in fp32.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def swiglu_width(hidden: int, multiple_of: int = 256) -> int:
    """Inner width of MMAudio's (Conv)MLP for a nominal ``hidden`` width."""
    hidden = int(2 * hidden / 3)
    return multiple_of * ((hidden + multiple_of - 1) // multiple_of)


class ChannelLastConv1d(nn.Conv1d):
    """A Conv1d applied to (B, N, D) tensors (sequence first, channels last)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, N, D_in) -> (B, N, D_out)
        return super().forward(x.transpose(1, 2)).transpose(1, 2)


class SwiGLU(nn.Module):
    """``w2(silu(w1 x) * w3 x)`` without biases; ``kernel_size > 1`` makes the three maps convolutions
    along the sequence (MMAudio's ConvMLP), ``kernel_size == 1`` plain linears (MLP)."""

    def __init__(self, dim: int, hidden: int, kernel_size: int = 1, multiple_of: int = 256,
                 device: torch.device | str | None = None, dtype: torch.dtype | None = None):
        super().__init__()
        inner = swiglu_width(hidden, multiple_of)
        kw = dict(bias=False, device=device, dtype=dtype)
        if kernel_size == 1:
            self.w1, self.w2, self.w3 = nn.Linear(dim, inner, **kw), nn.Linear(inner, dim, **kw), \
                nn.Linear(dim, inner, **kw)
        else:
            pad = kernel_size // 2
            self.w1 = ChannelLastConv1d(dim, inner, kernel_size, padding=pad, **kw)
            self.w2 = ChannelLastConv1d(inner, dim, kernel_size, padding=pad, **kw)
            self.w3 = ChannelLastConv1d(dim, inner, kernel_size, padding=pad, **kw)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


def time_frequencies(freq_dim: int, max_period: float, device: torch.device | str | None = None) -> torch.Tensor:
    """The (freq_dim/2,) fp32 frequency table of MMAudio's TimestepEmbedder (see module docstring)."""
    base = 1.0 / (10000 ** (torch.arange(0, freq_dim, 2, dtype=torch.float32, device=device) / freq_dim))
    return (10000 / max_period) * base


class TimestepEmbedder(nn.Module):
    """Sinusoidal features [cos, sin] of ``t * freqs`` followed by Linear-SiLU-Linear (DiT, Peebles & Xie)."""

    def __init__(self, dim: int, freq_dim: int, max_period: float,
                 device: torch.device | str | None = None, dtype: torch.dtype | None = None):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(freq_dim, dim, device=device, dtype=dtype), nn.SiLU(),
                                 nn.Linear(dim, dim, device=device, dtype=dtype))
        self.register_buffer("freqs", time_frequencies(freq_dim, max_period, device=device),
                             persistent=False)

    def forward(self, t: torch.Tensor) -> torch.Tensor:  # (B,) -> (B, D)
        args = t[:, None].float() * self.freqs[None]
        feats = torch.cat([torch.cos(args), torch.sin(args)], dim=-1).to(t.dtype)
        return self.mlp(feats.to(self.mlp[0].weight.dtype))


def rope_rotations(length: int, head_dim: int, theta: float = 10000.0, freq_scaling: float = 1.0,
                   device: torch.device | str | None = None) -> torch.Tensor:
    """(1, N, K/2, 2, 2) fp32 rotation matrices [[cos, -sin], [sin, cos]] of angle ``pos * f_i``.

    MMAudio scales the CLIP stream's frequencies by latent_len/clip_len so that both streams span the
    same angle range over the clip (aligned in time although sampled at different rates).
    """
    if head_dim % 2:
        raise ValueError(f"RoPE needs an even head dim, got {head_dim}")
    pos = torch.arange(length, dtype=torch.float32, device=device)
    freqs = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32, device=device) / head_dim))
    freqs = freqs * freq_scaling
    ang = pos[:, None] * freqs[None]  # (N, K/2)
    cos, sin = torch.cos(ang), torch.sin(ang)
    rot = torch.stack([cos, -sin, sin, cos], dim=-1)  # (N, K/2, 4)
    return rot.view(1, length, head_dim // 2, 2, 2)


def apply_rope(x: torch.Tensor, rot: torch.Tensor) -> torch.Tensor:
    """Rotate channel pairs of (B, H, N, K) by (1, N, K/2, 2, 2), in fp32, returning x's dtype."""
    xf = x.float().unflatten(-1, (-1, 1, 2))  # (B, H, N, K/2, 1, 2)
    out = rot[..., 0] * xf[..., 0] + rot[..., 1] * xf[..., 1]  # (B, H, N, K/2, 2)
    return out.flatten(-2).to(x.dtype)


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """adaLN modulation ``x (1 + scale) + shift`` (DiT)."""
    return x * (1 + scale) + shift


__all__ = ["ChannelLastConv1d", "SwiGLU", "TimestepEmbedder", "apply_rope", "modulate", "rope_rotations",
           "swiglu_width", "time_frequencies"]
