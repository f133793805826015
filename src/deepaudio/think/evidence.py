"""Measurements behind every decision: speech segments, visible talking, level and silence.

Speech segments come from the packaged Silero VAD (``deepaudio.eval.quality.speech_segments``, default
0.5 probability, >= 250 ms). A segment whose median speech probability (32 ms frames) stays below
``SPEECH_CONFIDENCE`` is not counted as speech (noted, and kept in ``doubtful``): the VAD takes some music
for a voice. Measured: speech segments of voice-over and talking clips (toy world and the real-world dev
split, 29) have medians 0.99-1.0 (means 0.79-0.98: a short one's edges pull the mean down, so the mean
would cut speech); sung-vowel pads (``deepaudio.data.realworld.music_like`` style ``choir``) that passed
the VAD (8 of 54) 0.63-0.91. Each segment is scored for visible talking (``visual.talking_score``)
against the speech envelope with the ambience floor (measured outside the segments) subtracted. The
silence numbers are DeepSound-V1's step-4 test (frame RMS below -50 dB on more than 90 % of the frames).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from deepaudio.dsp.energy import frame_rms_db, is_silent, silent_fraction
from deepaudio.think.visual import TALKING_THRESHOLD, MouthSignals, speech_envelope, talking_score


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    talking: float = 0.0  # best |r| of mouth movement against the speech envelope
    face: float = 0.0  # share of the segment's frames with a face (1.0 for the block fallback)

    @property
    def on_screen(self) -> bool:
        return self.talking >= TALKING_THRESHOLD


@dataclass(frozen=True)
class Evidence:
    duration: float
    segments: tuple[Segment, ...]
    mouth_source: str
    level_db: float
    silent_fraction: float
    silent: bool
    talking_threshold: float = TALKING_THRESHOLD
    notes: tuple[str, ...] = field(default_factory=tuple)
    doubtful: tuple[tuple[float, float], ...] = ()  # VAD segments not counted as speech (music or singing?)

    @property
    def speech_seconds(self) -> float:
        return sum(s.end - s.start for s in self.segments)

    def off_screen(self) -> list[Segment]:
        return [s for s in self.segments if not s.on_screen]

    def to_dict(self) -> dict:
        d = asdict(self)
        d["speech_seconds"] = self.speech_seconds
        return d


SPEECH_CONFIDENCE = 0.95


def speech_segments(wav: torch.Tensor, sr: int) -> list[tuple[float, float]]:
    from deepaudio.eval.quality import speech_segments as vad

    return vad(wav, sr)


def confident_speech(wav: torch.Tensor, sr: int) -> tuple[list[tuple[float, float]], list[tuple[float, float]],
                                                           list[str]]:
    """VAD segments split into speech (median probability >= ``SPEECH_CONFIDENCE``) and notes on the rest."""
    segs = speech_segments(wav, sr)
    if not segs:
        return [], [], []
    from deepaudio.eval.quality import speech_probability

    prob, hop = speech_probability(wav, sr)
    keep, doubtful, notes = [], [], []
    for s, e in segs:
        p = prob[int(s / hop): max(int(s / hop) + 1, int(e / hop))]
        median = float(np.median(p)) if p.size else 1.0
        if median >= SPEECH_CONFIDENCE:
            keep.append((s, e))
        else:
            doubtful.append((s, e))
            notes.append(f"Sound at {s:.2f}-{e:.2f} s passed the VAD with a median speech probability of only "
                         f"{median:.2f} (speech needs >= {SPEECH_CONFIDENCE:.2f}): music or singing, not counted "
                         "as speech.")
    return keep, doubtful, notes


def silence_stats(wav: torch.Tensor, sr: int) -> dict[str, float | bool]:
    db = frame_rms_db(wav, sr) if wav.shape[-1] else torch.full((1,), -100.0)
    level = float(10 * torch.log10((10 ** (db / 10)).mean()).item())
    return {"level_db": level, "silent_fraction": silent_fraction(wav, sr) if wav.shape[-1] else 1.0,
            "silent": is_silent(wav, sr)}


def gather_evidence(wav: torch.Tensor, sr: int, mouth: MouthSignals | None) -> Evidence:
    """Everything a reasoner needs about one sound track and its video."""
    segs, doubtful, notes = confident_speech(wav, sr)
    scored = []
    if mouth is None:
        notes.append("no video frames: visible talking could not be measured")
        scored = [Segment(s, e) for s, e in segs]
    else:
        env = speech_envelope(wav, sr, mouth.times, mouth.fps, segs)
        for s, e in segs:
            m = talking_score(mouth, env, s, e)
            scored.append(Segment(s, e, m["score"], m["face"]))
    st = silence_stats(wav, sr)
    return Evidence(wav.shape[-1] / sr, tuple(scored), mouth.source if mouth else "none", st["level_db"],
                    st["silent_fraction"], st["silent"], TALKING_THRESHOLD, tuple(notes), tuple(doubtful))


def describe(ev: Evidence) -> str:
    """A plain-text account of the measurements (the caption for the trace and the text for LLMs)."""
    lines = [f"Sound track: {ev.duration:.2f} s, mean level {ev.level_db:.1f} dB, "
             f"{100 * ev.silent_fraction:.0f}% of frames below -50 dB."]
    if not ev.segments:
        lines.append("Voice activity detection found no speech.")
    for i, s in enumerate(ev.segments, 1):
        lines.append(f"Speech segment {i}: {s.start:.2f}-{s.end:.2f} s; mouth-motion/speech correlation "
                     f"{s.talking:.2f} (on-screen talking needs >= {ev.talking_threshold:.2f}); "
                     f"face visible in {100 * s.face:.0f}% of its frames.")
    lines.extend(ev.notes)
    return "\n".join(lines)
