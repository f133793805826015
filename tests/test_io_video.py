"""deepaudio.io.video on real generated videos: probe, frame clock (CFR and VFR), crops, rotation,
bounded-memory streaming, writing, and the one-line errors."""

from __future__ import annotations

import inspect
import shutil
import subprocess
import weakref
from fractions import Fraction

import av
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deepaudio.errors import MediaError, OutputPathError
from deepaudio.io import testmedia as tm
from deepaudio.io import video as vio
from deepaudio.io.video import iter_frames, probe_video, read_frames, write_video


@pytest.fixture(scope="module")
def square(tmp_path_factory):
    """2 s at 25 fps, 160 x 120, beeps at frames 10 and 30."""
    return tm.moving_square_video(tmp_path_factory.mktemp("v") / "square.mp4", duration=2.0, fps=25,
                                  width=160, height=120)


@pytest.fixture(scope="module")
def vfr(tmp_path_factory):
    return tm.vfr_video(tmp_path_factory.mktemp("v") / "vfr.mp4")


def test_probe(square):
    info = probe_video(square.path)
    assert (info.width, info.height, info.rotation) == (160, 120, 0)
    assert info.fps == pytest.approx(25.0) and info.duration == pytest.approx(2.0, abs=1e-3)
    assert info.n_frames == 50 and info.has_audio and info.audio_sample_rate == 16000
    assert info.video_codec in ("h264", "mpeg4") and not info.is_vfr
    assert info.to_dict()["n_frames"] == 50


@pytest.mark.parametrize("fps", [8, 25])
def test_frame_clock_at_target_fps(square, fps):
    frames, times = read_frames(square.path, fps=fps)
    assert frames.dtype == torch.uint8 and frames.shape == (2 * fps, 120, 160, 3)
    assert torch.allclose(times, torch.arange(2 * fps, dtype=torch.float64) / fps)
    # the frame shown at k / fps is source frame floor(k * 25 / fps)
    want = [int(np.floor(k * 25 / fps + 1e-9)) for k in range(2 * fps)]
    assert [tm.read_code(f) for f in frames] == want


def test_start_and_duration(square):
    frames, times = read_frames(square.path, fps=8, start=0.9, duration=0.5)
    assert times.tolist() == pytest.approx([0.9, 1.025, 1.15, 1.275])
    assert [tm.read_code(f) for f in frames] == [22, 25, 28, 31]


def test_seeking_start_is_frame_accurate_with_many_keyframes(tmp_path):
    frames = (tm.frame_code(i, 80, 48) for i in range(60))
    path = write_video(tmp_path / "gop.mp4", frames, 20, gop=4)  # keyframes every 0.2 s: start seeks
    got, times = read_frames(path, fps=8, start=1.33, duration=0.5)
    assert times.tolist() == pytest.approx([1.33, 1.455, 1.58, 1.705])
    assert [tm.read_code(f) for f in got] == [26, 29, 31, 34]
    tail, _ = read_frames(path, fps=8, start=2.9)
    assert [tm.read_code(f) for f in tail] == [58]
    with pytest.raises(MediaError, match="no frames between"):
        read_frames(path, fps=8, start=3.5)


def test_fps_above_source_repeats_frames_as_copies(square):
    frames, times = read_frames(square.path, fps=50, duration=0.2)
    assert [tm.read_code(f) for f in frames] == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    pairs = list(iter_frames(square.path, fps=50, duration=0.08))
    assert pairs[0][0].data_ptr() != pairs[1][0].data_ptr()  # a repeat is not the same buffer


def test_vfr_sampling_picks_latest_frame_at_or_before_each_time(vfr):
    info = probe_video(vfr.path)
    assert info.is_vfr and info.n_frames == 8 and info.duration == pytest.approx(1.8, abs=1e-3)
    frames, times = read_frames(vfr.path, fps=10)
    assert len(frames) == 18
    ts = np.array(vfr.timestamps)
    want = [int(np.searchsorted(ts, t + 1e-9, side="right") - 1) for t in times.tolist()]
    assert [tm.read_code(f) for f in frames] == want
    assert want[:6] == [0, 1, 1, 2, 4, 4]
    native, ntimes = read_frames(vfr.path)
    assert ntimes.tolist() == pytest.approx(list(vfr.timestamps), abs=1e-4)
    assert [tm.read_code(f) for f in native] == list(range(8))


@pytest.mark.parametrize("size,crop,shape", [(64, "center", (64, 64)), ((48, 80), "center", (48, 80)),
                                             (96, "resize", (96, 96)), ((30, 50), "resize", (30, 50))])
