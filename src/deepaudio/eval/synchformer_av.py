"""The full Synchformer (Iashin et al., ICASSP 2024) as av-benchmark uses it for DeSync: the visual branch,
an AST audio branch and the transformer that classifies the audio-visual offset.

Shape key: B batch, S segments (0.64 s each), tv = 8 visual tokens and ta = 6 audio tokens per segment,
D width (768), Fm = 128 mel bins, Tm = 66 mel frames per segment, f x t = 12 x 6 AST patches, K offset classes.

* visual: our ``MotionFormer`` port (``models.encoders.synchformer``), 16 frames at 25 fps -> (tv, D);
* audio: an Audio Spectrogram Transformer (Gong et al. 2021, Hugging Face ``ASTModel`` layout: CLS and
  distillation tokens, 16x16 patches with stride 10, post-LN-free pre-norm layers with eps 1e-12, a final
  LayerNorm) on a (Tm, Fm) log-mel; its patch tokens are pooled over frequency per time step by a
  pre-norm encoder layer with a CLS token (the same ``SpatialPool`` as the visual branch) -> (ta, D);
* head: ``vproj`` / ``aproj`` linears, input LayerNorms, [OFF, v..., MOD, a...] with a learned absolute
  position table sized for 14 segments (14 * (8 + 6) + 2 = 198 tokens), minGPT-style blocks (separate
  key/query/value linears, GELU MLP), a final LayerNorm and a linear on the OFF token -> K = 21 logits
  for offsets -2.0 .. +2.0 s.

State-dict names follow the released ``synchformer_state_dict.pth`` (``vfeat_extractor.``,
``afeat_extractor.ast.``, ``afeat_extractor.freq_attn_agg.``, ``vproj``, ``aproj``, ``transformer.``);
widths and depths are read from the weight shapes so tiny test files load through the same path.
Head counts are not stored in the file: the official 12 (branches) and 8 (offset head) are used.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from deepaudio.errors import CheckpointError
from deepaudio.models.encoders.synchformer import MotionFormer, SpatialPool, SynchformerConfig

AST_MEL_BINS, AST_SPEC_FRAMES, AST_STRIDE = 128, 66, 10


@dataclass(frozen=True)
class SyncModelConfig:
    visual: SynchformerConfig = SynchformerConfig()
    audio_depth: int = 12
    audio_heads: int = 12
    audio_patch: int = 16
    audio_hidden: int = 3072
    head_depth: int = 3
    head_heads: int = 8
    head_tokens: int = 198
    num_offsets: int = 21

    @property
    def dim(self) -> int:
        return self.visual.embed_dim

    @property
    def audio_grid(self) -> tuple[int, int]:
        """(f, t) AST patches per segment."""
        p = self.audio_patch
        return (AST_MEL_BINS - p) // AST_STRIDE + 1, (AST_SPEC_FRAMES - p) // AST_STRIDE + 1

    @property
    def window_segments(self) -> int:
        """Segments per offset decision: the head's position table holds 2 + S * (tv + ta) tokens."""
        per = self.visual.temporal_resolution + self.audio_grid[1]
        return (self.head_tokens - 2) // per


class ASTLayer(nn.Module):
    """x += attn(LN x); x += MLP(LN x); names as Hugging Face ``ASTLayer``."""

    def __init__(self, dim: int, heads: int, hidden: int):
        super().__init__()
        self.heads = heads
        self.attention = nn.Module()
        self.attention.attention = nn.Module()
        for name in ("query", "key", "value"):
            setattr(self.attention.attention, name, nn.Linear(dim, dim))
        self.attention.output = nn.Module()
        self.attention.output.dense = nn.Linear(dim, dim)
        self.intermediate = nn.Module()
        self.intermediate.dense = nn.Linear(dim, hidden)
        self.output = nn.Module()
        self.output.dense = nn.Linear(hidden, dim)
        self.layernorm_before = nn.LayerNorm(dim, eps=1e-12)
        self.layernorm_after = nn.LayerNorm(dim, eps=1e-12)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B', N, D)
        a = self.attention.attention
        h = self.layernorm_before(x)
        q, k, v = (lin(h).unflatten(-1, (self.heads, -1)).transpose(1, 2) for lin in (a.query, a.key, a.value))
        y = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).flatten(2)
        x = x + self.attention.output.dense(y)
        return x + self.output.dense(F.gelu(self.intermediate.dense(self.layernorm_after(x))))


