"""deepaudio: sound tracks for silent video (DeepAudio-V1 / DeepSound-V1) in PyTorch.

Nothing is imported eagerly here (no import-time side effects); use the subpackages.
"""

__version__ = "0.1.0"
