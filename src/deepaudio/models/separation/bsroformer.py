"""BS-RoFormer: band-split RoPE transformer for music source separation (Lu et al. 2023, arXiv 2309.02612).

DeepSound-V1 step 3 removes voice-over with a vocal separator of this kind and keeps mix - vocals. This
is our implementation of the architecture, laid out so that the public community vocal checkpoints (the
state-dict layout of the widely used open implementation, e.g. the "ep_317 SDR 12.97" vocal model:
dim 512, depth 12, stereo, 44.1 kHz, n_fft 2048, hop 441) load key for key.

How it works: the complex STFT of every channel is split along frequency into bands; each band (real and
imaginary parts of all its bins and channels) is RMS-normalised and projected to ``dim`` features. A
stack of axial blocks alternates a transformer over time (per band) with one over bands (per frame), both
with rotary positions and pre-norm attention + GELU feed-forward. After a final RMSNorm, one mask
estimator per stem maps each band's features back to a complex mask over that band's bins (MLP with tanh
then GLU); the masked STFT is inverted.

Shape key: b batch, c audio channels, l samples, f STFT bins, t frames, k bands, d model dim, h heads,
e head dim, n stems.
Parameter names follow the public layout: ``band_split.to_features.{k}.{0: norm, 1: linear}``,
``layers.{i}.{0: time, 1: freq}.layers.{j}.{0: attention, 1: feed-forward}``, ``final_norm``,
``mask_estimators.{n}.to_freqs.{k}.0.{linear indices}``; RMSNorm weights are called ``gamma``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from deepaudio.config import Registry

# The band layout of the published models: 62 bands over the 1025 bins of a 2048-point FFT.
DEFAULT_FREQS_PER_BANDS = (2,) * 24 + (4,) * 12 + (12,) * 8 + (24,) * 8 + (48,) * 8 + (128, 129)


@dataclass(frozen=True)
class BSRoFormerConfig:
    dim: int = 512
    depth: int = 12
    audio_channels: int = 2
    num_stems: int = 1
    time_depth: int = 1
    freq_depth: int = 1
    heads: int = 8
    dim_head: int = 64
    ff_mult: int = 4
    attn_gates: bool = False  # later versions of the open implementation gate each head's output
    mask_estimator_depth: int = 2
    mlp_expansion: int = 4
    freqs_per_bands: tuple[int, ...] = DEFAULT_FREQS_PER_BANDS
    sample_rate: int = 44100
    n_fft: int = 2048
    hop_length: int = 441
    win_length: int = 2048
    rotary_theta: float = 10000.0
    chunk_seconds: float = 8.0  # inference window (the public vocal model was trained on 8 s chunks)
    stem_names: tuple[str, ...] = ("vocals",)

    def __post_init__(self) -> None:
        from deepaudio.errors import ConfigError

        if sum(self.freqs_per_bands) != self.n_fft // 2 + 1:
            raise ConfigError(f"BS-RoFormer bands cover {sum(self.freqs_per_bands)} bins, the STFT has "
                              f"{self.n_fft // 2 + 1}", hint="freqs_per_bands must sum to n_fft / 2 + 1")
        if len(self.stem_names) != self.num_stems:
            raise ConfigError(f"BS-RoFormer has {self.num_stems} stems but {len(self.stem_names)} stem names")

    @property
    def band_dims(self) -> tuple[int, ...]:
        """Input width of each band: bins x channels x (real, imaginary)."""
        return tuple(2 * f * self.audio_channels for f in self.freqs_per_bands)


BSROFORMER_PRESETS: Registry[BSRoFormerConfig] = Registry("BS-RoFormer preset")
BSROFORMER_PRESETS.add("vocals_317", BSRoFormerConfig())
# tiny: tests only (random weights in the public key layout).
BSROFORMER_PRESETS.add("tiny", BSRoFormerConfig(dim=16, depth=1, heads=2, dim_head=8, sample_rate=16000, n_fft=64,
                                                hop_length=16, win_length=64, freqs_per_bands=(4,) * 4 + (8,) * 2
                                                + (1,), chunk_seconds=1.0))


class RMSNorm(nn.Module):
    """x / ||x|| * sqrt(d) * gamma (no epsilon term besides F.normalize's): the open implementation's norm."""

    def __init__(self, dim: int):
        super().__init__()
        self.scale = dim ** 0.5
        self.gamma = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(x, dim=-1) * self.scale * self.gamma


class Rotary(nn.Module):
    """Rotary positions on adjacent channel pairs (interleaved), angles t * freqs, positions 0..n-1.

    ``freqs`` is stored in the checkpoint (one copy under every attention layer), so it is a buffer here.
    """

    def __init__(self, dim_head: int, theta: float):
        super().__init__()
        freqs = 1.0 / theta ** (torch.arange(0, dim_head, 2)[: dim_head // 2].float() / dim_head)
        self.register_buffer("freqs", freqs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (b, h, n, e)
        pos = torch.arange(x.shape[-2], device=x.device, dtype=torch.float32)  # angles in fp32 even under bf16
        angles = torch.repeat_interleave(pos[:, None] * self.freqs.float()[None], 2, dim=-1)  # (n, e)
        pairs = rearrange(x, "... (e two) -> ... e two", two=2)
        rotated = rearrange(torch.stack((-pairs[..., 1], pairs[..., 0]), -1), "... e two -> ... (e two)")
        return (x * angles.cos() + rotated * angles.sin()).to(x.dtype)


class Attention(nn.Module):
    def __init__(self, cfg: BSRoFormerConfig):
        super().__init__()
        inner = cfg.heads * cfg.dim_head
        self.heads = cfg.heads
        self.norm = RMSNorm(cfg.dim)
        self.to_qkv = nn.Linear(cfg.dim, 3 * inner, bias=False)
        self.to_gates = nn.Linear(cfg.dim, cfg.heads) if cfg.attn_gates else None
        self.to_out = nn.Sequential(nn.Linear(inner, cfg.dim, bias=False))
        self.rotary_embed = Rotary(cfg.dim_head, cfg.rotary_theta)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (b, n, d)
        x = self.norm(x)
        q, k, v = rearrange(self.to_qkv(x), "b n (three h e) -> three b h n e", three=3, h=self.heads)
        out = F.scaled_dot_product_attention(self.rotary_embed(q), self.rotary_embed(k), v)  # (b, h, n, e)
        if self.to_gates is not None:
            out = out * rearrange(self.to_gates(x), "b n h -> b h n 1").sigmoid()
        return self.to_out(rearrange(out, "b h n e -> b n (h e)"))


def feed_forward(dim: int, mult: int) -> nn.Sequential:
    # Indices 0, 1, 4 hold weights (norm, linear, linear) as in the public layout; 3 and 5 were dropouts.
    return nn.Sequential(RMSNorm(dim), nn.Linear(dim, dim * mult), nn.GELU(), nn.Identity(),
                         nn.Linear(dim * mult, dim), nn.Identity())


class Transformer(nn.Module):
    """Pre-norm residual attention + feed-forward; no output norm (the model ends with ``final_norm``)."""

    def __init__(self, cfg: BSRoFormerConfig, depth: int):
        super().__init__()
        self.layers = nn.ModuleList([nn.ModuleList([Attention(cfg), feed_forward(cfg.dim, cfg.ff_mult)])
                                     for _ in range(depth)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for attn, ff in self.layers:
            x = x + attn(x)
            x = x + ff(x)
        return x


class BandSplit(nn.Module):
    def __init__(self, dim: int, band_dims: tuple[int, ...]):
        super().__init__()
        self.band_dims = band_dims
        self.to_features = nn.ModuleList([nn.Sequential(RMSNorm(w), nn.Linear(w, dim)) for w in band_dims])

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (b, t, sum band_dims) -> (b, t, k, d)
        return torch.stack([net(part) for part, net in zip(x.split(self.band_dims, -1), self.to_features)], -2)


def _mlp(dim_in: int, dim_out: int, hidden: int, depth: int) -> nn.Sequential:
    dims = (dim_in,) + (hidden,) * (depth - 1) + (dim_out,)
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(dims) - 2:
            layers.append(nn.Tanh())
    return nn.Sequential(*layers)


class MaskEstimator(nn.Module):
    def __init__(self, dim: int, band_dims: tuple[int, ...], depth: int, expansion: int):
        super().__init__()
        self.to_freqs = nn.ModuleList([nn.Sequential(_mlp(dim, 2 * w, dim * expansion, depth), nn.GLU(-1))
                                       for w in band_dims])

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (b, t, k, d) -> (b, t, sum band_dims)
        return torch.cat([net(band) for band, net in zip(x.unbind(-2), self.to_freqs)], -1)


class BSRoFormer(nn.Module):
    def __init__(self, config: BSRoFormerConfig):
        super().__init__()
        self.config = cfg = config
        self.checkpoint_layout: str | None = None  # which key layout the loader found (separator.py)
        self.layers = nn.ModuleList([nn.ModuleList([Transformer(cfg, cfg.time_depth), Transformer(cfg, cfg.freq_depth)])
                                     for _ in range(cfg.depth)])
        self.final_norm = RMSNorm(cfg.dim)
        self.band_split = BandSplit(cfg.dim, cfg.band_dims)
        self.mask_estimators = nn.ModuleList([MaskEstimator(cfg.dim, cfg.band_dims, cfg.mask_estimator_depth,
                                                            cfg.mlp_expansion) for _ in range(cfg.num_stems)])
        self.register_buffer("window", torch.hann_window(cfg.win_length), persistent=False)

    def _stft(self, wav: torch.Tensor) -> torch.Tensor:
        cfg = self.config
        return torch.stft(wav, cfg.n_fft, cfg.hop_length, cfg.win_length, window=self.window.to(wav.dtype),
                          center=True, return_complex=True)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        """Separate stems: waveform (b, c, l) -> (b, n, c, l)."""
        cfg = self.config
        if wav.dim() != 3 or wav.shape[1] != cfg.audio_channels:
            raise ValueError(f"expected (batch, {cfg.audio_channels}, samples), got {tuple(wav.shape)}")
        b, c, length = wav.shape
        spec = self._stft(wav.reshape(b * c, length).float())  # (b c, f, t) complex
        spec = rearrange(spec, "(b c) f t -> b (f c) t", b=b)  # bins lead, channels interleaved per bin
        x = rearrange(torch.view_as_real(spec), "b fc t ri -> b t (fc ri)")
        x = self.band_split(x)  # (b, t, k, d)
        t, k = x.shape[1], x.shape[2]
        for time_tf, freq_tf in self.layers:
            x = rearrange(time_tf(rearrange(x, "b t k d -> (b k) t d")), "(b k) t d -> b t k d", k=k)
            x = rearrange(freq_tf(rearrange(x, "b t k d -> (b t) k d")), "(b t) k d -> b t k d", t=t)
        x = self.final_norm(x)
        mask = torch.stack([est(x) for est in self.mask_estimators], 1)  # (b, n, t, fc ri)
        mask = torch.view_as_complex(rearrange(mask, "b n t (fc ri) -> b n fc t ri", ri=2).contiguous())
        stems = spec[:, None] * mask  # (b, n, fc, t)
        stems = rearrange(stems, "b n (f c) t -> (b n c) f t", c=c)
        out = torch.istft(stems, cfg.n_fft, cfg.hop_length, cfg.win_length, window=self.window.to(torch.float32),
                          center=True, length=length)
        return rearrange(out, "(b n c) l -> b n c l", b=b, c=c)