class ASTEncoder(nn.Module):
    """AST on one segment's log-mel (B', Tm, Fm) -> patch tokens (B', f*t, D), frequency-major."""

    def __init__(self, cfg: SyncModelConfig):
        super().__init__()
        d, (f, t) = cfg.dim, cfg.audio_grid
        self.embeddings = nn.Module()
        self.embeddings.cls_token = nn.Parameter(torch.zeros(1, 1, d))
        self.embeddings.distillation_token = nn.Parameter(torch.zeros(1, 1, d))
        self.embeddings.position_embeddings = nn.Parameter(torch.zeros(1, f * t + 2, d))
        self.embeddings.patch_embeddings = nn.Module()
        self.embeddings.patch_embeddings.projection = nn.Conv2d(1, d, cfg.audio_patch, stride=AST_STRIDE)
        self.encoder = nn.Module()
        self.encoder.layer = nn.ModuleList([ASTLayer(d, cfg.audio_heads, cfg.audio_hidden)
                                            for _ in range(cfg.audio_depth)])
        self.layernorm = nn.LayerNorm(d, eps=1e-12)

    def forward(self, spec: torch.Tensor) -> torch.Tensor:
        e = self.embeddings
        x = e.patch_embeddings.projection(spec.transpose(1, 2).unsqueeze(1))  # (B', D, f, t)
        x = x.flatten(2).transpose(1, 2)  # (B', f*t, D)
        aux = torch.cat([e.cls_token, e.distillation_token], 1).expand(x.shape[0], -1, -1)
        x = torch.cat([aux, x], 1) + e.position_embeddings
        for layer in self.encoder.layer:
            x = layer(x)
        return self.layernorm(x)[:, 2:]


class AudioBranch(nn.Module):
    """(B', Tm, Fm) log-mel segments -> (B', ta, D): AST, then a CLS-pool over frequency per time step."""

    def __init__(self, cfg: SyncModelConfig):
        super().__init__()
        self.cfg = cfg
        self.ast = ASTEncoder(cfg)
        pool_cfg = replace(cfg.visual, num_heads=cfg.audio_heads, mlp_ratio=cfg.audio_hidden / cfg.dim)
        self.freq_attn_agg = SpatialPool(pool_cfg)

    def forward(self, spec: torch.Tensor) -> torch.Tensor:
        f, t = self.cfg.audio_grid
        x = self.ast(spec)  # (B', f*t, D)
        b, _, d = x.shape
        x = x.unflatten(1, (f, t)).transpose(1, 2).reshape(b * t, f, d)  # one sequence over f per time step
        return self.freq_attn_agg(x).view(b, t, d)


