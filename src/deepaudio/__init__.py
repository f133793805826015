"""deepaudio: sound tracks for silent video (DeepAudio-V1 / DeepSound-V1) in PyTorch.

    from deepaudio import DeepAudio
    pipe = DeepAudio.from_pretrained()          # the bundled default; or from_pretrained("my/folder")
    result = pipe(video="clip.mp4", instruction='Dub this clip saying "hello there"',
                  reference_audio="voice.wav")
    result.audio, result.sample_rate, result.metadata

The pipelines (``DeepAudio``, ``V2APipeline``, ``TTSPipeline``, ``V2SPipeline``, ``ThinkPipeline``) and their settings
and result types are exported here lazily: ``import deepaudio`` imports nothing else (no torch, no
device probing); a name is imported on first use.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "DeepAudio": "deepaudio.pipelines.deepaudio",
    "DeepAudioResult": "deepaudio.pipelines.deepaudio",
    "DeepAudioSettings": "deepaudio.pipelines.deepaudio",
    "V2APipeline": "deepaudio.pipelines.v2a",
    "TTSPipeline": "deepaudio.pipelines.tts",
    "V2SPipeline": "deepaudio.pipelines.v2s",
    "V2SSettings": "deepaudio.pipelines.v2s",
    "ThinkPipeline": "deepaudio.pipelines.think",
    "ThinkSettings": "deepaudio.pipelines.think",
    "ThinkResult": "deepaudio.pipelines.think",
    "V2ASettings": "deepaudio.pipelines.v2a",
    "TTSSettings": "deepaudio.pipelines.tts",
    "GenerationResult": "deepaudio.pipelines.result",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'deepaudio' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
