"""Sampling MMAudio latents with the shared flow-matching solvers.

MMAudio integrates the rectified flow from noise (t=0) to data (t=1) with a uniform Euler grid of 25
steps and ``min_sigma = 0`` (``mmaudio/model/flow_matching.py``), guiding every step with
``v = w v_cond + (1 - w) v_uncond`` (w = ``cfg_strength``, 4.5 by default), which is
:func:`deepaudio.flow.cfg_combine` with weight w. The conditions are projected once before the loop.
The result is in the normalised latent space; ``net.unnormalize`` maps it back for the VAE decoder.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from deepaudio.flow import make_time_grid, odeint
from deepaudio.models.v2a.mmdit import MMAudioNet, PreprocessedConditions

DEFAULT_STEPS = 25
DEFAULT_CFG = 4.5


def guided_flow(net: MMAudioNet, conditions: PreprocessedConditions, empty_conditions: PreprocessedConditions,
                cfg_strength: float = DEFAULT_CFG, batched: bool = False
                ) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """f(t, x) for the ODE solver. ``batched`` runs the two CFG branches as one 2B forward (faster on
    accelerators; equal to the two-pass form up to fp rounding)."""
    if not batched or cfg_strength < 1.0:
        return lambda t, x: net.ode_wrapper(t, x, conditions, empty_conditions, cfg_strength)
    both = conditions.cat(empty_conditions.expand(conditions.clip_f.shape[0]))

    def f(t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        b = x.shape[0]
        tt = t * torch.ones(2 * b, device=x.device, dtype=x.dtype)
        v_c, v_u = net.predict_flow(torch.cat([x, x]), tt, both).chunk(2)
        return cfg_strength * v_c + (1 - cfg_strength) * v_u

    return f


@torch.no_grad()
def sample_latents(net: MMAudioNet, x0: torch.Tensor, conditions: PreprocessedConditions,
                   empty_conditions: PreprocessedConditions, cfg_strength: float = DEFAULT_CFG,
                   steps: int = DEFAULT_STEPS, method: str = "euler", batched: bool = False,
                   progress: Callable[[int, int], None] | None = None) -> torch.Tensor:
    """Integrate from noise ``x0`` (B, N, C) to normalised latents (B, N, C)."""
    grid = make_time_grid(steps, "uniform", device="cpu", dtype=torch.float32).to(x0.device)
    f = guided_flow(net, conditions, empty_conditions, cfg_strength, batched)
    return odeint(f, x0, grid, method=method, progress=progress)
