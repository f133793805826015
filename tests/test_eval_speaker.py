"""Speaker / emotion similarity on real and synthetic voices; transformers backends on tiny configs."""

from __future__ import annotations

import pytest
import torch

from deepaudio.errors import BackendUnavailable, CheckpointError
from deepaudio.eval import samples
from deepaudio.eval.speaker import Wav2Vec2Emotion, WavLMXVector, emotion_similarity, speaker_similarity

TEXT = "The weather was calm and the river was quiet."
OTHER = "A different sentence spoken by the same voice."


def test_same_speaker_scores_higher_than_different_speakers():
    try:
        libri = [samples._read(p) for p, _ in samples.librivox_utterances()[:2]]
    except Exception as exc:  # noqa: BLE001
        pytest.skip(str(exc))
    slt, slt2, awb = samples.flite(TEXT, "slt"), samples.flite(OTHER, "slt"), samples.flite(TEXT, "awb")
    same_libri = speaker_similarity(libri[0], libri[1])
    same_slt = speaker_similarity(slt, slt2)
    diff = [speaker_similarity(slt, awb), speaker_similarity(libri[0], slt), speaker_similarity(libri[1], awb)]
    assert speaker_similarity(slt, slt) == pytest.approx(1.0, abs=1e-5)
    assert min(same_libri, same_slt) > max(diff) + 0.1, (same_libri, same_slt, diff)


def test_emo_sim_has_no_substitute():
    wav = (torch.randn(1, 16000) * 0.1, 16000)
    with pytest.raises(BackendUnavailable, match="emotion-model"):
        emotion_similarity(wav, wav, model=None)
    with pytest.raises(CheckpointError, match="config.json"):
        emotion_similarity(wav, wav, model="/nonexistent/emotion")


def _tiny_kwargs():
    return dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                conv_dim=(16, 16), conv_stride=(5, 4), conv_kernel=(10, 8), num_conv_pos_embeddings=16,
                num_conv_pos_embedding_groups=2, vocab_size=8)


def test_wavlm_xvector_and_wav2vec2_folders_load(tmp_path):
    tf = pytest.importorskip("transformers")
    torch.manual_seed(0)
    sv = tf.WavLMForXVector(tf.WavLMConfig(**_tiny_kwargs(), tdnn_dim=(16, 16), tdnn_kernel=(3, 1),
                                           tdnn_dilation=(1, 1), xvector_output_dim=12, num_buckets=16))
    sv.save_pretrained(tmp_path / "sv")
    emo = tf.Wav2Vec2Model(tf.Wav2Vec2Config(**_tiny_kwargs()))
    emo.save_pretrained(tmp_path / "emo")
    a, b = samples.flite(TEXT, "slt"), samples.flite(TEXT, "awb")
    enc = WavLMXVector(tmp_path / "sv")
    assert enc.embed(*a).shape == (12,)
    assert speaker_similarity(a, a, model=str(tmp_path / "sv")) == pytest.approx(1.0, abs=1e-5)
    assert Wav2Vec2Emotion(tmp_path / "emo").embed(*a).shape == (32,)
    assert emotion_similarity(a, a, model=str(tmp_path / "emo")) == pytest.approx(100.0, abs=1e-3)
    assert emotion_similarity(a, b, model=str(tmp_path / "emo")) < 100.0
