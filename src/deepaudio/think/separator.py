"""Loading a public BS-RoFormer vocal checkpoint and running it over whole tracks.

The architecture is read from the tensors themselves (widths, depths, bands, stems, head gates), so any
checkpoint in the public layout loads without a config. What the weights cannot tell (sample rate and
STFT hop) comes from the preset (default: the ep_317 vocal model, 44.1 kHz, hop 441) or from the
training YAML the checkpoint was published with, when it lies beside the file with the same stem
(``audio.sample_rate``, ``model.stft_n_fft``, ``model.stft_hop_length``, ``model.stft_win_length``).
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import torch

from deepaudio.checkpoint import load_state_strict, load_weights_file
from deepaudio.errors import CheckpointError
from deepaudio.models.separation.bsroformer import BSROFORMER_PRESETS, BSRoFormer, BSRoFormerConfig


def _unwrap(obj: dict, path: Path) -> dict[str, torch.Tensor]:
    for key in ("state_dict", "model", "state"):  # Lightning / training-script wrappers
        if key in obj and isinstance(obj[key], dict):
            obj = obj[key]
    state = {k.removeprefix("module.").removeprefix("model."): v for k, v in obj.items() if torch.is_tensor(v)}
    if "final_norm.gamma" not in state:
        raise CheckpointError("not a BS-RoFormer checkpoint (no final_norm.gamma)", path,
                              "give the separator's .ckpt/.pth/.safetensors file")
    return state


def _count(state: dict, pattern: str) -> int:
    rx = re.compile(pattern)
    found = {int(m.group(1)) for k in state if (m := rx.match(k))}
    return max(found) + 1 if found else 0


def infer_config(state: dict[str, torch.Tensor], base: BSRoFormerConfig) -> BSRoFormerConfig:
    """Architecture from tensor shapes; STFT/sample-rate settings from ``base``."""
    dim = state["final_norm.gamma"].shape[0]
    n_bands = _count(state, r"band_split\.to_features\.(\d+)\.")
    band_widths = [state[f"band_split.to_features.{k}.0.gamma"].shape[0] for k in range(n_bands)]
    n_bins = base.n_fft // 2 + 1
    channels = sum(band_widths) // (2 * n_bins)
    if channels < 1 or sum(band_widths) != 2 * n_bins * channels:
        raise CheckpointError(f"bands cover {sum(band_widths) // 2} values, not a multiple of {n_bins} STFT bins "
                              f"(n_fft {base.n_fft})")
    qkv = state["layers.0.0.layers.0.0.to_qkv.weight"].shape[0] // 3
    freqs = state.get("layers.0.0.layers.0.0.rotary_embed.freqs")
    dim_head = 2 * freqs.shape[0] if freqs is not None else base.dim_head
    num_stems = _count(state, r"mask_estimators\.(\d+)\.")
    mlp0 = state["mask_estimators.0.to_freqs.0.0.0.weight"]
    linears = _count(state, r"mask_estimators\.0\.to_freqs\.0\.0\.(\d+)\.weight")
    names = base.stem_names if len(base.stem_names) == num_stems else tuple(f"stem{i}" for i in range(num_stems))
    return dataclasses.replace(
        base, dim=dim, depth=_count(state, r"layers\.(\d+)\."), audio_channels=channels, num_stems=num_stems,
        time_depth=_count(state, r"layers\.0\.0\.layers\.(\d+)\."),
        freq_depth=_count(state, r"layers\.0\.1\.layers\.(\d+)\."),
        heads=qkv // dim_head, dim_head=dim_head, ff_mult=state["layers.0.0.layers.0.1.1.weight"].shape[0] // dim,
        attn_gates="layers.0.0.layers.0.0.to_gates.weight" in state, mask_estimator_depth=(linears + 1) // 2,
        mlp_expansion=mlp0.shape[0] // dim, freqs_per_bands=tuple(w // (2 * channels) for w in band_widths),
        stem_names=names)


def _yaml_settings(path: Path, base: BSRoFormerConfig) -> BSRoFormerConfig:
    side = next((p for p in (path.with_suffix(".yaml"), path.with_suffix(".yml")) if p.is_file()), None)
    if side is None:
        return base
    import yaml

    try:
        doc = yaml.safe_load(side.read_text()) or {}
    except yaml.YAMLError as exc:
        raise CheckpointError(f"cannot parse the separator settings ({str(exc).splitlines()[0]})", side) from exc
    model, audio = doc.get("model") or {}, doc.get("audio") or {}
    training = doc.get("training") or {}
    updates = {"sample_rate": audio.get("sample_rate"), "n_fft": model.get("stft_n_fft"),
               "hop_length": model.get("stft_hop_length"), "win_length": model.get("stft_win_length")}
    if training.get("instruments") and training.get("target_instrument"):
        updates["stem_names"] = (training["target_instrument"],)
    return dataclasses.replace(base, **{k: v for k, v in updates.items() if v is not None})


# The feed-forward of every published checkpoint (lucidrains ``bs-roformer`` >= 0.0.2 and the
# music-source-separation training code) sits in a ``FeedForward`` module whose ``net`` holds the
# Sequential, so its keys read ``layers.i.{0,1}.layers.j.1.net.{0,1,4}``; ours drop the ``net.``.
_NET_FF = re.compile(r"^(layers\.\d+\.\d+\.layers\.\d+\.1\.)net\.(\d+\.)")
LAYOUT_PUBLISHED = "published (bs-roformer >= 0.0.2 / music-source-separation: feed-forward under .net)"
LAYOUT_OURS = "deepaudio (feed-forward without .net)"


def normalise_layout(state: dict[str, torch.Tensor], path: Path) -> tuple[dict[str, torch.Tensor], str]:
    """The state dict in our key layout, and which layout the file used."""
    published = sum(1 for k in state if _NET_FF.match(k))
    ours = sum(1 for k in state if re.match(r"^layers\.\d+\.\d+\.layers\.\d+\.1\.\d+\.", k))
    if published and ours:
        raise CheckpointError("BS-RoFormer checkpoint mixes two feed-forward layouts (with and without .net)",
                              path, "give a checkpoint saved by one implementation")
    if not published:
        return state, LAYOUT_OURS
    return {_NET_FF.sub(r"\1\2", k): v for k, v in state.items()}, LAYOUT_PUBLISHED


def load_separator(path: str | Path, preset: str = "vocals_317", device: str | torch.device = "cpu") -> BSRoFormer:
    """A BS-RoFormer from a public checkpoint file (weights only; no pickled code is executed).

    Both key layouts load (see ``normalise_layout``); ``model.checkpoint_layout`` names the one found.
    """
    path = Path(path).expanduser()
    state = _unwrap(load_weights_file(path), path)
    state = {k: v for k, v in state.items() if "rotary_embed." not in k or k.endswith("rotary_embed.freqs")}
    state, layout = normalise_layout(state, path)
    try:
        cfg = infer_config(state, _yaml_settings(path, BSROFORMER_PRESETS.get(preset)))
    except KeyError as exc:
        raise CheckpointError(f"BS-RoFormer checkpoint lacks {exc.args[0]}", path) from exc
    model = BSRoFormer(cfg)
    if not any(k.endswith("rotary_embed.freqs") for k in state):  # older files keep no rotary buffers
        state.update({k: v for k, v in model.state_dict().items() if k.endswith("rotary_embed.freqs")})
    load_state_strict(model, state, path)
    model.checkpoint_layout = layout  # reported by the remover (which layout the file was in)
    return model.to(device).eval()


@torch.no_grad()
def separate(model: BSRoFormer, wav: torch.Tensor, sr: int, stem: str = "vocals") -> torch.Tensor:
    """The ``stem`` of ``wav`` [channels, samples] at ``sr``, returned in the input's layout and rate.

    The track is resampled to the model's rate, mono is duplicated for stereo models, and long tracks are
    cut into ``chunk_seconds`` windows with half overlap, cross-faded with a triangular weight.
    """
    from deepaudio.io.audio import resample

    cfg = model.config
    idx = cfg.stem_names.index(stem) if stem in cfg.stem_names else 0
    dev = next(model.parameters()).device
    x = resample(wav.float(), sr, cfg.sample_rate) if sr != cfg.sample_rate else wav.float()
    in_ch = x.shape[0]
    x = x.mean(0, keepdim=True).expand(cfg.audio_channels, -1) if in_ch != cfg.audio_channels else x
    n, chunk = x.shape[-1], max(int(cfg.chunk_seconds * cfg.sample_rate), cfg.n_fft)
    out = torch.zeros_like(x)
    if n <= chunk:
        out = model(x[None].to(dev))[0, idx].cpu()
    else:
        hop = chunk // 2
        weight = torch.zeros(n)
        ramp = torch.minimum(torch.arange(1, chunk + 1), torch.arange(chunk, 0, -1)).float()
        starts = list(range(0, n - chunk, hop)) + [n - chunk]
        for s in starts:
            piece = model(x[None, :, s:s + chunk].to(dev))[0, idx].cpu()
            out[:, s:s + chunk] += piece * ramp
            weight[s:s + chunk] += ramp
        out = out / weight.clamp_min(1e-8)
    if in_ch != cfg.audio_channels:
        out = out.mean(0, keepdim=True).expand(in_ch, -1).contiguous()
    return resample(out, cfg.sample_rate, sr) if sr != cfg.sample_rate else out
