"""Reference voices that carry no voice are refused by every command that takes one."""

from __future__ import annotations

import pytest
import torch

from deepaudio.errors import InputError
from deepaudio.pipelines.tts_reference import check_reference_voice, reference_text_problem

SR = 24000


def _voice(seconds: float = 2.0, amp: float = 0.2) -> torch.Tensor:
    t = torch.arange(int(seconds * SR)) / SR
    return amp * torch.sin(2 * torch.pi * 180 * t) * (torch.sin(2 * torch.pi * 3 * t) > 0)


@pytest.mark.parametrize("wav", [torch.zeros(3 * SR), 1e-4 * torch.randn(3 * SR),
                                 torch.cat([torch.zeros(3 * SR), _voice(0.1)])], ids=["silent", "hiss", "a blip"])
def test_silent_or_near_silent_reference_is_refused(wav):
    with pytest.raises(InputError, match="silent or nearly so") as err:
        check_reference_voice(wav, SR, "ref.wav")
    assert "\n" not in str(err.value) and "ref.wav" in str(err.value)


def test_a_quiet_voice_is_accepted():
    check_reference_voice(_voice(amp=0.01), SR)  # -40 dBFS: quiet, raised later, but a voice
    check_reference_voice(_voice()[None].repeat(2, 1), SR)  # stereo


def test_transcript_problems_are_named():
    assert "empty" in reference_text_problem("", 6.6)
    assert "one word ('You')" in reference_text_problem("You", 6.6)
    assert reference_text_problem("You", 1.0) is None and reference_text_problem("Hello there.", 6.6) is None


def test_tts_and_dub_paths_refuse_a_silent_reference(tmp_path):
    from deepaudio.io.audio import save_audio
    from deepaudio.pipelines.deepaudio import check_reference
    from deepaudio.pipelines.tts import TTSPipeline

    path = tmp_path / "silent.wav"
    save_audio(path, 1e-4 * torch.randn(1, 3 * SR), SR)
    with pytest.raises(InputError, match="silent"):
        TTSPipeline._load_reference(path)  # before any transcription or model call
    with pytest.raises(InputError, match="silent"):
        check_reference(path)
