"""Measurements behind every decision: speech segments, visible talking, level and silence.

Speech segments come from the packaged Silero VAD (``deepaudio.eval.quality.speech_segments``, default
0.5 probability, >= 250 ms). Each segment is scored for visible talking (``visual.talking_score``)
against the speech envelope with the ambience floor (measured outside the segments) subtracted. The
silence numbers are DeepSound-V1's step-4 test (frame RMS below -50 dB on more than 90 % of the frames).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

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

    @property
    def speech_seconds(self) -> float:
        return sum(s.end - s.start for s in self.segments)

    def off_screen(self) -> list[Segment]:
        return [s for s in self.segments if not s.on_screen]

    def to_dict(self) -> dict:
        d = asdict(self)
        d["speech_seconds"] = self.speech_seconds
        return d


def speech_segments(wav: torch.Tensor, sr: int) -> list[tuple[float, float]]:
    from deepaudio.eval.quality import speech_segments as vad

    return vad(wav, sr)


def silence_stats(wav: torch.Tensor, sr: int) -> dict[str, float | bool]:
    db = frame_rms_db(wav, sr) if wav.shape[-1] else torch.full((1,), -100.0)
    level = float(10 * torch.log10((10 ** (db / 10)).mean()).item())
    return {"level_db": level, "silent_fraction": silent_fraction(wav, sr) if wav.shape[-1] else 1.0,
            "silent": is_silent(wav, sr)}


def gather_evidence(wav: torch.Tensor, sr: int, mouth: MouthSignals | None) -> Evidence:
    """Everything a reasoner needs about one sound track and its video."""
    segs = speech_segments(wav, sr)
    notes = []
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
                    st["silent_fraction"], st["silent"], TALKING_THRESHOLD, tuple(notes))


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
