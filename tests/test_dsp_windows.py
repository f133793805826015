import math

import pytest
import torch

from deepaudio.dsp.windows import Window, plan_windows, stitch


@pytest.mark.parametrize("duration", [3.0, 8.0, 8.5, 20.0, 120.0, 121.3])
def test_windows_cover_the_video_and_overlap(duration):
    wins = plan_windows(duration, window=8.0, overlap=1.0)
    assert wins[0].start == 0.0
    assert math.isclose(wins[-1].end, duration)
    assert all(w.duration <= 8.0 + 1e-9 for w in wins)
    for a, b in zip(wins, wins[1:]):
        assert b.start > a.start
        assert a.end - b.start >= 1.0 - 1e-9


def test_stitch_reconstructs_a_continuous_signal():
    sr = 1000
    total = 20.0
    t = torch.arange(int(total * sr)) / sr
    signal = torch.sin(2 * math.pi * 3 * t)[None]
    wins = plan_windows(total, 8.0, 1.0)
    chunks = [signal[:, int(w.start * sr): int(w.end * sr)] for w in wins]
    out = stitch(chunks, wins, sr, total)
    assert out.shape == signal.shape
    assert torch.allclose(out, signal, atol=1e-5)


def test_stitch_crossfades_between_different_chunks():
    sr = 100
    wins = [Window(0.0, 8.0), Window(7.0, 15.0)]
    chunks = [torch.ones(1, 800), torch.zeros(1, 800)]
    out = stitch(chunks, wins, sr, 15.0)[0]
    assert out[:700].eq(1).all() and out[800:].eq(0).all()
    mid = out[700:800]
    assert (mid[1:] <= mid[:-1] + 1e-6).all() and 0.4 < float(mid[50]) < 0.6
