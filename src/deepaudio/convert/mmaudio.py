"""Converters for official MMAudio checkpoints into deepaudio checkpoint folders.

- ``mmaudio``: a network file (``weights/mmaudio_small_16k.pth`` ...). The preset comes from
  ``--set preset=NAME`` or is inferred from the tensor shapes. State-dict names are the official ones;
  derived tables (``t_embed.freqs``, ``latent_rot``, ``clip_rot``) are dropped as the reference loader does.
  Sequence lengths are not in the weights: they come from the preset (8 s clips) or
  ``--set latent_seq_len=N clip_seq_len=M sync_seq_len=S``; ``update_seq_lengths`` changes them later.
- ``mmaudio-vae``: ``ext_weights/v1-16.pth`` / ``v1-44.pth``. They hold raw MPConv1D weights; we store the
  effective (forced-weight-normalised) weights the reference computes with ``remove_weight_norm()``.
  ``--set weight_norm_removed=1`` for a file saved after that call.
- ``synchformer``: ``ext_weights/synchformer_state_dict.pth`` (the whole audio-visual Synchformer);
  only the visual encoder ``vfeat_extractor.*`` is kept. ``--set num_heads=N`` (default D/64).

All read files with ``load_weights_file`` (safetensors or ``torch.load(weights_only=True)``).
Common option: ``--set dtype=float16|bfloat16`` to store smaller weights.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from pathlib import Path

import torch

from deepaudio.checkpoint import load_state_strict, load_weights_file
from deepaudio.config import resolve_dtype
from deepaudio.convert.registry import register_converter
from deepaudio.errors import CheckpointError, ConfigError
from deepaudio.models.encoders.synchformer import Synchformer, SynchformerConfig, official_state_to_ours
from deepaudio.models.v2a.config import MMAUDIO_PRESETS, VAE_PRESETS, MMAudioConfig, VAEConfig
from deepaudio.models.v2a.mmdit import MMAudioNet
from deepaudio.models.v2a.vae import MelVAE
from deepaudio.models.v2a.vae_layers import MPConv1d, mp_effective_weight

# Derived tables the reference may have saved with older code; they are recomputed from the config.
NETWORK_DERIVED_KEYS = ("t_embed.freqs", "latent_rot", "clip_rot")


# ------------------------------------------------------------------------------------- builders
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


# ------------------------------------------------------------------------------- config inference
def _shape(state: Mapping[str, torch.Tensor], key: str, source: Path) -> tuple[int, ...]:
    if key not in state:
        raise CheckpointError(f"not an MMAudio checkpoint of this kind: no tensor {key!r}", source,
                              "check that you passed the right file to the right converter")
    return tuple(state[key].shape)


def _count(state: Mapping[str, torch.Tensor], pattern: str) -> int:
    idx = {int(m.group(1)) for k in state if (m := re.match(pattern, k))}
    return max(idx) + 1 if idx else 0


def infer_network_config(state: Mapping[str, torch.Tensor], source: Path) -> tuple[str | None, MMAudioConfig]:
    """(matching preset name or None, config) from the shapes of an official network state dict."""
    hidden, latent_dim, _ = _shape(state, "audio_input_proj.0.weight", source)
    head_dim = _shape(state, "fused_blocks.0.attn.q_norm.weight", source)[0] if "fused_blocks.0.attn.q_norm.weight" \
        in state else _shape(state, "joint_blocks.0.latent_block.attn.q_norm.weight", source)[0]
    joint, fused = _count(state, r"joint_blocks\.(\d+)\."), _count(state, r"fused_blocks\.(\d+)\.")
    freq_dim = _shape(state, "t_embed.mlp.0.weight", source)[1]
    text_len, text_dim = _shape(state, "empty_string_feat", source)
    found = dict(latent_dim=latent_dim, hidden_dim=hidden, num_heads=hidden // head_dim, depth=joint + fused,
                 fused_depth=fused, clip_dim=_shape(state, "empty_clip_feat", source)[1],
                 sync_dim=_shape(state, "empty_sync_feat", source)[1], text_dim=text_dim, text_seq_len=text_len,
                 v2=freq_dim != 256)
    for name in MMAUDIO_PRESETS.names():
        preset = MMAUDIO_PRESETS.get(name)
        if all(getattr(preset, k) == v for k, v in found.items()):
            return name, preset
    base = MMAUDIO_PRESETS.get("small_16k" if latent_dim == 20 else "small_44k")
    return None, dataclasses.replace(base, **found)


def infer_vae_config(state: Mapping[str, torch.Tensor], source: Path) -> VAEConfig:
    hidden, data_dim, _ = _shape(state, "encoder.conv_in.weight", source)
    embed = _shape(state, "decoder.conv_in.weight", source)[1]
    for name in VAE_PRESETS.names():
        preset = VAE_PRESETS.get(name)
        if (preset.data_dim, preset.embed_dim, preset.hidden_dim) == (data_dim, embed, hidden):
            return preset
    return VAEConfig(data_dim=data_dim, embed_dim=embed, hidden_dim=hidden)


def infer_synchformer_config(state: Mapping[str, torch.Tensor], source: Path, num_heads: int | None
                             ) -> SynchformerConfig:
    d, chans, pt, p, _ = _shape(state, "vfeat_extractor.patch_embed_3d.proj.weight", source)
    depth = _count(state, r"vfeat_extractor\.blocks\.(\d+)\.")
    mlp = _shape(state, "vfeat_extractor.blocks.0.mlp.fc1.weight", source)[0] / d
    t = _shape(state, "vfeat_extractor.temp_embed", source)[1]
    heads = num_heads or max(1, d // 64)
    if d % heads:
        raise ConfigError(f"num_heads {heads} does not divide the width {d}", source)
    return SynchformerConfig(embed_dim=d, depth=depth, num_heads=heads, mlp_ratio=mlp, patch_size=p,
                             patch_size_temp=pt, temporal_resolution=t, in_chans=chans,
                             qkv_bias="vfeat_extractor.blocks.0.attn.qkv.bias" in state)


# ------------------------------------------------------------------------------------ converters
def _read_single(sources: list[Path]) -> tuple[Path, dict[str, torch.Tensor]]:
    if len(sources) != 1:
        raise ConfigError(f"expected one official weight file, got {len(sources)}")
    src = Path(sources[0])
    state = load_weights_file(src)
    for wrapper in ("state_dict", "model", "weights", "network"):
        if wrapper in state and isinstance(state[wrapper], dict) and len(state) <= 3:
            state = state[wrapper]
    tensors = {k: v for k, v in state.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise CheckpointError("no tensors found in the file", src)
    return src, tensors


def _dtype(options: dict[str, str]) -> torch.dtype | None:
    """The converted weights' dtype (``--set dtype=``); None keeps float32 as stored."""
    dtype = resolve_dtype(options.get("dtype", "float32"), "--set dtype")
    return None if dtype == torch.float32 else dtype


