"""The frozen official condition encoders of MMAudio behind the V2A pipeline's encoder interface.

- semantic stream: CLIP DFN5B ViT-H/14 (:class:`~deepaudio.models.encoders.clip.OpenCLIP`) on frames at
  8 fps squashed to 384x384 (bicubic), in [0, 1], normalised with CLIP's mean/std;
  ``encode_image(normalize=True)`` per frame -> (B, T8, 1024) (MMAudio ``encode_video_with_clip``);
- sync stream: Synchformer's visual encoder on 25 fps frames, short side to 224 (bicubic), centre-cropped
  to 224, normalised with mean = std = 0.5; 16-frame segments with stride 8, 8 tokens each -> (B, S*8, 768)
  (``encode_video_with_sync``);
- text: CLIP BPE tokens (77) through the text tower, every token after ``ln_final``, L2-normalised per
  token -> (B, 77, 1024) (MMAudio's patched ``encode_text``).

Frames arrive as uint8 (B, T, H, W, 3); the pipeline already reads them at ``clip_size``/``sync_size``
(``io.video.read_frames``), other sizes are resized here the same way, in the uint8 domain as
torchvision does on MMAudio's decoded frames. The module is always in eval mode (MMAudio
``FeaturesUtils.train`` forces eval). A pipeline folder names it in ``config.json`` as
``"encoder": {"type": "official", "clip": "clip", "synchformer": "synchformer", "clip_size": 384}`` (optional:
``"dtype": "float32"`` to keep the encoders in another precision than the pipeline's (by default they
follow it: bf16 pipelines encode in bf16), ``"batch_size"`` to bound memory).

Shape key: B batch, T frames, H/W pixels, S sync segments, L text tokens.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from deepaudio.checkpoint import load_model
from deepaudio.config import from_dict, resolve_dtype
from deepaudio.errors import CheckpointError, ConfigError, InputError
from deepaudio.models.encoders.clip import CLIP_MEAN, CLIP_STD, OpenCLIP, fold_quick_gelu
from deepaudio.models.encoders.clip_tokenizer import CLIPTokenizer, find_merges_file
from deepaudio.models.encoders.synchformer import Synchformer
from deepaudio.models.v2a.bundle import EncoderSpec

MMAUDIO_CLIP_SIZE = 384  # MMAudio squashes frames to 384x384 (the DFN5B-384 hub config)
SYNC_SEGMENT, SYNC_STEP = 16, 8


def _resize_uint8(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(N, 3, H, W) float pixel values in [0, 255] -> bicubic (antialiased when shrinking), rounded and clamped
    to [0, 255] like torchvision's resize of uint8 images."""
    if tuple(x.shape[-2:]) == size:
        return x
    return F.interpolate(x, size=size, mode="bicubic", align_corners=False, antialias=True).round().clamp(0, 255)


