"""Training under ``kill -9`` (issue 21): a short run killed at random moments 10 times and resumed after
each kill ends with the same weights as a run never killed, and no kill loses a checkpoint or leaves a
broken ``step_*`` folder (saves are atomic; pruning renames before deleting).

Also runnable as the worker: ``python tests/test_train_kill9.py OUT [--resume]``.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

STEPS = 600
KILLS = 10


def _worker(out: str, resume: bool) -> None:
    sys.path.insert(0, str(Path(__file__).parent))
    from deepaudio.train.loop import train
    from test_train_loop import TinyFlow, ToyData, _cfg

    torch.manual_seed(0)
    cfg = _cfg(steps=STEPS, save_every=3, keep_checkpoints=2, lr=3e-3)
    said = []

    def on_step(step, loss):
        if not said:  # the loop runs: from now on a kill can land in an update, a save or a prune
            print("ready", flush=True)
            said.append(step)

    train(TinyFlow(), ToyData(), cfg, out, resume=resume, on_step=on_step)
    print("finished", flush=True)


def _start(out: Path, resume: bool) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    cmd = [sys.executable, __file__, str(out)] + (["--resume"] if resume else [])
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)


def _final_weights(out: Path) -> dict[str, torch.Tensor]:
    from deepaudio.train.state import list_checkpoints, read_training_checkpoint

    tensors, state = read_training_checkpoint(list_checkpoints(out / "checkpoints")[-1], ("model", "ema"))
    return {f"{stem}.{k}": v for stem, sd in tensors.items() for k, v in sd.items()}


def _check_intact(root: Path) -> int:
    """Every visible step_* folder is a complete, readable checkpoint; returns the newest step."""
    from deepaudio.train.state import list_checkpoints, read_training_checkpoint

    visible = sorted(p for p in root.glob("step_*"))
    complete = list_checkpoints(root)
    assert visible == complete, f"broken step folders: {sorted(set(visible) - set(complete))}"
    if not complete:
        return 0
    read_training_checkpoint(complete[-1])  # loads: not truncated
    return int(complete[-1].name.split("_")[1])


@pytest.mark.slow
def test_kill9_ten_times_then_resume_equals_uninterrupted(tmp_path):
    full = _start(tmp_path / "full", False)
    assert full.communicate(timeout=300)[0].strip().endswith("finished")
    rng = random.Random(21)
    cut = tmp_path / "cut"
    progress, lost = [], 0
    for k in range(KILLS):
        proc = _start(cut, resume=k > 0)
        line = proc.stdout.readline().strip()
        assert line == "ready", f"kill {k + 1}: the run finished before it could be killed ({progress})"
        time.sleep(rng.uniform(0.0, 0.15))  # a random moment of training, saving or pruning (10 kills < 600 steps)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        step = _check_intact(cut / "checkpoints")
        lost += step < (progress[-1] if progress else 0)
        progress.append(step)
    last = _start(cut, resume=True)
    assert last.communicate(timeout=300)[0].strip().endswith("finished")
    a, b = _final_weights(tmp_path / "full"), _final_weights(cut)
    diff = max(float((a[k] - b[k]).abs().max()) for k in a)
    print(f"kill -9 x{KILLS}: steps at the kills {progress}, checkpoints lost {lost}, max weight difference {diff:g}")
    assert a.keys() == b.keys() and diff == 0.0 and lost == 0
    assert progress[-1] < STEPS  # the kills really interrupted the run


if __name__ == "__main__":
    _worker(sys.argv[1], "--resume" in sys.argv)
