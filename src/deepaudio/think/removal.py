"""Removing voice-over (DeepSound-V1 step 3) and regenerating (step 4 "neg").

Backends, all ``remove(wav, sr, spans) -> (wav, measurements)``:

- :class:`SeparatorRemover`: a BS-RoFormer vocal separator (public checkpoint); keeps mix - vocals, as
  the paper does, but only inside the voice-over spans (20 ms fades at their edges), so that speech of a
  face talking on screen elsewhere in the clip stays (the paper decides per clip, we decide per segment).
- :class:`SpanSuppressor` (default for a track the user brings, no separator): inside the voice-over
  spans each STFT bin's magnitude is clamped to that bin's 75th-percentile level outside the spans (the
  ambience's own level), phases kept, within the voice band (60-8000 Hz). Speech stands above the
  ambience and is cut down to it; the background continues through the span instead of dropping to
  silence, and impacts keep their high-frequency edge.
- :class:`NegativePromptRemover` (default when a V2A model generated the audio and no separator is
  given): regenerate with the negative prompt "human voice" (MMAudio's CFG then steers away from speech)
  and suppress the spans in the latent before decoding: for the tiny default the latents *are* log-mel
  frames, clamped the same way; for MMAudio's VAE latents the clamp is applied to the decoded audio.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import torch

NEGATIVE_PROMPT = "human voice"
# The clamp level: each bin's 75th percentile outside the spans, in the voice band only. Tuned on toy
# clips (seed 11, 20 voice-over clips): the median over all bins left 0 % voice-over but cut impacts in
# the spans (onset error 33 -> 72 ms) and left 20 % of clips silent; the 90th percentile let 5 % keep
# audible speech; the 75th in 60-8000 Hz leaves 0 %, no silent clip, onsets 33 -> 25 ms.
CLAMP_QUANTILE = 0.75
VOICE_BAND = (60.0, 8000.0)  # Hz clamped: voice fundamentals to fricatives; impacts keep their top octave
SPAN_PAD_S = 0.1  # VAD boundaries are cut on 32 ms windows; pad so that word edges go too


def span_mask(n_frames: int, frame_rate: float, spans, pad: float = SPAN_PAD_S, offset: float = 0.0) -> torch.Tensor:
    """Boolean [n_frames]: frame k (centred at k / frame_rate + offset seconds) lies in a padded span."""
    t = torch.arange(n_frames, dtype=torch.float64) / frame_rate + offset
    mask = torch.zeros(n_frames, dtype=torch.bool)
    for s, e in spans:
        mask |= (t >= s - pad) & (t < e + pad)
    return mask


def span_gate(n_samples: int, sr: int, spans, pad: float = SPAN_PAD_S, fade: float = 0.02) -> torch.Tensor:
    """[n_samples] weights: 1 inside the padded spans, 0 outside, linear fades of ``fade`` seconds."""
    gate = span_mask(n_samples, float(sr), spans, pad).float()
    k = max(1, int(fade * sr))
    padded = torch.nn.functional.pad(gate[None, None], (k // 2, k - 1 - k // 2), mode="replicate")
    return torch.nn.functional.conv1d(padded, torch.ones(1, 1, k) / k)[0, 0].clamp(0, 1)


def clamp_frames(values: torch.Tensor, mask: torch.Tensor, quantile: float = CLAMP_QUANTILE) -> torch.Tensor:
    """Clamp frames ``values`` [T, F] where ``mask`` to each column's ``quantile`` over the unmasked frames

    With fewer than 4 clean frames (speech everywhere) the reference is the 10th percentile of the masked
    frames themselves, a noise-floor estimate.
    """
    if not mask.any():
        return values
    clean = values[~mask]
    ref = clean.float().quantile(quantile, dim=0) if clean.shape[0] >= 4 else values[mask].float().quantile(0.1, dim=0)
    out = values.clone()
    out[mask] = torch.minimum(values[mask], ref.to(values.dtype))
    return out


def _fft_size(sr: int) -> int:
    return 2 ** int(round(math.log2(sr * 0.064)))  # about 64 ms: 1024 at 16 kHz, 2048 at 44.1 kHz


def suppress_spans(wav: torch.Tensor, sr: int, spans, pad: float = SPAN_PAD_S,
                   band: tuple[float, float] | None = VOICE_BAND) -> torch.Tensor:
    """Waveform [C, L] with each bin inside ``spans`` clamped to its level outside them (phases kept)."""
    if not spans or wav.shape[-1] == 0:
        return wav
    n_fft = _fft_size(sr)
    hop = n_fft // 4
    window = torch.hann_window(n_fft, device=wav.device)
    spec = torch.stft(wav.float(), n_fft, hop, window=window, return_complex=True)  # (c, f, t)
    mask = span_mask(spec.shape[-1], sr / hop, spans, pad).to(wav.device)
    mag = spec.abs()
    new = torch.stack([clamp_frames(m.T, mask).T for m in mag])
    if band is not None:  # outside the voice band the track passes unchanged
        freqs = torch.fft.rfftfreq(n_fft, 1.0 / sr).to(wav.device)
        keep = (freqs < band[0]) | (freqs > band[1])
        new[:, keep] = mag[:, keep]
    spec = spec * (new / mag.clamp_min(1e-12))
    return torch.istft(spec, n_fft, hop, window=window, length=wav.shape[-1])


class SpanSuppressor:
    name = "suppress"

    def remove(self, wav: torch.Tensor, sr: int, spans) -> tuple[torch.Tensor, dict]:
        out = suppress_spans(wav, sr, spans)
        level = f"{100 * CLAMP_QUANTILE:.0f}th percentile"
        return out, {"backend": f"span suppression (STFT bins clamped to the out-of-span {level})",
                     "spans": [list(s) for s in spans]}


class SeparatorRemover:
    name = "separator"

    def __init__(self, path: str | Path, device: str | torch.device = "cpu", preset: str = "vocals_317"):
        from deepaudio.think.separator import load_separator

        self.model = load_separator(path, preset, device)
        self.path = Path(path)
        print(f"deepaudio: separator {self.path.name}: {self.model.checkpoint_layout} key layout", file=sys.stderr)

    def remove(self, wav: torch.Tensor, sr: int, spans) -> tuple[torch.Tensor, dict]:
        from deepaudio.think.separator import separate

        vocals = separate(self.model, wav, sr)
        rest = wav.float() - vocals * span_gate(wav.shape[-1], sr, spans).to(vocals)
        rms = lambda x: float(x.square().mean().sqrt()) if x.numel() else 0.0  # noqa: E731
        return rest, {"backend": f"BS-RoFormer ({self.path.name}), mix - vocals",
                      "checkpoint_layout": self.model.checkpoint_layout, "vocals_rms": rms(vocals),
                      "mix_rms": rms(wav), "spans": [list(s) for s in spans]}


class NegativePromptRemover:
    """Regenerate the clip with the negative prompt and suppress the voice-over spans before decoding."""

    name = "negative_prompt"

    def __init__(self, pipe, video: str | Path, seed: int | None = 0, steps: int | None = None,
                 cfg_strength: float | None = None, negative_prompt: str = NEGATIVE_PROMPT):
        self.pipe, self.video, self.seed = pipe, Path(video), seed
        self.steps, self.cfg_strength, self.negative_prompt = steps, cfg_strength, negative_prompt

    def remove(self, wav: torch.Tensor, sr: int, spans) -> tuple[torch.Tensor, dict]:
        out, info = regenerate(self.pipe, self.video, spans, self.seed, self.steps, self.cfg_strength,
                               self.negative_prompt, duration=wav.shape[-1] / sr)
        if self.pipe.sample_rate != sr:
            from deepaudio.io.audio import resample

            out = resample(out, self.pipe.sample_rate, sr)
        return out, info


def regenerate(pipe, video: str | Path, spans, seed: int | None = 0, steps: int | None = None,
               cfg_strength: float | None = None, negative_prompt: str = NEGATIVE_PROMPT,
               duration: float | None = None) -> tuple[torch.Tensor, dict]:
    """V2A audio for ``video`` generated with ``negative_prompt``; ``spans`` suppressed before decoding.

    The V2A pipeline runs as usual; for the log-mel codec a latent-edit hook clamps the spans in each
    window's latent before it is decoded, for VAE latents the decoded audio is suppressed instead."""
    from deepaudio.models.v2a.codecs import MelCodec
    from deepaudio.models.v2a.sampling import DEFAULT_STEPS

    in_latent = isinstance(pipe.codec, MelCodec)

    def clamp_spans(lat: torch.Tensor, start: float) -> torch.Tensor:  # (1, n, m)
        mask = span_mask(lat.shape[1], pipe.codec.latent_rate, spans, offset=start).to(lat.device)
        return clamp_frames(lat[0], mask)[None]

    out, _ = pipe(video, negative_prompt=negative_prompt, duration=duration, steps=steps or DEFAULT_STEPS,
                  cfg_strength=cfg_strength, seed=seed, latent_edit=clamp_spans if in_latent and spans else None)
    if spans and not in_latent:
        out = suppress_spans(out, pipe.sample_rate, spans)
    where = "in the log-mel latent before decoding" if in_latent else "in the decoded audio (VAE latents)"
    return out, {"backend": f"regenerated with negative prompt {negative_prompt!r}",
                 "suppressed": where if spans else "", "spans": [list(s) for s in spans], "seed": seed}
