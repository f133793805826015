"""The shared training loop on a small real model: a flow-matching MLP on variable-length 2-D sequences.

Also runnable as a worker under ``torchrun`` (``python tests/test_train_loop.py OUT``): the two-process
test launches it and compares each rank's parameter hash.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from deepaudio.errors import ConfigError
from deepaudio.flow import FlowPath
from deepaudio.train.batching import FixedBatches, FrameBudgetBatcher
from deepaudio.train.ema import EMA, EMAConfig
from deepaudio.train.loop import TrainConfig, train
from deepaudio.train.optim import flatten_optimizer_state, lr_factor, unflatten_optimizer_state
from deepaudio.train.report import read_log


class TinyFlow(nn.Module):
    """Velocity MLP v(x_t, t) trained with the masked flow-matching loss; dropout exercises the RNG."""

    def __init__(self, dim: int = 2, hidden: int = 32):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim + 1, hidden), nn.SiLU(), nn.Dropout(0.1), nn.Linear(hidden, dim))
        self.path = FlowPath()

    def forward(self, batch):
        x1, mask = batch["x"], batch["mask"]  # (B, N, 2), (B, N)
        x0 = torch.randn_like(x1)
        t = torch.rand(x1.shape[0], device=x1.device)
        xt = self.path.interpolate(x0, x1, t)
        tt = t[:, None, None].expand(*x1.shape[:2], 1)
        return self.path.loss(self.net(torch.cat((xt, tt), -1)), x0, x1, mask)


class ToyData:
    """Sequences of points on a small ring off the origin; batches come from a frame-budget batcher."""

    def __init__(self, n: int = 48, seed: int = 0, max_frames: int = 40):
        g = torch.Generator().manual_seed(1000 + seed)
        self.items = []
        for _ in range(n):
            length = int(torch.randint(3, 12, (1,), generator=g))
            ang = torch.rand(length, generator=g) * 6.2832
            ring = torch.stack((ang.cos(), ang.sin()), -1) * 0.3 + 0.02 * torch.randn(length, 2, generator=g)
            self.items.append(ring + torch.tensor([1.5, -1.0]))
        self.batcher = FrameBudgetBatcher.build([len(x) for x in self.items], max_frames, seed=seed)

    def epoch_batches(self, epoch):
        return self.batcher.epoch_batches(epoch)

    def load(self, key):
        xs = [self.items[i] for i in key]
        n = max(len(x) for x in xs)
        x = torch.zeros(len(xs), n, 2)
        mask = torch.zeros(len(xs), n, dtype=torch.bool)
        for i, v in enumerate(xs):
            x[i, :len(v)], mask[i, :len(v)] = v, True
        return {"x": x, "mask": mask}


def _cfg(**kw):
    base = dict(steps=12, lr=3e-3, warmup=2, save_every=4, log_every=100, device="cpu",
                ema=EMAConfig(beta=0.9, update_after=2, update_every=1))
    base.update(kw)
    return TrainConfig(**base)


def _export(module, folder):
    from deepaudio.io.atomic import atomic_dir

    with atomic_dir(folder) as tmp:
        torch.save({k: v.clone() for k, v in module.state_dict().items()}, tmp / "weights.pt")


def _final(out: Path, stem: str) -> dict:
    last = sorted((out / "checkpoints").glob("step_*"))[-1]
    return load_file(str(last / f"{stem}.safetensors"))


def test_loss_falls(tmp_path):
    torch.manual_seed(0)
    res = train(TinyFlow(), ToyData(), _cfg(steps=80, lr=1e-2, save_every=80), tmp_path, export=_export)
    losses = [v for _, v in res.losses]
    assert len(losses) == 80
    first, last = sum(losses[:10]) / 10, sum(losses[-10:]) / 10
    assert last < 0.75 * first, (first, last)
    summary = json.loads((tmp_path / "training_summary.json").read_text())
    assert summary["steps"] == 80 and summary["data_seed"] == 0 and summary["final_loss"] == losses[-1]
    assert (tmp_path / "loss_curve.png").stat().st_size > 1000
    assert (tmp_path / "model" / "weights.pt").is_file()


class _Kill(Exception):
    pass


@pytest.mark.parametrize("precision,accum", [("fp32", 1), ("bf16", 2)])
def test_kill_and_resume_equals_uninterrupted(tmp_path, precision, accum):
    cfg = _cfg(precision=precision, grad_accum=accum, val_every=4)
    val = ToyData(n=6, seed=7)
    val_fixed = FixedBatches(tuple(tuple(b) for b in val.epoch_batches(0)))
    val.epoch_batches = val_fixed.epoch_batches

    torch.manual_seed(0)
    full = train(TinyFlow(), ToyData(), cfg, tmp_path / "full", val=val)

    def kill(step, loss):
        if step == 6:  # after the step-4 checkpoint, mid-way to the next one
            raise _Kill

    torch.manual_seed(0)
    with pytest.raises(_Kill):
        train(TinyFlow(), ToyData(), cfg, tmp_path / "cut", val=val, on_step=kill)
    with pytest.raises(ConfigError):  # an existing run is never silently overwritten
        train(TinyFlow(), ToyData(), cfg, tmp_path / "cut", val=val)
    (tmp_path / "cut" / "checkpoints" / ".step_00000008.x1y2.tmp").mkdir()  # as a save killed mid-way leaves
    torch.manual_seed(123)  # a different init: everything must come from the checkpoint
    resumed = train(TinyFlow(), ToyData(), cfg, tmp_path / "cut", val=val, resume=True)

    assert resumed.losses == full.losses  # bit for bit: floats compared exactly
    assert resumed.val_losses == full.val_losses and len(full.val_losses) == 3
    assert [r["step"] for r in read_log(tmp_path / "cut" / "train_log.jsonl") if "loss" in r] == list(range(1, 13))
    for stem in ("model", "ema", "optimizer"):
        a, b = _final(tmp_path / "full", stem), _final(tmp_path / "cut", stem)
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), stem
    assert not torch.equal(_final(tmp_path / "full", "model")["net.0.weight"],
                           _final(tmp_path / "full", "ema")["net.0.weight"])
    last = sorted((tmp_path / "cut" / "checkpoints").glob("step_*"))[-1]
    assert sorted(p.name for p in last.iterdir()) == ["ema.safetensors", "model.safetensors",
                                                      "optimizer.safetensors", "state.json"]  # no pickles
    assert len(list((tmp_path / "cut" / "checkpoints").iterdir())) == 2  # keep_checkpoints, no temp leftovers


def test_log_survives_a_line_cut_by_a_kill(tmp_path):
    (tmp_path / "log.jsonl").write_text('{"step": 1, "loss": 2.0}\n{"step": 2, "lo')
    assert read_log(tmp_path / "log.jsonl") == [{"step": 1, "loss": 2.0}]


def test_each_epoch_walks_its_own_batch_order(tmp_path):
    """Updates consume epoch e's batches in the order ``epoch_batches(e)`` gives, then move to e + 1."""
    data = ToyData(n=20, max_frames=30)
    seen = []
    load = data.load
    data.load = lambda key: (seen.append(list(key)), load(key))[1]
    per_epoch = len(data.epoch_batches(0))
    steps = 2 * per_epoch + 3
    train(TinyFlow(), data, _cfg(steps=steps, save_every=steps), tmp_path)
    expected = data.epoch_batches(0) + data.epoch_batches(1) + data.epoch_batches(2)[:3]
    assert data.epoch_batches(0) != data.epoch_batches(1)
    assert seen == expected


