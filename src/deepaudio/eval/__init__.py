"""Evaluation suite: the papers' metrics, offline-capable (``deepaudio eval``).

Modules: ``asr`` (faster-whisper transcription), ``text`` / ``wer`` (normalisation, word error rate),
``speaker`` (SPK-SIM, EMO-SIM), ``mcd`` (MCD, MCD-SL), ``sync`` (onset AV alignment, lip sync),
``quality`` (DNSMOS, speech presence, silence), ``v2a`` (FD, KL, IS, IB-score, DeSync maths),
``audio_nets`` (PANNs Cnn14, VGGish), ``items`` (folders and benchmark lists), ``runner`` and
``report`` (what ``deepaudio eval`` runs and writes), ``samples`` (offline real speech for checks).
Nothing is imported here, so importing a submodule loads only what it needs.
"""
