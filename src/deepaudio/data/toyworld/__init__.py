"""The toy audio-visual world: procedural clips with exactly known sound causes.

Bouncing and colliding objects with impact sounds on the contact sample, engine hums whose pitch
follows speed, silent scenes, cartoon faces whose mouths follow real synthesised speech, voice-over
scenes and two-voice dialogues, each with instructions for the router and disjoint splits. Entry
points: :class:`ToyWorld` (one clip in memory) and :func:`write_dataset` (``deepaudio toyworld``).
"""

from deepaudio.data.toyworld.config import KINDS, TASK_OF_KIND, WORLD_PRESETS, WorldConfig
from deepaudio.data.toyworld.scenes import Clip, ToyWorld
from deepaudio.data.toyworld.writer import MANIFEST_COLUMNS, load_meta, write_dataset, write_toy_video

__all__ = ["KINDS", "TASK_OF_KIND", "WORLD_PRESETS", "WorldConfig", "Clip", "ToyWorld", "MANIFEST_COLUMNS",
           "load_meta", "write_dataset", "write_toy_video"]
