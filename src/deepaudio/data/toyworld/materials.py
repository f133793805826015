"""Materials: what an object looks like (its colour) and how it sounds when struck.

Impact sounds use modal synthesis (van den Doel & Pai, "The sounds of physical shapes", 1998): a
struck solid rings as a sum of exponentially damped sinusoids whose frequencies follow its size and
material and whose decay rates follow the material's internal damping. Metal rings long, glass rings
high, wood is short and knocky, rubber is a low thud. A 2-4 ms noise burst models the contact itself
and gives every impact a sharp onset exactly at the contact sample.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Material:
    name: str
    color: tuple[int, int, int]
    freqs: tuple[float, ...]  # Hz of the modes for an object of radius REF_RADIUS
    decays: tuple[float, ...]  # seconds (exp(-t / decay))
    amps: tuple[float, ...]
    restitution: float
    noise: float  # level of the contact noise burst
    noise_ms: float


REF_RADIUS = 10.0

MATERIALS: dict[str, Material] = {
    m.name: m
    for m in (
        Material("metal", (190, 190, 205), (620.0, 1480.0, 2710.0, 4030.0), (0.9, 0.6, 0.35, 0.2),
                 (1.0, 0.6, 0.4, 0.25), 0.8, 0.25, 2.0),
        Material("glass", (110, 200, 240), (1750.0, 3350.0, 5200.0), (0.35, 0.22, 0.12), (1.0, 0.5, 0.3), 0.75,
                 0.2, 2.0),
        Material("wood", (150, 95, 45), (210.0, 560.0, 1150.0), (0.06, 0.035, 0.02), (1.0, 0.5, 0.3), 0.55, 0.5,
                 3.0),
        Material("plastic", (40, 175, 70), (410.0, 980.0, 2150.0), (0.09, 0.05, 0.03), (1.0, 0.5, 0.3), 0.65, 0.4,
                 2.5),
        Material("rubber", (225, 45, 45), (85.0, 170.0, 300.0), (0.05, 0.03, 0.02), (1.0, 0.4, 0.15), 0.85, 0.35,
                 4.0),
    )
}

REFERENCE_SPEED = 400.0  # px/s that gives full-scale loudness


def impact_gain(speed: float) -> float:
    """Loudness follows impact speed (linear in amplitude, capped)."""
    return float(min(speed / REFERENCE_SPEED, 1.5))


def modal_ring(material: Material, radius: float, sr: int, max_len: float = 2.0) -> np.ndarray:
    """The ringing part of an impact at unit gain: damped sinusoids, starting at phase 0.

    Frequencies scale with ``(REF_RADIUS / radius) ** 0.5`` (bigger objects sound lower); modes at or
    above 0.45 * sr are dropped so nothing aliases at 16 kHz. The ring lasts until the slowest mode is
    80 dB down (at most ``max_len``). One object always rings the same, so callers cache this.
    """
    scale = (REF_RADIUS / radius) ** 0.5
    n = int(sr * min(max_len, max(material.decays) * np.log(1e4))) + 1
    t = np.arange(n, dtype=np.float64) / sr
    out = np.zeros(n, dtype=np.float64)
    for f, d, a in zip(material.freqs, material.decays, material.amps):
        if f * scale < 0.45 * sr:
            out += a * np.exp(-t / d) * np.sin(2 * np.pi * f * scale * t)
    return out


def contact_burst(material: Material, sr: int, rng: np.random.Generator) -> np.ndarray:
    """The contact itself: a few ms of decaying noise whose first sample is never zero (an exact onset)."""
    n = max(1, int(material.noise_ms * 1e-3 * sr))
    burst = material.noise * rng.standard_normal(n) * np.exp(-np.arange(n) / (0.3 * n))
    burst[0] = material.noise
    return burst


def impact_sound(material: Material, radius: float, speed: float, sr: int, rng: np.random.Generator) -> np.ndarray:
    """One whole impact starting at sample 0 (= the contact instant); loudness follows ``speed``."""
    ring = modal_ring(material, radius, sr)
    burst = contact_burst(material, sr, rng)
    ring[: len(burst)] += burst
    return (0.25 * impact_gain(speed) * ring).astype(np.float32)
