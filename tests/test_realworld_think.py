"""``think`` and lip timing on footage that is not the toy world (small cases of ``data.realworld``).

``tests/data/astronaut_face.jpg``: the face of scikit-image's ``astronaut.png`` (NASA portrait of Eileen
Collins, public domain), cropped and scaled to 160 x 160. The bouncing-ball case is the one that failed
(the cartoon detector took the ball for a face and kept the narrator's speech).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from deepaudio.data.realworld import SIZE, Material, Photo, make_clip, music_like
from deepaudio.io.video import write_video
from deepaudio.pipelines.think import ThinkPipeline, ThinkSettings
from deepaudio.think.evidence import speech_segments

SR = 24000
FACE = Path(__file__).parent / "data" / "astronaut_face.jpg"


@pytest.fixture(scope="module")
def material(tmp_path_factory):
    from PIL import Image

    from deepaudio.data.toyworld.voices import SPEAKER_BY_ID, VoiceBank

    bank = VoiceBank(tmp_path_factory.mktemp("voices"))
    speech = [("espeak", bank.synthesize(SPEAKER_BY_ID["espeak-us-m3"], "We walked to the market this morning."))]
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    scene = np.stack([90 + 60 * np.sin(xx / 17.0), 120 + 50 * np.cos(yy / 23.0), 80 + 0 * xx], -1).astype(np.uint8)
    faces = []
    if __import__("importlib").util.find_spec("dlib") is not None:
        from deepaudio.data.realworld import _resize, mouth_geometry

        img = _resize(np.asarray(Image.open(FACE).convert("RGB")))
        faces.append(Photo("astronaut", img, mouth_geometry(img)))
    return Material("test", faces, [Photo("stripes", scene)], speech)


def _think(clip, tmp_path, **settings):
    video = write_video(tmp_path / f"{clip.kind}.mp4", clip.frames, clip.truth["fps"])
    out, sr, trace = ThinkPipeline()(video, audio=(torch.from_numpy(clip.mix)[None], SR),
                                     settings=ThinkSettings(**settings))
    return video, out, trace


def test_no_face_footage_makes_speech_voice_over(material, tmp_path):
    clip = make_clip("noface", 0, material, seed=3)  # a ball bouncing over a picture, narrator off screen
    assert clip.truth["view"] == "ball" and speech_segments(torch.from_numpy(clip.mix)[None], SR)
    video, out, trace = _think(clip, tmp_path)
    detect = trace.find("detect")[0].measurements
    assert detect["voice_over"] and detect["evidence"]["mouth_source"] == "no_face"
    assert not speech_segments(out, SR)
    # The ball's impacts outside the speech survive.
    for t in clip.impacts:
        s, e = int(t * SR), int((t + 0.06) * SR)
        if not np.abs(clip.speech[max(0, s - 2400): e + 2400]).any():
            assert float(out[0, s:e].square().sum()) > 0.9 * float(np.sum(clip.mix[s:e] ** 2))
    # The cartoon detector, asked for by name, is still available (and is what took the ball for a face).
    toon = ThinkPipeline()(video, audio=(torch.from_numpy(clip.mix)[None], SR),
                           settings=ThinkSettings(face_backend="toon"))[2]
    assert toon.find("detect")[0].measurements["evidence"]["mouth_source"].endswith("block_brightness")


def test_unknown_face_backend_is_a_config_error():
    from deepaudio.errors import ConfigError

    with pytest.raises(ConfigError, match="face backend"):
        ThinkSettings(face_backend="opencv")


def test_music_is_not_voice_over(material, tmp_path):
    for style in ("plucked", "bowed"):  # instrumental music: the VAD finds no speech in it
        wav = music_like(np.random.default_rng(0), 4.0, style=style)
        assert not speech_segments(torch.from_numpy(wav)[None], SR), style
    clip = make_clip("music", 0, material, seed=4)
    _, out, trace = _think(clip, tmp_path)
    assert trace.outcome == "no voice-over" and torch.equal(out[0], torch.from_numpy(clip.mix))


@pytest.mark.skipif(__import__("importlib").util.find_spec("dlib") is None, reason="needs the vision extra (dlib)")
def test_real_face_talking_keeps_speech_and_a_still_one_does_not(material, tmp_path):
    from deepaudio.perception.mouth import mouth_track

    talk = make_clip("talk", 0, material, seed=5)
    video, out, trace = _think(talk, tmp_path)
    assert trace.outcome == "no voice-over", trace.find("detect")[0].measurements["evidence"]
    track = mouth_track(video)
    assert track.backend == "dlib" and track.face_fraction > 0.9
    assert np.corrcoef(track.opening.numpy(), talk.drive)[0, 1] > 0.8  # --timing lips follows the mouth
    still = make_clip("still", 0, material, seed=5)
    _, out, trace = _think(still, tmp_path)
    assert trace.find("detect")[0].measurements["voice_over"] and not speech_segments(out, SR)
