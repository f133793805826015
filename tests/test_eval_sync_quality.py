"""Onset AV alignment on a generated video, lip-sync on real speech, DNSMOS / VAD / silence."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deepaudio.errors import InputError
from deepaudio.eval import samples
from deepaudio.eval.quality import dnsmos, silence, speech_presence
from deepaudio.eval.sync import lip_sync, onset_alignment, read_mouth_contour, speech_envelope

FPS = 25
EVENTS = [0.4, 1.2, 1.72, 2.6, 3.28]


def _flash_video(path, n_frames=100, size=32):
    import av

    with av.open(str(path), "w") as box:
        stream = box.add_stream("mpeg4", rate=FPS)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        rng = np.random.default_rng(0)
        for i in range(n_frames):
            img = np.full((size, size, 3), 40, np.uint8)
            img += rng.integers(0, 3, img.shape, dtype=np.uint8)
            if any(int(round(t * FPS)) == i for t in EVENTS):
                img[:] = 230
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            for packet in stream.encode(frame):
                box.mux(packet)
        for packet in stream.encode():
            box.mux(packet)


def _clicks(offset_s, sr=16000, dur=4.0):
    rng = np.random.default_rng(1)
    x = 0.001 * rng.normal(size=int(sr * dur))
    for t in EVENTS:
        i = int((t + offset_s) * sr)
        x[i:i + 800] += 0.5 * rng.normal(size=800) * np.exp(-np.arange(800) / 200)
    return torch.from_numpy(x.astype(np.float32))[None], sr


def test_onset_alignment_measures_offset(tmp_path):
    video = tmp_path / "flash.mp4"
    _flash_video(video)
    synced = onset_alignment(video, *_clicks(0.0))
    late = onset_alignment(video, *_clicks(0.12))
    assert synced.matched >= 4 and synced.median_abs_ms <= 25.0, synced
    assert late.matched >= 4 and 95.0 <= late.median_abs_ms <= 145.0 and late.median_offset_ms > 0, late


def test_lip_sync_recovers_shift_on_real_speech(tmp_path):
    try:
        utts = samples.librivox_utterances()
    except Exception as exc:  # noqa: BLE001
        pytest.skip(str(exc))
    wav, sr = samples._read(utts[1][0])
    other, _ = samples._read(utts[4][0])
    n = int(wav.shape[-1] / sr * FPS)
    env = speech_envelope(wav, sr, FPS, n)
    mouth = np.concatenate([env[3:], np.zeros(3)])  # lips move 3 frames (120 ms) before the sound
    res = lip_sync(mouth, wav, sr, FPS)
    assert res.offset_ms == pytest.approx(120.0) and res.correlation > 0.99
    assert res.correlation_at_zero < res.correlation
    assert lip_sync(mouth, other, sr, FPS).correlation < 0.6

    video = tmp_path / "clip.mp4"
    with pytest.raises(InputError, match="mouth contour"):
        read_mouth_contour(video)
    (tmp_path / "clip.mouth.csv").write_text("time,mouth_open\n" + "".join(f"{i / 25},{v}\n" for i, v in
                                                                           enumerate(mouth)))
    values, rate = read_mouth_contour(video)
    assert rate == pytest.approx(25.0) and np.allclose(values, mouth)


def test_dnsmos_vad_silence_on_real_speech():
    try:
        wav, sr = samples._read(samples.librivox_utterances()[1][0])
    except Exception as exc:  # noqa: BLE001
        pytest.skip(str(exc))
    noise = torch.randn(1, sr * 3, generator=torch.Generator().manual_seed(0)) * 0.1
    clean, noisy = dnsmos(wav, sr), dnsmos(noise, sr)
    assert clean["ovrl"] > noisy["ovrl"] + 1.0, (clean, noisy)
    assert speech_presence(wav, sr)["has_speech"] == 1.0
    assert speech_presence(wav, sr)["speech_fraction"] > 0.5
    assert speech_presence(noise * 0.1, sr)["has_speech"] == 0.0
    assert silence(wav, sr)["is_silent"] == 0.0
    quiet = torch.cat([wav * 0.0, wav[:, : sr // 4]], dim=1)
    assert silence(quiet, sr)["silence_fraction"] > 0.8