def test_lr_schedule():
    assert lr_factor(0, 4, 20) == pytest.approx(0.2)
    assert lr_factor(3, 4, 20) == pytest.approx(0.8)
    assert lr_factor(4, 4, 20) == 1.0
    assert lr_factor(12, 4, 20) == pytest.approx(0.5)
    assert lr_factor(20, 4, 20, final_ratio=0.1) == pytest.approx(0.1)
    assert lr_factor(7, 0, 0) == 1.0


def test_optimizer_state_round_trip():
    model = TinyFlow()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.8, 0.95))
    model(ToyData(n=4).load([0, 1])).backward()
    opt.step()
    tensors, structure = flatten_optimizer_state(opt.state_dict())
    json.dumps(structure)
    back = unflatten_optimizer_state(tensors, json.loads(json.dumps(structure)))
    opt2 = torch.optim.AdamW(TinyFlow().parameters(), lr=1.0)
    opt2.load_state_dict(back)
    assert opt2.param_groups[0]["betas"] == (0.8, 0.95) and opt2.param_groups[0]["lr"] == 1e-3
    for k, v in opt.state_dict()["state"].items():
        for name, t in v.items():
            assert torch.equal(opt2.state_dict()["state"][k][name], t)


def test_ema_copies_then_averages():
    model = nn.Linear(2, 2)
    ema = EMA(model, EMAConfig(beta=0.5, update_after=1, update_every=1))
    with torch.no_grad():
        model.weight.fill_(1.0)
    ema.update(model)  # count 0 <= update_after: copy
    assert torch.equal(ema.module.weight, model.weight)
    ema.update(model)  # count 1: still a copy
    with torch.no_grad():
        model.weight.fill_(3.0)
    ema.update(model)  # count 2: k = 1 -> decay min(0.5, 1 - 2^-2/3) = 0.37
    d = min(0.5, 1 - 2 ** (-2 / 3))
    assert torch.allclose(ema.module.weight, torch.full((2, 2), 1.0 * d + 3.0 * (1 - d)))


