"""Short-time Fourier transform and its inverse, with the padding conventions the references use.

Shape key: ... any leading dims (batch, channels), L samples, F = n_fft // 2 + 1 bins, T frames.

Two padding conventions occur in the system and both must be reproducible exactly:
- ``center=True`` (torchaudio / Vocos 'center' / F5-TTS): the signal is padded by ``n_fft // 2`` on each
  side, so frame t is centred on sample ``t * hop`` and ``T = L // hop + 1``.
- explicit padding with ``center=False`` (MMAudio's mel converter, Vocos 'same'): the signal is padded by
  ``(n_fft - hop) // 2`` on each side first, so ``T = L // hop`` when L is a multiple of hop.
``pad`` (explicit, applied first) and ``center`` (applied by ``torch.stft``) can be combined; the ISTFT
takes the same arguments and removes exactly what the STFT added.

The window is a periodic Hann by default (``torch.hann_window(periodic=True)``), which is what every
reference here uses and what makes overlap-add with hop = n_fft / 4 satisfy the COLA/NOLA conditions.
The ISTFT is a plain weighted overlap-add (``F.fold``) divided by the summed squared window, written out
instead of ``torch.istft`` because ``torch.istft`` refuses ``center=False`` with a window that is zero at
the edges, which is exactly the MMAudio/Vocos 'same' layout.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from deepaudio.errors import InputError

PAD_MODES = ("reflect", "constant", "replicate", "circular")


def hann_window(win_length: int, device: torch.device | str | None = None,
                dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Periodic Hann window, as torch/torchaudio/librosa use for spectral analysis."""
    return torch.hann_window(win_length, periodic=True, device=device, dtype=dtype)


def _pad_pair(pad: int | tuple[int, int]) -> tuple[int, int]:
    if isinstance(pad, int):
        return pad, pad
    left, right = pad
    return int(left), int(right)


def pad_signal(x: torch.Tensor, pad: int | tuple[int, int], mode: str = "reflect") -> torch.Tensor:
    """Pad the last dim of ``x`` (any leading dims) by ``pad`` samples with ``mode``.

    Reflect padding needs more samples than the pad; a clip that is too short is a user problem
    (an input file that is too short), so it raises :class:`InputError` rather than a torch error.
    """
    left, right = _pad_pair(pad)
    if left == 0 and right == 0:
        return x
    if mode not in PAD_MODES:
        raise ValueError(f"unknown pad mode {mode!r}; choose one of {', '.join(PAD_MODES)}")
    length = x.shape[-1]
    if mode == "reflect" and max(left, right) >= length:
        raise InputError(f"audio of {length} samples is too short for reflect padding of {max(left, right)}",
                         hint="give a longer clip")
    lead = x.shape[:-1]
    y = F.pad(x.reshape(-1, 1, length), (left, right), mode=mode)
    return y.reshape(*lead, y.shape[-1])


def _window(window: torch.Tensor | None, win_length: int, n_fft: int, ref: torch.Tensor) -> torch.Tensor:
    """The analysis window, zero-padded to n_fft and centred (torch.stft's rule for win_length < n_fft)."""
    w = hann_window(win_length, device=ref.device, dtype=ref.dtype) if window is None else window
    w = w.to(device=ref.device, dtype=ref.dtype)
    if w.shape[-1] != win_length:
        raise ValueError(f"window has {w.shape[-1]} samples, expected win_length={win_length}")
    if win_length < n_fft:
        left = (n_fft - win_length) // 2
        w = F.pad(w, (left, n_fft - win_length - left))
    return w