class HeadBlock(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.ln1 = nn.LayerNorm(dim)
        self.ln2 = nn.LayerNorm(dim)
        self.attn = nn.Module()
        for name in ("key", "query", "value", "proj"):
            setattr(self.attn, name, nn.Linear(dim, dim))
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.attn
        h = self.ln1(x)
        q, k, v = (lin(h).unflatten(-1, (self.heads, -1)).transpose(1, 2) for lin in (a.query, a.key, a.value))
        x = x + a.proj(F.scaled_dot_product_attention(q, k, v).transpose(1, 2).flatten(2))
        return x + self.mlp(self.ln2(x))


class OffsetHead(nn.Module):
    """(B, S*tv, D) visual and (B, S*ta, D) audio tokens -> (B, K) offset logits."""

    def __init__(self, cfg: SyncModelConfig):
        super().__init__()
        d = cfg.dim
        self.vis_in_lnorm = nn.LayerNorm(d)
        self.aud_in_lnorm = nn.LayerNorm(d)
        self.OFF_tok = nn.Parameter(torch.zeros(1, 1, d))
        self.MOD_tok = nn.Parameter(torch.zeros(1, 1, d))
        self.pos_emb_cfg = nn.Module()
        self.pos_emb_cfg.pos_emb = nn.Parameter(torch.zeros(1, cfg.head_tokens, d))
        self.blocks = nn.Sequential(*[HeadBlock(d, cfg.head_heads) for _ in range(cfg.head_depth)])
        self.ln_f = nn.LayerNorm(d)
        self.off_head = nn.Linear(d, cfg.num_offsets)

    def forward(self, v: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        b = v.shape[0]
        x = torch.cat([self.OFF_tok.expand(b, -1, -1), self.vis_in_lnorm(v), self.MOD_tok.expand(b, -1, -1),
                       self.aud_in_lnorm(a)], 1)
        if x.shape[1] != self.pos_emb_cfg.pos_emb.shape[1]:
            raise ValueError(f"offset head takes {self.pos_emb_cfg.pos_emb.shape[1]} tokens, got {x.shape[1]}")
        x = self.ln_f(self.blocks(x + self.pos_emb_cfg.pos_emb))
        return self.off_head(x[:, 0])


class SyncModel(nn.Module):
    """Synchformer with both branches and the offset classifier (always in eval mode)."""

    def __init__(self, cfg: SyncModelConfig):
        super().__init__()
        self.cfg = cfg
        self.vfeat_extractor = MotionFormer(cfg.visual)
        self.afeat_extractor = AudioBranch(cfg)
        self.vproj = nn.Linear(cfg.dim, cfg.dim)
        self.aproj = nn.Linear(cfg.dim, cfg.dim)
        self.transformer = OffsetHead(cfg)

    def visual_tokens(self, segments: torch.Tensor) -> torch.Tensor:
        """(S, T, C, H, W) frame segments in [-1, 1] -> (S, tv, D)."""
        return self.vfeat_extractor(segments.transpose(1, 2))

    def audio_tokens(self, specs: torch.Tensor) -> torch.Tensor:
        """(S, Fm, Tm) normalised log-mel segments -> (S, ta, D)."""
        return self.afeat_extractor(specs.transpose(1, 2))

    def offset_logits(self, vis: torch.Tensor, aud: torch.Tensor) -> torch.Tensor:
        """(B, S, tv, D), (B, S, ta, D) -> (B, K); S must equal ``cfg.window_segments``."""
        return self.transformer(self.vproj(vis).flatten(1, 2), self.aproj(aud).flatten(1, 2))


def _count(state: dict, prefix: str) -> int:
    pat = re.compile(re.escape(prefix) + r"(\d+)\.")
    return len({int(m.group(1)) for k in state if (m := pat.match(k))})


REQUIRED = ("vfeat_extractor.patch_embed_3d.proj.weight", "vfeat_extractor.temp_embed", "vfeat_extractor.pos_embed",
            "vfeat_extractor.blocks.0.mlp.fc1.weight",
            "afeat_extractor.ast.embeddings.patch_embeddings.projection.weight",
            "afeat_extractor.ast.encoder.layer.0.intermediate.dense.weight", "vproj.weight",
            "transformer.pos_emb_cfg.pos_emb", "transformer.off_head.weight")


def config_from_state(state: dict[str, torch.Tensor], path: str | Path) -> SyncModelConfig:
    missing = [k for k in REQUIRED if k not in state]
    if missing:
        part = ("audio branch" if missing[0].startswith("afeat") else
                "offset head" if missing[0].startswith(("transformer", "vproj")) else "visual branch")
        raise CheckpointError(f"not a full Synchformer checkpoint: no {part} ({missing[0]})", path,
                              "give the official synchformer_state_dict.pth (av-benchmark / MMAudio release)")
    pe = state["vfeat_extractor.patch_embed_3d.proj.weight"]  # (D, 3, pt, p, p)
    d, p = int(pe.shape[0]), int(pe.shape[-1])
    grid = math.isqrt(int(state["vfeat_extractor.pos_embed"].shape[1]) - 1)
    visual = SynchformerConfig(embed_dim=d, depth=_count(state, "vfeat_extractor.blocks."), patch_size=p,
                               patch_size_temp=int(pe.shape[2]),
                               temporal_resolution=int(state["vfeat_extractor.temp_embed"].shape[1]),
                               img_size=grid * p,
                               mlp_ratio=state["vfeat_extractor.blocks.0.mlp.fc1.weight"].shape[0] / d)
    return SyncModelConfig(
        visual=visual, audio_depth=_count(state, "afeat_extractor.ast.encoder.layer."),
        audio_patch=int(state["afeat_extractor.ast.embeddings.patch_embeddings.projection.weight"].shape[-1]),
        audio_hidden=int(state["afeat_extractor.ast.encoder.layer.0.intermediate.dense.weight"].shape[0]),
        head_depth=_count(state, "transformer.blocks."),
        head_tokens=int(state["transformer.pos_emb_cfg.pos_emb"].shape[1]),
        num_offsets=int(state["transformer.off_head.weight"].shape[0]))


def load_sync_model(path: str | Path, device: str | torch.device = "cpu") -> SyncModel:
    """The full Synchformer from ``synchformer_state_dict.pth`` (plain tensors; a ``model`` / ``state_dict``
    wrapper is unwrapped). Refuses files without the audio branch or offset head with a CheckpointError."""
    from deepaudio.checkpoint import load_state_strict, load_weights_file

    state = load_weights_file(path)
    for key in ("model", "state_dict"):
        if key in state and isinstance(state[key], dict):
            state = state[key]
    cfg = config_from_state(state, path)
    model = SyncModel(cfg)
    own = model.state_dict().keys()  # the file may carry extra training-time tensors
    load_state_strict(model, {k: v for k, v in state.items() if k in own}, path)
    return model.eval().requires_grad_(False).to(device)
