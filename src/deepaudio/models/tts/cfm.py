"""Conditional flow matching sampler for the F5-TTS DiT (F5-TTS sec. 3.2; the reference ``CFM.sample``).

Shape key: B batch, Nc prompt frames, T target frames (prompt + generated), M mel bins, Nt text tokens.

The prompt mel is the infilling condition: frames ``< lens[i]`` of the condition hold the reference
speech, the rest are zero, and the network fills in the whole sequence; at the end the reference
frames are copied back. Each sample gets its own noise of its own length (``flow.noise_for_lengths``),
so a sample's result does not depend on its batch. Guidance uses the F5 knob ``cfg_strength`` s, i.e.
``w = 1 + s`` in ``deepaudio.flow``'s convention. The ODE state stays in fp32 whatever the network dtype.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from deepaudio.flow import guided_velocity, make_time_grid, noise_for_lengths, odeint


@dataclass(frozen=True)
class SampleResult:
    mel: torch.Tensor                # (B, T, M) generated mel with the reference frames copied back
    duration: torch.Tensor           # (B,) frames per sample (after the duration rule)
    t_grid: torch.Tensor             # (steps + 1,) time points used
    trajectory: torch.Tensor | None  # (steps + 1, B, T, M) when asked for


def lengths_to_mask(lengths: torch.Tensor, length: int | None = None) -> torch.Tensor:
    """(B,) -> (B, length) bool, True on the first lengths[i] frames."""
    length = int(lengths.max()) if length is None else length
    return torch.arange(length, device=lengths.device)[None] < lengths[:, None]


def apply_duration_rule(duration: int | torch.Tensor, text: torch.Tensor, lens: torch.Tensor,
                        max_duration: int = 65536) -> torch.Tensor:
    """The reference rule: at least the prompt (or text) length plus one frame, at most ``max_duration``."""
    b = text.shape[0]
    if not torch.is_tensor(duration):
        duration = torch.full((b,), int(duration), dtype=torch.long)
    duration = duration.to(device=lens.device, dtype=torch.long)
    text_len = (text != -1).sum(dim=-1).to(lens.device)
    return torch.maximum(torch.maximum(text_len, lens) + 1, duration).clamp(max=max_duration)


def sample(model, cond: torch.Tensor, text: torch.Tensor, duration: int | torch.Tensor, *,
           lens: torch.Tensor | None = None, steps: int = 32, cfg_strength: float = 2.0, sway: float | None = -1.0,
           method: str = "euler", schedule: str = "uniform", y0: torch.Tensor | None = None,
           generator: torch.Generator | None = None, energy: torch.Tensor | None = None, batched_cfg: bool = True,
           max_duration: int = 65536, mask_padded_keys: bool = False, return_trajectory: bool = False,
           progress: Callable[[int, int], None] | None = None) -> SampleResult:
    """Generate mel frames with ``model`` (a DiT) by solving the flow ODE from noise (t=0) to data (t=1).

    cond (B, Nc, M) prompt mel; text (B, Nt) ids padded with -1; duration total frames (int or (B,));
    lens (B,) valid prompt frames (default Nc); energy (B, >=T) V2S contour or None; y0 (B, T, M) a given
    start state (else drawn per sample from ``generator``). ``batched_cfg`` runs conditional and
    unconditional branches in one pass (``cfg_infer``), otherwise in two. ``mask_padded_keys`` keeps
    samples of a batch from attending to each other's padding (the reference does not: off by default
    for parity; the pipeline turns it on).
    """
    device = cond.device
    dtype = next(model.parameters()).dtype
    b, nc = cond.shape[:2]
    lens = torch.full((b,), nc, device=device, dtype=torch.long) if lens is None else lens.to(device).long()
    text = text.to(device)
    duration = apply_duration_rule(duration, text, lens, max_duration)
    total = int(duration.max())

    cond = F.pad(cond.float(), (0, 0, 0, max(0, total - nc)))[:, :total]
    cond_mask = lengths_to_mask(lens, total)[..., None]  # (B, T, 1)
    step_cond = torch.where(cond_mask, cond, torch.zeros_like(cond))
    mask = lengths_to_mask(duration, total) if b > 1 else None
    if energy is not None:
        energy = F.pad(energy.float(), (0, max(0, total - energy.shape[1])))[:, :total].to(device=device, dtype=dtype)

    if y0 is None:
        y0 = noise_for_lengths(duration.tolist(), cond.shape[-1], generator, device=device)
    y0 = y0.to(device=device, dtype=torch.float32)
    grid = make_time_grid(steps, schedule, sway, device=device)

    cache: dict = {}
    key_mask = True if (mask_padded_keys and mask is not None) else None
    cond_in = step_cond.to(dtype)

    def run(t, x, **kw):
        return model(x.to(dtype), cond_in, text, t, mask=mask, energy=energy, cache=cache, key_mask=key_mask,
                     **kw).float()

    def cond_fn(t, x):
        return run(t, x)

    def uncond_fn(t, x):
        return run(t, x, drop_audio_cond=True, drop_text=True)

    def batched_fn(t, x):
        return run(t, x, cfg_infer=True).chunk(2, dim=0)

    weight = 1.0 + cfg_strength if cfg_strength >= 1e-5 else 1.0
    f = guided_velocity(cond_fn, uncond_fn, weight, batched_fn if batched_cfg else None)
    traj = odeint(f, y0, grid, method, return_trajectory=return_trajectory, progress=progress)
    final = traj[-1] if return_trajectory else traj
    out = torch.where(cond_mask, step_cond, final)
    return SampleResult(mel=out, duration=duration, t_grid=grid, trajectory=traj if return_trajectory else None)
