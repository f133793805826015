"""Voice activity detection: where in a clip someone speaks (the packaged Silero VAD).

Used by inference (voice-over evidence in ``think``) and by evaluation (speech presence in
``eval.quality``). Default thresholds: 0.5 probability, segments of at least 250 ms, on 16 kHz mono.
"""

from __future__ import annotations

import functools
import warnings

import numpy as np
import torch

from deepaudio.errors import BackendUnavailable

SR16 = 16000
VAD_BACKEND = "silero-vad 6 (packaged)"


def mono16k(wav: torch.Tensor, sr: int) -> np.ndarray:
    """(L,) float32 16 kHz mono of a [L] or [C, L] waveform (soxr HQ resampling)."""
    x = (wav if wav.dim() == 1 else wav.mean(0)).detach().to(torch.float32).cpu().numpy()
    if sr != SR16:
        import soxr

        x = soxr.resample(x, sr, SR16, quality="HQ")
    return np.ascontiguousarray(x, dtype=np.float32)


@functools.lru_cache(maxsize=1)
def _vad_model():
    try:
        from silero_vad import load_silero_vad
    except ImportError as exc:
        raise BackendUnavailable("silero-vad is not installed", hint="pip install 'deepaudio[eval]'") from exc
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_silero_vad(onnx=True)


def speech_segments(wav: torch.Tensor, sr: int, threshold: float = 0.5) -> list[tuple[float, float]]:
    """Speech segments (start, end) in seconds found by Silero VAD."""
    from silero_vad import get_speech_timestamps

    x = torch.from_numpy(mono16k(wav, sr))
    if x.numel() < 512:
        return []
    stamps = get_speech_timestamps(x, _vad_model(), threshold=threshold, sampling_rate=SR16)
    return [(s["start"] / SR16, s["end"] / SR16) for s in stamps]
