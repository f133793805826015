"""Mixing speech over ambience with ducking (sidechain compression by the speech envelope).

Dubbing puts generated speech over generated ambience, and neither comes out at a known level: the
TTS speaks at its reference's level, the V2A model at whatever its training clips had (a babble or
crowd ambience can be louder than the speech). Three steps, as a broadcast dialogue mix does:

1. the speech is levelled to ``speech_lufs`` (ITU-R BS.1770 integrated loudness, gated, so pauses do
   not count; -20 LUFS leaves headroom for the peaks of a -14 to -16 LUFS programme);
2. the ambience is kept at least ``ambience_ratio_db`` below the speech loudness (lowered if louder,
   never raised): the speech-to-ambience ratio;
3. where speech is active the ambience is lowered by a further ``duck_db``; the gain follows the
   speech envelope with a fast attack and a slower release, as a broadcast mixer's ducker does, so
   the ambience does not pump between words.

The sum is scaled down to ``peak`` if it would clip (which keeps the ratio). ``speech_lufs=None`` and
``ambience_ratio_db=None`` skip steps 1 and 2 (the tracks' own levels, ducking only).
Measured: ``benchmarks/bench_mix_intelligibility.py`` (Whisper WER of the mix against the speech alone).
"""

from __future__ import annotations

import math

import torch

from deepaudio.dsp.loudness import integrated_loudness

SPEECH_LUFS = -20.0
AMBIENCE_RATIO_DB = 10.0


def envelope_follower(x: torch.Tensor, sample_rate: int, attack: float = 0.01, release: float = 0.25,
                      frame: float = 0.01) -> torch.Tensor:
    """Per-sample envelope of |x| (channel mean) with one-pole attack/release smoothing on 10 ms frames."""
    mono = x.abs().mean(0) if x.ndim == 2 else x.abs()
    hop = max(1, int(round(frame * sample_rate)))
    n = (mono.shape[-1] + hop - 1) // hop
    padded = torch.nn.functional.pad(mono, (0, n * hop - mono.shape[-1]))
    rms = padded.reshape(n, hop).pow(2).mean(-1).sqrt()
    a_att = float(torch.exp(torch.tensor(-frame / max(attack, 1e-4))))
    a_rel = float(torch.exp(torch.tensor(-frame / max(release, 1e-4))))
    env = torch.empty_like(rms)
    level = 0.0
    for i, v in enumerate(rms.tolist()):  # n is frames (100/s): cheap even for long videos
        coef = a_att if v > level else a_rel
        level = coef * level + (1 - coef) * v
        env[i] = level
    return env.repeat_interleave(hop)[: mono.shape[-1]]


def duck_gain(speech: torch.Tensor, sample_rate: int, duck_db: float = -12.0, threshold_db: float = -40.0,
              attack: float = 0.01, release: float = 0.25) -> torch.Tensor:
    """Gain curve (samples,) in [10^(duck_db/20), 1] for the ambience: low where speech is active."""
    env = envelope_follower(speech, sample_rate, attack, release)
    thr = 10 ** (threshold_db / 20)
    # Activity rises smoothly from 0 at the threshold to 1 at 12 dB above it.
    activity = ((20 * torch.log10(env.clamp_min(1e-8) / thr)) / 12.0).clamp(0.0, 1.0)
    floor = 10 ** (duck_db / 20)
    return 1.0 - (1.0 - floor) * activity


def level_tracks(speech: torch.Tensor, ambience: torch.Tensor, sample_rate: int,
                 speech_lufs: float | None = SPEECH_LUFS,
                 ambience_ratio_db: float | None = AMBIENCE_RATIO_DB) -> tuple[torch.Tensor, torch.Tensor]:
    """Steps 1-2: speech at ``speech_lufs``; ambience at most ``ambience_ratio_db`` below the speech.
    A silent (unmeasurable) track is left as it is."""
    speech_level = integrated_loudness(speech, sample_rate)
    if speech_lufs is not None and math.isfinite(speech_level):
        speech = speech * 10 ** ((speech_lufs - speech_level) / 20)
        speech_level = speech_lufs
    ambience_level = integrated_loudness(ambience, sample_rate)
    if ambience_ratio_db is not None and math.isfinite(speech_level) and math.isfinite(ambience_level):
        excess = ambience_level - (speech_level - ambience_ratio_db)
        if excess > 0:
            ambience = ambience * 10 ** (-excess / 20)
    return speech, ambience


def mix_with_ducking(speech: torch.Tensor, ambience: torch.Tensor, sample_rate: int, duck_db: float = -12.0,
                     speech_gain_db: float = 0.0, ambience_gain_db: float = 0.0, peak: float = 0.98,
                     speech_lufs: float | None = SPEECH_LUFS,
                     ambience_ratio_db: float | None = AMBIENCE_RATIO_DB) -> torch.Tensor:
    """(C, T) mix of speech and ambience (same rate); the shorter one is zero-padded; mono broadcasts.
    ``speech_gain_db`` / ``ambience_gain_db`` are applied after the levelling (steps 1-2)."""
    if speech.ndim == 1:
        speech = speech[None]
    if ambience.ndim == 1:
        ambience = ambience[None]
    channels = max(speech.shape[0], ambience.shape[0])
    length = max(speech.shape[-1], ambience.shape[-1])
    s = torch.nn.functional.pad(speech, (0, length - speech.shape[-1])).expand(channels, length)
    a = torch.nn.functional.pad(ambience, (0, length - ambience.shape[-1])).expand(channels, length)
    s, a = level_tracks(s, a, sample_rate, speech_lufs, ambience_ratio_db)
    g = duck_gain(s, sample_rate, duck_db).to(a.dtype)
    mix = s * 10 ** (speech_gain_db / 20) + a * g * 10 ** (ambience_gain_db / 20)
    top = float(mix.abs().max()) if mix.numel() else 0.0
    return mix * (peak / top) if top > peak else mix
