"""Official checkpoint layouts -> deepaudio checkpoints, and the parity runner (``verify-parity``)."""
