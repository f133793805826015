"""ASR + WER on real speech: the pocketsphinx LibriVox utterances and a synthetic voice."""

from __future__ import annotations

import pytest
import torch

from deepaudio.errors import CheckpointError
from deepaudio.eval import samples
from deepaudio.eval.text import normalize_text
from deepaudio.eval.wer import align_words, mean_wer, wer, word_errors


def test_normalize_strips_punctuation_and_case():
    assert normalize_text("Hello, World!  It's “well-known”.") == "hello world it's well known"
    assert normalize_text("Don\u2019t STOP...") == "don't stop"


def test_normalize_reads_whole_numbers_as_words():
    assert normalize_text("Start in 10 minutes.") == normalize_text("start in ten minutes")
    assert normalize_text("1,500 people, 3 days") == "one thousand five hundred people three days"
    assert normalize_text("route 66b") == "route 66b"  # not a whole number: left as written


def test_word_edit_counts():
    e = align_words("a b c d".split(), "a x c d e".split())
    assert (e.substitutions, e.deletions, e.insertions, e.ref_words) == (1, 0, 1, 4)
    assert word_errors("the cat sat", "cat sat").deletions == 1
    assert wer("the cat sat", "The cat, sat.") == 0.0
    assert wer("one two", "") == 1.0
    # mean of per-utterance WER, not corpus ratio: (0 + 1/2) / 2
    assert mean_wer(["a b c d", "x y"], ["a b c d", "x z"]) == pytest.approx(0.25)


def test_transcribe_real_speech_low_wer():
    from deepaudio.perception.asr import transcribe

    try:
        items = samples.librivox_utterances()[:2]
    except Exception as exc:  # noqa: BLE001
        pytest.skip(str(exc))
    refs, hyps = [], []
    for path, text in items:
        wav, sr = samples._read(path)
        hyps.append(transcribe(wav, sr))
        refs.append(text)
    assert mean_wer(refs, hyps) < 0.15, list(zip(refs, hyps))


def test_transcribe_resamples_and_accepts_mono_1d():
    from deepaudio.perception.asr import transcribe

    text = "The weather was calm and the river was quiet."
    try:
        wav, sr = samples.piper_joe(text)
    except Exception:  # noqa: BLE001 - voices extra not installed: flite is Debian
        wav, sr = samples.flite(text, "slt")
    hyp = transcribe(wav[0], sr)  # 1-D input, 22.05 kHz
    assert wer(text, hyp) <= 0.2, hyp
    assert transcribe(torch.zeros(1, 0), 16000) == ""
    # a local CTranslate2 folder given explicitly (here the packaged one) takes the same path as large-v3 would
    from deepaudio.perception.asr import backend_name, default_model_path

    folder = str(default_model_path())
    assert transcribe(wav, sr, model=folder, beam_size=1) == transcribe(wav, sr, beam_size=1)
    assert folder in backend_name(folder)


def test_missing_model_folder_is_a_user_error(tmp_path):
    from deepaudio.perception.asr import transcribe

    with pytest.raises(CheckpointError, match="not found"):
        transcribe(torch.zeros(1, 1600), 16000, model=str(tmp_path / "large-v3"))
    with pytest.raises(CheckpointError, match="model.bin"):
        transcribe(torch.zeros(1, 1600), 16000, model=str(tmp_path))
    (tmp_path / "model.bin").write_bytes(b"")
    with pytest.raises(CheckpointError, match="tokenizer.json"):
        transcribe(torch.zeros(1, 1600), 16000, model=str(tmp_path))
