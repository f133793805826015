"""CLIP image and text towers with open_clip's state-dict layout (Radford et al. 2021; DFN5B weights,
Fang et al. 2023), the semantic and text encoders of MMAudio.

open_clip needs torchvision, which has no build beside our torch, so the two towers are written here
and load an open_clip ``ViT-H-14-378-quickgelu`` / ``hf-hub:apple/DFN5B-CLIP-ViT-H-14-384`` state dict
strictly (``visual.*``, ``token_embedding``, ``transformer.*``, ``ln_final``, ``text_projection``,
``logit_scale``). Both towers are pre-norm transformers with fused ``in_proj`` attention and
``c_fc``/``c_proj`` MLPs (QuickGELU for the DFN models); LayerNorms run in float32 as open_clip's do.

MMAudio uses ``encode_image(x, normalize=True)`` (the projected CLS token, L2-normalised) per frame,
and a patched ``encode_text`` returning *every* token after ``ln_final`` (no projection), L2-normalised
per token: :meth:`OpenCLIP.encode_text_tokens`.

Shape key: B batch, C=3 channels, H=W image pixels, g = H // patch grid, N = 1 + g*g image tokens,
L = 77 text tokens, W tower width, E embed (projection) width.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from deepaudio.checkpoint import Pretrained, register_model
from deepaudio.config import Registry

# OpenAI CLIP pixel statistics, used by the DFN5B models and by MMAudio's ``clip_preprocess``.
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


@dataclass(frozen=True)
class CLIPConfig:
    embed_dim: int = 1024
    image_size: int = 384
    patch_size: int = 14
    vision_width: int = 1280
    vision_layers: int = 32
    vision_heads: int = 16  # head width 80
    vision_mlp_ratio: float = 4.0
    context_length: int = 77
    vocab_size: int = 49408
    text_width: int = 1024
    text_layers: int = 24
    text_heads: int = 16
    text_mlp_ratio: float = 4.0
    quick_gelu: bool = True

    @property
    def grid(self) -> int:
        return self.image_size // self.patch_size


CLIP_PRESETS: Registry[CLIPConfig] = Registry("CLIP preset")
# open_clip 'ViT-H-14-378-quickgelu' with the hub config of apple/DFN5B-CLIP-ViT-H-14-384 (384 px input).
CLIP_PRESETS.add("dfn5b_vit_h_14_384", CLIPConfig())
CLIP_PRESETS.add("tiny", CLIPConfig(embed_dim=16, image_size=32, patch_size=8, vision_width=32, vision_layers=2,
                                    vision_heads=4, context_length=77, vocab_size=600, text_width=24, text_layers=2,
                                    text_heads=4))


class LayerNorm32(nn.LayerNorm):
    """LayerNorm computed in float32 (open_clip's ``LayerNorm``), cast back to the input dtype."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = None if self.weight is None else self.weight.float()
        b = None if self.bias is None else self.bias.float()
        if x.dtype == torch.bfloat16 and x.device.type == "cpu":
            # the CPU kernel takes bf16 in with float weights and computes in float: the same numbers (1 ulp
            # apart in 2e-5 of the elements) without the two full-size copies, 25x faster on ViT-H activations
            return F.layer_norm(x, self.normalized_shape, w, b, self.eps)
        return F.layer_norm(x.float(), self.normalized_shape, w, b, self.eps).to(x.dtype)


class QuickGELU(nn.Module):
    """x * sigmoid(1.702 x): the GELU approximation the original CLIP and the DFN models were trained with."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(1.702 * x)


QUICK_GELU_SCALE = 1.702


def fold_quick_gelu(model: nn.Module) -> int:
    """Rewrite every QuickGELU MLP of ``model`` for inference: ``c_proj(h * sigmoid(1.702 h))`` with ``h =
    c_fc(x)`` equals ``c_proj'(silu(c_fc'(x)))`` with ``c_fc`` scaled by 1.702 and ``c_proj``'s weight by
    1/1.702 -- one fused SiLU instead of three elementwise passes over the widest activation (16 % of a bf16
    ViT-H forward here). Returns how many blocks changed. The weights no longer equal the checkpoint's, so
    a folded model is for inference only (the V2A pipeline's encoders); scaling runs in float32.
    """
    n = 0
    for block in model.modules():
        if isinstance(block, ResidualBlock) and isinstance(block.mlp.gelu, QuickGELU):
            fc, proj = block.mlp.c_fc, block.mlp.c_proj
            with torch.no_grad():
                for p, k in ((fc.weight, QUICK_GELU_SCALE), (fc.bias, QUICK_GELU_SCALE),
                             (proj.weight, 1 / QUICK_GELU_SCALE)):
                    p.copy_(p.float() * k)
            block.mlp.gelu = nn.SiLU()
            n += 1
    return n


class FusedAttention(nn.Module):
    """Multi-head self-attention with ``nn.MultiheadAttention``'s parameter names (in_proj + out_proj)."""

    def __init__(self, dim: int, heads: int, device=None, dtype=None):
        super().__init__()
        self.heads = heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * dim, dim, device=device, dtype=dtype))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * dim, device=device, dtype=dtype))
        self.out_proj = nn.Linear(dim, dim, device=device, dtype=dtype)
        nn.init.xavier_uniform_(self.in_proj_weight)

    def forward(self, x: torch.Tensor, causal: bool, first_query_only: bool = False) -> torch.Tensor:  # (B, N, W)
        """``first_query_only``: attend from position 0 alone -> (B, 1, W) (the CLS row of a last block)."""
        if first_query_only:
            w_q, w_kv = self.in_proj_weight.split((x.shape[-1], 2 * x.shape[-1]))
            b_q, b_kv = self.in_proj_bias.split((x.shape[-1], 2 * x.shape[-1]))
            q = F.linear(x[:, :1], w_q, b_q).unflatten(-1, (self.heads, -1)).transpose(1, 2)
            k, v = (z.unflatten(-1, (self.heads, -1)).transpose(1, 2)
                    for z in F.linear(x[:, :1] if causal else x, w_kv, b_kv).chunk(2, dim=-1))
        else:
            q, k, v = (z.unflatten(-1, (self.heads, -1)).transpose(1, 2)
                       for z in F.linear(x, self.in_proj_weight, self.in_proj_bias).chunk(3, dim=-1))  # (B, h, N, d)
        out = F.scaled_dot_product_attention(q, k, v, is_causal=causal and not first_query_only)
        return self.out_proj(out.transpose(1, 2).flatten(2))


