"""Level measures and normalisation: RMS (what F5-TTS normalises speech with) and ITU-R BS.1770-4
integrated loudness in LUFS (what a broadcast-style mix should be levelled with).

BS.1770-4 in brief:
1. K-weighting per channel: a high-shelf (+4 dB above ~1.7 kHz, the head's acoustic effect) followed by
   a high-pass at ~38 Hz (RLB weighting). The standard tabulates the two biquads for 48 kHz only; we
   derive them for any rate from their analog prototypes (centre frequency, gain, Q) with the bilinear
   transform, which reproduces the 48 kHz table to about 1e-9.
2. Mean square z_cj of the filtered signal in 400 ms blocks overlapping by 75 % (100 ms step).
3. Block loudness l_j = -0.691 + 10 log10(sum_c G_c z_cj); channel weights G_c are 1.0 for front channels
   and 1.41 for surrounds (LFE excluded).
4. Gating: drop blocks below -70 LUFS (absolute gate), then blocks more than 10 LU below the loudness
   of the remaining ones (relative gate); integrated loudness is that of the blocks that pass both.
The -0.691 dB offset makes a 0 dBFS 997 Hz sine in one channel read -3.01 LUFS.

The IIR filters run in the frequency domain (one rFFT over the clip padded by a one-second tail): the
K-filter's impulse response decays by e^-200 within that tail, so this equals direct-form filtering from
rest to float precision while staying vectorised on any device (torch has no lfilter without torchaudio).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

# Analog prototypes of the BS.1770 K-weighting stages, as used by common implementations (libebur128),
# chosen so that the bilinear transform at 48 kHz gives the coefficients tabulated in the standard.
_SHELF_F0, _SHELF_GAIN_DB, _SHELF_Q = 1681.974450955533, 3.999843853973347, 0.7071752369554196
_SHELF_VB_EXP = 0.4996667741545416
_HP_F0, _HP_Q = 38.13547087613982, 0.5003270373253953

BLOCK_SECONDS = 0.4
STEP_SECONDS = 0.1
ABSOLUTE_GATE_LUFS = -70.0
RELATIVE_GATE_LU = -10.0
LOUDNESS_OFFSET = -0.691


def k_weighting_coefficients(sr: int) -> tuple[tuple[list[float], list[float]], tuple[list[float], list[float]]]:
    """((b, a) of the high-shelf, (b, a) of the high-pass) of the K-weighting filter at ``sr`` Hz."""
    k = math.tan(math.pi * _SHELF_F0 / sr)
    vh = 10.0 ** (_SHELF_GAIN_DB / 20.0)
    vb = vh ** _SHELF_VB_EXP
    a0 = 1.0 + k / _SHELF_Q + k * k
    shelf_b = [(vh + vb * k / _SHELF_Q + k * k) / a0, 2.0 * (k * k - vh) / a0, (vh - vb * k / _SHELF_Q + k * k) / a0]
    shelf_a = [1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / _SHELF_Q + k * k) / a0]
    k = math.tan(math.pi * _HP_F0 / sr)
    a0 = 1.0 + k / _HP_Q + k * k
    hp_b = [1.0, -2.0, 1.0]
    hp_a = [1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / _HP_Q + k * k) / a0]
    return (shelf_b, shelf_a), (hp_b, hp_a)


def _biquad_response(b: list[float], a: list[float], n_fft: int, device: torch.device) -> torch.Tensor:
    """H(e^{jw}) of a biquad at the n_fft // 2 + 1 rFFT frequencies (complex128)."""
    w = torch.linspace(0, math.pi, n_fft // 2 + 1, dtype=torch.float64, device=device)
    z1 = torch.polar(torch.ones_like(w), -w)  # e^{-jw}
    z2 = z1 * z1
    return (b[0] + b[1] * z1 + b[2] * z2) / (a[0] + a[1] * z1 + a[2] * z2)


def _fast_fft_length(n: int) -> int:
    """Smallest even 2^a 3^b 5^c >= n: FFTs of such sizes are fast, a prime length can be 10x slower."""
    best = 1 << max(1, (n - 1).bit_length())
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            m = p35
            while m < n:
                m *= 2
            if m % 2 == 0 and m < best:
                best = m
            p35 *= 3
        p5 *= 5
    return best


def k_weight(wav: torch.Tensor, sr: int) -> torch.Tensor:
    """K-weighted signal [..., L] (float64), filtered from rest as a causal IIR cascade would."""
    length = wav.shape[-1]
    n_fft = _fast_fft_length(length + sr)  # >= one second of tail so the circular wrap-around is negligible
    (sb, sa), (hb, ha) = k_weighting_coefficients(sr)
    h = _biquad_response(sb, sa, n_fft, wav.device) * _biquad_response(hb, ha, n_fft, wav.device)
    spec = torch.fft.rfft(wav.to(torch.float64), n=n_fft)
    return torch.fft.irfft(spec * h, n=n_fft)[..., :length]


def default_channel_weights(channels: int) -> list[float]:
    """BS.1770 weights for the usual layouts: 1.0 each up to 3 channels; 5.0 (L R C Ls Rs) and 5.1
    (L R C LFE Ls Rs) weight the surrounds 1.41 and drop the LFE."""
    if channels == 5:
        return [1.0, 1.0, 1.0, 1.41, 1.41]
    if channels == 6:
        return [1.0, 1.0, 1.0, 0.0, 1.41, 1.41]
    return [1.0] * channels


def block_energies(wav: torch.Tensor, sr: int, channel_weights: list[float] | None = None) -> torch.Tensor:
    """Weighted mean square of the K-weighted signal per gating block: [blocks] (float64).

    ``wav`` is [samples] or [channels, samples]. A clip shorter than one 400 ms block is measured as a
    single block over its whole length (the standard leaves it undefined; this keeps short TTS phrases
    measurable).
    """
    x = wav.reshape(1, -1) if wav.ndim == 1 else wav
    weights = default_channel_weights(x.shape[0]) if channel_weights is None else list(channel_weights)
    if len(weights) != x.shape[0]:
        raise ValueError(f"{len(weights)} channel weights for {x.shape[0]} channels")
    if x.shape[-1] == 0:
        return torch.zeros(0, dtype=torch.float64, device=x.device)
    y2 = k_weight(x, sr).square()
    block, step = int(round(BLOCK_SECONDS * sr)), int(round(STEP_SECONDS * sr))
    length = y2.shape[-1]
    if length < block:
        z = y2.mean(-1, keepdim=True)  # (C, 1)
    else:
        csum = F.pad(torch.cumsum(y2, -1), (1, 0))
        starts = torch.arange(0, length - block + 1, step, device=x.device)
        z = (csum[:, starts + block] - csum[:, starts]) / block  # (C, J)
    g = torch.tensor(weights, dtype=z.dtype, device=z.device)
    return (g[:, None] * z).sum(0)


def _lufs(energy: torch.Tensor) -> torch.Tensor:
    return LOUDNESS_OFFSET + 10.0 * torch.log10(energy)


def integrated_loudness(wav: torch.Tensor, sr: int, channel_weights: list[float] | None = None) -> float:
    """BS.1770-4 gated integrated loudness in LUFS; ``-inf`` when every block is below the -70 LUFS gate."""
    energies = block_energies(wav, sr, channel_weights)
    if energies.numel() == 0:
        return -math.inf
    with torch.no_grad():
        block_lufs = _lufs(energies.clamp_min(1e-300))
        kept = energies[block_lufs > ABSOLUTE_GATE_LUFS]
        if kept.numel() == 0:
            return -math.inf
        relative_gate = _lufs(kept.mean()) + RELATIVE_GATE_LU
        kept = energies[(block_lufs > ABSOLUTE_GATE_LUFS) & (block_lufs > relative_gate)]
        return float(_lufs(kept.mean()))


def db_to_gain(db: float) -> float:
    return 10.0 ** (db / 20.0)


def normalize_loudness(wav: torch.Tensor, sr: int, target_lufs: float = -23.0,
                       channel_weights: list[float] | None = None, max_peak: float | None = None) -> torch.Tensor:
    """Scale ``wav`` so its integrated loudness is ``target_lufs`` (EBU R128: -23; streaming: -14 to -16).

    Silence (loudness -inf) is returned unchanged. No limiter: peaks may exceed 1 when the target is high,
    unless ``max_peak`` caps the gain so that no sample exceeds it (very peaky audio then ends up quieter
    than the target).
    """
    wav = torch.as_tensor(wav)
    measured = integrated_loudness(wav, sr, channel_weights)
    if not math.isfinite(measured):
        return wav
    gain = db_to_gain(target_lufs - measured)
    if max_peak is not None:
        top = float(wav.abs().max())
        if top * gain > max_peak:
            gain = max_peak / top
    return wav * gain


def rms(wav: torch.Tensor) -> torch.Tensor:
    """Root mean square over all samples and channels (a 0-d tensor; 0 for an empty one)."""
    x = torch.as_tensor(wav).float()
    return x.square().mean().sqrt() if x.numel() else torch.zeros(())


def normalize_rms(wav: torch.Tensor, target_rms: float = 0.1, only_boost: bool = False,
                  eps: float = 1e-8) -> torch.Tensor:
    """Scale ``wav`` to RMS ``target_rms``; silence stays silence.

    ``only_boost=True`` reproduces F5-TTS inference: a reference prompt quieter than ``target_rms``
    (0.1 there) is raised to it and louder prompts are left alone; the generated speech is later
    scaled back by the same factor.
    """
    wav = torch.as_tensor(wav)
    level = float(rms(wav))
    if level <= eps or (only_boost and level >= target_rms):
        return wav
    return wav * torch.tensor(target_rms / level, dtype=wav.dtype)


def peak_normalize(wav: torch.Tensor, peak: float = 0.99, eps: float = 1e-8) -> torch.Tensor:
    """Scale ``wav`` so that its largest absolute sample equals ``peak`` (silence unchanged)."""
    x = torch.as_tensor(wav).float()
    top = float(x.abs().max()) if x.numel() else 0.0
    return x if top < eps else x * (peak / top)
