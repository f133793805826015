"""DeSync: the full Synchformer (audio branch + offset head) on tiny random-init weights, the av-benchmark
audio front end and windows, and refusal of wrong checkpoints."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deepaudio.errors import CheckpointError
from deepaudio.eval import desync as ds
from deepaudio.eval.synchformer_av import ASTEncoder, SyncModel, SyncModelConfig, config_from_state, load_sync_model
from deepaudio.models.encoders.synchformer import SynchformerConfig

# 48 wide so the official head counts (12 in the branches, 8 in the offset head) divide it; 16-frame segments
# as the official model, on 64-pixel frames.
TINY = SyncModelConfig(visual=SynchformerConfig(embed_dim=48, depth=1, num_heads=12, patch_size=32, img_size=64),
                       audio_depth=1, audio_hidden=96, head_depth=1)


def _tiny_file(tmp_path, seed=0, cfg=TINY):
    torch.manual_seed(seed)
    model = SyncModel(cfg)
    for p in model.parameters():
        torch.nn.init.normal_(p, std=0.2)
    path = tmp_path / "synchformer_state_dict.pth"
    torch.save(model.state_dict(), path)
    return path, model.eval()


def test_official_layout_and_windows():
    with torch.device("meta"):
        sd = SyncModel(SyncModelConfig()).state_dict()
    assert SyncModelConfig().audio_grid == (12, 6) and SyncModelConfig().window_segments == 14
    assert sd["afeat_extractor.ast.embeddings.position_embeddings"].shape == (1, 74, 768)
    assert sd["transformer.pos_emb_cfg.pos_emb"].shape == (1, 198, 768)
    assert sd["transformer.off_head.weight"].shape == (21, 768)
    for key in ("afeat_extractor.ast.encoder.layer.11.attention.attention.query.weight",
                "afeat_extractor.ast.encoder.layer.0.attention.output.dense.bias",
                "afeat_extractor.ast.embeddings.distillation_token", "afeat_extractor.ast.layernorm.weight",
                "afeat_extractor.freq_attn_agg.self_attn.in_proj_weight", "afeat_extractor.freq_attn_agg.cls_token",
                "transformer.blocks.2.attn.key.weight", "transformer.blocks.0.mlp.2.bias", "transformer.OFF_tok",
                "transformer.vis_in_lnorm.weight", "vproj.weight", "aproj.bias",
                "vfeat_extractor.spatial_attn_agg.cls_token", "vfeat_extractor.blocks.11.timeattn.qkv.weight"):
        assert key in sd, key
    cfg = config_from_state(sd, "x")
    assert cfg == SyncModelConfig()


def _hf_to_release(sd: dict) -> dict:
    """transformers >= 5 renamed the AST layers; the released Synchformer file keeps the 4.x names."""
    names = {"attention.q_proj": "attention.attention.query", "attention.k_proj": "attention.attention.key",
             "attention.v_proj": "attention.attention.value", "attention.o_proj": "attention.output.dense",
             "mlp.fc1": "intermediate.dense", "mlp.fc2": "output.dense"}
    out = {}
    for k, v in sd.items():
        if k.startswith("layers."):
            k = "encoder.layer." + k[len("layers."):]
            for a, b in names.items():
                k = k.replace(a, b)
        out[k] = v
    return out


def test_ast_matches_hugging_face():
    transformers = pytest.importorskip("transformers")
    hf_cfg = transformers.ASTConfig(hidden_size=48, num_hidden_layers=2, num_attention_heads=12,
                                    intermediate_size=96, max_length=66, num_mel_bins=128)
    torch.manual_seed(0)
    ref = transformers.ASTModel(hf_cfg).eval()
    ours = ASTEncoder(SyncModelConfig(visual=TINY.visual, audio_depth=2, audio_hidden=96)).eval()
    ours.load_state_dict(_hf_to_release(ref.state_dict()), strict=True)
    x = torch.randn(3, 66, 128)
    with torch.no_grad():
        want = ref(x).last_hidden_state[:, 2:]
        torch.testing.assert_close(ours(x), want, atol=1e-5, rtol=1e-4)


def test_audio_front_end_matches_librosa():
    librosa = pytest.importorskip("librosa")
    rng = np.random.default_rng(0)
    wav = rng.normal(size=int(16000 * 8)).astype(np.float32) * 0.1
    segs = ds.audio_segments(torch.from_numpy(wav))
    assert segs.shape == (24, 128, 66)
    mel = librosa.feature.melspectrogram(y=wav[5120:5120 + 10240], sr=16000, n_fft=1024, hop_length=160,
                                         win_length=400, window="hann", center=True, pad_mode="reflect", power=2.0,
                                         n_mels=128, fmin=0.0, fmax=8000.0, htk=True, norm=None)
    want = (np.log(mel + 1e-6) - ds.LOGMEL_MEAN) / (2 * ds.LOGMEL_STD)
    np.testing.assert_allclose(segs[1, :, :65].numpy(), want, atol=2e-4)
    assert torch.all(segs[:, :, 65] == -ds.LOGMEL_MEAN / (2 * ds.LOGMEL_STD))  # zero padding before normalising


def _set_class(model: SyncModel, cls: int) -> None:
    head = model.transformer.off_head
    torch.nn.init.zeros_(head.weight)
    with torch.no_grad():
        head.bias.zero_()
        head.bias[cls] = 1.0


def test_offsets_windows_and_loader(tmp_path):
    path, model = _tiny_file(tmp_path)
    loaded = load_sync_model(path)
    wav = torch.randn(16000 * 9) * 0.1  # longer than 8 s: cut to the first 8 s (24 segments)
    frames = torch.rand(230, 3, 64, 64) * 2 - 1
    seen = []
    orig = loaded.offset_logits

    def spy(v, a):
        seen.append((v, a))
        return orig(v, a)

    loaded.offset_logits = spy
    got = ds.clip_offsets(loaded, wav, frames)
    assert len(got) == 2 and all(abs(g) <= 2.0 for g in got)
    v_all = model.visual_tokens(ds.video_segments(frames[:200]))
    a_all = model.audio_tokens(ds.audio_segments(wav[:128000]))
    assert v_all.shape[0] == a_all.shape[0] == 24
    v, a = seen[0]
    torch.testing.assert_close(v, torch.stack([v_all[:14], v_all[-14:]]))
    torch.testing.assert_close(a, torch.stack([a_all[:14], a_all[-14:]]))
    for cls, want in ((20, 2.0), (10, 0.0), (0, -2.0), (13, 0.6)):
        _set_class(loaded, cls)
        assert ds.clip_offsets(loaded, wav, frames) == pytest.approx([want, want])


def test_short_pair_refused(tmp_path):
    _, model = _tiny_file(tmp_path)
    with pytest.raises(ValueError, match="needs 14 sync segments"):
        ds.clip_offsets(model, torch.randn(16000 * 4), torch.rand(200, 3, 64, 64))


def test_wrong_checkpoints_refused(tmp_path):
    path, model = _tiny_file(tmp_path)
    sd = model.state_dict()
    visual_only = tmp_path / "visual.pth"
    torch.save({k: v for k, v in sd.items() if k.startswith("vfeat_extractor.")}, visual_only)
    with pytest.raises(CheckpointError, match="no audio branch"):
        load_sync_model(visual_only)
    dropped = tmp_path / "dropped.pth"
    torch.save({k: v for k, v in sd.items() if k != "transformer.ln_f.weight"}, dropped)
    with pytest.raises(CheckpointError, match="transformer.ln_f.weight"):
        load_sync_model(dropped)
    with pytest.raises(CheckpointError, match="not found"):
        load_sync_model(tmp_path / "nope.pth")


def _video(path, seconds=8.0, size=64):
    import av

    rng = np.random.default_rng(0)
    with av.open(str(path), "w") as box:
        stream = box.add_stream("mpeg4", rate=25)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        for _ in range(int(25 * seconds)):
            img = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                box.mux(packet)
        for packet in stream.encode():
            box.mux(packet)


def _forced_file(tmp_path, cls):
    path, model = _tiny_file(tmp_path)
    _set_class(model, cls)
    torch.save(model.state_dict(), path)
    return path


def test_cli_desync_from_media(tmp_path):
    import json

    from deepaudio.cli.main import main
    from deepaudio.io.audio import save_audio

    ckpt = _forced_file(tmp_path, 20)  # always +2.0 s
    gen, vid = tmp_path / "gen", tmp_path / "vid"
    gen.mkdir()
    vid.mkdir()
    for name, seconds in (("a", 8.0), ("b", 8.0), ("short", 3.0)):
        save_audio(gen / f"{name}.wav", torch.randn(1, int(44100 * seconds)) * 0.1, 44100)
        _video(vid / f"{name}.mp4", seconds)
    save_audio(gen / "broken.wav", torch.randn(1, 44100 * 8) * 0.1, 44100)
    (vid / "broken.mp4").write_bytes(b"not a video")
    out = tmp_path / "out"
    assert main(["eval", "--task", "v2a", "--gen", str(gen), "--video", str(vid), "-o", str(out),
                 "--synchformer", str(ckpt), "--metrics", "desync"]) == 0
    s = json.loads((out / "summary.json").read_text())
    assert s["desync"] == pytest.approx(2.0) and "Synchformer" in s["desync_backend"]
    report = (out / "report.md").read_text()
    assert "short: desync skipped" in report and "broken: desync skipped" in report


def test_desync_from_av_benchmark_caches(tmp_path):
    from deepaudio.eval.runner import EvalOptions, run_eval

    ckpt = _forced_file(tmp_path, 13)  # always +0.6 s
    g = torch.Generator().manual_seed(0)
    for side, fname, t in (("gen", "synchformer_audio.pth", 6), ("ref", "synchformer_video.pth", 8)):
        (tmp_path / side).mkdir()
        torch.save({f"c{i}": torch.randn(24, t, 48, generator=g) for i in range(3)}, tmp_path / side / fname)
        torch.save({f"c{i}": torch.randn(8) for i in range(3)}, tmp_path / side / "passt_features_embed.pth")
    opts = EvalOptions(task="v2a", metrics=("desync",), synchformer=str(ckpt), gen_features=str(tmp_path / "gen"),
                       ref_features=str(tmp_path / "ref"))
    res = run_eval([], opts)
    assert res.summary["desync"] == pytest.approx(0.6) and "caches" in res.backends["desync"]


def test_desync_unavailable_hint():
    from deepaudio.eval.runner import EvalOptions, run_eval

    res = run_eval([], EvalOptions(task="v2a", metrics=("desync",)))
    assert "--synchformer" in res.unavailable["desync"]
