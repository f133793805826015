"""V2S, the paper's core idea: speech timed by a contour of the picture.

- :mod:`~deepaudio.v2s.contour`: the timing contour (V2A energy, mouth opening, or both) at the one
  contour rate, and its quiet runs;
- :mod:`~deepaudio.v2s.placement`: where each phoneme goes along the contour (its pauses into the
  contour's quiet runs).

The energy-conditioned TTS network that speaks along the contour is ``models.tts``; the pipelines
(``pipelines.tts``, ``pipelines.deepaudio``) call these functions.
"""
