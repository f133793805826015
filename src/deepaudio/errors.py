"""One error hierarchy for everything a user can get wrong.

Every error carries a one-line message naming the file (when there is one), what is wrong and what to
do. The CLI prints ``deepaudio: error: <message>`` and exits with code 2; library users catch
``DeepAudioError``.
"""

from __future__ import annotations

from pathlib import Path


class DeepAudioError(Exception):
    """Base class: a problem the user can fix. ``str(err)`` is a single line."""

    def __init__(self, message: str, path: str | Path | None = None, hint: str | None = None):
        self.path = None if path is None else str(path)
        self.hint = hint
        parts = []
        if self.path is not None:
            parts.append(f"{self.path}:")
        parts.append(message.strip().rstrip("."))
        text = " ".join(parts)
        if hint:
            text += f" ({hint.strip().rstrip('.')})"
        super().__init__(" ".join(text.split()))


class MediaError(DeepAudioError):
    """An audio or video file is missing, empty, corrupt, truncated or lacks the needed stream."""


class OutputPathError(DeepAudioError):
    """An output path cannot be written (unwritable folder, same as an input, ...)."""


class CheckpointError(DeepAudioError):
    """A checkpoint folder or official weight file is missing, unsafe or does not match the model."""


class ConfigError(DeepAudioError):
    """An unknown preset, a bad option value or inconsistent settings."""


class ParityError(DeepAudioError):
    """A reference-vector file cannot be read or names a module kind we do not implement."""


class InputError(DeepAudioError):
    """Bad user input other than media: empty transcript, malformed SRT, text that does not fit."""


class BackendUnavailable(DeepAudioError):
    """An optional model or package (an evaluation backend, a reasoner) is not installed or not given."""
