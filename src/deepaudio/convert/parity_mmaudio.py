"""Parity handlers for the MMAudio network, its latent VAE and the Synchformer visual encoder.

Each handler builds our module from the sidecar's ``constructor_kwargs`` (never from fixed sizes),
loads the official ``weights.*`` through the same key mapping the converters use, and reproduces the
sidecar's calls (the file format is described in ``convert.parity``).
"""

from __future__ import annotations

import torch

from deepaudio.convert.parity import register_handler
from deepaudio.errors import ParityError


def _device(tensors: dict[str, torch.Tensor]) -> torch.device:
    """Where run_case put the case's tensors (the converters build on the CPU unless told)."""
    return next(v.device for k, v in tensors.items() if k.startswith("weights."))


def _prefixed(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}


@register_handler("mmaudio.model.networks.MMAudio")
def mmaudio_network(sidecar: dict, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    from deepaudio.convert.mmaudio import network_from_official
    from deepaudio.models.v2a.config import mmaudio_config_from_kwargs
    from deepaudio.models.v2a.sampling import sample_latents

    cfg = mmaudio_config_from_kwargs(sidecar["constructor_kwargs"])
    net = network_from_official(_prefixed(tensors, "weights."), cfg, source=sidecar.get("case", "parity case"),
        device=_device(tensors)).eval()
    latent, t = tensors["in.latent"], tensors["in.t"]
    clip_f, sync_f, text_f = tensors["in.clip_f"], tensors["in.sync_f"], tensors["in.text_f"]
    b = latent.shape[0]
    cond = net.preprocess_conditions(clip_f, sync_f, text_f)
    empty = net.get_empty_conditions(b)
    steps = _euler_steps(sidecar)
    x1 = sample_latents(net, tensors["in.x0"], cond, empty, cfg_strength=4.5, steps=steps)
    out = {
        "out.velocity": net(latent, clip_f, sync_f, text_f, t),
        "out.velocity_predict_flow": net.predict_flow(latent, t, cond),
        "out.velocity_uncond": net.predict_flow(latent, t, empty),
        "out.velocity_cfg": net.ode_wrapper(tensors["in.t_cfg"], latent, cond, empty, 4.5),
        "out.x1": x1,
        "out.x1_unnormalized": net.unnormalize(x1),
        "out.normalized": net.normalize(tensors["in.latent_to_norm"]),
        "out.unnormalized": net.unnormalize(tensors["in.latent_to_norm"]),
        "dbg.t_embed": net.t_embed(t),
        "dbg.t_embed_freqs": net.t_embed.freqs,
        "dbg.latent_rot": net.latent_rot,
        "dbg.clip_rot": net.clip_rot,
    }
    for name in ("clip_f", "sync_f", "text_f", "clip_f_c", "text_f_c"):
        out[f"dbg.cond.{name}"] = getattr(cond, name)
        out[f"dbg.empty_cond.{name}"] = getattr(empty, name)
    return out


def _euler_steps(sidecar: dict) -> int:
    for call in sidecar.get("calls", []):
        text = call.get("call", "")
        if call.get("output") == "out.x1" and "num_steps=" in text:
            return int(text.split("num_steps=")[1].split(")")[0].split(",")[0])
    if "dbg.sample_t" in sidecar.get("tensors", {}):
        return int(sidecar["tensors"]["dbg.sample_t"]["shape"][0])
    raise ParityError("cannot find the number of Euler steps of out.x1 in the sidecar", sidecar.get("case"))


@register_handler("mmaudio.ext.autoencoder.vae.VAE")
def mmaudio_vae(sidecar: dict, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    from deepaudio.convert.mmaudio import vae_from_official
    from deepaudio.models.v2a.config import VAEConfig

    kw = sidecar["constructor_kwargs"]
    cfg = VAEConfig(data_dim=kw["data_dim"], embed_dim=kw["embed_dim"], hidden_dim=kw["hidden_dim"])
    vae = vae_from_official(_prefixed(tensors, "weights."), cfg, source=sidecar.get("case", "parity case"),
        device=_device(tensors)).eval()
    mel = tensors["in.mel"]
    post = vae.encode(mel)
    out = {
        "out.moments": vae.encoder(vae.normalize(mel)),
        "out.mean": post.mean,
        "out.logvar": post.logvar,
        "out.std": post.std,
        "out.decoded_mean": vae.decode(post.mean),
        "out.decoded_z": vae.decode(tensors["in.z"]),
    }
    out.update({f"effective_weights.{k}": v for k, v in vae.state_dict().items()})
    return out


@register_handler("mmaudio.ext.synchformer.Synchformer")
def synchformer(sidecar: dict, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    from deepaudio.convert.mmaudio import synchformer_from_official
    from deepaudio.models.encoders.synchformer import SynchformerConfig

    vit = sidecar.get("constructor_kwargs", {}).get("VIT", {})
    cfg = SynchformerConfig(**{field: vit[key] for key, field in _VIT_FIELDS.items() if key in vit})
    model = synchformer_from_official(_prefixed(tensors, "weights."), cfg, source=sidecar.get("case", "parity case"),
        device=_device(tensors))
    frames = tensors["in.frames"]
    b, s, t, c, h, w = frames.shape
    x = frames.reshape(b * s, t, c, h, w).transpose(1, 2)
    return {"out.features": model.eval()(frames), "dbg.tokens": model.vfeat_extractor.forward_features(x)}


_VIT_FIELDS = {"EMBED_DIM": "embed_dim", "DEPTH": "depth", "NUM_HEADS": "num_heads", "MLP_RATIO": "mlp_ratio",
               "PATCH_SIZE": "patch_size", "PATCH_SIZE_TEMP": "patch_size_temp",
               "TEMPORAL_RESOLUTION": "temporal_resolution", "CHANNELS": "in_chans", "QKV_BIAS": "qkv_bias"}
