"""Official F5-TTS / DeepAudio v2c checkpoint files -> our TTS folders."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from safetensors.torch import save_file

from deepaudio.convert.registry import get_converter
from deepaudio.errors import CheckpointError, ConfigError
from deepaudio.models.tts.config import TTS_PRESETS
from deepaudio.models.tts.dit import DiT

TINY = dataclasses.replace(TTS_PRESETS.get("tiny"), text_num_embeds=5)
VOCAB = " \na\nb\n,\nni3\n"


def _official_state(cfg, seed=0):
    torch.manual_seed(seed)
    model = DiT(cfg)
    return model, {f"ema_model.transformer.{k}": v.clone() for k, v in model.state_dict().items()}


def _write(tmp_path, name, obj):
    path = tmp_path / name
    if name.endswith(".safetensors"):
        save_file(obj, str(path))
    else:
        torch.save(obj, path)
    return path


@pytest.mark.parametrize("fmt", ["pt", "safetensors"])
def test_f5tts_converter_round_trip(tmp_path, fmt):
    model, ema = _official_state(TINY)
    ema.update(initted=torch.tensor(True), step=torch.tensor(1000))
    if fmt == "pt":
        obj = {"ema_model_state_dict": ema, "model_state_dict": {}, "step": 5}
        ema["ema_model.mel_spec.mel_stft.spectrogram.window"] = torch.ones(1024)  # legacy buffer
    else:
        obj = ema
    src = _write(tmp_path, f"model_1200.{fmt}", obj)
    vocab = tmp_path / "vocab.txt"
    vocab.write_text(VOCAB, encoding="utf-8")
    conv = get_converter("f5tts")
    out = conv.fn([src, vocab], tmp_path / "out", {"preset": "F5TTS_v1_Base"})
    loaded = DiT.from_pretrained(out)
    assert loaded.config.dim == TINY.dim and loaded.config.depth == TINY.depth
    assert loaded.config.text_num_embeds == 5 and loaded.config.pe_attn_head is None
    for k, v in model.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[k], v, atol=0, rtol=0)
    assert (out / "vocab.txt").read_text(encoding="utf-8") == VOCAB


def test_v2c_converter_needs_energy_layer(tmp_path):
    cfg = dataclasses.replace(TINY, energy_input=True)
    model, ema = _official_state(cfg)
    with torch.no_grad():
        model.input_embed.proj_energy.weight.fill_(0.5)
    ema = {f"ema_model.transformer.{k}": v.clone() for k, v in model.state_dict().items()}
    src = _write(tmp_path, "v2c_s16.pt", {"ema_model_state_dict": ema})
    vocab = tmp_path / "vocab.txt"
    vocab.write_text(VOCAB, encoding="utf-8")
    out = get_converter("deepaudio-v2c").fn([src, vocab], tmp_path / "v2s", {})
    loaded = DiT.from_pretrained(out)
    assert loaded.config.energy_input and loaded.config.pe_attn_head == 1 and not loaded.config.text_mask_padding
    assert torch.all(loaded.input_embed.proj_energy.weight == 0.5)
    # A plain F5 file is refused by the v2c converter.
    _, plain = _official_state(TINY)
    src2 = _write(tmp_path, "plain.pt", {"ema_model_state_dict": plain})
    with pytest.raises(CheckpointError, match="proj_energy"):
        get_converter("deepaudio-v2c").fn([src2, vocab], tmp_path / "bad", {})


def test_converter_errors(tmp_path):
    _, ema = _official_state(TINY)
    src = _write(tmp_path, "m.safetensors", ema)
    with pytest.raises(ConfigError, match="vocab"):
        get_converter("f5tts").fn([src], tmp_path / "o", {})
    big = tmp_path / "big.txt"
    big.write_text("".join(f"{i}\n" for i in range(9)))
    with pytest.raises(CheckpointError, match="vocab has 9 tokens"):
        get_converter("f5tts").fn([src, big], tmp_path / "o", {"preset": "F5TTS_Base"})
    ema.pop("ema_model.transformer.proj_out.bias")
    src = _write(tmp_path, "broken.safetensors", ema)
    vocab = tmp_path / "vocab.txt"
    vocab.write_text(VOCAB)
    with pytest.raises(CheckpointError, match="missing"):
        get_converter("f5tts").fn([src, vocab], tmp_path / "o", {"preset": "F5TTS_v1_Base"})
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("case", ["f5_dit_v1", "f5_dit_base"])
def test_f5tts_variant_is_decided_from_the_weights_or_refused(tmp_path, parity_dir, case):
    """Both official layouts (parity files: random weights from the official DiT) carry the same keys and
    shapes, so a file without other evidence is refused; pre-v1 mel buffers mark a Base checkpoint."""
    from safetensors.torch import load_file

    weights = {f"ema_model.transformer.{k.removeprefix('weights.')}": v
               for k, v in load_file(str(parity_dir / f"{case}.safetensors")).items() if k.startswith("weights.")}
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("".join(f"t{i}\n" for i in range(40)), encoding="utf-8")
    src = _write(tmp_path, "model_1250000.safetensors", dict(weights, step=torch.tensor(7)))
    with pytest.raises(ConfigError, match="cannot tell F5TTS_v1_Base from F5TTS_Base"):
        get_converter("f5tts").fn([src, vocab], tmp_path / "refused", {})
    assert not (tmp_path / "refused").exists()
    legacy = dict(weights, **{"ema_model.mel_spec.mel_stft.spectrogram.window": torch.ones(16)})
    src = _write(tmp_path, "old_v1_named.pt", {"ema_model_state_dict": legacy})
    loaded = DiT.from_pretrained(get_converter("f5tts").fn([src, vocab], tmp_path / "base", {}))
    assert loaded.config.pe_attn_head == 1 and not loaded.config.text_mask_padding
    chosen = get_converter("f5tts").fn([tmp_path / "model_1250000.safetensors", vocab], tmp_path / "v1",
                                       {"preset": "F5TTS_v1_Base"})
    loaded = DiT.from_pretrained(chosen)
    assert loaded.config.pe_attn_head is None and loaded.config.text_mask_padding
