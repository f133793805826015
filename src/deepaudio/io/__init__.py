"""Audio and video input/output: read, resample, probe, sample frames, mux, subtitles."""
