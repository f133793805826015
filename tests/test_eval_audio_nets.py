"""PANNs Cnn14 / VGGish ports: front-ends against librosa, weight loading, V2A metrics through the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
import torch

from deepaudio.cli.main import main
from deepaudio.errors import CheckpointError
from deepaudio.eval import samples
from deepaudio.eval.audio_nets import Cnn14, VGGish, load_panns, load_vggish


def _tiny_panns(path):
    torch.manual_seed(0)
    net = Cnn14(widths=(4, 8), classes=10)
    torch.save({"model": net.state_dict(), "iteration": 1000}, path)
    return net


def test_cnn14_logmel_matches_librosa():
    librosa = pytest.importorskip("librosa")
    wav, sr = samples.flite("The river was quiet.", "kal16")
    y = wav[0].numpy()
    if sr != 16000:
        y = librosa.resample(y, orig_sr=sr, target_sr=16000)
    ref = librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=16000, n_fft=512, hop_length=160, n_mels=64,
                                                             fmin=50, fmax=8000, center=True, pad_mode="reflect",
                                                             power=2.0), ref=1.0, amin=1e-10, top_db=None)
    ours = Cnn14(widths=(4,), classes=3).logmel(torch.from_numpy(y)[None])[0, 0].numpy().T
    assert ours.shape == ref.shape
    # rtol: cells near -90 dB (power ~1e-9 at the top band) differ by ~6e-3 dB on an AMD EPYC (float32 FFT rounding).
    np.testing.assert_allclose(ours, ref, atol=2e-3, rtol=1e-4)


def test_load_panns_infers_sizes_and_rejects_other_files(tmp_path):
    net = _tiny_panns(tmp_path / "cnn14.pth")
    loaded = load_panns(tmp_path / "cnn14.pth")
    x = torch.randn(2, 16000)
    net.eval()
    with torch.no_grad():
        e1, l1 = net(x)
        e2, l2 = loaded(x)
    assert e2.shape == (2, 8) and l2.shape == (2, 10)
    torch.testing.assert_close(l1, l2)
    torch.save({"fc.weight": torch.zeros(2, 2)}, tmp_path / "other.pth")
    with pytest.raises(CheckpointError, match="PANNs"):
        load_panns(tmp_path / "other.pth")
    with pytest.raises(CheckpointError, match="do not match"):
        load_vggish(tmp_path / "cnn14.pth")


def test_vggish_patches_and_mel():
    mel = VGGish._mel_matrix()
    assert mel.shape == (257, 64) and float(mel[0].abs().sum()) == 0.0
    assert float(mel.max()) <= 1.0 and (mel.sum(0) > 0).all()
    net = VGGish()
    assert net.patches(torch.zeros(16000 * 8)).shape == (8, 1, 96, 64)  # 8 s -> 8 patches of 0.96 s
    assert net.patches(torch.zeros(15000)).shape[0] == 0


def test_cli_v2a_with_local_panns(tmp_path):
    _tiny_panns(tmp_path / "cnn14.pth")
    gen, ref = tmp_path / "gen", tmp_path / "ref"
    gen.mkdir()
    ref.mkdir()
    lines = ["The river was quiet.", "Rain fell on the roof.", "A dog barked twice."]
    for i, text in enumerate(lines):
        for folder, voice in ((gen, "slt"), (ref, "awb")):
            wav, sr = samples.flite(text, voice)
            sf.write(folder / f"clip{i}.wav", wav[0].numpy(), sr)
    out = tmp_path / "out"
    rc = main(["eval", "--task", "v2a", "--gen", str(gen), "--ref", str(ref), "-o", str(out), "--panns",
               str(tmp_path / "cnn14.pth"), "--metrics", "fd_panns,kl_panns,is,fd_passt,desync,silence_rate"])
    assert rc == 0
    s = json.loads((out / "summary.json").read_text())
    assert s["fd_panns"] >= 0 and s["kl_panns"] >= 0 and s["is"] >= 1.0
    assert "Cnn14" in s["fd_panns_backend"]
    assert s["fd_passt"] is None and "--gen-features" in s["fd_passt_unavailable"]
    assert s["desync"] is None and s["silence_rate"] < 0.5
