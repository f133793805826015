"""deepaudio.io.mux: video packets copied bit for bit, new AAC tracks with titles, sync and durations."""

from __future__ import annotations

import av
import pytest
import torch

from deepaudio.errors import MediaError, OutputPathError
from deepaudio.io import testmedia as tm
from deepaudio.io.audio import load_audio
from deepaudio.io.mux import mux_audio
from deepaudio.io.video import probe_video, read_frames, write_video


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """2 s at 25 fps with its own (beeping) audio track that muxing must replace."""
    return tm.moving_square_video(tmp_path_factory.mktemp("m") / "in.mp4", duration=2.0, fps=25)


def _video_packets(path):
    with av.open(str(path)) as c:
        st = c.streams.video[0]
        return [(bytes(p), float(p.pts * p.time_base), p.is_keyframe) for p in c.demux(st) if p.size]


def test_video_packets_are_bit_identical_and_tracks_replace_old_audio(tmp_path, clip):
    mix, sr = tm.tone(2.0, 24000, (440.0, 660.0))
    speech, _ = tm.tone(2.0, 24000, (300.0,))
    out = mux_audio(clip.path, [(mix, sr, "mix", "eng"), (speech, sr, "speech only", "deu")], tmp_path / "o.mp4")
    src, dst = _video_packets(clip.path), _video_packets(out)
    assert len(dst) == 50
    assert [p[0] for p in src] == [p[0] for p in dst]  # the compressed picture is untouched
    assert [p[1] for p in src] == pytest.approx([p[1] for p in dst])
    with av.open(str(out)) as c:
        audio = c.streams.audio
        assert len(audio) == 2 and all(a.codec_context.name == "aac" for a in audio)
        assert [a.metadata.get("language") for a in audio] == ["eng", "deu"]
        titles = [a.metadata.get("title") or a.metadata.get("name") or a.metadata.get("handler_name") for a in audio]
        assert titles == ["mix", "speech only"]
        assert bool(audio[0].disposition & av.stream.Disposition.default)
        assert not audio[1].disposition & av.stream.Disposition.default
    for index, (channels, freq) in enumerate([(2, 440.0), (1, 300.0)]):
        wav, rate = load_audio(out, stream=index)
        assert rate == sr and wav.shape[0] == channels
        assert abs(wav.shape[1] / rate - 2.0) < 1e-3  # decodes back to the video's duration
        assert abs(tm.dominant_frequency(wav, rate) - freq) < 1.0
        assert float(wav[:, 2000:].abs().max()) < 0.7  # the old beeps (1 kHz, 0.5) are gone: only tones
        assert abs(tm.dominant_frequency(wav[:, int(0.39 * sr):int(0.45 * sr)], rate) - freq) < 30


def test_tracks_are_fitted_to_the_video_and_stay_in_sync(tmp_path, clip):
    sr = 16000
    beep = tm.beep_track(int(3.0 * sr), sr, onsets=(0.8,), length=0.04)  # longer than the video
    out = mux_audio(clip.path, [(beep, sr, "beep")], tmp_path / "b.mkv")
    wav, rate = load_audio(out)
    assert rate == sr and abs(wav.shape[1] - 2 * sr) <= 1024  # trimmed to 2 s (mkv: up to one AAC frame more)
    onset = int(torch.nonzero(wav[0].abs() > 0.2)[0]) / sr
    assert abs(onset - 0.8) < 0.005  # sample 0 of the track is frame 0 of the video
    short = mux_audio(clip.path, [(beep[:, :sr // 2], sr, "short")], tmp_path / "s.mp4")
    wav, _ = load_audio(short)
    assert abs(wav.shape[1] - 2 * sr) <= 1  # padded with silence
    raw = mux_audio(clip.path, [(beep[:, :sr // 2], sr, "raw")], tmp_path / "r.mp4", match_video=False)
    assert abs(load_audio(raw)[0].shape[1] - sr // 2) <= 1
    assert probe_video(out).n_frames == 50 and read_frames(out, fps=5)[0].shape[0] == 10


def test_rotation_survives_muxing(tmp_path):
    img = tm.frame_code(1, 64, 48)
    src = write_video(tmp_path / "rot.mp4", [img] * 3, 10, rotation=-90)
    out = mux_audio(src, [tm.tone(0.3, 16000) + ("t",)], tmp_path / "rot_out.mp4")
    info = probe_video(out)
    assert (info.rotation, info.width, info.height) == (-90, 48, 64)


def test_mux_errors(tmp_path, clip):
    wav, sr = tm.tone(0.5, 16000)
    with pytest.raises(OutputPathError, match="same as an input"):
        mux_audio(clip.path, [(wav, sr, "x")], clip.path)
    with pytest.raises(OutputPathError, match="cannot mux"):
        mux_audio(clip.path, [(wav, sr, "x")], tmp_path / "o.wav")
    audio_only = tm.stereo_tone_file(tmp_path / "a.m4a")
    with pytest.raises(MediaError, match="no video stream"):
        mux_audio(audio_only, [(wav, sr, "x")], tmp_path / "o.mp4")
    with pytest.raises(MediaError, match="empty"):
        (tmp_path / "e.mp4").write_bytes(b"")
        mux_audio(tmp_path / "e.mp4", [(wav, sr, "x")], tmp_path / "o.mp4")
    with pytest.raises(ValueError, match="channels"):
        mux_audio(clip.path, [(torch.zeros(3, 100), sr, "x")], tmp_path / "o.mp4")
    assert not (tmp_path / "o.mp4").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp files left behind