class ResidualBlock(nn.Module):
    """x += attn(ln_1 x); x += mlp(ln_2 x) (open_clip ``ResidualAttentionBlock`` without layer scale)."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float, quick_gelu: bool, device=None, dtype=None):
        super().__init__()
        kw = dict(device=device, dtype=dtype)
        hidden = int(dim * mlp_ratio)
        self.ln_1 = LayerNorm32(dim, **kw)
        self.attn = FusedAttention(dim, heads, **kw)
        self.ln_2 = LayerNorm32(dim, **kw)
        self.mlp = nn.Sequential(OrderedDict(c_fc=nn.Linear(dim, hidden, **kw),
                                             gelu=QuickGELU() if quick_gelu else nn.GELU(),
                                             c_proj=nn.Linear(hidden, dim, **kw)))

    def forward(self, x: torch.Tensor, causal: bool, first_only: bool = False) -> torch.Tensor:
        """``first_only``: only row 0 of the output (B, 1, W), every row still a key: a ViT's last block
        feeds nothing but its CLS row onwards, so the other rows' queries and MLP are skipped."""
        x = (x[:, :1] if first_only else x) + self.attn(self.ln_1(x), causal, first_query_only=first_only)
        return x + self.mlp(self.ln_2(x))


class Transformer(nn.Module):
    def __init__(self, dim: int, layers: int, heads: int, mlp_ratio: float, quick_gelu: bool, device=None,
                 dtype=None):
        super().__init__()
        self.resblocks = nn.ModuleList([ResidualBlock(dim, heads, mlp_ratio, quick_gelu, device, dtype)
                                        for _ in range(layers)])

    def forward(self, x: torch.Tensor, causal: bool = False, first_only: bool = False) -> torch.Tensor:
        """``first_only``: the last block computes row 0 alone -> (B, 1, W)."""
        last = len(self.resblocks) - 1
        for i, block in enumerate(self.resblocks):
            x = block(x, causal, first_only=first_only and i == last)
        return x


