"""Resume bookkeeping: no spurious "settings changed" note, and pruning never leaves a broken step folder."""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from deepaudio.train import state  # noqa: E402
from deepaudio.train.loop import train  # noqa: E402
from test_train_loop import TinyFlow, ToyData, _cfg  # noqa: E402


def test_resume_with_the_same_settings_says_nothing_changed(tmp_path, capsys):
    torch.manual_seed(0)
    train(TinyFlow(), ToyData(), _cfg(steps=4, save_every=4), tmp_path)
    capsys.readouterr()
    train(TinyFlow(), ToyData(), _cfg(steps=6, save_every=4), tmp_path, resume=True)
    err = capsys.readouterr().err
    assert "resuming from" in err and "settings changed" not in err, err  # betas: tuple vs the JSON list
    train(TinyFlow(), ToyData(), _cfg(steps=8, save_every=4, lr=1e-3), tmp_path, resume=True)
    assert "settings changed since the checkpoint: lr" in capsys.readouterr().err


def test_pruning_removes_broken_step_folders_and_renames_before_deleting(tmp_path):
    root = tmp_path / "checkpoints"
    for step in (4, 8, 12):
        state.save_training_checkpoint(state.checkpoint_dir(root, step), {"model": {"w": torch.zeros(2)}},
                                       {"step": step})
    (root / "step_00000002").mkdir()  # what a kill in the middle of an old-style rmtree left behind
    state.prune_checkpoints(root, keep=2)
    assert sorted(p.name for p in root.iterdir()) == ["step_00000008", "step_00000012"]
