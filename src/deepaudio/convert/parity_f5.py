"""Parity handlers for the F5-TTS reference vectors (the ``f5_*`` cases).

- ``f5_tts.model.backbones.dit.DiT``: build our DiT from the sidecar's constructor kwargs, load the
  official state dict strictly, replay every call listed in ``calls``.
- ``f5_tts.model.cfm.CFM``: the same DiT inside our sampler, started from the stored ``in.y0``; the
  time grid is rebuilt from the call's settings and must agree with the stored ``in.t_grid``.
"""

from __future__ import annotations

import torch

from deepaudio.checkpoint import load_state_strict
from deepaudio.convert.parity import register_handler
from deepaudio.errors import ParityError
from deepaudio.models.tts.cfm import sample
from deepaudio.models.tts.config import DiTConfig
from deepaudio.models.tts.dit import DiT

# Official DiT keyword -> our DiTConfig field (None: no effect on the numbers).
_KWARGS = {
    "dim": "dim", "depth": "depth", "heads": "heads", "dim_head": "dim_head", "ff_mult": "ff_mult",
    "mel_dim": "mel_dim", "text_num_embeds": "text_num_embeds", "text_dim": "text_dim",
    "text_mask_padding": "text_mask_padding", "text_embedding_average_upsampling": "text_average_upsampling",
    "qk_norm": "qk_norm", "conv_layers": "conv_layers", "pe_attn_head": "pe_attn_head",
    "attn_mask_enabled": "attn_mask_enabled", "long_skip_connection": "long_skip_connection",
    "dropout": "dropout", "attn_backend": None, "checkpoint_activations": None,
}
# Official constructor defaults that differ from DiTConfig's.
_OFFICIAL_DEFAULTS = {"depth": 8, "heads": 8, "dim_head": 64, "ff_mult": 4, "text_num_embeds": 256,
                      "text_mask_padding": True, "conv_layers": 0, "pe_attn_head": None, "qk_norm": None}


def config_from_official(kwargs: dict) -> DiTConfig:
    """Our config for ``f5_tts...DiT(**kwargs)``; unknown options are refused rather than ignored."""
    fields = dict(_OFFICIAL_DEFAULTS)
    for k, v in kwargs.items():
        if k not in _KWARGS:
            raise ParityError(f"official DiT option {k!r} is not supported")
        if _KWARGS[k] is not None:
            fields[_KWARGS[k]] = v
    if fields.get("text_dim") is None:
        fields["text_dim"] = fields.get("mel_dim", 100)
    return DiTConfig(**fields)


def _build(kwargs: dict, tensors: dict[str, torch.Tensor], source: str) -> DiT:
    model = DiT(config_from_official(kwargs))
    state = {k[len("weights."):]: v for k, v in tensors.items() if k.startswith("weights.")}
    load_state_strict(model, state, source)
    return model.eval()


def _arg(value, tensors):
    if isinstance(value, str) and value.startswith("in."):
        return tensors[value]
    return value


@register_handler("f5_tts.model.backbones.dit.DiT")
def dit_handler(sidecar: dict, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    model = _build(sidecar["constructor_kwargs"], tensors, sidecar.get("case", "f5 dit"))
    out = {}
    for call in sidecar["calls"]:
        kw = {k: _arg(v, tensors) for k, v in call["kwargs"].items() if k != "cache"}
        out[call["output"]] = model(**kw)
    return out


@register_handler("f5_tts.model.cfm.CFM")
def cfm_handler(sidecar: dict, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    model = _build(sidecar["transformer_constructor_kwargs"], tensors, sidecar.get("case", "f5 cfm"))
    call = sidecar["call"]["kwargs"]
    method = sidecar["cfm_constructor_kwargs"].get("odeint_kwargs", {}).get("method", "euler")
    res = sample(model, tensors["in.cond"], tensors["in.text"], tensors["in.duration"], lens=tensors["in.lens"],
                 steps=int(call["steps"]), cfg_strength=float(call["cfg_strength"]),
                 sway=call.get("sway_sampling_coef"), method=method,
                 schedule="epss" if call.get("use_epss", True) else "uniform",
                 y0=tensors["in.y0"], return_trajectory=True)
    if "in.t_grid" in tensors and not torch.allclose(res.t_grid, tensors["in.t_grid"], atol=1e-6, rtol=0):
        err = (res.t_grid - tensors["in.t_grid"]).abs().max().item()
        raise ParityError(f"our time grid differs from the stored in.t_grid by {err:.2e}", sidecar.get("case"))
    return {"out.out": res.mel, "out.sampled": res.trajectory[-1], "out.trajectory": res.trajectory}
