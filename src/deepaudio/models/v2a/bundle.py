"""The ``config.json`` of a V2A pipeline folder (kind ``v2a_pipeline``), read strictly into typed configs.

A folder names its parts, each a checkpoint folder of its own: the MM-DiT ``net``, the condition
encoders (``tiny``: one folder; ``official``: CLIP + Synchformer) and the codec (``mel``: log-mel settings
[+ vocoder]; ``mmaudio``: VAE + vocoder). Unknown keys, missing required keys and wrongly typed values are
errors that name the file and the key, never silent defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deepaudio.checkpoint import read_config
from deepaudio.config import from_dict
from deepaudio.errors import ConfigError

ENCODER_TYPES = ("tiny", "official")
CODEC_TYPES = ("mel", "mmaudio")


@dataclass(frozen=True)
class EncoderSpec:
    type: str  # "tiny" (trained with the network) or "official" (MMAudio's frozen CLIP + Synchformer)
    dir: str = "encoder"  # tiny: its checkpoint folder
    clip: str = "clip"  # official: the parts' folders
    synchformer: str = "synchformer"
    clip_size: int | None = None  # official: frame size for CLIP (None: the CLIP model's own)
    dtype: str | None = None  # official: run the frozen encoders in this precision (None: the pipeline's)
    batch_size: int = 0  # official: frames per encoder batch (0: all at once)


@dataclass(frozen=True)
class CodecSpec:
    type: str  # "mel" (the log-mel is the latent) or "mmaudio" (MMAudio's VAE)
    vocoder: str | None = None  # a vocoder folder (mel: optional, Griffin-Lim without one)
    vae: str = "vae"  # mmaudio: the VAE folder
    settings: dict[str, Any] = field(default_factory=dict)  # mel: MelCodecConfig fields


@dataclass(frozen=True)
class V2ABundle:
    net: str  # the MM-DiT folder
    encoder: EncoderSpec
    codec: CodecSpec
    window: float  # seconds of video per generation window (the network's trained length)
    cfg_strength: float | None = None  # the model's own guidance default (None: MMAudio's 4.5)
    text_conditioning: bool = True  # False: trained without prompts (the bundled toy V2A), prompts are dropped


def read_v2a_bundle(directory: str | Path) -> V2ABundle:
    """The typed config of a ``v2a_pipeline`` folder; ``ConfigError`` naming ``config.json`` and the key."""
    directory = Path(directory).expanduser()
    where = directory / "config.json"
    bundle = from_dict(V2ABundle, read_config(directory, "v2a_pipeline")["config"], where, strict=True)
    if bundle.encoder.type not in ENCODER_TYPES:
        raise ConfigError(f"unknown V2A encoder type {bundle.encoder.type!r}", where,
                          f"use one of: {', '.join(ENCODER_TYPES)}")
    if bundle.codec.type not in CODEC_TYPES:
        raise ConfigError(f"unknown V2A codec type {bundle.codec.type!r}", where,
                          f"use one of: {', '.join(CODEC_TYPES)}")
    if not bundle.window > 0:
        raise ConfigError(f"window must be a positive number of seconds, got {bundle.window}", where)
    return bundle
