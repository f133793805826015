"""The F5-TTS DiT backbone (Chen et al. 2024, "F5-TTS", sec. 3), with the DeepAudio V2S energy input.

Shape key: B batch, N mel frames, Nt text tokens, M mel bins (100), D model dim, Dt text dim.

    v = DiT(x_t, masked prompt mel, text ids, t[, energy])      (B, N, M) -> (B, N, M)

Text ids are shifted by +1 so that 0 is the filler token; the text is cut or filler-padded to the
frame count N (no aligner: the network learns the alignment). Parameter names follow the official
module, so official state dicts load strictly (``deepaudio.convert.f5`` strips the CFM/EMA prefixes).
Masking follows the reference (commit 2ae2c9b): with a mask, each sample's text is laid out over its own
valid length, the conv position embedding zero-fills padded frames, attention output is zeroed there,
and with ``attn_mask_enabled`` padded keys are masked too. Padded output frames are not zeroed.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from deepaudio.checkpoint import Pretrained, register_model
from deepaudio.models.tts.config import DiTConfig
from deepaudio.nn.adaln import AdaLNFinal, AdaLNZero, modulate
from deepaudio.nn.attention import Attention, FeedForward
from deepaudio.nn.convnext import ConvNeXtV2Block
from deepaudio.nn.embeddings import ConvPositionEmbedding, TimestepEmbedding, sinusoidal_table
from deepaudio.nn.rope import RotaryEmbedding, rotation_table


class TextEmbedding(nn.Module):
    """Character embedding + sinusoid positions + ConvNeXt-V2 blocks (F5-TTS sec. 3.1, "ConvNeXt text")."""

    def __init__(self, cfg: DiTConfig, device=None):
        super().__init__()
        self.cfg = cfg
        self.text_embed = nn.Embedding(cfg.text_num_embeds + 1, cfg.text_dim, device=device)  # row 0: filler
        if cfg.conv_layers > 0:
            hidden = cfg.text_dim * cfg.conv_mult
            self.text_blocks = nn.Sequential(*[ConvNeXtV2Block(cfg.text_dim, hidden, device=device)
                                               for _ in range(cfg.conv_layers)])
        else:
            self.text_blocks = None

    def forward(self, text: torch.Tensor, n: int, lengths: torch.Tensor | None = None,
                drop_text: bool = False) -> torch.Tensor:
        """(B, Nt) ids (-1 = batch padding) -> (B, n, Dt). ``lengths`` (B,) lays text over each sample's frames."""
        tok = text + 1  # -1 padding becomes the filler 0
        tok = F.pad(tok[:, :n], (0, max(0, n - tok.shape[1])), value=0)  # (B, n)
        valid = None
        if lengths is not None:
            valid = torch.arange(n, device=tok.device)[None] < lengths.to(tok.device)[:, None]  # (B, n)
            tok = tok.masked_fill(~valid, 0)
        filler = tok == 0
        if drop_text:
            tok = torch.zeros_like(tok)
        h = self.text_embed(tok)  # (B, n, Dt)
        if valid is not None:
            h = h.masked_fill(~valid[..., None], 0.0)
        if self.text_blocks is not None:
            pos = torch.arange(n, device=tok.device).clamp(max=self.cfg.text_max_pos - 1)
            table = sinusoidal_table(pos, self.cfg.text_dim).to(h.dtype)  # (n, Dt)
            h = h + (table * valid[..., None].to(h.dtype) if valid is not None else table)
            if self.cfg.text_mask_padding:
                fill = filler[..., None]
                h = h.masked_fill(fill, 0.0)
                for block in self.text_blocks:
                    h = block(h).masked_fill(fill, 0.0)
            else:
                h = self.text_blocks(h)
        if self.cfg.text_average_upsampling:
            h = _average_upsample(h, ~filler, lengths if lengths is not None else torch.full_like(tok[:, 0], n))
        return h


