"""Official F5-TTS and DeepAudio V2S (``v2c_*``) checkpoints -> deepaudio TTS folders.

Layouts read (facts from the reference loader ``f5_tts.infer.utils_infer.load_checkpoint``):
- ``.pt`` training/release files: ``ckpt["ema_model_state_dict"]`` (keys ``ema_model.transformer.X``
  plus ``initted``/``step``); ``model_state_dict`` (``transformer.X``) only when no EMA is present.
- ``.safetensors`` releases: the EMA dict itself.
- legacy files also carry ``mel_spec.mel_stft.*`` buffers of a torchaudio MelSpectrogram; dropped.
The DiT key ``X`` loads into our :class:`~deepaudio.models.tts.dit.DiT` unchanged. The DeepAudio
``v2c_*`` files are F5TTS_Base (v0.5.2 layout) plus ``input_embed.proj_energy`` (Linear 1 -> dim).

Usage: ``deepaudio convert f5tts model_1250000.safetensors vocab.txt -o ckpt/f5tts_v1 --set preset=F5TTS_v1_Base``
(add ``--set mel=bigvgan`` for a checkpoint trained on the BigVGAN-v2 mel, e.g. F5TTS_Base_bigvgan).
"""

from __future__ import annotations

import dataclasses
import sys
import warnings
from collections.abc import Mapping
from pathlib import Path

import torch

from deepaudio.checkpoint import load_state_strict, load_weights_file, save_checkpoint
from deepaudio.config import resolve_dtype
from deepaudio.convert.registry import register_converter
from deepaudio.errors import CheckpointError, ConfigError
from deepaudio.models.tts.config import TTS_PRESETS, DiTConfig
from deepaudio.models.tts.dit import DiT
from deepaudio.text.tokenizer import Vocab

_DROP = ("initted", "step")
_LEGACY_PREFIX = "mel_spec."


def official_to_dit_state(obj: Mapping, source: str | Path = "checkpoint") -> dict[str, torch.Tensor]:
    """Pick the EMA weights out of an official checkpoint object and return plain DiT keys."""
    if "ema_model_state_dict" in obj:
        state = obj["ema_model_state_dict"]
    elif "model_state_dict" in obj:
        print(f"deepaudio: {source}: no EMA weights, converting model_state_dict", file=sys.stderr)
        state = obj["model_state_dict"]
    else:
        state = obj
    if not isinstance(state, Mapping):
        raise CheckpointError("expected a state dict of tensors", source)
    out = {}
    for key, value in state.items():
        if key in _DROP:
            continue
        k = key.removeprefix("ema_model.")
        if k.startswith(_LEGACY_PREFIX):
            continue
        k = k.removeprefix("transformer.")
        if not isinstance(value, torch.Tensor):
            raise CheckpointError(f"entry {key!r} is not a tensor", source)
        out[k] = value
    if not out:
        raise CheckpointError("no model weights found", source, "is this an F5-TTS checkpoint?")
    return out


def infer_config(state: Mapping[str, torch.Tensor], base: DiTConfig) -> DiTConfig:
    """``base`` with the sizes read off the weight shapes (dims, depth, vocabulary, optional layers).

    The head size comes from the RoPE buffer (``inv_freq`` has dim_head / 2 entries), the head count
    from the query projection width.
    """
    try:
        dim = state["proj_out.weight"].shape[1]
        mel_dim = state["proj_out.weight"].shape[0]
        rows, text_dim = state["text_embed.text_embed.weight"].shape
        ff_inner = state["transformer_blocks.0.ff.ff.0.0.weight"].shape[0]
        dim_head = 2 * state["rotary_embed.inv_freq"].shape[0]
        inner = state["transformer_blocks.0.attn.to_q.weight"].shape[0]
    except KeyError as exc:
        raise CheckpointError(f"missing expected F5-TTS key {exc.args[0]!r}", "state dict") from exc
    depth = len({k.split(".")[1] for k in state if k.startswith("transformer_blocks.")})
    conv_layers = len({k.split(".")[2] for k in state if k.startswith("text_embed.text_blocks.")})
    return dataclasses.replace(
        base, dim=dim, depth=depth, heads=inner // dim_head, dim_head=dim_head, mel_dim=mel_dim,
        text_num_embeds=rows - 1,
        text_dim=text_dim, conv_layers=conv_layers, ff_mult=ff_inner // dim if ff_inner % dim == 0 else ff_inner / dim,
        qk_norm="rms_norm" if "transformer_blocks.0.attn.q_norm.weight" in state else None,
        long_skip_connection="long_skip_connection.weight" in state,
        energy_input="input_embed.proj_energy.weight" in state,
    )


