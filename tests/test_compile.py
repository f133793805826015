"""``--compile`` (deepaudio.perf.compile_for_inference): the compiled TTS and V2A network steps give the eager
results, and the modules keep their attributes. Slow: each compile takes tens of seconds on 2 cores."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from deepaudio.perf import compile_for_inference

pytestmark = pytest.mark.slow


def _jitter(module: torch.nn.Module, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():  # zero-initialised output layers would make every output 0
        for p in module.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=g))


def test_compiled_tts_step_matches_eager():
    from deepaudio.models.tts.config import TTS_PRESETS
    from deepaudio.models.tts.dit import DiT

    torch.manual_seed(0)
    model = DiT(dataclasses.replace(TTS_PRESETS.get("tiny"), text_num_embeds=20)).eval()
    _jitter(model, 1)
    g = torch.Generator().manual_seed(2)
    x, cond = torch.randn(1, 60, 100, generator=g), torch.randn(1, 60, 100, generator=g)
    text, t = torch.randint(0, 19, (1, 12), generator=g), torch.tensor([0.4])
    with torch.inference_mode():
        eager = model(x, cond, text, t, cfg_infer=True, cache={})
        compiled = compile_for_inference(model)
        assert compiled is model and model.config.dim == TTS_PRESETS.get("tiny").dim
        got = model(x, cond, text, t, cfg_infer=True, cache={})
    assert eager.abs().max() > 0.1
    torch.testing.assert_close(got, eager, atol=1e-4, rtol=1e-4)


def test_compiled_v2a_step_matches_eager():
    from deepaudio.models.v2a.config import MMAUDIO_PRESETS
    from deepaudio.models.v2a.mmdit import MMAudioNet

    torch.manual_seed(0)
    net = MMAudioNet(MMAUDIO_PRESETS.get("tiny")).eval()
    _jitter(net, 3)
    c, g = net.config, torch.Generator().manual_seed(4)
    feats = [torch.randn(2, n, d, generator=g) for n, d in ((c.clip_seq_len, c.clip_dim),
                                                             (c.sync_seq_len, c.sync_dim),
                                                             (c.text_seq_len, c.text_dim))]
    x, t = torch.randn(2, c.latent_seq_len, c.latent_dim, generator=g), torch.rand(2, generator=g)
    with torch.inference_mode():
        cond = net.preprocess_conditions(*feats)
        eager = net.predict_flow(x, t, cond)
        compile_for_inference(net, ("predict_flow",))
        got = net.predict_flow(x, t, cond)
    torch.testing.assert_close(got, eager, atol=1e-4, rtol=1e-4)
