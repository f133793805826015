"""CLIP inference shortcuts give the plain computation's numbers: the CLS-only last block, the folded
QuickGELU, and the bf16 LayerNorm without float copies."""

from __future__ import annotations

import copy

import torch

from deepaudio.models.encoders.clip import CLIP_PRESETS, LayerNorm32, OpenCLIP, fold_quick_gelu


def _clip() -> OpenCLIP:
    torch.manual_seed(0)
    return OpenCLIP(CLIP_PRESETS.get("tiny")).eval()


def test_cls_only_last_block_equals_the_full_block():
    clip = _clip()
    x = torch.randn(3, 17, clip.config.vision_width)
    with torch.no_grad():
        for causal in (False, True):
            full = clip.visual.transformer(x, causal=causal)[:, :1]
            first = clip.visual.transformer(x, causal=causal, first_only=True)
            assert first.shape == (3, 1, clip.config.vision_width)
            torch.testing.assert_close(first, full, atol=1e-6, rtol=1e-5)


def test_folded_quick_gelu_keeps_the_outputs():
    clip = _clip()
    folded = copy.deepcopy(clip)
    assert fold_quick_gelu(folded) == clip.config.vision_layers + clip.config.text_layers
    assert fold_quick_gelu(folded) == 0  # already folded: nothing left to change
    pixels = torch.randn(2, 3, clip.config.image_size, clip.config.image_size)
    tokens = torch.randint(0, clip.config.vocab_size, (2, clip.config.context_length))
    with torch.no_grad():
        torch.testing.assert_close(folded.encode_image(pixels), clip.encode_image(pixels), atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(folded.encode_text_tokens(tokens), clip.encode_text_tokens(tokens), atol=1e-5,
                                   rtol=1e-4)


def test_bf16_layernorm_matches_the_float_computation():
    ln = LayerNorm32(64)
    with torch.no_grad():
        ln.weight.normal_(), ln.bias.normal_()
    x = torch.randn(4, 9, 64).to(torch.bfloat16)
    ref = torch.nn.functional.layer_norm(x.float(), (64,), ln.weight, ln.bias, ln.eps).to(torch.bfloat16)
    got = ln(x)
    assert got.dtype == torch.bfloat16
    torch.testing.assert_close(got.float(), ref.float(), atol=0.02, rtol=0.01)  # at most 1 bf16 ulp apart