def variant_from_weights(obj: Mapping, source: str | Path) -> str:
    """F5TTS_Base or F5TTS_v1_Base, decided from the checkpoint itself, or a refusal.

    The two DiTs have the same 364 keys and shapes (both configs: dim 1024, depth 22, 4 text ConvNeXt
    blocks); they differ only in settings no weight stores (``text_mask_padding``, ``pe_attn_head``).
    The one trace left in a file is the torchaudio MelSpectrogram buffers (``mel_spec.mel_stft.*``)
    that F5-TTS saved before its v1.0 code, which v1 checkpoints never have: those files are Base.
    Anything else is ambiguous, and a wrong guess converts silently into a worse model, so we refuse.
    """
    nested = [obj.get(k) for k in ("ema_model_state_dict", "model_state_dict") if isinstance(obj.get(k), Mapping)]
    keys = [k for state in (nested or [obj]) for k in state]
    if any(k.removeprefix("ema_model.").startswith(_LEGACY_PREFIX) for k in keys):
        print(f"deepaudio: {Path(source).name}: F5TTS_Base layout (decided from the weights: pre-v1 mel "
              "buffers mel_spec.mel_stft.*, which F5TTS_v1_Base files never carry)", file=sys.stderr)
        return "F5TTS_Base"
    raise ConfigError(f"{source}: cannot tell F5TTS_v1_Base from F5TTS_Base from the weights (same keys and "
                      "shapes; they differ in text padding masking and RoPE heads, which are not stored)",
                      hint="add --set preset=F5TTS_v1_Base (v1 release, model_1250000) or "
                      "--set preset=F5TTS_Base (model_1200000)")


def check_strict(config: DiTConfig, state: Mapping[str, torch.Tensor], source: str | Path) -> None:
    """Strict key/shape check against our module built on the meta device (no memory for 337M weights)."""
    model = DiT(config, device="meta")
    with warnings.catch_warnings():  # copying into meta parameters is a deliberate no-op here
        warnings.simplefilter("ignore")
        load_state_strict(model, state, source)


def _split_sources(sources: list[Path], options: dict[str, str]) -> tuple[Path, Path | None]:
    weights = [s for s in sources if s.suffix != ".txt"]
    vocabs = [s for s in sources if s.suffix == ".txt"]
    if options.get("vocab"):
        vocabs.append(Path(options["vocab"]))
    if len(weights) != 1 or len(vocabs) > 1:
        raise ConfigError("give one weights file (.pt/.safetensors) and one vocab.txt")
    return weights[0], (vocabs[0] if vocabs else None)


def convert(sources: list[Path], out_dir: Path, options: dict[str, str], default_preset: str,
            require_energy: bool = False) -> Path:
    weights, vocab_path = _split_sources(sources, options)
    if vocab_path is None:
        raise ConfigError("no vocab.txt given", hint="add the vocab file the checkpoint was trained with "
                          "(F5-TTS: src/f5_tts/infer/examples/vocab.txt) as a second source")
    vocab = Vocab.load(vocab_path)
    raw = load_weights_file(weights)
    state = official_to_dit_state(raw, weights)
    preset = options.get("preset") or default_preset
    if preset == "auto":
        preset = variant_from_weights(raw, weights)
    config = infer_config(state, TTS_PRESETS.get(preset))
    if options.get("mel"):  # F5-TTS mel_spec_type: 'bigvgan' for checkpoints trained for BigVGAN-v2 24 kHz
        config = dataclasses.replace(config, mel_spec_type=options["mel"])
    if require_energy and not config.energy_input:
        raise CheckpointError("no input_embed.proj_energy weights: not a DeepAudio V2S checkpoint", weights,
                              "use the f5tts converter for plain F5-TTS files")
    if len(vocab) > config.text_num_embeds:
        raise CheckpointError(f"vocab has {len(vocab)} tokens but the model embeds {config.text_num_embeds}",
                              vocab_path, "give the vocab.txt the checkpoint was trained with")
    if len(vocab) < config.text_num_embeds:
        print(f"deepaudio: {vocab_path}: {len(vocab)} tokens for {config.text_num_embeds} embeddings",
              file=sys.stderr)
    check_strict(config, state, weights)
    dtype = resolve_dtype(options.get("dtype", "fp32"), "--set dtype")
    meta = {"source": str(weights.name), "converter": "deepaudio-v2c" if require_energy else "f5tts",
            "preset": preset}
    return save_checkpoint(out_dir, DiT.kind, config, state, meta=meta, extra_files={"vocab.txt": vocab.to_text()},
                           dtype=dtype)


@register_converter("f5tts", "F5-TTS .pt/.safetensors (EMA weights) + vocab.txt -> TTS folder (--set preset=...)")
def convert_f5tts(sources: list[Path], out_dir: Path, options: dict[str, str]) -> Path:
    return convert(sources, out_dir, options, default_preset="auto")


@register_converter("deepaudio-v2c", "DeepAudio-V1 v2c_*.pt (F5TTS_Base + energy layer) + vocab.txt -> V2S folder")
def convert_v2c(sources: list[Path], out_dir: Path, options: dict[str, str]) -> Path:
    return convert(sources, out_dir, options, default_preset="DeepAudio_V2S", require_energy=True)
