"""Vocos (Siuzdak 2023, "Vocos: Closing the gap between time-domain and Fourier-based neural vocoders").

The TTS vocoder: F5-TTS decodes its 24 kHz, 100-band mel with the released ``charactr/vocos-mel-24khz``.
Instead of upsampling in time, Vocos keeps the mel frame rate: a ConvNeXt backbone (paper Sec. 3.1)
predicts per frame a log-magnitude and a phase for every STFT bin and an inverse STFT makes the
waveform (Sec. 3.2). That is why it is cheap on CPU: 10 s of audio took 2.8 s with the full-size model
against 372 s for BigVGAN-v2 44k (shared 2-core CPU, fp32; ``benchmarks/bench_vocoders.py``).

Module names, buffers and maths follow ``vocos==0.1.0`` (``Vocos.from_hparams(config.yaml)``) so the
released ``pytorch_model.bin`` loads strictly, including the torchaudio buffers
``feature_extractor.mel_spec.spectrogram.window`` and ``feature_extractor.mel_spec.mel_scale.fb`` and
``head.istft.window``. torchaudio is not available beside torch 2.13; its ``MelSpectrogram`` (periodic
Hann, reflect padding when centred, power 1, HTK filters without norm) is ``deepaudio.dsp.mel``.

Shape key: B batch, L samples, M mel bins (100), T frames, D backbone width, H intermediate width,
F = n_fft/2 + 1 frequency bins.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from deepaudio.checkpoint import Pretrained, load_state_strict, load_weights_file, register_model
from deepaudio.config import Registry
from deepaudio.dsp.mel import VOCOS_24K, mel_filterbank, mel_spectrogram
from deepaudio.errors import CheckpointError, ConfigError

__all__ = ["VocosConfig", "Vocos", "VOCOS_PRESETS", "config_from_official"]

PADDINGS = ("center", "same")


@dataclass(frozen=True)
class VocosConfig:
    """The three ``init_args`` blocks of a Vocos ``config.yaml`` flattened (feature, backbone, head)."""

    sample_rate: int = 24000
    n_fft: int = 1024
    hop_length: int = 256
    n_mels: int = 100
    padding: str = "center"
    input_channels: int = 100
    dim: int = 512
    intermediate_dim: int = 1536
    num_layers: int = 8
    head_n_fft: int = 1024
    head_hop_length: int = 256
    head_padding: str = "center"
    log_floor: float = 1e-7  # of the log-mel input (the released model: 1e-7; trained for F5's mel: 1e-5)

    def validate(self) -> VocosConfig:
        for name in ("padding", "head_padding"):
            if getattr(self, name) not in PADDINGS:
                raise ConfigError(f"Vocos {name} must be 'center' or 'same', got {getattr(self, name)!r}")
        if not 0 < self.log_floor < 1:
            raise ConfigError(f"Vocos log_floor must be in (0, 1), got {self.log_floor!r}")
        return self


VOCOS_PRESETS: Registry[VocosConfig] = Registry("Vocos preset")
VOCOS_PRESETS.add("mel_24khz", VocosConfig())  # charactr/vocos-mel-24khz, 13.5M parameters
VOCOS_PRESETS.add("tiny", VocosConfig(dim=32, intermediate_dim=64, num_layers=2))
# the bundled default's vocoder (deepaudio train vocoder; 2.8M parameters, 5.6 MB in fp16), for F5's mel
VOCOS_PRESETS.add("small_24k", VocosConfig(dim=256, intermediate_dim=768, num_layers=6, log_floor=1e-5))

_CLASSES = {"feature_extractor": "MelSpectrogramFeatures", "backbone": "VocosBackbone", "head": "ISTFTHead"}


def config_from_official(doc: Mapping) -> VocosConfig:
    """Our config from a parsed Vocos ``config.yaml`` (mel features, ConvNeXt backbone, ISTFT head only)."""
    args = {}
    for part, cls in _CLASSES.items():
        block = doc.get(part)
        if not isinstance(block, Mapping) or not str(block.get("class_path", "")).endswith(cls):
            raise ConfigError(f"Vocos config: {part} must be vocos {cls} (other Vocos variants are not supported)")
        args[part] = dict(block.get("init_args") or {})
    if args["backbone"].get("adanorm_num_embeddings") is not None:
        raise ConfigError("Vocos config: adaptive LayerNorm backbones (EnCodec Vocos) are not supported")
    fe, bb, hd = args["feature_extractor"], args["backbone"], args["head"]
    try:
        return VocosConfig(
            sample_rate=int(fe.get("sample_rate", 24000)), n_fft=int(fe.get("n_fft", 1024)),
            hop_length=int(fe.get("hop_length", 256)), n_mels=int(fe.get("n_mels", 100)),
            padding=str(fe.get("padding", "center")), input_channels=int(bb["input_channels"]), dim=int(bb["dim"]),
            intermediate_dim=int(bb["intermediate_dim"]), num_layers=int(bb["num_layers"]), head_n_fft=int(hd["n_fft"]),
            head_hop_length=int(hd["hop_length"]), head_padding=str(hd.get("padding", "same")),
        ).validate()
    except KeyError as exc:
        raise ConfigError(f"Vocos config lacks {exc.args[0]!r}") from exc


class _Spectrogram(nn.Module):
    def __init__(self, n_fft: int):
        super().__init__()
        self.register_buffer("window", torch.hann_window(n_fft))  # periodic, as torch/torchaudio default


class _MelScale(nn.Module):
    def __init__(self, n_fft: int, n_mels: int, sample_rate: int):
        super().__init__()
        fb = torch.empty(n_fft // 2 + 1, n_mels)  # torchaudio orientation [F, M]
        if fb.device.type != "meta":  # a meta build (shape checks) has no values to compute
            # f_max = sr // 2, torchaudio's default
            fb.copy_(mel_filterbank(sample_rate, n_fft, n_mels, 0.0, float(sample_rate // 2), "htk", None,
                                    "torchaudio", device=fb.device).T)
        self.register_buffer("fb", fb)


class _MelSpectrogram(nn.Module):
    """Holds the two torchaudio buffers under their official names."""

    def __init__(self, cfg: VocosConfig):
        super().__init__()
        self.spectrogram = _Spectrogram(cfg.n_fft)
        self.mel_scale = _MelScale(cfg.n_fft, cfg.n_mels, cfg.sample_rate)


class MelFeatures(nn.Module):
    """waveform [B, L] -> log-mel [B, M, T]; T = L // hop + 1 ('center') or L // hop ('same').

    The recipe is ``deepaudio.dsp.mel`` with the Vocos settings (``VOCOS_24K``: like F5-TTS' mel but a
    1e-7 log floor; a vocoder trained here for F5's mel records 1e-5), run on the stored buffers.
    """

    def __init__(self, cfg: VocosConfig):
        super().__init__()
        self.settings = replace(VOCOS_24K, sample_rate=cfg.sample_rate, n_fft=cfg.n_fft, hop_length=cfg.hop_length,
                                win_length=cfg.n_fft, n_mels=cfg.n_mels, f_max=float(cfg.sample_rate // 2),
                                padding=cfg.padding, log_floor=cfg.log_floor)
        self.mel_spec = _MelSpectrogram(cfg)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        return mel_spectrogram(audio, self.settings, filterbank=self.mel_spec.mel_scale.fb.T,
                               window=self.mel_spec.spectrogram.window)


class ConvNeXtBlock(nn.Module):
    """Depthwise conv (k=7) -> LayerNorm -> pointwise MLP (GELU) -> layer scale, residual (ConvNeXt, Liu 2022)."""

    def __init__(self, dim: int, intermediate_dim: int, layer_scale: float):
        super().__init__()
        self.dwconv = nn.Conv1d(dim, dim, 7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, intermediate_dim)
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(intermediate_dim, dim)
        self.gamma = nn.Parameter(torch.full((dim,), layer_scale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, D, T)
        h = self.norm(self.dwconv(x).transpose(1, 2))  # (B, T, D)
        h = self.gamma * self.pwconv2(self.act(self.pwconv1(h)))
        return x + h.transpose(1, 2)


class VocosBackbone(nn.Module):
    """mel [B, M, T] -> hidden [B, T, D]: embed conv, LayerNorm, ConvNeXt blocks, final LayerNorm."""

    def __init__(self, cfg: VocosConfig):
        super().__init__()
        self.embed = nn.Conv1d(cfg.input_channels, cfg.dim, 7, padding=3)
        self.norm = nn.LayerNorm(cfg.dim, eps=1e-6)
        self.convnext = nn.ModuleList(
            ConvNeXtBlock(cfg.dim, cfg.intermediate_dim, 1.0 / cfg.num_layers) for _ in range(cfg.num_layers))
        self.final_layer_norm = nn.LayerNorm(cfg.dim, eps=1e-6)
        self.apply(self._init)

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, nn.Conv1d | nn.Linear):  # Vocos' init: truncated normal, zero bias
            nn.init.trunc_normal_(m.weight, std=0.02)
            nn.init.zeros_(m.bias)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        x = self.embed(mel)  # (B, D, T)
        x = self.norm(x.transpose(1, 2)).transpose(1, 2)
        for block in self.convnext:
            x = block(x)
        return self.final_layer_norm(x.transpose(1, 2))  # (B, T, D)


class ISTFT(nn.Module):
    """Inverse STFT; 'same' is Vocos' own overlap-add that keeps T*hop samples (no centre trimming)."""

    def __init__(self, n_fft: int, hop_length: int, padding: str):
        super().__init__()
        self.n_fft, self.hop_length, self.padding = n_fft, hop_length, padding
        self.register_buffer("window", torch.hann_window(n_fft))

    def forward(self, spec: torch.Tensor) -> torch.Tensor:  # (B, F, T) complex -> (B, L)
        if self.padding == "center":
            return torch.istft(spec, self.n_fft, self.hop_length, self.n_fft, window=self.window, center=True)
        n, hop, win = self.n_fft, self.hop_length, self.window
        pad = (n - hop) // 2
        frames = spec.shape[-1]
        size = (frames - 1) * hop + n
        ifft = torch.fft.irfft(spec, n, dim=1, norm="backward") * win[None, :, None]  # (B, n, T)
        y = F.fold(ifft, output_size=(1, size), kernel_size=(1, n), stride=(1, hop))[:, 0, 0, pad:-pad]
        env = win.square().expand(1, frames, -1).transpose(1, 2)  # (1, n, T)
        env = F.fold(env, output_size=(1, size), kernel_size=(1, n), stride=(1, hop)).squeeze()[pad:-pad]
        return y / env  # the window-square envelope is > 0 everywhere after the trim


class ISTFTHead(nn.Module):
    """hidden [B, T, D] -> waveform: Linear to (log|S|, phase) per bin, |S| = min(exp, 100), inverse STFT."""

    def __init__(self, cfg: VocosConfig):
        super().__init__()
        self.out = nn.Linear(cfg.dim, cfg.head_n_fft + 2)
        self.istft = ISTFT(cfg.head_n_fft, cfg.head_hop_length, cfg.head_padding)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        x = self.out(h).transpose(1, 2)  # (B, 2F, T)
        log_mag, phase = x.chunk(2, dim=1)
        # the clip keeps exp() from overflowing on out-of-range hidden states (Vocos' safeguard)
        mag = torch.clip(torch.exp(log_mag), max=1e2)
        return self.istft(mag * (torch.cos(phase) + 1j * torch.sin(phase)))  # (B, F, T) complex


@register_model
class Vocos(nn.Module, Pretrained):
    """``decode(mel [B, 100, T]) -> wav [B, L]`` at 24 kHz; ``forward(wav)`` is copy-synthesis."""

    kind = "vocos"
    config_class = VocosConfig

    def __init__(self, config: VocosConfig):
        super().__init__()
        self.config = config.validate()
        self.feature_extractor = MelFeatures(config)
        self.backbone = VocosBackbone(config)
        self.head = ISTFTHead(config)

    @property
    def sample_rate(self) -> int:
        return self.config.sample_rate

    @property
    def hop_length(self) -> int:
        return self.config.head_hop_length

    def features(self, audio: torch.Tensor) -> torch.Tensor:
        """waveform [B, L] -> log-mel [B, M, T] (natural log, floor 1e-7)."""
        return self.feature_extractor(audio)

    def decode(self, mel: torch.Tensor) -> torch.Tensor:
        """log-mel [B, M, T] (or [M, T]) -> waveform [B, L] (or [L])."""
        squeeze = mel.dim() == 2
        if squeeze:
            mel = mel.unsqueeze(0)
        param = self.head.out.weight
        wav = self.head(self.backbone(mel.to(device=param.device, dtype=param.dtype)))
        return wav[0] if squeeze else wav

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        return self.decode(self.features(audio))

    @classmethod
    def from_official(cls, config_yaml: str | Path, weights: str | Path) -> Vocos:
        """Build from a released ``config.yaml`` + ``pytorch_model.bin`` and load strictly (no pickled code)."""
        import yaml

        config_yaml = Path(config_yaml).expanduser()
        if not config_yaml.is_file():
            raise CheckpointError("Vocos config.yaml not found", config_yaml)
        try:
            doc = yaml.safe_load(config_yaml.read_text())
        except yaml.YAMLError as exc:
            raise CheckpointError(f"not valid YAML ({str(exc).splitlines()[0]})", config_yaml) from exc
        if not isinstance(doc, Mapping):
            raise CheckpointError("expected a mapping with feature_extractor/backbone/head", config_yaml)
        try:
            config = config_from_official(doc)
        except ConfigError as exc:
            raise CheckpointError(str(exc), config_yaml) from exc
        state = load_weights_file(weights)
        model = cls(config)
        load_state_strict(model, state, weights)
        return model.eval()
