"""Configuration and named presets of the F5-TTS DiT (one registry: ``TTS_PRESETS``).

Values come from the official configs (SWivid/F5-TTS ``src/f5_tts/configs/*.yaml``, ``model.arch``),
with ``text_num_embeds`` = lines of the released ``vocab.txt`` (2545) and ``dim_head`` = the DiT default
64. ``F5TTS_Base`` is the original (v0) layout: RoPE on head 0 only and no text padding mask;
``F5TTS_v1_Base`` masks text padding and rotates all heads. ``DeepAudio_V2S`` is F5TTS_Base in the
v0.5.2 layout the DeepAudio ``v2c_*`` checkpoints use, plus the energy input layer (a zero-initialised
Linear(1 -> dim) added to the input embedding, so F5 checkpoints load with it at zero).
Variants come from ``dataclasses.replace(TTS_PRESETS.get(name), ...)``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from deepaudio.config import Registry
from deepaudio.errors import ConfigError


@dataclass(frozen=True)
class DiTConfig:
    dim: int = 1024
    depth: int = 22
    heads: int = 16
    dim_head: int = 64
    ff_mult: float = 2
    mel_dim: int = 100
    text_num_embeds: int = 2545   # vocabulary size; the embedding has one more row (0 = filler)
    text_dim: int = 512
    text_mask_padding: bool = True   # zero filler/padding tokens around each ConvNeXt block
    text_average_upsampling: bool = False  # ZipVoice-style: spread tokens evenly over the frames
    conv_layers: int = 4             # ConvNeXt-V2 text blocks (0: plain embedding, no position table)
    conv_mult: int = 2
    text_max_pos: int = 8192         # positions of the text sinusoid table; later positions reuse the last
    qk_norm: str | None = None       # None | "rms_norm"
    pe_attn_head: int | None = None  # RoPE on the first heads only (1 for F5TTS_Base); None = all heads
    attn_mask_enabled: bool = False  # also mask padded keys in attention
    long_skip_connection: bool = False
    dropout: float = 0.1
    energy_input: bool = False       # DeepAudio V2S: zero-initialised Linear(1 -> dim) on the input embedding
    sample_rate: int = 24000
    hop_length: int = 256
    mel_spec_type: str = "vocos"     # the mel it was trained on: "vocos" (dsp.mel.F5_24K) or "bigvgan" (BIGVGAN_24K)

    def __post_init__(self):
        if self.mel_spec_type not in ("vocos", "bigvgan"):
            raise ConfigError(f"unknown mel_spec_type {self.mel_spec_type!r}", hint="use 'vocos' or 'bigvgan'")
        if self.qk_norm not in (None, "rms_norm"):
            raise ConfigError(f"unknown qk_norm {self.qk_norm!r}", hint="use null or 'rms_norm'")
        if self.text_average_upsampling and not self.text_mask_padding:
            raise ConfigError("text_average_upsampling needs text_mask_padding=true")
        if self.pe_attn_head is not None and not 0 < self.pe_attn_head <= self.heads:
            raise ConfigError(f"pe_attn_head must be in 1..{self.heads}, got {self.pe_attn_head}")


def tts_mel_settings(config: DiTConfig):
    """The log-mel a TTS model reads and writes (F5-TTS ``mel_spec_type``)."""
    from deepaudio.dsp.mel import BIGVGAN_24K, F5_24K

    base = BIGVGAN_24K if config.mel_spec_type == "bigvgan" else F5_24K
    return dataclasses.replace(base, sample_rate=config.sample_rate, hop_length=config.hop_length,
                               n_mels=config.mel_dim)


TTS_PRESETS: Registry[DiTConfig] = Registry("TTS preset")

F5TTS_BASE = DiTConfig(text_mask_padding=False, pe_attn_head=1)
TTS_PRESETS.add("F5TTS_Base", F5TTS_BASE)
TTS_PRESETS.add("F5TTS_v1_Base", DiTConfig(text_mask_padding=True, pe_attn_head=None))
TTS_PRESETS.add("F5TTS_Small", dataclasses.replace(F5TTS_BASE, dim=768, depth=18, heads=12))
# v0.5.2 text encoder: 4096-entry position table, RoPE on head 0 (x-transformers of the time).
TTS_PRESETS.add("DeepAudio_V2S", dataclasses.replace(F5TTS_BASE, energy_input=True, text_max_pos=4096))
TTS_PRESETS.add("tiny", DiTConfig(dim=64, depth=2, heads=4, dim_head=16, text_dim=32, text_num_embeds=256,
                                  conv_layers=2, text_mask_padding=True))
# Sized for CPU training (6.3M parameters; a probe of this size learnt speech-like spectra but no text alignment
# in 2 200 CPU steps from characters, hence the average upsampling prior): 6 blocks of 256, character
# input with ZipVoice-style average upsampling as the monotonic alignment prior, V2S energy input built in.
TTS_PRESETS.add("toy", DiTConfig(dim=256, depth=6, heads=4, dim_head=64, text_dim=128, text_num_embeds=256,
                                 conv_layers=2, text_mask_padding=True, text_average_upsampling=True,
                                 energy_input=True))
