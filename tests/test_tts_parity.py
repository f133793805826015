"""F5-TTS parity: our DiT and sampler against the reference vectors made by the official code."""

from __future__ import annotations

import pytest
import torch

from deepaudio.convert.parity import read_case, run_case
from deepaudio.convert.parity_f5 import _build

CASES = ["f5_dit_v1", "f5_dit_base", "f5_dit_extras", "f5_cfm_euler", "f5_cfm_midpoint", "f5_cfm_euler_b1",
         "f5_cfm_euler_b1_epss7"]


@pytest.mark.parametrize("case", CASES)
def test_f5_outputs_match_reference(parity_dir, case):
    results = run_case(parity_dir / f"{case}.safetensors", tolerance=1e-4)
    assert results, "no outputs compared"
    bad = [f"{r.output}: {r.max_abs_err:.2e}" for r in results if not r.ok]
    assert not bad, bad


@pytest.mark.parametrize("case", ["f5_dit_v1", "f5_dit_base", "f5_dit_extras"])
def test_f5_debug_tensors_match(parity_dir, case):
    sidecar, t = read_case(parity_dir / f"{case}.safetensors")
    model = _build(sidecar["constructor_kwargs"], t, case)
    x, cond, text, mask = t["in.x"], t["in.cond"], t["in.text"], t["in.mask"]
    n = x.shape[1]
    with torch.no_grad():
        ours = {
            "dbg.time_embed": model.time_embed(t["in.time"]),
            "dbg.text_embed_mask": model.embed_text(text, n, mask),
            "dbg.text_embed_nomask": model.embed_text(text, n),
            "dbg.text_embed_nomask_drop": model.embed_text(text, n, drop_text=True),
            "dbg.input_embed_mask": model.input_embed(x, cond, model.embed_text(text, n, mask), mask=mask),
            "dbg.rope_freqs": model.rotary_embed.angles(n),
        }
    for key, got in ours.items():
        torch.testing.assert_close(got, t[key], atol=1e-5, rtol=0, msg=key)


def test_cfm_time_grid_matches_stored(parity_dir):
    from deepaudio.flow import make_time_grid

    for case, steps, sched in [("f5_cfm_euler", 8, "epss"), ("f5_cfm_euler_b1_epss7", 7, "epss")]:
        _, t = read_case(parity_dir / f"{case}.safetensors")
        torch.testing.assert_close(make_time_grid(steps, sched, -1.0), t["in.t_grid"], atol=1e-7, rtol=0)
