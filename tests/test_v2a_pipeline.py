"""V2A stage-1 training (micro setup) on generated videos, then the exported pipeline end to end."""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json

import pytest
import torch

from deepaudio.io.testmedia import moving_square_video
from deepaudio.models.v2a.sequence import SequencePlan
from deepaudio.pipelines.v2a import V2APipeline
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


def test_motion_stack_second_difference_marks_a_change_of_velocity():
    """A picture brightening steadily until frame 5 and then darkening: the first difference is non-zero on
    every frame after the first, the second only at the turn; none is invented before its history exists."""
    from deepaudio.models.encoders.tiny import motion_stack

    level = torch.tensor([0, 1, 2, 3, 4, 5, 4, 3, 2], dtype=torch.float32) / 10
    x = level.view(1, -1, 1, 1, 1).expand(1, 9, 3, 8, 4)
    m1, m2 = motion_stack(x, 1), motion_stack(x, 2)
    assert m1.shape[2] == 6 and m2.shape[2] == 9 and torch.equal(m2[:, :, :6], m1)
    d1, d2 = m2[0, :, 3:6].abs().amax((1, 2, 3)), m2[0, :, 6:9].abs().amax((1, 2, 3))
    assert d1[0] == 0 and (d1[1:] > 0.09).all()
    assert d2[:2].sum() == 0 and d2[6] > 0.19 and d2[[2, 3, 4, 5, 7, 8]].max() < 1e-6
    noise = torch.rand(1, 5, 3, 4, 4)
    assert torch.allclose(motion_stack(noise, 2)[0, 4, 6:], noise[0, 4] - 2 * noise[0, 3] + noise[0, 2])


def test_grown_encoder_starts_as_the_saved_one():
    from deepaudio.models.encoders.tiny_bundle import TinyV2AEncoder

    setup1, setup2 = stage.V2A_SETUPS.get("micro"), stage.V2A_SETUPS.get("micro")
    torch.manual_seed(0)
    old = TinyV2AEncoder(setup1.encoder).eval()
    new = TinyV2AEncoder(dataclasses.replace(setup2.encoder, motion_order=2)).eval()
    new.load_state_dict(stage.grow_motion_input(old.state_dict(), new))
    frames = torch.randint(0, 255, (2, 20, 32, 32, 3), dtype=torch.uint8)
    with torch.no_grad():
        assert torch.allclose(old.sync(frames), new.sync(frames), atol=1e-6)
        assert not torch.allclose(new.sync(frames[:, torch.arange(20).flip(0)]), new.sync(frames), atol=1e-3)


def test_crop_windows_are_aligned_and_drawn_reproducibly(tmp_path):
    """A 3.2 s clip gives windows at 0, 1 and 2 s of a 1 s setup; each window's frames and latent are the ones a
    clip cut at that second would give, and an epoch's draw depends only on (seed, epoch)."""
    from deepaudio.io.audio import load_audio
    from deepaudio.models.v2a.codecs import MelCodec

    setup = stage.V2A_SETUPS.get("micro")
    clip = moving_square_video(tmp_path / "c.mp4", duration=3.2, width=64, height=64, beep_frames=(10, 40, 70)).path
    items = [{"video": str(clip), "prompt": ""}]
    files = stage.extract_features(items, setup, tmp_path / "crops", crops=True)
    whole = stage.extract_features(items, setup, tmp_path / "first")
    codec = MelCodec(setup.codec)
    plan = SequencePlan.for_duration(setup.seconds, codec.latent_rate)
    batches = stage.ClipBatches(files, 1, seed=5, plan=plan)
    assert batches.windows == [3]
    first = stage.ClipBatches(whole, 1, seed=5).load([0])
    w0 = batches.load([(0, 0)])
    assert all(torch.equal(w0[k], first[k]) for k in first)
    w2 = batches.load([(0, 2)])
    wav, sr = load_audio(clip, sample_rate=codec.sample_rate, mono=True)
    n = int(setup.seconds * sr)
    assert torch.allclose(w2["latent"][0], codec.encode(wav[:, 2 * sr: 2 * sr + n])[0, : plan.latent])
    from deepaudio.io.video import read_frames

    f25, _ = read_frames(clip, fps=25, size=setup.encoder.image_size, crop="center", start=0.0, duration=3.2)
    assert torch.equal(w2["frames25"][0], f25[50: 50 + plan.sync_frames])
    draws = [{k for b in batches.epoch_batches(e) for _, k in b} for e in range(12)]
    assert set().union(*draws) == {0, 1, 2}
    assert batches.epoch_batches(3) == stage.ClipBatches(files, 1, seed=5, plan=plan).epoch_batches(3)
    with pytest.raises(Exception, match="no crop windows"):
        stage.ClipBatches(whole, 1, seed=5, plan=plan)


