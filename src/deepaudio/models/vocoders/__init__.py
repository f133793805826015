"""Vocoders: log-mel -> waveform, all with ``decode(mel [B, M, T]) -> wav [B, L]``, ``sample_rate``, ``hop_length``.

- ``vocos.Vocos``: the TTS vocoder (charactr/vocos-mel-24khz, F5-TTS mel space).
- ``bigvgan.BigVGAN``: MMAudio's 16 kHz BigVGAN and BigVGAN-v2 44.1 kHz (V2A).
- ``griffinlim.GriffinLimVocoder``: the weight-free fallback.
"""

from __future__ import annotations

from pathlib import Path

import torch

__all__ = ["load_vocoder"]


def load_vocoder(directory: str | Path | None, fallback_mel: str = "f5_24k",
                 device: str | torch.device = "cpu", dtype: torch.dtype | None = None) -> torch.nn.Module:
    """A converted Vocos/BigVGAN folder (``deepaudio convert vocos|bigvgan-16k|bigvgan-v2``), or Griffin-Lim.

    With ``directory=None`` the Griffin-Lim fallback for the mel preset ``fallback_mel`` is returned
    (``f5_24k``, ``mmaudio_16k`` or ``mmaudio_44k``); its ``kind`` is ``'griffinlim'`` so callers can say so.
    """
    if directory is None:
        from deepaudio.models.vocoders.griffinlim import GRIFFINLIM_PRESETS, GriffinLimVocoder

        return GriffinLimVocoder(GRIFFINLIM_PRESETS.get(fallback_mel))
    from deepaudio.checkpoint import load_model

    return load_model(directory, device=device, dtype=dtype, expect_kind=("vocos", "bigvgan"))
