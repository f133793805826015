"""The bundled default voice: what tts, dub, run and serve speak in when no reference voice is given."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from deepaudio.assets import DEFAULT_ROOT, default_voice
from deepaudio.cli.main import main
from deepaudio.errors import InputError
from deepaudio.pipelines.deepaudio import resolve_voice

REPO = DEFAULT_ROOT.parents[3]


def test_the_voice_ships_small_with_its_transcript_and_speaker():
    voice = default_voice()
    wav, sr = sf.read(voice.audio)
    assert sr == 24000 and wav.ndim == 1 and 1.0 < len(wav) / sr < 15.0
    assert voice.audio.stat().st_size < 100_000
    assert voice.speaker == "flite-awb" and voice.speaker in voice.label and voice.text in voice.label
    rms = float(np.sqrt(np.mean(wav**2)))
    assert 0.03 < rms < 0.3  # speech at the toy world's level, not silence
    from deepaudio.assets import describe_bundled

    assert "voice    flite-awb saying" in describe_bundled()  # deepaudio info names it


def test_the_voice_says_a_training_sentence_of_a_seen_speaker():
    from deepaudio.data.toyworld.config import WorldConfig
    from deepaudio.data.toyworld.sentences import SENTENCES
    from deepaudio.data.toyworld.splits import sentence_splits
    from deepaudio.data.toyworld.voices import SPEAKER_BY_ID

    voice = default_voice()
    assert voice.text in sentence_splits(SENTENCES, WorldConfig().sentence_fractions, 0)["train"]
    assert not SPEAKER_BY_ID[voice.speaker].test_only


@pytest.mark.skipif(shutil.which("flite") is None, reason="flite is not installed (apt-get install flite)")
def test_the_committed_script_reproduces_the_shipped_clip(tmp_path):
    subprocess.run([sys.executable, str(REPO / "scripts/make_default_voice.py"), str(tmp_path)], check=True,
                   capture_output=True, env={"PYTHONPATH": str(REPO / "src"), "PATH": "/usr/bin:/bin"})
    new, _ = sf.read(tmp_path / "voice.flac", dtype="int16")
    old, _ = sf.read(default_voice().audio, dtype="int16")
    assert np.array_equal(new, old)
    assert json.loads((tmp_path / "voice.json").read_text()) == json.loads(
        (DEFAULT_ROOT / "voice" / "voice.json").read_text())


def test_resolve_voice_prefers_the_callers_reference(tmp_path):
    audio, text, label = resolve_voice(tmp_path / "me.wav", "hello")
    assert (audio, text) == (tmp_path / "me.wav", "hello") and "me.wav" in label
    audio, text, label = resolve_voice(None, None)
    assert audio == default_voice().audio and text == default_voice().text and "flite-awb" in label
    with pytest.raises(InputError, match="reference text was given without a reference voice"):
        resolve_voice(None, "what I said")


@pytest.fixture(scope="module")
def pipe():
    from deepaudio.assets import bundled_dir
    from deepaudio.pipelines.deepaudio import DeepAudio

    return DeepAudio.from_pretrained(bundled_dir("pipeline"))


def test_tts_without_a_reference_speaks_in_the_default_voice(pipe):
    result = pipe(task="tts", transcript="Good morning.", tts_kwargs={"nfe": 4}, seed=0)
    assert "flite-awb" in result.voice
    assert result.mix.shape[-1] > 0.3 * result.sample_rate and bool(result.mix.abs().max() > 0.01)


def test_run_reads_aloud_without_ref_audio_and_says_which_voice(tmp_path, capsys):
    out = tmp_path / "gm.wav"
    rc = main(["run", "--instruction", 'Read this aloud: "good morning"', "-o", str(out), "--nfe", "4",
               "--device", "cpu"])
    assert rc == 0 and out.is_file()
    said = capsys.readouterr().out
    assert "voice: the bundled default voice 'flite-awb'" in said
    side = json.loads(out.with_suffix(".json").read_text())
    assert side["task"] == "tts" and "flite-awb" in side["voice"]


def test_tts_command_without_ref_audio(tmp_path, capsys):
    out = tmp_path / "hi.wav"
    rc = main(["tts", "--text", "Hello there.", "-o", str(out), "--nfe", "4", "--device", "cpu"])
    assert rc == 0 and sf.info(out).duration > 0.3
    assert "in the bundled default voice 'flite-awb'" in capsys.readouterr().out


def test_ref_text_without_ref_audio_is_a_one_line_error(tmp_path, capsys):
    rc = main(["tts", "--text", "Hello.", "--ref-text", "words", "-o", str(tmp_path / "x.wav"), "--device", "cpu"])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "without a reference voice" in err
    assert not (tmp_path / "x.wav").exists()
