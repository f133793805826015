"""Multi-head self-attention with RoPE, optional QK-norm and padding masks (F5-TTS DiT attention).

Shape key: B batch, H heads, N sequence, D model dim, Dh head dim.

Parameter names follow the official module (``to_q``, ``to_k``, ``to_v``, ``to_out.0``, ``q_norm``,
``k_norm``) so checkpoints load directly. Masking follows the reference: with ``key_mask`` the
padded frames are removed as keys (``attn_mask_enabled``); padded query rows are always zeroed at the
output so nothing computed from padding flows on through the residual stream.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from deepaudio.nn.norm import RMSNorm
from deepaudio.nn.rope import apply_rotary


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int, dim_head: int, dropout: float = 0.0, qk_norm: str | None = None,
                 rope_heads: int | None = None, device: torch.device | str | None = None):
        super().__init__()
        inner = heads * dim_head
        self.heads, self.dim_head, self.rope_heads = heads, dim_head, rope_heads
        self.to_q = nn.Linear(dim, inner, device=device)
        self.to_k = nn.Linear(dim, inner, device=device)
        self.to_v = nn.Linear(dim, inner, device=device)
        if qk_norm is None:
            self.q_norm = self.k_norm = None
        elif qk_norm == "rms_norm":
            self.q_norm = RMSNorm(dim_head, eps=1e-6, device=device)
            self.k_norm = RMSNorm(dim_head, eps=1e-6, device=device)
        else:
            raise ValueError(f"unknown qk_norm {qk_norm!r} (None or 'rms_norm')")
        self.to_out = nn.ModuleList([nn.Linear(inner, dim, device=device), nn.Dropout(dropout)])

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None, rope: torch.Tensor | None = None,
                key_mask: bool = False) -> torch.Tensor:
        b = x.shape[0]
        q, k, v = (proj(x).view(b, -1, self.heads, self.dim_head).transpose(1, 2)
                   for proj in (self.to_q, self.to_k, self.to_v))  # (B, H, N, Dh)
        if self.q_norm is not None:
            q, k = self.q_norm(q), self.k_norm(k)
        if rope is not None:
            q = apply_rotary(q, rope, self.rope_heads)
            k = apply_rotary(k, rope, self.rope_heads)
        attn_mask = mask[:, None, None, :] if (key_mask and mask is not None) else None  # (B, 1, 1, N)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
        out = out.transpose(1, 2).reshape(b, -1, self.heads * self.dim_head).to(q.dtype)
        out = self.to_out[1](self.to_out[0](out))
        if mask is not None:
            out = out.masked_fill(~mask.unsqueeze(-1), 0.0)
        return out


class FeedForward(nn.Module):
    """Linear -> GELU(tanh) -> Dropout -> Linear, keys ``ff.0.0`` and ``ff.2`` as in F5-TTS."""

    def __init__(self, dim: int, mult: float = 4, dropout: float = 0.0, approximate: str = "tanh",
                 device: torch.device | str | None = None):
        super().__init__()
        inner = int(dim * mult)
        self.ff = nn.Sequential(nn.Sequential(nn.Linear(dim, inner, device=device), nn.GELU(approximate=approximate)),
                                nn.Dropout(dropout), nn.Linear(inner, dim, device=device))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.ff(x)
