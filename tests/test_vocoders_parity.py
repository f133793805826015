"""Vocos / BigVGAN parity with the official reference vectors (``parity_dir``, and a hidden set when present)."""

from __future__ import annotations

import pytest

from deepaudio.convert.parity import run_case

CASES = ("vocos_tiny", "vocos_tiny_same", "mm_bigvgan16k_tiny", "mm_bigvgan16k_tiny_rb2", "mm_bigvgan_v2_tiny",
         "mm_bigvgan_v2_tiny_rb2")


@pytest.mark.parametrize("case", CASES)
def test_public_vectors_match(parity_dir, case):
    results = run_case(parity_dir / f"{case}.safetensors", tolerance=1e-4)
    assert results, "no out.* tensors compared"
    bad = [(r.output, r.max_abs_err) for r in results if not r.ok]
    assert not bad, bad


def test_hidden_vectors_match(parity_dir):
    hidden = parity_dir.parent / "hidden"
    files = sorted(p for pat in ("vocos_*.safetensors", "mm_bigvgan*.safetensors") for p in hidden.glob(pat))
    if not files:
        pytest.skip("no hidden vocoder vectors beside the checkout")
    for path in files:
        bad = [(r.case, r.output, r.max_abs_err) for r in run_case(path) if not r.ok]
        assert not bad, bad
