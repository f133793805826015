"""Converters for official MMAudio checkpoints (network, VAE, Synchformer) into deepaudio folders."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch

from deepaudio.checkpoint import load_state_strict
from deepaudio.models.encoders.synchformer import Synchformer, SynchformerConfig, official_state_to_ours
from deepaudio.models.v2a.config import MMAudioConfig, VAEConfig
from deepaudio.models.v2a.mmdit import MMAudioNet
from deepaudio.models.v2a.vae import MelVAE
from deepaudio.models.v2a.vae_layers import MPConv1d, mp_effective_weight

# Derived tables the reference may have saved with older code; they are recomputed from the config.
NETWORK_DERIVED_KEYS = ("t_embed.freqs", "latent_rot", "clip_rot")


def network_from_official(state: Mapping[str, torch.Tensor], config: MMAudioConfig, source: str | Path = "state dict",
                          device: torch.device | str = "cpu") -> MMAudioNet:
    state = {k: v for k, v in state.items() if k not in NETWORK_DERIVED_KEYS}
    net = MMAudioNet(config, device=device)
    load_state_strict(net, state, source)
    return net


def vae_from_official(state: Mapping[str, torch.Tensor], config: VAEConfig, source: str | Path = "state dict",
                      weight_norm_removed: bool = False, device: torch.device | str = "cpu") -> MelVAE:
    """Build our VAE from an official state dict. Released files hold the raw MPConv1D weights (the
    reference normalises them at load time with ``remove_weight_norm``); we store the effective ones."""
    vae = MelVAE(config, device=device)
    state = dict(state)
    if not weight_norm_removed:
        for name, module in vae.named_modules():
            key = f"{name}.weight"
            if isinstance(module, MPConv1d) and key in state:
                state[key] = mp_effective_weight(state[key])
    load_state_strict(vae, state, source)
    return vae


def synchformer_from_official(state: Mapping[str, torch.Tensor], config: SynchformerConfig,
                              source: str | Path = "state dict", device: torch.device | str = "cpu") -> Synchformer:
    model = Synchformer(config, device=device)
    load_state_strict(model, official_state_to_ours(dict(state)), source)
    return model
