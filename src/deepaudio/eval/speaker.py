"""Speaker similarity (SPK-SIM, SIM-O) and emotion similarity (EMO-SIM) from speech embeddings.

The DeepAudio-V1 evaluation scripts use:
* SPK-SIM: cosine of WavLM-base-sv x-vectors at 16 kHz (``WavLMForXVector`` from a local folder);
* SIM-O (TTS): ECAPA-TDNN on WavLM-large, the UniSpeech speaker-verification checkpoint;
* EMO-SIM: cosine of mean-pooled hidden states of a wav2vec2 emotion model, x100.
The offline default for speaker similarity is Resemblyzer (GE2E, packaged weights). It is reported
under its own name (``spk_sim`` with backend "resemblyzer-ge2e"), never as the WavLM number; EMO-SIM
has no substitute: without a model folder it is reported unavailable.
"""

from __future__ import annotations

import functools
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from deepaudio.errors import BackendUnavailable, CheckpointError

EMBED_SR = 16000


def _mono16k(wav: torch.Tensor, sr: int) -> np.ndarray:
    if wav.dim() == 1:
        wav = wav.unsqueeze(0)
    x = wav.detach().to(torch.float32).mean(0).cpu().numpy()
    if sr != EMBED_SR:
        import soxr

        x = soxr.resample(x, sr, EMBED_SR, quality="HQ")
    return np.ascontiguousarray(x, dtype=np.float32)


def cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    """Cosine similarity of two embedding vectors."""
    return float(F.cosine_similarity(a.flatten().double(), b.flatten().double(), dim=0))


class Resemblyzer:
    """GE2E speaker encoder packaged with ``resemblyzer`` (256-d, L2-normalised)."""

    name = "resemblyzer-ge2e"

    def __init__(self, device: str | torch.device = "cpu"):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # webrtcvad imports pkg_resources
                from resemblyzer import VoiceEncoder
        except ImportError as exc:
            raise BackendUnavailable("resemblyzer is not installed",
                                     hint="pip install 'deepaudio[eval]' (resemblyzer, setuptools<81)") from exc
        self._enc = VoiceEncoder(device=str(device), verbose=False)

    def embed(self, wav: torch.Tensor, sr: int) -> torch.Tensor:
        from resemblyzer import preprocess_wav

        x = preprocess_wav(_mono16k(wav, sr))  # volume normalisation + VAD trimming, as the encoder was trained
        if x.size == 0:
            x = _mono16k(wav, sr)
        return torch.from_numpy(self._enc.embed_utterance(x))


def _check_folder(path: str | Path, what: str, flag: str) -> Path:
    folder = Path(path).expanduser()
    if not (folder / "config.json").is_file():
        raise CheckpointError(f"{what} folder not found or has no config.json", folder,
                              f"give a local Hugging Face model folder with {flag}")
    return folder


def _transformers():
    try:
        import transformers
    except ImportError as exc:
        raise BackendUnavailable("transformers is not installed", hint="pip install 'deepaudio[text]'") from exc
    return transformers


def _normalise(x: np.ndarray, folder: Path) -> np.ndarray:
    """Zero-mean unit-variance input, what Wav2Vec2FeatureExtractor(do_normalize=True) does."""
    cfg = folder / "preprocessor_config.json"
    if cfg.is_file():
        import json

        if not json.loads(cfg.read_text()).get("do_normalize", True):
            return x
    return (x - x.mean()) / np.sqrt(x.var() + 1e-7)


class WavLMXVector:
    """WavLM-base-sv x-vectors (``WavLMForXVector``), the papers' SPK-SIM backend."""

    def __init__(self, path: str | Path, device: str | torch.device = "cpu"):
        self.folder = _check_folder(path, "WavLM-base-sv", "--wavlm-sv")
        tf = _transformers()
        self.device = torch.device(device)
        self.model = tf.WavLMForXVector.from_pretrained(str(self.folder), local_files_only=True).to(self.device).eval()
        self.name = f"wavlm-xvector ({self.folder.name})"

    @torch.no_grad()
    def embed(self, wav: torch.Tensor, sr: int) -> torch.Tensor:
        x = torch.from_numpy(_normalise(_mono16k(wav, sr), self.folder))[None].to(self.device)
        return self.model(input_values=x).embeddings[0].float().cpu()


