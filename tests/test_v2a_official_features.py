"""Official-feature extraction into shards (frozen CLIP/Synchformer/VAE of a converted pipeline), resume,
and MM-DiT training on the shards through ``deepaudio train v2a --features``, with tiny random weights."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from deepaudio.convert.registry import get_converter
from deepaudio.errors import ConfigError
from deepaudio.io.testmedia import moving_square_video
from deepaudio.models.v2a.sequence import fit_frames
from deepaudio.pipelines.v2a import V2APipeline
from deepaudio.train.v2a_features import FeatureShards, extract_official_features
from test_v2a_official import make_official_files


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("features")
    _, files, _ = make_official_files(root)
    pipe = get_converter("mmaudio-pipeline").fn(files, root / "v2a", {})
    rows = []
    for i in range(3):
        clip = moving_square_video(root / f"v{i}.mp4", duration=1.2, width=48, height=40, beep_frames=(5 + i,))
        rows.append(f"{clip.path.name},{'a dog barks' if i != 1 else ''}")
    rows.insert(2, "missing.mp4,a cat")
    (root / "train.csv").write_text("video,prompt\n" + "\n".join(rows) + "\n")
    return root, pipe


def test_extraction_shards_match_the_pipeline_encoders_and_resume(setup, tmp_path):
    from deepaudio.io.video import read_frames
    from deepaudio.train.v2a import read_manifest

    root, pipe_dir = setup
    items = read_manifest(root / "train.csv")
    out = tmp_path / "feat"
    shards = extract_official_features(items, pipe_dir, out, duration=1.0, shard_size=2)
    assert [p.name for p in shards] == ["shard_00000.safetensors", "shard_00001.safetensors"]
    s0, s1 = load_file(str(shards[0])), load_file(str(shards[1]))
    assert s0["row"].tolist() == [0, 1] and s1["row"].tolist() == [3]  # row 2 (missing file) skipped
    # 1 s: 8 CLIP frames, (25 - 16) // 8 + 1 = 2 sync segments of 8 tokens, ceil(16000 / 256 / 2) latents
    assert s0["clip_f"].shape == (2, 8, 16) and s0["sync_f"].shape == (2, 16, 32)
    assert s0["text_f"].shape == (2, 77, 24) and s0["mean"].shape == (2, 32, 4) == s0["std"].shape
    assert s0["has_text"].tolist() == [True, False] and (s0["std"] > 0).all()
    # the features are what the pipeline's own encoders compute at inference time
    pipe = V2APipeline.from_pretrained(pipe_dir)
    f8, _ = read_frames(items[0]["video"], fps=8, size=32, crop="resize", duration=1.0)
    f25, _ = read_frames(items[0]["video"], fps=25, size=224, crop="center", duration=1.0)
    clip_f, sync_f = pipe.encoder.encode_video(fit_frames(f8, 8)[None], fit_frames(f25, 25)[None])
    torch.testing.assert_close(s0["clip_f"][0], clip_f[0])
    torch.testing.assert_close(s0["sync_f"][0], sync_f[0])
    torch.testing.assert_close(s0["text_f"][0], pipe.encoder.encode_text(["a dog barks"])[0])
    # resume: existing shards are kept, missing ones are redone identically
    before = shards[0].stat().st_mtime_ns
    shards[1].unlink()
    extract_official_features(items, pipe_dir, out, duration=1.0, shard_size=2)
    assert shards[0].stat().st_mtime_ns == before
    torch.testing.assert_close(load_file(str(shards[1]))["clip_f"], s1["clip_f"])
    with pytest.raises(ConfigError, match="other settings"):
        extract_official_features(items, pipe_dir, out, duration=1.0, shard_size=3)
    # two processes (rank, world) share the shards and give the same files
    split = tmp_path / "split"
    from deepaudio.distributed import owner

    first = owner(shards[0].name, 2)  # the rank that owns shard 0 (by the hash of its name)
    extract_official_features(items, pipe_dir, split, duration=1.0, shard_size=2, part=(1 - first, 2))
    assert not (split / shards[0].name).exists()
    assert (split / shards[1].name).exists() == (owner(shards[1].name, 2) != first)
    extract_official_features(items, pipe_dir, split, duration=1.0, shard_size=2, part=(first, 2))
    assert all((split / s.name).exists() for s in shards)
    torch.testing.assert_close(load_file(str(split / shards[0].name))["sync_f"], s0["sync_f"])
    data = FeatureShards(out, batch=2, shuffle=False)
    assert len(data) == 3
    batch = data.load([2, 0])
    assert batch["row"].tolist() == [3, 0] and batch["clip_f"].shape == (2, 8, 16)


def test_pipeline_without_official_encoders_is_refused(setup, tmp_path):
    from deepaudio.checkpoint import write_config

    root, pipe_dir = setup
    other = tmp_path / "p"
    other.mkdir()
    write_config(other, "v2a_pipeline", {"net": "net", "encoder": {"type": "tiny"}, "codec": {"type": "mel"},
                                         "window": 8.0})
    with pytest.raises(ConfigError, match="official encoders"):
        extract_official_features([], other, tmp_path / "f")


def test_train_cli_on_features_exports_a_runnable_pipeline(setup, tmp_path):
    from deepaudio.cli.main import main

    root, pipe_dir = setup
    feat, out = tmp_path / "feat", tmp_path / "run"
    argv = ["train", "v2a", "--config", "tiny", "--data", str(root / "train.csv"), "--pipeline", str(pipe_dir),
            "--features", str(feat), "--duration", "1.0", "--shard-size", "2", "--out", str(out)]
    assert main([*argv, "--extract-only"]) == 0 and not out.exists()
    assert main(["train", "v2a", "--config", "tiny", "--features", str(feat), "--out", str(out), "--steps", "2",
                 "--batch", "2", "--save-every", "2", "--warmup", "1", "--val", str(root / "train.csv"),
                 "--val-every", "1"]) == 0
    assert (tmp_path / "feat-val" / "shard_00000.safetensors").is_file()  # validation CSV extracted beside
    log = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert any("val_loss" in r for r in log) and all(torch.isfinite(torch.tensor(r.get("loss", 0.0))) for r in log)
    cfg = json.loads((out / "model" / "config.json").read_text())["config"]
    assert cfg["encoder"]["type"] == "official" and cfg["window"] == 1.0
    pipe = V2APipeline.from_pretrained(out / "model")
    assert pipe.net.config.clip_dim == 16 and pipe.net.config.latent_dim == 4
    assert not torch.equal(pipe.net.latent_std, torch.ones_like(pipe.net.latent_std))  # statistics of the data
    wav, sr = pipe(root / "v0.mp4", prompt="a dog barks", steps=2, seed=1)
    assert sr == 16000 and torch.isfinite(wav).all() and wav.shape[-1] >= 16000
    assert main(["train", "v2a", "--config", "tiny", "--features", str(tmp_path / "none"), "--out",
                 str(tmp_path / "r2"), "--steps", "1"]) == 2  # a user error, reported on one line
