"""A content-addressed cache of V2A video features, so a video is encoded once whatever the prompt.

With the official encoders (CLIP ViT-H/14 on 64 frames + Synchformer on 23 segments per 8 s window)
feature extraction is most of a V2A run on a CPU; the features depend only on the video's pixels, the
encoders and the window, never on the prompt, seed, steps or guidance. One file per window:

    key = sha256(video file bytes, encoder fingerprint, window start/duration, frame counts)
    <cache dir>/<key[:2]>/<key>.safetensors   {"clip_f": (1, M, E), "sync_f": (1, S, D)}

The encoder fingerprint covers its class, frame sizes, dtype and every parameter's name, shape, first and
last values and 256 values spread evenly through it (a different checkpoint, a fine-tune that moved any
block, or another precision is a different key; hashing all 1 B weights would cost a second per run).
Files are written atomically; a file that cannot be read back with the expected shapes and finite values is
treated as a miss and rewritten. Writing is best effort: a full or read-only disk costs the cache, not the run
(one line on stderr).
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

import torch

CACHE_ENV = "DEEPAUDIO_FEATURE_CACHE"  # a folder, or "off"


def default_cache_dir() -> Path | None:
    """``$DEEPAUDIO_FEATURE_CACHE``, else ``$XDG_CACHE_HOME/deepaudio/v2a-features`` (``~/.cache``); None if "off"."""
    env = os.environ.get(CACHE_ENV, "")
    if env.lower() == "off":
        return None
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "deepaudio" / "v2a-features"


def file_digest(path: str | Path, _memo: dict = {}) -> str:  # noqa: B006 - per-process memo on purpose
    """sha256 of a file's bytes, remembered for this process while its size and mtime do not change."""
    st = os.stat(path)
    ident = (str(Path(path).resolve()), st.st_size, st.st_mtime_ns)
    if ident not in _memo:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        _memo[ident] = h.hexdigest()
    return _memo[ident]


def encoder_fingerprint(encoder: torch.nn.Module) -> str:
    """A short hash naming the encoder weights, sizes and dtype (see module docstring)."""
    h = hashlib.sha256(type(encoder).__qualname__.encode())
    for attr in ("clip_size", "sync_size", "clip_fps", "sync_fps"):
        h.update(f"{attr}={getattr(encoder, attr, None)};".encode())
    for name, t in encoder.state_dict().items():
        flat = t.detach().reshape(-1)
        spread = flat[:: max(1, flat.numel() // 256)][:256]
        values = torch.cat([flat[:32], flat[-32:], spread])
        values = values.float().cpu() if t.is_floating_point() else values.cpu()
        h.update(f"{name}:{tuple(t.shape)}:{t.dtype};".encode())
        h.update(values.numpy().tobytes())
    return h.hexdigest()[:32]


class FeatureCache:
    def __init__(self, directory: str | Path):
        self.directory = Path(directory).expanduser()

    def key(self, video_digest: str, encoder_id: str, start: float, duration: float, clip_frames: int,
            sync_frames: int) -> str:
        text = f"v1|{video_digest}|{encoder_id}|{start:.6f}|{duration:.6f}|{clip_frames}|{sync_frames}"
        return hashlib.sha256(text.encode()).hexdigest()

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.safetensors"

    def load(self, key: str, clip_shape: tuple[int, ...], sync_shape: tuple[int, ...]
             ) -> tuple[torch.Tensor, torch.Tensor] | None:
        """The cached (clip_f, sync_f) with the expected shapes, or None (absent, damaged, other shapes)."""
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        path = self._path(key)
        if not path.is_file():
            return None
        try:
            data = load_file(str(path))
        except (SafetensorError, OSError, ValueError, RuntimeError):
            return None
        clip_f, sync_f = data.get("clip_f"), data.get("sync_f")
        for t, shape in ((clip_f, clip_shape), (sync_f, sync_shape)):
            if t is None or tuple(t.shape) != tuple(shape) or not torch.isfinite(t).all():
                return None
        return clip_f, sync_f

    def save(self, key: str, clip_f: torch.Tensor, sync_f: torch.Tensor) -> bool:
        """Write one window's features atomically; False (and one line on stderr) when it cannot."""
        from safetensors.torch import save_file

        from deepaudio.errors import DeepAudioError
        from deepaudio.io.atomic import atomic_path

        try:
            with atomic_path(self._path(key)) as tmp:
                save_file({"clip_f": clip_f.detach().cpu().contiguous(), "sync_f": sync_f.detach().cpu().contiguous()},
                          str(tmp))
        except (DeepAudioError, OSError) as exc:
            print(f"deepaudio: warning: feature cache not written ({' '.join(str(exc).split())[:160]})",
                  file=sys.stderr)
            return False
        return True
