"""Ambient sound of a scene, synthesised from its ground truth at any sample rate.

Because the sound is computed from the recorded events (contact times, speeds, source trajectories)
rather than recorded, the same scene can be rendered at 16 kHz for V2A and 24 kHz for the dubbing mix
with every impact on the exact sample ``round(time * sr)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from deepaudio.data.toyworld.materials import MATERIALS, contact_burst, impact_gain, modal_ring


def impacts_track(contacts: list[dict], n_samples: int, sr: int, seed: int, audible_speed: float) -> np.ndarray:
    """Sum of modal impact sounds, each starting at ``round(contact['time'] * sr)``.

    ``contacts`` are the JSON ground-truth records (time, speed, and per body material and radius);
    pair contacts sound both materials at half gain each.
    """
    out = np.zeros(n_samples, dtype=np.float64)
    rings: dict[tuple[str, float], np.ndarray] = {}
    for k, c in enumerate(contacts):
        if c["speed"] < audible_speed:
            continue
        start = int(round(c["time"] * sr))
        if start >= n_samples:
            continue
        rng = np.random.default_rng([seed, k, sr])
        gain = 0.25 * impact_gain(c["speed"]) / len(c["materials"])
        for mat, radius in zip(c["materials"], c["radii"]):
            ring = rings.get((mat, radius))
            if ring is None:
                ring = rings[(mat, radius)] = modal_ring(MATERIALS[mat], radius, sr)
            end = min(n_samples, start + len(ring))
            out[start:end] += gain * ring[: end - start]
            burst = contact_burst(MATERIALS[mat], sr, rng)[: end - start]
            out[start: start + len(burst)] += gain * burst
    return out.astype(np.float32)


@dataclass(frozen=True)
class HumVoice:
    """An engine-like source: harmonic series on a speed-dependent fundamental plus rough noise."""

    name: str
    color: tuple[int, int, int]
    idle_hz: float  # fundamental at rest
    hz_per_speed: float  # fundamental rise per px/s
    n_harmonics: int
    noise: float


HUMS: dict[str, HumVoice] = {
    h.name: h
    for h in (
        HumVoice("engine", (240, 170, 30), 55.0, 0.45, 10, 0.25),
        HumVoice("scooter", (160, 60, 200), 110.0, 0.7, 7, 0.35),
        HumVoice("drone", (60, 60, 70), 180.0, 0.5, 5, 0.15),
    )
}


def hum_track(hum: HumVoice, speed: np.ndarray, sr: int, seed: int, gain: float = 0.15) -> np.ndarray:
    """Hum for a per-sample ``speed`` (px/s): the pitch follows speed, loudness rises with it.

    The phase is the running integral of the fundamental so pitch glides without clicks; harmonics
    fall off as 1/h; the noise is low-passed white noise modulated at the firing rate (half the
    fundamental), which is what makes a harmonic tone sound like a motor rather than an organ.
    """
    f0 = hum.idle_hz + hum.hz_per_speed * speed
    phase = 2 * np.pi * np.cumsum(f0) / sr
    out = np.zeros(len(speed))
    for h in range(1, hum.n_harmonics + 1):
        alias = (h * f0) < 0.45 * sr
        out += alias * np.sin(h * phase) / h
    rng = np.random.default_rng([seed, sr, 7])
    noise = np.convolve(rng.standard_normal(len(speed)), np.ones(8) / 8, mode="same")
    out += hum.noise * noise * (1 + np.sin(0.5 * phase)) * 2
    level = gain * (0.5 + 0.5 * np.clip(speed / 150.0, 0, 1))
    return (level * out / 1.5).astype(np.float32)
