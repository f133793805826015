"""V2A stage-1 training (micro setup) on generated videos, then the exported pipeline end to end."""

from __future__ import annotations

import argparse
import csv
import json

import pytest
import torch

from deepaudio.io.testmedia import moving_square_video
from deepaudio.pipelines.v2a import SequencePlan, V2APipeline
from deepaudio.train import v2a as stage


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("v2a")
    rows = []
    for i in range(4):
        clip = moving_square_video(root / f"clip{i}.mp4", duration=1.6, width=64, height=48,
                                   beep_frames=(5 + i, 20 + i))
        rows.append({"video": clip.path.name, "prompt": "beep" if i % 2 else ""})
    with (root / "train.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["video", "prompt"])
        w.writeheader()
        w.writerows(rows)
    p = argparse.ArgumentParser()
    stage.add_arguments(p)
    args = p.parse_args(["--config", "micro", "--data", str(root / "train.csv"), "--out", str(root / "run"),
                         "--steps", "40", "--batch", "2", "--lr", "3e-3", "--warmup", "0", "--save-every", "20"])
    assert stage.main(args) == 0
    return root


def test_training_loss_falls_and_exports_a_pipeline(trained):
    log = [json.loads(line) for line in (trained / "run" / "train_log.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in log if "loss" in r]
    assert len(losses) == 40
    first, last = sum(losses[:8]) / 8, sum(losses[-8:]) / 8
    assert last < first * 0.9, (first, last)
    assert (trained / "run" / "model" / "config.json").is_file()
    assert len(list((trained / "run" / "features" / "train").glob("*.safetensors"))) == 4


def test_pipeline_generates_the_whole_video_length_reproducibly(trained):
    pipe = V2APipeline.from_pretrained(trained / "run" / "model")
    video = moving_square_video(trained / "long.mp4", duration=2.6, width=64, height=48).path
    wav, sr = pipe(video, steps=4, seed=3)
    assert sr == 16000 and wav.shape == (1, int(round(2.6 * sr)))
    assert torch.isfinite(wav).all() and wav.abs().max() > 0
    again, _ = pipe(video, steps=4, seed=3)
    assert torch.equal(wav, again)
    other, _ = pipe(video, steps=4, seed=4)
    assert not torch.equal(wav, other)


def test_default_guidance_comes_from_the_checkpoint_config(trained, tmp_path):
    """A pipeline folder may carry its own default cfg; a call without cfg_strength uses it, an explicit one
    overrides it, and absent it is MMAudio's 4.5."""
    import shutil

    from deepaudio.checkpoint import read_config, write_config
    from deepaudio.models.v2a.sampling import DEFAULT_CFG

    src = trained / "run" / "model"
    assert V2APipeline.from_pretrained(src).default_cfg == DEFAULT_CFG == 4.5
    folder = tmp_path / "model"
    shutil.copytree(src, folder)
    doc = read_config(folder)
    write_config(folder, doc["kind"], {**doc["config"], "cfg_strength": 1.0}, doc.get("meta"))
    pipe = V2APipeline.from_pretrained(folder)
    assert pipe.default_cfg == 1.0
    video = moving_square_video(tmp_path / "v.mp4", duration=1.2, width=64, height=48).path
    implicit, _ = pipe(video, steps=3, seed=1)
    explicit, _ = pipe(video, steps=3, seed=1, cfg_strength=1.0)
    strong, _ = pipe(video, steps=3, seed=1, cfg_strength=4.5)
    assert torch.equal(implicit, explicit) and not torch.equal(implicit, strong)


def test_sequence_plan_matches_mmaudio_for_8_seconds():
    plan = SequencePlan.for_duration(8.0, 16000 / 256 / 2)
    assert (plan.latent, plan.clip_frames, plan.sync_tokens) == (250, 64, 192)
    plan44 = SequencePlan.for_duration(8.0, 44100 / 512 / 2)
    assert plan44.latent == 345
