"""Configs and named presets of the V2A networks (MMAudio, Cheng et al. CVPR 2025).

Presets follow ``mmaudio/model/networks.py`` (small_16k ... large_44k_v2) and
``mmaudio/ext/autoencoder/vae.py`` (16k, 44k); ``tiny`` presets are for tests. Sequence lengths are
those of an 8 s clip (``mmaudio/model/sequence_config.py``): latents at sr/hop/2 per second, CLIP at
8 fps, Synchformer at 25 fps in 16-frame segments with stride 8 (8 tokens per segment).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from deepaudio.config import Registry
from deepaudio.errors import ConfigError


@dataclass(frozen=True)
class MMAudioConfig:
    latent_dim: int = 20
    clip_dim: int = 1024
    sync_dim: int = 768
    text_dim: int = 1024
    hidden_dim: int = 448
    depth: int = 12  # joint + fused blocks
    fused_depth: int = 8
    num_heads: int = 7
    mlp_ratio: float = 4.0
    latent_seq_len: int = 250
    clip_seq_len: int = 64
    sync_seq_len: int = 192
    text_seq_len: int = 77
    v2: bool = False
    sample_rate: int = 16000  # of the audio the paired VAE/vocoder produce (16000 or 44100)

    def __post_init__(self) -> None:
        if self.hidden_dim % self.num_heads or (self.hidden_dim // self.num_heads) % 2:
            raise ConfigError(f"hidden_dim {self.hidden_dim} must split into {self.num_heads} heads of even size")
        if not 0 <= self.fused_depth < self.depth:
            raise ConfigError(f"need 0 <= fused_depth < depth, got {self.fused_depth} and {self.depth}")
        if self.sync_seq_len % 8:
            raise ConfigError(f"sync_seq_len {self.sync_seq_len} must be a multiple of 8 (tokens per segment)")

    @property
    def head_dim(self) -> int:
        return self.hidden_dim // self.num_heads

    @property
    def joint_depth(self) -> int:
        return self.depth - self.fused_depth


MMAUDIO_PRESETS: Registry[MMAudioConfig] = Registry("MMAudio network preset")
_44K = dict(latent_dim=40, latent_seq_len=345, sample_rate=44100)
MMAUDIO_PRESETS.add("small_16k", MMAudioConfig())
MMAUDIO_PRESETS.add("small_44k", MMAudioConfig(**_44K))
MMAUDIO_PRESETS.add("medium_44k", MMAudioConfig(hidden_dim=896, num_heads=14, **_44K))
MMAUDIO_PRESETS.add("large_44k", MMAudioConfig(hidden_dim=896, num_heads=14, depth=21, fused_depth=14, **_44K))
MMAUDIO_PRESETS.add("large_44k_v2", MMAudioConfig(hidden_dim=896, num_heads=14, depth=21, fused_depth=14, v2=True,
                                                  **_44K))
MMAUDIO_PRESETS.add("tiny", MMAudioConfig(latent_dim=8, clip_dim=16, sync_dim=12, text_dim=16, hidden_dim=32,
                                          depth=4, fused_depth=2, num_heads=4, latent_seq_len=20, clip_seq_len=8,
                                          sync_seq_len=24, text_seq_len=7))


@dataclass(frozen=True)
class VAEConfig:
    """MMAudio's 1-D mel VAE: ``data_dim`` mel bins in, ``embed_dim`` latent channels at half the frame rate."""

    data_dim: int = 80
    embed_dim: int = 20
    hidden_dim: int = 384
    ch_mult: tuple[int, ...] = (1, 2, 4)
    num_res_blocks: int = 2
    attn_layers: tuple[int, ...] = (3,)
    down_layers: tuple[int, ...] = (0,)
    kernel_size: int = 3
    clip_act: float = 256.0

    @property
    def downsample(self) -> int:
        return 2 ** len(self.down_layers)


VAE_PRESETS: Registry[VAEConfig] = Registry("MMAudio VAE preset")
VAE_PRESETS.add("16k", VAEConfig())
VAE_PRESETS.add("44k", VAEConfig(data_dim=128, embed_dim=40, hidden_dim=512))
VAE_PRESETS.add("tiny", VAEConfig(data_dim=80, embed_dim=4, hidden_dim=8))


def mmaudio_config_from_kwargs(kwargs: dict) -> MMAudioConfig:
    """Our config from the official ``MMAudio(**kwargs)`` keyword arguments (tensor arguments ignored)."""
    names = {f.name for f in dataclasses.fields(MMAudioConfig)}
    return MMAudioConfig(**{k: v for k, v in kwargs.items() if k in names})
