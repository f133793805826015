"""Energy contour (DeepAudio-V1 "audio knowledge"), frame RMS in dB and the DeepSound silence check.

Energy contour (DeepAudio-V1, read from its reference code): the V2A waveform is cut into frames of
256/24000 s, one per TTS mel frame (93.75 frames/s), at whatever sample rate the audio has. Frame i covers
samples ``floor(i * sr * 256 / 24000)`` up to ``floor((i + 1) * sr * 256 / 24000)``, so at 16 or 44.1 kHz the
frame length alternates by one sample and the contour never drifts from the mel frame grid (a rounded
integer hop would drift by up to 0.2 %, about 2 frames over 10 s). The value is mean(|x|) of channel 0,
divided by the clip's maximum: no log, no standardisation. The reference crops or zero-pads the waveform
to the target speech duration before framing; we do the same on the frame grid, then normalise.

Silence (DeepSound-V1 step 4): per-frame RMS in dB over 2048-sample frames with hop 512 (librosa's
``feature.rms`` defaults, zero padding of half a frame at both ends) of the mono mix; a clip is silent
when more than 90 % of its frames are below -50 dB. (librosa's ``amplitude_to_db`` also clips at 80 dB
below the loudest frame; that can only raise levels that lie below max - 80 <= -80 dB, so it never changes
the -50 dB decision and is left out.)
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

TTS_SAMPLE_RATE = 24000
TTS_HOP = 256
# The one V2S contour rate: one value per TTS mel frame (F5-TTS/Vocos 24 kHz, hop 256) = 93.75 per second.
CONTOUR_RATE = TTS_SAMPLE_RATE / TTS_HOP
DB_FLOOR_AMPLITUDE = 1e-5  # -100 dB, librosa.amplitude_to_db's default amin


def contour_frames(num_samples: int, sr: int) -> int:
    """Number of whole 256/24000 s frames in ``num_samples`` samples at ``sr`` (exact integer maths)."""
    return (num_samples * TTS_SAMPLE_RATE) // (sr * TTS_HOP)


def _frame_bounds(n_frames: int, sr: int) -> torch.Tensor:
    """Start sample of frames 0..n_frames (n_frames + 1 boundaries) on the exact 256/24000 s grid."""
    i = torch.arange(n_frames + 1, dtype=torch.int64)
    return (i * sr * TTS_HOP) // TTS_SAMPLE_RATE


def _channel0(wav: torch.Tensor) -> torch.Tensor:
    if wav.ndim == 1:
        return wav
    return wav.flatten(0, -2)[0]


def energy_contour(wav: torch.Tensor, sr: int = TTS_SAMPLE_RATE, target_len: int | None = None) -> torch.Tensor:
    """Per-frame mean |x| of channel 0 divided by its maximum -> float32 [frames] in [0, 1].

    ``wav`` is [samples] or [channels, samples]. ``target_len`` (in frames) crops or zero-pads the contour;
    the maximum is taken after cropping, as the reference crops the audio first. Silence gives zeros
    rather than NaN.
    """
    x = _channel0(wav)
    x = x.abs().to(torch.float64)
    n = contour_frames(x.shape[-1], sr)
    if target_len is not None:
        n = min(n, int(target_len))
    bounds = _frame_bounds(n, sr).to(x.device)
    # Segment means via a cumulative sum: exact frame bounds without a Python loop over frames.
    csum = F.pad(torch.cumsum(x, 0), (1, 0))
    lengths = (bounds[1:] - bounds[:-1]).to(x.dtype)
    energy = (csum[bounds[1:]] - csum[bounds[:-1]]) / lengths.clamp_min(1)
    peak = energy.max() if n else energy.new_zeros(())
    energy = energy / peak if peak > 0 else torch.zeros_like(energy)
    if target_len is not None and n < target_len:
        energy = F.pad(energy, (0, int(target_len) - n))
    return energy.to(torch.float32)


def fit_contour(contour: torch.Tensor, length: int) -> torch.Tensor:
    """Crop or zero-pad a contour [..., T] to ``length`` frames (no renormalisation)."""
    t = contour.shape[-1]
    return contour[..., :length] if t >= length else F.pad(contour, (0, length - t))


def _to_samples(value: int | float, sr: int) -> int:
    return int(value) if isinstance(value, int) else int(round(value * sr))


def frame_rms(wav: torch.Tensor, frame: int = 2048, hop: int = 512, center: bool = True) -> torch.Tensor:
    """RMS of each frame of ``wav`` [..., L] -> [..., T]; centred frames are zero-padded (librosa rms)."""
    if center:
        wav = F.pad(wav, (frame // 2, frame // 2))
    if wav.shape[-1] < frame:
        wav = F.pad(wav, (0, frame - wav.shape[-1]))
    frames = wav.unfold(-1, frame, hop)  # (..., T, frame)
    return frames.float().square().mean(-1).sqrt()


def amplitude_to_db(amplitude: torch.Tensor, floor: float = DB_FLOOR_AMPLITUDE) -> torch.Tensor:
    """20 log10(max(a, floor)); the floor (default -100 dB) keeps silence finite."""
    return 20.0 * torch.log10(amplitude.clamp_min(floor))


def frame_rms_db(wav: torch.Tensor, sr: int, frame: int | float = 2048, hop: int | float = 512,
                 center: bool = True) -> torch.Tensor:
    """Per-frame RMS level in dB of the mono mix of ``wav`` ([samples] or [channels, samples]) -> [T].

    ``frame`` and ``hop`` are sample counts when given as int and seconds when given as float (then
    ``sr`` converts them). The defaults, 2048/512 samples at the file's own rate, are what DeepSound-V1
    uses (librosa.feature.rms defaults).
    """
    mono = wav if wav.ndim == 1 else wav.flatten(0, -2).mean(0)
    return amplitude_to_db(frame_rms(mono, _to_samples(frame, sr), max(1, _to_samples(hop, sr)), center))


def silent_fraction(wav: torch.Tensor, sr: int, threshold_db: float = -50.0, **frame_kwargs) -> float:
    """Fraction of frames whose RMS level is below ``threshold_db``."""
    db = frame_rms_db(wav, sr, **frame_kwargs)
    return float((db < threshold_db).float().mean()) if db.numel() else 1.0


def is_silent(wav: torch.Tensor, sr: int, threshold_db: float = -50.0, fraction: float = 0.9,
              **frame_kwargs) -> bool:
    """DeepSound-V1's silence check: more than ``fraction`` of the frames are below ``threshold_db``.

    An empty clip counts as silent.
    """
    if wav.shape[-1] == 0:
        return True
    return silent_fraction(wav, sr, threshold_db, **frame_kwargs) > fraction


def video_rate_contour(wav: torch.Tensor, sr: int, fps: float, target_len: int | None = None,
                       floor_quantile: float = 0.05) -> torch.Tensor:
    """The energy contour as a video would show it -> float32 [frames] in [0, 1] at 93.75 frames/s.

    mean(|x|) over each video frame ``[k/fps, (k+1)/fps)``, the ``floor_quantile`` level subtracted, then
    :func:`video_frames_to_contour`: the shape a lip contour (``perception.mouth.track_to_contour``) has when
    the mouth opening follows the speech energy. Training V2S on it teaches the model the coarser timing it
    is given at inference from the lips. ``target_len`` crops or zero-pads like :func:`energy_contour`.
    """
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    x = _channel0(wav).abs().to(torch.float64).cpu()
    n = contour_frames(x.shape[-1], sr) if target_len is None else int(target_len)
    duration = x.shape[-1] / sr
    n_video = max(1, int(duration * fps))
    bounds = torch.clamp((torch.arange(n_video + 1, dtype=torch.float64) * sr / fps).round().long(), max=x.shape[-1])
    csum = F.pad(torch.cumsum(x, 0), (1, 0))
    values = ((csum[bounds[1:]] - csum[bounds[:-1]]) / (bounds[1:] - bounds[:-1]).clamp_min(1)).numpy()
    if values.size > 1:
        values = np.clip(values - np.quantile(values, floor_quantile), 0.0, None)
    centres = (np.arange(n_video) + 0.5) / fps
    return video_frames_to_contour(centres, values, duration, n)


def video_frames_to_contour(centres: np.ndarray, values: np.ndarray, duration: float, n_frames: int,
                            frame_rate: float = CONTOUR_RATE) -> torch.Tensor:
    """Per-video-frame values (each at the centre of the interval its frame is shown) -> float32 (n_frames,)
    in [0, 1] at ``frame_rate``: contour frame centres interpolated linearly between them, zero past
    ``duration`` (like :func:`fit_contour`'s padding), divided by the maximum."""
    grid = (np.arange(int(n_frames)) + 0.5) / frame_rate
    contour = np.interp(grid, np.asarray(centres, dtype=np.float64), np.asarray(values, dtype=np.float64))
    contour[grid > duration] = 0.0
    peak = contour.max() if contour.size else 0.0
    contour = contour / peak if peak > 0 else contour
    return torch.from_numpy(contour.astype(np.float32))
