"""Magnitude-preserving 1-D layers of MMAudio's mel VAE (after Karras et al., "Analyzing and Improving
the Training Dynamics of Diffusion Models" (EDM2), CVPR 2024).

Shape key: B batch, C channels, T frames.

The ideas used (paper equation numbers):
- forced weight normalisation (eq. 66): every conv weight is normalised per output channel to unit
  RMS magnitude and divided by sqrt(fan_in), so activations keep unit magnitude. The reference does
  this once before inference (``remove_weight_norm``) with the norm computed in fp32; we store the
  normalised ("effective") weight and apply :func:`mp_effective_weight` when converting;
- magnitude-preserving SiLU (eq. 81): ``silu(x) / 0.596``;
- magnitude-preserving sum (eq. 88): ``lerp(a, b, t) / sqrt((1-t)^2 + t^2)``;
- pixel norm over channels before each residual block, and cosine attention (q, k, v normalised over
  channels).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

MP_SILU_GAIN = 0.596


def mp_normalize(x: torch.Tensor, dim: int | tuple[int, ...] | None = None, eps: float = 1e-4) -> torch.Tensor:
    """x divided by its RMS magnitude over ``dim`` (default: all but the first), norm taken in fp32."""
    if dim is None:
        dim = tuple(range(1, x.ndim))
    norm = torch.linalg.vector_norm(x, dim=dim, keepdim=True, dtype=torch.float32)
    norm = torch.add(eps, norm, alpha=math.sqrt(norm.numel() / x.numel()))
    return x / norm.to(x.dtype)


def mp_effective_weight(w: torch.Tensor) -> torch.Tensor:
    """Raw (out, in, k) weight -> the weight the convolution uses (forced weight norm / sqrt(fan_in))."""
    wf = mp_normalize(w.to(torch.float32))
    return (wf / math.sqrt(wf[0].numel())).to(w.dtype)


def mp_silu(x: torch.Tensor) -> torch.Tensor:
    return F.silu(x) / MP_SILU_GAIN


def mp_sum(a: torch.Tensor, b: torch.Tensor, t: float = 0.5) -> torch.Tensor:
    return a.lerp(b, t) / math.sqrt((1 - t) ** 2 + t ** 2)


class MPConv1d(nn.Module):
    """Bias-free 'same' Conv1d whose ``weight`` is already the effective (normalised) weight."""

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int, device=None, dtype=None):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(out_ch, in_ch, kernel_size, device=device, dtype=dtype))
        if not self.weight.is_meta:
            with torch.no_grad():
                self.weight.copy_(mp_effective_weight(torch.randn_like(self.weight)))

    def forward(self, x: torch.Tensor, gain: torch.Tensor | float = 1.0) -> torch.Tensor:
        w = self.weight * gain
        return F.conv1d(x, w, padding=w.shape[-1] // 2)


class ResnetBlock1d(nn.Module):
    """pixel-norm -> (mp_silu, conv) x2, 1x1 shortcut when widths differ, mp_sum with t = 0.3."""

    def __init__(self, in_dim: int, out_dim: int, kernel_size: int = 3, device=None, dtype=None):
        super().__init__()
        kw = dict(device=device, dtype=dtype)
        self.conv1 = MPConv1d(in_dim, out_dim, kernel_size, **kw)
        self.conv2 = MPConv1d(out_dim, out_dim, kernel_size, **kw)
        if in_dim != out_dim:
            self.nin_shortcut = MPConv1d(in_dim, out_dim, 1, **kw)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C_in, T) -> (B, C_out, T)
        x = mp_normalize(x, dim=1)
        h = self.conv2(mp_silu(self.conv1(mp_silu(x))))
        if hasattr(self, "nin_shortcut"):
            x = self.nin_shortcut(x)
        return mp_sum(x, h, t=0.3)


class AttnBlock1d(nn.Module):
    """Single-head cosine self-attention over time; qkv channels are laid out as (C, 3)."""

    def __init__(self, dim: int, num_heads: int = 1, device=None, dtype=None):
        super().__init__()
        self.num_heads = num_heads
        self.qkv = MPConv1d(dim, 3 * dim, 1, device=device, dtype=dtype)
        self.proj_out = MPConv1d(dim, dim, 1, device=device, dtype=dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.qkv(x)
        y = y.reshape(y.shape[0], self.num_heads, -1, 3, y.shape[-1])  # (B, H, C/H, 3, T)
        q, k, v = (z.transpose(-1, -2) for z in mp_normalize(y, dim=2).unbind(3))  # (B, H, T, C/H)
        h = F.scaled_dot_product_attention(q, k, v)
        h = h.transpose(-1, -2).flatten(1, 2)  # (B, C, T)
        return mp_sum(x, self.proj_out(h), t=0.3)


class Downsample1d(nn.Module):
    """1x1 conv, average-pool by 2, 1x1 conv."""

    def __init__(self, dim: int, device=None, dtype=None):
        super().__init__()
        self.conv1 = MPConv1d(dim, dim, 1, device=device, dtype=dtype)
        self.conv2 = MPConv1d(dim, dim, 1, device=device, dtype=dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(F.avg_pool1d(self.conv1(x), kernel_size=2, stride=2))


class Upsample1d(nn.Module):
    """Nearest-exact 2x upsampling then a kernel-3 conv."""

    def __init__(self, dim: int, device=None, dtype=None):
        super().__init__()
        self.conv = MPConv1d(dim, dim, 3, device=device, dtype=dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest-exact"))
