"""Behaviour of the vocoder modules (tiny configs): shapes, filters, weight norm, ISTFT, clipping, errors."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from safetensors.torch import load_file

from deepaudio.errors import CheckpointError, ConfigError
from deepaudio.models.vocoders.amp import DownSample1d, Snake, SnakeBeta, UpSample1d, kaiser_sinc_filter1d
from deepaudio.models.vocoders.bigvgan import BIGVGAN_PRESETS, BigVGAN, fold_weight_norm
from deepaudio.models.vocoders.vocos import ISTFT, VOCOS_PRESETS, Vocos


def test_kaiser_filter_is_a_symmetric_unit_gain_lowpass():
    taps = kaiser_sinc_filter1d(0.25, 0.3, 12)
    assert taps.shape == (1, 1, 12)
    torch.testing.assert_close(taps.sum(), torch.tensor(1.0))
    torch.testing.assert_close(taps.flip(-1), taps)
    response = torch.fft.rfft(taps.flatten(), n=512).abs()  # passes DC, stops Nyquist
    assert response[0] > 0.99 and response[-1] < 0.05


def test_default_buffers_equal_the_official_ones(parity_dir):
    ref = load_file(parity_dir / "mm_bigvgan16k_tiny.safetensors")
    model = BigVGAN(BIGVGAN_PRESETS.get("tiny"))
    for k, v in model.state_dict().items():
        if k.endswith("filter"):
            torch.testing.assert_close(v, ref["weights." + k], rtol=0, atol=0)
    vref = load_file(parity_dir / "vocos_tiny.safetensors")
    vocos = Vocos(VOCOS_PRESETS.get("tiny")).state_dict()
    for k in ("feature_extractor.mel_spec.spectrogram.window", "feature_extractor.mel_spec.mel_scale.fb",
              "head.istft.window"):
        torch.testing.assert_close(vocos[k], vref["weights." + k], rtol=0, atol=0)


def test_resampling_and_snake():
    x = torch.randn(2, 3, 20)
    up = UpSample1d(2)(x)
    assert up.shape == (2, 3, 40)
    assert DownSample1d(2)(up).shape == (2, 3, 20)
    const = torch.full((1, 1, 30), 0.7)  # replicate padding: a constant passes unchanged (unit DC gain)
    torch.testing.assert_close(DownSample1d(2)(UpSample1d(2)(const)), const, rtol=0, atol=1e-5)
    t = torch.linspace(-3, 3, 50).view(1, 1, -1)
    torch.testing.assert_close(Snake(1, logscale=True)(t), t + torch.sin(t) ** 2, atol=1e-6, rtol=0)
    sb = SnakeBeta(1, logscale=True)
    with torch.no_grad():
        sb.alpha.fill_(torch.log(torch.tensor(2.0)))
        sb.beta.fill_(torch.log(torch.tensor(4.0)))
    torch.testing.assert_close(sb(t), t + torch.sin(2 * t) ** 2 / 4, atol=1e-6, rtol=0)


@pytest.mark.parametrize("resblock", ["1", "2"])
def test_bigvgan_shapes_range_and_weight_norm(resblock):
    torch.manual_seed(0)
    cfg = replace(BIGVGAN_PRESETS.get("tiny"), resblock=resblock, use_tanh_at_final=resblock == "1")
    wn = BigVGAN(cfg, weight_norm=True).eval()
    with torch.no_grad():
        for p in wn.parameters():
            p.add_(0.3 * torch.randn_like(p))
    plain = BigVGAN.from_official_state(cfg, wn.state_dict())
    mel = torch.randn(2, 80, 7) * 2
    with torch.no_grad():
        out = plain(mel)
        torch.testing.assert_close(out, wn(mel), rtol=0, atol=1e-6)
    assert out.shape == (2, 1, 7 * cfg.hop_length) and cfg.hop_length == 16
    assert out.abs().max() <= 1.0
    with torch.no_grad():
        single = plain.decode(mel[0])
    assert single.shape == (7 * 16,)
    torch.testing.assert_close(single, out[0, 0])
    assert set(fold_weight_norm(wn.state_dict())) == set(plain.state_dict())


def test_bigvgan_incomplete_weight_norm_pair_is_refused():
    state = BigVGAN(BIGVGAN_PRESETS.get("tiny"), weight_norm=True).state_dict()
    del state["conv_pre.parametrizations.weight.original0"]
    with pytest.raises(CheckpointError, match="best_netG.pt.*conv_pre.*no magnitude"):
        BigVGAN.from_official_state(BIGVGAN_PRESETS.get("tiny"), state, "best_netG.pt")


def test_bigvgan_config_errors():
    with pytest.raises(ConfigError, match="resblock"):
        BigVGAN(replace(BIGVGAN_PRESETS.get("tiny"), resblock="3"))
    with pytest.raises(ConfigError, match="differ in length"):
        BigVGAN(replace(BIGVGAN_PRESETS.get("tiny"), upsample_rates=(4, 2)))


@pytest.mark.parametrize("padding", ["center", "same"])
def test_vocos_lengths_and_clip(padding):
    torch.manual_seed(0)
    cfg = replace(VOCOS_PRESETS.get("tiny"), padding=padding, head_padding=padding)
    model = Vocos(cfg).eval()
    mel = torch.randn(2, 100, 10)
    with torch.no_grad():
        wav = model.decode(mel)
        feats = model.features(torch.randn(2, 2560))
        huge = model.head(torch.full((1, 10, cfg.dim), 50.0))  # exp(log-mag) would overflow without the clip
    assert wav.shape == (2, (9 if padding == "center" else 10) * 256)
    assert feats.shape == (2, 100, 11 if padding == "center" else 10)
    assert torch.isfinite(huge).all() and model.decode(mel[0]).shape == wav.shape[1:]


def test_same_istft_inverts_a_padded_stft():
    n, hop, frames = 1024, 256, 12
    x = torch.randn(2, frames * hop)
    padded = torch.nn.functional.pad(x, ((n - hop) // 2, (n - hop) // 2), mode="reflect")
    spec = torch.stft(padded, n, hop, window=torch.hann_window(n), center=False, return_complex=True)
    assert spec.shape[-1] == frames
    torch.testing.assert_close(ISTFT(n, hop, "same")(spec), x, rtol=0, atol=1e-5)


def test_vocos_config_errors():
    with pytest.raises(ConfigError, match="padding"):
        Vocos(replace(VOCOS_PRESETS.get("tiny"), head_padding="valid"))