def _average_upsample(h: torch.Tensor, token_mask: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
    """ZipVoice-style late upsampling: the k valid tokens of a sample fill its F frames evenly, the
    last ``F mod k`` tokens getting one frame more (the reference's ``average_upsample_text_by_mask``)."""
    out = torch.zeros_like(h)
    for i in range(h.shape[0]):
        idx = torch.nonzero(token_mask[i]).squeeze(1)
        k, f = idx.numel(), int(frames[i])
        if k == 0 or f <= 0:
            continue
        base, rem = divmod(f, k)
        reps = torch.full((k,), base, device=h.device, dtype=torch.long)
        if rem:
            reps[k - rem:] += 1
        out[i, :f] = h[i, idx].repeat_interleave(reps, dim=0)[:f]
    return out


class InputEmbedding(nn.Module):
    """Linear over [x_t, prompt mel, text embedding], (+ energy), then the conv position embedding."""

    def __init__(self, cfg: DiTConfig, device=None):
        super().__init__()
        self.proj = nn.Linear(cfg.mel_dim * 2 + cfg.text_dim, cfg.dim, device=device)
        if cfg.energy_input:
            # DeepAudio V2S: zero-initialised so a TTS checkpoint loads with energy switched off.
            self.proj_energy = nn.Linear(1, cfg.dim, device=device)
            nn.init.zeros_(self.proj_energy.weight)
            nn.init.zeros_(self.proj_energy.bias)
        else:
            self.proj_energy = None
        self.conv_pos_embed = ConvPositionEmbedding(cfg.dim, device=device)

    def forward(self, x, cond, text_embed, drop_audio_cond=False, mask=None, energy=None):
        if drop_audio_cond:
            cond = torch.zeros_like(cond)
        h = self.proj(torch.cat((x, cond, text_embed), dim=-1))  # (B, N, D)
        if self.proj_energy is not None:
            e = energy if energy is not None else x.new_zeros(x.shape[:2])
            h = self.proj_energy(e.to(h.dtype).reshape(*x.shape[:2], 1)) + h
        return self.conv_pos_embed(h, mask=mask) + h


class DiTBlock(nn.Module):
    def __init__(self, cfg: DiTConfig, device=None):
        super().__init__()
        self.attn_norm = AdaLNZero(cfg.dim, device=device)
        self.attn = Attention(cfg.dim, cfg.heads, cfg.dim_head, cfg.dropout, cfg.qk_norm, cfg.pe_attn_head,
                              device=device)
        self.ff = FeedForward(cfg.dim, cfg.ff_mult, cfg.dropout, approximate="tanh", device=device)
        self.key_mask = cfg.attn_mask_enabled

    def forward(self, x, t, mask=None, rope=None, key_mask: bool | None = None):
        h, gate_a, shift_m, scale_m, gate_m = self.attn_norm(x, t)
        key_mask = self.key_mask if key_mask is None else key_mask
        # addcmul: the gated residual in one pass (x + g * y, same rounding as the two-op form)
        x = torch.addcmul(x, gate_a[:, None], self.attn(h, mask=mask, rope=rope, key_mask=key_mask))
        return torch.addcmul(x, gate_m[:, None], self.ff(modulate(x, shift_m, scale_m)))


@register_model
class DiT(nn.Module, Pretrained):
    kind = "tts_dit"
    config_class = DiTConfig

    def __init__(self, config: DiTConfig, device: torch.device | str | None = None):
        super().__init__()
        self.config = cfg = config
        self.time_embed = TimestepEmbedding(cfg.dim, device=device)
        self.text_embed = TextEmbedding(cfg, device=device)
        self.input_embed = InputEmbedding(cfg, device=device)
        self.rotary_embed = RotaryEmbedding(cfg.dim_head, device=device)
        self.transformer_blocks = nn.ModuleList([DiTBlock(cfg, device=device) for _ in range(cfg.depth)])
        self.long_skip_connection = (nn.Linear(cfg.dim * 2, cfg.dim, bias=False, device=device)
                                     if cfg.long_skip_connection else None)
        self.norm_out = AdaLNFinal(cfg.dim, device=device)
        self.proj_out = nn.Linear(cfg.dim, cfg.mel_dim, device=device)
        self._zero_init()

    def _zero_init(self) -> None:
        """adaLN-Zero: every block and the output start as identity / zero (DiT sec. 3.2)."""
        for block in self.transformer_blocks:
            nn.init.zeros_(block.attn_norm.linear.weight)
            nn.init.zeros_(block.attn_norm.linear.bias)
        for p in (self.norm_out.linear.weight, self.norm_out.linear.bias, self.proj_out.weight, self.proj_out.bias):
            nn.init.zeros_(p)

    def embed_text(self, text: torch.Tensor, n: int, mask: torch.Tensor | None = None,
                   drop_text: bool = False) -> torch.Tensor:
        """(B, Nt) -> (B, n, Dt); reusable across ODE steps (it does not depend on x_t or t)."""
        lengths = None if mask is None else mask.sum(dim=1)
        return self.text_embed(text, n, lengths, drop_text=drop_text)

    def forward(self, x: torch.Tensor, cond: torch.Tensor, text: torch.Tensor, time: torch.Tensor,
                mask: torch.Tensor | None = None, drop_audio_cond: bool = False, drop_text: bool = False,
                cfg_infer: bool = False, energy: torch.Tensor | None = None,
                cache: dict | None = None, key_mask: bool | None = None) -> torch.Tensor:
        """Velocity (B, N, M), or (2B, N, M) with ``cfg_infer``: rows [:B] conditional, [B:] with prompt
        audio and text dropped (energy kept, as the DeepAudio-V1 reference code does).

        ``time`` is (B,) or 0-d; ``mask`` (B, N) bool marks valid frames; ``energy`` (B, N) in [0, 1]
        (zeros when absent). ``cache``: a dict the caller owns, filled with the text embeddings so that
        an ODE solve encodes the text once. ``key_mask`` overrides ``attn_mask_enabled`` for this call
        (batched inference over different lengths should not attend to padded frames).
        """
        b, n = x.shape[:2]
        if time.ndim == 0:
            time = time.repeat(b)
        t = self.time_embed(time)  # (B, D)
        if cfg_infer:
            h = torch.cat((self._input(x, cond, text, mask, False, False, energy, cache),
                           self._input(x, cond, text, mask, True, True, energy, cache)), dim=0)
            t = torch.cat((t, t), dim=0)
            mask = torch.cat((mask, mask), dim=0) if mask is not None else None
        else:
            h = self._input(x, cond, text, mask, drop_audio_cond, drop_text, energy, cache)
        rope = rotation_table(self.rotary_embed.angles(n))
        residual = h
        for block in self.transformer_blocks:
            h = block(h, t, mask=mask, rope=rope, key_mask=key_mask)
        if self.long_skip_connection is not None:
            h = self.long_skip_connection(torch.cat((h, residual), dim=-1))
        return self.proj_out(self.norm_out(h, t))

    def _input(self, x, cond, text, mask, drop_audio_cond, drop_text, energy, cache):
        key = ("text", bool(drop_text))
        if cache is not None and key in cache:
            te = cache[key]
        else:
            te = self.embed_text(text, x.shape[1], mask, drop_text).to(x.dtype)
            if cache is not None:
                cache[key] = te
        return self.input_embed(x, cond, te, drop_audio_cond, mask, energy)
