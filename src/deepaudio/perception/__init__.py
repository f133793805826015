"""Perception: what the input shows and says, used by inference and by evaluation alike.

``deepaudio.perception.asr``: speech recognition (faster-whisper), e.g. a reference voice's transcript.
``deepaudio.perception.vad``: where someone speaks (Silero VAD).
Faces and mouths in video, for lip-driven dubbing timing (``--timing lips``) and voice-over detection:

``deepaudio.perception.mouth``: :func:`~deepaudio.perception.mouth.mouth_track` (opening per video frame) and
:func:`~deepaudio.perception.mouth.mouth_contour` (a [0, 1] contour at the TTS mel frame rate, 93.75/s).
``deepaudio.perception.faces``: the pluggable face backends. ``backend='auto'`` tries the real face
detectors (the first that sees a face in half of 12 frames spread over the clip runs on the whole clip);
the cartoon detector joins them only on videos the toy world wrote (their container ``comment`` tag,
``perception.toon.TOY_WORLD_COMMENT``), because on camera footage it takes a bright ball for a face:

* ``mediapipe`` (478-point face mesh) when a release that bundles its model is installed. Current
  releases (1.2.3, 0.10.30) ship no face model in the wheel (the face landmarker needs a downloaded
  ``face_landmarker.task``); the last with the bundled mesh, ``mediapipe==0.10.21``, pins numpy<2 and
  protobuf<5 and would downgrade both in the project environment. Install ``deepaudio[vision-mediapipe]``
  only in an environment of its own.
* ``dlib`` (HOG detector + 68-point landmarks from ``face-recognition-models``): the ``vision`` extra,
  installs beside numpy 2, the active backend on real footage. OpenCV's wheel ships no face model.
  The 68-point model is for non-commercial use only (iBUG 300-W data).
* ``toon``: a model-free detector of the toy world's flat cartoon faces (dlib finds none of them).

On the real-world corpus (``deepaudio.data.realworld``, ``benchmarks/bench_think_realworld.py``) dlib
finds the face in 93 of 100 LFW photos (scaled to 224 px) and in the astronaut; on warped talking photos
its opening follows the opening that drew it with r 0.93 per frame and the timing contour with r 0.95
(held-out split; every clip >= 0.81).

Measured with ``benchmarks/bench_vision_mouth.py`` (30 toy-world clips, seed 0; r = Pearson correlation
of the mel-rate contour with the energy contour of the clip's speech):

    set (clips)       backend    faces found  r (contour vs speech energy)
    talk (9)          toon       96%          0.935
    dub (7)           toon       96%          0.952
    dialogue (6)      toon       100%         0.931
    talk/dub/dialog   dlib       0%           -   (cartoons are not faces to it)
    talk (9)          mediapipe  91%          0.919
    dub (7)           mediapipe  100%         0.945
    dialogue (6)      mediapipe  100%         0.950
    photo, warped (2) dlib       100%         0.981
    photo, warped (2) mediapipe  100%         0.911
    photo, warped (2) toon       0%           -   (refused: no face)

Voice-over clips (no face, or a face that stays still) are refused with an ``InputError`` (8 of 8, every
backend). "photo, warped" is a portrait photograph whose jaw is opened by an image warp following a speech-like track.
Nothing is imported here, so ``import deepaudio.perception`` loads no model package.
"""
