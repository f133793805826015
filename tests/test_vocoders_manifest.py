"""Full-size vocoders, built on the meta device (no memory), have exactly the official state-dict layout.

Compared with the reference vectors' manifests for every weight-norm naming they list: the parametrizations
(as constructed), the legacy weight_g/weight_v (as NVIDIA's files store them) and the plain weights
left by remove_weight_norm (our checkpoints).
"""

from __future__ import annotations

import json

import pytest
import torch

from deepaudio.models.vocoders.bigvgan import (
    BIGVGAN_PRESETS,
    BigVGAN,
    config_from_official,
    fold_weight_norm,
    legacy_to_parametrized,
    weight_norm_naming,
)
from deepaudio.models.vocoders.vocos import VOCOS_PRESETS, Vocos
from deepaudio.models.vocoders.vocos import config_from_official as vocos_config


def _manifest(parity_dir, name):
    path = parity_dir / "manifests" / name
    if not path.is_file():
        pytest.skip(f"{path} not present")
    return json.loads(path.read_text())


def _shapes(module: torch.nn.Module) -> dict[str, list[int]]:
    return {k: list(v.shape) for k, v in module.state_dict().items()}


def _meta_tensors(shapes: dict[str, list[int]]) -> dict[str, torch.Tensor]:
    return {k: torch.empty(s, device="meta") for k, s in shapes.items()}


def test_vocos_mel_24khz_matches_manifest(parity_dir):
    man = _manifest(parity_dir, "vocos_mel_24khz.json")
    cfg = vocos_config(man["source"]["constructor"])
    assert cfg == VOCOS_PRESETS.get("mel_24khz")
    with torch.device("meta"):
        model = Vocos(cfg)
    assert _shapes(model) == man["state_dict"]
    assert list(_shapes(model)) == list(man["state_dict"])  # same order too
    assert sum(p.numel() for p in model.parameters()) == man["total_parameters"]
    buffers = {k for k, _ in model.named_buffers()}
    assert buffers == set(man["buffer_keys"])
    model.load_state_dict(_meta_tensors(man["state_dict"]), strict=True, assign=True)


@pytest.mark.parametrize("manifest, preset", [("mmaudio_bigvgan_16k.json", "mmaudio_16k"),
                                              ("mmaudio_bigvgan_v2_44k.json", "bigvgan_v2_44khz_128band_512x")])
def test_bigvgan_matches_manifest_in_all_namings(parity_dir, manifest, preset):
    man = _manifest(parity_dir, manifest)
    cfg = config_from_official(man["source"]["constructor"])
    assert cfg == BIGVGAN_PRESETS.get(preset)
    with torch.device("meta"):
        trainable = BigVGAN(cfg, weight_norm=True)
        plain = BigVGAN(cfg)
    # as constructed (torch parametrizations)
    assert _shapes(trainable) == man["state_dict"]
    assert sum(p.numel() for p in trainable.parameters()) == man["total_parameters"]
    assert {k for k, _ in plain.named_buffers()} == set(man["buffer_keys"])
    # legacy weight_g / weight_v: renamed to our parametrization names, and folded to plain weights
    legacy = _meta_tensors(man["state_dict_legacy_weight_norm_names"])
    assert weight_norm_naming(legacy) == "legacy"
    assert {k: list(v.shape) for k, v in legacy_to_parametrized(legacy).items()} == man["state_dict"]
    assert {k: list(v.shape) for k, v in fold_weight_norm(legacy).items()} == _shapes(plain)
    # after remove_weight_norm
    assert _shapes(plain) == man["state_dict_after_remove_weight_norm"]
    parametrized = _meta_tensors(man["state_dict"])
    assert {k: list(v.shape) for k, v in fold_weight_norm(parametrized).items()} == _shapes(plain)
    # the strict loads themselves (meta tensors, so nothing is allocated)
    plain.load_state_dict(fold_weight_norm(legacy), strict=True, assign=True)
    trainable.load_state_dict(legacy, strict=True, assign=True)  # torch's legacy-name hook
