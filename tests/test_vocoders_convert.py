"""Converters: tiny random weights written in the official layouts -> our folders -> same outputs."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch
import yaml

from deepaudio.checkpoint import load_model
from deepaudio.convert.registry import get_converter
from deepaudio.errors import CheckpointError, ConfigError
from deepaudio.models.vocoders import load_vocoder
from deepaudio.models.vocoders.bigvgan import BIGVGAN_PRESETS, BigVGAN
from deepaudio.models.vocoders.vocos import VOCOS_PRESETS, Vocos


class _Payload:
    """Any class: unpickling it would run code, so it must be refused."""


G, V = ".parametrizations.weight.original0", ".parametrizations.weight.original1"


def _perturb(model: torch.nn.Module, seed: int) -> torch.nn.Module:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=gen))
    return model.eval()


def _vocos_yaml(cfg) -> dict:
    return {
        "feature_extractor": {"class_path": "vocos.feature_extractors.MelSpectrogramFeatures",
                              "init_args": {"sample_rate": cfg.sample_rate, "n_fft": cfg.n_fft,
                                            "hop_length": cfg.hop_length, "n_mels": cfg.n_mels,
                                            "padding": cfg.padding}},
        "backbone": {"class_path": "vocos.models.VocosBackbone",
                     "init_args": {"input_channels": cfg.input_channels, "dim": cfg.dim,
                                   "intermediate_dim": cfg.intermediate_dim, "num_layers": cfg.num_layers}},
        "head": {"class_path": "vocos.heads.ISTFTHead",
                 "init_args": {"dim": cfg.dim, "n_fft": cfg.head_n_fft, "hop_length": cfg.head_hop_length,
                               "padding": cfg.head_padding}},
    }


def test_vocos_round_trip(tmp_path):
    torch.manual_seed(0)
    cfg = VOCOS_PRESETS.get("tiny")
    ref = _perturb(Vocos(cfg), 1)
    src = tmp_path / "vocos-mel-24khz"
    src.mkdir()
    (src / "config.yaml").write_text(yaml.safe_dump(_vocos_yaml(cfg)))
    torch.save(ref.state_dict(), src / "pytorch_model.bin")
    out = get_converter("vocos").fn([src], tmp_path / "ours", {})
    ours = Vocos.from_pretrained(out)
    mel = torch.randn(2, 100, 9)
    assert ours.config == cfg
    torch.testing.assert_close(ours.decode(mel), ref.decode(mel), rtol=0, atol=0)
    # files given one by one work as well
    again = get_converter("vocos").fn([src / "pytorch_model.bin", src / "config.yaml"], tmp_path / "again", {})
    assert load_model(again, expect_kind="vocos").config == cfg
    torch.testing.assert_close(load_vocoder(again).decode(mel), ref.decode(mel), rtol=0, atol=0)


def _official_generator(cfg, naming: str, seed: int) -> tuple[dict, BigVGAN]:
    """A perturbed weight-normed generator's state in the requested naming, and the matching plain model."""
    torch.manual_seed(seed)
    trained = _perturb(BigVGAN(cfg, weight_norm=True), seed + 1)
    state = trained.state_dict()
    if naming == "legacy":
        state = {k.replace(G, ".weight_g").replace(V, ".weight_v"): v for k, v in state.items()}
    elif naming == "plain":
        for m in trained.modules():
            if torch.nn.utils.parametrize.is_parametrized(m, "weight"):
                torch.nn.utils.parametrize.remove_parametrizations(m, "weight")
        state = trained.state_dict()
    return state, trained


@pytest.mark.parametrize("naming", ["legacy", "parametrizations", "plain"])
def test_bigvgan_16k_round_trip(tmp_path, naming):
    cfg = replace(BIGVGAN_PRESETS.get("tiny"), resblock="2", resblock_dilation_sizes=((1, 3), (1, 3)))
    state, ref = _official_generator(cfg, naming, 10)
    ckpt = tmp_path / "best_netG.pt"
    torch.save({"generator": state}, ckpt)
    yml = tmp_path / "bigvgan_vocoder.yml"
    yml.write_text(yaml.safe_dump({k: list(v) if isinstance(v, tuple) else v
                                   for k, v in vars(cfg).items() if k not in ("sample_rate",)}))
    out = get_converter("bigvgan-16k").fn([ckpt, yml], tmp_path / "ours", {})
    ours = BigVGAN.from_pretrained(out)
    assert ours.config == cfg and ours.sample_rate == 16000
    mel = torch.randn(1, 80, 6)
    with torch.no_grad():
        expected = ref(mel).squeeze(1)
    torch.testing.assert_close(ours.decode(mel), expected, rtol=0, atol=1e-6)


def test_bigvgan_v2_round_trip_from_folder(tmp_path):
    cfg = replace(BIGVGAN_PRESETS.get("tiny"), num_mels=128, use_bias_at_final=False, use_tanh_at_final=False,
                  sample_rate=44100, resblock_kernel_sizes=(3,), resblock_dilation_sizes=((1, 3, 5),))
    state, ref = _official_generator(cfg, "legacy", 20)
    src = tmp_path / "bigvgan_v2"
    src.mkdir()
    official = {k: list(v) if isinstance(v, tuple) else v for k, v in vars(cfg).items() if k != "sample_rate"}
    official.update(sampling_rate=44100, n_fft=2048, hop_size=512, segment_size=65536, learning_rate=1e-4)
    (src / "config.json").write_text(json.dumps(official))
    torch.save({"generator": state}, src / "bigvgan_generator.pt")
    ours = BigVGAN.from_pretrained(get_converter("bigvgan-v2").fn([src], tmp_path / "ours", {}))
    assert ours.config == replace(cfg, n_fft=2048) and "conv_post.bias" not in ours.state_dict()  # mel kept
    mel = torch.randn(2, 128, 5)
    with torch.no_grad():
        torch.testing.assert_close(ours(mel), ref(mel), rtol=0, atol=1e-6)


def test_converter_errors(tmp_path):
    conv = get_converter("bigvgan-v2")
    with pytest.raises(CheckpointError, match="no BigVGAN generator checkpoint"):
        conv.fn([tmp_path], tmp_path / "out", {})
    # a generator for another config fails strictly, naming the file
    state, _ = _official_generator(BIGVGAN_PRESETS.get("tiny"), "legacy", 30)
    torch.save({"generator": state}, tmp_path / "bigvgan_generator.pt")
    (tmp_path / "config.json").write_text(json.dumps({**{k: (list(v) if isinstance(v, tuple) else v) for k, v in
                                                         vars(BIGVGAN_PRESETS.get("tiny")).items()},
                                                      "upsample_initial_channel": 64}))
    with pytest.raises(CheckpointError, match="bigvgan_generator.pt.*other shapes"):
        conv.fn([tmp_path], tmp_path / "out", {})
    assert not (tmp_path / "out").exists()
    # pickled code is refused
    bad = tmp_path / "evil"
    bad.mkdir()
    (bad / "config.yaml").write_text(yaml.safe_dump(_vocos_yaml(VOCOS_PRESETS.get("tiny"))))
    torch.save({"x": _Payload()}, bad / "pytorch_model.bin")
    with pytest.raises(CheckpointError, match="pickled code"):
        get_converter("vocos").fn([bad], tmp_path / "out2", {})
    with pytest.raises(ConfigError, match="no option"):
        get_converter("vocos").fn([bad], tmp_path / "out2", {"dtype": "fp16"})
