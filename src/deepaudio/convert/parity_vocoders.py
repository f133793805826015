"""Parity handlers for the vocoders: Vocos (``vocos==0.1.0``) and MMAudio's BigVGAN v1 (16 kHz) / v2.

Each handler builds our module from the sidecar's ``constructor_kwargs`` (the official config, so the
hidden set's other sizes work unchanged), loads ``weights.*`` strictly through the same path a user's
official checkpoint takes, and reproduces the sidecar's calls.
"""

from __future__ import annotations

import torch

from deepaudio.checkpoint import load_state_strict
from deepaudio.convert.parity import register_handler
from deepaudio.errors import ParityError

__all__ = ["vocos_handler", "bigvgan_handler"]


def _weights(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k[len("weights."):]: v for k, v in tensors.items() if k.startswith("weights.")}


def _kwargs(sidecar: dict) -> dict:
    kwargs = sidecar.get("constructor_kwargs")
    if not isinstance(kwargs, dict):
        raise ParityError(f"sidecar of {sidecar.get('case', '?')} has no constructor_kwargs object")
    return kwargs


@register_handler("vocos.pretrained.Vocos")
def vocos_handler(sidecar: dict, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    from deepaudio.models.vocoders.vocos import Vocos, config_from_official

    model = Vocos(config_from_official(_kwargs(sidecar)))
    load_state_strict(model, _weights(tensors), sidecar.get("case", "vocos case"))
    model.eval()
    out: dict[str, torch.Tensor] = {}
    if "in.mel" in tensors:
        hidden = model.backbone(tensors["in.mel"])
        out["out.backbone"] = hidden
        out["out.audio"] = model.decode(tensors["in.mel"])
        out["out.head"] = model.head(hidden)
    if "in.audio" in tensors:
        out["out.features"] = model.features(tensors["in.audio"])
        out["out.copy_synthesis"] = model(tensors["in.audio"])
    if "in.head_input" in tensors:
        out["out.head_clip"] = model.head(tensors["in.head_input"])
    return out


@register_handler("mmaudio.ext.bigvgan.models.BigVGANVocoder", "mmaudio.ext.bigvgan_v2.bigvgan.BigVGAN")
def bigvgan_handler(sidecar: dict, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Official path: strict load (weight_g/weight_v or parametrizations), then remove_weight_norm, then forward."""
    from deepaudio.models.vocoders.bigvgan import BigVGAN, config_from_official

    config = config_from_official(_kwargs(sidecar))
    model = BigVGAN.from_official_state(config, _weights(tensors), sidecar.get("case", "BigVGAN case"))
    mel = tensors["in.mel"]
    return {"out.wav": model(mel)}