def test_resize_and_crop_shapes(square, size, crop, shape):
    frames, _ = read_frames(square.path, fps=8, size=size, crop=crop, duration=0.5)
    assert frames.shape == (4, *shape, 3)


def test_center_crop_matches_torchvision_geometry(square):
    # Resize(64) of 160x120 gives 85x64 (long side truncated), CenterCrop(64) keeps columns 10..73.
    assert vio.resize_plan(160, 120, (64, 64), "center") == (85, 64, (0, 10))
    assert vio.resize_plan(120, 160, (224, 224), "center") == (224, 298, (37, 0))
    full, _ = read_frames(square.path, fps=8, size=(64, 85), crop="resize", duration=0.25)
    crop, _ = read_frames(square.path, fps=8, size=64, crop="center", duration=0.25)
    assert (full[0, :, 10:74].int() - crop[0].int()).abs().max() <= 2


@pytest.mark.parametrize("rotation,shape,marker", [(90, (64, 48), "bottom-left"), (-90, (64, 48), "top-right"),
                                                    (180, (48, 64), "bottom-right")])
def test_rotation_is_applied_like_ffmpeg(tmp_path, rotation, shape, marker):
    img = np.full((48, 64, 3), 30, np.uint8)
    img[:8, :8] = 255  # marker at the top-left of the coded picture
    path = write_video(tmp_path / "rot.mp4", [img] * 4, 10, rotation=rotation)
    info = probe_video(path)
    assert (info.rotation, (info.height, info.width), info.coded_width) == (rotation, shape, 64)
    frames, _ = read_frames(path)
    assert frames.shape == (4, *shape, 3)
    ys, xs = np.nonzero(frames[0].numpy().mean(-1) > 128)
    where = ("top" if ys.mean() < shape[0] / 2 else "bottom") + "-" + ("left" if xs.mean() < shape[1] / 2 else "right")
    assert where == marker
    raw, _ = next(iter_frames(path, autorotate=False))
    assert raw.shape == (48, 64, 3)
    if shutil.which("ffmpeg"):  # the ffmpeg command line autorotates too: same pixels
        proc = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-frames:v", "1", "-f", "rawvideo",
                               "-pix_fmt", "rgb24", "-"], capture_output=True, check=True)
        ref = np.frombuffer(proc.stdout, np.uint8).reshape(*shape, 3)
        assert np.abs(ref.astype(int) - frames[0].numpy()).max() <= 2


def test_iter_frames_streams_in_bounded_memory(tmp_path, monkeypatch):
    """30 s at 10 fps sampled at 1 fps: frames are produced lazily, and the generator keeps none of the
    frames it already gave out, and reads the file progressively (not all at once)."""
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)

    def frame(i):
        img = np.roll(noise, 3 * i, axis=1)
        img[:12] = tm.frame_code(i, 64, 48)[:12]  # the coded band stays readable above the noise
        return img

    path = write_video(tmp_path / "long.mp4", (frame(i) for i in range(300)), 10, preset="ultrafast", crf=23)
    size = path.stat().st_size

    reads = {"bytes": 0}
    real_open = vio.open_media

    def counting_open(p):
        container = real_open(p)
        fh = open(p, "rb")  # noqa: SIM115 - closed with the container below
        container.close()
        original_read = fh.read

        class Counting:
            def read(self, n=-1):
                data = original_read(n)
                reads["bytes"] += len(data)
                return data

            def seek(self, *a):
                return fh.seek(*a)

            def tell(self):
                return fh.tell()

        return av.open(Counting(), format="mp4")

    monkeypatch.setattr(vio, "open_media", counting_open)
    gen = iter_frames(path, fps=1)
    assert inspect.isgenerator(gen)
    refs, times = [], []
    for i, (img, t) in enumerate(gen):
        if i == 2:
            assert reads["bytes"] < 0.5 * size, (reads, size)  # only the start of the file was read
        assert tm.read_code(img) == 10 * i
        refs.append(weakref.ref(img))
        times.append(t)
        del img  # tensors are freed by reference counting: a live weakref means the generator kept it
        alive = sum(r() is not None for r in refs)
        assert alive <= 1, f"generator holds {alive} earlier frames"
    assert times == [float(k) for k in range(30)]


def test_read_frames_refuses_requests_beyond_max_bytes(square):
    with pytest.raises(MediaError, match="iter_frames"):
        read_frames(square.path, fps=25, max_bytes=10_000)


