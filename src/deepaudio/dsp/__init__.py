"""Signal processing as pure torch functions: STFT/ISTFT (:mod:`.stft`), mel settings and log-mels
(:mod:`.mel`), the V2S energy contour and the silence check (:mod:`.energy`), RMS and BS.1770 loudness
(:mod:`.loudness`) and Griffin-Lim mel inversion (:mod:`.griffinlim`).

Audio in memory is ``(waveform float32 [channels, samples], sample_rate)``; every function here also
accepts extra leading dims where that makes sense and runs on the tensor's own device.
"""

from deepaudio.dsp.energy import energy_contour, fit_contour, frame_rms, frame_rms_db, is_silent, silent_fraction
from deepaudio.dsp.griffinlim import griffin_lim, griffin_lim_from_mel, mel_to_linear
from deepaudio.dsp.loudness import integrated_loudness, normalize_loudness, normalize_rms, rms
from deepaudio.dsp.mel import (
    F5_24K,
    MEL_PRESETS,
    MMAUDIO_16K,
    MMAUDIO_44K,
    VOCOS_24K,
    MelSettings,
    MelSpectrogram,
    mel_filterbank,
    mel_spectrogram,
)
from deepaudio.dsp.stft import hann_window, istft, magnitude, stft

__all__ = [
    "F5_24K", "MEL_PRESETS", "MMAUDIO_16K", "MMAUDIO_44K", "VOCOS_24K", "MelSettings", "MelSpectrogram",
    "energy_contour", "fit_contour", "frame_rms", "frame_rms_db", "griffin_lim", "griffin_lim_from_mel",
    "hann_window", "integrated_loudness", "is_silent", "istft", "magnitude", "mel_filterbank", "mel_spectrogram",
    "mel_to_linear", "normalize_loudness", "normalize_rms", "rms", "silent_fraction", "stft",
]