def test_batcher_is_deterministic_and_respects_the_budget():
    lengths = [5, 9, 3, 12, 7, 7, 7, 2, 30, 11, 4, 6]
    b = FrameBudgetBatcher.build(lengths, max_frames=24, seed=3)
    e0, e0b, e1 = b.epoch_batches(0), b.epoch_batches(0), b.epoch_batches(1)
    assert e0 == e0b and e0 != e1
    assert b.skipped() == 1  # the 30-frame clip exceeds the budget
    for batches in (e0, e1):
        flat = sorted(i for batch in batches for i in batch)
        assert flat == [i for i in range(len(lengths)) if i != 8]
        assert all(max(lengths[i] for i in batch) * len(batch) <= 24 for batch in batches)
    with pytest.raises(ConfigError):
        FrameBudgetBatcher.build([50, 60], max_frames=10)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow  # 15-30 s on two shared cores: two interpreters import torch and accelerate
def test_two_processes_hold_the_same_weights(tmp_path):
    """torchrun starts two gloo ranks; each trains on its own batches and writes a hash of its weights."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    torchrun = Path(sys.executable).with_name("torchrun")
    cmd = [str(torchrun), "--nproc_per_node", "2", "--master_addr", "127.0.0.1", "--master_port", str(_free_port()),
           __file__, str(tmp_path)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    hashes = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert hashes[0]["world"] == hashes[1]["world"] == 2
    assert hashes[0]["params"] == hashes[1]["params"]
    assert hashes[0]["init"] != hashes[0]["params"]  # it did train
    assert hashes[0]["first_batch"] != hashes[1]["first_batch"]  # on different data
    assert len(read_log(tmp_path / "run" / "train_log.jsonl")) == 6


def _param_hash(model: nn.Module) -> str:
    h = hashlib.sha256()
    for k, v in sorted(model.state_dict().items()):
        h.update(k.encode())
        h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def _ddp_worker(out: Path) -> None:
    rank = int(os.environ["RANK"])
    torch.manual_seed(0)
    model, data = TinyFlow(), ToyData()
    init = _param_hash(model)
    first = data.epoch_batches(0)[rank]
    train(model, data, _cfg(steps=6, save_every=3, ema=EMAConfig(), device="auto"), out / "run")
    doc = {"rank": rank, "world": int(os.environ["WORLD_SIZE"]), "init": init, "params": _param_hash(model),
           "first_batch": first}
    (out / f"rank{rank}.json").write_text(json.dumps(doc))


if __name__ == "__main__":
    _ddp_worker(Path(sys.argv[1]))
