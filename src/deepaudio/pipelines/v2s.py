"""Video-to-speech (DeepAudio V2S): a transcript spoken in a reference voice, timed by the picture.

    pipe = V2SPipeline.from_pretrained()  # the bundled default; or a DeepAudio folder with v2a/tts parts
    speech = pipe("clip.mp4", "We are late.", "voice.wav", reference_text="What the voice says.")
    speech.audio, speech.sample_rate, speech.metadata["contour"]

The timing contour comes from the V2A output's energy (``timing='v2a'``, the paper), the mouth opening
(``'lips'``) or both (``'mix'``), see ``deepaudio.v2s.contour``; the energy-conditioned TTS speaks along it
for exactly the video's length. This is DeepAudio's ``v2s`` task with the speech as the result.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from deepaudio.pipelines.result import GenerationResult, resolve_settings
from deepaudio.v2s.contour import TIMINGS, check_timing


@dataclass(frozen=True)
class V2SSettings:
    timing: str = "v2a"  # one of TIMINGS: what the contour is read from
    seed: int | None = 0
    fit: str = "error"  # a transcript too long for the video: "error", or "speed" to speak faster

    def __post_init__(self) -> None:
        check_timing(self.timing)


class V2SPipeline:
    def __init__(self, deepaudio):
        self.deepaudio = deepaudio  # a DeepAudio with a TTS/V2S part (and a V2A part for timing 'v2a'/'mix')

    @classmethod
    def from_pretrained(cls, directory: str | Path | None = None, device: str | torch.device = "cpu",
                        dtype: torch.dtype = torch.float32) -> V2SPipeline:
        """A DeepAudio folder (``None``: the bundled default); its gate is not needed here."""
        from deepaudio.pipelines.deepaudio import DeepAudio

        return cls(DeepAudio.from_pretrained(directory, device=device, dtype=dtype))

    @property
    def sample_rate(self) -> int:
        from deepaudio.v2s.contour import SPEECH_RATE

        return SPEECH_RATE

    def __call__(self, video, transcript: str, reference_audio, reference_text: str | None = None,
                 timing: str = "v2a", seed: int | None = 0, fit: str = "error",
                 timing_contour: torch.Tensor | None = None, v2a_kwargs: dict | None = None,
                 tts_kwargs: dict | None = None, settings: V2SSettings | None = None) -> GenerationResult:
        """Speech as long as ``video``, timed by its contour (``timing_contour`` given: that one)."""
        s = resolve_settings(V2SSettings, settings, timing=timing, seed=seed, fit=fit)
        r = self.deepaudio(video=video, transcript=transcript, reference_audio=reference_audio,
                           reference_text=reference_text, task="v2s", seed=s.seed, timing_contour=timing_contour,
                           fit=s.fit, v2a_kwargs=v2a_kwargs, tts_kwargs=tts_kwargs, timing=s.timing)
        meta = {**r.metadata, "task": "v2s", "timing": "given" if timing_contour is not None else s.timing,
                "contour": r.contour}
        return GenerationResult(r.speech, r.sample_rate, meta)


__all__ = ["TIMINGS", "V2SPipeline", "V2SSettings"]
