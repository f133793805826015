"""Small real media files for tests across the project (no sample videos exist offline: we make them).

Every generated frame carries its own index as a row of black/white blocks (``frame_code``) so that a
test can tell, after lossy h264 and any resize, *which* source frame a sampler returned. Pictures are
deterministic functions of the frame index; sounds are exact tones, so tests can check frequencies,
beep onsets and durations.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from deepaudio.io.video import write_video

CODE_BITS = 10  # frame indices up to 1023


@dataclasses.dataclass(frozen=True)
class TestClip:
    """A generated clip and the facts a test checks against."""

    __test__ = False  # not a pytest class

    path: Path
    fps: float
    n_frames: int
    width: int
    height: int
    timestamps: tuple[float, ...]  # presentation time of each frame in seconds
    beep_times: tuple[float, ...] = ()  # onset of each beep in seconds
    sample_rate: int | None = None


def frame_code(index: int, width: int, height: int) -> np.ndarray:
    """An ``[H, W, 3]`` picture whose top band encodes ``index`` in ``CODE_BITS`` blocks (MSB left)."""
    img = np.full((height, width, 3), 40, np.uint8)
    band = max(4, height // 4)
    cell = width // CODE_BITS
    for b in range(CODE_BITS):
        if (index >> (CODE_BITS - 1 - b)) & 1:
            img[:band, b * cell:(b + 1) * cell] = 255
    return img


def read_code(img: np.ndarray | torch.Tensor, width: int | None = None, height: int | None = None) -> int:
    """Read back the index drawn by ``frame_code(index, width, height)`` from a frame showing the whole
    picture at any scale (``width``/``height``: the generated size; default: the frame's own)."""
    a = img.numpy() if isinstance(img, torch.Tensor) else np.asarray(img)
    h, w = a.shape[:2]
    width, height = width or w, height or h
    cell = width // CODE_BITS
    y = int(max(4, height // 4) / 2 * h / height)
    value = 0
    for b in range(CODE_BITS):
        x = int((b + 0.5) * cell * w / width)
        value = (value << 1) | int(a[y, x].mean() > 128)
    return value


def square_frame(index: int, n_frames: int, width: int, height: int) -> np.ndarray:
    """The moving-square picture: a coded top band and a white square moving left to right."""
    img = frame_code(index, width, height)
    side = max(4, height // 4)
    x = int(round((width - side) * index / max(1, n_frames - 1)))
    y0 = height // 2 - side // 2
    img[y0:y0 + side, x:x + side] = (255, 255, 255)
    return img


def beep_track(n_samples: int, sample_rate: int, onsets: Sequence[float], length: float,
               freq: float = 1000.0, amplitude: float = 0.5) -> torch.Tensor:
    """Mono ``[1, N]`` silence with a sine beep of ``length`` seconds at each onset."""
    wav = np.zeros(n_samples, np.float32)
    for t0 in onsets:
        a, b = int(round(t0 * sample_rate)), min(n_samples, int(round((t0 + length) * sample_rate)))
        if a < b:
            t = np.arange(b - a) / sample_rate
            wav[a:b] = amplitude * np.sin(2 * np.pi * freq * t)
    return torch.from_numpy(wav)[None]


def moving_square_video(path: str | Path, duration: float = 2.0, fps: float = 25.0, width: int = 128,
                        height: int = 96, beep_frames: Sequence[int] = (10, 30), beep_freq: float = 1000.0,
                        sample_rate: int | None = 16000, codec: str | None = None) -> TestClip:
    """A CFR video of a moving square with a coded frame index and, with ``sample_rate``, an AAC
    track that beeps (one frame long, ``beep_freq``) exactly when frames ``beep_frames`` are shown."""
    n = int(round(duration * fps))
    frames = (square_frame(i, n, width, height) for i in range(n))
    onsets = tuple(k / fps for k in beep_frames)
    audio = None
    if sample_rate:
        audio = beep_track(int(round(n / fps * sample_rate)), sample_rate, onsets, 1 / fps, beep_freq)
    write_video(path, frames, fps, audio=audio, sample_rate=sample_rate, codec=codec)
    return TestClip(Path(path), fps, n, width, height, tuple(i / fps for i in range(n)),
                    onsets if sample_rate else (), sample_rate)


def vfr_video(path: str | Path, timestamps: Sequence[float] = (0.0, 0.04, 0.3, 0.33, 0.36, 0.8, 1.0, 1.5),
              width: int = 100, height: int = 64, end: float | None = 1.8) -> TestClip:
    """A variable-frame-rate video: frame ``i`` (coded with index ``i``) is shown from ``timestamps[i]``
    until the next timestamp, the last one until ``end``."""
    ts = tuple(float(t) for t in timestamps)
    frames = [frame_code(i, width, height) for i in range(len(ts))]
    last = end if end is not None else ts[-1] + (ts[-1] - ts[-2] if len(ts) > 1 else 0.04)
    write_video(path, frames, len(ts) / last, timestamps=ts, end=last)
    return TestClip(Path(path), len(ts) / last, len(ts), width, height, ts)


def tone(duration: float = 1.0, sample_rate: int = 16000, freqs: Sequence[float] = (440.0, 660.0),
         amplitude: float = 0.5) -> tuple[torch.Tensor, int]:
    """A ``[len(freqs), N]`` float32 waveform: one sine per channel (stereo by default)."""
    t = torch.arange(int(round(duration * sample_rate)), dtype=torch.float64) / sample_rate
    wav = torch.stack([amplitude * torch.sin(2 * math.pi * f * t) for f in freqs]).float()
    return wav, sample_rate


def stereo_tone_file(path: str | Path, duration: float = 1.0, sample_rate: int = 16000,
                     freqs: Sequence[float] = (440.0, 660.0)) -> Path:
    """Write ``tone(...)`` to ``path`` (format from the suffix: wav/flac/m4a/mp3/ogg)."""
    from deepaudio.io.audio import save_audio

    wav, sr = tone(duration, sample_rate, freqs)
    return save_audio(path, wav, sr)


def dominant_frequency(wav: torch.Tensor, sample_rate: int) -> float:
    """Frequency of the largest FFT peak of channel 0 (Hann window, parabolic interpolation)."""
    x = torch.as_tensor(wav).float().reshape(-1, torch.as_tensor(wav).shape[-1])[0].double()
    spec = torch.fft.rfft(x * torch.hann_window(x.numel(), dtype=torch.float64)).abs()
    k = int(spec[1:-1].argmax()) + 1
    a, b, c = (float(v) for v in spec[k - 1:k + 2].log())
    shift = 0.5 * (a - c) / (a - 2 * b + c) if (a - 2 * b + c) != 0 else 0.0
    return (k + shift) * sample_rate / x.numel()


def garbage_file(path: str | Path, n_bytes: int = 4096, seed: int = 0) -> Path:
    """Random bytes under a media-looking name (for corrupt-input tests)."""
    p = Path(path)
    p.write_bytes(np.random.default_rng(seed).integers(0, 256, n_bytes, dtype=np.uint8).tobytes())
    return p


def truncated_copy(src: str | Path, dst: str | Path, fraction: float = 0.5) -> Path:
    """Copy the first ``fraction`` of ``src``'s bytes to ``dst`` (a download that stopped halfway)."""
    data = Path(src).read_bytes()
    Path(dst).write_bytes(data[:max(1, int(len(data) * fraction))])
    return Path(dst)
