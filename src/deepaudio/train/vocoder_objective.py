"""The vocoder's training objective without a discriminator: the spectrum and its phase supervised directly.

Vocos (Siuzdak 2023) predicts, per mel frame, a log-magnitude and a phase for every STFT bin and inverts
them with an ISTFT; it learns them through adversarial and mel losses, which takes days of GPU time. When
the head's STFT has the same window, size and hop as an STFT of the target waveform, both quantities have
a target of their own, which is what APNet (Ai & Ling 2023) trains on. Terms (B batch, F bins, T frames):

- ``mag``: L1 between the predicted log-magnitude and the target's ``log(max(|S|, 1e-5))``;
- ``phase``: anti-wrapping distance ``|d - 2 pi round(d / 2 pi)|`` of the instantaneous phase, of its
  difference along frequency (group delay) and along time (instantaneous frequency); each bin is weighted by
  its target magnitude (relative to the item's mean), since the phase of a bin without energy is inaudible
  and random in the target;
- ``complex``: L1 of the real and imaginary parts of the predicted spectrum against the target's, and of the
  predicted spectrum against the STFT of its own ISTFT (the spectrum must be one a waveform can have:
  APNet's consistency term);
- ``mel``: L1 between the log-mel of the output waveform and the input log-mel (what a listener hears; the
  HiFi-GAN/Vocos reconstruction term).

Weights follow APNet's ratios (amplitude 45 : phase 100 : spectrum 20) with the mel term at the amplitude's
weight, divided by 45.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from deepaudio.dsp.mel import MelSettings, mel_spectrogram
from deepaudio.models.vocoders.vocos import Vocos

WEIGHTS = {"mag": 1.0, "phase": 100 / 45, "complex": 20 / 45, "mel": 1.0, "stft": 0.0}
MAG_FLOOR = 1e-5
STFT_RESOLUTIONS = ((512, 128), (1024, 256), (2048, 512))  # (n_fft, hop) of the multi-resolution STFT term


def multi_resolution_stft(out: torch.Tensor, ref: torch.Tensor, floor: float = MAG_FLOOR) -> torch.Tensor:
    """Spectral convergence plus log-magnitude L1 at three resolutions (Yamamoto 2020): a spectrum the head
    predicts but no waveform has (phases that do not agree across overlapping frames) smears at the other
    resolutions, so this term sees what one STFT's own targets cannot."""
    total = out.new_zeros(())
    for n_fft, hop in STFT_RESOLUTIONS:
        win = torch.hann_window(n_fft, device=out.device)
        x = torch.stft(out, n_fft, hop, n_fft, win, center=True, return_complex=True).abs()
        y = torch.stft(ref, n_fft, hop, n_fft, win, center=True, return_complex=True).abs()
        sc = torch.linalg.vector_norm(y - x, dim=(1, 2)) / torch.linalg.vector_norm(y, dim=(1, 2)).clamp_min(1e-8)
        total = total + sc.mean() + (x.clamp_min(floor).log() - y.clamp_min(floor).log()).abs().mean()
    return total / len(STFT_RESOLUTIONS)


def anti_wrap(d: torch.Tensor) -> torch.Tensor:
    """Distance of a phase difference to the nearest multiple of 2 pi, in [0, pi]."""
    return (d - 2 * math.pi * torch.round(d / (2 * math.pi))).abs()


def phase_losses(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Instantaneous phase, group delay and instantaneous angular frequency distances; [B, F, T] inputs."""
    ip = (anti_wrap(pred - target) * weight).mean()
    gd = (anti_wrap(torch.diff(pred, dim=1) - torch.diff(target, dim=1)) * weight[:, 1:]).mean()
    iaf = (anti_wrap(torch.diff(pred, dim=2) - torch.diff(target, dim=2)) * weight[:, :, 1:]).mean()
    return ip + gd + iaf


class VocoderObjective(nn.Module):
    """``forward({"wav": [B, L]}) -> loss`` for a Vocos whose head STFT equals its feature STFT (centred).

    ``mel`` is the mel the generator writes (the vocoder's input at inference); ``last`` keeps the terms of
    the latest call for the log.
    """

    def __init__(self, vocoder: Vocos, mel: MelSettings, weights: dict[str, float] | None = None):
        super().__init__()
        self.weights = {**WEIGHTS, **(weights or {})}
        cfg = vocoder.config
        if (cfg.head_n_fft, cfg.head_hop_length, cfg.head_padding) != (mel.n_fft, mel.hop_length, "center") or \
                not mel.center:
            raise ValueError("the direct spectrum targets need the head STFT to be the mel's centred STFT")
        self.vocoder, self.mel = vocoder, mel
        self.last: dict[str, float] = {}

    def _target(self, wav: torch.Tensor) -> torch.Tensor:
        window = self.vocoder.head.istft.window
        return torch.stft(wav, self.mel.n_fft, self.mel.hop_length, self.mel.n_fft, window, center=True,
                          pad_mode="reflect", return_complex=True)  # (B, F, T)

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        wav = batch["wav"].float()  # (B, L), L a multiple of the hop
        with torch.no_grad():
            mel_in = mel_spectrogram(wav, self.mel)  # (B, M, T)
            target = self._target(wav)
        head = self.vocoder.head
        x = head.out(self.vocoder.backbone(mel_in)).transpose(1, 2).float()  # (B, 2F, T)
        log_mag, phase = x.chunk(2, dim=1)
        spec = torch.clip(torch.exp(log_mag), max=1e2) * torch.exp(1j * phase)
        out = head.istft(spec)  # (B, L)
        t_mag = target.abs()
        weight = t_mag / t_mag.mean(dim=(1, 2), keepdim=True).clamp_min(1e-8)
        terms = {
            "mag": (log_mag - torch.log(t_mag.clamp_min(MAG_FLOOR))).abs().mean(),
            "phase": phase_losses(phase, torch.angle(target), weight),
            "complex": (torch.view_as_real(spec) - torch.view_as_real(target)).abs().mean()
            + (torch.view_as_real(self._target(out)) - torch.view_as_real(spec)).abs().mean(),
            "mel": (mel_spectrogram(out, self.mel) - mel_in).abs().mean(),
        }
        if self.weights["stft"]:
            terms["stft"] = multi_resolution_stft(out, wav)
        self.last = {k: float(v.detach()) for k, v in terms.items()}
        return sum(self.weights[k] * v for k, v in terms.items())
