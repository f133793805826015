"""Synchformer visual encoder (Iashin et al., "Synchformer: Efficient Synchronization from Sparse Cues",
ICASSP 2024) as used by MMAudio for frame-aligned sync features.

Shape key: B batch, S segments, T frames per segment (16), C=3 colour channels, H=W=224 pixels,
t = T / temporal patch size (8), h = w = 224 / patch size (14), D width (768), P = h*w patches.

The visual branch is a MotionFormer-style ViT with *divided* space-time attention (TimeSformer,
Bertasius et al. 2021) on 2x16x16 tubelets; each block is time attention, space attention, MLP, with
the CLS token attending to every token and prepended as key/value to each factorised attention. The
features are then pooled over space per frame by a pre-norm transformer encoder layer with its own CLS
token, giving t = 8 tokens per 16-frame segment. State-dict names follow the reference
(``mmaudio/ext/synchformer``) under ``vfeat_extractor.``; the unused 2-D ``patch_embed.proj`` is kept
so released files load strictly.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from deepaudio.checkpoint import Pretrained, register_model
from deepaudio.config import Registry

SEGMENT_FRAMES = 16
SEGMENT_STEP = 8
SYNC_FPS = 25
SYNC_SIZE = 224


@dataclass(frozen=True)
class SynchformerConfig:
    embed_dim: int = 768
    depth: int = 12
    num_heads: int = 12
    mlp_ratio: float = 4.0
    patch_size: int = 16
    patch_size_temp: int = 2
    temporal_resolution: int = 8  # tubelets per segment (= frames / patch_size_temp)
    img_size: int = SYNC_SIZE
    in_chans: int = 3
    qkv_bias: bool = True

    @property
    def grid(self) -> int:
        return self.img_size // self.patch_size

    @property
    def segment_frames(self) -> int:
        return self.temporal_resolution * self.patch_size_temp


SYNCHFORMER_PRESETS: Registry[SynchformerConfig] = Registry("Synchformer preset")
SYNCHFORMER_PRESETS.add("base", SynchformerConfig())
SYNCHFORMER_PRESETS.add("tiny", SynchformerConfig(embed_dim=32, depth=2, num_heads=4, patch_size=32,
                                                  temporal_resolution=2))


class DividedAttention(nn.Module):
    """Attention along one factor (time or space) of a (B, 1 + t*P, D) token grid, CLS handled globally."""

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool, device=None, dtype=None):
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias, device=device, dtype=dtype)
        self.proj = nn.Linear(dim, dim, device=device, dtype=dtype)

    def forward(self, x: torch.Tensor, frames: int, over: str) -> torch.Tensor:
        b, n, d = x.shape
        h = self.num_heads
        q, k, v = (z.unflatten(-1, (h, -1)).transpose(1, 2) for z in self.qkv(x).chunk(3, dim=-1))  # (B, H, N, K)
        q = q * q.shape[-1] ** -0.5
        cls_out = F.scaled_dot_product_attention(q[:, :, :1], k, v, scale=1.0)  # CLS query sees every token
        p = (n - 1) // frames

        def split(z: torch.Tensor) -> torch.Tensor:  # (B, H, t*P, K) -> (B*H*groups, len, K)
            z = z.unflatten(2, (frames, p))  # (B, H, t, P, K)
            if over == "time":
                z = z.transpose(2, 3)  # (B, H, P, t, K): attend over frames for each patch
            return z.flatten(0, 2)

        groups = p if over == "time" else frames
        q_, k_, v_ = split(q[:, :, 1:]), split(k[:, :, 1:]), split(v[:, :, 1:])
        # every group also attends to the CLS key/value
        cls_k, cls_v = (z[:, :, :1].unsqueeze(2).expand(b, h, groups, 1, z.shape[-1]).flatten(0, 2) for z in (k, v))
        out = F.scaled_dot_product_attention(q_, torch.cat([cls_k, k_], 1), torch.cat([cls_v, v_], 1), scale=1.0)
        out = out.unflatten(0, (b, h, groups))  # (B, H, groups, len, K)
        if over == "time":
            out = out.transpose(2, 3)
        out = torch.cat([cls_out, out.flatten(2, 3)], dim=2)  # (B, H, N, K)
        return self.proj(out.transpose(1, 2).flatten(2))


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int, device=None, dtype=None):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden, device=device, dtype=dtype)
        self.fc2 = nn.Linear(hidden, dim, device=device, dtype=dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class DividedSpaceTimeBlock(nn.Module):
    """x += time_attn(norm3 x); x += space_attn(norm1 x); x += mlp(norm2 x) (TimeSformer 'divided')."""

    def __init__(self, cfg: SynchformerConfig, device=None, dtype=None):
        super().__init__()
        kw = dict(device=device, dtype=dtype)
        d = cfg.embed_dim
        self.norm1 = nn.LayerNorm(d, eps=1e-6, **kw)
        self.attn = DividedAttention(d, cfg.num_heads, cfg.qkv_bias, **kw)
        self.timeattn = DividedAttention(d, cfg.num_heads, cfg.qkv_bias, **kw)
        self.norm2 = nn.LayerNorm(d, eps=1e-6, **kw)
        self.mlp = Mlp(d, int(d * cfg.mlp_ratio), **kw)
        self.norm3 = nn.LayerNorm(d, eps=1e-6, **kw)

    def forward(self, x: torch.Tensor, frames: int) -> torch.Tensor:
        x = x + self.timeattn(self.norm3(x), frames, "time")
        x = x + self.attn(self.norm1(x), frames, "space")
        return x + self.mlp(self.norm2(x))


class SpatialPool(nn.Module):
    """A pre-norm transformer encoder layer (GELU, eps 1e-6) over one frame's patches plus a learned CLS
    token; the CLS output is the frame's feature. Names follow torch's ``nn.TransformerEncoderLayer``."""

    def __init__(self, cfg: SynchformerConfig, device=None, dtype=None):
        super().__init__()
        kw = dict(device=device, dtype=dtype)
        d = cfg.embed_dim
        self.cls_token = nn.Parameter(torch.zeros(1, 1, d, **kw))
        self.self_attn = nn.MultiheadAttention(d, cfg.num_heads, batch_first=True, **kw)
        self.linear1 = nn.Linear(d, int(cfg.mlp_ratio * d), **kw)
        self.linear2 = nn.Linear(int(cfg.mlp_ratio * d), d, **kw)
        self.norm1 = nn.LayerNorm(d, eps=1e-6, **kw)
        self.norm2 = nn.LayerNorm(d, eps=1e-6, **kw)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B', P, D) -> (B', D)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1)
        h = self.norm1(x)
        x = x + self.self_attn(h, h, h, need_weights=False)[0]
        x = x + self.linear2(F.gelu(self.linear1(self.norm2(x))))
        return x[:, 0]


class MotionFormer(nn.Module):
    def __init__(self, cfg: SynchformerConfig, device=None, dtype=None):
        super().__init__()
        kw = dict(device=device, dtype=dtype)
        d, p = cfg.embed_dim, cfg.patch_size
        self.cfg = cfg
        # Unused 2-D patch embedding, kept only because released checkpoints hold it.
        self.patch_embed = nn.Module()
        self.patch_embed.proj = nn.Conv2d(cfg.in_chans, d, p, stride=p, **kw)
        self.patch_embed.requires_grad_(False)
        self.patch_embed_3d = nn.Module()
        self.patch_embed_3d.proj = nn.Conv3d(cfg.in_chans, d, (cfg.patch_size_temp, p, p),
                                             stride=(cfg.patch_size_temp, p, p), **kw)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, d, **kw))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + cfg.grid ** 2, d, **kw))
        self.temp_embed = nn.Parameter(torch.zeros(1, cfg.temporal_resolution, d, **kw))
        self.blocks = nn.ModuleList([DividedSpaceTimeBlock(cfg, **kw) for _ in range(cfg.depth)])
        self.norm = nn.LayerNorm(d, eps=1e-6, **kw)
        self.spatial_attn_agg = SpatialPool(cfg, **kw)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B', C, T, H, W) -> tokens (B', 1 + t*P, D) after the blocks (before the final norm)."""
        cfg = self.cfg
        x = self.patch_embed_3d.proj(x).flatten(2).transpose(1, 2)  # (B', t*P, D), time-major
        t = x.shape[1] // cfg.grid ** 2
        if t != cfg.temporal_resolution:
            raise ValueError(f"segment gives {t} tubelets, the encoder expects {cfg.temporal_resolution} "
                             f"({cfg.segment_frames} frames of {cfg.img_size}x{cfg.img_size})")
        # 'separate' positional embedding: spatial table tiled over time + temporal table per patch.
        pos = self.pos_embed[:, 1:].repeat(1, t, 1) + self.temp_embed.repeat_interleave(cfg.grid ** 2, dim=1)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1) + self.pos_embed[:, :1], x + pos], dim=1)
        for block in self.blocks:
            x = block(x, t)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B', C, T, H, W) -> (B', t, D)
        tokens = self.norm(self.forward_features(x)[:, 1:])  # (B', t*P, D)
        b, n, d = tokens.shape
        per_frame = tokens.reshape(b * self.cfg.temporal_resolution, n // self.cfg.temporal_resolution, d)
        return self.spatial_attn_agg(per_frame).view(b, self.cfg.temporal_resolution, d)


@register_model
class Synchformer(nn.Module, Pretrained):
    """Visual sync encoder: segments (B, S, T, C, H, W) in [-1, 1] -> (B, S, t, D)."""

    kind = "synchformer"
    config_class = SynchformerConfig

    def __init__(self, config: SynchformerConfig, device: torch.device | str | None = None,
                 dtype: torch.dtype | None = None):
        super().__init__()
        self.config = config
        self.vfeat_extractor = MotionFormer(config, device=device, dtype=dtype)

    def forward(self, segments: torch.Tensor) -> torch.Tensor:
        b, s, t, c, h, w = segments.shape
        x = segments.reshape(b * s, t, c, h, w).transpose(1, 2)  # (B*S, C, T, H, W)
        return self.vfeat_extractor(x).unflatten(0, (b, s))

    @torch.no_grad()
    def encode_video(self, frames: torch.Tensor, batch_size: int = 0) -> torch.Tensor:
        """Frames (B, T, C, 224, 224) in [-1, 1] at 25 fps -> sync features (B, S*t, D).

        Segments of 16 frames with stride 8 (MMAudio ``encode_video_with_sync``); S = (T - 16) // 8 + 1.
        ``batch_size`` bounds how many segments run at once (0: all).
        """
        seg = self.config.segment_frames
        step = seg // 2
        b, n = frames.shape[:2]
        if n < seg:
            raise ValueError(f"need at least {seg} frames for one sync segment, got {n}")
        segs = frames.unfold(1, seg, step).permute(0, 1, 5, 2, 3, 4)  # (B, S, T, C, H, W)
        flat = segs.flatten(0, 1).unsqueeze(1)  # (B*S, 1, T, C, H, W)
        chunk = batch_size if batch_size > 0 else flat.shape[0]
        feats = torch.cat([self(flat[i:i + chunk]) for i in range(0, flat.shape[0], chunk)])  # (B*S, 1, t, D)
        return feats.reshape(b, -1, feats.shape[-1])


def frames_to_sync_input(frames: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """uint8 video frames (T, H, W, 3), already 224x224 at 25 fps (``io.video.read_frames``), -> (T, 3, H, W)
    in [-1, 1], the normalisation (mean 0.5, std 0.5) Synchformer was trained with."""
    x = frames.permute(0, 3, 1, 2).to(dtype) / 255.0
    return (x - 0.5) / 0.5


def official_state_to_ours(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Keep the visual branch of an official Synchformer state dict (the released file also holds the
    audio branch and the sync transformer, which MMAudio drops)."""
    return {k: v for k, v in state.items() if k.startswith("vfeat_extractor.")}
