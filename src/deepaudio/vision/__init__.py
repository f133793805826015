"""Vision: faces and mouths in video, for lip-driven dubbing timing (``--timing lips``).

``deepaudio.vision.mouth``: :func:`mouth_track` (opening per video frame), :func:`mouth_contour`
(a [0, 1] contour at the TTS mel frame rate). ``deepaudio.vision.backends``: the pluggable face
backends (MediaPipe face mesh when installed, dlib 68-point landmarks, a model-free cartoon detector).
Nothing is imported here, so ``import deepaudio.vision`` loads no model package.
"""
