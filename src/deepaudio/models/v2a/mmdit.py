"""The MMAudio MM-DiT velocity network (Cheng et al., "MMAudio: Taming Multimodal Joint Training for
High-Quality Video-to-Audio Synthesis", CVPR 2025), v1 and v2.

Shape key: B batch, N latent frames, C latent channels, M CLIP frames (8 fps), S sync tokens (24 fps
Synchformer features, 8 per segment), L text tokens, D hidden width.

The flow maths lives in :mod:`deepaudio.flow`; this module is only ``v = f(x_t, t, conditions)`` plus
the conditions it needs. Conditions are encoded once per clip (:meth:`MMAudioNet.preprocess_conditions`)
and reused at every ODE step (:meth:`MMAudioNet.predict_flow`), as in the reference
``mmaudio/model/networks.py``; state-dict names equal the official ones so released ``.pth`` files load
after dropping the derived buffers (:func:`deepaudio.convert.mmaudio`).

v1 vs v2 (``large_44k_v2``): v2 uses SiLU (not SELU / nothing) after the input projections and a time
embedding with ``frequency_embedding_size = hidden_dim`` and ``max_period = 1``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from deepaudio.checkpoint import Pretrained, register_model
from deepaudio.models.v2a.blocks import FinalBlock, JointBlock, MMDiTBlock
from deepaudio.models.v2a.config import MMAudioConfig
from deepaudio.nn.mm_layers import ChannelLastConv1d, SwiGLU, TimestepEmbedder, rope_rotations

SYNC_TOKENS_PER_SEGMENT = 8


@dataclass
class PreprocessedConditions:
    """Projected conditions of a batch; everything that does not depend on (x_t, t)."""

    clip_f: torch.Tensor  # (B, M, D)
    sync_f: torch.Tensor  # (B, N, D), already upsampled to the latent rate
    text_f: torch.Tensor  # (B, L, D)
    clip_f_c: torch.Tensor  # (B, D) pooled CLIP condition
    text_f_c: torch.Tensor  # (B, D) pooled text condition

    def expand(self, batch: int) -> PreprocessedConditions:
        return PreprocessedConditions(*(t.expand(batch, *t.shape[1:]) for t in dataclasses.astuple(self)))

    def cat(self, other: PreprocessedConditions) -> PreprocessedConditions:
        """Batch-concatenate (e.g. conditional and unconditional for one CFG forward)."""
        return PreprocessedConditions(*(torch.cat([a, b]) for a, b in
                                        zip(dataclasses.astuple(self), dataclasses.astuple(other))))


def _input_proj(cfg: MMAudioConfig, in_dim: int, conv_in: bool, kernel: int, act: nn.Module | None,
                kw: dict) -> nn.Sequential:
    first = ChannelLastConv1d(in_dim, cfg.hidden_dim, 7, padding=3, **kw) if conv_in \
        else nn.Linear(in_dim, cfg.hidden_dim, **kw)
    layers = [first] + ([act] if act is not None else [])
    layers.append(SwiGLU(cfg.hidden_dim, cfg.hidden_dim * 4, kernel_size=kernel, **kw))
    return nn.Sequential(*layers)


@register_model
class MMAudioNet(nn.Module, Pretrained):
    kind = "mmaudio_net"
    config_class = MMAudioConfig

    def __init__(self, config: MMAudioConfig, device: torch.device | str | None = None,
                 dtype: torch.dtype | None = None):
        super().__init__()
        self.config = cfg = config
        kw = dict(device=device, dtype=dtype)
        d = cfg.hidden_dim
        # Official module indices: v1 has an activation only after the conv projections (audio, sync).
        act = nn.SiLU if cfg.v2 else nn.SELU
        self.audio_input_proj = _input_proj(cfg, cfg.latent_dim, True, 7, act(), kw)
        self.clip_input_proj = _input_proj(cfg, cfg.clip_dim, False, 3, nn.SiLU() if cfg.v2 else None, kw)
        self.sync_input_proj = _input_proj(cfg, cfg.sync_dim, True, 3, act(), kw)
        self.text_input_proj = _input_proj(cfg, cfg.text_dim, False, 1, nn.SiLU() if cfg.v2 else None, kw)
        self.clip_cond_proj = nn.Linear(d, d, **kw)
        self.text_cond_proj = nn.Linear(d, d, **kw)
        self.global_cond_mlp = SwiGLU(d, d * 4, **kw)
        self.sync_pos_emb = nn.Parameter(torch.zeros(1, 1, SYNC_TOKENS_PER_SEGMENT, cfg.sync_dim, **kw))
        self.final_layer = FinalBlock(d, cfg.latent_dim, **kw)
        if cfg.v2:
            self.t_embed = TimestepEmbedder(d, freq_dim=d, max_period=1, **kw)
        else:
            self.t_embed = TimestepEmbedder(d, freq_dim=256, max_period=10000, **kw)
        self.joint_blocks = nn.ModuleList([
            JointBlock(d, cfg.num_heads, cfg.mlp_ratio, pre_only=(i == cfg.joint_depth - 1), **kw)
            for i in range(cfg.joint_depth)])
        self.fused_blocks = nn.ModuleList([
            MMDiTBlock(d, cfg.num_heads, cfg.mlp_ratio, kernel_size=3, **kw) for _ in range(cfg.fused_depth)])
        # Statistics of the VAE latents (set from the checkpoint; NaN until then, as the reference).
        self.latent_mean = nn.Parameter(torch.full((1, 1, cfg.latent_dim), float("nan"), **kw), requires_grad=False)
        self.latent_std = nn.Parameter(torch.full((1, 1, cfg.latent_dim), float("nan"), **kw), requires_grad=False)
        # CLIP text features of the empty string (the unconditional text); learned empty video features.
        self.empty_string_feat = nn.Parameter(torch.zeros(cfg.text_seq_len, cfg.text_dim, **kw), requires_grad=False)
        self.empty_clip_feat = nn.Parameter(torch.zeros(1, cfg.clip_dim, **kw))
        self.empty_sync_feat = nn.Parameter(torch.zeros(1, cfg.sync_dim, **kw))
        self._init_weights()
        self._set_rotations(device)

    # ----------------------------------------------------------------------------------- set-up
    def _init_weights(self) -> None:
        """DiT init: xavier linears, zero adaLN and output layers, N(0, 0.02) time MLP (as the reference)."""
        if self.latent_mean.is_meta:
            return
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        nn.init.normal_(self.t_embed.mlp[0].weight, std=0.02)
        nn.init.normal_(self.t_embed.mlp[2].weight, std=0.02)
        zero = [b.adaLN_modulation[-1] for jb in self.joint_blocks
                for b in (jb.latent_block, jb.clip_block, jb.text_block)]
        zero += [b.adaLN_modulation[-1] for b in self.fused_blocks]
        zero += [self.final_layer.adaLN_modulation[-1], self.final_layer.conv]
        for m in zero:
            nn.init.zeros_(m.weight)
            nn.init.zeros_(m.bias)

    def _set_rotations(self, device=None) -> None:
        """RoPE tables (non-persistent, fp32); CLIP positions are stretched to the latent time axis."""
        cfg = self.config
        if device is None:
            device = self.final_layer.conv.weight.device
        dev = "cpu" if torch.device(device).type == "meta" else device
        rot_l = rope_rotations(cfg.latent_seq_len, cfg.head_dim, device=dev)
        rot_c = rope_rotations(cfg.clip_seq_len, cfg.head_dim, freq_scaling=cfg.latent_seq_len / cfg.clip_seq_len,
                               device=dev)
        self.register_buffer("latent_rot", rot_l.to(device), persistent=False)
        self.register_buffer("clip_rot", rot_c.to(device), persistent=False)

    def update_seq_lengths(self, latent_seq_len: int, clip_seq_len: int, sync_seq_len: int) -> None:
        """Re-target the network to another clip duration (recomputes the RoPE tables)."""
        self.config = dataclasses.replace(self.config, latent_seq_len=latent_seq_len, clip_seq_len=clip_seq_len,
                                          sync_seq_len=sync_seq_len)
        self._set_rotations()

    def _apply(self, fn, recurse=True):
        # Keep the derived fp32 tables fp32 when the model is cast to bf16/fp16 (the reference computes
        # RoPE in fp32 under autocast-disabled regions).
        super()._apply(fn, recurse)
        for name in ("latent_rot", "clip_rot"):
            buf = getattr(self, name, None)
            if buf is not None and buf.dtype != torch.float32:
                setattr(self, name, buf.float())
        self.t_embed.freqs = self.t_embed.freqs.float()
        return self

    # ------------------------------------------------------------------------------- latents
    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """VAE latent -> the unit-scale space the flow runs in (not in place, unlike the reference)."""
        return (x - self.latent_mean) / self.latent_std

    def unnormalize(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.latent_std + self.latent_mean

    # ---------------------------------------------------------------------------- conditions
    def preprocess_conditions(self, clip_f: torch.Tensor, sync_f: torch.Tensor,
                              text_f: torch.Tensor) -> PreprocessedConditions:
        """Project (B, M, clip_dim), (B, S, sync_dim), (B, L, text_dim) features once per clip."""
        cfg = self.config
        for name, x, n in (("clip", clip_f, cfg.clip_seq_len), ("sync", sync_f, cfg.sync_seq_len),
                           ("text", text_f, cfg.text_seq_len)):
            if x.shape[1] != n:
                raise ValueError(f"{name} features have {x.shape[1]} tokens, the network expects {n}")
        b = clip_f.shape[0]
        # Synchformer gives 8 tokens per segment; a learned per-position embedding marks the position in it.
        sync_f = (sync_f.view(b, -1, SYNC_TOKENS_PER_SEGMENT, sync_f.shape[-1]) + self.sync_pos_emb).flatten(1, 2)
        clip_f = self.clip_input_proj(clip_f)
        sync_f = self.sync_input_proj(sync_f)
        text_f = self.text_input_proj(text_f)
        # Align sync features (24 fps) to the latent frame rate by nearest-exact interpolation.
        sync_f = F.interpolate(sync_f.transpose(1, 2), size=cfg.latent_seq_len, mode="nearest-exact").transpose(1, 2)
        return PreprocessedConditions(clip_f, sync_f, text_f, self.clip_cond_proj(clip_f.mean(dim=1)),
                                      self.text_cond_proj(text_f.mean(dim=1)))

    def empty_clip_sequence(self, batch: int) -> torch.Tensor:
        return self.empty_clip_feat.unsqueeze(0).expand(batch, self.config.clip_seq_len, -1)

    def empty_sync_sequence(self, batch: int) -> torch.Tensor:
        return self.empty_sync_feat.unsqueeze(0).expand(batch, self.config.sync_seq_len, -1)

    def empty_string_sequence(self, batch: int) -> torch.Tensor:
        return self.empty_string_feat.unsqueeze(0).expand(batch, -1, -1)

    def get_empty_conditions(self, batch: int, negative_text_features: torch.Tensor | None = None
                             ) -> PreprocessedConditions:
        """The unconditional branch of CFG: learned empty video features with the empty-string text, or
        the given negative-prompt text features (B, L, text_dim). Computed at batch 1 and expanded."""
        text = self.empty_string_sequence(1) if negative_text_features is None else negative_text_features
        cond = self.preprocess_conditions(self.empty_clip_sequence(1), self.empty_sync_sequence(1), text)
        if negative_text_features is None:
            return cond.expand(batch)
        return PreprocessedConditions(cond.clip_f.expand(batch, -1, -1), cond.sync_f.expand(batch, -1, -1),
                                      cond.text_f, cond.clip_f_c.expand(batch, -1), cond.text_f_c)

    def mask_conditions(self, clip_f: torch.Tensor, sync_f: torch.Tensor, text_f: torch.Tensor,
                        video_keep: torch.Tensor | None = None, text_keep: torch.Tensor | None = None):
        """Replace the rows whose ``*_keep`` (B,) bool is False by the empty features.

        This is how MMAudio handles a missing video (or text) and how it drops conditions for CFG
        training: the CLIP *and* sync features of that sample become ``empty_clip_feat`` /
        ``empty_sync_feat`` (learned), the text becomes the empty-string CLIP features.
        """
        if video_keep is not None:
            keep = video_keep.view(-1, 1, 1)
            clip_f = torch.where(keep, clip_f, self.empty_clip_feat.to(clip_f.dtype))
            sync_f = torch.where(keep, sync_f, self.empty_sync_feat.to(sync_f.dtype))
        if text_keep is not None:
            text_f = torch.where(text_keep.view(-1, 1, 1), text_f, self.empty_string_feat.to(text_f.dtype))
        return clip_f, sync_f, text_f

    # ---------------------------------------------------------------------------------- flow
    def predict_flow(self, latent: torch.Tensor, t: torch.Tensor, conditions: PreprocessedConditions) -> torch.Tensor:
        """Velocity (B, N, C) at normalised latent (B, N, C) and flow time t (B,)."""
        if latent.shape[1] != self.config.latent_seq_len:
            raise ValueError(f"latent has {latent.shape[1]} frames, the network expects {self.config.latent_seq_len}")
        c = conditions
        clip_f, text_f = c.clip_f, c.text_f
        x = self.audio_input_proj(latent)
        global_c = self.global_cond_mlp(c.clip_f_c + c.text_f_c)
        global_c = self.t_embed(t).unsqueeze(1) + global_c.unsqueeze(1)  # (B, 1, D)
        extended_c = global_c + c.sync_f  # (B, N, D): frame-aligned condition of the audio stream
        for block in self.joint_blocks:
            x, clip_f, text_f = block(x, clip_f, text_f, global_c, extended_c, self.latent_rot, self.clip_rot)
        for block in self.fused_blocks:
            x = block(x, extended_c, self.latent_rot)
        # The reference conditions the final layer on global_c (not extended_c); kept for weight compatibility.
        return self.final_layer(x, global_c)

    def forward(self, latent: torch.Tensor, clip_f: torch.Tensor, sync_f: torch.Tensor, text_f: torch.Tensor,
                t: torch.Tensor) -> torch.Tensor:
        return self.predict_flow(latent, t, self.preprocess_conditions(clip_f, sync_f, text_f))

    def ode_wrapper(self, t: torch.Tensor, latent: torch.Tensor, conditions: PreprocessedConditions,
                    empty_conditions: PreprocessedConditions, cfg_strength: float) -> torch.Tensor:
        """Guided velocity ``w v_c + (1 - w) v_u`` with w = cfg_strength (MMAudio); w < 1 disables guidance.

        Identical to :func:`deepaudio.flow.cfg_combine` with weight w (up to fp rounding); this form is
        kept because it is the reference's operation order.
        """
        t = t * torch.ones(latent.shape[0], device=latent.device, dtype=latent.dtype)
        if cfg_strength < 1.0:
            return self.predict_flow(latent, t, conditions)
        return (cfg_strength * self.predict_flow(latent, t, conditions)
                + (1 - cfg_strength) * self.predict_flow(latent, t, empty_conditions))
