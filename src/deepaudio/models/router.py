"""Instruction routing: which task an instruction asks for, and the transcript it may carry.

``Router(instruction)`` returns a :class:`Route` with the task, the gate's class probabilities (so the
decision is explained) and a transcript quoted in the instruction (``Dub this clip saying "..."``).
A user's ``task=`` overrides the gate; the probabilities are still reported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import torch

from deepaudio.errors import ConfigError, InputError
from deepaudio.models.gate import TASK_DESCRIPTIONS, TASK_MODULES, TASKS, MoFGate

# Quote pairs we accept around a transcript. Straight single quotes only count when they open after
# a space/colon/start and close before punctuation/space/end, so apostrophes ("don't") never match.
_QUOTED = [
    re.compile(r'"([^"]+)"'),
    re.compile(r"\u201c([^\u201d]+)\u201d"),
    re.compile(r"\u00ab([^\u00bb]+)\u00bb"),
    re.compile(r"\u300c([^\u300d]+)\u300d"),
    re.compile(r"(?:(?<=^)|(?<=[\s:]))'(.+?)'(?=$|[\s.,!?;:])"),
]
_CUE = re.compile(
    r"\b(?:saying|says|say|speak|speaking|read(?:ing)? out|read|pronounce|with the (?:words|line|text)|"
    r"the line|transcript|text|words|voice[- ]?over|narration|narrate|lines?)\s*[:\-\u2013]\s*(.+)$",
    re.IGNORECASE,
)


def extract_transcript(instruction: str) -> str | None:
    """The transcript embedded in an instruction, or None.

    Quoted text wins (the longest quoted span); otherwise text after a cue followed by a colon
    (``... saying: hello there``). Unquoted text without a colon is not taken: "make it say hi" is
    ambiguous and the user should quote or pass ``--text``.
    """
    spans = [m.group(1).strip() for pat in _QUOTED for m in pat.finditer(instruction)]
    spans = [s for s in spans if s]
    if spans:
        return max(spans, key=len)
    m = _CUE.search(instruction)
    if m and m.group(1).strip():
        return m.group(1).strip()
    return None


def mask_transcript(instruction: str, placeholder: str = "the text") -> str:
    """The instruction with its transcript replaced by a placeholder.

    The gate must decide the task from how the instruction is phrased, not from the words to be spoken
    (a quoted sentence would otherwise dominate a mean-pooled sentence embedding), so both training and
    inference encode the masked form.
    """
    transcript = extract_transcript(instruction)
    if not transcript:
        return instruction
    i = instruction.rfind(transcript)
    if i < 0:
        return instruction
    return (instruction[:i] + placeholder + instruction[i + len(transcript):]).strip()


@dataclass(frozen=True)
class Route:
    task: str
    probabilities: dict[str, float]
    transcript: str | None
    overridden: bool = False
    modules: tuple[str, ...] = field(default=())

    def explain(self) -> str:
        probs = ", ".join(f"{k} {v:.2f}" for k, v in sorted(self.probabilities.items(), key=lambda kv: -kv[1]))
        how = "chosen by --task" if self.overridden else "chosen by the gate"
        text = f"task: {self.task} ({TASK_DESCRIPTIONS[self.task]}; {how}; runs {' + '.join(self.modules)})"
        if probs:
            text += f"; gate probabilities: {probs}"
        if self.transcript:
            text += f'; transcript from the instruction: "{self.transcript}"'
        return text


class Router:
    """Frozen sentence encoder + trained MoF gate."""

    def __init__(self, gate: MoFGate, encoder):
        if encoder.dim != gate.config.encoder_dim:
            raise ConfigError(f"text encoder gives {encoder.dim}-d embeddings, the gate expects "
                              f"{gate.config.encoder_dim}-d", hint="use the encoder the gate was trained with")
        self.gate = gate.eval()
        self.encoder = encoder
        from deepaudio.models.encoders.text import LexicalFeatures

        self.lexical = LexicalFeatures(gate.config.lexical_dim) if gate.config.lexical_dim else None

    @classmethod
    def from_pretrained(cls, directory: str | Path, encoder_path: str | None = None,
                        device: str | torch.device = "cpu") -> Router:
        from deepaudio.models.encoders.text import SentenceEncoder, TextEncoderSpec

        gate = MoFGate.from_pretrained(directory, device=device)
        path = encoder_path or gate.checkpoint_meta.get("encoder_path")
        encoder = SentenceEncoder(TextEncoderSpec(gate.config.encoder, path)).to(device)
        return cls(gate, encoder)

    @torch.no_grad()
    def probabilities(self, instructions: list[str]) -> torch.Tensor:
        """(N, K) class probabilities in the order of ``gate.config.tasks``."""
        return torch.softmax(self.gate(self.features(instructions)).float(), dim=-1).cpu()

    @torch.no_grad()
    def features(self, instructions: list[str]) -> torch.Tensor:
        """The gate's input: embedding of the transcript-masked instruction [+ lexical features]."""
        masked = [mask_transcript(t) for t in instructions]
        feats = self.encoder(masked)
        if self.lexical is not None:
            feats = torch.cat([feats, self.lexical(masked)], dim=-1)
        return feats.to(next(self.gate.parameters()).device)

    def __call__(self, instruction: str, task: str | None = None) -> Route:
        if not instruction or not instruction.strip():
            if task is None:
                raise InputError("empty instruction", hint="describe the task or pass --task v2a|tts|v2s|dub")
            instruction = ""
        probs = {}
        if instruction.strip():
            p = self.probabilities([instruction])[0]
            probs = {t: float(v) for t, v in zip(self.gate.config.tasks, p)}
        if task is not None:
            if task not in TASKS:
                raise ConfigError(f"unknown task {task!r}", hint=f"choose one of: {', '.join(TASKS)}")
            chosen, overridden = task, True
        else:
            chosen, overridden = max(probs, key=probs.get), False
        return Route(chosen, probs, extract_transcript(instruction), overridden, TASK_MODULES[chosen])
