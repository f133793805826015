"""Static int8 inference of the DiT (deepaudio.quant, ``tts --int8``): the calibrating solve is the fp32 one, the
converted step stays near it, other lengths reuse the first calibration, and what it cannot run is refused
before a model loads. The compiled form is slow to build (tens of seconds): its test has the slow marker."""

from __future__ import annotations

import dataclasses
import importlib.util

import pytest
import torch

from deepaudio.errors import ConfigError
from deepaudio.quant import Int8Forward, finish_calibration, quantize_int8

needs_torchao = pytest.mark.skipif(importlib.util.find_spec("torchao") is None,
                                   reason="torchao is not installed (pip install 'deepaudio[int8]')")


def _model(energy: bool = False):
    from deepaudio.models.tts.config import TTS_PRESETS
    from deepaudio.models.tts.dit import DiT

    torch.manual_seed(0)
    model = DiT(dataclasses.replace(TTS_PRESETS.get("tiny"), text_num_embeds=20, energy_input=energy)).eval()
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():  # zero-initialised output layers would make every output 0
        for p in model.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=g))
    return model


def _inputs(n: int, seed: int, b: int = 1):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(b, n, 100, generator=g), torch.randn(b, n, 100, generator=g),
            torch.randint(0, 19, (b, 12), generator=g), torch.rand((), generator=g))


def _rel_err(got: torch.Tensor, ref: torch.Tensor) -> float:
    return float((got - ref).norm() / ref.norm())


@needs_torchao
def test_int8_step_calibrates_exactly_then_stays_near_fp32_and_reuses_ranges_at_other_lengths():
    model = _model()
    calib = [_inputs(60, s) for s in range(2, 6)]
    check = _inputs(60, 9)
    with torch.inference_mode():
        ref = [model(*a, cfg_infer=True, cache={}) for a in calib + [check]]
        other = _inputs(45, 10)
        ref_other = model(*other, cfg_infer=True, cache={})
    fwd = quantize_int8(model, compiled=False)
    assert model.forward is fwd
    with torch.no_grad():
        for a, r in zip(calib, ref):  # the calibrating solve: observers only, the fp32 result itself
            torch.testing.assert_close(model(*a, cfg_infer=True, cache={}), r, atol=1e-5, rtol=1e-5)
        assert fwd.calibrating and fwd.converted == 0
        finish_calibration(model)
        assert not fwd.calibrating and fwd.converted == 1
        got = model(*check, cfg_infer=True, cache={})
        err = _rel_err(got, ref[-1])
        assert 1e-4 < err < 0.05, err  # quantised (not the fp32 numbers) yet close to them
        got_other = model(*other, cfg_infer=True, cache={})  # another length: converted with the same ranges
    assert fwd.converted == 2 and not fwd.calibrating
    assert _rel_err(got_other, ref_other) < 0.05


@needs_torchao
def test_int8_keeps_only_the_most_recently_used_graphs():
    model = _model()
    fwd = quantize_int8(model, compiled=False, max_graphs=1)
    a, b = _inputs(40, 2), _inputs(30, 3)
    with torch.no_grad():
        model(*a, cfg_infer=True, cache={})
        fwd.finish_calibration()
        first = model(*a, cfg_infer=True, cache={})
        model(*b, cfg_infer=True, cache={})  # another length: converted, and the first graph dropped
        assert len(fwd.steps) == 1 and fwd.converted == 2
        again = model(*a, cfg_infer=True, cache={})  # rebuilt from the kept ranges: the same int8 numbers
    assert fwd.converted == 3
    torch.testing.assert_close(again, first, atol=1e-6, rtol=1e-6)
    with pytest.raises(ConfigError, match="max_graphs"):
        Int8Forward(_model(), max_graphs=0)


@needs_torchao
def test_int8_pipeline_generates_speech_after_its_calibrating_call():
    from test_tts_pipeline import SR, _pipe, _voice  # the tiny pipeline of the TTS tests

    pipe = _pipe()
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():  # zero-initialised output layers would make every output silence
        for p in pipe.model.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=g))
    voice = (_voice()[None], SR)
    kw = dict(ref_text="ab ab", nfe=3, seed=1)
    fp32, _ = pipe("abc abc abc.", voice, **kw)
    pipe.quantize_int8(compiled=False)
    first, _ = pipe("abc abc abc.", voice, **kw)
    fwd = pipe.model.forward
    assert isinstance(fwd, Int8Forward) and fwd.converted >= 1 and not fwd.calibrating
    torch.testing.assert_close(first, fp32, atol=1e-5, rtol=1e-5)  # the calibrating call is the fp32 one
    second, _ = pipe("abc abc abc.", voice, **kw)
    assert second.shape == fp32.shape and torch.isfinite(second).all() and not torch.equal(second, fp32)


def test_int8_refuses_non_fp32_weights():
    with pytest.raises(ConfigError, match="fp32 weights"):
        Int8Forward(_model().to(torch.bfloat16))


def test_tts_int8_refuses_bf16_before_loading(tmp_path, capsys):
    from deepaudio.cli.main import main

    code = main(["tts", "--text", "hello there", "--int8", "--dtype", "bf16", "-o", str(tmp_path / "o.wav")])
    err = capsys.readouterr().err
    assert code != 0 and "--int8 quantises fp32 weights" in err and "Traceback" not in err
    assert not (tmp_path / "o.wav").exists()


@needs_torchao
@pytest.mark.slow
def test_compiled_int8_step_stays_near_fp32():
    model = _model(energy=True)
    a, e = _inputs(60, 2), torch.rand(1, 60)
    with torch.inference_mode():
        ref = model(*a, cfg_infer=True, cache={}, energy=e)
    fwd = quantize_int8(model)
    with torch.no_grad():
        model(*a, cfg_infer=True, cache={}, energy=e)
        fwd.finish_calibration()
        got = model(*a, cfg_infer=True, cache={}, energy=e)
    assert got.dtype == torch.float32 and _rel_err(got, ref) < 0.05
