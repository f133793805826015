"""BS-RoFormer separator: public checkpoint layout, architecture read from the tensors, mask maths."""

from __future__ import annotations

import dataclasses
import re

import pytest
import torch

from deepaudio.errors import CheckpointError, ConfigError
from deepaudio.models.separation.bsroformer import BSROFORMER_PRESETS, BSRoFormer
from deepaudio.think.removal import SeparatorRemover
from deepaudio.think.separator import load_separator, separate

TINY = BSROFORMER_PRESETS.get("tiny")


def _random_model(seed: int = 0, **changes) -> BSRoFormer:
    torch.manual_seed(seed)
    model = BSRoFormer(dataclasses.replace(TINY, **changes)).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))  # norms away from 1, so a wrong key would show
    return model


def _constant_mask(model: BSRoFormer, value_of) -> None:
    """Make every mask estimator output the complex mask value_of(bin, channel) (GLU: a * sigmoid(b))."""
    cfg = model.config
    with torch.no_grad():
        for est in model.mask_estimators:
            for band, net in enumerate(est.to_freqs):
                last = net[0][-1]
                last.weight.zero_()
                width = cfg.band_dims[band]
                first_bin = sum(cfg.freqs_per_bands[:band])
                a = torch.zeros(width)
                for j in range(width // 2):
                    f, c = divmod(j, cfg.audio_channels)
                    a[2 * j] = value_of(first_bin + f, c)  # real part; imaginary stays 0
                last.bias.copy_(torch.cat([a, torch.full((width,), 40.0)]))


def test_public_layout_keys_and_round_trip(tmp_path):
    model = _random_model()
    keys = set(model.state_dict())
    for k in ("band_split.to_features.0.0.gamma", "band_split.to_features.0.1.weight", "final_norm.gamma",
              "layers.0.0.layers.0.0.norm.gamma", "layers.0.0.layers.0.0.to_qkv.weight",
              "layers.0.0.layers.0.0.to_out.0.weight", "layers.0.0.layers.0.0.rotary_embed.freqs",
              "layers.0.1.layers.0.1.0.gamma", "layers.0.1.layers.0.1.1.weight", "layers.0.1.layers.0.1.4.bias",
              "mask_estimators.0.to_freqs.0.0.0.weight", "mask_estimators.0.to_freqs.6.0.2.bias"):
        assert k in keys, k
    path = tmp_path / "vocals.ckpt"
    torch.save(model.state_dict(), path)
    loaded = load_separator(path, preset="tiny")
    assert loaded.config == model.config
    x = torch.randn(1, 2, 900)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x), rtol=0, atol=0)
    assert model(x).shape == (1, 1, 2, 900)


def test_architecture_is_read_from_the_tensors(tmp_path):
    model = _random_model(depth=2, heads=4, dim_head=4, attn_gates=True, audio_channels=1, num_stems=2,
                          stem_names=("vocals", "other"), mask_estimator_depth=1, ff_mult=2)
    path = tmp_path / "wrapped.pth"
    torch.save({"state_dict": {f"model.{k}": v for k, v in model.state_dict().items()}}, path)
    cfg = load_separator(path, preset="tiny").config
    got = (cfg.depth, cfg.heads, cfg.dim_head, cfg.attn_gates, cfg.audio_channels, cfg.num_stems)
    assert got == (2, 4, 4, True, 1, 2)
    assert (cfg.mask_estimator_depth, cfg.ff_mult, cfg.freqs_per_bands) == (1, 2, TINY.freqs_per_bands)


def test_yaml_beside_the_checkpoint_sets_stft_settings(tmp_path):
    model = _random_model()
    path = tmp_path / "m.ckpt"
    torch.save(model.state_dict(), path)
    (tmp_path / "m.yaml").write_text("audio:\n  sample_rate: 8000\nmodel:\n  stft_hop_length: 8\n")
    cfg = load_separator(path, preset="tiny").config
    assert (cfg.sample_rate, cfg.hop_length, cfg.n_fft) == (8000, 8, TINY.n_fft)


