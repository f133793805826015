"""Official vocoder checkpoints -> deepaudio checkpoint folders (``deepaudio convert vocos|bigvgan-16k|bigvgan-v2``).

- ``vocos``: the released ``config.yaml`` + ``pytorch_model.bin`` (e.g. charactr/vocos-mel-24khz, the
  vocoder F5-TTS uses); the plain state dict, buffers included, loads strictly.
- ``bigvgan-16k``: MMAudio's ``ext_weights/best_netG.pt`` (``{'generator': state_dict}``) and, optionally,
  its ``bigvgan_vocoder.yml`` (default: the ``mmaudio_16k`` preset).
- ``bigvgan-v2``: an NVIDIA BigVGAN-v2 folder (``config.json`` + ``bigvgan_generator.pt``), e.g.
  ``nvidia/bigvgan_v2_44khz_128band_512x`` as MMAudio's 44.1 kHz models use it.

BigVGAN generators may store weight norm as ``weight_g``/``weight_v``, as torch parametrizations, or
folded; all three are accepted and written folded (what ``remove_weight_norm()`` gives), so our
folders hold inference weights only. Nothing is downloaded; files are read without pickled code.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import torch
import yaml

from deepaudio.checkpoint import load_weights_file
from deepaudio.convert.registry import register_converter
from deepaudio.errors import CheckpointError, ConfigError

__all__ = ["load_vocos_official", "load_bigvgan_official", "convert_vocos", "convert_bigvgan_16k",
           "convert_bigvgan_v2"]

_WEIGHT_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".safetensors")
_CONFIG_SUFFIXES = (".yaml", ".yml", ".json")


def _pick(sources: list[Path], names: tuple[str, ...], suffixes: tuple[str, ...], what: str,
          required: bool = True) -> Path | None:
    """Find one file among ``sources`` (files, or folders searched for ``names``)."""
    for src in sources:
        src = Path(src).expanduser()
        if src.is_dir():
            for name in names:
                if (src / name).is_file():
                    return src / name
        elif src.suffix.lower() in suffixes:
            return src
    if required:
        where = ", ".join(str(s) for s in sources) or "no sources"
        raise CheckpointError(f"no {what} found among {where}", hint=f"give the {what} ({' or '.join(names)})")
    return None


def _generator_state(obj: Mapping, path: Path) -> dict[str, torch.Tensor]:
    state = obj.get("generator", obj)
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError("expected a BigVGAN generator state dict (or {'generator': state_dict})", path)
    return dict(state)


def _read_config(path: Path) -> Mapping:
    try:
        text = path.read_text()
        doc = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (ValueError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise CheckpointError(f"cannot parse config ({str(exc).splitlines()[0]})", path) from exc
    if not isinstance(doc, Mapping):
        raise CheckpointError("config is not a mapping", path)
    return doc


def load_vocos_official(sources: list[Path]):
    """A :class:`Vocos` from ``config.yaml`` + ``pytorch_model.bin`` (files or their folder)."""
    from deepaudio.models.vocoders.vocos import Vocos

    cfg = _pick(sources, ("config.yaml",), (".yaml", ".yml"), "Vocos config.yaml")
    weights = _pick(sources, ("pytorch_model.bin", "model.safetensors"), _WEIGHT_SUFFIXES, "Vocos pytorch_model.bin")
    return Vocos.from_official(cfg, weights)


def load_bigvgan_official(sources: list[Path], default_preset: str | None = None,
                          weight_names: tuple[str, ...] = ("bigvgan_generator.pt", "best_netG.pt")):
    """A :class:`BigVGAN` (folded weights, eval) from an official generator file and config (or a preset)."""
    from deepaudio.models.vocoders.bigvgan import BIGVGAN_PRESETS, BigVGAN, config_from_official

    weights = _pick(sources, weight_names, _WEIGHT_SUFFIXES, "BigVGAN generator checkpoint")
    cfg_path = _pick(sources, ("config.json", "bigvgan_vocoder.yml"), _CONFIG_SUFFIXES, "config",
                     required=default_preset is None)
    if cfg_path is not None:
        try:
            config = config_from_official(_read_config(cfg_path))
        except ConfigError as exc:
            raise CheckpointError(str(exc), cfg_path) from exc
    else:
        config = BIGVGAN_PRESETS.get(default_preset)
    state = _generator_state(load_weights_file(weights), weights)
    return BigVGAN.from_official_state(config, state, str(weights))


def _save(model, out_dir: Path, converter: str, sources: list[Path]) -> Path:
    meta = {"converted_by": f"deepaudio convert {converter}", "sources": [Path(s).name for s in sources]}
    return model.save_pretrained(out_dir, meta=meta)


@register_converter("vocos", "Vocos config.yaml + pytorch_model.bin (e.g. charactr/vocos-mel-24khz) -> our folder")
def convert_vocos(sources: list[Path], out_dir: Path, options: dict[str, str]) -> Path:
    _no_options("vocos", options)
    return _save(load_vocos_official(sources), out_dir, "vocos", sources)


@register_converter("bigvgan-16k", "MMAudio 16 kHz BigVGAN best_netG.pt [+ bigvgan_vocoder.yml] -> our folder")
def convert_bigvgan_16k(sources: list[Path], out_dir: Path, options: dict[str, str]) -> Path:
    preset = options.pop("preset", "mmaudio_16k")
    _no_options("bigvgan-16k", options)
    model = load_bigvgan_official(sources, default_preset=preset)
    return _save(model, out_dir, "bigvgan-16k", sources)


@register_converter("bigvgan-v2", "BigVGAN-v2 config.json + bigvgan_generator.pt (e.g. 44khz_128band_512x) -> folder")
def convert_bigvgan_v2(sources: list[Path], out_dir: Path, options: dict[str, str]) -> Path:
    _no_options("bigvgan-v2", options)
    model = load_bigvgan_official(sources, default_preset=None)
    return _save(model, out_dir, "bigvgan-v2", sources)


def _no_options(name: str, options: dict[str, str]) -> None:
    if options:
        raise ConfigError(f"converter {name!r} has no option(s) {', '.join(sorted(options))}")
