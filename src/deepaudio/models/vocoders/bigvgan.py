"""BigVGAN generator: MMAudio's 16 kHz vocoder and NVIDIA BigVGAN-v2 (44.1 kHz, 128 bands, 512x).

MMAudio decodes its VAE's mel with a BigVGAN (Lee et al. 2023): the 16 kHz model from Make-An-Audio 2
(``mmaudio.ext.bigvgan.models.BigVGANVocoder``, log10 mel, hop 256) and, for 44.1 kHz, the released
``nvidia/bigvgan_v2_44khz_128band_512x`` (``mmaudio.ext.bigvgan_v2.bigvgan.BigVGAN``, ln mel, hop 512,
torch anti-alias path). Both are the same network; v2 only adds ``use_bias_at_final`` (bias of the last
conv) and ``use_tanh_at_final`` (tanh, or a hard clamp to [-1, 1] when False), so one class covers both.

The generator (paper Fig. 1): conv_pre, then per stage a transposed conv (upsample by u_i, halve the
channels) followed by the *mean* of K AMP resblocks with kernels k_j, then an anti-aliased Snake,
conv_post and the output squashing. State-dict names are the official ones. The official modules
are trained with weight norm; ``weight_norm=True`` rebuilds that parametrisation (keys
``<m>.parametrizations.weight.original0/1``) for training, and the default plain layout (``<m>.weight``,
what ``remove_weight_norm()`` leaves) is what inference and our checkpoints use. ``fold_weight_norm``
turns any of the three official namings into the plain one.

Shape key: B batch, M mel bins, T mel frames, C channels, L = T * prod(upsample_rates) samples.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils.parametrizations import weight_norm as _apply_weight_norm

from deepaudio.checkpoint import Pretrained, load_state_strict, register_model
from deepaudio.config import Registry
from deepaudio.errors import CheckpointError, ConfigError
from deepaudio.models.vocoders.amp import Activation1d, AMPBlock1, AMPBlock2, Snake, SnakeBeta

__all__ = ["BigVGANConfig", "BigVGAN", "BIGVGAN_PRESETS", "fold_weight_norm", "legacy_to_parametrized",
           "weight_norm_naming", "config_from_official"]

_G_SUFFIXES = (".parametrizations.weight.original0", ".weight_g")
_V_SUFFIXES = (".parametrizations.weight.original1", ".weight_v")


@dataclass(frozen=True)
class BigVGANConfig:
    """Generator hyper-parameters with the official field names (``bigvgan_vocoder.yml`` / ``config.json``)."""

    num_mels: int = 80
    upsample_rates: tuple[int, ...] = (4, 4, 2, 2, 2, 2)
    upsample_kernel_sizes: tuple[int, ...] = (8, 8, 4, 4, 4, 4)
    upsample_initial_channel: int = 1536
    resblock: str = "1"
    resblock_kernel_sizes: tuple[int, ...] = (3, 7, 11)
    resblock_dilation_sizes: tuple[tuple[int, ...], ...] = ((1, 3, 5), (1, 3, 5), (1, 3, 5))
    activation: str = "snakebeta"
    snake_logscale: bool = True
    use_bias_at_final: bool = True
    use_tanh_at_final: bool = True
    sample_rate: int = 16000
    # The mel the generator was trained on, when its config.json says (BigVGAN-v2 releases do): the TTS
    # that feeds it must use the same (``mel_settings``). None = not recorded (MMAudio's 16 kHz yml).
    n_fft: int | None = None
    win_size: int | None = None
    fmin: float = 0.0
    fmax: float | None = None  # None = sample_rate / 2

    @property
    def hop_length(self) -> int:
        return math.prod(self.upsample_rates)

    def mel_settings(self):
        """The BigVGAN-v2 log-mel (``meldataset.mel_spectrogram``): librosa Slaney filters, reflect pad
        (n_fft - hop) / 2 without centring, sqrt(|X|^2 + 1e-9), ln(clamp(x, 1e-5)); None if not recorded."""
        from deepaudio.dsp.mel import MelSettings

        if self.n_fft is None:
            return None
        return MelSettings(sample_rate=self.sample_rate, n_fft=self.n_fft, hop_length=self.hop_length,
                           win_length=self.win_size or self.n_fft, n_mels=self.num_mels, f_min=float(self.fmin),
                           f_max=None if self.fmax is None else float(self.fmax), mel_scale="slaney", norm="slaney",
                           padding="same", magnitude_eps=1e-9, log="ln", log_floor=1e-5,
                           filterbank_arithmetic="librosa")

    def validate(self) -> BigVGANConfig:
        if self.resblock not in ("1", "2"):
            raise ConfigError(f"BigVGAN resblock must be '1' or '2', got {self.resblock!r}")
        if self.activation not in ("snake", "snakebeta"):
            raise ConfigError(f"BigVGAN activation must be 'snake' or 'snakebeta', got {self.activation!r}")
        if len(self.upsample_rates) != len(self.upsample_kernel_sizes):
            raise ConfigError("BigVGAN upsample_rates and upsample_kernel_sizes differ in length")
        if len(self.resblock_kernel_sizes) != len(self.resblock_dilation_sizes):
            raise ConfigError("BigVGAN resblock_kernel_sizes and resblock_dilation_sizes differ in length")
        if self.upsample_initial_channel % (2 ** len(self.upsample_rates)):
            raise ConfigError("BigVGAN upsample_initial_channel must be divisible by 2**len(upsample_rates)")
        return self


BIGVGAN_PRESETS: Registry[BigVGANConfig] = Registry("BigVGAN preset")
# MMAudio ext/bigvgan/bigvgan_vocoder.yml (16 kHz, 80 log10-mel bins, hop 256): 112.2M parameters.
BIGVGAN_PRESETS.add("mmaudio_16k", BigVGANConfig())
# nvidia/bigvgan_v2_44khz_128band_512x (ln mel, hop 512): 122.2M parameters.
BIGVGAN_PRESETS.add("bigvgan_v2_44khz_128band_512x", BigVGANConfig(
    num_mels=128, upsample_rates=(8, 4, 2, 2, 2, 2), upsample_kernel_sizes=(16, 8, 4, 4, 4, 4),
    use_bias_at_final=False, use_tanh_at_final=False, sample_rate=44100, n_fft=2048, win_size=2048))
# nvidia/bigvgan_v2_24khz_100band_256x sizes (ln mel, hop 256, fmax 12 kHz), the other vocoder F5-TTS names;
# the final-layer flags keep the code defaults here, a converted folder takes every field from config.json.
BIGVGAN_PRESETS.add("bigvgan_v2_24khz_100band_256x", BigVGANConfig(num_mels=100, sample_rate=24000, n_fft=1024,
                                                                   win_size=1024))
BIGVGAN_PRESETS.add("tiny", BigVGANConfig(
    upsample_rates=(4, 2, 2), upsample_kernel_sizes=(8, 4, 4), upsample_initial_channel=32,
    resblock_kernel_sizes=(3, 7), resblock_dilation_sizes=((1, 3, 5), (1, 3, 5))))

_ARCH_FIELDS = ("num_mels", "upsample_rates", "upsample_kernel_sizes", "upsample_initial_channel", "resblock",
                "resblock_kernel_sizes", "resblock_dilation_sizes", "activation", "snake_logscale",
                "use_bias_at_final", "use_tanh_at_final")
_MEL_FIELDS = ("n_fft", "win_size", "fmin", "fmax")


def config_from_official(h: Mapping, sample_rate: int | None = None) -> BigVGANConfig:
    """Our config from an official one (v1 yml or v2 config.json); training-only keys are ignored.

    The v1 16k generator has no ``use_*_at_final`` options: it always has a bias and a tanh, which is
    also v2's default, so missing keys keep our defaults.
    """
    missing = [k for k in _ARCH_FIELDS[:9] if k not in h]
    if missing:
        raise ConfigError(f"BigVGAN config lacks {', '.join(missing)}")
    kw = {k: h[k] for k in _ARCH_FIELDS + _MEL_FIELDS if k in h}
    for k in ("upsample_rates", "upsample_kernel_sizes", "resblock_kernel_sizes"):
        kw[k] = tuple(int(v) for v in kw[k])
    kw["resblock_dilation_sizes"] = tuple(tuple(int(d) for d in ds) for ds in kw["resblock_dilation_sizes"])
    kw["resblock"] = str(kw["resblock"])
    sr = sample_rate or h.get("sampling_rate") or h.get("sample_rate")
    if sr is None:
        sr = 16000 if int(kw["num_mels"]) == 80 else 44100
    return BigVGANConfig(**kw, sample_rate=int(sr)).validate()


@register_model
class BigVGAN(nn.Module, Pretrained):
    """mel [B, M, T] -> waveform [B, 1, L] in [-1, 1]."""

    kind = "bigvgan"
    config_class = BigVGANConfig

    def __init__(self, config: BigVGANConfig, weight_norm: bool = False):
        super().__init__()
        self.config = config.validate()
        c0 = config.upsample_initial_channel
        self.conv_pre = nn.Conv1d(config.num_mels, c0, 7, 1, padding=3)
        self.ups = nn.ModuleList(
            nn.ModuleList([nn.ConvTranspose1d(c0 // 2**i, c0 // 2 ** (i + 1), k, u, padding=(k - u) // 2)])
            for i, (u, k) in enumerate(zip(config.upsample_rates, config.upsample_kernel_sizes)))
        block = AMPBlock1 if config.resblock == "1" else AMPBlock2
        self.resblocks = nn.ModuleList(
            block(c0 // 2 ** (i + 1), k, tuple(d), config.activation, config.snake_logscale)
            for i in range(len(self.ups))
            for k, d in zip(config.resblock_kernel_sizes, config.resblock_dilation_sizes))
        ch = c0 // 2 ** len(self.ups)
        act = SnakeBeta if config.activation == "snakebeta" else Snake
        self.activation_post = Activation1d(act(ch, config.snake_logscale))
        self.conv_post = nn.Conv1d(ch, 1, 7, 1, padding=3, bias=config.use_bias_at_final)
        self.weight_norm = weight_norm
        if weight_norm:
            for m in self.modules():
                if isinstance(m, nn.Conv1d | nn.ConvTranspose1d) and m.groups == 1:
                    _apply_weight_norm(m)

    def dense_in(self, dtype: torch.dtype) -> BigVGAN:
        """Run the dense convolutions (pre, upsampling, resblocks, post: 99 % of the FLOPs) in ``dtype``
        while the Snake activations, their anti-aliasing filters and the residual sums stay float32.

        bf16 everywhere was slower on CPUs than float32 (elementwise Snake and depthwise filters have no
        fast bf16 kernels) and puts the periodic activations at 8-bit precision; this keeps them exact and
        takes the 3x of bf16 matmuls. The MMAudio demo runs the whole vocoder in bf16 on GPUs.
        """
        if dtype == torch.float32:
            return self
        for m in self.modules():
            if isinstance(m, nn.Conv1d | nn.ConvTranspose1d) and m.groups == 1 and not hasattr(m, "_dense_dtype"):
                m.to(dtype)
                m._dense_dtype = dtype
                m.register_forward_pre_hook(lambda mod, args: (args[0].to(mod._dense_dtype),))
                m.register_forward_hook(lambda mod, args, out: out.float())
        return self

    @property
    def sample_rate(self) -> int:
        return self.config.sample_rate

    @property
    def hop_length(self) -> int:
        return self.config.hop_length

    def forward(self, mel: torch.Tensor) -> torch.Tensor:  # (B, M, T) -> (B, 1, L)
        x = self.conv_pre(mel)
        k = len(self.config.resblock_kernel_sizes)
        for i, up in enumerate(self.ups):
            x = up[0](x)  # (B, C_i, T * prod(u[:i+1]))
            acc = self.resblocks[i * k](x)
            for j in range(1, k):
                acc = acc + self.resblocks[i * k + j](x)
            x = acc / k  # multi-receptive-field fusion: mean over the K resblocks
        x = self.conv_post(self.activation_post(x))
        return torch.tanh(x) if self.config.use_tanh_at_final else x.clamp(-1.0, 1.0)

    def decode(self, mel: torch.Tensor) -> torch.Tensor:
        """mel [B, M, T] (or [M, T]) in the vocoder's log-mel space -> waveform [B, L] (or [L])."""
        squeeze = mel.dim() == 2
        if squeeze:
            mel = mel.unsqueeze(0)
        param = self.activation_post.act.alpha  # float32 unless the whole model was cast
        wav = self(mel.to(device=param.device, dtype=param.dtype)).squeeze(1)
        return wav[0] if squeeze else wav

    @classmethod
    def from_official_state(cls, config: BigVGANConfig, state: Mapping[str, torch.Tensor],
                            source: str = "official BigVGAN weights") -> BigVGAN:
        """Build the inference (plain-weight) model from a generator state dict in any of the three namings."""
        try:
            plain = fold_weight_norm(state)
        except CheckpointError as exc:
            raise CheckpointError(str(exc), source) from exc
        model = cls(config)
        load_state_strict(model, plain, source)
        return model.eval()


