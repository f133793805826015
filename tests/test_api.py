"""The top-level API: lazy exports without import-time side effects, and from_pretrained() defaults."""

from __future__ import annotations

import subprocess
import sys

import pytest


def test_import_deepaudio_imports_nothing_else():
    code = ("import sys, deepaudio; "
            "assert 'torch' not in sys.modules, 'torch imported'; "
            "extra = sorted(m for m in sys.modules if m.startswith('deepaudio.')); "
            "assert not extra, extra; "
            "assert {'DeepAudio', 'TTSPipeline', 'V2APipeline', 'ThinkPipeline'} <= set(dir(deepaudio))")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_pipelines_are_exported_lazily():
    import deepaudio
    from deepaudio import DeepAudio, ThinkPipeline, TTSPipeline, V2APipeline
    from deepaudio.pipelines.deepaudio import DeepAudio as direct

    assert DeepAudio is direct
    assert [c.__module__ for c in (TTSPipeline, V2APipeline, ThinkPipeline)] == [
        "deepaudio.pipelines.tts", "deepaudio.pipelines.v2a", "deepaudio.pipelines.think"]
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        deepaudio.Nope  # noqa: B018


def test_from_pretrained_without_a_folder_loads_the_bundled_default():
    from deepaudio import DeepAudio, ThinkPipeline, TTSPipeline, V2APipeline, V2SPipeline
    from deepaudio.assets import bundled_dir

    v2a = V2APipeline.from_pretrained()
    assert v2a.sample_rate > 0 and v2a.window > 0
    tts = TTSPipeline.from_pretrained(vocoder=object.__new__(_NoVocoder))
    assert tts.model.config.energy_input  # the bundled TTS is the V2S model too
    pipe = DeepAudio.from_pretrained()
    assert pipe.router is not None and pipe.v2a is not None and pipe.tts is pipe.v2s is not None
    assert ThinkPipeline.from_pretrained().v2a.window == v2a.window
    assert V2SPipeline.from_pretrained().deepaudio.v2s.model.config.energy_input
    assert bundled_dir("pipeline").is_dir()


class _NoVocoder:
    def decode(self, mel):  # pragma: no cover - loading only
        raise AssertionError("not called")
