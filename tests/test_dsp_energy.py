"""Energy contour (DeepAudio-V1: mean |x| per 256/24000 s frame over the clip maximum), frame RMS in dB and the
DeepSound silence check."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from deepaudio.dsp.energy import contour_frames, energy_contour, fit_contour, frame_rms_db, is_silent, silent_fraction


def _loop_contour(wav: torch.Tensor, sr: int) -> np.ndarray:
    """The definition written out frame by frame: frames of 256/24000 s, mean |x| of channel 0, / max."""
    x = wav[0].double().numpy()
    frame = sr * 256 / 24000
    n = int(round(x.shape[-1] / sr * 24000 / 256, 9))  # whole frames in the clip
    e = np.array([np.abs(x[int(round(i * frame, 9)):int(round((i + 1) * frame, 9))]).mean() for i in range(n)])
    return e / e.max()


@pytest.mark.parametrize("sr", [24000, 16000, 44100, 48000])
def test_contour_matches_definition(sr):
    g = torch.Generator().manual_seed(sr)
    wav = torch.randn(2, int(sr * 0.37), generator=g) * torch.linspace(0, 1, int(sr * 0.37))
    ours = energy_contour(wav, sr)
    ref = _loop_contour(wav, sr)
    assert ours.dtype == torch.float32 and ours.shape == (len(ref),)
    assert np.allclose(ours.numpy(), ref, atol=1e-6)
    assert ours.max() == 1.0


def test_contour_frame_rate_is_tts_mel_rate():
    # 10 s at any rate gives 937 frames (10 * 93.75, floored), one per F5 mel frame.
    for sr in (16000, 22050, 24000, 44100, 48000):
        assert contour_frames(10 * sr, sr) == 937
    assert contour_frames(256 * 5, 24000) == 5  # exact boundaries do not lose a frame to rounding


def test_contour_of_known_envelope():
    sr = 24000
    x = torch.cat([0.5 * torch.ones(256 * 4), torch.zeros(256 * 2), -0.25 * torch.ones(256 * 2)])
    assert energy_contour(x, sr).tolist() == [1, 1, 1, 1, 0, 0, 0.5, 0.5]
    # Only channel 0 counts.
    stereo = torch.stack([x, torch.ones_like(x)])
    assert energy_contour(stereo, sr).tolist() == [1, 1, 1, 1, 0, 0, 0.5, 0.5]


def test_contour_target_length_crops_before_normalising_and_pads_with_zeros():
    sr = 24000
    x = torch.cat([0.1 * torch.ones(256 * 3), torch.ones(256 * 3)])
    assert energy_contour(x, sr, target_len=3).tolist() == [1, 1, 1]  # peak of the cropped part
    padded = energy_contour(x, sr, target_len=9)
    assert padded.shape == (9,) and padded[6:].tolist() == [0, 0, 0] and padded[5] == 1


def test_silence_gives_zeros_not_nan():
    c = energy_contour(torch.zeros(1, 24000), 24000)
    assert c.shape == (93,) and torch.all(c == 0)
    assert energy_contour(torch.zeros(1, 100), 24000).shape == (0,)
    assert energy_contour(torch.zeros(1, 100), 24000, target_len=4).tolist() == [0, 0, 0, 0]


@settings(max_examples=30, deadline=None)
@given(sr=st.sampled_from([16000, 24000, 44100]), n=st.integers(0, 6000), target=st.none() | st.integers(0, 80),
       scale=st.floats(0.0, 10.0), seed=st.integers(0, 1000))
def test_contour_range_and_length(sr, n, target, scale, seed):
    wav = scale * torch.randn(1, n, generator=torch.Generator().manual_seed(seed))
    c = energy_contour(wav, sr, target_len=target)
    assert c.shape == ((contour_frames(n, sr) if target is None else target),)
    assert torch.all((c >= 0) & (c <= 1)) and not torch.isnan(c).any()
    if c.numel() and wav.abs().max() > 0 and target is None and n >= sr * 256 // 24000 + 1:
        assert c.max() == 1.0  # (a tiny scale can underflow to an all-zero float32 signal: then all zeros)


def test_fit_contour():
    c = torch.arange(5.0)
    assert fit_contour(c, 3).tolist() == [0, 1, 2]
    assert fit_contour(c, 7).tolist() == [0, 1, 2, 3, 4, 0, 0]


def test_frame_rms_db_matches_librosa():
    librosa = pytest.importorskip("librosa")
    sr = 16000
    x = (0.3 * torch.randn(sr, generator=torch.Generator().manual_seed(0))) * torch.linspace(0, 1, sr) ** 4
    ours = frame_rms_db(x, sr)
    rms = librosa.feature.rms(y=x.numpy())[0]
    ref = librosa.amplitude_to_db(rms, top_db=None)
    assert ours.shape == ref.shape
    assert np.abs(ours.numpy() - ref).max() < 1e-3


def test_frame_size_in_seconds_and_mono_mix():
    sr = 8000
    x = torch.ones(2, sr)
    x[1] = -1.0  # the mono mix of a polarity-inverted pair is silence
    assert torch.all(frame_rms_db(x, sr, frame=0.05, hop=0.0125) == -100.0)
    assert frame_rms_db(x[:1], sr, frame=400, hop=100).shape == frame_rms_db(x[:1], sr, frame=0.05, hop=0.0125).shape


def test_is_silent_follows_deepsound_rule():
    sr = 16000
    tone = 0.5 * torch.sin(2 * math.pi * 440 * torch.arange(sr * 2) / sr)
    assert not is_silent(tone, sr)
    assert is_silent(torch.zeros(1, sr), sr)
    assert is_silent(1e-4 * tone, sr)  # about -83 dB
    assert not is_silent(1e-2 * tone, sr)  # about -43 dB
    assert is_silent(torch.zeros(1, 0), sr)
    # Rule: silent when MORE than 90% of frames are below -50 dB.
    mostly_quiet = torch.cat([torch.zeros(int(sr * 1.9)), tone[: int(sr * 0.1)]])
    frac = silent_fraction(mostly_quiet, sr)
    assert 0.9 < frac < 1.0 and is_silent(mostly_quiet, sr)
    assert not is_silent(mostly_quiet, sr, fraction=frac)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_video_rate_contour_is_what_a_lip_contour_of_the_same_speech_looks_like(seed):
    """A face whose mouth opening is the speech energy per video frame (the toy world's faces), read
    back by the lip-contour resampler, gives the video-rate contour of that speech."""
    from deepaudio.data.toyworld.faces import video_energy
    from deepaudio.dsp.energy import video_rate_contour
    from deepaudio.vision.mouth import MouthTrack, track_to_contour

    rng = np.random.default_rng(seed)
    sr, fps, seconds = 24000, 25, 2.0 + seed
    t = np.arange(int(sr * seconds)) / sr
    syllables = np.clip(np.sin(2 * np.pi * rng.uniform(2, 5) * t + rng.uniform(0, 6)), 0, None) ** 2
    wav = (syllables * rng.standard_normal(t.size) * 0.3).astype(np.float32)
    n_video = int(seconds * fps)
    opening = torch.from_numpy(video_energy(wav, sr, fps, n_video))
    track = MouthTrack(torch.arange(n_video, dtype=torch.float64) / fps, opening, torch.ones(n_video, dtype=torch.bool),
                       float(fps), "test")
    n = contour_frames(wav.size, sr)
    lips = track_to_contour(track, n)
    ours = video_rate_contour(torch.from_numpy(wav), sr, fps, target_len=n)
    assert ours.shape == (n,) and float(ours.max()) == pytest.approx(1.0)
    assert torch.allclose(ours, lips, atol=1e-4)
    padded = video_rate_contour(torch.from_numpy(wav), sr, fps, target_len=n + 20)
    assert torch.equal(padded[n + 1:], torch.zeros(19)) and torch.allclose(padded[:n], ours, atol=1e-6)


def test_video_rate_contour_of_silence_and_bad_rate():
    from deepaudio.dsp.energy import video_rate_contour

    assert video_rate_contour(torch.zeros(24000), 24000, 25).abs().sum() == 0
    with pytest.raises(ValueError, match="fps"):
        video_rate_contour(torch.zeros(24000), 24000, 0)