class VisionTower(nn.Module):
    """ViT: patchify (no bias), prepend CLS, add positions, ln_pre, blocks, ln_post, CLS @ proj."""

    def __init__(self, cfg: CLIPConfig, device=None, dtype=None):
        super().__init__()
        kw = dict(device=device, dtype=dtype)
        w, p = cfg.vision_width, cfg.patch_size
        self.cfg = cfg
        self.conv1 = nn.Conv2d(3, w, p, stride=p, bias=False, **kw)
        self.class_embedding = nn.Parameter(torch.randn(w, **kw) * w ** -0.5)
        self.positional_embedding = nn.Parameter(torch.randn(1 + cfg.grid ** 2, w, **kw) * w ** -0.5)
        self.ln_pre = LayerNorm32(w, **kw)
        self.transformer = Transformer(w, cfg.vision_layers, cfg.vision_heads, cfg.vision_mlp_ratio, cfg.quick_gelu,
                                       **kw)
        self.ln_post = LayerNorm32(w, **kw)
        self.proj = nn.Parameter(torch.randn(w, cfg.embed_dim, **kw) * w ** -0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, 3, H, W) normalised pixels -> (B, E)
        grid = (x.shape[-2] // self.cfg.patch_size, x.shape[-1] // self.cfg.patch_size)
        if grid != (self.cfg.grid, self.cfg.grid):
            raise ValueError(f"CLIP expects {self.cfg.image_size}x{self.cfg.image_size} images, got "
                             f"{x.shape[-2]}x{x.shape[-1]}")
        x = self.conv1(x.to(self.conv1.weight.dtype)).flatten(2).transpose(1, 2)  # (B, g*g, W)
        cls = self.class_embedding.to(x.dtype).expand(x.shape[0], 1, -1)
        x = torch.cat([cls, x], dim=1) + self.positional_embedding.to(x.dtype)  # (B, N, W)
        x = self.transformer(self.ln_pre(x), first_only=True)  # (B, 1, W): the CLS row is all that is used
        return self.ln_post(x[:, 0]) @ self.proj


@register_model
class OpenCLIP(nn.Module, Pretrained):
    """Image + text towers; attribute names are open_clip's ``CLIP`` so its state dicts load strictly."""

    kind = "open_clip"
    config_class = CLIPConfig

    def __init__(self, config: CLIPConfig, device: torch.device | str | None = None,
                 dtype: torch.dtype | None = None):
        super().__init__()
        kw = dict(device=device, dtype=dtype)
        self.config = config
        w = config.text_width
        self.visual = VisionTower(config, **kw)
        self.token_embedding = nn.Embedding(config.vocab_size, w, **kw)
        self.positional_embedding = nn.Parameter(torch.randn(config.context_length, w, **kw) * 0.01)
        self.transformer = Transformer(w, config.text_layers, config.text_heads, config.text_mlp_ratio,
                                       config.quick_gelu, **kw)
        self.ln_final = LayerNorm32(w, **kw)
        self.text_projection = nn.Parameter(torch.randn(w, config.embed_dim, **kw) * w ** -0.5)
        self.logit_scale = nn.Parameter(torch.full((), 4.6052, **kw))  # log(100), unused here

    def encode_image(self, pixels: torch.Tensor, normalize: bool = False) -> torch.Tensor:
        """(B, 3, H, W) pixels normalised with CLIP_MEAN/CLIP_STD -> (B, E)."""
        x = self.visual(pixels)
        return F.normalize(x, dim=-1) if normalize else x

    def encode_text_tokens(self, tokens: torch.Tensor, normalize: bool = True) -> torch.Tensor:
        """(B, L) token ids -> (B, L, W): every position after ``ln_final`` with the causal mask, no projection
        (MMAudio's patched ``encode_text``; normalised per token as MMAudio calls it)."""
        x = self.token_embedding(tokens) + self.positional_embedding.to(self.token_embedding.weight.dtype)
        x = self.ln_final(self.transformer(x, causal=True))
        return F.normalize(x, dim=-1) if normalize else x

    def encode_text(self, tokens: torch.Tensor, normalize: bool = False) -> torch.Tensor:
        """Standard CLIP text embedding (B, E): the end-of-text token (highest id) projected."""
        x = self.encode_text_tokens(tokens, normalize=False)
        x = x[torch.arange(x.shape[0], device=x.device), tokens.argmax(dim=-1)] @ self.text_projection
        return F.normalize(x, dim=-1) if normalize else x
