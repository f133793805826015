"""F5-TTS DiT behaviour: full-size layouts (meta device), energy input, guidance, padding, sampler."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from deepaudio.convert.f5 import check_strict, official_to_dit_state
from deepaudio.errors import CheckpointError
from deepaudio.models.tts.cfm import sample
from deepaudio.models.tts.config import TTS_PRESETS
from deepaudio.models.tts.dit import DiT

TINY = TTS_PRESETS.get("tiny")


def _perturbed(cfg, seed=0):
    """A tiny DiT whose zero-initialised layers are made non-zero (as the parity files do)."""
    torch.manual_seed(seed)
    model = DiT(cfg).eval()
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=g))
    return model


def _inputs(b=2, n=20, nt=9, seed=3):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(b, n, 100, generator=g)
    cond = torch.randn(b, n, 100, generator=g)
    cond[:, 6:] = 0
    text = torch.randint(0, 40, (b, nt), generator=g)
    return x, cond, text, torch.tensor([0.3, 0.7][:b])


def _manifest(parity_dir, name):
    return json.loads((parity_dir / "manifests" / name).read_text())


@pytest.mark.parametrize("preset,manifest", [("F5TTS_Base", "f5tts_base_dit.json"),
                                             ("F5TTS_v1_Base", "f5tts_v1_base_dit.json")])
def test_full_size_presets_match_official_manifest(parity_dir, preset, manifest):
    doc = _manifest(parity_dir, manifest)
    model = DiT(TTS_PRESETS.get(preset), device="meta")
    ours = {k: list(v.shape) for k, v in model.state_dict().items()}
    assert ours == doc["state_dict"]  # same keys, same order, same shapes
    assert sum(p.numel() for p in model.parameters()) == doc["total_parameters"]


def test_official_ema_layout_loads_strictly_on_meta(parity_dir):
    doc = _manifest(parity_dir, "f5tts_checkpoint_key_mapping.json")
    dit = _manifest(parity_dir, "f5tts_v1_base_dit.json")["state_dict"]
    ema = {"initted": torch.zeros((), device="meta"), "step": torch.zeros((), device="meta")}
    ema.update({f"ema_model.transformer.{k}": torch.zeros(s, device="meta") for k, s in dit.items()})
    ema["mel_spec.mel_stft.mel_scale.fb"] = torch.zeros(513, 100, device="meta")  # legacy buffer, dropped
    assert len(ema) - 1 == doc["cfm_state_dict_num_tensors"] + 2
    state = official_to_dit_state({"ema_model_state_dict": ema})
    for preset in ("F5TTS_v1_Base", "F5TTS_Base"):
        check_strict(TTS_PRESETS.get(preset), state, "manifest")
    # The DeepAudio v2c layout is the same plus one energy layer.
    v2c = dict(state, **{"input_embed.proj_energy.weight": torch.zeros(1024, 1, device="meta"),
                         "input_embed.proj_energy.bias": torch.zeros(1024, device="meta")})
    check_strict(TTS_PRESETS.get("DeepAudio_V2S"), v2c, "v2c")
    with pytest.raises(CheckpointError, match="2 unexpected"):
        check_strict(TTS_PRESETS.get("F5TTS_Base"), v2c, "v2c")
    del state["proj_out.bias"]
    with pytest.raises(CheckpointError, match="1 missing"):
        check_strict(TTS_PRESETS.get("F5TTS_Base"), state, "broken")


def test_zero_init_energy_layer_leaves_tts_unchanged():
    plain = _perturbed(TINY)
    energetic = DiT(dataclasses.replace(TINY, energy_input=True)).eval()
    missing, unexpected = energetic.load_state_dict(plain.state_dict(), strict=False)
    assert missing == ["input_embed.proj_energy.weight", "input_embed.proj_energy.bias"] and not unexpected
    x, cond, text, t = _inputs()
    energy = torch.rand(2, 20)
    with torch.no_grad():
        ref = plain(x, cond, text, t)
        torch.testing.assert_close(energetic(x, cond, text, t, energy=energy), ref, atol=0, rtol=0)
        torch.testing.assert_close(energetic(x, cond, text, t), ref, atol=0, rtol=0)


def test_energy_changes_output_and_is_kept_in_unconditional_branch():
    model = _perturbed(dataclasses.replace(TINY, energy_input=True))
    x, cond, text, t = _inputs()
    energy = torch.rand(2, 20)
    with torch.no_grad():
        assert (model(x, cond, text, t, energy=energy) - model(x, cond, text, t)).abs().max() > 1e-3
        both = model(x, cond, text, t, cfg_infer=True, energy=energy)
        torch.testing.assert_close(both[:2], model(x, cond, text, t, energy=energy), atol=2e-6, rtol=0)
        dropped = model(x, cond, text, t, drop_audio_cond=True, drop_text=True, energy=energy)
        torch.testing.assert_close(both[2:], dropped, atol=2e-6, rtol=0)


def test_padding_content_does_not_reach_valid_frames():
    model = _perturbed(dataclasses.replace(TINY, attn_mask_enabled=True))
    x, cond, text, t = _inputs()
    mask = torch.arange(20)[None] < torch.tensor([20, 13])[:, None]
    x2, cond2 = x.clone(), cond.clone()
    x2[1, 13:] = 50 * torch.randn(7, 100)
    cond2[1, 13:] = 7.0
    with torch.no_grad():
        a = model(x, cond, text, t, mask=mask)
        b = model(x2, cond2, text, t, mask=mask)
        single = model(x[1:, :13], cond[1:, :13], text[1:], t[1:])
    torch.testing.assert_close(a[1, :13], b[1, :13], atol=0, rtol=0)
    torch.testing.assert_close(a[0], b[0], atol=0, rtol=0)
    # Without ConvNeXt text blocks (whose GRN pools over the padded tail) a padded sample equals its own run.
    plain = _perturbed(dataclasses.replace(TINY, attn_mask_enabled=True, conv_layers=0))
    with torch.no_grad():
        a = plain(x, cond, text, t, mask=mask)
        single = plain(x[1:, :13], cond[1:, :13], text[1:], t[1:])
    torch.testing.assert_close(a[1:, :13], single, atol=1e-5, rtol=0)


def test_sampler_batch_invariance_with_masked_keys():
    model = _perturbed(dataclasses.replace(TINY, conv_layers=0))
    _, cond, text, _ = _inputs(nt=5)
    lens, duration = torch.tensor([6, 6]), torch.tensor([20, 14])
    y0 = torch.randn(2, 20, 100)
    y0[1, 14:] = 0
    both = sample(model, cond[:, :6], text, duration, lens=lens, steps=4, y0=y0, mask_padded_keys=True).mel
    alone = sample(model, cond[1:, :6], text[1:], duration[1:], lens=lens[1:], steps=4, y0=y0[1:, :14]).mel
    torch.testing.assert_close(both[1, :14], alone[0], atol=1e-4, rtol=0)


def test_cfg_weight_one_equals_conditional_pass_and_batched_equals_two_passes():
    from deepaudio.flow import make_time_grid

    model = _perturbed(TINY)
    _, cond, text, _ = _inputs(b=1, nt=6)
    y0 = torch.randn(1, 24, 100)
    kw = dict(lens=torch.tensor([6]), steps=3, y0=y0, sway=None)
    off = sample(model, cond[:, :6], text, 24, cfg_strength=0.0, **kw).mel
    # by hand: Euler over the conditional velocity only
    x, grid = y0.clone(), make_time_grid(3)
    step_cond = torch.zeros(1, 24, 100)
    step_cond[:, :6] = cond[:, :6]
    with torch.no_grad():
        for k in range(3):
            x = x + (grid[k + 1] - grid[k]) * model(x, step_cond, text, grid[k])
    x[:, :6] = cond[:, :6]
    torch.testing.assert_close(off, x, atol=1e-5, rtol=0)
    batched = sample(model, cond[:, :6], text, 24, cfg_strength=2.0, batched_cfg=True, **kw).mel
    two = sample(model, cond[:, :6], text, 24, cfg_strength=2.0, batched_cfg=False, **kw).mel
    torch.testing.assert_close(batched, two, atol=1e-4, rtol=0)
    assert (batched - off).abs().max() > 1e-3


def test_duration_rule_and_reference_frames_copied_back():
    model = _perturbed(TINY)
    _, cond, text, _ = _inputs(b=2, nt=12)
    res = sample(model, cond[:, :6], text, torch.tensor([3, 30]), steps=2, generator=torch.Generator().manual_seed(0))
    assert res.duration.tolist() == [13, 30]  # at least max(text, prompt) + 1
    assert res.mel.shape == (2, 30, 100)
    torch.testing.assert_close(res.mel[:, :6], cond[:, :6], atol=0, rtol=0)


def test_pretrained_round_trip(tmp_path):
    model = _perturbed(TINY)
    model.save_pretrained(tmp_path / "ckpt", extra_files={"vocab.txt": " \na\n"})
    again = DiT.from_pretrained(tmp_path / "ckpt")
    assert again.config == TINY
    for k, v in model.state_dict().items():
        torch.testing.assert_close(again.state_dict()[k], v, atol=0, rtol=0)
