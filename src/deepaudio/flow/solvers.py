"""Fixed-grid ODE solvers for dx/dt = f(t, x), integrated from grid[0] to grid[-1].

The step formulas match torchdiffeq's fixed-grid methods (which the reference code calls), so a grid
and start state give the same numbers:
- euler:    x' = x + h f(t, x)
- midpoint: x' = x + h f(t + h/2, x + h/2 f(t, x))
- rk4:      the 3/8-rule Runge-Kutta that torchdiffeq's ``rk4`` uses
``t`` is passed to ``f`` as a 0-d tensor of the grid's dtype.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

VelocityFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _euler(f: VelocityFn, t0: torch.Tensor, h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return x + h * f(t0, x)


def _midpoint(f: VelocityFn, t0: torch.Tensor, h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    half = 0.5 * h
    x_mid = x + half * f(t0, x)
    return x + h * f(t0 + half, x_mid)


def _rk4(f: VelocityFn, t0: torch.Tensor, h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    k1 = f(t0, x)
    k2 = f(t0 + h / 3, x + h * k1 / 3)
    k3 = f(t0 + h * 2 / 3, x + h * (k2 - k1 / 3))
    k4 = f(t0 + h, x + h * (k1 - k2 + k3))
    return x + h * (k1 + 3 * (k2 + k3) + k4) / 8


SOLVERS: dict[str, tuple[Callable, int]] = {"euler": (_euler, 1), "midpoint": (_midpoint, 2), "rk4": (_rk4, 4)}


def odeint(f: VelocityFn, x0: torch.Tensor, grid: torch.Tensor, method: str = "euler",
           return_trajectory: bool = False,
           progress: Callable[[int, int], None] | None = None) -> torch.Tensor:
    """Integrate from ``x0`` over ``grid`` (1-D, increasing or not); returns x at grid[-1].

    With ``return_trajectory`` the result is stacked over all grid points, shape (len(grid), *x0.shape),
    with trajectory[0] == x0. ``progress(k, n)`` is called after each of the n steps.
    """
    if method not in SOLVERS:
        raise ValueError(f"unknown ODE solver {method!r}; choose one of {', '.join(SOLVERS)}")
    if grid.ndim != 1 or grid.numel() < 2:
        raise ValueError("grid must be a 1-D tensor with at least two time points")
    step, _ = SOLVERS[method]
    x = x0
    traj = [x0] if return_trajectory else None
    n = grid.numel() - 1
    for k in range(n):
        t0, t1 = grid[k], grid[k + 1]
        x = step(f, t0, t1 - t0, x)
        if traj is not None:
            traj.append(x)
        if progress is not None:
            progress(k + 1, n)
    return torch.stack(traj) if traj is not None else x


def function_evaluations(method: str, steps: int) -> int:
    """How many velocity evaluations (NFE) a run of ``steps`` steps costs."""
    return SOLVERS[method][1] * steps
