"""deepaudio.io.audio on real files: formats, resampling accuracy, channels, levels, errors."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from deepaudio.dsp.loudness import rms
from deepaudio.errors import MediaError, OutputPathError
from deepaudio.io import testmedia as tm
from deepaudio.io.audio import (
    load_audio,
    resample,
    save_audio,
    to_channels,
    to_mono,
)


@pytest.mark.parametrize("suffix", [".wav", ".flac"])
def test_lossless_roundtrip(tmp_path, suffix):
    wav, sr = tm.tone(0.5, 16000, (440.0, 660.0))
    path = save_audio(tmp_path / f"t{suffix}", wav, sr)
    back, sr2 = load_audio(path)
    assert sr2 == sr and back.dtype == torch.float32 and back.shape == wav.shape
    assert (back - wav).abs().max() < 1.5 / 32768  # 16-bit PCM


def test_float_wav_is_exact(tmp_path):
    wav, sr = tm.tone(0.25, 22050, (1234.5,))
    back, _ = load_audio(save_audio(tmp_path / "f.wav", wav * 1.5, sr, subtype="FLOAT"))
    assert torch.equal(back, wav * 1.5)  # FLOAT keeps values above full scale


@pytest.mark.parametrize("suffix", [".m4a", ".mp3", ".ogg"])
def test_lossy_formats_keep_tones_and_length(tmp_path, suffix):
    wav, sr = tm.tone(1.0, 16000, (440.0, 660.0))
    back, sr2 = load_audio(save_audio(tmp_path / f"t{suffix}", wav, sr))
    rate = sr2
    assert back.shape[0] == 2
    assert abs(back.shape[1] / rate - 1.0) < 0.08  # codec priming/padding at most a few frames
    for ch, f in enumerate((440.0, 660.0)):
        assert abs(tm.dominant_frequency(back[ch:ch + 1], rate) - f) < 2.0


def test_pyav_fallback_reads_audio_track_of_video(tmp_path):
    clip = tm.moving_square_video(tmp_path / "v.mp4", duration=2.0, fps=25, beep_frames=(10, 30))
    wav, sr = load_audio(clip.path)
    assert sr == 16000 and wav.shape[0] == 1
    assert abs(wav.shape[1] - 2 * sr) <= 1
    env = wav[0].abs().unfold(0, 80, 80).max(dim=1).values  # 5 ms envelope
    onsets = [(i * 80) / sr for i in range(1, env.numel()) if env[i] > 0.2 and env[i - 1] <= 0.2]
    assert len(onsets) == 2
    for got, want in zip(onsets, clip.beep_times):
        assert abs(got - want) < 0.012, (onsets, clip.beep_times)


def test_load_mono_and_resample(tmp_path):
    wav, sr = tm.tone(1.0, 44100, (1000.0, 1000.0))
    path = save_audio(tmp_path / "s.wav", wav, sr)
    mono, sr2 = load_audio(path, sample_rate=16000, mono=True)
    assert sr2 == 16000 and mono.shape == (1, 16000)
    assert abs(tm.dominant_frequency(mono, 16000) - 1000.0) < 0.5


@pytest.mark.parametrize("sr_in,sr_out", [(44100, 16000), (16000, 24000), (48000, 44100)])
def test_resample_keeps_frequency_and_length(sr_in, sr_out):
    wav, _ = tm.tone(1.0, sr_in, (997.0,))
    out = resample(wav, sr_in, sr_out)
    assert out.shape == (1, round(sr_in * 1.0 * sr_out / sr_in)) and out.dtype == torch.float32
    assert abs(tm.dominant_frequency(out, sr_out) - 997.0) < 0.5
    mid = out[0, 2000:-2000]
    assert abs(float(mid.abs().max()) - 0.5) < 0.01  # no gain change in the pass band


def test_resample_removes_content_above_new_nyquist_and_keeps_shape():
    wav, _ = tm.tone(0.5, 48000, (12000.0,))
    out = resample(wav, 48000, 16000)  # 12 kHz cannot exist at 16 kHz: must not alias to 4 kHz
    assert float(rms(out[..., 500:-500])) < 1e-3
    batch = torch.randn(2, 3, 4800)
    assert resample(batch, 48000, 16000).shape == (2, 3, 1600)
    assert torch.equal(resample(batch, 16000, 16000), batch)


def test_channels():
    st = torch.stack([torch.ones(10), -torch.ones(10) * 0.5])
    assert torch.allclose(to_mono(st), torch.full((1, 10), 0.25))
    assert to_mono(torch.ones(7)).shape == (1, 7)
    up = to_channels(torch.ones(1, 5), 2)
    assert up.shape == (2, 5)
    up[0, 0] = 3.0
    assert up[1, 0] == 1.0  # a real copy, not a view of one row


def test_save_audio_is_atomic_and_guards_paths(tmp_path):
    wav, sr = tm.tone(0.1, 16000, (440.0,))
    src = save_audio(tmp_path / "a.wav", wav, sr)
    with pytest.raises(OutputPathError, match="same as an input"):
        save_audio(src, wav, sr, inputs=[src])
    with pytest.raises(OutputPathError, match="unknown audio format"):
        save_audio(tmp_path / "a.xyz", wav, sr)
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    with pytest.raises(OutputPathError):
        save_audio(blocker / "out.wav", wav, sr)  # the "folder" is a file: cannot be written
    with pytest.raises(ValueError):
        save_audio(tmp_path / "b.wav", torch.zeros(1, 0), sr)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.wav", "file.txt"]  # no temp files left


def test_audio_errors_are_one_line_media_errors(tmp_path):
    cases = {}
    cases["missing"] = tmp_path / "missing.wav"
    (tmp_path / "empty.wav").write_bytes(b"")
    cases["empty"] = tmp_path / "empty.wav"
    cases["garbage"] = tm.garbage_file(tmp_path / "garbage.mp3")
    good = save_audio(tmp_path / "good.wav", *tm.tone(1.0, 16000))
    cases["truncated"] = tm.truncated_copy(good, tmp_path / "cut.wav", 0.5)
    for suffix in (".flac", ".ogg", ".mp3"):
        long = save_audio(tmp_path / f"long{suffix}", *tm.tone(4.0, 16000))
        cases[f"truncated{suffix}"] = tm.truncated_copy(long, tmp_path / f"cut{suffix}", 0.5)
    sf.write(tmp_path / "zero.wav", np.zeros((0, 1), np.float32), 16000)
    cases["zero"] = tmp_path / "zero.wav"
    clip = tm.moving_square_video(tmp_path / "silent.mp4", duration=0.4, fps=10, beep_frames=(), sample_rate=None)
    cases["no audio"] = clip.path
    expect = {"missing": "not found", "empty": "empty", "garbage": "cannot be opened", "truncated": "truncated",
              "zero": "no audio samples", "no audio": "no audio stream"}
    expect.update({f"truncated{suffix}": "truncated" for suffix in (".flac", ".ogg", ".mp3")})
    for name, path in cases.items():
        with pytest.raises(MediaError) as err:
            load_audio(path)
        msg = str(err.value)
        assert "\n" not in msg and str(path) in msg and expect[name] in msg, (name, msg)
