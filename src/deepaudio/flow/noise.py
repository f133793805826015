"""Reproducible initial noise: explicit seeds, drawn on CPU so that a seed gives the same noise on
every device, then moved to the target device."""

from __future__ import annotations

import torch
from torch.nn.utils.rnn import pad_sequence


def make_generator(seed: int | None) -> torch.Generator:
    g = torch.Generator(device="cpu")
    if seed is None:
        g.seed()
    else:
        g.manual_seed(int(seed))
    return g


def randn(shape: tuple[int, ...], generator: torch.Generator | None = None, device: torch.device | str = "cpu",
          dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return torch.randn(shape, generator=generator, dtype=torch.float32).to(device=device, dtype=dtype)


def noise_for_lengths(lengths: list[int], channels: int, generator: torch.Generator | None = None,
                      device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Per-sample noise of its own length (drawn in order, sample 0 first), zero-padded to (B, max, C).

    This is how F5-TTS draws its start state, so a sample's noise does not depend on the batch it is in.
    """
    parts = [torch.randn(int(n), channels, generator=generator, dtype=torch.float32) for n in lengths]
    return pad_sequence(parts, batch_first=True, padding_value=0.0).to(device=device, dtype=dtype)