class _Brightness(torch.nn.Module):
    """Stands in for the frame CNN: a frame's mean of its first (picture) channel, in [-1, 1]."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, 0].mean((1, 2))[:, None]


def test_uniform_sync_tokens_describe_the_time_the_mmdit_gives_them():
    """With the frame CNN reading a brightness that encodes the frame index, the temporal conv an identity and no
    norm, uniform token i reads the frame position at the centre of slot i of S equal slots of the clip."""
    from deepaudio.models.encoders.tiny import TinyEncoderConfig, TinySyncEncoder

    enc = TinySyncEncoder(TinyEncoderConfig(image_size=8, channels=(4,), sync_dim=1, sync_tokens="uniform"))
    enc.frame_net, enc.norm = _Brightness(), torch.nn.Identity()
    with torch.no_grad():
        enc.temporal.weight.zero_()
        enc.temporal.weight[0, 0, 1] = 1.0
        enc.temporal.bias.zero_()
    t = 100
    frames = (torch.arange(t, dtype=torch.float32) * 2).view(1, t, 1, 1, 1).expand(1, t, 8, 8, 3)
    tokens = enc(frames.to(torch.uint8))[0, :, 0]  # brightness (2 f) / 127.5 - 1 at frame position f
    s = tokens.shape[0]
    assert s == SequencePlan.for_duration(4.0, 31.25).sync_tokens == 88
    where = (tokens + 1) * 127.5 / 2
    centre = (torch.arange(s) + 0.5) * t / s - 0.5
    inner = slice(1, s - 1)  # (the edges clamp to the first/last frame)
    assert torch.allclose(where[inner], centre[inner], atol=1e-3)


def test_onset_strength_and_the_auxiliary_loss():
    lat = torch.full((1, 10, 4), -11.5)
    lat[0, 4:] = -2.0  # an impact at frame 4 that rings on
    on = stage.onset_strength(lat)[0]
    assert on.argmax() == 4 and on[4] > 2.2 and on[[0, 1, 2, 3, 5, 6]].abs().max() == 0
    setup = stage.V2A_SETUPS.get("micro")
    model = stage.TinyV2AModel(setup, onset_weight=1.0)
    with torch.no_grad():  # (training sets the latent statistics from the data)
        model.net.latent_mean.fill_(0.0)
        model.net.latent_std.fill_(1.0)
    plan = SequencePlan.for_duration(setup.seconds, 31.25)
    batch = {"frames8": torch.randint(0, 255, (2, plan.clip_frames, 32, 32, 3), dtype=torch.uint8),
             "frames25": torch.randint(0, 255, (2, plan.sync_frames, 32, 32, 3), dtype=torch.uint8),
             "latent": torch.randn(2, plan.latent, 16), "text_ids": torch.full((2, 8), 256),
             "has_text": torch.zeros(2, dtype=torch.bool)}
    torch.manual_seed(0)
    train_loss = model.train()(batch)
    torch.manual_seed(0)
    flow_only = model.eval()(batch)
    sync_f = model.encoder.sync(batch["frames25"])
    assert torch.allclose(train_loss, flow_only + model.onset_loss(sync_f, batch["latent"]), atol=1e-5)
    train_loss.backward()
    assert model.encoder.sync.frame_net[0].weight.grad.abs().sum() > 0


def test_tiny_encoder_settings_are_checked():
    from deepaudio.errors import ConfigError
    from deepaudio.models.encoders.tiny import TinyEncoderConfig

    with pytest.raises(ConfigError, match="motion_order"):
        TinyEncoderConfig(motion_order=3)
    with pytest.raises(ConfigError, match="sync_tokens"):
        TinyEncoderConfig(sync_tokens="random")
