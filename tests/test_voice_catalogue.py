"""The offline voice catalogue: toy-world voices, the speech corpus' extra voices, voices held out of training."""

from __future__ import annotations

import hashlib
import shutil
import subprocess

import numpy as np
import pytest

from deepaudio.data.toyworld.config import WorldConfig
from deepaudio.data.toyworld.speech_corpus import write_speech_corpus
from deepaudio.data.toyworld.voices import (
    CACHE_VERSION,
    EXTRA_SPEAKERS,
    HELDOUT_SPEAKERS,
    SPEAKER_BY_ID,
    SPEAKERS,
    VARIANT_SPEAKERS,
    WARPED_SPEAKERS,
    Speaker,
    VoiceBank,
)
from deepaudio.errors import BackendUnavailable, ConfigError


def _speaker_key(s: Speaker) -> tuple:
    return s.engine, s.voice.split("+")[0] if s.engine == "espeak" else s.voice


def test_held_out_voices_share_no_speaker_or_accent_with_any_training_voice():
    training = SPEAKERS + EXTRA_SPEAKERS + VARIANT_SPEAKERS + WARPED_SPEAKERS
    assert not {s.id for s in HELDOUT_SPEAKERS} & {s.id for s in training}
    # no held-out voice is a training voice's synthesiser voice, nor (espeak) its accent or its variant
    assert not {_speaker_key(s) for s in HELDOUT_SPEAKERS} & {_speaker_key(s) for s in training}
    variants = {s.voice.split("+")[1] for s in training if "+" in s.voice}
    assert not {s.voice.split("+")[1] for s in HELDOUT_SPEAKERS if "+" in s.voice} & variants
    assert set(SPEAKER_BY_ID) == {s.id for s in training}


def test_toy_world_refuses_the_extra_voices():
    with pytest.raises(ConfigError, match="unknown toy world speaker"):
        WorldConfig(speakers=(EXTRA_SPEAKERS[0].id,)).validate()


def test_speech_corpus_all_means_toy_and_extra_voices(tmp_path, monkeypatch):
    spoken = []

    def fake_synth(self, speaker, text, cache=True):  # the synthesisers are tested below; here only the round
        spoken.append(speaker.id)
        return np.zeros(2400, np.float32)

    monkeypatch.setattr(VoiceBank, "synthesize", fake_synth)
    n = len(SPEAKERS) + len(EXTRA_SPEAKERS)
    sentences = [f"sentence number {i} is here" for i in range(n)]
    write_speech_corpus(tmp_path, sentences, n, "test", speakers=("all",), progress=False)
    assert spoken == [s.id for s in SPEAKERS + EXTRA_SPEAKERS]
    spoken.clear()
    n = len(VARIANT_SPEAKERS)
    sentences = [f"sentence number {i} is here" for i in range(n)]
    write_speech_corpus(tmp_path / "variants", sentences, n, "test", speakers=("variants",), progress=False)
    assert spoken == [s.id for s in VARIANT_SPEAKERS] and len(set(spoken)) == n == 20
    assert all(s.engine == "espeak" and s.voice.split("+")[1] not in ("f4", "m6") for s in VARIANT_SPEAKERS)


def test_warped_voices_scale_every_frequency_and_keep_their_own_cache_keys(tmp_path, monkeypatch):
    sr, f0 = 16000, 200.0
    tone = (0.3 * np.sin(2 * np.pi * f0 * np.arange(sr) / sr)).astype(np.float32)
    monkeypatch.setattr(VoiceBank, "_raw", lambda self, speaker, text: (tone, sr))
    bank = VoiceBank(tmp_path)
    by_id = {s.id: s for s in WARPED_SPEAKERS}
    for sid, warp in (("flite-kal-w112", 1.12), ("flite-kal-w89", 0.89)):
        wav = bank.synthesize(by_id[sid], "text", cache=False)
        spec = np.abs(np.fft.rfft(wav * np.hanning(len(wav))))
        peak = np.argmax(spec) * 24000 / len(wav)
        assert abs(peak - f0 * warp) < 3.0, (sid, peak)  # the tone moved by the warp
        assert abs(len(wav) / 24000 - 1.0 / warp) < 0.02  # and the second of audio is shorter / longer
    base = SPEAKER_BY_ID["flite-kal"]
    assert bank.key(base, "t") != bank.key(by_id["flite-kal-w112"], "t") != bank.key(by_id["flite-kal-w89"], "t")
    # the unwarped key is the one of earlier versions (caches made before warping stay valid)
    assert bank.key(base, "t") == hashlib.sha1(f"{CACHE_VERSION}|flite|kal|0|24000|t".encode()).hexdigest()
    espeak = {s.id: s for s in SPEAKERS}["espeak-us-m3"]
    assert by_id["espeak-us-m3-w112"].rate == round(espeak.rate / 1.12)  # espeak-ng's tempo kept
    assert len(WARPED_SPEAKERS) == 2 * len(SPEAKERS + EXTRA_SPEAKERS) - 1 and "espeak-rp-f1-w112" not in by_id


def _festival_voices() -> set[str]:
    if shutil.which("festival") is None or shutil.which("text2wave") is None:
        return set()
    out = subprocess.run(["festival", "--pipe"], input=b"(print (voice.list))", capture_output=True, timeout=60)
    return set(out.stdout.decode().strip("()\n ").split())


@pytest.mark.parametrize("speaker", [s for s in EXTRA_SPEAKERS + HELDOUT_SPEAKERS if s.engine == "festival"],
                         ids=lambda s: s.id)
def test_festival_voices_speak(tmp_path, speaker):
    if speaker.voice not in _festival_voices():
        pytest.skip(f"festival voice {speaker.voice} is not installed")
    wav = VoiceBank(tmp_path).synthesize(speaker, "The bus was late again today.", cache=False)
    assert wav.dtype == np.float32 and 1.0 < len(wav) / 24000 < 4.0
    assert abs(float(np.sqrt(np.mean(wav**2))) - 0.08) < 0.01  # RMS-normalised like every toy-world voice


def test_missing_festival_voice_is_a_clear_error(tmp_path):
    if shutil.which("text2wave") is None:
        pytest.skip("festival is not installed")
    with pytest.raises(BackendUnavailable, match="did not speak"):
        VoiceBank(tmp_path).synthesize(Speaker("x", "festival", "no_such_voice"), "Hello there.", cache=False)
