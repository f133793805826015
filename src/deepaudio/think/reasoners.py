"""Reasoners: who answers DeepSound-V1's questions (plan; does this audio contain voice-over?).

Three backends behind one interface (``plan(media)``, ``judge(evidence, media)`` -> :class:`Answer`):

- ``perception`` (default, offline): decides from measurements. A speech segment (Silero VAD) whose
  envelope no mouth on screen follows is voice-over (see ``visual``). No language model involved.
- ``openai:URL``: a multimodal chat model behind an OpenAI-compatible endpoint; sees keyframes as
  base64 JPEG images, the sound track as base64 WAV, and the measurements (``reasoner_openai``).
- ``local:PATH``: a transformers causal LM loaded from a local folder; text-only, it reasons over the
  measurements written out as text (``reasoner_local``).

Language-model answers are parsed for the four parts and a ``VOICE-OVER: YES|NO`` line; an answer
without a decision leaves ``voice_over`` as None and the pipeline falls back to the measurements.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import torch

from deepaudio.errors import ConfigError
from deepaudio.think.evidence import Evidence, describe
from deepaudio.think.prompts import PLAN_QUESTION, PLAN_STEPS


@dataclass
class Media:
    """What a reasoner may look at: the sound track, a few keyframes (uint8 [K, H, W, 3]) and their times."""

    wav: torch.Tensor
    sr: int
    frames: torch.Tensor | None = None
    frame_times: tuple[float, ...] = ()
    video: Path | None = None


@dataclass
class Answer:
    summary: str = ""
    caption: str = ""
    reasoning: str = ""
    conclusion: str = ""
    voice_over: bool | None = None
    spans: tuple[tuple[float, float], ...] = ()
    raw: str = ""
    extra: dict = field(default_factory=dict)


class Reasoner:
    name = "reasoner"

    def plan(self, media: Media) -> Answer:
        raise NotImplementedError

    def judge(self, evidence: Evidence, media: Media) -> Answer:
        raise NotImplementedError


class PerceptionReasoner(Reasoner):
    """Offline default: voice-over = speech segments that no visible mouth follows."""

    name = "perception"

    def plan(self, media: Media) -> Answer:
        return Answer(summary=f"Asked: {PLAN_QUESTION}", caption="The fixed DeepSound-V1 procedure.",
                      reasoning="The steps do not depend on the video; they are the paper's procedure.",
                      conclusion="\n".join(PLAN_STEPS))

    def judge(self, evidence: Evidence, media: Media) -> Answer:
        off = evidence.off_screen()
        on = [s for s in evidence.segments if s.on_screen]
        parts = []
        for i, s in enumerate(evidence.segments, 1):
            where = "a mouth on screen moves with it" if s.on_screen else "no mouth on screen follows it"
            parts.append(f"segment {i} ({s.start:.2f}-{s.end:.2f} s): r = {s.talking:.2f}, {where}")
        if not evidence.segments:
            reasoning, conclusion = "There is no speech, so there can be no voice-over.", "No voice-over."
        else:
            reasoning = "; ".join(parts) + "."
            conclusion = (f"Voice-over in {len(off)} of {len(evidence.segments)} speech segment(s)."
                          if off else "The speech belongs to a face that talks on screen: no voice-over.")
        return Answer(summary="Decide whether the audio contains speech that nobody on screen produces.",
                      caption=describe(evidence), reasoning=reasoning, conclusion=conclusion,
                      voice_over=bool(off), spans=tuple((s.start, s.end) for s in off),
                      extra={"on_screen_segments": len(on)})


_LABELS = ("summary", "caption", "reasoning", "conclusion")
_LABEL_RX = re.compile(r"^[\s*#>-]*(summary|caption|reasoning|conclusion)\s*[*]*\s*:[*\s]*", re.I | re.M)
_DECISION_RX = re.compile(r"voice[-\s]?over\s*[*]*\s*:\s*[*]*\s*(yes|no)\b", re.I)
_SEGMENTS_RX = re.compile(r"segments?\s*[*]*\s*:\s*([\d,\s]+)", re.I)


def parse_answer(text: str, evidence: Evidence) -> Answer:
    """The four labelled parts, the YES/NO decision and the named segments of a model's reply."""
    ans = Answer(raw=text)
    marks = list(_LABEL_RX.finditer(text))
    for m, nxt in zip(marks, marks[1:] + [None]):
        body = text[m.end(): nxt.start() if nxt else len(text)]
        body = _DECISION_RX.split(body)[0] if _DECISION_RX.search(body) else body
        setattr(ans, m.group(1).lower(), body.strip())
    decision = _DECISION_RX.findall(text)
    if decision:
        ans.voice_over = decision[-1].lower() == "yes"
    if ans.voice_over:
        idx = []
        seg = _SEGMENTS_RX.search(text)
        if seg:
            idx = [int(v) - 1 for v in re.findall(r"\d+", seg.group(1)) if 0 < int(v) <= len(evidence.segments)]
        chosen = [evidence.segments[i] for i in idx] or evidence.off_screen() or list(evidence.segments)
        ans.spans = tuple((s.start, s.end) for s in chosen)
    if not any(getattr(ans, k) for k in _LABELS):
        ans.conclusion = text.strip()
    return ans


def make_reasoner(spec: str, device: str | torch.device = "cpu") -> Reasoner:
    """``perception`` | ``openai:URL`` | ``local:PATH``."""
    kind, _, arg = spec.partition(":")
    if kind == "perception" and not arg:
        return PerceptionReasoner()
    if kind == "openai" and arg:
        from deepaudio.think.reasoner_openai import OpenAIReasoner

        return OpenAIReasoner(arg)
    if kind == "local" and arg:
        from deepaudio.think.reasoner_local import LocalReasoner

        return LocalReasoner(arg, device=device)
    raise ConfigError(f"unknown reasoner {spec!r}", hint="use perception, openai:URL or local:PATH")