def clip_pixels(frames: torch.Tensor, size: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """uint8 (B, T, H, W, 3) -> CLIP input (B, T, 3, size, size): squash-resize, [0, 1], CLIP mean/std."""
    b, t = frames.shape[:2]
    x = frames.flatten(0, 1).permute(0, 3, 1, 2).float()  # (B*T, 3, H, W)
    x = _resize_uint8(x, (size, size)) / 255.0
    mean = torch.tensor(CLIP_MEAN, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(CLIP_STD, device=x.device).view(1, 3, 1, 1)
    return ((x - mean) / std).to(dtype).unflatten(0, (b, t))


def sync_pixels(frames: torch.Tensor, size: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """uint8 (B, T, H, W, 3) -> Synchformer input (B, T, 3, size, size) in [-1, 1]: short side to ``size``
    (long side truncated as torchvision's ``Resize(int)``), centre crop, mean = std = 0.5."""
    b, t, h, w = frames.shape[:4]
    x = frames.flatten(0, 1).permute(0, 3, 1, 2).float()
    if min(h, w) != size:
        nh, nw = (size, int(size * w / h)) if h <= w else (int(size * h / w), size)
        x = _resize_uint8(x, (nh, nw))
    h, w = x.shape[-2:]
    if h < size or w < size:
        raise InputError(f"sync frames of {w}x{h} are smaller than the {size}x{size} crop")
    top, left = int(round((h - size) / 2.0)), int(round((w - size) / 2.0))
    x = x[..., top:top + size, left:left + size] / 255.0
    return ((x - 0.5) / 0.5).to(dtype).unflatten(0, (b, t))


class OfficialEncoders(nn.Module):
    """CLIP (image + text) and Synchformer, frozen; ``encode_video`` / ``encode_text`` as the pipeline needs."""

    clip_fps = 8.0
    sync_fps = 25.0
    cache_features = True  # minutes per video on a CPU: the pipeline keeps them by content hash

    def __init__(self, clip: OpenCLIP, synchformer: Synchformer, tokenizer: CLIPTokenizer,
                 clip_size: int = MMAUDIO_CLIP_SIZE, batch_size: int = 0):
        super().__init__()
        if synchformer.config.segment_frames != SYNC_SEGMENT:
            raise ConfigError(f"Synchformer segments of {synchformer.config.segment_frames} frames; MMAudio's sync "
                              f"stream needs {SYNC_SEGMENT} (8 tokens per segment)")
        if tokenizer.vocab_size != clip.config.vocab_size:
            raise ConfigError(f"CLIP tokenizer has {tokenizer.vocab_size} tokens but the text tower "
                              f"{clip.config.vocab_size}", hint="give the merges file of this CLIP model")
        self.clip = clip.eval().requires_grad_(False)
        self.synchformer = synchformer.eval().requires_grad_(False)
        self.tokenizer = tokenizer
        self.clip_size = int(clip_size)
        self.sync_size = synchformer.config.img_size
        self.batch_size = int(batch_size)

    @classmethod
    def from_config(cls, directory: str | Path, enc_cfg: Mapping[str, Any] | EncoderSpec,
                    device: str | torch.device = "cpu", dtype: str | torch.dtype = torch.float32
                    ) -> OfficialEncoders:
        """Load the parts a pipeline folder names (paths relative to ``directory``), in the folder's encoder
        ``dtype`` when it names one, else in ``dtype`` (the pipeline's)."""
        directory = Path(directory)
        spec = enc_cfg if isinstance(enc_cfg, EncoderSpec) else \
            from_dict(EncoderSpec, dict(enc_cfg), directory / "config.json", strict=True)
        named = spec.dtype if spec.dtype is not None else dtype
        dtype = resolve_dtype(named, f"{directory / 'config.json'} (encoder dtype)")
        clip_dir = directory / spec.clip
        clip = load_model(clip_dir, device=device, dtype=dtype, expect_kind="open_clip")
        fold_quick_gelu(clip)  # inference only: one SiLU per MLP (the encoders are never saved back)
        sync = load_model(directory / spec.synchformer, device=device, dtype=dtype, expect_kind="synchformer")
        merges = find_merges_file(clip_dir)
        if merges is None:
            raise CheckpointError("the CLIP folder has no BPE merges file", clip_dir,
                                  "re-create it with deepaudio convert mmaudio-pipeline (or open-clip)")
        tokenizer = CLIPTokenizer.from_file(merges, vocab_size=clip.config.vocab_size)
        size = clip.config.image_size if spec.clip_size is None else spec.clip_size
        return cls(clip, sync, tokenizer, clip_size=size, batch_size=spec.batch_size)

    def train(self, mode: bool = True) -> OfficialEncoders:
        return super().train(False)  # frozen encoders never leave eval mode

    @property
    def device(self) -> torch.device:
        return self.clip.token_embedding.weight.device

    @property
    def dtype(self) -> torch.dtype:
        return self.clip.token_embedding.weight.dtype

    @torch.no_grad()
    def encode_clip(self, frames: torch.Tensor) -> torch.Tensor:
        """uint8 (B, T, H, W, 3) at 8 fps -> (B, T, E), L2-normalised CLIP image embeddings."""
        x = clip_pixels(frames.to(self.device), self.clip_size, self.dtype).flatten(0, 1)  # (B*T, 3, S, S)
        step = self.batch_size if self.batch_size > 0 else x.shape[0]
        out = torch.cat([self.clip.encode_image(x[i:i + step], normalize=True) for i in range(0, x.shape[0], step)])
        return out.unflatten(0, frames.shape[:2])

    @torch.no_grad()
    def encode_sync(self, frames: torch.Tensor) -> torch.Tensor:
        """uint8 (B, T, H, W, 3) at 25 fps -> (B, S*8, D) with S = (T - 16) // 8 + 1."""
        if frames.shape[1] < SYNC_SEGMENT:
            raise InputError(f"need at least {SYNC_SEGMENT} frames at 25 fps for the sync stream, got "
                             f"{frames.shape[1]}")
        dtype = self.synchformer.vfeat_extractor.cls_token.dtype
        x = sync_pixels(frames.to(self.device), self.sync_size, dtype)
        return self.synchformer.encode_video(x, batch_size=self.batch_size)

    def encode_video(self, frames_clip: torch.Tensor, frames_sync: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.encode_clip(frames_clip), self.encode_sync(frames_sync)

    @torch.no_grad()
    def encode_text(self, prompts: list[str]) -> torch.Tensor:
        """Prompts -> (B, 77, W) per-token text features (MMAudio's patched ``encode_text``, normalised)."""
        tokens = self.tokenizer(prompts).to(self.device)
        return self.clip.encode_text_tokens(tokens, normalize=True)
