"""V2S (stage 4) training clips: video + transcript + speech -> speech mel and conditioning energy contour.

Manifest CSV (header required, extra columns ignored)::

    video,text,speech[,speaker][,prompt_audio][,prompt_text][,ambience]

``transcript`` may stand for ``text`` and ``audio_path`` for ``speech``. Paths are relative to the CSV's
folder; a path found only relative to the folder above it is accepted too (toy-world data sets
written before their manifests used ``../clips/...`` name ``clips/...`` from ``manifests/``).
``prompt_audio``/``prompt_text`` are read for evaluation and inference; training builds its prompt from
the clip itself, as F5-TTS does (random 70-100 % span infilling), so the contour covers the whole
utterance, prompt part and target part alike.

The contour (DeepAudio-V1's "audio knowledge"): ``energy_contour`` (mean |x| per 256/24000 s frame over the clip
maximum) of the conditioning audio, cropped or zero-padded to the speech's mel length. Where that
audio comes from is ``source``:

- ``v2a`` (the paper's "audio knowledge"): the V2A output for the clip's video, generated once with a
  fixed seed and cached as a wav, or the ``ambience`` file the manifest names (precomputed V2A output);
- ``speech``: the ground-truth speech itself (useful before any V2A model exists; the paper trains on
  the V2A output, so the contour at inference differs from what such a model saw in training);
- ``mouth``: the mouth-opening contour of the video (``deepaudio.vision.mouth``; beyond the paper).

Cache: one safetensors file per clip (``mel`` (T, M), ``energy`` (T,)), keyed by a hash of every input
file's path, size and mtime, the source, the V2A model folder, seed and steps, and the mel settings, so
nothing stale is reused; V2A outputs are cached separately under ``v2a/`` (keyed without the speech).
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from deepaudio.data.manifest import iter_records
from deepaudio.dsp.mel import F5_24K, MelSettings, mel_spectrogram
from deepaudio.errors import BackendUnavailable, ConfigError, InputError, MediaError

ENERGY_SOURCES = ("v2a", "speech", "mouth")


@dataclass(frozen=True)
class V2SRow:
    video: Path
    text: str
    speech: Path
    speaker: str | None = None
    prompt_audio: Path | None = None
    prompt_text: str | None = None
    ambience: Path | None = None  # precomputed V2A output for this clip
    line: int = 0  # line in the CSV (1 = header)


def _first(rec: dict[str, str], *names: str) -> str:
    return next((rec[n] for n in names if rec.get(n)), "")


def read_v2s_manifest(path: str | Path, check_files: bool = True) -> list[V2SRow]:
    """Parse a V2S manifest; every problem names the CSV, the line and what to do."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise InputError("V2S manifest not found", path, "give a CSV with a header line: video,text,speech")
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except UnicodeDecodeError as exc:
        raise InputError("V2S manifest is not UTF-8 text", path) from exc
    reader = csv.DictReader(lines)
    fields = {f.strip() for f in (reader.fieldnames or [])}
    missing = [alts[0] for alts in (("video",), ("text", "transcript"), ("speech", "audio_path"))
               if not fields & set(alts)]
    if missing:
        raise InputError(f"V2S manifest lacks the column(s) {', '.join(missing)} (header: {','.join(sorted(fields))})",
                         path, "the first line must be a header such as video,text,speech,speaker")
    base = path.resolve().parent
    rows = []
    for k, rec in iter_records(reader):
        text = _first(rec, "text", "transcript")
        if not text:
            raise InputError(f"line {k}: empty transcript", path, "every clip needs the text that is spoken")

        def file(*names: str, required: bool = False, rec=rec, k=k) -> Path | None:
            value = _first(rec, *names)
            if not value:
                if required:
                    raise InputError(f"line {k}: empty {names[0]} column", path)
                return None
            return _resolve(base, value, path, k, check_files)

        rows.append(V2SRow(file("video", required=True), text, file("speech", "audio_path", required=True),
                           rec.get("speaker") or None, file("prompt_audio"), rec.get("prompt_text") or None,
                           file("ambience"), k))
    if not rows:
        raise InputError("V2S manifest has no clips", path, "add one line per clip below the header")
    return rows


