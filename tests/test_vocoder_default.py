"""The bundled small vocoder: trained by `deepaudio train vocoder`, used by default, Griffin-Lim on request."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import soundfile as sf
import torch

from deepaudio.cli.main import main
from deepaudio.dsp.mel import BIGVGAN_24K, F5_24K, mel_spectrogram
from deepaudio.errors import CheckpointError
from deepaudio.models.vocoders.griffinlim import GriffinLimVocoder
from deepaudio.models.vocoders.vocos import VOCOS_PRESETS, Vocos
from deepaudio.pipelines.tts import bundled_vocoder, load_vocoder
from deepaudio.train.vocoder import CUTOFF_RANGE, SegmentBatches, low_pass
from deepaudio.train.vocoder_objective import VocoderObjective, anti_wrap, phase_losses


def test_anti_wrapping_distance():
    d = torch.tensor([0.0, 2 * math.pi, -2 * math.pi + 0.1, math.pi - 0.01, 3 * math.pi / 2])
    torch.testing.assert_close(anti_wrap(d), torch.tensor([0.0, 0.0, 0.1, math.pi - 0.01, math.pi / 2]))
    phase = torch.rand(2, 5, 7) * 6 - 3
    w = torch.ones_like(phase)
    assert phase_losses(phase, phase + 2 * math.pi, w) < 1e-5  # a phase and its 2 pi shift are the same
    assert phase_losses(phase, phase + 1.0, w) > 0.9  # instantaneous phase off by 1 rad (differences agree)


def test_segment_batches_are_a_function_of_seed_and_epoch():
    clips = [np.arange(n, dtype=np.int16) for n in (100, 3000, 5000, 700)]
    data = SegmentBatches(clips, 1024, 2, seed=3)
    assert data.epoch_batches(1) == data.epoch_batches(1) and data.epoch_batches(1) != data.epoch_batches(2)
    batch = data.load(data.epoch_batches(0)[0])["wav"]
    assert batch.shape == (2, 1024) and batch.dtype == torch.float32
    short = data.load(((0, 0, 1.0),))["wav"][0]  # a clip shorter than the segment is zero-padded
    assert short[100:].abs().max() == 0 and short[:100].abs().max() > 0


def test_band_limit_low_passes_a_drawn_fraction_and_changes_nothing_when_off():
    t = np.arange(4800) / 24000
    wav = (np.sin(2 * np.pi * 1000 * t) + np.sin(2 * np.pi * 8000 * t)).astype(np.float32)
    spec = np.abs(np.fft.rfft(low_pass(wav, 5000.0, 24000)))
    assert spec[800] < 1e-3 * spec[200]  # 8 kHz gone, 1 kHz kept (bins of 5 Hz)
    np.testing.assert_allclose(spec[200], np.abs(np.fft.rfft(wav))[200], rtol=1e-3)
    clips = [np.arange(n, dtype=np.int16) for n in (3000, 5000, 700, 4000)] * 8
    plain = SegmentBatches(clips, 1024, 2, seed=3).epoch_batches(0)
    assert plain == SegmentBatches(clips, 1024, 2, seed=3, band_limit=0.0).epoch_batches(0)  # old runs resume
    keys = [k for b in SegmentBatches(clips, 1024, 2, seed=3, band_limit=0.5).epoch_batches(0) for k in b]
    cuts = [k[3] for k in keys]
    assert 0 < sum(c > 0 for c in cuts) < len(cuts)
    assert all(CUTOFF_RANGE[0] <= c <= CUTOFF_RANGE[1] for c in cuts if c > 0)
    assert SegmentBatches(clips, 1024, 2, 3, band_limit=0.5).load(tuple(keys[:2]))["wav"].shape == (2, 1024)


def test_objective_needs_the_mel_stft_in_the_head():
    voc = Vocos(VOCOS_PRESETS.get("tiny"))
    VocoderObjective(voc, F5_24K)
    with pytest.raises(ValueError, match="head STFT"):
        VocoderObjective(voc, BIGVGAN_24K)


def _speech_like(seconds: float, f0: float, sr: int = 24000) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    wav = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 12))
    return (0.1 * wav * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))).astype(np.float32)


def test_train_vocoder_learns_and_exports_a_vocoder_for_the_tts_mel(tmp_path, capsys):
    rows = ["audio_path"]
    for k, f0 in enumerate((110, 150, 190, 230, 130, 170)):
        sf.write(tmp_path / f"c{k}.wav", _speech_like(1.0, f0), 24000)
        rows.append(f"c{k}.wav")
    (tmp_path / "m.csv").write_text("\n".join(rows) + "\n")
    out = tmp_path / "run"
    rc = main(["train", "vocoder", "--data", str(tmp_path / "m.csv"), "--out", str(out), "--config", "tiny",
               "--steps", "40", "--batch", "4", "--segment-frames", "16", "--lr", "3e-3", "--warmup", "2",
               "--save-every", "40", "--val-every", "40", "--val-fraction", "0.2"])
    assert rc == 0
    losses = [json.loads(line)["loss"] for line in (out / "train_log.jsonl").read_text().splitlines()
              if '"loss"' in line]
    assert np.mean(losses[-5:]) < 0.8 * np.mean(losses[:5])
    voc = load_vocoder(out / "model", "cpu", F5_24K)  # passes the mel check of a TTS with F5's mel
    assert voc.feature_extractor.settings.log_floor == F5_24K.log_floor and voc.label == str(out / "model")
    mel = mel_spectrogram(torch.from_numpy(_speech_like(0.5, 150))[None], F5_24K)  # (1, 100, T)
    wav = voc.decode(mel)
    assert wav.shape == (1, (mel.shape[-1] - 1) * 256) and torch.isfinite(wav).all()
    # continue it with band-limited segments (how a vocoder is fitted to band-limited recordings)
    more = ["train", "vocoder", "--data", str(tmp_path / "m.csv"), "--out", str(tmp_path / "ft"), "--steps", "3",
            "--batch", "4", "--segment-frames", "16", "--band-limit", "0.5", "--init", str(out / "model")]
    assert main(more) == 0 and (tmp_path / "ft" / "model" / "model.safetensors").is_file()
    assert main(more[:5] + [str(tmp_path / "ft2")] + more[6:] + ["--mel", "vocos_24k"]) == 2  # another log floor
    assert "another mel" in capsys.readouterr().err
    assert main(more[:-4] + ["--band-limit", "1.5"]) == 2


def test_train_vocoder_bad_input_is_one_line(tmp_path, capsys):
    (tmp_path / "m.csv").write_text("audio_path\nmissing.wav\n")
    rc = main(["train", "vocoder", "--data", str(tmp_path / "m.csv"), "--out", str(tmp_path / "r"), "--steps", "2"])
    assert rc == 2 and "missing.wav" in capsys.readouterr().err
    assert main(["train", "vocoder", "--data", str(tmp_path / "m.csv"), "--out", str(tmp_path / "r"),
                 "--steps", "0"]) == 2


def test_default_is_the_bundled_vocoder_and_griffin_lim_is_an_option(tmp_path):
    folder = bundled_vocoder(F5_24K)
    assert folder is not None and bundled_vocoder(BIGVGAN_24K) is None  # another mel: not this vocoder
    voc = load_vocoder(None, "cpu", F5_24K)
    assert isinstance(voc, Vocos) and voc.label == "bundled-default"
    from deepaudio.models.vocoders.mel_match import check_vocoder_mel
    from deepaudio.pipelines.tts import TTSPipeline

    tts = TTSPipeline.from_pretrained(None)  # the bundled TTS brings the bundled vocoder, whose mel is its own
    assert tts.vocoder.label == "bundled-default" and check_vocoder_mel(tts.mel, tts.vocoder) == []
    assert sum(p.stat().st_size for p in folder.iterdir()) < 10e6
    gl = load_vocoder("griffin-lim", "cpu", F5_24K)
    assert isinstance(gl, GriffinLimVocoder) and gl.label == "griffin-lim"
    assert isinstance(load_vocoder(None, "cpu", BIGVGAN_24K), GriffinLimVocoder)
    (tmp_path / "bad").mkdir()
    with pytest.raises(CheckpointError, match="bad"):
        load_vocoder(tmp_path / "bad", "cpu", F5_24K)


@pytest.mark.parametrize("vocoder", [None, "griffin-lim"])
def test_tts_sidecar_names_the_vocoder(tmp_path, vocoder):
    out = tmp_path / "hello.wav"
    args = ["tts", "--text", "Good morning.", "-o", str(out), "--nfe", "4", "--device", "cpu"]
    assert main(args + (["--vocoder", vocoder] if vocoder else [])) == 0
    side = json.loads(out.with_suffix(".json").read_text())
    assert side["vocoder"] == (vocoder or "bundled-default")


@pytest.mark.parametrize("vocoder", [None, "griffin-lim"])
def test_run_sidecar_names_the_vocoder(tmp_path, vocoder):
    out = tmp_path / "gm.wav"  # `run` loads the bundle (DeepAudio.from_pretrained), as dub, demo and serve do
    args = ["run", "--instruction", 'Read this aloud: "good morning"', "-o", str(out), "--nfe", "4", "--device", "cpu"]
    assert main(args + (["--vocoder", vocoder] if vocoder else [])) == 0
    side = json.loads(out.with_suffix(".json").read_text())
    assert side["task"] == "tts" and side["vocoder"] == (vocoder or "bundled-default")
