"""The TTS stage: the F5-TTS DiT (``dit``), its presets (``config``) and the flow sampler (``cfm``)."""

from deepaudio.models.tts.cfm import SampleResult, sample
from deepaudio.models.tts.config import TTS_PRESETS, DiTConfig
from deepaudio.models.tts.dit import DiT

__all__ = ["DiT", "DiTConfig", "SampleResult", "TTS_PRESETS", "sample"]
