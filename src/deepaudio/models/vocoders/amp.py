"""Anti-aliased multi-periodicity (AMP) blocks of BigVGAN (Lee et al. 2023, "BigVGAN", Sec. 3).

BigVGAN replaces HiFi-GAN's LeakyReLU with periodic Snake activations (Ziyin et al. 2020) and, to keep
the harmonics they create from aliasing, runs every activation at twice the sample rate: upsample 2x
with a Kaiser-windowed sinc low-pass, apply Snake, low-pass and decimate 2x (the paper's Fig. 2,
"alias-free" after StyleGAN3). The filter taps are persistent buffers named ``filter`` so official
checkpoints, which carry them, load strictly. The maths follows NVIDIA BigVGAN as vendored in MMAudio
(``mmaudio/ext/bigvgan`` v1 and ``bigvgan_v2`` torch path); the two only differ in the generator.

Shape key: B batch, C channels, T time steps (at the current stage's rate), K filter taps (12).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["kaiser_sinc_filter1d", "Snake", "SnakeBeta", "UpSample1d", "DownSample1d", "Activation1d",
           "AMPBlock1", "AMPBlock2", "conv_padding"]


def conv_padding(kernel_size: int, dilation: int = 1) -> int:
    """'Same' padding of an odd dilated kernel."""
    return (kernel_size * dilation - dilation) // 2


def kaiser_sinc_filter1d(cutoff: float, half_width: float, kernel_size: int) -> torch.Tensor:
    """Windowed-sinc low-pass taps [1, 1, K] with unit DC gain.

    The Kaiser beta comes from Kaiser's attenuation formula for a transition band of ``2 * half_width``
    (in units of the sample rate), as in BigVGAN's ``alias_free_torch/filter.py``; even kernels are
    centred between samples so up- and down-sampling stay aligned.
    """
    even = kernel_size % 2 == 0
    half = kernel_size // 2
    atten = 2.285 * (half - 1) * math.pi * (4 * half_width) + 7.95
    if atten > 50.0:
        beta = 0.1102 * (atten - 8.7)
    elif atten >= 21.0:
        beta = 0.5842 * (atten - 21) ** 0.4 + 0.07886 * (atten - 21.0)
    else:
        beta = 0.0
    window = torch.kaiser_window(kernel_size, beta=beta, periodic=False)
    t = torch.arange(-half, half) + 0.5 if even else torch.arange(kernel_size) - half
    if cutoff == 0:
        taps = torch.zeros_like(t)
    else:
        taps = 2 * cutoff * window * torch.sinc(2 * cutoff * t)
        taps = taps / taps.sum()
    return taps.view(1, 1, kernel_size)


class Snake(nn.Module):
    """x + 1/a * sin^2(a x), one learnt frequency a per channel (``alpha``; exp(alpha) with log scale)."""

    def __init__(self, channels: int, logscale: bool = False):
        super().__init__()
        self.logscale = logscale
        self.alpha = nn.Parameter(torch.zeros(channels) if logscale else torch.ones(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, T)
        a = self.alpha[None, :, None]
        if self.logscale:
            a = torch.exp(a)
        s = torch.sin(x * a)
        return torch.addcmul(x, 1.0 / (a + 1e-9), s.mul_(s))  # x + sin^2(a x) / a, fewer passes


class SnakeBeta(nn.Module):
    """x + 1/b * sin^2(a x): Snake with a separate magnitude ``beta`` (BigVGAN's default activation)."""

    def __init__(self, channels: int, logscale: bool = False):
        super().__init__()
        self.logscale = logscale
        init = torch.zeros(channels) if logscale else torch.ones(channels)
        self.alpha = nn.Parameter(init.clone())
        self.beta = nn.Parameter(init.clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, T)
        a = self.alpha[None, :, None]
        b = self.beta[None, :, None]
        if self.logscale:
            a, b = torch.exp(a), torch.exp(b)
        s = torch.sin(x * a)
        return torch.addcmul(x, 1.0 / (b + 1e-9), s.mul_(s))  # x + sin^2(a x) / b, fewer passes


class UpSample1d(nn.Module):
    """2x zero-stuffing + low-pass (a transposed depthwise conv), with replicate padding at the edges."""

    def __init__(self, ratio: int = 2, kernel_size: int | None = None):
        super().__init__()
        self.ratio = ratio
        self.kernel_size = kernel_size or int(6 * ratio // 2) * 2
        self.pad = self.kernel_size // ratio - 1
        self.crop_left = self.pad * ratio + (self.kernel_size - ratio) // 2
        self.crop_right = self.pad * ratio + (self.kernel_size - ratio + 1) // 2
        self.register_buffer("filter", kaiser_sinc_filter1d(0.5 / ratio, 0.6 / ratio, self.kernel_size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, T) -> (B, C, ratio*T)
        b, c = x.shape[:2]
        x = F.pad(x, (self.pad, self.pad), mode="replicate")
        r, k = self.ratio, self.kernel_size
        if k % r:  # no polyphase split: the transposed convolution as written in BigVGAN
            x = r * F.conv_transpose1d(x, self.filter.expand(c, -1, -1), stride=r, groups=c)
            return x[..., self.crop_left:x.shape[-1] - self.crop_right]
        # Polyphase form of the same transposed convolution (zero-stuffing + FIR): output phase p takes
        # taps p, p + r, ... of the filter over the input, so each phase is a plain depthwise conv1d (a fast
        # kernel on CPUs, unlike the grouped transposed one) and no product with an inserted zero is made.
        # The gain ``ratio`` restores the energy spread over the inserted zeros.
        taps = k // r
        x = F.pad(x, (taps - 1, taps - 1))
        w = r * self.filter.reshape(taps, r).flip(0).transpose(0, 1)  # (r, taps): phase p = taps p::r, reversed
        y = F.conv1d(x, w.repeat(c, 1).unsqueeze(1), groups=c)  # (B, C*r, T'): channel c*r + p is phase p of c
        y = y.unflatten(1, (c, r)).transpose(-1, -2).reshape(b, c, -1)  # interleave: y[r*t + p] = phase p at t
        return y[..., self.crop_left:y.shape[-1] - self.crop_right]


class LowPassFilter1d(nn.Module):
    """Depthwise Kaiser-sinc low-pass with stride (decimation) and replicate padding."""

    def __init__(self, cutoff: float, half_width: float, stride: int, kernel_size: int):
        super().__init__()
        even = kernel_size % 2 == 0
        self.pad_left = kernel_size // 2 - int(even)
        self.pad_right = kernel_size // 2
        self.stride = stride
        self.register_buffer("filter", kaiser_sinc_filter1d(cutoff, half_width, kernel_size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, T) -> (B, C, T/stride)
        c = x.shape[1]
        x = F.pad(x, (self.pad_left, self.pad_right), mode="replicate")
        return F.conv1d(x, self.filter.expand(c, -1, -1), stride=self.stride, groups=c)


class DownSample1d(nn.Module):
    def __init__(self, ratio: int = 2, kernel_size: int | None = None):
        super().__init__()
        kernel_size = kernel_size or int(6 * ratio // 2) * 2
        self.lowpass = LowPassFilter1d(0.5 / ratio, 0.6 / ratio, ratio, kernel_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lowpass(x)


class Activation1d(nn.Module):
    """Anti-aliased activation: upsample 2x, nonlinearity, downsample 2x (BigVGAN Fig. 2)."""

    def __init__(self, act: nn.Module, up_ratio: int = 2, down_ratio: int = 2):
        super().__init__()
        self.act = act
        self.upsample = UpSample1d(up_ratio)
        self.downsample = DownSample1d(down_ratio)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, T)
        return self.downsample(self.act(self.upsample(x)))


def _snake(activation: str, channels: int, logscale: bool) -> nn.Module:
    if activation == "snake":
        return Snake(channels, logscale)
    if activation == "snakebeta":
        return SnakeBeta(channels, logscale)
    raise ValueError(f"unknown BigVGAN activation {activation!r} (expected 'snake' or 'snakebeta')")


def _conv(channels: int, kernel_size: int, dilation: int) -> nn.Conv1d:
    return nn.Conv1d(channels, channels, kernel_size, 1, dilation=dilation, padding=conv_padding(kernel_size, dilation))


class AMPBlock1(nn.Module):
    """Resblock type '1': per dilation d, x += conv_1(act(conv_d(act(x)))) (two anti-aliased acts per step)."""

    def __init__(self, channels: int, kernel_size: int, dilations: tuple[int, ...], activation: str,
                 logscale: bool):
        super().__init__()
        self.convs1 = nn.ModuleList(_conv(channels, kernel_size, d) for d in dilations)
        self.convs2 = nn.ModuleList(_conv(channels, kernel_size, 1) for _ in dilations)
        self.activations = nn.ModuleList(
            Activation1d(_snake(activation, channels, logscale)) for _ in range(2 * len(dilations)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, T)
        acts = list(self.activations)
        for c1, c2, a1, a2 in zip(self.convs1, self.convs2, acts[::2], acts[1::2]):
            x = x + c2(a2(c1(a1(x))))
        return x


class AMPBlock2(nn.Module):
    """Resblock type '2' (lighter): per dilation d, x += conv_d(act(x))."""

    def __init__(self, channels: int, kernel_size: int, dilations: tuple[int, ...], activation: str,
                 logscale: bool):
        super().__init__()
        self.convs = nn.ModuleList(_conv(channels, kernel_size, d) for d in dilations)
        self.activations = nn.ModuleList(
            Activation1d(_snake(activation, channels, logscale)) for _ in dilations)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, T)
        for conv, act in zip(self.convs, self.activations):
            x = x + conv(act(x))
        return x