def _resolve(base: Path, value: str, manifest: Path, line: int, check: bool) -> Path:
    p = Path(value).expanduser()
    if p.is_absolute():
        candidates = [p]
    else:  # the manifest's folder, then the folder above it (toy-world layout)
        candidates = [base / p, base.parent / p]
    if not check:
        return candidates[0]
    for c in candidates:
        if c.is_file():
            return c
    raise MediaError(f"line {line}: file not found: {value}", manifest,
                     "paths are relative to the manifest's folder (or the folder above it)")


def _stat_desc(p: Path) -> list[str]:
    p = Path(p).resolve()
    st = p.stat()
    return [str(p), str(st.st_size), str(st.st_mtime_ns)]


def _folder_desc(folder: Path) -> list[str]:
    """Identity of a model folder: every file's path, size and mtime (a retrained model is another key)."""
    return [d for f in sorted(Path(folder).rglob("*")) if f.is_file() for d in _stat_desc(f)]


def _hash(parts: Sequence[str]) -> str:
    return hashlib.sha1("\n".join(parts).encode()).hexdigest()


class V2SDataset:
    """``ds[i] -> {"mel": (T, M) float32, "text": str, "energy": (T,) float32}`` (the TTS item layout)."""

    def __init__(self, rows: Sequence[V2SRow], cache_dir: str | Path, source: str = "v2a",
                 v2a_dir: str | Path | None = None, seed: int = 0, v2a_steps: int = 25,
                 settings: MelSettings = F5_24K, device: str | torch.device = "cpu",
                 min_seconds: float = 0.3, max_seconds: float = 30.0):
        if source not in ENERGY_SOURCES:
            raise ConfigError(f"unknown energy source {source!r}", hint=f"choose from {', '.join(ENERGY_SOURCES)}")
        self.rows = list(rows)
        self.cache_dir = Path(cache_dir)
        self.source = source
        self.v2a_dir = None if v2a_dir is None else Path(v2a_dir).expanduser()
        self.seed, self.v2a_steps = int(seed), int(v2a_steps)
        self.settings = settings
        self.device = device
        self.min_frames = int(min_seconds * settings.frame_rate)
        self.max_frames = int(max_seconds * settings.frame_rate)
        if source == "v2a" and self.v2a_dir is None:
            need = [r for r in self.rows if r.ambience is None]
            if need:
                raise ConfigError(f"line {need[0].line}: no ambience file and no V2A model for {need[0].video.name}",
                                  hint="pass --v2a V2A_PIPELINE_DIR, add an 'ambience' column, or use "
                                       "--energy-source speech")
        if source == "mouth":
            mouth_contour()  # fail now, not after the first clips
        self._v2a = None
        self._v2a_id = _folder_desc(self.v2a_dir) if source == "v2a" and self.v2a_dir is not None else []
        self._lengths: list[int] | None = None

    def __len__(self) -> int:
        return len(self.rows)

    def prepare(self, rank: int = 0, world: int = 1, progress=None) -> None:
        """Fill the cache for rows ``rank::world`` (each rank its share; callers then synchronise)."""
        for i in range(rank, len(self.rows), world):
            path = self._cache_path(i)
            if not path.is_file():
                self._write(i, path)
            if progress is not None:
                progress(i)

    def lengths(self) -> list[int]:
        """Mel frames per clip; 0 outside the duration limits (the batcher skips those)."""
        if self._lengths is None:
            out = []
            for i in range(len(self.rows)):
                path = self._cache_path(i)
                if not path.is_file():
                    self._write(i, path)
                with safe_open(str(path), framework="pt") as f:
                    n = int(f.get_slice("mel").get_shape()[0])
                out.append(n if self.min_frames <= n <= self.max_frames else 0)
            self._lengths = out
        return self._lengths

    def __getitem__(self, i: int) -> dict:
        path = self._cache_path(i)
        if not path.is_file():
            self._write(i, path)
        with safe_open(str(path), framework="pt") as f:
            mel, energy = f.get_tensor("mel").float(), f.get_tensor("energy").float()
        return {"mel": mel, "text": self.rows[i].text, "energy": energy}

    # -- computing --------------------------------------------------------------------------------------
    def compute(self, i: int) -> dict[str, torch.Tensor]:
        """Speech mel (T, M) and the conditioning contour (T,) of clip ``i``, uncached."""
        from deepaudio.dsp.energy import energy_contour, fit_contour
        from deepaudio.io.audio import load_audio

        row = self.rows[i]
        wav, _ = load_audio(row.speech, sample_rate=self.settings.sample_rate, mono=True)
        mel = mel_spectrogram(wav[0], self.settings).transpose(0, 1).contiguous()  # (T, M)
        n = mel.shape[0]
        if self.source == "speech":
            energy = energy_contour(wav, self.settings.sample_rate, target_len=n)
        elif self.source == "mouth":
            energy = fit_contour(mouth_contour()(row.video, n_frames=n).float().reshape(-1), n)
        else:
            amb, sr = self.v2a_output(i)
            energy = energy_contour(amb, sr, target_len=n)
        return {"mel": mel, "energy": energy.float().contiguous()}

    def v2a_output(self, i: int) -> tuple[torch.Tensor, int]:
        """The clip's V2A output: the manifest's ``ambience`` file, else generated once (fixed seed) and cached."""
        from deepaudio.io.audio import load_audio, save_audio

        row = self.rows[i]
        if row.ambience is not None:
            return load_audio(row.ambience)
        key = _hash(["v2a", *_stat_desc(row.video), *self._v2a_id, str(self.seed), str(self.v2a_steps)])
        path = self.cache_dir / "v2a" / key[:2] / f"{key}.wav"
        if not path.is_file():
            if self._v2a is None:
                from deepaudio.pipelines.v2a import V2APipeline

                self._v2a = V2APipeline.from_pretrained(self.v2a_dir, self.device)
            wav, sr = self._v2a(row.video, steps=self.v2a_steps, seed=self.seed)
            path.parent.mkdir(parents=True, exist_ok=True)
            save_audio(path, wav.float().cpu(), sr, inputs=[row.video])
        return load_audio(path)

    def _key(self, i: int) -> str:
        row = self.rows[i]
        parts = [json.dumps(asdict(self.settings), sort_keys=True), self.source, *_stat_desc(row.speech)]
        if self.source in ("v2a", "mouth"):
            parts += _stat_desc(row.video)
        if self.source == "v2a":
            parts += _stat_desc(row.ambience) if row.ambience is not None else \
                [*self._v2a_id, str(self.seed), str(self.v2a_steps)]
        return _hash(parts)

    def _cache_path(self, i: int) -> Path:
        key = self._key(i)
        return self.cache_dir / key[:2] / f"{key}.safetensors"

    def _write(self, i: int, path: Path) -> None:
        from deepaudio.io.atomic import atomic_path

        tensors = self.compute(i)
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            save_file(tensors, str(tmp), metadata={"speech": str(self.rows[i].speech), "source": self.source})


def mouth_contour():
    """``deepaudio.vision.mouth.mouth_contour(video, n_frames=...)`` (frames at 93.75/s, in [0, 1])."""
    try:
        from deepaudio.vision import mouth
    except ImportError as exc:
        raise BackendUnavailable("the mouth energy source needs deepaudio.vision.mouth, which is not available",
                                 hint="use --energy-source v2a or speech") from exc
    fn = getattr(mouth, "mouth_contour", None)
    if not callable(fn):
        raise BackendUnavailable("deepaudio.vision.mouth has no mouth_contour(video) function",
                                 hint="use --energy-source v2a or speech")
    return fn
