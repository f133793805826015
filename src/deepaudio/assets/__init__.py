"""The bundled default models, shipped inside the package (``assets/default/<part>``).

Each part is a checkpoint folder trained on the procedural toy world with the project's own
``deepaudio train`` commands; ``TRAINING.md`` beside each records the command, data seed, steps and
losses. Official weights are never bundled: users pass their local folders with ``--model``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from deepaudio.errors import CheckpointError

DEFAULT_ROOT = Path(__file__).resolve().parent / "default"
PARTS = ("v2a", "tts", "v2s", "router", "vocoder")
BUNDLED_LABEL = "bundled-default"
BUNDLED_NOTE = ("note: using the bundled toy-world default model (small, trained on synthetic clips); for real "
                "quality convert the official weights: see README 'Official weights'")


def bundled_dir(part: str) -> Path:
    """Folder of a bundled default part ('pipeline' = the whole DeepAudio folder); a clear error when
    this install has none."""
    path = DEFAULT_ROOT if part == "pipeline" else DEFAULT_ROOT / part
    if not (path / "config.json").is_file():
        raise CheckpointError(f"this install has no bundled default {part} model", path,
                              "pass a model folder with --model (see README: official weights)")
    return path


def is_bundled(path: str | Path) -> bool:
    """Whether ``path`` is the bundled default or a part of it (however the caller spelled the path)."""
    return Path(path).expanduser().resolve().is_relative_to(DEFAULT_ROOT)


def model_label(path: str | Path | None) -> str | None:
    """How sidecars name a model folder: ``"bundled-default"`` for the bundled one, else the path given."""
    if path is None:
        return None
    return BUNDLED_LABEL if is_bundled(path) else str(path)


def describe_bundled() -> str:
    lines = ["bundled default models:"]
    for part in PARTS:
        cfg = DEFAULT_ROOT / part / "config.json"
        if not cfg.is_file():
            lines.append(f"  {part:8} not bundled")
            continue
        meta = json.loads(cfg.read_text()).get("meta", {})
        size = sum(p.stat().st_size for p in (DEFAULT_ROOT / part).rglob("*") if p.is_file())
        steps = meta.get("steps", "?")
        lineage = DEFAULT_ROOT / part / "lineage.json"  # earlier runs this one continued (scripts/build_default.py)
        if lineage.is_file() and isinstance(steps, int):
            steps = f"{steps} (+{sum(int(r.get('steps', 0)) for r in json.loads(lineage.read_text()))} earlier)"
        lines.append(f"  {part:8} {size / 1e6:5.1f} MB, {steps} training steps ({DEFAULT_ROOT / part})")
    voice = DEFAULT_ROOT / "voice" / "voice.json"
    if voice.is_file():  # the reference used when no --ref-audio is given
        info = json.loads(voice.read_text())
        lines.append(f"  {'voice':8} {info['speaker']} saying \"{info['text']}\" ({info['seconds']} s, {voice.parent})")
    return "\n".join(lines)


@dataclass(frozen=True)
class DefaultVoice:
    """The packaged reference voice used when no ``--ref-audio`` is given (scripts/make_default_voice.py)."""

    audio: Path
    text: str
    speaker: str

    @property
    def label(self) -> str:
        return f"the bundled default voice '{self.speaker}' (says: \"{self.text}\")"


def default_voice() -> DefaultVoice:
    """The bundled default voice; a clear error when this install has none."""
    info_path = DEFAULT_ROOT / "voice" / "voice.json"
    if not info_path.is_file():
        raise CheckpointError("this install has no bundled default voice", info_path.parent,
                              "pass a reference voice with --ref-audio voice.wav")
    info = json.loads(info_path.read_text())
    return DefaultVoice(info_path.parent / info["audio"], info["text"], info["speaker"])
