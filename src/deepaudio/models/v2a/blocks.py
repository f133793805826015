"""MM-DiT blocks of MMAudio: per-stream adaLN single blocks, joint attention, final layer.

Shape key: B batch, N latent tokens, M clip tokens, L text tokens, D hidden, H heads, K = D/H head dim.

Follows ``mmaudio/model/transformer_layers.py`` (names kept so official weights load):
- ``attn.qkv`` is one Linear whose output is laid out per head as (K, 3), i.e. channel
  ``h*3K + k*3 + j`` is q/k/v (j) for head h, channel k; q and k get RMSNorm over K (learned scale,
  eps = torch default) and then RoPE on the latent and CLIP streams.
- A full block: ``x += gate_msa * linear1(attn)``, ``x += gate_mlp * ffn(modulate(norm2(x)))`` where
  ``linear1``/``ffn`` are kernel-3 convolutions on audio/CLIP and linear on text.
- The last joint block is ``pre_only`` for the CLIP and text streams: they only supply keys/values, so
  those blocks have no output projection or FFN and a 2-way (shift, scale) modulation.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from deepaudio.nn.mm_layers import ChannelLastConv1d, SwiGLU, apply_rope, modulate


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """(B, H, N, K) x3 -> (B, N, H*K); no mask: every MMAudio sequence has a fixed length."""
    out = F.scaled_dot_product_attention(q.contiguous(), k.contiguous(), v.contiguous())
    return out.transpose(1, 2).flatten(2)


class SelfAttentionQKV(nn.Module):
    """Produces normalised, rotated q, k, v; the attention itself may be joint over several streams."""

    def __init__(self, dim: int, num_heads: int, device=None, dtype=None):
        super().__init__()
        self.num_heads = num_heads
        head_dim = dim // num_heads
        self.qkv = nn.Linear(dim, 3 * dim, device=device, dtype=dtype)
        self.q_norm = nn.RMSNorm(head_dim, device=device, dtype=dtype)
        self.k_norm = nn.RMSNorm(head_dim, device=device, dtype=dtype)

    def forward(self, x: torch.Tensor, rot: torch.Tensor | None):  # (B, N, D) -> 3 x (B, H, N, K)
        qkv = self.qkv(x).unflatten(-1, (self.num_heads, -1, 3)).permute(0, 2, 1, 3, 4)  # (B, H, N, K, 3)
        q, k, v = qkv.unbind(-1)
        q, k = self.q_norm(q), self.k_norm(k)
        if rot is not None:
            q, k = apply_rope(q, rot), apply_rope(k, rot)
        return q, k, v


class MMDiTBlock(nn.Module):
    """One stream's transformer block with adaLN-zero modulation from a condition c of (B, 1, D) or (B, N, D)."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4.0, pre_only: bool = False,
                 kernel_size: int = 3, device=None, dtype=None):
        super().__init__()
        kw = dict(device=device, dtype=dtype)
        self.pre_only = pre_only
        self.norm1 = nn.LayerNorm(dim, elementwise_affine=False, **kw)
        self.attn = SelfAttentionQKV(dim, num_heads, **kw)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(dim, (2 if pre_only else 6) * dim, **kw))
        if not pre_only:
            if kernel_size == 1:
                self.linear1 = nn.Linear(dim, dim, **kw)
            else:
                self.linear1 = ChannelLastConv1d(dim, dim, kernel_size, padding=kernel_size // 2, **kw)
            self.norm2 = nn.LayerNorm(dim, elementwise_affine=False, **kw)
            self.ffn = SwiGLU(dim, int(dim * mlp_ratio), kernel_size=kernel_size, **kw)

    def pre_attention(self, x: torch.Tensor, c: torch.Tensor, rot: torch.Tensor | None):
        mod = self.adaLN_modulation(c).chunk(2 if self.pre_only else 6, dim=-1)
        qkv = self.attn(modulate(self.norm1(x), mod[0], mod[1]), rot)
        return qkv, mod[2:]

    def post_attention(self, x: torch.Tensor, attn_out: torch.Tensor, mod: tuple[torch.Tensor, ...]) -> torch.Tensor:
        if self.pre_only:
            return x
        gate_msa, shift_mlp, scale_mlp, gate_mlp = mod
        x = x + self.linear1(attn_out) * gate_msa
        return x + self.ffn(modulate(self.norm2(x), shift_mlp, scale_mlp)) * gate_mlp

    def forward(self, x: torch.Tensor, c: torch.Tensor, rot: torch.Tensor | None) -> torch.Tensor:
        qkv, mod = self.pre_attention(x, c, rot)
        return self.post_attention(x, attention(*qkv), mod)


class JointBlock(nn.Module):
    """Audio latents, CLIP and text tokens attend jointly (SD3 MM-DiT), each with its own weights.

    The latent stream is modulated by the frame-aligned condition (global + upsampled sync features),
    the CLIP and text streams by the global condition only.
    """

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4.0, pre_only: bool = False,
                 device=None, dtype=None):
        super().__init__()
        kw = dict(device=device, dtype=dtype)
        self.pre_only = pre_only
        self.latent_block = MMDiTBlock(dim, num_heads, mlp_ratio, pre_only=False, kernel_size=3, **kw)
        self.clip_block = MMDiTBlock(dim, num_heads, mlp_ratio, pre_only=pre_only, kernel_size=3, **kw)
        self.text_block = MMDiTBlock(dim, num_heads, mlp_ratio, pre_only=pre_only, kernel_size=1, **kw)

    def forward(self, latent: torch.Tensor, clip_f: torch.Tensor, text_f: torch.Tensor, global_c: torch.Tensor,
                extended_c: torch.Tensor, latent_rot: torch.Tensor, clip_rot: torch.Tensor):
        x_qkv, x_mod = self.latent_block.pre_attention(latent, extended_c, latent_rot)
        c_qkv, c_mod = self.clip_block.pre_attention(clip_f, global_c, clip_rot)
        t_qkv, t_mod = self.text_block.pre_attention(text_f, global_c, None)
        n, m = latent.shape[1], clip_f.shape[1]
        out = attention(*(torch.cat([a, b, c], dim=2) for a, b, c in zip(x_qkv, c_qkv, t_qkv)))  # (B, N+M+L, D)
        latent = self.latent_block.post_attention(latent, out[:, :n], x_mod)
        if not self.pre_only:
            clip_f = self.clip_block.post_attention(clip_f, out[:, n:n + m], c_mod)
            text_f = self.text_block.post_attention(text_f, out[:, n + m:], t_mod)
        return latent, clip_f, text_f


class FinalBlock(nn.Module):
    """adaLN (shift, scale) then a kernel-7 conv to the latent channels."""

    def __init__(self, dim: int, out_dim: int, device=None, dtype=None):
        super().__init__()
        kw = dict(device=device, dtype=dtype)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(dim, 2 * dim, **kw))
        self.norm = nn.LayerNorm(dim, elementwise_affine=False, **kw)
        self.conv = ChannelLastConv1d(dim, out_dim, 7, padding=3, **kw)

    def forward(self, latent: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        shift, scale = self.adaLN_modulation(c).chunk(2, dim=-1)
        return self.conv(modulate(self.norm(latent), shift, scale))
