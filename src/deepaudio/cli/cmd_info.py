"""``deepaudio info``: versions, devices, optional backends and the bundled default models."""

from __future__ import annotations

import argparse
import importlib.util
import platform

NAME = "info"
HELP = "show versions, devices, optional backends and bundled models"

_OPTIONAL = {
    "accelerate": "training on many devices (extra: train)",
    "faster_whisper": "WER (extra: eval)",
    "resemblyzer": "speaker similarity fallback (extra: eval)",
    "silero_vad": "speech presence / voice-over detection (extra: eval)",
    "speechmos": "DNSMOS (extra: eval)",
    "dlib": "face detector + 68 landmarks: visible talking, lip contour (extra: vision)",
    "face_recognition_models": "dlib's landmark model file (extra: vision)",
    "mediapipe": "face mesh, only releases that bundle its model (<= 0.10.21, numpy<2; no extra)",
    "transformers": "FLAN-T5 / MiniLM text encoders (extra: text)",
}
# Networks implemented in deepaudio itself: no package needed, only the weights (files you give).
_BUILT_IN = ("CLIP (open_clip / DFN5B layout, for official MMAudio weights)", "Synchformer", "MMAudio VAE",
             "BigVGAN (16 kHz, v2 24/44 kHz)", "Vocos", "BS-RoFormer separator", "toon mouth tracker")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    del parser


def run(args: argparse.Namespace) -> int:
    import av
    import numpy as np
    import torch

    from deepaudio import __version__

    print(f"deepaudio {__version__}")
    print(f"python {platform.python_version()} on {platform.machine()}")
    print(f"torch {torch.__version__}  numpy {np.__version__}  av {av.__version__}")
    cuda = torch.cuda.is_available()
    print(f"devices: cpu ({torch.get_num_threads()} threads)"
          + (f", cuda x{torch.cuda.device_count()} ({torch.cuda.get_device_name(0)})" if cuda else ""))
    print("built in: " + ", ".join(_BUILT_IN))
    print("optional backends:")
    for mod, what in _OPTIONAL.items():
        ok = importlib.util.find_spec(mod) is not None
        print(f"  {'yes' if ok else 'no ':3}  {mod:23} {what}")
    from deepaudio.perception.faces import describe_backends

    print(describe_backends())
    try:
        from deepaudio.assets import describe_bundled
    except ImportError:
        print("bundled default models: none yet")
    else:
        print(describe_bundled())
    return 0
