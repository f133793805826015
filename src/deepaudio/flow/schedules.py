"""Time grids for fixed-step ODE solving.

- uniform: linspace(0, 1, steps + 1)
- EPSS (F5-TTS v1 "empirically pruned step sampling"): hand-tuned grids on a 1/32 lattice for 5, 6, 7,
  10, 12 and 16 steps, dense near t=0 where the velocity changes most; other step counts fall back to
  uniform, as in the reference.
- sway sampling (F5-TTS eq. 7): t' = t + s (cos(pi/2 t) - 1 + t); s < 0 moves steps towards t=0.
"""

from __future__ import annotations

import math

import torch

_EPSS_LATTICE = 32
_EPSS_TABLE: dict[int, tuple[int, ...]] = {
    5: (0, 2, 4, 8, 16, 32),
    6: (0, 2, 4, 6, 8, 16, 32),
    7: (0, 2, 4, 6, 8, 16, 24, 32),
    10: (0, 2, 4, 6, 8, 12, 16, 20, 24, 28, 32),
    12: (0, 2, 4, 6, 8, 10, 12, 14, 16, 20, 24, 28, 32),
    16: (0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 16, 20, 24, 28, 32),
}
EPSS_STEPS = tuple(sorted(_EPSS_TABLE))


def uniform_grid(steps: int, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32) -> torch.Tensor:
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    return torch.linspace(0, 1, steps + 1, device=device, dtype=dtype)


def epss_grid(steps: int, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32) -> torch.Tensor:
    if steps not in _EPSS_TABLE:
        return uniform_grid(steps, device, dtype)
    # (1/32) * integer lattice, computed the same way as the reference so the fp32 values agree bitwise.
    return (1 / _EPSS_LATTICE) * torch.tensor(_EPSS_TABLE[steps], device=device, dtype=dtype)


def sway(t: torch.Tensor, coef: float | None) -> torch.Tensor:
    if coef is None:
        return t
    return t + coef * (torch.cos(math.pi / 2 * t) - 1 + t)


def make_time_grid(steps: int, schedule: str = "uniform", sway_coef: float | None = None,
                   device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The (steps + 1) time points from 0 to 1; ``schedule`` is 'uniform' or 'epss', sway applied last."""
    if schedule == "uniform":
        t = uniform_grid(steps, device, dtype)
    elif schedule == "epss":
        t = epss_grid(steps, device, dtype)
    else:
        raise ValueError(f"unknown time schedule {schedule!r} (uniform, epss)")
    return sway(t, sway_coef)
