"""A speaker's typical pitch, and moving generated speech to it in the log-mel domain.

A small TTS regresses towards the voices it was trained on: for a voice it never heard it copies the
words and much of the colouring, but speaks nearer the training voices' average pitch (measured on
unheard voices, docs/tts.md: prompts at 87-154 Hz came out 8-18 % towards the middle). Pitch is a large
part of what a listener or a speaker-verification model hears as "the same voice", so the pipeline can
measure both pitches and move the generated mel by the ratio.

- :func:`median_f0` is a YIN-style estimate (cumulative-mean-normalised difference function, computed
  with FFTs) over the loud frames of a waveform: the median of the voiced frames' F0, or None when
  too few frames are voiced to say.
- :func:`shift_mel_pitch` scales the frequency axis of a log-mel (harmonics and envelope together,
  as resampling would, but without changing its length): each bin takes the value found at its own
  frequency divided by the ratio. The envelope can then be put back with
  :func:`deepaudio.dsp.timbre.match_timbre`, which leaves the harmonics where they are.
"""

from __future__ import annotations

import math

import torch

from deepaudio.dsp.mel import MelSettings, hz_to_mel, mel_to_hz

F0_MIN, F0_MAX = 60.0, 500.0  # Hz: the search range, low male to high child voices
MIN_VOICED_FRAMES = 10  # fewer voiced frames than this (0.1 s): no estimate
MAX_RATIO = 1.26  # the largest pitch change applied: 4 semitones (a larger gap is more likely a wrong estimate)
# mel bins of the per-frame envelope shift_mel_pitch keeps (0: the envelope moves with the harmonics). 0 since
# tuning: keeping a 7-bin envelope gained less prompt cosine on the tuning voices (+0.015 against +0.033 at
# strength 0.5; docs/tts.md).
KEEP_ENVELOPE = 0
DEAD_BAND = 0.01  # relative pitch differences up to this (1 %, a sixth of a semitone) are left alone


def frame_f0(wav: torch.Tensor, sr: int, fmin: float = F0_MIN, fmax: float = F0_MAX, frame_s: float = 0.04,
             hop_s: float = 0.01, threshold: float = 0.2, top_db: float = 30.0) -> torch.Tensor:
    """Per-frame F0 in Hz of a mono waveform (NaN where a frame is unvoiced or quieter than ``top_db``
    below the loudest frame). YIN's difference function d(tau) from FFT autocorrelations, normalised by
    its cumulative mean; the lowest point of its first dip under ``threshold`` (none: unvoiced), refined by a
    parabola."""
    x = wav.detach().reshape(-1).double().cpu()
    win, hop = int(round(frame_s * sr)), int(round(hop_s * sr))
    lo, hi = max(2, int(sr / fmax)), int(math.ceil(sr / fmin))
    if hi + 2 >= win:
        raise ValueError(f"frame of {frame_s} s is too short for F0 down to {fmin} Hz")
    if x.numel() < win:
        return torch.full((0,), float("nan"))
    frames = x.unfold(0, win, hop)  # (N, win)
    frames = frames - frames.mean(dim=1, keepdim=True)
    n = frames.shape[0]
    width = win - hi - 1  # the part of the frame compared with its shifted self (up to tau = hi + 1)
    nfft = 1 << (win + width - 1).bit_length()
    head = frames[:, :width]
    spec = torch.fft.rfft(frames, nfft) * torch.fft.rfft(head, nfft).conj()
    acf = torch.fft.irfft(spec, nfft)[:, : hi + 2]  # acf[tau] = sum_t head[t] * frame[t + tau]
    sq = torch.cumsum(torch.nn.functional.pad(frames ** 2, (1, 0)), dim=1)
    energy_head = sq[:, width]  # sum of head^2
    taus = torch.arange(hi + 2)
    energy_shift = sq[:, taus + width] - sq[:, taus]  # sum over t of frame[t + tau]^2
    diff = (energy_head[:, None] + energy_shift - 2 * acf).clamp_min(0)
    cum = torch.cumsum(diff[:, 1:], dim=1) / torch.arange(1, hi + 2)
    cmnd = torch.ones_like(diff)
    cmnd[:, 1:] = diff[:, 1:] / cum.clamp_min(1e-12)
    level = 10 * torch.log10(energy_head.clamp_min(1e-20))
    # within top_db of the loudest frame, and not digital silence (-80 dB full scale: RMS 1e-4)
    loud = (level >= level.max() - top_db) & (level >= 10 * math.log10(width * 1e-8))
    f0 = torch.full((n,), float("nan"), dtype=torch.float64)
    band = cmnd[:, lo:hi + 2]
    below = band[:, :-1] < threshold
    voiced = loud & below.any(dim=1)
    if not bool(voiced.any()):
        return f0.float()
    band, below = band[voiced], below[voiced]
    # the first dip under the threshold: from the first crossing to where the curve rises above it again
    idx = torch.arange(below.shape[1])
    first = below.to(torch.int8).argmax(dim=1, keepdim=True)
    inside = torch.cumprod((below | (idx < first)).to(torch.int8), dim=1).bool() & (idx >= first)
    tau = torch.where(inside, band[:, :-1], torch.inf).argmin(dim=1)
    rows = torch.arange(band.shape[0])
    a = band[rows, (tau - 1).clamp_min(0)]
    b, c = band[rows, tau], band[rows, tau + 1]
    den = a - 2 * b + c
    shift = torch.where(den > 0, 0.5 * (a - c) / den.clamp_min(1e-12), torch.zeros_like(den)).clamp(-0.5, 0.5)
    f0[voiced] = sr / (lo + tau + shift)
    return f0.float()


