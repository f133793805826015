"""Vocoders: log-mel -> waveform, all with ``decode(mel [B, M, T]) -> wav [B, L]``, ``sample_rate``, ``hop_length``.

- ``vocos.Vocos``: the TTS vocoder (charactr/vocos-mel-24khz, F5-TTS mel space).
- ``bigvgan.BigVGAN``: MMAudio's 16 kHz BigVGAN and BigVGAN-v2 44.1 kHz (V2A); BigVGAN-v2 24 kHz (TTS).
- ``griffinlim.GriffinLimVocoder``: the weight-free fallback.
"""

from __future__ import annotations

from pathlib import Path

import torch

__all__ = ["load_vocoder"]


def load_vocoder(directory: str | Path | None, fallback_mel: str = "f5_24k",
                 device: str | torch.device = "cpu", dtype: torch.dtype | None = None) -> torch.nn.Module:
    """A converted Vocos/BigVGAN folder (``deepaudio convert vocos|bigvgan-16k|bigvgan-v2``), a released
    folder as published (BigVGAN-v2: ``config.json`` + ``bigvgan_generator.pt``; Vocos: ``config.yaml`` +
    ``pytorch_model.bin``), or Griffin-Lim.

    With ``directory=None`` the Griffin-Lim fallback for the mel preset ``fallback_mel`` is returned
    (``f5_24k``, ``mmaudio_16k`` or ``mmaudio_44k``); its ``kind`` is ``'griffinlim'`` so callers can say so.
    """
    if directory is None:
        from deepaudio.models.vocoders.griffinlim import GRIFFINLIM_PRESETS, GriffinLimVocoder

        return GriffinLimVocoder(GRIFFINLIM_PRESETS.get(fallback_mel))
    from deepaudio.checkpoint import load_model

    folder = Path(directory).expanduser()
    official = _official_loader(folder)
    if official is not None:
        model = official([folder]).eval()
        return model.to(device=device, dtype=dtype) if dtype is not None else model.to(device)
    return load_model(folder, device=device, dtype=dtype, expect_kind=("vocos", "bigvgan"))


def _official_loader(folder: Path):
    """The converter's reader for a folder laid out as released, or None for our own folders."""
    from deepaudio.convert import vocoders as conv

    if (folder / "bigvgan_generator.pt").is_file() and (folder / "config.json").is_file():
        return conv.load_bigvgan_official
    if (folder / "config.yaml").is_file() and not (folder / "config.json").is_file():
        return conv.load_vocos_official
    return None
