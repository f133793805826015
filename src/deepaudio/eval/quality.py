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

import numpy as np
import torch

from deepaudio.dsp.energy import is_silent, silent_fraction
from deepaudio.errors import BackendUnavailable
from deepaudio.perception.vad import SR16, VAD_BACKEND, mono16k, speech_segments  # noqa: F401  (VAD_BACKEND: named in reports)

DNSMOS_BACKEND = "DNSMOS P.835/P.808 (speechmos ONNX)"
SILENCE_BACKEND = "frame RMS < -50 dB (2048/512)"


def dnsmos(wav: torch.Tensor, sr: int) -> dict[str, float]:
    """DNSMOS scores of one clip: ``ovrl``, ``sig``, ``bak``, ``p808``."""
    try:
        from deepaudio.offline import go_offline

        go_offline()  # before onnxruntime is imported: no telemetry
        from speechmos import dnsmos as dns
    except ImportError as exc:
        raise BackendUnavailable("speechmos is not installed", hint="pip install 'deepaudio[eval]'") from exc
    x = np.clip(mono16k(wav, sr), -1.0, 1.0)
    if x.size == 0 or not np.any(x):
        return {"ovrl": float("nan"), "sig": float("nan"), "bak": float("nan"), "p808": float("nan")}
    out = dns.run(x, SR16)
    return {"ovrl": float(out["ovrl_mos"]), "sig": float(out["sig_mos"]), "bak": float(out["bak_mos"]),
            "p808": float(out["p808_mos"])}


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
