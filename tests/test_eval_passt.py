"""PaSST for FD_PaSST / KL_PaSST: Kaldi mel front end, network on tiny random-init weights, loader refusals,
av-benchmark clip preparation and the eval wiring."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from deepaudio.errors import CheckpointError
from deepaudio.eval.items import Item
from deepaudio.eval.passt import PASST_SAMPLES, Block, PaSST, kaldi_mel_banks, load_passt, passt_clip, passt_logmel


def _tiny(tmp_path, name="passt.pt", prefix=""):
    torch.manual_seed(0)
    net = PaSST(dim=48, depth=1, hidden=96)
    for p in net.parameters():
        torch.nn.init.normal_(p, std=0.2)
    path = tmp_path / name
    torch.save({prefix + k: v for k, v in net.state_dict().items()}, path)
    return path, net.eval()


def test_kaldi_mel_banks_follow_the_definition():
    fb = kaldi_mel_banks()
    assert fb.shape == (128, 513) and torch.all(fb[:, -1] == 0)

    def mel(f):
        return 1127.0 * math.log(1.0 + f / 700.0)

    delta = (mel(15000.0) - mel(0.0)) / 129
    for m in (0, 40, 127):
        left, centre, right = m * delta, (m + 1) * delta, (m + 2) * delta
        for k in range(0, 512, 7):
            x = mel(k * 32000 / 1024)
            want = max(0.0, min((x - left) / (centre - left), (right - x) / (right - centre)))
            assert fb[m, k].item() == pytest.approx(want, abs=1e-4)


def test_logmel_frames_and_tone():
    sr = 32000
    t = torch.arange(PASST_SAMPLES) / sr
    x = passt_logmel(torch.sin(2 * math.pi * 2000 * t)[None])
    assert x.shape == (1, 128, 1000)
    centres = [700 * (math.exp((m + 1) * (1127 * math.log1p(15000 / 700) / 129) / 1127) - 1) for m in range(128)]
    want = int(np.argmin([abs(c - 2000) for c in centres]))
    assert abs(int(x[0, :, 500].argmax()) - want) <= 1


def test_block_matches_explicit_attention():
    torch.manual_seed(0)
    blk = Block(48, 96).eval()
    x = torch.randn(2, 7, 48)
    h = blk.norm1(x)
    q, k, v = blk.attn.qkv(h).reshape(2, 7, 3, 12, 4).permute(2, 0, 3, 1, 4)
    att = ((q @ k.transpose(-2, -1)) * 4 ** -0.5).softmax(-1)
    y = x + blk.attn.proj((att @ v).transpose(1, 2).reshape(2, 7, 48))
    y = y + blk.mlp.fc2(torch.nn.functional.gelu(blk.mlp.fc1(blk.norm2(y))))
    torch.testing.assert_close(blk(x), y, atol=1e-5, rtol=1e-5)


def test_official_layout():
    with torch.device("meta"):
        sd = PaSST().state_dict()
    assert sd["time_new_pos_embed"].shape == (1, 768, 1, 99) and sd["freq_new_pos_embed"].shape == (1, 768, 12, 1)
    for key in ("cls_token", "dist_token", "new_pos_embed", "blocks.11.attn.qkv.weight", "head.0.weight",
                "head.1.bias", "head_dist.weight", "norm.weight", "patch_embed.proj.weight"):
        assert key in sd, key


def test_loader_and_forward(tmp_path):
    path, net = _tiny(tmp_path)
    wrapped, _ = _tiny(tmp_path, "wrapped.pt", prefix="net.")  # hear21passt wrapper names
    wav = torch.randn(2, PASST_SAMPLES) * 0.1
    emb, logits = load_passt(path)(wav)
    assert emb.shape == (2, 48) and logits.shape == (2, 527)
    torch.testing.assert_close(load_passt(wrapped)(wav)[1], net(wav)[1])
    with pytest.raises(ValueError, match="at most 99"):
        net(torch.randn(1, PASST_SAMPLES + 32000))


def test_wrong_checkpoints_refused(tmp_path):
    path, net = _tiny(tmp_path)
    bad = tmp_path / "cnn14.pth"
    torch.save({"conv_block1.conv1.weight": torch.zeros(4, 1, 3, 3)}, bad)
    with pytest.raises(CheckpointError, match="not a PaSST checkpoint"):
        load_passt(bad)
    partial = tmp_path / "partial.pt"
    torch.save({k: v for k, v in net.state_dict().items() if k != "norm.bias"}, partial)
    with pytest.raises(CheckpointError, match="norm.bias"):
        load_passt(partial)


def test_clip_is_first_8s_padded_to_10s():
    wav = torch.ones(1, 44100 * 12) + torch.randn(1, 44100 * 12) * 0.1
    x = passt_clip(wav, 44100)
    assert x.shape == (PASST_SAMPLES,)
    assert torch.all(x[256000:] == 0) and x[1000:255000].abs().mean() > 0.05
    assert abs(float(x[:256000].mean())) < 0.01  # mean removed before resampling


def test_eval_with_passt(tmp_path):
    from deepaudio.eval.runner import EvalOptions, run_eval
    from deepaudio.io.audio import save_audio

    path, _ = _tiny(tmp_path)
    items, same = [], []
    for i in range(3):
        g, r = tmp_path / f"g{i}.wav", tmp_path / f"r{i}.wav"
        save_audio(g, torch.randn(1, 16000 * 2) * 0.1, 16000)
        save_audio(r, torch.sin(torch.arange(16000 * 3) * 0.05 * (i + 1))[None] * 0.3, 16000)
        items.append(Item(name=f"c{i}", gen=g, ref=r))
        same.append(Item(name=f"c{i}", gen=r, ref=r))
    opts = EvalOptions(task="v2a", metrics=("fd_passt", "kl_passt"), passt=str(path))
    res = run_eval(items, opts)
    assert res.summary["fd_passt"] > 1e-3 and res.summary["kl_passt"] > 1e-5
    assert "PaSST" in res.backends["fd_passt"]
    res = run_eval(same, opts)
    assert res.summary["fd_passt"] == pytest.approx(0, abs=1e-4)
    assert res.summary["kl_passt"] == pytest.approx(0, abs=1e-9)


def test_cli_passt_and_wrong_file(tmp_path, capsys):
    import json

    from deepaudio.cli.main import main
    from deepaudio.io.audio import save_audio

    path, _ = _tiny(tmp_path)
    for side in ("gen", "ref"):
        (tmp_path / side).mkdir()
        for i in range(2):
            save_audio(tmp_path / side / f"c{i}.wav", torch.randn(1, 16000 * 2) * 0.1, 16000)
    args = ["eval", "--task", "v2a", "--gen", str(tmp_path / "gen"), "--ref", str(tmp_path / "ref"),
            "--metrics", "fd_passt,kl_passt"]
    assert main([*args, "-o", str(tmp_path / "out"), "--passt", str(path)]) == 0
    s = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert s["fd_passt"] > 0 and s["kl_passt"] > 0 and "PaSST" in s["kl_passt_backend"]
    bad = tmp_path / "bad.pt"
    torch.save({"x": torch.zeros(1)}, bad)
    assert main([*args, "-o", str(tmp_path / "out2"), "--passt", str(bad)]) != 0
    assert "not a PaSST checkpoint" in capsys.readouterr().err
