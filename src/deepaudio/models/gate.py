"""The Mixture-of-modality-Fusion (MoF) gate (DeepAudio-V1, stage 3, eq. 6-7).

p = softmax(MLP(TextEncoder(instruction))) over task classes, trained with cross-entropy. The gate
decides which modules run (paper Sec. 3.3): V2A alone for ambient sound, TTS alone for speech from
text, V2A then TTS (energy-conditioned) for speech timed to video, and both mixed for dubbing.
A fifth class, ``think``, asks for DeepSound-V1's step-by-step voice-over removal (``pipelines.think``):
find speech that no one on screen produces (narration, commentary) and take it out of the sound.
The text encoder is frozen and lives outside this module (``models.encoders.text``); only the MLP
is trained and saved, with the encoder named in the config so the pair always matches.

Shape key: B batch, D encoder dim, K task classes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from deepaudio.checkpoint import Pretrained, register_model

# Which modules each task activates (paper eq. 2-4 plus dubbing = timed speech mixed over ambience).
TASKS: tuple[str, ...] = ("v2a", "tts", "v2s", "dub", "think")
TASK_MODULES: dict[str, tuple[str, ...]] = {
    "v2a": ("v2a",),
    "tts": ("tts",),
    "v2s": ("v2a", "tts"),
    "dub": ("v2a", "tts"),
    "think": ("reasoner", "remover"),  # DeepSound-V1: perception/LLM steps, then a separator or suppression
}
TASK_DESCRIPTIONS: dict[str, str] = {
    "v2a": "ambient sound only",
    "tts": "speech from text only",
    "v2s": "speech timed to the video",
    "dub": "timed speech mixed over the ambience",
    "think": "voice-over removal, step by step (DeepSound-V1)",
}


@dataclass(frozen=True)
class GateConfig:
    tasks: tuple[str, ...] = TASKS
    encoder: str = "minilm"  # minilm (offline default) | flan-t5 (the paper's choice, local path)
    encoder_dim: int = 384
    lexical_dim: int = 0  # hashed n-gram features beside the embedding (0: embedding only, as the paper)
    hidden_dim: int = 256
    num_layers: int = 2
    dropout: float = 0.1


@register_model
class MoFGate(nn.Module, Pretrained):
    """MLP over a frozen sentence embedding -> task logits."""

    kind = "mof_gate"
    config_class = GateConfig

    def __init__(self, config: GateConfig):
        super().__init__()
        self.config = config
        layers: list[nn.Module] = []
        dim = config.encoder_dim + config.lexical_dim
        for _ in range(config.num_layers - 1):
            layers += [nn.Linear(dim, config.hidden_dim), nn.GELU(), nn.Dropout(config.dropout)]
            dim = config.hidden_dim
        layers.append(nn.Linear(dim, len(config.tasks)))
        self.mlp = nn.Sequential(*layers)

    def forward(self, embedding: torch.Tensor) -> torch.Tensor:
        """(B, D) features (sentence embedding [+ lexical features]) -> (B, K) logits."""
        return self.mlp(embedding)

    def loss(self, embedding: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Cross-entropy over task classes (paper eq. 7)."""
        return nn.functional.cross_entropy(self(embedding), labels)