def weight_norm_naming(state: Mapping[str, torch.Tensor]) -> str:
    """'parametrizations', 'legacy' (weight_g/weight_v) or 'plain' (after remove_weight_norm)."""
    if any(k.endswith(_G_SUFFIXES[0]) for k in state):
        return "parametrizations"
    if any(k.endswith(_G_SUFFIXES[1]) for k in state):
        return "legacy"
    return "plain"


def legacy_to_parametrized(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename ``weight_g``/``weight_v`` to the ``parametrizations.weight.original0/1`` names (torch's own hook)."""
    out = {}
    for k, v in state.items():
        for old, new in zip((_G_SUFFIXES[1], _V_SUFFIXES[1]), (_G_SUFFIXES[0], _V_SUFFIXES[0])):
            if k.endswith(old):
                k = k[: -len(old)] + new
                break
        out[k] = v
    return out


def fold_weight_norm(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Any naming -> plain ``<m>.weight = g * v / ||v||`` (norm over all dims but 0, as ``remove_weight_norm``).

    ``g`` is [out,1,1] for Conv1d and [in,1,1] for ConvTranspose1d (dim 0 of its weight); we use
    ``torch._weight_norm``, the kernel behind both torch weight-norm APIs, so folded weights are bitwise
    the official effective weights.
    """
    out: dict[str, torch.Tensor] = {}
    for k, v in state.items():
        if k.endswith(_V_SUFFIXES):
            continue
        g_suffix = next((s for s in _G_SUFFIXES if k.endswith(s)), None)
        if g_suffix is None:
            out[k] = v
            continue
        base = k[: -len(g_suffix)]
        v_key = base + _V_SUFFIXES[_G_SUFFIXES.index(g_suffix)]
        if v_key not in state:
            raise CheckpointError(f"weight-norm magnitude {k} has no direction tensor {v_key}")
        out[base + ".weight"] = torch._weight_norm(state[v_key], v.to(state[v_key].dtype), 0)
    for k in state:
        v_suffix = next((s for s in _V_SUFFIXES if k.endswith(s)), None)
        if v_suffix is not None and k[: -len(v_suffix)] + ".weight" not in out:
            raise CheckpointError(f"weight-norm direction {k} has no magnitude tensor")
    return out
