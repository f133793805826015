"""Converters for official MMAudio checkpoints (network, VAE, Synchformer) into deepaudio folders."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch

from deepaudio.checkpoint import load_state_strict
from deepaudio.models.v2a.config import MMAudioConfig
from deepaudio.models.v2a.mmdit import MMAudioNet

# Derived tables the reference may have saved with older code; they are recomputed from the config.
NETWORK_DERIVED_KEYS = ("t_embed.freqs", "latent_rot", "clip_rot")


def network_from_official(state: Mapping[str, torch.Tensor], config: MMAudioConfig, source: str | Path = "state dict",
                          device: torch.device | str = "cpu") -> MMAudioNet:
    state = {k: v for k, v in state.items() if k not in NETWORK_DERIVED_KEYS}
    net = MMAudioNet(config, device=device)
    load_state_strict(net, state, source)
    return net
