"""Mel filterbanks and log-mel spectrograms for the three settings the system uses.

Shape key: ... leading dims, L samples, F = n_fft // 2 + 1 bins, M mel bins, T frames.

Presets:
- ``F5_24K`` (F5-TTS / DeepAudio V2S mel, Vocos input): 24 kHz, 100 bins, n_fft 1024, hop 256, power-1
  magnitude, centred reflect padding, HTK mel without norm (torchaudio
  ``melscale_fbanks(norm=None, mel_scale='htk')``), fmax 12 kHz, ``log(clamp(x, 1e-5))``.
- ``VOCOS_24K`` (Vocos' own feature extractor): as ``F5_24K`` with ``log(clip(x, 1e-7))``.
- ``MMAUDIO_16K`` (MMAudio 16 kHz VAE / BigVGAN): clamp the wave to [-1, 1], reflect pad (n_fft - hop)/2,
  no centring, ``sqrt(re^2 + im^2 + 1e-9)``, Slaney mel scale with Slaney norm (librosa defaults),
  80 bins, 1024/256, fmax 8 kHz, ``log10(clamp(x, 1e-5))``.
- ``BIGVGAN_24K`` (F5-TTS' BigVGAN-v2 24 kHz mel): 24 kHz, 100 bins, 1024/256, Slaney, 'same' padding, ln.
- ``MMAUDIO_44K`` (MMAudio 44.1 kHz VAE / BigVGAN-v2 44 kHz): as 16 kHz with 128 bins, 2048/512,
  fmax 22.05 kHz and the natural log.

The filterbank maths follows the Slaney/HTK definitions (Slaney 1998, Auditory Toolbox; Young et al., HTK
Book): triangles whose corners are equally spaced on the mel scale, evaluated at the FFT bin frequencies
``linspace(0, sr/2, F)``; Slaney norm scales each triangle by ``2 / (f_hi - f_lo)`` so every filter has
unit area. Each preset also reproduces its reference's rounding (``filterbank_arithmetic``): the MMAudio
presets compute in float64 and round as librosa does, the 24 kHz presets in float32 as torchaudio does, and
the mel product uses the same operand order. Measured on the official reference vectors
(``deepaudio verify-parity``): the MMAudio ``mel_basis`` buffers and ``out.mel``, and Vocos' ``fb`` buffer
and ``out.features``, are equal bit for bit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from deepaudio.config import Registry
from deepaudio.dsp.stft import hann_window, magnitude, stft
from deepaudio.errors import ConfigError


@dataclass(frozen=True)
class MelSettings:
    """Everything that defines a log-mel spectrogram; presets below, variants via ``dataclasses.replace``."""

    sample_rate: int = 24000
    n_fft: int = 1024
    hop_length: int = 256
    win_length: int = 1024
    n_mels: int = 100
    f_min: float = 0.0
    f_max: float | None = 12000.0  # None = sample_rate / 2
    mel_scale: Literal["htk", "slaney"] = "htk"
    norm: Literal["slaney"] | None = None
    padding: Literal["center", "same"] = "center"  # 'same': reflect pad (n_fft - hop) // 2, no centring
    pad_mode: str = "reflect"
    power: float = 1.0
    magnitude_eps: float = 0.0  # added inside the square root (MMAudio: 1e-9)
    clamp_input: bool = False  # clamp the waveform to [-1, 1] first (MMAudio)
    log: Literal["ln", "log10"] | None = "ln"
    log_floor: float = 1e-5  # clamp floor before the log (F5-TTS 1e-5, Vocos 1e-7)
    filterbank_arithmetic: Literal["librosa", "torchaudio"] = "torchaudio"  # whose rounding to reproduce

    def __post_init__(self) -> None:
        if self.mel_scale not in ("htk", "slaney"):
            raise ConfigError(f"mel_scale must be 'htk' or 'slaney', got {self.mel_scale!r}")
        if self.norm not in (None, "slaney"):
            raise ConfigError(f"mel norm must be None or 'slaney', got {self.norm!r}")
        if self.padding not in ("center", "same"):
            raise ConfigError(f"mel padding must be 'center' or 'same', got {self.padding!r}")
        if self.log not in (None, "ln", "log10"):
            raise ConfigError(f"mel log must be None, 'ln' or 'log10', got {self.log!r}")
        if self.filterbank_arithmetic not in ("librosa", "torchaudio"):
            raise ConfigError("filterbank_arithmetic must be 'librosa' or 'torchaudio', "
                              f"got {self.filterbank_arithmetic!r}")
        if self.win_length > self.n_fft or self.hop_length < 1:
            raise ConfigError(f"bad STFT sizes n_fft={self.n_fft} win={self.win_length} hop={self.hop_length}")

    @property
    def fmax(self) -> float:
        return self.sample_rate / 2 if self.f_max is None else float(self.f_max)

    @property
    def n_freqs(self) -> int:
        return self.n_fft // 2 + 1

    @property
    def frame_rate(self) -> float:
        """Frames per second (93.75 for the 24 kHz TTS mel)."""
        return self.sample_rate / self.hop_length

    @property
    def stft_pad(self) -> int:
        """Explicit padding on each side before the STFT ('same' layout)."""
        return (self.n_fft - self.hop_length) // 2 if self.padding == "same" else 0

    @property
    def center(self) -> bool:
        return self.padding == "center"

    def num_frames(self, length: int) -> int:
        """Frames for ``length`` samples: L // hop + 1 centred, (L + 2 pad - n_fft) // hop + 1 for 'same'."""
        total = length + 2 * self.stft_pad + (2 * (self.n_fft // 2) if self.center else 0)
        return max(0, (total - self.n_fft) // self.hop_length + 1)

    @classmethod
    def from_mmaudio_kwargs(cls, kwargs: dict) -> MelSettings:
        """Settings equal to ``mmaudio.ext.mel_converter.MelConverter(**kwargs)``.

        MMAudio always uses librosa's default (Slaney) filters, the 'same' reflect padding, 1e-9 inside
        the magnitude's square root, a [-1, 1] waveform clamp and a 1e-5 floor; only the sizes and the
        log function (``norm_fn``: torch.log10 or torch.log) vary.
        """
        norm_fn = str(kwargs.get("norm_fn", "torch.log10"))
        log = "log10" if "log10" in norm_fn else "ln" if "log" in norm_fn else None
        if log is None:
            raise ConfigError(f"unsupported MMAudio mel norm_fn {norm_fn!r} (torch.log10 or torch.log)")
        fmax = kwargs.get("fmax", 8000)
        return cls(sample_rate=int(kwargs.get("sampling_rate", 16000)), n_fft=int(kwargs.get("n_fft", 1024)),
                   hop_length=int(kwargs.get("hop_size", 256)), win_length=int(kwargs.get("win_size", 1024)),
                   n_mels=int(kwargs.get("num_mels", 80)), f_min=float(kwargs.get("fmin", 0)),
                   f_max=None if fmax is None else float(fmax), mel_scale="slaney", norm="slaney",
                   padding="same", pad_mode="reflect", power=1.0, magnitude_eps=1e-9, clamp_input=True,
                   log=log, log_floor=1e-5, filterbank_arithmetic="librosa")


F5_24K = MelSettings()
VOCOS_24K = MelSettings(log_floor=1e-7)
MMAUDIO_16K = MelSettings.from_mmaudio_kwargs(
    dict(sampling_rate=16000, n_fft=1024, num_mels=80, hop_size=256, win_size=1024, fmin=0, fmax=8000,
         norm_fn="torch.log10"))
MMAUDIO_44K = MelSettings.from_mmaudio_kwargs(
    dict(sampling_rate=44100, n_fft=2048, num_mels=128, hop_size=512, win_size=2048, fmin=0, fmax=22050.0,
         norm_fn="torch.log"))

# F5-TTS ``mel_spec_type="bigvgan"`` (``get_bigvgan_mel_spectrogram``, the mel of BigVGAN-v2 24 kHz):
# the MMAudio recipe's Slaney filters and 'same' padding, 100 bins, fmax sr / 2, natural log, no clamp.
BIGVGAN_24K = MelSettings(n_mels=100, f_max=None, mel_scale="slaney", norm="slaney", padding="same",
                          magnitude_eps=1e-9, log="ln", log_floor=1e-5, filterbank_arithmetic="librosa")

MEL_PRESETS: Registry[MelSettings] = Registry("mel setting")
MEL_PRESETS.add("f5_24k", F5_24K)
MEL_PRESETS.add("vocos_24k", VOCOS_24K)
MEL_PRESETS.add("mmaudio_16k", MMAUDIO_16K)
MEL_PRESETS.add("mmaudio_44k", MMAUDIO_44K)
MEL_PRESETS.add("bigvgan_24k", BIGVGAN_24K)


# --- mel scales ---------------------------------------------------------------------------------------
_SLANEY_F_SP = 200.0 / 3  # Hz per mel below 1 kHz
_SLANEY_MIN_LOG_HZ = 1000.0
_SLANEY_MIN_LOG_MEL = _SLANEY_MIN_LOG_HZ / _SLANEY_F_SP  # 15
_SLANEY_LOGSTEP = math.log(6.4) / 27.0


def hz_to_mel(f: torch.Tensor, mel_scale: str = "htk") -> torch.Tensor:
    """HTK: 2595 log10(1 + f/700). Slaney: linear (f / (200/3)) below 1 kHz, logarithmic above."""
    if mel_scale == "htk":
        return 2595.0 * torch.log10(1.0 + f / 700.0)
    lin = f / _SLANEY_F_SP
    log = _SLANEY_MIN_LOG_MEL + torch.log(f.clamp_min(_SLANEY_MIN_LOG_HZ) / _SLANEY_MIN_LOG_HZ) / _SLANEY_LOGSTEP
    return torch.where(f >= _SLANEY_MIN_LOG_HZ, log, lin)


def mel_to_hz(m: torch.Tensor, mel_scale: str = "htk") -> torch.Tensor:
    """Inverse of :func:`hz_to_mel`."""
    if mel_scale == "htk":
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)
    lin = _SLANEY_F_SP * m
    log = _SLANEY_MIN_LOG_HZ * torch.exp(_SLANEY_LOGSTEP * (m - _SLANEY_MIN_LOG_MEL))
    return torch.where(m >= _SLANEY_MIN_LOG_MEL, log, lin)


def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, f_min: float = 0.0, f_max: float | None = None,
                   mel_scale: str = "htk", norm: str | None = None, arithmetic: str = "librosa",
                   device: torch.device | str | None = None, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Triangular mel filters [M, F] (librosa / MMAudio orientation; torchaudio's ``fb`` is the transpose).

    Corners: ``n_mels + 2`` points equally spaced in mel between f_min and f_max. Filter m rises from
    corner m to m+1 and falls to m+2 (in Hz, evaluated at the FFT bin centres). ``arithmetic`` picks
    whose rounding to reproduce: 'librosa' computes in float64 (the unnormalised triangle rounded to
    float32 before the Slaney scaling); 'torchaudio' computes in float32 with bins up to ``sr // 2``, as
    ``melscale_fbanks`` does. The two differ by about 1e-5 relative; each matches its reference exactly.
    """
    f_max = sample_rate / 2 if f_max is None else float(f_max)
    if not 0 <= f_min < f_max:
        raise ConfigError(f"mel band must satisfy 0 <= f_min < f_max, got {f_min}..{f_max}")
    if arithmetic not in ("librosa", "torchaudio"):
        raise ConfigError(f"mel filterbank arithmetic must be 'librosa' or 'torchaudio', got {arithmetic!r}")
    d = torch.float64 if arithmetic == "librosa" else torch.float32
    nyquist = sample_rate / 2 if arithmetic == "librosa" else sample_rate // 2
    bins = torch.linspace(0, nyquist, n_fft // 2 + 1, dtype=d)
    edges = hz_to_mel(torch.tensor([f_min, f_max], dtype=torch.float64), mel_scale).tolist()
    corners = mel_to_hz(torch.linspace(edges[0], edges[1], n_mels + 2, dtype=d), mel_scale)  # (M + 2,)
    widths = corners[1:] - corners[:-1]
    ramps = corners[:, None] - bins[None, :]  # (M + 2, F)
    rising = -ramps[:-2] / widths[:-1, None]
    falling = ramps[2:] / widths[1:, None]
    fb = torch.clamp(torch.minimum(rising, falling), min=0.0)  # (M, F)
    if norm == "slaney":
        fb = fb.to(torch.float32).to(d) * (2.0 / (corners[2:] - corners[:-2]))[:, None]
    elif norm is not None:
        raise ConfigError(f"mel norm must be None or 'slaney', got {norm!r}")
    return fb.to(device=device, dtype=dtype)


def settings_filterbank(settings: MelSettings, device: torch.device | str | None = None,
                        dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The [M, F] filterbank of ``settings``."""
    return mel_filterbank(settings.sample_rate, settings.n_fft, settings.n_mels, settings.f_min, settings.fmax,
                          settings.mel_scale, settings.norm, settings.filterbank_arithmetic, device=device, dtype=dtype)


def log_compress(mel: torch.Tensor, settings: MelSettings) -> torch.Tensor:
    """``log(clamp(mel, floor))`` in the base of ``settings``; identity when ``settings.log`` is None."""
    if settings.log is None:
        return mel
    mel = mel.clamp_min(settings.log_floor)
    return torch.log10(mel) if settings.log == "log10" else torch.log(mel)


def log_decompress(logmel: torch.Tensor, settings: MelSettings) -> torch.Tensor:
    """Inverse of :func:`log_compress` (values at the floor stay at the floor)."""
    if settings.log is None:
        return logmel
    return torch.pow(10.0, logmel) if settings.log == "log10" else torch.exp(logmel)


def mel_spectrogram(wav: torch.Tensor, settings: MelSettings = F5_24K, filterbank: torch.Tensor | None = None,
                    window: torch.Tensor | None = None) -> torch.Tensor:
    """Log-mel spectrogram of ``wav`` [..., L] -> [..., M, T] following ``settings`` exactly.

    ``filterbank`` [M, F] and ``window`` [win] may be given to use stored buffers (official checkpoints
    carry them); by default they are computed from the settings on ``wav``'s device and dtype.
    """
    s = settings
    if s.clamp_input:
        wav = wav.clamp(-1.0, 1.0)
    if window is None:
        window = hann_window(s.win_length, device=wav.device, dtype=wav.dtype)
    spec = stft(wav, s.n_fft, s.hop_length, s.win_length, window, center=s.center, pad_mode=s.pad_mode,
                pad=s.stft_pad)
    mag = magnitude(spec, power=s.power, eps=s.magnitude_eps)  # (..., F, T)
    fb = settings_filterbank(s, wav.device, mag.dtype) if filterbank is None else filterbank.to(mag)
    if s.filterbank_arithmetic == "torchaudio":  # torchaudio's MelScale multiplies (T, F) @ (F, M)
        mel = torch.matmul(mag.transpose(-1, -2), fb.transpose(0, 1)).transpose(-1, -2)
    else:  # MMAudio: mel_basis @ magnitude
        mel = torch.matmul(fb, mag)
    return log_compress(mel, s)


class MelSpectrogram(nn.Module):
    """:func:`mel_spectrogram` with the filterbank and window held as buffers.

    The buffer names ``mel_basis`` and ``hann_window`` are those of MMAudio's ``MelConverter``, so its
    state dict loads strictly; they move with ``.to(device)`` like any module state.
    """

    def __init__(self, settings: MelSettings = F5_24K):
        super().__init__()
        self.settings = settings
        self.register_buffer("mel_basis", settings_filterbank(settings))
        self.register_buffer("hann_window", hann_window(settings.win_length))

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        return mel_spectrogram(wav, self.settings, self.mel_basis, self.hann_window.to(wav.dtype))
