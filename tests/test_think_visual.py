"""The talking score's speech envelope (ambience floor subtracted) and the remnants of removed voice-over."""

from __future__ import annotations

import numpy as np
import torch

from deepaudio.think.visual import ENVELOPE_FLOOR_QUANTILE, MouthSignals, speech_envelope, talking_score

SR, FPS = 16000, 25.0


def _scene(seed: int = 0):
    """A syllable-rate 'voice' in 0.5-2.5 s, a mouth opening that follows it, and a loud ambience."""
    rng = np.random.default_rng(seed)
    n_frames = int(3.0 * FPS)
    times = np.arange(n_frames) / FPS
    opening = np.where((times >= 0.5) & (times < 2.5), rng.uniform(0.0, 1.0, n_frames), 0.0)
    t = np.arange(int(3.0 * SR)) / SR
    gain = np.repeat(opening, SR // int(FPS))[: t.size]
    voice = 0.1 * gain * np.sin(2 * np.pi * 220 * t) * (1 + 0.5 * np.sin(2 * np.pi * 660 * t))
    # ambience: a loud hum plus quiet, level-varying rumble, both present all along the clip
    hum = 0.3 * np.sin(2 * np.pi * 1500 * t)
    level = np.repeat(rng.uniform(0.5, 1.5, n_frames), SR // int(FPS))[: t.size]
    rumble = 0.08 * level * rng.standard_normal(t.size)
    mix = torch.from_numpy(voice + hum + rumble)[None].float()
    mouth = MouthSignals(times, opening[:, None], np.ones(n_frames, bool), "test")
    return mix, mouth


def test_floor_subtracted_envelope_follows_the_voice_under_loud_ambience():
    mix, mouth = _scene()
    seg = [(0.5, 2.5)]
    plain = talking_score(mouth, speech_envelope(mix, SR, mouth.times, FPS), *seg[0])["score"]
    floored = talking_score(mouth, speech_envelope(mix, SR, mouth.times, FPS, seg), *seg[0])["score"]
    assert plain < 0.6 and floored > plain + 0.2
    assert floored > 0.6  # TALKING_THRESHOLD
    # switched off, the floor-subtracted path is the plain RMS envelope
    np.testing.assert_allclose(speech_envelope(mix, SR, mouth.times, FPS, seg, floor_quantile=None),
                               speech_envelope(mix, SR, mouth.times, FPS))


def test_envelope_is_zero_for_pure_ambience_and_handles_speech_everywhere():
    mix, mouth = _scene()
    amb_only = mix.clone()
    env = speech_envelope(amb_only, SR, mouth.times, FPS, [(0.5, 2.5)])
    assert env.shape == mouth.times.shape and np.isfinite(env).all() and (env >= 0).all()
    hum = torch.from_numpy(0.3 * np.sin(2 * np.pi * 1500 * np.arange(3 * SR) / SR))[None].float()
    env = speech_envelope(hum, SR, mouth.times, FPS, [(0.5, 2.5)])
    assert env[(mouth.times > 0.6) & (mouth.times < 2.4)].max() < 0.05 * 0.3 * 32  # a steady hum is floor
    env = speech_envelope(mix, SR, mouth.times, FPS, [(0.0, 3.0)])  # no frame outside: 10th-percentile floor
    assert np.isfinite(env).all() and env.max() > 0
    assert 0.5 <= ENVELOPE_FLOOR_QUANTILE < 1.0


def test_remnants_of_removed_voice_over_are_found_in_later_rounds():
    from deepaudio.pipelines.think import remnant_spans
    from deepaudio.think.evidence import Segment
    from deepaudio.think.removal import SPAN_PAD_S

    removed = [(0.61, 2.97)]
    segs = [Segment(0.29, 0.70, talking=0.9), Segment(3.5, 4.0, talking=0.1),
            Segment(0.0, 0.61 - SPAN_PAD_S - 0.05, talking=0.9)]
    assert remnant_spans(segs, removed) == [(0.29, 0.70)]  # overlaps the removed span, whatever its score
    assert remnant_spans(segs, []) == []
    assert remnant_spans([(3.0, 3.05)], removed) == [(3.0, 3.05)]  # within the pad after the span
