"""MMAudio's 1-D mel VAE (``mmaudio/ext/autoencoder/vae.py``): mel (B, n_mels, T) <-> latent (B, C, T/2).

Shape key: B batch, F mel bins (``data_dim``), T mel frames, C latent channels (``embed_dim``),
W hidden width.

The encoder is a 1-D UNet half with magnitude-preserving layers (:mod:`.vae_layers`), channel
multipliers (1, 2, 4), two residual blocks per level, one 2x time downsampling after level 0 and
attention only in the middle; activations are clamped to +-256 after every block. The output conv has
a learnable scalar gain. ``encode`` standardises the mel with per-bin statistics first; ``decode``
undoes it. MMAudio's generator works on (B, T/2, C) latents, so ``decode_latents`` transposes.
Weights are stored in their effective (weight-normalised) form; see :mod:`deepaudio.convert.mmaudio`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from deepaudio.checkpoint import Pretrained, register_model
from deepaudio.models.v2a.config import VAEConfig
from deepaudio.models.v2a.vae_layers import AttnBlock1d, Downsample1d, MPConv1d, ResnetBlock1d, Upsample1d, mp_silu
from deepaudio.models.v2a.vae_stats import STATS


@dataclass
class LatentDistribution:
    """Diagonal Gaussian posterior; ``logvar`` clamped to [-30, 20] as the reference."""

    mean: torch.Tensor  # (B, C, T/2)
    logvar: torch.Tensor

    @classmethod
    def from_moments(cls, moments: torch.Tensor) -> LatentDistribution:
        mean, logvar = moments.chunk(2, dim=1)
        return cls(mean, logvar.clamp(-30.0, 20.0))

    @property
    def std(self) -> torch.Tensor:
        return torch.exp(0.5 * self.logvar)

    def sample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        noise = torch.randn(self.mean.shape, generator=generator, dtype=torch.float32)
        return self.mean + self.std * noise.to(self.mean.device, self.mean.dtype)

    def mode(self) -> torch.Tensor:
        return self.mean


def _level(blocks: list[nn.Module], attn: list[nn.Module]) -> nn.Module:
    level = nn.Module()
    level.block = nn.ModuleList(blocks)
    level.attn = nn.ModuleList(attn)
    return level


def _middle(dim: int, kernel: int, kw: dict) -> nn.Module:
    mid = nn.Module()
    mid.block_1 = ResnetBlock1d(dim, dim, kernel, **kw)
    mid.attn_1 = AttnBlock1d(dim, **kw)
    mid.block_2 = ResnetBlock1d(dim, dim, kernel, **kw)
    return mid


def _run_middle(mid: nn.Module, h: torch.Tensor) -> torch.Tensor:
    return mid.block_2(mid.attn_1(mid.block_1(h)))


class Encoder1d(nn.Module):
    def __init__(self, cfg: VAEConfig, device=None, dtype=None):
        super().__init__()
        kw = dict(device=device, dtype=dtype)
        self.cfg = cfg
        d, k = cfg.hidden_dim, cfg.kernel_size
        self.conv_in = MPConv1d(cfg.data_dim, d, k, **kw)
        self.down = nn.ModuleList()
        block_in = d
        for i, mult in enumerate(cfg.ch_mult):
            blocks, attn = [], []
            for _ in range(cfg.num_res_blocks):
                blocks.append(ResnetBlock1d(block_in, d * mult, k, **kw))
                block_in = d * mult
                if i in cfg.attn_layers:
                    attn.append(AttnBlock1d(block_in, **kw))
            level = _level(blocks, attn)
            if i in cfg.down_layers:
                level.downsample = Downsample1d(block_in, **kw)
            self.down.append(level)
        self.mid = _middle(block_in, k, kw)
        self.conv_out = MPConv1d(block_in, 2 * cfg.embed_dim, k, **kw)
        self.learnable_gain = nn.Parameter(torch.zeros([], **kw))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, F, T) normalised mel -> (B, 2C, T/2) moments
        clip = self.cfg.clip_act
        h = self.conv_in(x)
        for i, level in enumerate(self.down):
            for j, block in enumerate(level.block):
                h = block(h)
                if len(level.attn):
                    h = level.attn[j](h)
                h = h.clamp(-clip, clip)
            if i in self.cfg.down_layers:
                h = level.downsample(h)
        h = _run_middle(self.mid, h).clamp(-clip, clip)
        return self.conv_out(mp_silu(h), gain=self.learnable_gain + 1)


class Decoder1d(nn.Module):
    def __init__(self, cfg: VAEConfig, device=None, dtype=None):
        super().__init__()
        kw = dict(device=device, dtype=dtype)
        self.cfg = cfg
        d = cfg.hidden_dim
        self.up_layers = tuple(i + 1 for i in cfg.down_layers)  # upsample after the level above a downsample
        block_in = d * cfg.ch_mult[-1]
        self.conv_in = MPConv1d(cfg.embed_dim, block_in, cfg.kernel_size, **kw)
        self.mid = _middle(block_in, 3, kw)
        levels: list[nn.Module] = []
        for i in reversed(range(len(cfg.ch_mult))):
            blocks, attn = [], []
            for _ in range(cfg.num_res_blocks + 1):
                blocks.append(ResnetBlock1d(block_in, d * cfg.ch_mult[i], 3, **kw))
                block_in = d * cfg.ch_mult[i]
                if i in cfg.attn_layers:
                    attn.append(AttnBlock1d(block_in, **kw))
            level = _level(blocks, attn)
            if i in self.up_layers:
                level.upsample = Upsample1d(block_in, **kw)
            levels.insert(0, level)
        self.up = nn.ModuleList(levels)
        self.conv_out = MPConv1d(block_in, cfg.data_dim, cfg.kernel_size, **kw)
        self.learnable_gain = nn.Parameter(torch.zeros([], **kw))

    def forward(self, z: torch.Tensor) -> torch.Tensor:  # (B, C, T/2) -> (B, F, T) normalised mel
        clip = self.cfg.clip_act
        h = _run_middle(self.mid, self.conv_in(z)).clamp(-clip, clip)
        for i in reversed(range(len(self.up))):
            level = self.up[i]
            for j, block in enumerate(level.block):
                h = block(h)
                if len(level.attn):
                    h = level.attn[j](h)
                h = h.clamp(-clip, clip)
            if i in self.up_layers:
                h = level.upsample(h)
        return self.conv_out(mp_silu(h), gain=self.learnable_gain + 1)


@register_model
class MelVAE(nn.Module, Pretrained):
    kind = "mmaudio_vae"
    config_class = VAEConfig

    def __init__(self, config: VAEConfig, device: torch.device | str | None = None, dtype: torch.dtype | None = None):
        super().__init__()
        self.config = config
        mean, std = STATS.get(config.data_dim, ((0.0,) * config.data_dim, (1.0,) * config.data_dim))
        self.register_buffer("data_mean", torch.tensor(mean, dtype=torch.float32, device=device).view(1, -1, 1))
        self.register_buffer("data_std", torch.tensor(std, dtype=torch.float32, device=device).view(1, -1, 1))
        self.encoder = Encoder1d(config, device=device, dtype=dtype)
        self.decoder = Decoder1d(config, device=device, dtype=dtype)

    def normalize(self, mel: torch.Tensor) -> torch.Tensor:
        return (mel - self.data_mean) / self.data_std

    def unnormalize(self, mel: torch.Tensor) -> torch.Tensor:
        return mel * self.data_std + self.data_mean

    def encode(self, mel: torch.Tensor, normalize: bool = True) -> LatentDistribution:
        """Log-mel (B, F, T) -> posterior over (B, C, T/2). T must be a multiple of the downsampling."""
        if mel.shape[-1] % self.config.downsample:
            raise ValueError(f"mel has {mel.shape[-1]} frames, need a multiple of {self.config.downsample}")
        return LatentDistribution.from_moments(self.encoder(self.normalize(mel) if normalize else mel))

    def decode(self, z: torch.Tensor, unnormalize: bool = True) -> torch.Tensor:
        """Latent (B, C, T/2) -> log-mel (B, F, T)."""
        mel = self.decoder(z)
        return self.unnormalize(mel) if unnormalize else mel

    def decode_latents(self, latents: torch.Tensor) -> torch.Tensor:
        """Generator latents (B, N, C) (already un-normalised by the network) -> log-mel (B, F, 2N)."""
        return self.decode(latents.transpose(1, 2))

    def encode_latents(self, mel: torch.Tensor) -> LatentDistribution:
        """Log-mel -> posterior whose mean/std are (B, N, C), the layout of the generator's latents."""
        post = self.encode(mel)
        return LatentDistribution(post.mean.transpose(1, 2), post.logvar.transpose(1, 2))