def _unknown(options: dict[str, str], allowed: set[str]) -> None:
    bad = sorted(set(options) - allowed - {"dtype"})
    if bad:
        allowed_text = ", ".join(sorted(allowed | {"dtype"}))
        raise ConfigError(f"unknown option(s) {', '.join(bad)}", hint=f"allowed: {allowed_text}")


@register_converter("mmaudio", "MMAudio network .pth (mmaudio_small_16k.pth ...) [--set preset=NAME] "
                               "[--set latent_seq_len=N ...]")
def convert_network(sources: list[Path], out_dir: Path, options: dict[str, str]) -> Path:
    lengths = ("latent_seq_len", "clip_seq_len", "sync_seq_len")
    _unknown(options, {"preset", *lengths})
    src, state = _read_single(sources)
    state = {k: v for k, v in state.items() if k not in NETWORK_DERIVED_KEYS}
    name, cfg = infer_network_config(state, src)
    if "preset" in options:
        name, cfg = options["preset"], MMAUDIO_PRESETS.get(options["preset"])
    try:
        cfg = dataclasses.replace(cfg, **{k: int(options[k]) for k in lengths if k in options})
    except ValueError as exc:
        raise ConfigError(f"sequence lengths must be integers ({exc})") from exc
    net = network_from_official(state, cfg, src)
    if torch.isnan(net.latent_mean).any() or torch.isnan(net.latent_std).any():
        raise CheckpointError("latent_mean/latent_std are NaN (an untrained placeholder)", src,
                              "use a released or trained MMAudio checkpoint")
    meta = {"source": src.name, "converter": "mmaudio", "preset": name}
    return net.save_pretrained(out_dir, meta=meta, dtype=_dtype(options))


@register_converter("mmaudio-vae", "MMAudio VAE .pth (v1-16.pth / v1-44.pth) [--set weight_norm_removed=1]")
def convert_vae(sources: list[Path], out_dir: Path, options: dict[str, str]) -> Path:
    _unknown(options, {"weight_norm_removed"})
    src, state = _read_single(sources)
    cfg = infer_vae_config(state, src)
    removed = options.get("weight_norm_removed", "0").lower() in ("1", "true", "yes")
    vae = vae_from_official(state, cfg, src, weight_norm_removed=removed)
    return vae.save_pretrained(out_dir, meta={"source": src.name, "converter": "mmaudio-vae"}, dtype=_dtype(options))


@register_converter("synchformer", "Synchformer .pth (synchformer_state_dict.pth); keeps the visual encoder")
def convert_synchformer(sources: list[Path], out_dir: Path, options: dict[str, str]) -> Path:
    _unknown(options, {"num_heads"})
    src, state = _read_single(sources)
    try:
        heads = int(options["num_heads"]) if "num_heads" in options else None
    except ValueError as exc:
        raise ConfigError(f"num_heads must be an integer, got {options['num_heads']!r}") from exc
    cfg = infer_synchformer_config(state, src, heads)
    model = synchformer_from_official(state, cfg, src)
    return model.save_pretrained(out_dir, meta={"source": src.name, "converter": "synchformer"},
                                 dtype=_dtype(options))
