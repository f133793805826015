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


def _speech_like(sr, seconds=3.0, amp=0.05, seed=0):
    """Bursts of noise (syllables) with pauses: a level the gated loudness measure sees as speech."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(1, int(seconds * sr), generator=g) * amp
    on = (torch.arange(x.shape[-1]) // (sr // 5)) % 2 == 0
    return x * on


def test_speech_is_levelled_and_ambience_kept_below_it():
    from deepaudio.dsp.loudness import integrated_loudness
    from deepaudio.dsp.mix import level_tracks

    sr = 16000
    speech = _speech_like(sr, amp=0.01)
    loud = torch.randn(1, 3 * sr, generator=torch.Generator().manual_seed(1)) * 0.3  # babble louder than speech
    s, a = level_tracks(speech, loud, sr, speech_lufs=-20.0, ambience_ratio_db=10.0)
    assert abs(integrated_loudness(s, sr) + 20.0) < 0.1
    assert abs(integrated_loudness(a, sr) + 30.0) < 0.1
    quiet = loud * 0.001  # already far below the speech: never raised
    _, a2 = level_tracks(speech, quiet, sr)
    assert torch.equal(a2, quiet)
    s3, a3 = level_tracks(speech, loud, sr, speech_lufs=None, ambience_ratio_db=None)  # off: unchanged
    assert torch.equal(s3, speech) and torch.equal(a3, loud)
    s4, a4 = level_tracks(torch.zeros(1, sr), loud, sr)  # silent speech: nothing to measure against
    assert torch.equal(s4, torch.zeros(1, sr)) and torch.equal(a4, loud)


def test_mix_keeps_the_ratio_under_speech_and_ducking_depth_is_an_option():
    from deepaudio.dsp.loudness import integrated_loudness

    sr = 16000
    speech = _speech_like(sr, amp=0.01)
    amb = torch.randn(1, 3 * sr, generator=torch.Generator().manual_seed(2)) * 0.3
    deep = mix_with_ducking(speech, amb, sr, duck_db=-20.0)
    flat = mix_with_ducking(speech, amb, sr, duck_db=0.0)
    old = mix_with_ducking(speech, amb, sr, speech_lufs=None, ambience_ratio_db=None)
    residual = {k: integrated_loudness(m - mix_with_ducking(speech, torch.zeros_like(amb), sr), sr)
                for k, m in (("deep", deep), ("flat", flat))}
    assert residual["deep"] < residual["flat"] - 5  # deeper ducking: less ambience under the speech
    assert abs(residual["flat"] + 30.0) < 0.5  # no ducking: the ambience sits at the 10 dB ratio
    assert integrated_loudness(old, sr) > integrated_loudness(flat, sr) + 6  # the loud babble stayed loud before
