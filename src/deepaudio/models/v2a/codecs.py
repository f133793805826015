"""Latent codecs for the V2A flow: waveform <-> the sequence the MM-DiT generates.

- :class:`MMAudioCodec`: MMAudio's mel VAE + BigVGAN (official weights): latents at sr/hop/2 per second.
- :class:`MelCodec`: the tiny default's codec: a log-mel spectrogram *is* the latent (frames x bins),
  decoded by a trained vocoder when one is bundled, else by Griffin-Lim. It needs no VAE training.

Both expose ``sample_rate``, ``latent_rate`` (latents per second), ``latent_dim``, ``encode(wav [B, L])
-> [B, N, C]`` and ``decode(latents [B, N, C]) -> wav [B, L]``; latents here are *un*-normalised (the
network's ``normalize``/``unnormalize`` map them to and from the flow's unit-scale space).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from deepaudio.dsp.mel import MMAUDIO_16K, MMAUDIO_44K, MelSettings, mel_spectrogram


class MMAudioCodec:
    """VAE (mel <-> latent) + BigVGAN (mel -> waveform), both frozen."""

    def __init__(self, vae, vocoder):
        self.vae = vae.eval()
        self.vocoder = vocoder.eval()
        self.mel = MMAUDIO_16K if vae.config.data_dim == 80 else MMAUDIO_44K
        self.sample_rate = self.mel.sample_rate
        self.latent_rate = self.mel.sample_rate / self.mel.hop_length / vae.config.downsample
        self.latent_dim = vae.config.embed_dim

    @torch.no_grad()
    def encode(self, wav: torch.Tensor) -> torch.Tensor:
        mel = mel_spectrogram(wav, self.mel)
        crop = mel.shape[-1] - mel.shape[-1] % self.vae.config.downsample
        return self.vae.encode_latents(mel[..., :crop]).mean

    @torch.no_grad()
    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        mel = self.vae.decode_latents(latents.to(next(self.vae.parameters()).dtype))
        return self.vocoder.decode(mel).float()


@dataclass(frozen=True)
class MelCodecConfig:
    sample_rate: int = 16000
    n_fft: int = 1024
    hop_length: int = 512
    n_mels: int = 64
    griffin_lim_iters: int = 48

    def settings(self) -> MelSettings:
        # Slaney filters + natural log as MMAudio's mels; centred frames so frame k sits at k * hop.
        return MelSettings(sample_rate=self.sample_rate, n_fft=self.n_fft, hop_length=self.hop_length,
                           win_length=self.n_fft, n_mels=self.n_mels, f_max=None, mel_scale="slaney", norm="slaney",
                           padding="center", log="ln", log_floor=1e-5)


class MelCodec:
    """Log-mel frames as latents; vocoder or Griffin-Lim back to audio."""

    def __init__(self, config: MelCodecConfig, vocoder=None):
        self.config = config
        self.mel = config.settings()
        self.vocoder = vocoder.eval() if vocoder is not None else None
        self.sample_rate = config.sample_rate
        self.latent_rate = config.sample_rate / config.hop_length
        self.latent_dim = config.n_mels
        self._floor = math.log(self.mel.log_floor)
        # Ceiling: the loudest bin of a full-scale chirp over the whole band, plus 1 (a factor e) of margin.
        t = torch.arange(config.sample_rate) / config.sample_rate
        chirp = torch.sin(2 * math.pi * (20 * t + (config.sample_rate / 4 - 20) / 2 * t**2))
        self._ceiling = float(mel_spectrogram(chirp[None], self.mel).max()) + 1.0

    def num_latents(self, duration: float) -> int:
        return int(math.ceil(duration * self.latent_rate))

    @torch.no_grad()
    def encode(self, wav: torch.Tensor) -> torch.Tensor:
        return mel_spectrogram(wav.float(), self.mel).transpose(-1, -2)  # (B, N, M)

    @torch.no_grad()
    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        # A generated log-mel can overshoot what any real clip reaches (an undertrained flow, a high CFG
        # weight); exp() of that would blow up the waveform, so clamp to the range real audio can have.
        mel = latents.float().transpose(-1, -2).clamp(min=self._floor, max=self._ceiling)
        if self.vocoder is not None:
            return self.vocoder.decode(mel).float()
        from deepaudio.dsp.griffinlim import griffin_lim_from_mel

        # A fixed phase seed makes decoding a function of the mel: same latents, same waveform.
        gen = torch.Generator().manual_seed(0)
        wav = griffin_lim_from_mel(mel, self.mel, n_iter=self.config.griffin_lim_iters, generator=gen)
        peak = float(wav.abs().max()) if wav.numel() else 0.0
        return wav * (0.99 / peak) if peak > 0.99 else wav
