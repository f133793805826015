"""The tiny condition encoder as a checkpointable model (kind ``v2a_tiny_encoder``)."""

from __future__ import annotations

import torch

from deepaudio.checkpoint import Pretrained, register_model
from deepaudio.models.encoders.tiny import TinyConditionEncoder, TinyEncoderConfig


@register_model
class TinyV2AEncoder(TinyConditionEncoder, Pretrained):
    """Semantic/sync/text streams learned jointly with the tiny MM-DiT (see ``tiny.py``)."""

    kind = "v2a_tiny_encoder"
    config_class = TinyEncoderConfig

    clip_fps = 8.0
    sync_fps = 25.0

    @property
    def clip_size(self) -> int:
        return self.config.image_size

    @property
    def sync_size(self) -> int:
        return self.config.image_size

    def encode_video(self, frames_clip: torch.Tensor, frames_sync: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.semantic(frames_clip), self.sync(frames_sync)

    def encode_text(self, prompts: list[str]) -> torch.Tensor:
        return self.text(prompts)
