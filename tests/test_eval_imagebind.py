"""ImageBind IB-score: Kaldi fbank front end, audio windows, video crops and frame pairs, encoders on tiny
random-init weights with the released names, loader refusals and the eval wiring."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from deepaudio.errors import CheckpointError
from deepaudio.eval import imagebind as ib

PREFIX = {"pre": "modality_preprocessors", "trunk": "modality_trunks", "head": "modality_heads"}


def _official(enc: ib.IBEncoder) -> dict:
    return {f"{PREFIX[k.split('.')[0]]}.{enc.modality}.{k.split('.', 1)[1]}": v for k, v in enc.state_dict().items()}


def _tiny_file(tmp_path, drop: str | None = None):
    torch.manual_seed(0)
    encs = [ib.IBEncoder("audio", 24, 1, 16, 229), ib.IBEncoder("vision", 32, 1, 16, 257)]
    state = {"modality_trunks.text.blocks.0.norm_1.weight": torch.ones(8)}  # other modalities are ignored
    for enc in encs:
        for p in enc.parameters():
            torch.nn.init.normal_(p, std=0.2)
        state.update(_official(enc))
    if drop:
        state = {k: v for k, v in state.items() if not k.startswith(drop)}
    path = tmp_path / "imagebind_huge.pth"
    torch.save(state, path)
    return path, {e.modality: e.eval() for e in encs}


def test_official_layout():
    with torch.device("meta"):
        audio, vision = ib.IBEncoder("audio", 768, 12, 1024, 229), ib.IBEncoder("vision", 1280, 32, 1024, 257)
    a, v = _official(audio), _official(vision)
    for key in ("preprocessors.audio.rgbt_stem.proj.weight", "preprocessors.audio.rgbt_stem.norm_layer.bias",
                "preprocessors.audio.cls_token", "trunks.audio.blocks.11.attn.bias_k",
                "trunks.audio.blocks.0.attn.in_proj_weight", "trunks.audio.blocks.0.mlp.fc2.weight",
                "heads.audio.0.weight", "heads.audio.2.weight"):
        assert "modality_" + key in a, key
    for key in ("preprocessors.vision.rgbt_stem.proj.1.weight", "trunks.vision.pre_transformer_layer.0.weight",
                "trunks.vision.blocks.31.norm_2.weight", "preprocessors.vision.pos_embedding_helper.pos_embed"):
        assert "modality_" + key in v, key
    assert "modality_trunks.vision.blocks.0.attn.bias_k" not in v
    assert a["modality_heads.audio.2.weight"].shape == (1024, 768)


def test_kaldi_fbank_against_a_frame_loop():
    rng = np.random.default_rng(0)
    wav = rng.normal(size=32000).astype(np.float32) * 0.1
    fb = ib.kaldi_fbank(torch.from_numpy(wav))
    assert fb.shape == (198, 128)
    from deepaudio.eval.passt import kaldi_mel_banks

    banks = kaldi_mel_banks(128, 512, 16000, 20.0, 8000.0).numpy().astype(np.float64)
    n = np.arange(400)
    win = 0.5 - 0.5 * np.cos(2 * np.pi * n / 399)
    for i in (0, 97, 197):
        f = wav[i * 160:i * 160 + 400].astype(np.float64)
        f = f - f.mean()
        f = np.concatenate([[f[0] - 0.97 * f[0]], f[1:] - 0.97 * f[:-1]]) * win
        p = np.abs(np.fft.rfft(f, 512)) ** 2
        np.testing.assert_allclose(fb[i].numpy(), np.log(np.maximum(banks @ p, 1.1920929e-07)), atol=1e-3)


def test_audio_windows():
    wav = torch.randn(16000 * 8) * 0.1
    x = ib.audio_input(wav)
    assert x.shape == (3, 1, 128, 204)
    want = ib.kaldi_fbank(wav[48000:80000] - wav[48000:80000].mean()).T  # second window starts at (8 - 2) / 2 s
    torch.testing.assert_close(x[1, 0, :, :198], (want - ib.IB_MEAN) / ib.IB_STD)
    assert torch.allclose(x[:, 0, :, 198:], torch.tensor(-ib.IB_MEAN / ib.IB_STD))  # zero padding, then normalised


def test_video_crops_and_pairs():
    ramp = torch.linspace(0, 255, 400).round().to(torch.uint8)
    frames = ramp[None, None, :, None].expand(4, 200, 400, 3).contiguous()  # brightness grows to the right
    x = ib.video_input(frames)
    assert x.shape == (9, 3, 2, 224, 224)
    left, centre, right = x[0, 0, 0].mean(), x[1, 0, 0].mean(), x[2, 0, 0].mean()
    assert left < centre < right
    with pytest.raises(ValueError, match="at least 2 frames"):
        ib.video_input(frames[:1])


def test_encoder_averages_normalised_subclips(tmp_path):
    _, encs = _tiny_file(tmp_path)
    x = torch.randn(1, 3, 1, 128, 204)
    whole = encs["audio"](x)
    parts = torch.cat([encs["audio"](x[:, i:i + 1]) for i in range(3)])
    torch.testing.assert_close(whole[0], parts.mean(0))
    assert torch.allclose(parts.norm(dim=-1), torch.ones(3), atol=1e-5)
    assert encs["vision"](torch.randn(2, 9, 3, 2, 224, 224)).shape == (2, 16)


def test_loader_and_refusals(tmp_path):
    path, encs = _tiny_file(tmp_path)
    loaded = ib.load_imagebind(path)
    x = torch.randn(1, 3, 1, 128, 204)
    torch.testing.assert_close(loaded["audio"](x), encs["audio"](x))
    (tmp_path / "a").mkdir()
    no_vision, _ = _tiny_file(tmp_path / "a", drop="modality_preprocessors.vision")
    with pytest.raises(CheckpointError, match="no vision encoder"):
        ib.load_imagebind(no_vision)
    (tmp_path / "b").mkdir()
    partial, _ = _tiny_file(tmp_path / "b", drop="modality_trunks.audio.blocks.0.attn.bias_k")
    with pytest.raises(CheckpointError, match="bias_k"):
        ib.load_imagebind(partial)


def test_eval_ib_score(tmp_path):
    import av

    from deepaudio.eval.items import Item
    from deepaudio.eval.runner import EvalOptions, run_eval
    from deepaudio.io.audio import save_audio

    path, _ = _tiny_file(tmp_path)
    items = []
    for i in range(2):
        vid = tmp_path / f"v{i}.mp4"
        with av.open(str(vid), "w") as box:
            stream = box.add_stream("mpeg4", rate=25)
            stream.width, stream.height, stream.pix_fmt = 96, 64, "yuv420p"
            for k in range(25 * 8):
                img = np.full((64, 96, 3), (k * 3 + 50 * i) % 255, np.uint8)
                for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                    box.mux(packet)
            for packet in stream.encode():
                box.mux(packet)
        gen = tmp_path / f"g{i}.wav"
        save_audio(gen, torch.sin(torch.arange(44100 * 8) * 0.03 * (i + 1))[None] * 0.3, 44100)
        items.append(Item(name=f"c{i}", gen=gen, video=vid))
    items.append(Item(name="novideo", gen=gen))
    res = run_eval(items, EvalOptions(task="v2a", metrics=("ib_score",), imagebind=str(path)))
    assert -1.0 <= res.summary["ib_score"] <= 1.0 and math.isfinite(res.summary["ib_score"])
    assert "ImageBind" in res.backends["ib_score"]
    assert any("novideo: ib_score skipped: no video" in p for p in res.problems)


def test_cli_refuses_wrong_imagebind_file(tmp_path, capsys):
    from deepaudio.cli.main import main
    from deepaudio.io.audio import save_audio

    (tmp_path / "gen").mkdir()
    save_audio(tmp_path / "gen" / "c0.wav", torch.zeros(1, 16000), 16000)
    bad = tmp_path / "synchformer_state_dict.pth"
    torch.save({"vfeat_extractor.cls_token": torch.zeros(1, 1, 8)}, bad)
    assert main(["eval", "--task", "v2a", "--gen", str(tmp_path / "gen"), "-o", str(tmp_path / "out"),
                 "--imagebind", str(bad), "--metrics", "ib_score"]) != 0
    err = capsys.readouterr().err
    assert "not an ImageBind checkpoint: no audio encoder" in err and "synchformer_state_dict.pth" in err
