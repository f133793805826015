"""Full-size models built on the meta device have exactly the official state-dict keys and shapes."""

from __future__ import annotations

import json

import pytest
import torch

from deepaudio.models.encoders.synchformer import SYNCHFORMER_PRESETS, Synchformer
from deepaudio.models.v2a.config import MMAUDIO_PRESETS, VAE_PRESETS
from deepaudio.models.v2a.mmdit import MMAudioNet
from deepaudio.models.v2a.vae import MelVAE


def _manifest(parity_dir, name):
    path = parity_dir / "manifests" / f"{name}.json"
    if not path.is_file():
        pytest.skip(f"{path} missing")
    return json.loads(path.read_text())


def _compare(model: torch.nn.Module, manifest: dict) -> None:
    ours = {k: list(v.shape) for k, v in model.state_dict().items()}
    ref = manifest["state_dict"]
    assert list(ours) == list(ref) or set(ours) == set(ref), (sorted(set(ref) - set(ours))[:5],
                                                               sorted(set(ours) - set(ref))[:5])
    bad = {k: (ours[k], ref[k]) for k in ref if ours[k] != ref[k]}
    assert not bad, list(bad.items())[:5]
    assert sum(p.numel() for p in model.parameters()) + sum(
        b.numel() for n, b in model.named_buffers() if n in ref) == manifest["total_state_dict_elements"]
    for name, shape in manifest.get("non_persistent_buffers", {}).items():
        assert list(model.get_buffer(name).shape) == shape, name


@pytest.mark.parametrize("preset", ["small_16k", "small_44k", "medium_44k", "large_44k", "large_44k_v2"])
def test_network_presets(parity_dir, preset):
    manifest = _manifest(parity_dir, f"mmaudio_{preset}")
    net = MMAudioNet(MMAUDIO_PRESETS.get(preset), device="meta")
    _compare(net, manifest)
    assert sum(p.numel() for p in net.parameters()) == manifest["total_parameters"]
    assert sum(p.numel() for p in net.parameters() if p.requires_grad) == manifest["total_trainable_parameters"]


@pytest.mark.parametrize("preset", ["16k", "44k"])
def test_vae_presets(parity_dir, preset):
    manifest = _manifest(parity_dir, f"mmaudio_vae_{preset}")
    vae = MelVAE(VAE_PRESETS.get(preset), device="meta")
    _compare(vae, manifest)
    assert sum(p.numel() for p in vae.parameters()) == manifest["total_parameters"]


def test_synchformer_base(parity_dir):
    manifest = _manifest(parity_dir, "mmaudio_synchformer")
    model = Synchformer(SYNCHFORMER_PRESETS.get("base"), device="meta")
    _compare(model, manifest)
    assert sum(p.numel() for p in model.parameters()) == manifest["total_parameters"]
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) == manifest["total_trainable_parameters"]
