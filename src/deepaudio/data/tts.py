"""TTS training clips: manifest rows -> log-mel frames (+ optional energy contour), with a disk cache.

Mels use the F5-TTS settings (``dsp.mel.F5_24K``: 24 kHz, 100 bins, hop 256) on the mono waveform
resampled to 24 kHz, as F5-TTS' ``CustomDataset`` computes them (no loudness normalisation). Clips
outside ``[min_seconds, max_seconds]`` are skipped like the reference does (0.3 s to 30 s).

The cache holds one safetensors file per clip, named by a hash of the resolved path, its size and
modification time and the mel settings, so an edited file or other settings never reuse a stale entry.
Lengths are read from the file headers without loading the data; without a cache they need one pass
over the audio (and every batch recomputes its mels).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from deepaudio.data.manifest import ManifestRow
from deepaudio.dsp.mel import F5_24K, MelSettings, mel_spectrogram
from deepaudio.errors import InputError


class TTSDataset:
    """``ds[i] -> {"mel": (T, M) float32, "text": str, "energy": (T,) float32 | None}``."""

    def __init__(self, rows: Sequence[ManifestRow], settings: MelSettings = F5_24K, cache_dir: str | Path | None = None,
                 energy: bool = False, min_seconds: float = 0.3, max_seconds: float = 30.0,
                 energy_self: bool = False, energy_fps: float | None = None):
        """``energy_self``: the contour of each clip's own audio (rows need no ``energy_path``);
        ``energy_fps``: that contour as a video of this frame rate shows it (``dsp.energy.video_rate_contour``,
        the shape of a lip contour) instead of the mel-rate energy."""
        self.rows = list(rows)
        self.settings = settings
        self.cache_dir = None if cache_dir is None else Path(cache_dir)
        self.energy = energy
        self.energy_self = energy_self
        self.energy_fps = energy_fps
        self.min_frames = int(min_seconds * settings.frame_rate)
        self.max_frames = int(max_seconds * settings.frame_rate)
        if energy and not energy_self:
            no_energy = [r for r in self.rows if r.energy_path is None]
            if no_energy:
                raise InputError(f"line {no_energy[0].line}: no energy_path for {no_energy[0].audio_path.name}",
                                 hint="energy conditioning needs an energy_path column for every clip "
                                      "(or the clips' own energy: --energy-source self)")
        self._lengths: list[int] | None = None

    def __len__(self) -> int:
        return len(self.rows)

    def prepare(self, rank: int = 0, world: int = 1) -> None:
        """Fill the cache for rows ``rank::world`` (every rank fills its share; callers then synchronise)."""
        if self.cache_dir is None:
            return
        for i in range(rank, len(self.rows), world):
            path = self._cache_path(i)
            if not path.is_file():
                self._write_cache(i, path)

    def lengths(self) -> list[int]:
        """Mel frames per clip; 0 for clips outside the duration limits (the batcher skips them)."""
        if self._lengths is None:
            out = []
            for i in range(len(self.rows)):
                n = self._cached_length(i) if self.cache_dir is not None else int(self._compute(i)["mel"].shape[0])
                out.append(n if self.min_frames <= n <= self.max_frames else 0)
            self._lengths = out
        return self._lengths

    def __getitem__(self, i: int) -> dict:
        if self.cache_dir is None:
            item = self._compute(i)
        else:
            path = self._cache_path(i)
            if not path.is_file():
                self._write_cache(i, path)
            with safe_open(str(path), framework="pt") as f:
                item = {k: f.get_tensor(k) for k in f.keys()}
        return {"mel": item["mel"].float(), "text": self.rows[i].text,
                "energy": item["energy"].float() if "energy" in item else None}

    # -- computing and caching ---------------------------------------------------------------------------

    def _compute(self, i: int) -> dict[str, torch.Tensor]:
        from deepaudio.io.audio import load_audio

        row = self.rows[i]
        wav, _ = load_audio(row.audio_path, sample_rate=self.settings.sample_rate, mono=True)
        mel = mel_spectrogram(wav[0], self.settings).transpose(0, 1).contiguous()  # (T, M)
        out = {"mel": mel}
        if self.energy:
            from deepaudio.dsp.energy import energy_contour, video_rate_contour

            if self.energy_self:
                e_wav, e_sr = wav, self.settings.sample_rate
            else:
                e_wav, e_sr = load_audio(row.energy_path, mono=True)
            if self.energy_fps:
                out["energy"] = video_rate_contour(e_wav, e_sr, self.energy_fps, target_len=mel.shape[0]).contiguous()
            else:
                out["energy"] = energy_contour(e_wav, e_sr, target_len=mel.shape[0]).contiguous()
        return out

    def _key(self, i: int) -> str:
        row = self.rows[i]
        parts = [row.audio_path, row.energy_path] if self.energy and not self.energy_self else [row.audio_path]
        desc = [json.dumps(asdict(self.settings), sort_keys=True), str(self.energy)]
        if self.energy and (self.energy_self or self.energy_fps):
            desc.append(f"self={self.energy_self} fps={self.energy_fps}")
        for p in parts:
            p = Path(p).resolve()
            st = p.stat()
            desc += [str(p), str(st.st_size), str(st.st_mtime_ns)]
        return hashlib.sha1("\n".join(desc).encode()).hexdigest()

    def _cache_path(self, i: int) -> Path:
        key = self._key(i)
        return self.cache_dir / key[:2] / f"{key}.safetensors"

    def _write_cache(self, i: int, path: Path) -> None:
        from deepaudio.io.atomic import atomic_path

        tensors = self._compute(i)
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            save_file(tensors, str(tmp), metadata={"source": str(self.rows[i].audio_path)})

    def _cached_length(self, i: int) -> int:
        path = self._cache_path(i)
        if not path.is_file():
            self._write_cache(i, path)
        with safe_open(str(path), framework="pt") as f:
            return int(f.get_slice("mel").get_shape()[0])
