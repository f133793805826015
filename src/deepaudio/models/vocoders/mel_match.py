"""Does a vocoder read the mel a generator writes? (A TTS decoded by a vocoder of another mel sounds wrong.)

F5-TTS ships two 24 kHz vocoders, Vocos (``charactr/vocos-mel-24khz``) and BigVGAN-v2
(``nvidia/bigvgan_v2_24khz_100band_256x``), and each TTS checkpoint is trained on one of their mels
(``mel_spec_type``). Both have 100 bins, 1024/256 STFTs and a natural log, so the shapes always fit;
they differ in the filters (HTK without norm vs Slaney with norm) and the padding (centred vs 'same'),
which a shape check cannot see. Rate, hop and bin count must agree (else the output has the wrong
length or fails); other differences are reported in one line, since the audio still comes out.
"""

from __future__ import annotations

import sys

from deepaudio.dsp.mel import MelSettings
from deepaudio.errors import ConfigError

__all__ = ["vocoder_mel", "check_vocoder_mel", "mel_differences"]

# Fields that change what a log-mel frame means (the log floor only moves near-silent bins: ignored).
_COMPARED = ("n_fft", "win_length", "f_min", "fmax", "mel_scale", "norm", "padding", "log")


def mel_differences(expected: MelSettings, got: MelSettings, sizes: bool = True) -> list[str]:
    """``"field a vs b"`` for every field in which two mels differ in meaning (``sizes``: rate, hop and
    bin count too); empty when a vocoder of ``got`` reads ``expected`` exactly."""
    fields = (("sample_rate", "hop_length", "n_mels") if sizes else ()) + _COMPARED
    return [f"{f} {getattr(expected, f)} vs {getattr(got, f)}" for f in fields
            if getattr(expected, f) != getattr(got, f)]


def vocoder_mel(vocoder) -> MelSettings | None:
    """The mel a loaded vocoder expects, when it is recorded (Vocos: always; BigVGAN: v2 config.json)."""
    kind = getattr(vocoder, "kind", "")
    if kind == "vocos":
        return vocoder.feature_extractor.settings
    if kind == "bigvgan":
        return vocoder.config.mel_settings()
    return getattr(vocoder, "settings", None)  # Griffin-Lim inverts exactly the mel it is given


def check_vocoder_mel(expected: MelSettings, vocoder, name: str = "vocoder") -> list[str]:
    """Refuse a vocoder of another rate, hop or bin count; print one line naming any other mel difference.

    Returns the differences (empty when the mels match or the vocoder records none beyond its sizes).
    """
    sizes = {"sample rate": (expected.sample_rate, vocoder.sample_rate),
             "hop": (expected.hop_length, vocoder.hop_length)}
    n_mels = getattr(getattr(vocoder, "config", None), "num_mels", None) or getattr(
        getattr(vocoder, "config", None), "n_mels", None)
    if n_mels is not None:
        sizes["mel bins"] = (expected.n_mels, n_mels)
    bad = [f"{k} {a} vs {b}" for k, (a, b) in sizes.items() if a != b]
    if bad:
        raise ConfigError(f"{name} does not fit the model's mel ({', '.join(bad)}, model vs vocoder)",
                          hint="give a vocoder trained on the same sample rate, hop and mel bins")
    got = vocoder_mel(vocoder)
    if got is None:
        return []
    diffs = mel_differences(expected, got, sizes=False)
    if diffs:
        print(f"deepaudio: {name} was trained on another mel than the model ({'; '.join(diffs)}; model vs "
              "vocoder): expect degraded audio; use the vocoder the model was trained with", file=sys.stderr)
    return diffs
