"""BigVGAN-v2 24 kHz as the TTS vocoder (released folder layout, random weights), with the mel check."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
import torch

from deepaudio.errors import ConfigError
from deepaudio.models.tts.config import TTS_PRESETS
from deepaudio.models.tts.dit import DiT
from deepaudio.models.vocoders.bigvgan import BIGVGAN_PRESETS, BigVGAN
from deepaudio.pipelines.tts import TTSPipeline
from deepaudio.text import Tokenizer, Vocab

SR = 24000
VOCAB = Vocab([" ", "a", "b", "c", "."])


def _released_bigvgan(folder, num_mels=100):
    """A folder as nvidia/bigvgan_v2_24khz_100band_256x publishes it (config.json + bigvgan_generator.pt),
    with the release's sizes but tiny widths, random weights in the weight-norm (training) layout."""
    cfg = dataclasses.replace(BIGVGAN_PRESETS.get("bigvgan_v2_24khz_100band_256x"), num_mels=num_mels,
                              upsample_initial_channel=64, resblock_kernel_sizes=(3,),
                              resblock_dilation_sizes=((1, 3, 5),))
    torch.manual_seed(0)
    model = BigVGAN(cfg, weight_norm=True)
    folder.mkdir()
    doc = {k: list(v) if isinstance(v, tuple) else v for k, v in vars(cfg).items() if k != "sample_rate"}
    doc.update(sampling_rate=SR, hop_size=256, num_freq=1025, fmax_for_loss=None, segment_size=65536)
    (folder / "config.json").write_text(json.dumps(doc))
    torch.save({"generator": model.state_dict()}, folder / "bigvgan_generator.pt")
    return folder


def _pipe(vocoder, mel_spec_type="vocos"):
    torch.manual_seed(0)
    cfg = dataclasses.replace(TTS_PRESETS.get("tiny"), text_num_embeds=len(VOCAB), mel_spec_type=mel_spec_type)
    return TTSPipeline(DiT(cfg), Tokenizer(VOCAB), vocoder=vocoder)


def test_bigvgan_folder_is_a_tts_vocoder_and_its_mel_is_checked(tmp_path, capsys):
    folder = _released_bigvgan(tmp_path / "bigvgan_v2_24khz_100band_256x")
    pipe = _pipe(folder, "bigvgan")
    assert pipe.vocoder.kind == "bigvgan" and "another mel" not in capsys.readouterr().err
    voice = 0.3 * torch.sin(2 * math.pi * 220 * torch.arange(SR) / SR)
    wav, sr = pipe("abc.", (voice[None], SR), ref_text="ab", nfe=2, seed=0, duration=0.5)
    assert sr == SR and torch.isfinite(wav).all() and wav.shape[-1] == round(0.5 * SR / 256) * 256
    # A TTS trained on the Vocos mel (HTK filters, centred frames) decoded by BigVGAN: said in one line.
    _pipe(folder, "vocos")
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "another mel" in err[0] and "mel_scale htk vs slaney" in err[0]


def test_vocoder_of_other_bins_is_refused(tmp_path):
    folder = _released_bigvgan(tmp_path / "bigvgan_80", num_mels=80)
    with pytest.raises(ConfigError, match="mel bins 100 vs 80"):
        _pipe(folder)


def test_converted_bigvgan_folder_loads_too(tmp_path):
    from deepaudio.convert.registry import get_converter

    src = _released_bigvgan(tmp_path / "release")
    ours = get_converter("bigvgan-v2").fn([src], tmp_path / "ours", {})
    pipe = _pipe(ours, "bigvgan")
    assert pipe.vocoder.config.mel_settings().mel_scale == "slaney" and pipe.mel.padding == "same"
