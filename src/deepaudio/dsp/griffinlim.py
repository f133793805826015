"""Griffin-Lim inversion of a log-mel spectrogram: the vocoder of last resort.

No neural vocoder weights ship with the package, so demos and tests that must produce a waveform from a
mel without user-supplied Vocos/BigVGAN weights use this. It is intelligible but phasey; always report
that it was used.

Steps:
1. Undo the log of the mel settings (exp or 10^x) and, for power != 1, the power.
2. Linear magnitude from mel by the pseudo-inverse of the filterbank, clamped at 0 (the least-squares
   solution; mel filters are not invertible, so high-resolution detail within a band is lost).
3. Fast Griffin-Lim (Perraudin, Balazs & Sondergaard 2013): alternate projections between consistent
   spectrograms and the target magnitude, with a momentum term (0.99 as in librosa / torchaudio) that
   speeds convergence over plain Griffin & Lim (1984).
The STFT uses the settings' own padding, so the output length is what the vocoders give for the same
mel: (T - 1) * hop for centred settings, T * hop for 'same'.
"""

from __future__ import annotations

import torch

from deepaudio.dsp.mel import MelSettings, log_decompress, settings_filterbank
from deepaudio.dsp.stft import hann_window, istft, stft


def mel_to_linear(mel: torch.Tensor, settings: MelSettings) -> torch.Tensor:
    """Least-squares linear magnitude [..., F, T] from a (log-)mel [..., M, T] of ``settings``."""
    power_mel = log_decompress(mel.float(), settings)
    fb = settings_filterbank(settings, device=mel.device, dtype=torch.float64)
    inv = torch.linalg.pinv(fb).to(torch.float32)  # (F, M)
    spec = torch.matmul(inv, power_mel).clamp_min(0.0)
    if settings.power != 1.0:
        spec = spec.pow(1.0 / settings.power)
    return spec


def griffin_lim(magnitude: torch.Tensor, settings: MelSettings, n_iter: int = 32, momentum: float = 0.99,
                length: int | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
    """Waveform [..., L] whose STFT magnitude approximates ``magnitude`` [..., F, T].

    Phases start random (from ``generator``, drawn on CPU so a seed reproduces on every device);
    ``n_iter`` projections with ``momentum`` follow.
    """
    if not 0.0 <= momentum < 1.0:
        raise ValueError(f"momentum must be in [0, 1), got {momentum}")
    s = settings
    window = hann_window(s.win_length, device=magnitude.device, dtype=magnitude.dtype)
    kw = dict(n_fft=s.n_fft, hop_length=s.hop_length, win_length=s.win_length, window=window, center=s.center)
    if length is None:
        frames = magnitude.shape[-1]
        length = (frames - 1) * s.hop_length if s.center else frames * s.hop_length
    phase = torch.rand(magnitude.shape, generator=generator).to(magnitude.device) * (2 * torch.pi)
    angles = torch.polar(torch.ones_like(magnitude), phase)
    previous = torch.zeros_like(angles)
    for _ in range(n_iter):
        wav = istft(magnitude * angles, pad=s.stft_pad, length=length, **kw)
        rebuilt = stft(wav, pad_mode=s.pad_mode, pad=s.stft_pad, **kw)
        angles = rebuilt - (momentum / (1 + momentum)) * previous
        angles = angles / angles.abs().clamp_min(1e-16)
        previous = rebuilt
    return istft(magnitude * angles, pad=s.stft_pad, length=length, **kw)


def griffin_lim_from_mel(mel: torch.Tensor, settings: MelSettings, n_iter: int = 32, momentum: float = 0.99,
                         length: int | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
    """Waveform [..., L] at ``settings.sample_rate`` from a log-mel [..., M, T] made with ``settings``."""
    return griffin_lim(mel_to_linear(mel, settings), settings, n_iter=n_iter, momentum=momentum, length=length,
                       generator=generator)
