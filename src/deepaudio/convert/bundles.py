"""Converters that assemble whole pipeline folders from official files or from our checkpoint folders.

- ``open-clip``: an open_clip CLIP (a hub folder such as apple/DFN5B-CLIP-ViT-H-14-384 with
  ``open_clip_pytorch_model.bin`` / ``open_clip_model.safetensors`` + ``open_clip_config.json``, or a bare
  weight file) -> our ``open_clip`` folder; the BPE merges file (open_clip's ``bpe_simple_vocab_16e6.txt.gz``
  or ``merges.txt``, beside the weights or ``--set clip_tokenizer=PATH``) is copied in for the tokenizer.
- ``mmaudio-pipeline``: network ``.pth`` + VAE ``.pth`` + vocoder (16 kHz ``best_netG.pt`` [+ yml], or a
  BigVGAN-v2 folder) + ``synchformer_state_dict.pth`` + CLIP -> a complete ``v2a_pipeline`` folder
  (``net/ vae/ vocoder/ clip/ synchformer/ config.json``) that ``V2APipeline.from_pretrained`` runs.
  Parts are recognised by name or by their tensors; ``--set net=PATH vae=... vocoder=... synchformer=...
  clip=...`` names them explicitly. The widths of the parts are checked against each other.
- ``deepaudio-pipeline``: a ``v2a_pipeline`` folder + a TTS/V2S checkpoint folder (``tts_dit``) + a Vocos
  folder [+ a router folder] -> a ``deepaudio_pipeline`` folder; parts are recognised by the ``kind`` in
  their ``config.json`` or named with ``--set v2a= tts= v2s= vocoder= router=``. Parts are hard-linked
  when the file system allows it, else copied.

All reads go through ``load_weights_file`` (no pickled code); every folder is written atomically.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
from collections.abc import Mapping
from pathlib import Path

import torch

from deepaudio.checkpoint import load_state_strict, load_weights_file, write_config
from deepaudio.config import resolve_dtype
from deepaudio.convert.registry import register_converter
from deepaudio.errors import CheckpointError, ConfigError
from deepaudio.io.atomic import atomic_dir
from deepaudio.models.encoders.clip import CLIP_PRESETS, CLIPConfig, OpenCLIP
from deepaudio.models.encoders.clip_tokenizer import MERGE_FILE_NAMES, CLIPTokenizer

CLIP_WEIGHT_NAMES = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin", "open_clip_pytorch_model.pt")
# Keys of older CLIP pickles that are metadata, not weights, and the SigLIP-style logit bias (unused here).
_CLIP_META_KEYS = ("input_resolution", "context_length", "vocab_size", "attn_mask", "text.attn_mask", "logit_bias")


# -------------------------------------------------------------------------------------------- CLIP
def _count(state: Mapping[str, torch.Tensor], pattern: str) -> int:
    idx = {int(m.group(1)) for k in state if (m := re.match(pattern, k))}
    return max(idx) + 1 if idx else 0


def _need(state: Mapping[str, torch.Tensor], key: str, source: Path) -> tuple[int, ...]:
    if key not in state:
        raise CheckpointError(f"not an open_clip CLIP state dict: no tensor {key!r}", source,
                              "give open_clip_pytorch_model.bin or open_clip_model.safetensors")
    return tuple(state[key].shape)


def infer_clip_config(state: Mapping[str, torch.Tensor], source: Path, model_cfg: Mapping | None = None,
                      options: Mapping[str, str] | None = None) -> CLIPConfig:
    """CLIP config from tensor shapes; head counts, image size and activation (not in the shapes) come from
    ``open_clip_config.json``'s ``model_cfg``, a preset with the same shapes, or ``--set clip_*`` options."""
    options, model_cfg = dict(options or {}), dict(model_cfg or {})
    vis, txt = dict(model_cfg.get("vision_cfg", {})), dict(model_cfg.get("text_cfg", {}))
    width, _, patch, _ = _need(state, "visual.conv1.weight", source)
    grid = math.isqrt(_need(state, "visual.positional_embedding", source)[0] - 1)
    context, text_width = _need(state, "positional_embedding", source)
    found = dict(embed_dim=_need(state, "visual.proj", source)[1], patch_size=patch, vision_width=width,
                 vision_layers=_count(state, r"visual\.transformer\.resblocks\.(\d+)\."),
                 vision_mlp_ratio=_need(state, "visual.transformer.resblocks.0.mlp.c_fc.weight", source)[0] / width,
                 context_length=context, vocab_size=_need(state, "token_embedding.weight", source)[0],
                 text_width=text_width, text_layers=_count(state, r"transformer\.resblocks\.(\d+)\."),
                 text_mlp_ratio=_need(state, "transformer.resblocks.0.mlp.c_fc.weight", source)[0] / text_width)
    base = next((CLIP_PRESETS.get(n) for n in CLIP_PRESETS.names()
                 if all(getattr(CLIP_PRESETS.get(n), k) == v for k, v in found.items())
                 and CLIP_PRESETS.get(n).grid == grid), None)
    try:
        v_heads = int(options["clip_vision_heads"]) if "clip_vision_heads" in options else (
            width // int(vis["head_width"]) if "head_width" in vis else base.vision_heads if base else width // 64)
        t_heads = int(options.get("clip_text_heads", txt.get("heads", base.text_heads if base else text_width // 64)))
    except ValueError as exc:
        raise ConfigError(f"CLIP head counts must be integers ({exc})") from exc
    image_size = int(vis.get("image_size", base.image_size if base else grid * patch))
    quick = model_cfg.get("quick_gelu", base.quick_gelu if base else True)
    if "clip_quick_gelu" in options:
        quick = options["clip_quick_gelu"].lower() in ("1", "true", "yes")
    cfg = CLIPConfig(**found, image_size=image_size, vision_heads=v_heads, text_heads=t_heads, quick_gelu=bool(quick))
    if cfg.grid != grid or width % v_heads or text_width % t_heads:
        raise ConfigError(f"CLIP settings do not fit the weights (image {image_size} px / patch {patch} gives grid "
                          f"{cfg.grid}, weights have {grid}; heads {v_heads}/{t_heads})", source)
    return cfg


def _clip_files(source: Path, options: Mapping[str, str]) -> tuple[Path, Path | None, Path | None]:
    """(weights, open_clip_config.json or None, merges file or None) of a CLIP folder or file."""
    source = Path(source).expanduser()
    folder = source if source.is_dir() else source.parent
    if source.is_dir():
        weights = next((folder / n for n in CLIP_WEIGHT_NAMES if (folder / n).is_file()), None)
        if weights is None:
            raise CheckpointError("no CLIP weights in folder", source,
                                  f"expected one of {', '.join(CLIP_WEIGHT_NAMES)}")
    else:
        weights = source
    cfg = folder / "open_clip_config.json"
    merges = Path(options["clip_tokenizer"]).expanduser() if "clip_tokenizer" in options else next(
        (folder / n for n in MERGE_FILE_NAMES if (folder / n).is_file()), None)
    return weights, cfg if cfg.is_file() else None, merges


def load_open_clip(source: Path, options: Mapping[str, str] | None = None) -> tuple[OpenCLIP, Path]:
    """(our CLIP with the official weights loaded strictly, its merges file)."""
    options = dict(options or {})
    weights, cfg_path, merges = _clip_files(source, options)
    if merges is None or not merges.is_file():
        raise CheckpointError("no CLIP BPE merges file found", source,
                              "pass --set clip_tokenizer=PATH to open_clip's bpe_simple_vocab_16e6.txt.gz")
    model_cfg = None
    if cfg_path is not None:
        try:
            model_cfg = json.loads(cfg_path.read_text()).get("model_cfg")
        except (ValueError, UnicodeDecodeError, AttributeError) as exc:
            raise CheckpointError(f"cannot parse open_clip_config.json ({exc})", cfg_path) from exc
    state = load_weights_file(weights)
    if "state_dict" in state and isinstance(state["state_dict"], Mapping):
        state = state["state_dict"]
    state = {k.removeprefix("module."): v for k, v in state.items()
             if isinstance(v, torch.Tensor) and k not in _CLIP_META_KEYS}
    cfg = infer_clip_config(state, weights, model_cfg, options)
    model = OpenCLIP(cfg)
    load_state_strict(model, state, weights)
    tok = CLIPTokenizer.from_file(merges, vocab_size=cfg.vocab_size)
    if tok.vocab_size != cfg.vocab_size:
        raise CheckpointError(f"the merges give {tok.vocab_size} tokens, the CLIP text tower has {cfg.vocab_size}",
                              merges, "give the merges file that belongs to this CLIP model")
    return model, merges


def _dtype(options: Mapping[str, str]) -> torch.dtype | None:
    """The converted weights' dtype (``--set dtype=``); None keeps float32 as stored."""
    dtype = resolve_dtype(options.get("dtype", "float32"), "--set dtype")
    return None if dtype == torch.float32 else dtype


def save_open_clip(model: OpenCLIP, merges: Path, out_dir: Path, dtype: torch.dtype | None, source: str) -> Path:
    # Stored under a name the tokenizer looks for (a .gz stays compressed).
    name = MERGE_FILE_NAMES[0] if merges.suffix == ".gz" else "merges.txt"
    return model.save_pretrained(out_dir, meta={"source": source, "converter": "open-clip"},
                                 extra_files={name: merges.read_bytes()}, dtype=dtype)


@register_converter("open-clip", "open_clip CLIP folder/file (DFN5B-CLIP-ViT-H-14-384) [--set clip_tokenizer=PATH]")
def convert_open_clip(sources: list[Path], out_dir: Path, options: dict[str, str]) -> Path:
    allowed = {"clip_tokenizer", "clip_vision_heads", "clip_text_heads", "clip_quick_gelu", "dtype"}
    bad = sorted(set(options) - allowed)
    if bad:
        raise ConfigError(f"unknown option(s) {', '.join(bad)}", hint=f"allowed: {', '.join(sorted(allowed))}")
    if len(sources) != 1:
        raise ConfigError(f"expected one CLIP folder or weight file, got {len(sources)}")
    model, merges = load_open_clip(Path(sources[0]), options)
    return save_open_clip(model, merges, out_dir, _dtype(options), Path(sources[0]).name)


# ---------------------------------------------------------------------------------- MMAudio bundle
_ROLES = ("net", "vae", "vocoder", "synchformer", "clip")


def _role_by_name(path: Path) -> str | None:
    name = path.name.lower()
    if path.is_dir():
        if (path / "open_clip_config.json").is_file() or any((path / n).is_file() for n in CLIP_WEIGHT_NAMES):
            return "clip"
        if any((path / n).is_file() for n in ("bigvgan_generator.pt", "best_netG.pt")):
            return "vocoder"
        return None
    rules = (("synchformer", "synchformer"), ("netg", "vocoder"), ("bigvgan", "vocoder"), ("open_clip", "clip"),
             ("clip", "clip"), ("vae", "vae"), ("mmaudio", "net"))
    if re.fullmatch(r"v1-(16|44)\.pth?", name):
        return "vae"
    return next((role for key, role in rules if key in name), None)


def _role_by_tensors(path: Path) -> str | None:
    state = load_weights_file(path)
    keys = set(state.get("generator", state)) if isinstance(state.get("generator", state), Mapping) else set(state)
    probes = {"audio_input_proj.0.weight": "net", "encoder.conv_in.weight": "vae",
              "vfeat_extractor.patch_embed_3d.proj.weight": "synchformer", "visual.conv1.weight": "clip",
              "conv_pre.weight": "vocoder", "conv_pre.weight_v": "vocoder",
              "conv_pre.parametrizations.weight.original0": "vocoder"}
    return next((role for key, role in probes.items() if key in keys), None)


def assign_roles(sources: list[Path], options: Mapping[str, str], roles: tuple[str, ...] = _ROLES
                 ) -> dict[str, list[Path]]:
    """Which source is which part: ``--set role=PATH`` first, then file names, then tensor names."""
    found: dict[str, list[Path]] = {r: [Path(options[r]).expanduser()] for r in roles if r in options}
    for src in (Path(s).expanduser() for s in sources):
        if not src.exists():
            raise CheckpointError("file not found", src)
        if src.suffix.lower() in (".yml", ".yaml") or src.name == "config.json":  # a vocoder's config
            if "vocoder" not in options:
                found.setdefault("vocoder", []).append(src)
            continue
        role = _role_by_name(src) or (None if src.is_dir() else _role_by_tensors(src))
        if role is None:
            raise ConfigError(f"cannot tell which MMAudio part {src} is", hint="name it with --set ROLE=PATH "
                              f"(roles: {', '.join(roles)})")
        if role in options:
            continue
        if role in found and role != "vocoder":
            raise ConfigError(f"two sources look like the {role}: {found[role][0]} and {src}",
                              hint=f"name one with --set {role}=PATH")
        found.setdefault(role, []).append(src)
    missing = [r for r in roles if r not in found]
    if missing:
        raise ConfigError(f"missing MMAudio part(s): {', '.join(missing)}",
                          hint="give the network, VAE, vocoder, Synchformer and CLIP files")
    return found


def _check_widths(net, vae, vocoder, sync, clip: OpenCLIP) -> None:
    n = net.config
    pairs = (("latent_dim", n.latent_dim, "VAE embed_dim", vae.config.embed_dim),
             ("clip_dim", n.clip_dim, "CLIP embed_dim", clip.config.embed_dim),
             ("text_dim", n.text_dim, "CLIP text width", clip.config.text_width),
             ("text_seq_len", n.text_seq_len, "CLIP context_length", clip.config.context_length),
             ("sync_dim", n.sync_dim, "Synchformer embed_dim", sync.config.embed_dim),
             ("VAE mel bins", vae.config.data_dim, "vocoder num_mels", vocoder.config.num_mels))
    for a, va, b, vb in pairs:
        if va != vb:
            raise ConfigError(f"the parts do not fit together: network {a} = {va} but {b} = {vb}",
                              hint="give the files of one MMAudio release (16 kHz or 44.1 kHz)")


@register_converter("mmaudio-pipeline", "MMAudio network + VAE + vocoder + Synchformer + CLIP -> v2a_pipeline folder "
                                        "[--set net=PATH ...] [--set clip_tokenizer=PATH]")
def convert_mmaudio_pipeline(sources: list[Path], out_dir: Path, options: dict[str, str]) -> Path:
    from deepaudio.checkpoint import load_model
    from deepaudio.convert import mmaudio
    from deepaudio.convert.vocoders import load_bigvgan_official

    net_opts = {"preset", "latent_seq_len", "clip_seq_len", "sync_seq_len"}
    clip_opts = {"clip_tokenizer", "clip_vision_heads", "clip_text_heads", "clip_quick_gelu"}
    allowed = {*_ROLES, *net_opts, *clip_opts, "num_heads", "weight_norm_removed", "dtype", "window"}
    bad = sorted(set(options) - allowed)
    if bad:
        raise ConfigError(f"unknown option(s) {', '.join(bad)}", hint=f"allowed: {', '.join(sorted(allowed))}")
    parts = assign_roles(sources, options)
    pick = {k: options[k] for k in ("dtype",) if k in options}
    with atomic_dir(Path(out_dir)) as tmp:
        mmaudio.convert_network(parts["net"][:1], tmp / "net", {**pick, **{k: options[k] for k in net_opts
                                                                             if k in options}})
        mmaudio.convert_vae(parts["vae"][:1], tmp / "vae", {**pick, **{k: options[k] for k in ("weight_norm_removed",)
                                                                        if k in options}})
        mmaudio.convert_synchformer(parts["synchformer"][:1], tmp / "synchformer",
                                    {**pick, **{k: options[k] for k in ("num_heads",) if k in options}})
        net, vae = load_model(tmp / "net"), load_model(tmp / "vae")
        sync = load_model(tmp / "synchformer")
        vocoder = load_bigvgan_official(parts["vocoder"], default_preset="mmaudio_16k" if vae.config.data_dim == 80
                                        else None)
        vocoder.save_pretrained(tmp / "vocoder", meta={"converter": "mmaudio-pipeline",
                                                       "sources": [p.name for p in parts["vocoder"]]},
                                dtype=_dtype(options))
        clip, merges = load_open_clip(parts["clip"][0], options)
        _check_widths(net, vae, vocoder, sync, clip)
        save_open_clip(clip, merges, tmp / "clip", _dtype(options), parts["clip"][0].name)
        try:
            window = float(options.get("window", net.config.clip_seq_len / 8.0))
        except ValueError as exc:
            raise ConfigError(f"window must be a number of seconds, got {options['window']!r}") from exc
        config = {"net": "net", "window": window,
                  "encoder": {"type": "official", "clip": "clip", "synchformer": "synchformer",
                              "clip_size": clip.config.image_size},
                  "codec": {"type": "mmaudio", "vae": "vae", "vocoder": "vocoder"}}
        meta = {"converter": "mmaudio-pipeline", "sources": {r: [p.name for p in ps] for r, ps in parts.items()}}
        write_config(tmp, "v2a_pipeline", config, meta)
    return Path(out_dir)


# --------------------------------------------------------------------------------- DeepAudio bundle
def _kind(folder: Path) -> str | None:
    try:
        return json.loads((folder / "config.json").read_text()).get("kind")
    except (OSError, ValueError, AttributeError):
        return None


def link_or_copy_tree(src: Path, dst: Path) -> None:
    """Hard-link every file of ``src`` under ``dst`` (copy across file systems): no second copy of weights."""
    def link(a: str, b: str) -> None:
        try:
            os.link(a, b)
        except OSError:
            shutil.copy2(a, b)

    shutil.copytree(src, dst, copy_function=link)


@register_converter("deepaudio-pipeline", "V2A pipeline folder + TTS/V2S folder + Vocos folder [+ router folder] -> "
                                          "deepaudio_pipeline folder [--set v2a=DIR tts=DIR v2s=DIR ...]")
def convert_deepaudio_pipeline(sources: list[Path], out_dir: Path, options: dict[str, str]) -> Path:
    roles = ("v2a", "tts", "v2s", "vocoder", "router")
    kinds = {"v2a_pipeline": "v2a", "tts_dit": "tts", "vocos": "vocoder", "mof_gate": "router"}
    bad = sorted(set(options) - set(roles))
    if bad:
        raise ConfigError(f"unknown option(s) {', '.join(bad)}", hint=f"allowed: {', '.join(roles)}")
    parts = {r: Path(options[r]).expanduser() for r in roles if r in options}
    for src in (Path(s).expanduser() for s in sources):
        kind = _kind(src) if src.is_dir() else None
        if kind not in kinds:
            raise ConfigError(f"{src} is not a deepaudio folder of a known part (kind {kind!r})",
                              hint="convert official files first, or name parts with --set v2a=DIR tts=DIR ...")
        role = kinds[kind]
        if role in parts and parts[role] != src:
            if role == "tts" and "v2s" not in parts:
                role = "v2s"  # a second TTS folder is the energy-conditioned V2S checkpoint
            else:
                raise ConfigError(f"two sources look like the {role}: {parts[role]} and {src}",
                                  hint=f"name one with --set {role}=DIR")
        parts[role] = src
    for role, path in parts.items():
        want = "tts_dit" if role == "v2s" else next(k for k, r in kinds.items() if r == role)
        if _kind(path) != want:
            raise CheckpointError(f"expected a {want!r} folder for {role}, found kind {_kind(path)!r}", path)
    if "v2a" not in parts and "tts" not in parts:
        raise ConfigError("a DeepAudio pipeline needs at least a V2A pipeline folder or a TTS folder")
    parts.setdefault("v2s", parts.get("tts"))
    config = {}
    with atomic_dir(Path(out_dir)) as tmp:
        for role in roles:
            if parts.get(role) is None:
                continue
            if role == "v2s" and parts["v2s"] == parts.get("tts"):
                config["v2s"] = config["tts"]
                continue
            link_or_copy_tree(parts[role], tmp / role)
            config[role] = role
        write_config(tmp, "deepaudio_pipeline", config,
                     {"converter": "deepaudio-pipeline", "sources": {r: p.name for r, p in parts.items() if p}})
    return Path(out_dir)


__all__ = ["infer_clip_config", "load_open_clip", "convert_open_clip", "convert_mmaudio_pipeline",
           "convert_deepaudio_pipeline", "assign_roles", "link_or_copy_tree"]