def test_write_video_variants(tmp_path):
    odd = [np.full((33, 47, 3), i * 20, np.uint8) for i in range(5)]
    path = write_video(tmp_path / "odd.mp4", odd, 12.5)
    info = probe_video(path)
    assert (info.width, info.height, info.n_frames) == (48, 34, 5) and info.fps == pytest.approx(12.5)
    t = torch.stack([torch.from_numpy(tm.frame_code(i, 64, 48)) for i in range(6)])
    mk = write_video(tmp_path / "m.mkv", t, Fraction(30000, 1001), codec="mpeg4")
    frames, _ = read_frames(mk)
    assert [tm.read_code(f) for f in frames] == list(range(6))
    assert probe_video(mk).fps == pytest.approx(29.97, abs=0.01)
    with pytest.raises(ValueError, match="uint8"):
        write_video(tmp_path / "f.mp4", np.zeros((2, 8, 8, 3), np.float32), 10)
    with pytest.raises(OutputPathError, match="unknown video format"):
        write_video(tmp_path / "x.gif", odd, 10)
    with pytest.raises(OutputPathError, match="same as an input"):
        write_video(path, odd, 10, inputs=[path])
    with pytest.raises(OutputPathError, match="output folder is a file"):
        write_video(path / "sub.mp4", odd, 10)  # unwritable: the parent is a regular file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.mkv", "odd.mp4"]


def test_write_video_with_audio_keeps_sync(tmp_path):
    clip = tm.moving_square_video(tmp_path / "a.mp4", duration=1.6, fps=20, beep_frames=(8,), sample_rate=24000)
    info = probe_video(clip.path)
    assert info.has_audio and info.audio_sample_rate == 24000 and info.n_frames == 32
    from deepaudio.io.audio import load_audio

    wav, sr = load_audio(clip.path)
    onset = int(torch.nonzero(wav[0].abs() > 0.2)[0]) / sr
    assert abs(onset - 0.4) < 0.01


def _zero_frame_video(path):
    """A Matroska file that declares a video track but holds no video frame (only 0.5 s of audio)."""
    from deepaudio.io.audio import add_audio_stream, encode_audio_packets

    with av.open(str(path), "w") as c:
        s = c.add_stream("mpeg4", rate=10)
        s.width, s.height, s.pix_fmt = 32, 32, "yuv420p"
        a = add_audio_stream(c, 1, 16000)
        for pkt in encode_audio_packets(a, np.zeros((1, 8000), np.float32), 16000):
            c.mux(pkt)
    return path


def test_video_errors_are_one_line_media_errors(tmp_path, square):
    (tmp_path / "empty.mp4").write_bytes(b"")
    audio_only = tm.stereo_tone_file(tmp_path / "tone.wav")
    faststart_cut = tm.truncated_copy(square.path, tmp_path / "cut.mp4", 0.5)
    plain = write_video(tmp_path / "plain.mp4", [tm.frame_code(i, 32, 32) for i in range(10)], 10, faststart=False)
    tail_cut = tm.truncated_copy(plain, tmp_path / "cut2.mp4", 0.5)
    cases = {
        tmp_path / "nope.mp4": "not found",
        tmp_path / "empty.mp4": "empty",
        tm.garbage_file(tmp_path / "garbage.mp4"): "cannot be opened",
        faststart_cut: "truncated",
        tail_cut: "truncated",
        audio_only: "no video stream",
        _zero_frame_video(tmp_path / "zero.mkv"): "zero duration",
    }
    for path, what in cases.items():
        for call in (probe_video, lambda p: read_frames(p, fps=8)):
            with pytest.raises(MediaError) as err:
                call(path)
            msg = str(err.value)
            assert "\n" not in msg and str(path) in msg and what in msg, (path, msg)
    assert not probe_video(audio_only, require_video=False).has_video


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(gaps=st.lists(st.integers(1, 400), min_size=2, max_size=16), fps=st.sampled_from([1, 3, 7.5, 8, 24, 25, 29.97]),
       start_ms=st.integers(0, 500))
def test_vfr_sampling_rule_property(tmp_path, gaps, fps, start_ms):
    """Random VFR clocks (ms grid): every sample is the latest frame at or before its target time."""
    ts = np.cumsum([0, *gaps[:-1]]) / 1000.0
    end = ts[-1] + gaps[-1] / 1000.0
    clip = tm.vfr_video(tmp_path / f"p{len(gaps)}_{start_ms}.mp4", timestamps=ts.tolist(), width=80, height=32, end=end)
    start = min(start_ms / 1000.0, float(ts[-1]))
    frames, times = read_frames(clip.path, fps=fps, start=start)
    expected_times = [start + k / fps for k in range(int(np.ceil((end - start) * fps - 1e-6)))]
    assert times.tolist() == pytest.approx(expected_times)
    want = [int(np.searchsorted(ts, t + 1e-6, side="right") - 1) for t in expected_times]
    assert [tm.read_code(f, 80, 32) for f in frames] == want
