"""Converters for official MMAudio files, exercised with tiny random weights in the official layout
(the public parity files hold exactly such official state dicts)."""

from __future__ import annotations

import pytest
import torch

from deepaudio.checkpoint import load_model
from deepaudio.convert.parity import read_case
from deepaudio.convert.registry import get_converter
from deepaudio.errors import CheckpointError, ConfigError


def _official(parity_dir, case, prefix="weights."):
    sidecar, tensors = read_case(parity_dir / f"{case}.json")
    return sidecar, tensors, {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}


def test_network_converter_infers_config_and_reproduces_outputs(parity_dir, tmp_path):
    for case in ("mm_net_v1", "mm_net_v2"):
        _, tensors, state = _official(parity_dir, case)
        state["t_embed.freqs"] = torch.zeros(3)  # stale derived buffers in old files are dropped
        torch.save(state, tmp_path / f"{case}.pth")
        lens = {"latent_seq_len": "20", "clip_seq_len": "8", "sync_seq_len": "24"}
        out = get_converter("mmaudio").fn([tmp_path / f"{case}.pth"], tmp_path / case, lens)
        net = load_model(out, expect_kind="mmaudio_net")
        assert net.config.v2 == (case == "mm_net_v2") and net.config.hidden_dim == 32
        with torch.no_grad():
            v = net(tensors["in.latent"], tensors["in.clip_f"], tensors["in.sync_f"], tensors["in.text_f"],
                    tensors["in.t"])
        torch.testing.assert_close(v, tensors["out.velocity"], atol=1e-5, rtol=0)


def test_network_converter_preset_option_and_errors(parity_dir, tmp_path):
    _, _, state = _official(parity_dir, "mm_net_v1")
    torch.save(state, tmp_path / "net.pth")
    conv = get_converter("mmaudio").fn
    out = conv([tmp_path / "net.pth"], tmp_path / "a", {"preset": "tiny", "dtype": "float16"})
    assert load_model(out).checkpoint_meta["preset"] == "tiny"
    with pytest.raises(CheckpointError):
        conv([tmp_path / "net.pth"], tmp_path / "b", {"preset": "small_16k"})
    with pytest.raises(ConfigError):
        conv([tmp_path / "net.pth"], tmp_path / "c", {"bogus": "1"})
    torch.save({"foo": torch.zeros(2)}, tmp_path / "other.pth")
    with pytest.raises(CheckpointError):
        conv([tmp_path / "other.pth"], tmp_path / "d", {})
    (tmp_path / "trunc.pth").write_bytes(b"not a torch file")
    with pytest.raises(CheckpointError):
        conv([tmp_path / "trunc.pth"], tmp_path / "e", {})


@pytest.mark.parametrize("case", ["mm_vae_80d", "mm_vae_128d"])
def test_vae_converter(parity_dir, tmp_path, case):
    _, tensors, state = _official(parity_dir, case)
    torch.save(state, tmp_path / "v1.pth")
    vae = load_model(get_converter("mmaudio-vae").fn([tmp_path / "v1.pth"], tmp_path / "raw", {}))
    with torch.no_grad():
        torch.testing.assert_close(vae.decode(tensors["in.z"]), tensors["out.decoded_z"], atol=1e-5, rtol=0)
    # A file saved after remove_weight_norm() converts to the same model when told so.
    _, _, eff = _official(parity_dir, case, "effective_weights.")
    torch.save(eff, tmp_path / "eff.pth")
    vae2 = load_model(get_converter("mmaudio-vae").fn([tmp_path / "eff.pth"], tmp_path / "eff",
                                                      {"weight_norm_removed": "1"}))
    for k, v in vae.state_dict().items():
        assert torch.equal(v, vae2.state_dict()[k]), k


def test_synchformer_converter_keeps_visual_branch(parity_dir, tmp_path):
    _, tensors, state = _official(parity_dir, "mm_synchformer_tiny")
    state["afeat_extractor.conv.weight"] = torch.zeros(4, 1, 3)  # audio branch of the released file
    state["transformer.norm.weight"] = torch.ones(4)
    torch.save(state, tmp_path / "synchformer_state_dict.pth")
    out = get_converter("synchformer").fn([tmp_path / "synchformer_state_dict.pth"], tmp_path / "sf",
                                          {"num_heads": "4"})
    model = load_model(out, expect_kind="synchformer")
    assert model.config.patch_size == 32 and model.config.temporal_resolution == 2 and model.config.depth == 2
    assert not any(k.startswith(("afeat", "transformer")) for k in model.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(model(tensors["in.frames"]), tensors["out.features"], atol=1e-5, rtol=0)
