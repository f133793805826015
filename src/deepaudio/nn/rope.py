"""Rotary position embedding (Su et al. 2021, RoFormer), x-transformers convention.

Shape key: B batch, H heads, N sequence, D head dim.

The F5-TTS DiT uses ``x_transformers.RotaryEmbedding(dim_head)``: ``inv_freq = 1 / 10000^(2i/D)`` is a
*persistent* buffer (so official checkpoints carry ``rotary_embed.inv_freq``), the angle table is
``t * inv_freq`` with each frequency repeated for an adjacent channel pair ``[f0, f0, f1, f1, ...]``,
and the rotation pairs channels (2i, 2i+1). ``pe_attn_head`` rotates only the first heads: the older
F5TTS_Base checkpoints were trained with RoPE on head 0 only, so they need ``pe_attn_head=1``.
"""

from __future__ import annotations

import torch
from torch import nn


class RotaryEmbedding(nn.Module):
    def __init__(self, dim: int, base: float = 10000.0, device: torch.device | str | None = None):
        super().__init__()
        inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2, device=device).float() / dim))
        self.register_buffer("inv_freq", inv_freq)  # persistent: part of the official state dict

    def angles(self, seq_len: int) -> torch.Tensor:
        """The (1, N, D) angle table, pairs interleaved; always float32 (rotations are done in fp32)."""
        t = torch.arange(seq_len, device=self.inv_freq.device, dtype=torch.float32)
        freqs = torch.einsum("i,j->ij", t, self.inv_freq.float())  # (N, D/2)
        return torch.stack((freqs, freqs), dim=-1).flatten(-2).unsqueeze(0)  # (1, N, D)


def rotate_pairs(x: torch.Tensor) -> torch.Tensor:
    """(x0, x1, x2, x3, ...) -> (-x1, x0, -x3, x2, ...): a quarter turn of each channel pair."""
    pairs = x.unflatten(-1, (-1, 2))
    return torch.stack((-pairs[..., 1], pairs[..., 0]), dim=-1).flatten(-2)


def rotation_table(angles: torch.Tensor) -> torch.Tensor:
    """(1, N, D) pair-interleaved angles -> (1, 1, N, D/2) complex64 unit rotations, computed once per
    forward and shared by every layer (the reference recomputes cos/sin in each)."""
    half = angles[..., 0::2].float()
    return torch.polar(torch.ones_like(half), half).unsqueeze(1)


def apply_rotary(x: torch.Tensor, angles: torch.Tensor, n_heads: int | None = None) -> torch.Tensor:
    """Rotate ``x`` (B, H, N, D) by ``angles`` (1, N, D) or a :func:`rotation_table`; only the first
    ``n_heads`` heads if given.

    Computed in float32 and cast back, like the reference (its rotation runs with autocast off). The
    table form multiplies each channel pair as a complex number, (x0 + i x1)(cos + i sin): the same
    products and sums as ``x cos + rotate_pairs(x) sin`` in one pass instead of five.
    """
    if n_heads is not None and n_heads < x.shape[1]:
        head = apply_rotary(x[:, :n_heads], angles)
        return torch.cat((head, x[:, n_heads:]), dim=1)
    dtype = x.dtype
    if angles.is_complex():
        rot = angles[:, :, -x.shape[-2]:]
        xf = x.float().unflatten(-1, (-1, 2))
        if torch.compiler.is_compiling():  # the same products in real form: complex views break a compiled graph
            x0, x1 = xf.unbind(-1)
            c, s = rot.real, rot.imag
            return torch.stack((x0 * c - x1 * s, x0 * s + x1 * c), dim=-1).flatten(-2).to(dtype)
        if xf.stride(-1) != 1 or any(st % 2 for st in xf.stride()[:-1]) or xf.storage_offset() % 2:
            xf = xf.contiguous()  # view_as_complex needs interleaved pairs; (B, H, N, D) views of q/k have them
        pairs = torch.view_as_complex(xf)  # (B, H, N, D/2)
        return torch.view_as_real(pairs * rot).flatten(-2).to(dtype)
    xf = x.float()
    ang = angles[:, -x.shape[-2]:, :].unsqueeze(1)  # (1, 1, N, D)
    out = xf * ang.cos() + rotate_pairs(xf) * ang.sin()
    return out.to(dtype)
