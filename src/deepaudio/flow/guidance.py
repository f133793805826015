"""Classifier-free guidance (Ho & Salimans 2022).

We use one convention: ``v = v_uncond + w (v_cond - v_uncond)`` with ``w`` the weight on the
conditional velocity. The two papers' knobs map onto it as follows:
- MMAudio ``cfg_strength`` is ``w`` itself (default 4.5).
- F5-TTS ``cfg_strength`` s is ``w = 1 + s`` (v = v_c + s (v_c - v_u); default s = 2).
``w = 1`` is exactly the conditional pass (no guidance).
"""

from __future__ import annotations

from collections.abc import Callable

import torch


def cfg_combine(v_cond: torch.Tensor, v_uncond: torch.Tensor, weight: float) -> torch.Tensor:
    if weight == 1.0:
        return v_cond
    return v_uncond + weight * (v_cond - v_uncond)


def guided_velocity(cond_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
                    uncond_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None,
                    weight: float,
                    batched_fn: Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]] | None = None,
                    ) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """Build f(t, x) with guidance.

    ``batched_fn(t, x) -> (v_cond, v_uncond)`` runs both branches in one batched pass (faster on
    most hardware); otherwise ``cond_fn`` and ``uncond_fn`` run as two passes. With ``weight == 1`` the
    unconditional branch is skipped entirely.
    """
    if weight == 1.0 or (uncond_fn is None and batched_fn is None):
        return cond_fn

    def f(t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        if batched_fn is not None:
            vc, vu = batched_fn(t, x)
        else:
            vc, vu = cond_fn(t, x), uncond_fn(t, x)
        return cfg_combine(vc, vu, weight)

    return f
