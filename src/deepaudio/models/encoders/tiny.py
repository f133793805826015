"""Small trainable condition encoders for the ``tiny`` V2A configuration.

CLIP and Synchformer weights cannot be installed offline, so the bundled default learns its own
encoders jointly with the MM-DiT. They emit the same kinds of token streams the MM-DiT expects:

- semantic stream (CLIP's place): one token per frame at 8 fps, ``clip_dim`` wide;
- sync stream (Synchformer's place): as many tokens as Synchformer's 16-frame windows with stride 8
  over 25 fps frames give (8 per window), ``sync_dim`` wide, laid out as those windows or evenly in
  time (``sync_tokens``). Each frame is seen together with its difference to
  the previous frame (``motion_order`` 1), and with ``motion_order`` 2 also the second difference
  x[t] - 2 x[t-1] + x[t-2]: the per-frame CNN then sees three consecutive frames, enough to tell a
  change of velocity (a bounce, a collision, a mouth closing) from steady motion, which one
  displacement cannot show (and spatial pooling hides from the later temporal convolution);
- text stream (CLIP text's place): UTF-8 bytes through a small transformer, padded/cropped to
  ``text_seq_len`` tokens.

Shape key: B batch, T frames, H/W pixels, S sync windows, L text tokens, D widths.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from deepaudio.errors import ConfigError

SYNC_WINDOW = 16
SYNC_STRIDE = 8
SYNC_TOKENS_PER_WINDOW = 8


@dataclass(frozen=True)
class TinyEncoderConfig:
    image_size: int = 64
    channels: tuple[int, ...] = (16, 32, 64, 96)
    clip_dim: int = 64
    sync_dim: int = 64
    text_dim: int = 64
    text_seq_len: int = 16
    text_layers: int = 2
    text_heads: int = 4
    motion_order: int = 1  # sync stream input: frame + differences up to this order (1 or 2)
    sync_tokens: str = "windows"  # "windows" (Synchformer's layout) | "uniform" (evenly spaced in time)

    def __post_init__(self):
        if self.motion_order not in (1, 2):
            raise ConfigError(f"tiny encoder motion_order must be 1 or 2, got {self.motion_order}")
        if self.sync_tokens not in ("windows", "uniform"):
            raise ConfigError(f"tiny encoder sync_tokens must be 'windows' or 'uniform', got {self.sync_tokens!r}")


def _cnn(in_ch: int, channels: tuple[int, ...], out_dim: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    c = in_ch
    for ch in channels:
        layers += [nn.Conv2d(c, ch, 3, stride=2, padding=1), nn.GroupNorm(min(8, ch), ch), nn.SiLU()]
        c = ch
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, out_dim)]
    return nn.Sequential(*layers)


def _to_float(frames: torch.Tensor) -> torch.Tensor:
    """uint8 (B, T, H, W, 3) -> float (B, T, 3, H, W) in [-1, 1]."""
    x = frames.float() if frames.dtype == torch.uint8 else frames
    if frames.dtype == torch.uint8:
        x = x / 127.5 - 1.0
    return rearrange(x, "b t h w c -> b t c h w")


class TinySemanticEncoder(nn.Module):
    """Per-frame CNN over 8 fps frames -> (B, T8, clip_dim)."""

    def __init__(self, cfg: TinyEncoderConfig):
        super().__init__()
        self.net = _cnn(3, cfg.channels, cfg.clip_dim)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        x = _to_float(frames)
        b = x.shape[0]
        y = self.net(rearrange(x, "b t c h w -> (b t) c h w"))
        return rearrange(y, "(b t) d -> b t d", b=b)


def motion_stack(x: torch.Tensor, order: int) -> torch.Tensor:
    """(B, T, 3, H, W) -> (B, T, 3 * (1 + order), H, W): the frames and their backward differences up to
    ``order``; a difference that would need frames before the first one is zero (a still picture)."""
    parts = [x]
    d1 = torch.zeros_like(x)
    d1[:, 1:] = x[:, 1:] - x[:, :-1]
    parts.append(d1)
    if order >= 2:
        d2 = torch.zeros_like(x)
        d2[:, 2:] = d1[:, 2:] - d1[:, 1:-1]
        parts.append(d2)
    return torch.cat(parts, dim=2)


class TinySyncEncoder(nn.Module):
    """Frames + frame differences at 25 fps -> as many tokens as Synchformer gives (8 per 16-frame window,
    stride 8).

    ``windows``: as Synchformer, token j of window k looks at frames 8k + 2j +- 1, so consecutive windows
    overlap in time while the MM-DiT spreads the tokens evenly over the clip (up to ~0.15 s apart from
    where they look). ``uniform``: a temporal conv over the whole frame sequence, sampled linearly at
    the centres of S equal time slots, so token i describes the moment the MM-DiT puts it at."""

    def __init__(self, cfg: TinyEncoderConfig):
        super().__init__()
        self.motion_order = cfg.motion_order
        self.uniform = cfg.sync_tokens == "uniform"
        self.frame_net = _cnn(3 * (1 + cfg.motion_order), cfg.channels, cfg.sync_dim)
        # windows: within a window, a temporal conv mixes neighbouring frames; stride 2 gives 16 -> 8 tokens.
        self.temporal = nn.Conv1d(cfg.sync_dim, cfg.sync_dim, kernel_size=3, stride=1 if self.uniform else 2,
                                  padding=1)
        self.norm = nn.LayerNorm(cfg.sync_dim)

    @staticmethod
    def num_windows(num_frames: int) -> int:
        return max(0, (num_frames - SYNC_WINDOW) // SYNC_STRIDE + 1)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        x = _to_float(frames)  # (b, t, 3, h, w)
        b, t = x.shape[:2]
        s = self.num_windows(t)
        if s < 1:
            raise ValueError(f"need at least {SYNC_WINDOW} frames at 25 fps for the sync stream, got {t}")
        per_frame = self.frame_net(rearrange(motion_stack(x, self.motion_order), "b t c h w -> (b t) c h w"))
        per_frame = rearrange(per_frame, "(b t) d -> b t d", b=b)  # (b, t, d)
        if self.uniform:
            mixed = self.temporal(per_frame.transpose(1, 2))  # (b, d, t): frame f describes time (f + 0.5) / fps
            # align_corners=False samples frame position (i + 0.5) t / S - 0.5, the centre of slot i.
            tokens = F.interpolate(mixed, size=s * SYNC_TOKENS_PER_WINDOW, mode="linear", align_corners=False)
            return self.norm(tokens.transpose(1, 2))
        windows = per_frame.unfold(1, SYNC_WINDOW, SYNC_STRIDE)  # (b, s, d, 16)
        tokens = self.temporal(rearrange(windows, "b s d w -> (b s) d w"))  # (b*s, d, 8)
        tokens = rearrange(tokens, "(b s) d k -> b (s k) d", b=b)
        return self.norm(tokens)


class TinyTextEncoder(nn.Module):
    """UTF-8 bytes -> a small transformer -> (B, text_seq_len, text_dim). Empty text gives pad tokens."""

    PAD = 256

    def __init__(self, cfg: TinyEncoderConfig):
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(257, cfg.text_dim)
        self.pos = nn.Parameter(torch.zeros(1, cfg.text_seq_len, cfg.text_dim))
        layer = nn.TransformerEncoderLayer(cfg.text_dim, cfg.text_heads, cfg.text_dim * 4, dropout=0.0,
                                           batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, cfg.text_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(cfg.text_dim)

    def tokenize(self, texts: list[str]) -> torch.Tensor:
        n = self.cfg.text_seq_len
        ids = torch.full((len(texts), n), self.PAD, dtype=torch.long)
        for i, t in enumerate(texts):
            b = list(t.lower().encode("utf-8"))[:n]
            if b:
                ids[i, : len(b)] = torch.tensor(b)
        return ids

    def forward(self, texts: list[str]) -> torch.Tensor:
        return self.forward_ids(self.tokenize(texts).to(self.pos.device))

    def forward_ids(self, ids: torch.Tensor) -> torch.Tensor:
        """(B, L) byte ids from :meth:`tokenize` -> (B, L, text_dim)."""
        x = self.embed(ids) + self.pos
        x = self.encoder(x, src_key_padding_mask=None)
        return self.norm(x)


class TinyConditionEncoder(nn.Module):
    """All three streams; ``forward`` returns (clip_f, sync_f, text_f) as the MM-DiT consumes them."""

    def __init__(self, cfg: TinyEncoderConfig):
        super().__init__()
        self.config = cfg
        self.semantic = TinySemanticEncoder(cfg)
        self.sync = TinySyncEncoder(cfg)
        self.text = TinyTextEncoder(cfg)

    def forward(self, frames_8fps: torch.Tensor, frames_25fps: torch.Tensor,
                prompts: list[str]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.semantic(frames_8fps), self.sync(frames_25fps), self.text(prompts)