def stft(x: torch.Tensor, n_fft: int, hop_length: int, win_length: int | None = None,
         window: torch.Tensor | None = None, *, center: bool = True, pad_mode: str = "reflect",
         pad: int | tuple[int, int] = 0) -> torch.Tensor:
    """Complex STFT of ``x`` [..., L] -> [..., F, T] (onesided, unnormalised).

    ``pad`` samples are added first with ``pad_mode``; then ``center`` pads ``n_fft // 2`` more on each
    side with the same mode (torch.stft semantics). The window defaults to periodic Hann(win_length).
    """
    win_length = n_fft if win_length is None else win_length
    if x.shape[-1] == 0:
        raise InputError("audio is empty", hint="give a clip with at least one frame of samples")
    x = pad_signal(x, pad, pad_mode)
    if center:
        x = pad_signal(x, n_fft // 2, pad_mode)
    if x.shape[-1] < n_fft:
        raise InputError(f"audio of {x.shape[-1]} samples (after padding) is shorter than one frame of {n_fft}",
                         hint="give a longer clip")
    w = _window(window, win_length, n_fft, x)
    lead = x.shape[:-1]
    spec = torch.stft(x.reshape(-1, x.shape[-1]), n_fft, hop_length=hop_length, win_length=n_fft, window=w,
                      center=False, normalized=False, onesided=True, return_complex=True)
    return spec.reshape(*lead, *spec.shape[-2:])


def istft(spec: torch.Tensor, n_fft: int, hop_length: int, win_length: int | None = None,
          window: torch.Tensor | None = None, *, center: bool = True, pad: int | tuple[int, int] = 0,
          length: int | None = None) -> torch.Tensor:
    """Inverse of :func:`stft` with the same arguments: [..., F, T] -> [..., L].

    Least-squares inverse (Griffin & Lim 1984): overlap-add of windowed frames divided by the
    overlap-added squared window. Samples whose window envelope is (numerically) zero are set to 0;
    with the defaults that happens only inside the padding, which is trimmed. ``length`` (the original
    sample count) crops or zero-pads the result to that exact length.
    """
    win_length = n_fft if win_length is None else win_length
    real_dtype = spec.real.dtype
    w = _window(window, win_length, n_fft, torch.empty(0, dtype=real_dtype, device=spec.device))
    lead = spec.shape[:-2]
    frames_n = spec.shape[-1]
    frames = torch.fft.irfft(spec.reshape(-1, *spec.shape[-2:]), n=n_fft, dim=-2)  # (N, n_fft, T)
    frames = frames * w[:, None]
    total = n_fft + hop_length * (frames_n - 1)
    y = F.fold(frames, output_size=(1, total), kernel_size=(1, n_fft), stride=(1, hop_length))
    y = y.reshape(frames.shape[0], total)
    env = F.fold((w * w)[None, :, None].expand(1, n_fft, frames_n), output_size=(1, total),
                 kernel_size=(1, n_fft), stride=(1, hop_length)).reshape(total)
    ok = env > 1e-11
    y = torch.where(ok, y / torch.where(ok, env, torch.ones_like(env)), torch.zeros_like(y))
    left, right = _pad_pair(pad)
    if center:
        left += n_fft // 2
        right += n_fft // 2
    # With ``length`` the signal is the ``length`` samples after the left padding (torch.istft's rule), so
    # a clip that did not fill its last hop is recovered whole; otherwise the right padding is cut as well.
    end = total - right if length is None else min(total, left + length)
    y = y[:, left:end]
    if length is not None and y.shape[-1] < length:
        y = F.pad(y, (0, length - y.shape[-1]))
    return y.reshape(*lead, y.shape[-1])


def magnitude(spec: torch.Tensor, power: float = 1.0, eps: float = 0.0) -> torch.Tensor:
    """``(re^2 + im^2 + eps) ** (power / 2)``.

    MMAudio puts ``eps = 1e-9`` inside the square root so the gradient of the magnitude stays finite
    at zero; torchaudio (Vocos, F5-TTS) uses ``eps = 0``.
    """
    if power == 1.0 and not eps:
        return spec.abs()  # torch's complex abs (hypot), as torchaudio's Spectrogram computes it
    sq = spec.real.square() + spec.imag.square()
    if eps:
        sq = sq + eps
    if power == 2.0:
        return sq
    if power == 1.0:
        return sq.sqrt()
    return sq.pow(power / 2)


def num_frames(length: int, n_fft: int, hop_length: int, center: bool = True,
               pad: int | tuple[int, int] = 0) -> int:
    """How many frames :func:`stft` returns for ``length`` samples."""
    left, right = _pad_pair(pad)
    total = length + left + right + (2 * (n_fft // 2) if center else 0)
    return max(0, (total - n_fft) // hop_length + 1)
