"""Behaviour of the MMAudio MM-DiT on the tiny preset: conditions reuse, CFG, masking, sampling, I/O."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from deepaudio.flow import cfg_combine
from deepaudio.models.v2a.config import MMAUDIO_PRESETS
from deepaudio.models.v2a.mmdit import MMAudioNet
from deepaudio.models.v2a.sampling import guided_flow, sample_latents
from deepaudio.models.v2a.sequence import SequencePlan


def _net(seed: int = 0, **overrides) -> MMAudioNet:
    torch.manual_seed(seed)
    cfg = dataclasses.replace(MMAUDIO_PRESETS.get("tiny"), **overrides)
    net = MMAudioNet(cfg).eval()
    with torch.no_grad():  # make the zero-initialised adaLN/output layers non-trivial
        g = torch.Generator().manual_seed(seed + 1)
        for p in net.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=g))
        net.latent_mean.copy_(0.3 * torch.randn(net.latent_mean.shape, generator=g))
        net.latent_std.copy_(0.5 + torch.rand(net.latent_std.shape, generator=g))
    return net


def _inputs(net: MMAudioNet, b: int = 2, seed: int = 3):
    c = net.config
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(b, c.latent_seq_len, c.latent_dim, generator=g),
            torch.randn(b, c.clip_seq_len, c.clip_dim, generator=g),
            torch.randn(b, c.sync_seq_len, c.sync_dim, generator=g),
            torch.randn(b, c.text_seq_len, c.text_dim, generator=g),
            torch.rand(b, generator=g))


@pytest.mark.parametrize("v2", [False, True])
def test_conditions_reused_across_steps(v2):
    net = _net(v2=v2)
    x, clip, sync, text, t = _inputs(net)
    with torch.no_grad():
        cond = net.preprocess_conditions(clip, sync, text)
        a = net.predict_flow(x, t, cond)
        b = net.predict_flow(x, t, cond)  # the same conditions object at a second step
        full = net(x, clip, sync, text, t)
    assert a.shape == x.shape
    assert torch.equal(a, b) and torch.equal(a, full)


def test_cfg_matches_flow_cfg_combine_and_off_equals_conditional():
    net = _net()
    x, clip, sync, text, t = _inputs(net)
    with torch.no_grad():
        cond, empty = net.preprocess_conditions(clip, sync, text), net.get_empty_conditions(2)
        t0 = torch.tensor(0.4)
        v = net.ode_wrapper(t0, x, cond, empty, 4.5)
        vc, vu = net.predict_flow(x, t0.expand(2), cond), net.predict_flow(x, t0.expand(2), empty)
        torch.testing.assert_close(v, cfg_combine(vc, vu, 4.5), atol=1e-5, rtol=1e-5)
        assert torch.equal(net.ode_wrapper(t0, x, cond, empty, 0.5), vc)  # w < 1: no guidance (reference)
        batched = guided_flow(net, cond, empty, 4.5, batched=True)(t0, x)
        torch.testing.assert_close(batched, v, atol=1e-5, rtol=1e-5)
        assert not torch.allclose(vc, vu)


def test_empty_conditions_and_negative_prompt():
    net = _net()
    x, clip, sync, text, t = _inputs(net, b=3)
    with torch.no_grad():
        empty = net.get_empty_conditions(3)
        direct = net.preprocess_conditions(net.empty_clip_sequence(3), net.empty_sync_sequence(3),
                                           net.empty_string_sequence(3))
        for name in ("clip_f", "sync_f", "text_f", "clip_f_c", "text_f_c"):
            torch.testing.assert_close(getattr(empty, name), getattr(direct, name), atol=1e-6, rtol=0)
        neg = net.get_empty_conditions(3, negative_text_features=text)
        assert torch.equal(neg.clip_f, empty.clip_f)
        assert not torch.allclose(neg.text_f, empty.text_f)
        torch.testing.assert_close(neg.text_f, net.preprocess_conditions(clip, sync, text).text_f)


def test_mask_conditions_replaces_missing_video_and_text():
    net = _net()
    _, clip, sync, text, _ = _inputs(net, b=2)
    keep = torch.tensor([True, False])
    c2, s2, t2 = net.mask_conditions(clip, sync, text, video_keep=keep, text_keep=~keep)
    assert torch.equal(c2[0], clip[0]) and torch.equal(s2[0], sync[0]) and torch.equal(t2[1], text[1])
    assert torch.equal(c2[1], net.empty_clip_sequence(1)[0]) and torch.equal(s2[1], net.empty_sync_sequence(1)[0])
    assert torch.equal(t2[0], net.empty_string_feat)


def test_euler_sampling_is_the_reference_loop():
    net = _net()
    x0, clip, sync, text, _ = _inputs(net)
    with torch.no_grad():
        cond, empty = net.preprocess_conditions(clip, sync, text), net.get_empty_conditions(2)
        ours = sample_latents(net, x0, cond, empty, cfg_strength=4.5, steps=4)
        x, grid = x0, torch.linspace(0, 1, 5)
        for k in range(4):
            x = x + (grid[k + 1] - grid[k]) * net.ode_wrapper(grid[k], x, cond, empty, 4.5)
    assert torch.equal(ours, x)
    torch.testing.assert_close(net.normalize(net.unnormalize(ours)), ours, atol=1e-5, rtol=1e-5)


def test_update_seq_lengths_and_duration_plan():
    lens = SequencePlan.for_mmaudio(8.0, 16000)
    assert (lens.latent, lens.clip_frames, lens.sync_tokens) == (250, 64, 192)
    assert SequencePlan.for_mmaudio(8.0, 44100).latent == 345
    net = _net()
    net.update_seq_lengths(12, 5, 16)
    x, clip, sync, text, t = _inputs(net, b=1)
    assert x.shape[1] == 12 and net.latent_rot.shape[1] == 12 and net.clip_rot.shape[1] == 5
    with torch.no_grad():
        assert net(x, clip, sync, text, t).shape == x.shape
    with pytest.raises(ValueError):
        net.predict_flow(torch.zeros(1, 13, 8), t, net.preprocess_conditions(clip, sync, text))


def test_training_step_reaches_every_trainable_parameter():
    net = _net().train()
    x1, clip, sync, text, t = _inputs(net)
    clip, sync, text = net.mask_conditions(clip, sync, text, torch.tensor([True, False]), torch.tensor([False, True]))
    x0 = torch.randn_like(x1)
    xt = (1 - t[:, None, None]) * x0 + t[:, None, None] * x1
    loss = ((net(xt, clip, sync, text, t) - (x1 - x0)) ** 2).mean()
    loss.backward()
    missing = {n for n, p in net.named_parameters() if p.requires_grad and (p.grad is None or not p.grad.any())}
    # In the last (pre_only) joint block the CLIP/text queries are never used, as in the reference.
    last = net.config.joint_depth - 1
    assert missing == {f"joint_blocks.{last}.clip_block.attn.q_norm.weight",
                       f"joint_blocks.{last}.text_block.attn.q_norm.weight"}


def test_save_load_roundtrip_and_bf16(tmp_path):
    net = _net()
    net.save_pretrained(tmp_path / "net")
    loaded = MMAudioNet.from_pretrained(tmp_path / "net")
    x, clip, sync, text, t = _inputs(net)
    with torch.no_grad():
        assert torch.equal(net(x, clip, sync, text, t), loaded(x, clip, sync, text, t))
        half = loaded.to(torch.bfloat16)
        assert half.latent_rot.dtype == torch.float32 and half.t_embed.freqs.dtype == torch.float32
        out = half(x.bfloat16(), clip.bfloat16(), sync.bfloat16(), text.bfloat16(), t.bfloat16())
    assert out.dtype == torch.bfloat16
    assert (out.float() - net(x, clip, sync, text, t)).abs().max() < 0.25
