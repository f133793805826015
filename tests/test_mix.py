import math

import torch

from deepaudio.dsp.mix import duck_gain, mix_with_ducking


def _tone(freq, dur, sr, amp):
    t = torch.arange(int(dur * sr)) / sr
    return amp * torch.sin(2 * math.pi * freq * t)[None]


def test_ambience_is_ducked_only_while_speech_is_active():
    sr = 16000
    speech = torch.cat([torch.zeros(1, sr), _tone(220, 1.0, sr, 0.3), torch.zeros(1, 2 * sr)], dim=1)
    g = duck_gain(speech, sr, duck_db=-12.0)
    assert float(g[: sr // 2].min()) > 0.99  # before speech: untouched
    assert abs(float(g[int(1.5 * sr)]) - 10 ** (-12 / 20)) < 0.02  # during speech: -12 dB
    assert float(g[-sr // 4:].min()) > 0.99  # long after speech: released


def test_mix_never_clips_and_keeps_length():
    sr = 8000
    speech = _tone(300, 1.0, sr, 0.9)
    amb = _tone(50, 2.0, sr, 0.9)
    mix = mix_with_ducking(speech, amb, sr)
    assert mix.shape == (1, 2 * sr)
    assert float(mix.abs().max()) <= 0.98 + 1e-6
