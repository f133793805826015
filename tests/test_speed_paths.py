"""The fast paths of issue #23 give the results of the plain ones (tiny configs)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from deepaudio.checkpoint import load_model
from deepaudio.models.tts.config import TTS_PRESETS
from deepaudio.models.tts.dit import DiT
from deepaudio.models.vocoders.amp import UpSample1d
from deepaudio.models.vocoders.bigvgan import BIGVGAN_PRESETS, BigVGAN
from deepaudio.nn.rope import RotaryEmbedding, apply_rotary, rotation_table
from deepaudio.perf import skip_init, tune_allocator


def _randomize(model: torch.nn.Module) -> torch.nn.Module:
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.1 + (1.0 if p.ndim == 1 else 0.0))
    return model.eval()


def test_rotation_table_equals_the_angle_form():
    angles = RotaryEmbedding(16).angles(40)
    q = torch.randn(2, 3, 40, 16).transpose(1, 2).transpose(1, 2)  # a (B, H, N, D) view like q/k
    torch.testing.assert_close(apply_rotary(q, rotation_table(angles)), apply_rotary(q, angles), atol=1e-6, rtol=0)
    k = torch.randn(2, 40, 3, 16).transpose(1, 2)  # non-contiguous, pairs still interleaved
    torch.testing.assert_close(apply_rotary(k, rotation_table(angles), 1), apply_rotary(k, angles, 1),
                               atol=1e-6, rtol=0)


def test_bf16_weights_match_autocast_on_a_tiny_dit():
    torch.manual_seed(0)
    model = _randomize(DiT(TTS_PRESETS.get("tiny")))
    x, cond = torch.randn(1, 30, model.config.mel_dim), torch.randn(1, 30, model.config.mel_dim)
    text, t = torch.randint(0, 20, (1, 12)), torch.tensor([0.4])
    with torch.no_grad():
        ref = model(x, cond, text, t, cfg_infer=True)
        with torch.autocast("cpu", torch.bfloat16):
            auto = model(x, cond, text, t, cfg_infer=True).float()
        # the time stays fp32, as cfm.sample passes it
        bf = model.to(torch.bfloat16)(x.bfloat16(), cond.bfloat16(), text, t, cfg_infer=True).float()
    def rel(a, b):
        return float((a - b).norm() / b.norm())

    # bf16 weights also keep the residual stream in bf16: a little further from fp32 than autocast, same order
    assert rel(auto, ref) < 0.02 and rel(bf, ref) < 0.04 and rel(bf, ref) < 4 * rel(auto, ref)


def test_polyphase_upsampling_equals_the_transposed_convolution():
    up = UpSample1d(2)
    x = torch.randn(2, 5, 37)
    c = x.shape[1]
    ref = up.ratio * F.conv_transpose1d(F.pad(x, (up.pad, up.pad), mode="replicate"), up.filter.expand(c, -1, -1),
                                        stride=up.ratio, groups=c)
    ref = ref[..., up.crop_left:ref.shape[-1] - up.crop_right]
    torch.testing.assert_close(up(x), ref, atol=1e-6, rtol=0)


def test_bigvgan_dense_bf16_stays_close_and_float32_out():
    voc = _randomize(BigVGAN(BIGVGAN_PRESETS.get("tiny")))
    mel = torch.randn(1, voc.config.num_mels, 20)
    with torch.no_grad():
        ref = voc.decode(mel)
        got = voc.dense_in(torch.bfloat16).decode(mel)
    assert got.dtype == torch.float32 and voc.activation_post.act.alpha.dtype == torch.float32
    assert float((got - ref).norm() / ref.norm()) < 0.05
    assert voc.dense_in(torch.bfloat16) is voc  # idempotent: hooks are added once


def test_load_without_init_equals_build_load_cast(tmp_path):
    model = _randomize(DiT(TTS_PRESETS.get("tiny")))
    model.save_pretrained(tmp_path / "m")
    loaded = load_model(tmp_path / "m", dtype=torch.bfloat16)
    want = model.to(torch.bfloat16).state_dict()
    got = loaded.state_dict()
    assert want.keys() == got.keys() and all(torch.equal(want[k], got[k]) for k in want)
    with skip_init():
        lin = torch.nn.Linear(4, 4)
    assert isinstance(lin, torch.nn.Linear) and torch.nn.init.zeros_(torch.ones(2)).sum() == 0  # restored


def test_skip_init_is_per_thread_and_reentrant():
    import threading

    inside, built = threading.Event(), threading.Event()
    other = {}

    def load():  # a loader holding skip_init while another thread builds a model that needs random init
        with skip_init(), skip_init():
            inside.set()
            built.wait(10)
            other["skipped"] = torch.nn.init.ones_(torch.zeros(3))

    loader = threading.Thread(target=load)
    loader.start()
    inside.wait(10)
    torch.manual_seed(5)
    lin = torch.nn.Linear(8, 8)
    built.set()
    loader.join(10)
    torch.manual_seed(5)
    ref = torch.nn.Linear(8, 8)
    assert torch.equal(lin.weight, ref.weight) and lin.weight.abs().sum() > 0  # this thread's init ran
    assert other["skipped"].sum() == 0  # the loader's init calls were no-ops, nested twice
    assert torch.nn.init.ones_(torch.zeros(3)).sum() == 3  # and work again once it left


def test_tune_allocator_is_idempotent_and_can_be_refused(monkeypatch):
    import deepaudio.perf as perf

    monkeypatch.setattr(perf, "_TUNED", False)
    monkeypatch.setenv("DEEPAUDIO_MALLOC", "system")
    assert tune_allocator() is False
    monkeypatch.delenv("DEEPAUDIO_MALLOC")
    first = tune_allocator()
    assert tune_allocator() is first
