"""Reference-free audio checks: DNSMOS, speech presence (Silero VAD) and silence rate.

* DNSMOS (P.835 SIG/BAK/OVRL and P.808 MOS) from the ONNX models packaged in ``speechmos``; input
  16 kHz mono in [-1, 1], scored on 9.01 s windows with a 1 s hop (clips are looped up to 9.01 s).
* Speech presence from the packaged Silero VAD (default thresholds: 0.5 probability, >= 250 ms
  segments). For V2A / voice-over removal the interesting number is how many clips still contain
  speech (``speech_rate``); we also keep the fraction of time covered by speech.
* Silence: fraction of frames whose RMS is below -50 dB (DeepSound-V1's step-4 test, 2048/512-sample
  frames, ``deepaudio.dsp.energy``); a clip is silent when more than 90 % of its frames are.
"""

from __future__ import annotations

import functools
import warnings

import numpy as np
import torch

from deepaudio.dsp.energy import is_silent, silent_fraction
from deepaudio.errors import BackendUnavailable

SR16 = 16000
DNSMOS_BACKEND = "DNSMOS P.835/P.808 (speechmos ONNX)"
VAD_BACKEND = "silero-vad 6 (packaged)"
SILENCE_BACKEND = "frame RMS < -50 dB (2048/512)"


def _mono16k(wav: torch.Tensor, sr: int) -> np.ndarray:
    x = (wav if wav.dim() == 1 else wav.mean(0)).detach().to(torch.float32).cpu().numpy()
    if sr != SR16:
        import soxr

        x = soxr.resample(x, sr, SR16, quality="HQ")
    return np.ascontiguousarray(x, dtype=np.float32)


def dnsmos(wav: torch.Tensor, sr: int) -> dict[str, float]:
    """DNSMOS scores of one clip: ``ovrl``, ``sig``, ``bak``, ``p808``."""
    try:
        from speechmos import dnsmos as dns
    except ImportError as exc:
        raise BackendUnavailable("speechmos is not installed", hint="pip install 'deepaudio[eval]'") from exc
    x = np.clip(_mono16k(wav, sr), -1.0, 1.0)
    if x.size == 0 or not np.any(x):
        return {"ovrl": float("nan"), "sig": float("nan"), "bak": float("nan"), "p808": float("nan")}
    out = dns.run(x, SR16)
    return {"ovrl": float(out["ovrl_mos"]), "sig": float(out["sig_mos"]), "bak": float(out["bak_mos"]),
            "p808": float(out["p808_mos"])}


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

    x = torch.from_numpy(_mono16k(wav, sr))
    if x.numel() < 512:
        return []
    stamps = get_speech_timestamps(x, _vad_model(), threshold=threshold, sampling_rate=SR16)
    return [(s["start"] / SR16, s["end"] / SR16) for s in stamps]


def speech_presence(wav: torch.Tensor, sr: int) -> dict[str, float]:
    """``has_speech`` (0/1) and ``speech_fraction`` (share of the clip's duration that is speech)."""
    dur = wav.shape[-1] / sr
    segs = speech_segments(wav, sr)
    covered = sum(e - s for s, e in segs)
    return {"has_speech": float(bool(segs)), "speech_fraction": min(1.0, covered / dur) if dur > 0 else 0.0}


def silence(wav: torch.Tensor, sr: int, threshold_db: float = -50.0) -> dict[str, float]:
    """``silence_fraction`` (frames below ``threshold_db``) and ``is_silent`` (more than 90 % of them)."""
    return {"silence_fraction": silent_fraction(wav, sr, threshold_db) if wav.shape[-1] else 1.0,
            "is_silent": float(is_silent(wav, sr, threshold_db))}
