"""Reference-voice preparation and chunk stitching for the TTS pipeline (F5-TTS inference rules).

As in F5-TTS inference, the reference clip is cut to at most 15 s, preferably at a silence; its edge
silence is trimmed and 50 ms of silence appended (so the generated speech does not start glued to the
prompt); quiet references are raised to RMS 0.1 and the output scaled back by the same factor; the
reference text ends in ". " so the new sentence starts cleanly; chunks are joined with a 0.15 s linear
cross-fade. All functions are pure: (waveform [L] at 24 kHz) in, new tensors out.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

SAMPLE_RATE = 24000
TARGET_RMS = 0.1


@dataclass(frozen=True)
class Reference:
    wav: torch.Tensor   # (L,) mono 24 kHz, clipped, trimmed, padded and RMS-raised
    text: str           # reference transcript ending in ". "
    gain: float         # factor the reference was raised by (output is divided by it)


def frame_db(wav: torch.Tensor, frame: int) -> torch.Tensor:
    """RMS level in dBFS of consecutive non-overlapping frames (the last partial frame included)."""
    n = -(-wav.numel() // frame)
    x = torch.nn.functional.pad(wav, (0, n * frame - wav.numel())).view(n, frame)
    return 20 * torch.log10(x.pow(2).mean(dim=1).sqrt().clamp_min(1e-10))


def silence_threshold(db: torch.Tensor, below_peak: float = 40.0, floor_db: float = -60.0) -> float:
    """Frames count as silent below (loudest frame - ``below_peak`` dB), but never below ``floor_db``.

    The reference uses fixed -50/-42 dBFS thresholds; relative to the clip's own level, a quietly
    recorded voice is not mistaken for silence (its RMS is raised to 0.1 only afterwards).
    """
    return max(float(db.max()) - below_peak, floor_db) if db.numel() else floor_db


def clip_at_silence(wav: torch.Tensor, max_seconds: float = 15.0, min_gap: float = 0.1,
                    sr: int = SAMPLE_RATE) -> torch.Tensor:
    """Cut to at most ``max_seconds``, at the middle of the last silent gap (>= ``min_gap`` s) that ends
    before the limit; a hard cut only when there is no such gap."""
    limit = int(max_seconds * sr)
    if wav.numel() <= limit:
        return wav
    frame = sr // 100  # 10 ms
    db = frame_db(wav[:limit], frame)
    quiet = (db < silence_threshold(db)).tolist()
    need = max(1, int(round(min_gap * 100)))
    best, run = None, 0
    for i, q in enumerate(quiet):
        run = run + 1 if q else 0
        if run >= need:
            best = i - run // 2  # middle of the gap so far
    cut = limit if best is None or best == 0 else best * frame
    return wav[:cut]


def trim_silence(wav: torch.Tensor, sr: int = SAMPLE_RATE) -> torch.Tensor:
    """Drop leading and trailing silent 10 ms frames (all-silent input is kept as it is)."""
    frame = sr // 100
    db = frame_db(wav, frame)
    loud = torch.nonzero(db >= silence_threshold(db)).squeeze(1)
    if loud.numel() == 0:
        return wav
    return wav[int(loud[0]) * frame: min(wav.numel(), (int(loud[-1]) + 1) * frame)]


def finish_ref_text(text: str) -> str:
    """Make the reference transcript end with '. ' (or the CJK full stop), as the reference does."""
    text = text.strip()
    if text.endswith("。"):
        return text
    return text + (" " if text.endswith(".") else ". ")


def prepare_reference(wav: torch.Tensor, text: str, max_seconds: float = 15.0) -> Reference:
    """(L,) 24 kHz mono -> :class:`Reference` following the F5-TTS rules above."""
    wav = trim_silence(clip_at_silence(wav.float(), max_seconds))
    wav = torch.cat((wav, wav.new_zeros(int(0.05 * SAMPLE_RATE))))
    rms = float(wav.pow(2).mean().sqrt()) if wav.numel() else 0.0
    gain = TARGET_RMS / rms if 0.0 < rms < TARGET_RMS else 1.0
    return Reference(wav=wav * gain, text=finish_ref_text(text), gain=gain)


def cross_fade(parts: list[torch.Tensor], seconds: float = 0.15, sr: int = SAMPLE_RATE,
               samples: int | None = None) -> torch.Tensor:
    """Join 1-D waveforms with linear cross-fades of ``seconds`` (or exactly ``samples``), shortened for
    very short parts."""
    if not parts:
        return torch.zeros(0)
    fade = int(seconds * sr) if samples is None else samples
    out = parts[0]
    for nxt in parts[1:]:
        n = min(fade, out.numel(), nxt.numel())
        if n <= 0:
            out = torch.cat((out, nxt))
            continue
        ramp = torch.linspace(0, 1, n, dtype=out.dtype, device=out.device)
        mixed = out[-n:] * (1 - ramp) + nxt[:n] * ramp
        out = torch.cat((out[:-n], mixed, nxt[n:]))
    return out
