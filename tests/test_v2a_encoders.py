"""VAE and Synchformer behaviour on tiny configs."""

from __future__ import annotations

import pytest
import torch

from deepaudio.models.encoders.synchformer import SYNCHFORMER_PRESETS, Synchformer, frames_to_sync_input
from deepaudio.models.v2a.config import VAE_PRESETS
from deepaudio.models.v2a.vae import MelVAE
from deepaudio.models.v2a.vae_layers import mp_effective_weight
from deepaudio.models.v2a.vae_stats import STATS


def test_vae_shapes_layouts_and_stats(tmp_path):
    torch.manual_seed(0)
    vae = MelVAE(VAE_PRESETS.get("tiny")).eval()
    assert torch.equal(vae.data_mean.flatten(), torch.tensor(STATS[80][0]))
    mel = torch.randn(2, 80, 12) - 2
    with torch.no_grad():
        post = vae.encode(mel)
        assert post.mean.shape == (2, 4, 6) and post.std.shape == (2, 4, 6)
        lat = vae.encode_latents(mel)
        assert torch.equal(lat.mean, post.mean.transpose(1, 2))
        assert vae.decode_latents(lat.mean).shape == (2, 80, 12)
        torch.testing.assert_close(vae.decode_latents(lat.mean), vae.decode(post.mean))
        z = post.sample(torch.Generator().manual_seed(1))
        assert torch.equal(z, post.sample(torch.Generator().manual_seed(1))) and not torch.equal(z, post.mean)
    with pytest.raises(ValueError):
        vae.encode(torch.zeros(1, 80, 11))
    vae.save_pretrained(tmp_path / "vae")
    again = MelVAE.from_pretrained(tmp_path / "vae")
    with torch.no_grad():
        assert torch.equal(again.decode(post.mean), vae.decode(post.mean))


def test_effective_weight_has_unit_fan_in_norm():
    w = mp_effective_weight(torch.randn(6, 5, 3) * 7)
    torch.testing.assert_close(w.flatten(1).norm(dim=1), torch.ones(6), atol=1e-3, rtol=0)


def test_synchformer_segments_and_normalisation():
    torch.manual_seed(0)
    model = Synchformer(SYNCHFORMER_PRESETS.get("tiny")).eval()
    seg = model.config.segment_frames  # 4 frames, stride 2
    frames = torch.randint(0, 256, (10, 224, 224, 3), dtype=torch.uint8)
    x = frames_to_sync_input(frames)
    assert x.shape == (10, 3, 224, 224) and x.min() >= -1 and x.max() <= 1
    with torch.no_grad():
        feats = model.encode_video(x[None], batch_size=2)
        n_seg = (10 - seg) // (seg // 2) + 1
        assert feats.shape == (1, n_seg * model.config.temporal_resolution, 32)
        second = model(x[None, 2:2 + seg][None].squeeze(0)[None])  # segment 1 on its own: (1, 1, t, D)
    torch.testing.assert_close(feats[0, 2:4], second[0, 0], atol=1e-5, rtol=0)
    with pytest.raises(ValueError):
        model.encode_video(x[None, :3])
