"""Parity handlers for signal-processing reference cases (the ``mm_mel*`` cases).

MMAudio's ``MelConverter`` turns waveforms into the log-mels its VAE encodes. The handler rebuilds the
converter from the sidecar's ``constructor_kwargs`` (so hidden cases with other sizes work), checks that our
own filterbank and window equal the stored buffers, then runs our mel on the stored buffers.
"""

from __future__ import annotations

import torch

from deepaudio.convert.parity import register_handler
from deepaudio.dsp.mel import MelSettings, MelSpectrogram
from deepaudio.errors import ParityError

# Our filterbank is computed with librosa's rounding, so it should equal the stored float32 buffer; allow a
# few float32 ulps in case a different librosa/numpy version produced the file.
_FILTERBANK_TOL = 1e-6


@register_handler("mmaudio.ext.mel_converter.MelConverter")
def mel_converter(sidecar: dict, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``out.mel = MelConverter(**constructor_kwargs)(in.wav)`` with our implementation."""
    case = sidecar.get("case", "mel converter case")
    settings = MelSettings.from_mmaudio_kwargs(sidecar["constructor_kwargs"])
    ours = MelSpectrogram(settings)
    state = {k[len("weights."):]: v for k, v in tensors.items() if k.startswith("weights.")}
    for name, own in ours.state_dict().items():
        stored = state.get(name)
        if stored is None:
            raise ParityError(f"reference has no weights.{name}", case)
        if stored.shape != own.shape:
            raise ParityError(f"weights.{name} has shape {tuple(stored.shape)}, our settings give {tuple(own.shape)}",
                              case)
        err = (stored.double() - own.double()).abs().max().item()
        if err > _FILTERBANK_TOL:
            raise ParityError(f"our {name} differs from the stored buffer by {err:.3e}", case)
    ours.load_state_dict(state, strict=True)
    return {"out.mel": ours(tensors["in.wav"])}
