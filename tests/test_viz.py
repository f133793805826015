"""Pictures of results: the per-clip figure, spectrogram comparisons, frame strips and ground truth."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from deepaudio.errors import InputError
from deepaudio.io.testmedia import moving_square_video, read_code
from deepaudio.models.router import Route
from deepaudio.pipelines.deepaudio import DeepAudioResult
from deepaudio.viz import GroundTruth, clip_figure, compare_spectrograms, log_mel_db, plot_mel_settings, read_strip

SR = 24000
TRUTH = dict(fps=25, voice_over=False,
             layers=[dict(type="bounce", contacts=[dict(time=0.3, audible=True), dict(time=0.5, audible=False),
                                                   dict(time=1.2, audible=True)])],
             speech=[dict(start=0.2, end=1.5, speaker="flite-kal")],
             faces=[dict(talking=True, mouth=[0.0, 0.5, 1.0] * 16 + [0.0, 0.0]), dict(talking=False, mouth=[0.0] * 50)])


def png_size(path) -> tuple[int, int]:
    """(width, height) from a PNG header, after checking the signature."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def _result(task: str) -> DeepAudioResult:
    t = torch.arange(2 * SR) / SR
    amb = 0.1 * torch.randn(1, 2 * SR, generator=torch.Generator().manual_seed(0)) * (torch.sin(4 * np.pi * t) > 0.9)
    speech = 0.3 * torch.sin(2 * np.pi * 180 * t)[None] * (torch.sin(3 * np.pi * t) > 0)
    contour = torch.rand(188, generator=torch.Generator().manual_seed(1))
    route = Route(task, {"v2a": 0.1, "tts": 0.05, "v2s": 0.2, "dub": 0.65}, "hello there.", False, ("v2a", "tts"))
    if task == "v2a":
        return DeepAudioResult(route, SR, amb, ambience=amb)
    return DeepAudioResult(route, SR, amb + speech, ambience=amb, speech=speech, contour=contour)


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    return moving_square_video(tmp_path_factory.mktemp("viz") / "in.mp4", duration=2.0, width=64, height=48)


def test_ground_truth_from_toyworld_keeps_audible_impacts_spans_and_talking_mouths(tmp_path):
    truth = GroundTruth.from_toyworld(TRUTH)
    assert truth.events == (0.3, 1.2)
    assert truth.spans == ((0.2, 1.5, "speech (flite-kal)"),)
    assert len(truth.mouths) == 1 and truth.mouths[0].shape == (50,) and truth.fps == 25.0
    path = tmp_path / "meta.json"
    path.write_text(json.dumps(TRUTH))
    again = GroundTruth.coerce(path)
    assert (again.events, again.spans) == (truth.events, truth.spans)
    np.testing.assert_array_equal(again.mouths[0], truth.mouths[0])
    with pytest.raises(InputError, match="cannot read ground truth"):
        GroundTruth.coerce(tmp_path / "missing.json")


def test_frame_strip_samples_the_middle_of_equal_slots(video):
    frames, times, duration = read_strip(video.path, n=8)
    assert frames.shape == (8, 48, 64, 3) and duration == pytest.approx(2.0, abs=0.05)
    np.testing.assert_allclose(times, (np.arange(8) + 0.5) * 2.0 / 8, atol=1e-6)
    assert [read_code(f) for f in frames] == [int(t * video.fps) for t in times]
    arr = np.zeros((50, 12, 16, 3), np.uint8)
    arr[:, 0, 0, 0] = np.arange(50)
    picked, t2, d2 = read_strip((arr, 25.0), n=5)
    assert d2 == 2.0 and list(picked[:, 0, 0, 0]) == [int(t * 25) for t in t2]


def test_log_mel_puts_a_tone_in_its_band():
    for sr in (16000, 24000):
        t = torch.arange(sr) / sr
        mel = log_mel_db(0.5 * torch.sin(2 * np.pi * 1000 * t), sr)
        s = plot_mel_settings(sr)
        assert mel.shape[0] == s.n_mels
        from deepaudio.dsp.mel import hz_to_mel

        lo, hi = hz_to_mel(torch.tensor([s.f_min, s.fmax])).tolist()
        expected = (hz_to_mel(torch.tensor(1000.0)).item() - lo) / (hi - lo) * (s.n_mels + 1) - 1
        assert abs(int(mel[:, mel.shape[1] // 2].argmax()) - expected) <= 2


def test_clip_figure_rows_follow_the_result(tmp_path, video):
    dub = clip_figure(video.path, _result("dub"), tmp_path / "dub.png", truth=TRUTH, title="dub | model x | seed 0")
    v2a = clip_figure(video.path, _result("v2a"), tmp_path / "v2a.png")
    speech_only = clip_figure(None, _result("dub"), tmp_path / "speech.png")
    (w1, h1), (w2, h2), (w3, h3) = png_size(dub), png_size(v2a), png_size(speech_only)
    assert w1 == w2 == w3 == 1200
    # dub: strip + 3 spectrograms + split + contour; v2a: strip + 1 spectrogram + waveform; no video: no strip.
    assert h1 > 1.8 * h2 and 300 < h2 < 800 and h3 < h1
    assert not list(tmp_path.glob(".*tmp*"))  # atomic writes leave no temporary files


def test_compare_spectrograms_resamples_to_one_rate(tmp_path):
    t = torch.arange(SR) / SR
    out = compare_spectrograms([("a", torch.sin(2 * np.pi * 440 * t), SR), ("b", np.zeros(8000, np.float32), 16000),
                                ("c", torch.sin(2 * np.pi * 440 * t[:4000])[None], 8000)],
                               tmp_path / "cmp.png", title="three\nrows", events=[0.25])
    w, h = png_size(out)
    assert w == 1200 and 500 < h < 900
    with pytest.raises(InputError, match="nothing to compare"):
        compare_spectrograms([], tmp_path / "none.png")
    with pytest.raises(InputError, match="expected audio"):
        compare_spectrograms([("bad", torch.zeros(1, 2, 100), SR)], tmp_path / "bad.png")
