"""Audio and video input/output: read, resample, probe, sample frames, mux, subtitles.

- ``audio``: ``load_audio`` / ``save_audio`` (atomic), ``resample`` (soxr), ``to_mono``, RMS, peak and
  loudness normalisation. Audio in memory is ``(float32 [channels, samples], sample_rate)``.
- ``video``: ``probe_video``, ``iter_frames`` (streaming) / ``read_frames`` at any fps, also for
  variable-frame-rate input, with resize or centre crop; ``write_video`` (h264/AAC, atomic).
- ``mux``: ``mux_audio`` copies the video stream and adds AAC tracks with titles and languages.
- ``srt``: ``parse_srt`` / ``write_srt``.
- ``testmedia``: generated clips with frame indices drawn into the picture and beeps at known times.
- ``atomic``: temp-file-and-rename writes.

Media problems raise ``deepaudio.errors.MediaError``; unusable output paths ``OutputPathError``.
"""
