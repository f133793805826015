"""MMAudio network / VAE / Synchformer against the official reference vectors (``parity_dir``)."""

from __future__ import annotations

import pytest
import torch

from deepaudio.convert.parity import read_case, run_case

CASES = ["mm_net_v1", "mm_net_v2", "mm_vae_80d", "mm_vae_128d", "mm_synchformer_tiny"]


@pytest.mark.parametrize("case", CASES)
def test_parity_case(parity_dir, case):
    results = run_case(parity_dir / f"{case}.safetensors", tolerance=1e-4)
    assert len(results) >= 1
    bad = [(r.output, r.max_abs_err) for r in results if not r.ok]
    assert not bad, bad


@pytest.mark.parametrize("case", ["mm_vae_80d", "mm_vae_128d"])
def test_vae_effective_weights_match_remove_weight_norm(parity_dir, case):
    from deepaudio.convert.parity_mmaudio import mmaudio_vae

    sidecar, tensors = read_case(parity_dir / f"{case}.json")
    with torch.no_grad():
        ours = mmaudio_vae(sidecar, tensors)
    ref = {k: v for k, v in tensors.items() if k.startswith("effective_weights.")}
    assert set(ref) == {k for k in ours if k.startswith("effective_weights.")}
    for k, v in ref.items():
        torch.testing.assert_close(ours[k], v, atol=1e-7, rtol=0)


@pytest.mark.parametrize("case", ["mm_net_v1", "mm_net_v2"])
def test_network_debug_tensors(parity_dir, case):
    """Time embedding (incl. the v2 fp32 frequency table), RoPE tables and preprocessed conditions."""
    from deepaudio.convert.parity_mmaudio import mmaudio_network

    sidecar, tensors = read_case(parity_dir / f"{case}.json")
    with torch.no_grad():
        ours = mmaudio_network(sidecar, tensors)
    for k, v in tensors.items():
        if k.startswith("dbg.") and k in ours:
            torch.testing.assert_close(ours[k], v, atol=1e-5, rtol=0, msg=k)
    assert torch.equal(ours["dbg.t_embed_freqs"], tensors["dbg.t_embed_freqs"])


def test_handlers_follow_sidecar_dims(parity_dir):
    """A handler must build from the sidecar, so a sidecar with other dims must fail loudly on these weights."""
    from deepaudio.convert.parity_mmaudio import mmaudio_network
    from deepaudio.errors import CheckpointError

    sidecar, tensors = read_case(parity_dir / "mm_net_v1.json")
    sidecar = dict(sidecar, constructor_kwargs=dict(sidecar["constructor_kwargs"], hidden_dim=64))
    with pytest.raises(CheckpointError):
        mmaudio_network(sidecar, tensors)