class Wav2Vec2Emotion:
    """Mean-pooled last hidden state of a wav2vec2 emotion model (EMO-SIM)."""

    def __init__(self, path: str | Path, device: str | torch.device = "cpu"):
        self.folder = _check_folder(path, "wav2vec2 emotion model", "--emotion-model")
        tf = _transformers()
        self.device = torch.device(device)
        self.model = tf.AutoModel.from_pretrained(str(self.folder), local_files_only=True).to(self.device).eval()
        self.name = f"wav2vec2-emotion ({self.folder.name})"

    @torch.no_grad()
    def embed(self, wav: torch.Tensor, sr: int) -> torch.Tensor:
        x = torch.from_numpy(_normalise(_mono16k(wav, sr), self.folder))[None].to(self.device)
        return self.model(input_values=x).last_hidden_state[0].mean(0).float().cpu()


class EcapaWavLMSV:
    """ECAPA-TDNN on WavLM-large (UniSpeech ``wavlm_large_finetune.pth``), the papers' SIM-O backend."""

    def __init__(self, path: str | Path, device: str | torch.device = "cpu"):
        _transformers()
        from deepaudio.eval.ecapa import load_ecapa_wavlm

        self.device = torch.device(device)
        self.model = load_ecapa_wavlm(path, self.device)
        self.name = f"ecapa-tdnn + wavlm ({Path(path).name})"

    @torch.no_grad()
    def embed(self, wav: torch.Tensor, sr: int) -> torch.Tensor:
        x = torch.from_numpy(_mono16k(wav, sr))[None].to(self.device)
        return self.model(x)[0].float().cpu()


@functools.lru_cache(maxsize=2)
def sim_o_backend(path: str, device: str = "cpu") -> EcapaWavLMSV:
    return EcapaWavLMSV(path, device)


def sim_o(gen: tuple[torch.Tensor, int], prompt: tuple[torch.Tensor, int], model: str | None,
          device: str = "cpu") -> float:
    """SIM-O: cosine of ECAPA-TDNN/WavLM-large embeddings; no substitute without the checkpoint."""
    if model is None:
        raise BackendUnavailable("SIM-O needs the UniSpeech ECAPA-TDNN + WavLM-large checkpoint",
                                 hint="pass --sim-o wavlm_large_finetune.pth (needs transformers)")
    enc = sim_o_backend(model, device)
    return cosine(enc.embed(*gen), enc.embed(*prompt))


@functools.lru_cache(maxsize=4)
def speaker_backend(path: str | None = None, device: str = "cpu"):
    """Cached speaker encoder: WavLM-base-sv from ``path``, else the packaged Resemblyzer."""
    return Resemblyzer(device) if path is None else WavLMXVector(path, device)


@functools.lru_cache(maxsize=2)
def emotion_backend(path: str, device: str = "cpu"):
    return Wav2Vec2Emotion(path, device)


def speaker_similarity(gen: tuple[torch.Tensor, int], ref: tuple[torch.Tensor, int], model: str | None = None,
                       device: str = "cpu") -> float:
    """Cosine of speaker embeddings of (wav, sr) pairs; in [-1, 1] like the papers' SPK-SIM."""
    enc = speaker_backend(model, device)
    return cosine(enc.embed(*gen), enc.embed(*ref))


def emotion_similarity(gen: tuple[torch.Tensor, int], ref: tuple[torch.Tensor, int], model: str | None,
                       device: str = "cpu") -> float:
    """EMO-SIM x100; raises ``BackendUnavailable`` without a local emotion model (no substitute)."""
    if model is None:
        raise BackendUnavailable("EMO-SIM needs a wav2vec2 emotion model", hint="pass --emotion-model FOLDER")
    enc = emotion_backend(model, device)
    return 100.0 * cosine(enc.embed(*gen), enc.embed(*ref))
