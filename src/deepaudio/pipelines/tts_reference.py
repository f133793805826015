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
VOICE_DB = -50.0  # a 20 ms frame below this level carries no audible voice (DeepSound-V1's silence level)
MIN_VOICE_S = 0.3  # a reference needs at least this much audible audio to carry a voice
ONE_WORD_MAX_S = 3.0  # one transcribed word for longer audio means the audio is mostly not that word


@dataclass(frozen=True)
class Reference:
    wav: torch.Tensor   # (L,) mono 24 kHz, clipped, trimmed, padded and RMS-raised
    text: str           # reference transcript ending in ". "
    gain: float         # factor the reference was raised by (output is divided by it)


MIN_REFERENCE_SECONDS = 1.0
MIN_REFERENCE_RATE = 8000   # Hz: below telephone bandwidth a file cannot carry a voice
MAX_REFERENCE_SECONDS = 15.0


def check_voice(wav: torch.Tensor, sr: int, where=None) -> None:
    """Refuse a reference that cannot carry a voice (the same rules as ``dub``): a sample rate below
    8 kHz, shorter than 1 s, or silent. ``wav`` is (L,) or (C, L) at its file rate ``sr``."""
    from deepaudio.dsp.energy import is_silent
    from deepaudio.errors import InputError

    if sr < MIN_REFERENCE_RATE:
        raise InputError(f"reference voice has a sample rate of {sr} Hz, below {MIN_REFERENCE_RATE} Hz", where,
                         "give a recording at 16 kHz or more")
    seconds = wav.shape[-1] / sr
    if seconds < MIN_REFERENCE_SECONDS:
        raise InputError(f"reference voice is {seconds:.2f} s long, shorter than {MIN_REFERENCE_SECONDS:g} s",
                         where, "give 3-15 s of clean speech")
    if not torch.isfinite(wav).all():
        raise InputError("reference voice contains NaN or infinite samples", where, "give a real recording")
    if is_silent(wav.reshape(1, -1) if wav.ndim == 1 else wav, sr):
        raise InputError("reference voice is silent (over 90% of frames below -50 dB)", where,
                         "give a recording of the voice to imitate")


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


def check_reference_voice(wav: torch.Tensor, sr: int = SAMPLE_RATE, where=None) -> None:
    """Refuse a reference that carries no voice: silent or near-silent (less than ``MIN_VOICE_S`` of
    20 ms frames at or above ``VOICE_DB`` dBFS). Such a reference makes TTS read its prompt text over
    silence and ASR "transcribe" the hiss (as 'You'), so every command that takes one calls this."""
    from deepaudio.errors import InputError

    x = wav.float().reshape(-1, wav.shape[-1]).mean(0) if wav.dim() > 1 else wav.float()
    frame = max(1, sr // 50)
    audible = int((frame_db(x, frame) >= VOICE_DB).sum()) * frame / sr if x.numel() else 0.0
    if audible < MIN_VOICE_S:
        peak = float(x.abs().max()) if x.numel() else 0.0
        level = f"{20 * torch.log10(torch.tensor(max(peak, 1e-10))):.0f} dBFS peak"
        raise InputError(f"reference voice is silent or nearly so ({audible:.2f} s of {x.numel() / sr:.2f} s is "
                         f"above {VOICE_DB:.0f} dBFS, {level})", where,
                         "give a recording of the voice to imitate, 3-15 s of clear speech")


def reference_text_problem(text: str, seconds: float) -> str | None:
    """A warning naming what is wrong with a reference transcript, or None: empty, or one word for
    over ``ONE_WORD_MAX_S`` of audio (ASR's guess on noise or music, or a transcript that misses words)."""
    words = text.split()
    if not words:
        return f"the reference transcript is empty for {seconds:.1f} s of audio"
    if len(words) == 1 and seconds > ONE_WORD_MAX_S:
        return (f"the reference transcript is one word ({words[0]!r}) for {seconds:.1f} s of audio: the "
                "reference is probably not clear speech, or the transcript misses words (pass --ref-text)")
    return None


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