def test_unit_mask_returns_the_input_and_channels_stay_apart():
    model = _random_model()
    x = torch.randn(1, 2, 1600) * 0.1
    _constant_mask(model, lambda f, c: 1.0)
    with torch.no_grad():
        torch.testing.assert_close(model(x)[0, 0], x[0], atol=1e-5, rtol=0)
    _constant_mask(model, lambda f, c: 1.0 if c == 0 else 0.0)
    with torch.no_grad():
        out = model(x)[0, 0]
    torch.testing.assert_close(out[0], x[0, 0], atol=1e-5, rtol=0)
    assert out[1].abs().max() < 1e-6
    # A mask on the low half of the bins only is a low-pass: high-frequency energy goes.
    _constant_mask(model, lambda f, c: 1.0 if f < TINY.n_fft // 4 else 0.0)
    t = torch.arange(1600) / TINY.sample_rate
    hi = torch.sin(2 * torch.pi * 6000 * t)
    lo = torch.sin(2 * torch.pi * 500 * t)
    with torch.no_grad():
        out = model(torch.stack([hi + lo, hi + lo])[None])[0, 0, 0]
    mid = slice(200, 1400)
    assert (out[mid] - lo[mid]).abs().max() < 0.05


def test_separator_remover_keeps_mix_minus_vocals_over_chunks(tmp_path):
    model = _random_model()
    _constant_mask(model, lambda f, c: 0.25)
    path = tmp_path / "v.safetensors"
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    remover = SeparatorRemover(path, preset="tiny")
    wav = torch.randn(1, 3 * 16000 + 123) * 0.1  # mono at the model rate, 3 chunks of 1 s with overlap
    rest, info = remover.remove(wav, 16000, [(0.0, 3.5)])
    assert rest.shape == wav.shape and info["vocals_rms"] > 0
    torch.testing.assert_close(rest, 0.75 * wav, atol=2e-4, rtol=0)
    # Only inside the (padded) spans: outside them the track is untouched.
    rest, _ = remover.remove(wav, 16000, [(1.0, 1.5)])
    torch.testing.assert_close(rest[:, 16000:24000], 0.75 * wav[:, 16000:24000], atol=2e-4, rtol=0)
    torch.testing.assert_close(rest[:, :14000], wav[:, :14000])
    torch.testing.assert_close(rest[:, 26000:], wav[:, 26000:])
    # At another rate the track is resampled there and back.
    vocals = separate(remover.model, wav[:, :8000], 22050)
    assert vocals.shape == (1, 8000)


def test_bad_checkpoints_are_one_line_errors(tmp_path):
    junk = tmp_path / "junk.ckpt"
    torch.save({"foo": torch.zeros(2)}, junk)
    with pytest.raises(CheckpointError, match="not a BS-RoFormer"):
        load_separator(junk, preset="tiny")
    with pytest.raises(CheckpointError, match="not found"):
        load_separator(tmp_path / "missing.ckpt", preset="tiny")
    model = _random_model()
    state = model.state_dict()
    del state["layers.0.1.layers.0.0.to_qkv.weight"]
    torch.save(state, tmp_path / "cut.ckpt")
    with pytest.raises(CheckpointError) as err:
        load_separator(tmp_path / "cut.ckpt", preset="tiny")
    assert "\n" not in str(err.value) and "missing" in str(err.value)
    with pytest.raises(ConfigError, match="bands cover"):
        dataclasses.replace(TINY, n_fft=128)


def test_published_feed_forward_layout_loads_and_matches(tmp_path):
    """bs-roformer >= 0.0.2 / music-source-separation store the feed-forward as ``.1.net.{0,1,4}``."""
    model = _random_model(seed=3, depth=2)
    ours, published = tmp_path / "ours.ckpt", tmp_path / "published.ckpt"
    torch.save(model.state_dict(), ours)
    ff = re.compile(r"^(layers\.\d+\.\d+\.layers\.\d+\.1\.)(\d+\.)")  # the feed-forward's Sequential
    renamed = {ff.sub(r"\1net.\2", k): v for k, v in model.state_dict().items()}
    assert "layers.0.0.layers.0.1.net.1.weight" in renamed and "layers.0.1.layers.0.1.net.4.bias" in renamed
    torch.save({"state_dict": renamed}, published)
    a, b = load_separator(ours, preset="tiny"), load_separator(published, preset="tiny")
    assert a.checkpoint_layout.startswith("deepaudio") and b.checkpoint_layout.startswith("published")
    x = torch.randn(1, 2, 700)
    with torch.no_grad():
        torch.testing.assert_close(b(x), a(x), rtol=0, atol=0)
    key = "layers.0.0.layers.0.1.net.1.weight"
    mixed = dict(model.state_dict(), **{key: renamed[key]})
    torch.save(mixed, tmp_path / "mixed.ckpt")
    with pytest.raises(CheckpointError, match="mixes two feed-forward layouts"):
        load_separator(tmp_path / "mixed.ckpt", preset="tiny")
