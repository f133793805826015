"""Rectified-flow probability path and the conditional flow-matching loss.

Shape key: B batch, N sequence, C channels.

Path (Lipman et al. 2023, with ``sigma_min``; F5-TTS uses 0, MMAudio ``min_sigma`` 0):
    x_t = (1 - (1 - sigma_min) t) x0 + t x1,   target velocity u = x1 - (1 - sigma_min) x0
with x0 ~ N(0, I) the noise and x1 the data. Time runs from noise (t=0) to data (t=1).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class FlowPath:
    sigma_min: float = 0.0

    def interpolate(self, x0: torch.Tensor, x1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """x_t for per-sample times ``t`` of shape (B,) (or a scalar)."""
        t = _expand(t, x1)
        return (1 - (1 - self.sigma_min) * t) * x0 + t * x1

    def velocity(self, x0: torch.Tensor, x1: torch.Tensor) -> torch.Tensor:
        """The regression target u(x_t | x1) = x1 - (1 - sigma_min) x0 (constant along the path)."""
        return x1 - (1 - self.sigma_min) * x0

    def sample_time(self, batch: int, generator: torch.Generator | None = None,
                    device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """Uniform t in [0, 1) per sample, drawn on CPU from ``generator`` for reproducibility."""
        return torch.rand(batch, generator=generator, dtype=dtype).to(device)

    def loss(self, pred: torch.Tensor, x0: torch.Tensor, x1: torch.Tensor,
             mask: torch.Tensor | None = None) -> torch.Tensor:
        """Mean squared error between ``pred`` and the target velocity.

        ``mask`` (B, N) bool selects the frames that count (F5-TTS: the infilled span of valid frames);
        the mean is over the selected elements, so padding never dilutes the loss.
        """
        err = (pred.float() - self.velocity(x0, x1).float()) ** 2  # (B, N, C)
        if mask is None:
            return err.mean()
        m = mask.to(err.dtype).unsqueeze(-1).expand_as(err)
        return (err * m).sum() / m.sum().clamp_min(1.0)


def _expand(t: torch.Tensor | float, ref: torch.Tensor) -> torch.Tensor:
    t = torch.as_tensor(t, dtype=ref.dtype, device=ref.device)
    if t.ndim == 0:
        return t
    return t.reshape(-1, *([1] * (ref.ndim - 1)))
