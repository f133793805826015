"""Mouth-opening timing: recovered contours follow the speech that drove the drawn mouth."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deepaudio.data.toyworld.faces import random_face, video_energy
from deepaudio.data.toyworld.render import Canvas
from deepaudio.dsp.energy import energy_contour
from deepaudio.errors import InputError
from deepaudio.perception.faces import available_backends, make_backend
from deepaudio.perception.mouth import fill_gaps, mouth_contour, mouth_track, track_to_contour

SR, FPS, SIZE = 24000, 25, 112


def speechlike(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """Noise under syllable-shaped bumps with word and phrase pauses (timing like speech, no voice)."""
    n = int(seconds * SR)
    t = np.arange(n) / SR
    env = np.zeros(n)
    s = 0.3
    while s < seconds - 0.4:
        d, a = rng.uniform(0.08, 0.3), rng.uniform(0.3, 1.0)
        m = (t >= s) & (t < s + d)
        env[m] = a * np.sin(np.pi * (t[m] - s) / d)
        s += d + (rng.uniform(0.02, 0.1) if rng.random() < 0.8 else rng.uniform(0.3, 0.7))
    return (env * rng.standard_normal(n) * 0.2).astype(np.float32)


def talking_face(seed: int, seconds: float = 3.0, radius: float = 0.3, with_face: bool = True):
    """A toy-world cartoon face whose mouth follows a speech-like track (as ``ToyWorld`` draws them),
    with one blink; or, without a face, a dark ball bouncing in front of the background."""
    rng = np.random.default_rng(seed)
    wav = speechlike(rng, seconds)
    n = int(seconds * FPS)
    mouth = video_energy(wav, SR, FPS, n)
    face = random_face(rng, 0.5 * SIZE, 0.52 * SIZE, radius * SIZE)
    bg = tuple(int(c) for c in rng.integers(200, 250, size=3))
    canvas, sprites = Canvas(SIZE, bg), {}
    frames = np.empty((n, SIZE, SIZE, 3), np.uint8)
    for k in range(n):
        canvas.clear(bg)
        if with_face:
            face.draw(canvas, float(mouth[k]), 20 <= k < 23, sprites)
        else:
            canvas.disc(20 + 0.8 * k, 40 + 30 * abs(np.sin(k / 6)), 6 + 4 * mouth[k], (30, 30, 40))
            canvas.disc(70, 30, 5, (30, 30, 40))
        frames[k] = canvas.frame()
    return frames, wav, mouth


def test_cartoon_mouth_follows_speech_energy():
    frames, wav, mouth = talking_face(0)
    track = mouth_track((frames, FPS), toy=True)
    assert track.backend in available_backends()
    assert track.face_fraction > 0.9  # only the blink frames may be missed
    assert np.corrcoef(track.opening.numpy(), mouth)[0, 1] > 0.9
    contour = track_to_contour(track)
    assert contour.numel() == round(3.0 * 93.75) and contour.dtype == torch.float32
    assert float(contour.min()) >= 0.0 and float(contour.max()) == pytest.approx(1.0)
    energy = energy_contour(torch.from_numpy(wav), SR, target_len=contour.numel())
    assert np.corrcoef(contour.numpy(), energy.numpy())[0, 1] > 0.6


def test_small_face_and_requested_length(tmp_path):
    from deepaudio.data.toyworld import write_toy_video

    frames, wav, mouth = talking_face(1, radius=0.2)
    path = tmp_path / "talk.mp4"
    write_toy_video(path, frames, FPS)
    contour = mouth_contour(path, n_frames=300)
    assert contour.shape == (300,)
    assert float(contour[282:].abs().max()) == 0.0  # past the 3 s video: zero padding
    energy = energy_contour(torch.from_numpy(wav), SR, target_len=281)
    assert np.corrcoef(contour[:281].numpy(), energy.numpy())[0, 1] > 0.6


def test_no_face_is_a_one_line_input_error(tmp_path):
    from deepaudio.io.video import write_video

    frames, _, _ = talking_face(2, with_face=False)
    assert not any(make_backend("toon")(f) for f in frames[::10])
    path = tmp_path / "balls.mp4"
    write_video(path, frames, FPS)
    with pytest.raises(InputError) as err:
        mouth_contour(path)
    msg = str(err.value)
    assert "\n" not in msg and str(path) in msg and "face" in msg and "--timing v2a" in msg


def test_still_face_is_an_input_error():
    frames, _, _ = talking_face(3)
    still = np.repeat(frames[:1], len(frames), axis=0)
    with pytest.raises(InputError, match="does not move"):
        mouth_contour((still, FPS), backend="toon")


def test_cartoon_detector_runs_only_on_toy_world_videos(tmp_path):
    """The same cartoon clip: tagged by the toy world, ``auto`` reads its mouth; untagged (as any real
    footage is), ``auto`` uses real face detectors only and sees no face, and ``toon`` must be asked for."""
    from deepaudio.data.toyworld import write_toy_video
    from deepaudio.io.video import video_tags, write_video
    from deepaudio.perception.toon import TOY_WORLD_COMMENT, is_toy_world_video

    frames, _, _ = talking_face(7, seconds=1.6)
    toy, plain = write_toy_video(tmp_path / "toy.mp4", frames, FPS), write_video(tmp_path / "plain.mp4", frames, FPS)
    assert video_tags(toy)["comment"] == TOY_WORLD_COMMENT and is_toy_world_video(toy)
    assert not is_toy_world_video(plain) and not is_toy_world_video((frames, FPS))
    from deepaudio.io.mux import mux_audio

    muxed = mux_audio(toy, [(torch.zeros(1, SR), SR, "mix")], tmp_path / "toy_audio.mp4")
    assert is_toy_world_video(muxed)  # the tag survives adding a sound track (the data set's video_audio.mp4)
    assert mouth_track(toy).backend == "toon" and mouth_track(toy).face_fraction > 0.9
    untagged = mouth_track(plain)
    assert untagged.backend != "toon" and untagged.face_fraction == 0.0
    assert mouth_track(plain, backend="toon").face_fraction > 0.9


def test_gaps_are_interpolated_only_when_short():
    values = np.array([0.0, 1.0, 9.0, 9.0, 3.0, 9.0, 9.0, 9.0, 9.0, 1.0])
    present = np.array([1, 1, 0, 0, 1, 0, 0, 0, 0, 1], bool)
    out = fill_gaps(values, present, max_gap=2)
    np.testing.assert_allclose(out[:5], [0.0, 1.0, 5 / 3, 7 / 3, 3.0])
    np.testing.assert_allclose(out[5:9], 0.0)


def test_unknown_backend_is_a_config_error():
    from deepaudio.errors import ConfigError

    with pytest.raises(ConfigError, match="face backend"):
        make_backend("opencv")


def test_large_video_is_scaled_down_and_sampled_at_the_given_rate(tmp_path):
    from deepaudio.data.toyworld import write_toy_video
    from deepaudio.perception.mouth import MAX_SIDE

    frames, wav, _ = talking_face(4, seconds=1.6)
    big = np.repeat(np.repeat(frames, 6, axis=1), 6, axis=2)  # 672 x 672
    path = tmp_path / "big.mp4"
    write_toy_video(path, big, FPS)
    track = mouth_track(path, fps=12.5)
    assert track.fps == 12.5 and track.opening.numel() == 20 and MAX_SIDE < 672
    contour = track_to_contour(track)
    energy = energy_contour(torch.from_numpy(wav), SR, target_len=contour.numel())
    assert np.corrcoef(contour.numpy(), energy.numpy())[0, 1] > 0.6


def test_mediapipe_backend_is_used_when_installed_and_refused_cleanly_when_not():
    import importlib.util

    from deepaudio.errors import BackendUnavailable

    if importlib.util.find_spec("mediapipe") is None:
        assert "mediapipe" not in available_backends()
        with pytest.raises(BackendUnavailable, match="mediapipe"):
            make_backend("mediapipe")
    else:
        frames, _, mouth = talking_face(7, seconds=2.0)
        track = mouth_track((frames, FPS), backend="mediapipe")
        assert track.face_fraction > 0.8 and np.corrcoef(track.opening.numpy(), mouth)[0, 1] > 0.6
