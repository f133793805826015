"""SIM-O backend: a tiny ECAPA-TDNN + WavLM checkpoint in UniSpeech naming loads and embeds real speech."""

from __future__ import annotations

import re

import pytest
import torch

from deepaudio.errors import BackendUnavailable, CheckpointError
from deepaudio.eval import samples

tf = pytest.importorskip("transformers")

# HF name -> UniSpeech/fairseq name, the inverse of deepaudio.eval.ecapa's renaming, written out by hand.
_TO_UNISPEECH = [
    (r"^feature_extractor\.conv_layers\.(\d+)\.conv\.", r"feature_extractor.conv_layers.\1.0."),
    (r"^feature_extractor\.conv_layers\.(\d+)\.layer_norm\.", r"feature_extractor.conv_layers.\1.2.1."),
    (r"^feature_projection\.layer_norm\.", "layer_norm."),
    (r"^feature_projection\.projection\.", "post_extract_proj."),
    (r"^masked_spec_embed$", "mask_emb"),
    (r"parametrizations\.weight\.original0$", "weight_g"),
    (r"parametrizations\.weight\.original1$", "weight_v"),
    (r"^encoder\.pos_conv_embed\.conv\.", "encoder.pos_conv.0."),
    (r"\.attention\.rel_attn_embed\.", ".self_attn.relative_attention_bias."),
    (r"\.attention\.gru_rel_pos_linear\.", ".self_attn.grep_linear."),
    (r"\.attention\.gru_rel_pos_const$", ".self_attn.grep_a"),
    (r"\.attention\.", ".self_attn."),
    (r"(layers\.\d+)\.layer_norm\.", r"\1.self_attn_layer_norm."),
    (r"\.feed_forward\.intermediate_dense\.", ".fc1."),
    (r"\.feed_forward\.output_dense\.", ".fc2."),
]


def _tiny_checkpoint(path):
    from deepaudio.eval.ecapa import EcapaWavLM

    torch.manual_seed(0)
    cfg = tf.WavLMConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                         conv_dim=(16,) * 7, conv_kernel=(10, 3, 3, 3, 3, 2, 2), conv_stride=(5, 2, 2, 2, 2, 2, 2),
                         conv_bias=True, feat_extract_norm="layer", do_stable_layer_norm=True,
                         num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4, num_buckets=16,
                         max_bucket_distance=800)
    model = EcapaWavLM(tf.WavLMModel(cfg), n_states=3, feat_dim=32, channels=16, emb_dim=12).eval()
    with torch.no_grad():
        model.feature_weight.copy_(torch.randn(3))
    state = {}
    for k, v in model.state_dict().items():
        if k.startswith("wavlm."):
            k = k[len("wavlm."):]
            for pat, rep in _TO_UNISPEECH:
                k = re.sub(pat, rep, k)
            k = "feature_extract.model." + k
        state[k] = v
    torch.save({"model": state}, path)
    return model


def test_ecapa_wavlm_loads_unispeech_names_and_embeds(tmp_path):
    from deepaudio.eval.ecapa import load_ecapa_wavlm
    from deepaudio.eval.speaker import sim_o

    ref_model = _tiny_checkpoint(tmp_path / "sv.pth")
    model = load_ecapa_wavlm(tmp_path / "sv.pth")
    a, b = samples.flite("The weather was calm.", "slt"), samples.flite("The weather was calm.", "awb")
    x = torch.randn(1, 16000)
    with torch.no_grad():
        torch.testing.assert_close(model(x), ref_model(x))
    assert sim_o(a, a, str(tmp_path / "sv.pth")) == pytest.approx(1.0, abs=1e-5)
    assert sim_o(a, b, str(tmp_path / "sv.pth")) < 1.0
    with pytest.raises(BackendUnavailable, match="--sim-o"):
        sim_o(a, b, None)
    torch.save({"model": {"layer1.conv.weight": torch.zeros(1)}}, tmp_path / "bad.pth")
    with pytest.raises(CheckpointError, match="UniSpeech"):
        load_ecapa_wavlm(tmp_path / "bad.pth")
