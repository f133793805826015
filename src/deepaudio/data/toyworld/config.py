"""Settings of the toy audio-visual world: one frozen dataclass, named presets.

The world exists so that small V2A / TTS / V2S / router models can be trained and *measured* on CPU:
every clip is short and small, and every sound has a known cause recorded as ground truth.
"""

from __future__ import annotations

from dataclasses import dataclass

from deepaudio.config import Registry
from deepaudio.data.toyworld.voices import SPEAKERS
from deepaudio.errors import ConfigError

TOY_SPEAKERS = {s.id: s for s in SPEAKERS}  # the toy world's own voices (not the speech corpus' extra ones)

KINDS = ("bounce", "hum", "silent", "talk", "dub", "voiceover", "dialogue")
"""Scene kinds. bounce: falling/colliding objects with impact sounds; hum: moving engine-like sources;
silent: moving objects that make no sound; talk: a cartoon face speaking; dub: a speaking face among
sounding objects; voiceover: sounding objects (or a still face) with off-screen speech; dialogue: two
faces taking turns with two voices."""

TASK_OF_KIND = {
    "bounce": "v2a",
    "hum": "v2a",
    "silent": "v2a",
    "voiceover": "v2a",
    "talk": "v2s",
    "dialogue": "v2s",
    "dub": "dub",
}
"""Which task class a clip of each kind trains: what the *wanted* sound track of the video is. A
voice-over clip wants ambience only (the speech is what DeepSound-V1 removes)."""

TASKS = ("v2a", "tts", "v2s", "dub")


@dataclass(frozen=True)
class WorldConfig:
    """Sizes, rates and physics constants of the toy world (units: pixels, seconds)."""

    fps: int = 25
    size: int = 112  # square frames, 96-128 px
    min_duration: float = 4.0
    max_duration: float = 8.0
    sr_ambience: int = 16_000  # V2A audio rate (MMAudio small_16k)
    sr_speech: int = 24_000  # TTS / V2S audio rate (F5-TTS)
    gravity: float = 600.0  # px / s^2, downwards on screen
    floor_margin: int = 8  # the floor line sits this many pixels above the bottom edge
    max_objects: int = 4
    rest_speed: float = 25.0  # a floor bounce slower than this leaves the object resting
    audible_speed: float = 12.0  # contacts slower than this make no sound
    friction: float = 60.0  # px / s^2 sliding deceleration of resting objects
    max_events: int = 400  # physics safety cap per clip
    speech_rms: float = 0.08
    split_fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)
    sentence_fractions: tuple[float, float, float] = (0.7, 0.15, 0.15)
    kinds: tuple[str, ...] = KINDS
    speakers: tuple[str, ...] = ()  # speaker ids to use (see voices.SPEAKERS); empty = all
    # True: the speakers marked test_only speak only in the test split (the paper's unseen-speaker setting).
    # False (since 2026-12-03): every speaker speaks in every split; splits still share no sentence or
    # speaker-prompt pairing. Test clips are the same either way (the test split always draws from all).
    unseen_speakers: bool = False

    def __post_init__(self) -> None:
        if not 32 <= self.size <= 512:
            raise ConfigError(f"toy world frame size {self.size} is out of range", hint="use 96-128 px")
        if not 0 < self.min_duration <= self.max_duration:
            raise ConfigError("toy world durations must satisfy 0 < min_duration <= max_duration")
        for name in ("split_fractions", "sentence_fractions"):
            fr = getattr(self, name)
            if len(fr) != 3 or any(f < 0 for f in fr) or abs(sum(fr) - 1.0) > 1e-6:
                raise ConfigError(f"{name} must be three non-negative numbers summing to 1, got {fr}")
        unknown = [s for s in self.speakers if s not in TOY_SPEAKERS]
        if unknown:
            raise ConfigError(f"unknown toy world speaker(s) {', '.join(unknown)}",
                              hint=f"choose from {', '.join(TOY_SPEAKERS)}")
        if self.unseen_speakers and self.speakers and all(TOY_SPEAKERS[s].test_only for s in self.speakers):
            raise ConfigError("toy world speakers are all test-only", hint="add at least one training speaker")
        bad = [k for k in self.kinds if k not in KINDS]
        if bad or not self.kinds:
            raise ConfigError(f"unknown toy world kind(s) {bad or '(none)'}", hint=f"choose from {', '.join(KINDS)}")


WORLD_PRESETS: Registry[WorldConfig] = Registry("toy world preset")
WORLD_PRESETS.add("default", WorldConfig())
# tiny: for tests and smoke runs only (2-6 s clips, 96 px); real data uses the 4-8 s default.
WORLD_PRESETS.add("tiny", WorldConfig(size=96, min_duration=2.0, max_duration=6.0, max_objects=3))