def median_f0(wav: torch.Tensor, sr: int, **kwargs) -> float | None:
    """The median F0 (Hz) of the voiced frames of ``wav``, or None with fewer than 10 voiced frames."""
    f0 = frame_f0(wav, sr, **kwargs)
    voiced = f0[torch.isfinite(f0)]
    if voiced.numel() < MIN_VOICED_FRAMES:
        return None
    return float(voiced.median())


def pitch_ratio(target_f0: float, current_f0: float, strength: float = 1.0, max_ratio: float = MAX_RATIO,
                dead_band: float = DEAD_BAND) -> float:
    """The factor that moves ``current_f0`` ``strength`` of the way (in log frequency) to ``target_f0``,
    bounded to [1 / max_ratio, max_ratio]; exactly 1.0 within ``dead_band`` (a relative difference)."""
    if not (target_f0 > 0 and current_f0 > 0):
        raise ValueError(f"F0 values must be positive, got {target_f0} and {current_f0}")
    log_ratio = strength * math.log(target_f0 / current_f0)
    if abs(log_ratio) <= math.log1p(dead_band):
        return 1.0
    bound = math.log(max_ratio)
    return math.exp(max(-bound, min(bound, log_ratio)))


def smooth_bins(mel: torch.Tensor, bins: int) -> torch.Tensor:
    """Each frame of ``mel`` (T, M) averaged over ``bins`` neighbouring bins (edges replicated)."""
    pad = bins // 2
    x = torch.nn.functional.pad(mel.float()[:, None], (pad, pad), mode="replicate")
    return torch.nn.functional.avg_pool1d(x, 2 * pad + 1, stride=1)[:, 0]


def shift_mel_pitch(mel: torch.Tensor, ratio: float, settings: MelSettings, keep_envelope: int | None = None,
                    log_floor: float = math.log(1e-5)) -> torch.Tensor:
    """``mel`` (T, M), log magnitudes in ``settings``' bins, with every frequency multiplied by ``ratio``.

    Bin i takes the (linearly interpolated, in the log domain) value at the frequency centre_i / ratio;
    frequencies below the first bin centre take the first bin's value, above the last the floor. The
    frame count is unchanged. A ratio of 1 returns ``mel`` itself."""
    if not math.isfinite(ratio) or ratio <= 0:
        raise ValueError(f"pitch ratio must be a positive number, got {ratio}")
    if ratio == 1 or mel.shape[0] == 0:
        return mel
    m = settings.n_mels
    if mel.shape[-1] != m:
        raise ValueError(f"mel has {mel.shape[-1]} bins, the settings {m}")
    scale = settings.mel_scale
    edges = torch.linspace(float(hz_to_mel(torch.tensor(float(settings.f_min)), scale)),
                           float(hz_to_mel(torch.tensor(float(settings.fmax)), scale)), m + 2, dtype=torch.float64)
    centres = edges[1:-1]
    source = hz_to_mel(mel_to_hz(centres, scale) / ratio, scale)
    pos = (source - centres[0]) / (centres[1] - centres[0])  # fractional source bin (the centres are uniform in mel)
    pos = pos.clamp(min=0)
    beyond = pos > m - 1
    pos = pos.clamp(max=m - 1)
    i0 = pos.floor().long().clamp(max=m - 2)
    w = (pos - i0).to(torch.float32).to(mel.device)
    src = mel.float()
    out = src[:, i0] * (1 - w) + src[:, i0 + 1] * w
    if bool(beyond.any()):
        out[:, beyond.to(mel.device)] = log_floor
    keep_envelope = KEEP_ENVELOPE if keep_envelope is None else keep_envelope
    if keep_envelope > 1:  # move the harmonics only: each frame keeps its own envelope
        out = out + smooth_bins(src, keep_envelope) - smooth_bins(out, keep_envelope)
    return out.clamp_min(log_floor).to(mel.dtype)
