"""Importing this module registers every model class with :func:`deepaudio.checkpoint.register_model`.

Each model package adds its module to ``MODEL_MODULES``; imports are lazy (only when a checkpoint is
loaded by kind).
"""

import importlib

MODEL_MODULES = (
    "deepaudio.models.tts.dit",
    "deepaudio.models.v2a.mmdit",
    "deepaudio.models.v2a.vae",
    "deepaudio.models.vocoders.vocos",
    "deepaudio.models.vocoders.bigvgan",
    "deepaudio.models.encoders.synchformer",
    "deepaudio.models.gate",
    "deepaudio.models.encoders.tiny_bundle",
)

for _name in MODEL_MODULES:
    try:
        importlib.import_module(_name)
    except ModuleNotFoundError as _exc:
        if _exc.name != _name:
            raise
