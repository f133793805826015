"""The one training loop every stage uses: ``loss = model(batch)``, AdamW, EMA, exact resume.

A stage hands over an ``nn.Module`` whose ``forward(batch)`` returns the scalar loss (so DDP sees the
whole computation), a :class:`Batches` source, and an ``export(ema_module, folder)`` function. Hugging
Face Accelerate picks the device and, under ``torchrun``, runs one process per rank with DDP (gloo on
CPU); every process walks the same seeded batch order and takes its own share of each step's batches.
Per update: ``grad_accum`` micro-batches per rank, gradient clipping, AdamW with linear warm-up then
linear decay (:mod:`.optim`), EMA update (:mod:`.ema`). bf16 autocast is an option (weights and optimizer
stay fp32). Checkpoints every ``save_every`` updates hold everything needed to continue bit for bit.
"""

from __future__ import annotations

import contextlib
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch

from deepaudio.checkpoint import load_state_strict
from deepaudio.config import to_dict
from deepaudio.errors import CheckpointError, ConfigError
from deepaudio.train import report, state
from deepaudio.train.ema import EMA, EMAConfig
from deepaudio.train.optim import build_adamw, flatten_optimizer_state, lr_factor, unflatten_optimizer_state


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 1000  # optimizer updates in total
    lr: float = 7.5e-5  # peak learning rate (F5-TTS Base pre-training 7.5e-5; V2S fine-tuning 1e-5)
    warmup: int = 0  # linear warm-up updates (F5: 20 000 pre-training; V2S: 300)
    final_lr_ratio: float = 0.0  # linear decay to this fraction of the peak at ``steps``
    weight_decay: float = 0.01
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    grad_clip: float = 1.0  # max gradient norm (0: off)
    grad_accum: int = 1
    ema: EMAConfig = field(default_factory=EMAConfig)
    precision: str = "fp32"  # fp32 | bf16 (autocast)
    seed: int = 0  # data order and all random draws
    save_every: int = 1000
    keep_checkpoints: int = 2
    log_every: int = 10
    val_every: int = 0  # 0: only at the end (when a validation set is given)
    val_seed: int = 1234  # fixed masks/noise/times for validation, comparable across steps
    device: str = "auto"  # auto | cpu
    find_unused_parameters: bool = False

    def __post_init__(self):
        if self.precision not in ("fp32", "bf16"):
            raise ConfigError(f"unknown precision {self.precision!r}", hint="use fp32 or bf16")
        if self.steps < 1 or self.grad_accum < 1 or self.save_every < 1 or self.log_every < 1:
            raise ConfigError("steps, grad_accum, save_every and log_every must be >= 1")


class Batches(Protocol):
    def epoch_batches(self, epoch: int) -> list[Any]: ...  # batch keys in training order
    def load(self, key: Any) -> Any: ...  # a batch (tensors on CPU) for one key


@dataclass
class TrainResult:
    step: int
    losses: list[tuple[int, float]]
    val_losses: list[tuple[int, float]]
    out_dir: Path
    wall_s: float


def train(model: torch.nn.Module, data: Batches, cfg: TrainConfig, out_dir: str | Path, *,
          val: Batches | None = None, export: Callable[[torch.nn.Module, Path], Any] | None = None,
          resume: bool = False, run_info: dict[str, Any] | None = None,
          on_step: Callable[[int, float], None] | None = None, accelerator=None) -> TrainResult:
    """Train ``model`` for ``cfg.steps`` updates, writing checkpoints, logs and the export under ``out_dir``.

    ``accelerator``: one from :func:`make_accelerator` when the caller needed it earlier (e.g. to share
    data preparation between ranks).
    """
    out_dir = Path(out_dir)
    ckpt_root = out_dir / "checkpoints"
    acc = accelerator or make_accelerator(cfg)
    rank, world, main = acc.process_index, acc.num_processes, acc.is_main_process
    if cfg.precision == "bf16" and acc.device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ConfigError("this GPU has no bfloat16 support", hint="train with --precision fp32")
    state.seed_everything(cfg.seed * 1000 + rank)
    model = model.to(acc.device)
    ema = EMA(model, cfg.ema)
    optimizer = build_adamw(model, cfg.lr, cfg.weight_decay, cfg.betas, cfg.eps)
    wrapped, optimizer = acc.prepare(model, optimizer)

    pos, prior_wall, found = _resume_point(ckpt_root, resume, out_dir, model, ema, optimizer, cfg, acc)
    log = report.TrainLog(out_dir, pos.step if found else None, enabled=main)
    per_step = world * cfg.grad_accum  # batches per update, all ranks together
    t0, start_step, window, keys, keys_epoch = time.perf_counter(), pos.step, [], [], -1
    try:
        while pos.step < cfg.steps:
            if keys_epoch != pos.epoch:
                keys, keys_epoch = data.epoch_batches(pos.epoch), pos.epoch
                if len(keys) < per_step:
                    raise ConfigError(f"the data give {len(keys)} batches per epoch, fewer than the {per_step} "
                                      "needed for one update", hint="use more clips or a smaller --batch-frames")
            if pos.index + per_step > len(keys):  # epoch finished (also after a resume on other world sizes)
                pos.epoch, pos.index = pos.epoch + 1, 0
                continue
            lr = cfg.lr * lr_factor(pos.step, cfg.warmup, cfg.steps, cfg.final_lr_ratio)
            mine = keys[pos.index + rank * cfg.grad_accum:][:cfg.grad_accum]
            total, grad_norm = _update(acc, wrapped, optimizer, data, mine, lr, cfg)
            ema.update(model)
            pos.step += 1
            pos.index += per_step
            if pos.index + per_step > len(keys):
                pos.epoch, pos.index = pos.epoch + 1, 0
            # Every rank's loss (one all-gather): the logged loss is their mean, the list shows each rank stepped.
            per_rank = acc.gather(total.reshape(1)).tolist() if world > 1 else [total.item()]
            value = sum(per_rank) / len(per_rank)
            if not math.isfinite(value):
                raise ConfigError(f"the training loss became {value} at step {pos.step}", out_dir,
                                  "lower the learning rate, raise the warm-up or train in fp32; "
                                  "resume from the last checkpoint with --resume")
            log.write({"step": pos.step, "loss": value, "lr": lr, "grad_norm": grad_norm, "epoch": pos.epoch,
                       **({"rank_losses": per_rank} if world > 1 else {})})
            window.append(value)
            if main and (pos.step % cfg.log_every == 0 or pos.step == cfg.steps):
                rate = (pos.step - start_step) / max(1e-9, time.perf_counter() - t0)
                print(f"step {pos.step}/{cfg.steps} loss {sum(window) / len(window):.4f} lr {lr:.2e} "
                      f"{rate:.2f} steps/s", file=sys.stderr, flush=True)
                window = []
            if val is not None and cfg.val_every and pos.step % cfg.val_every == 0 and main:
                log.write({"step": pos.step, "val_loss": evaluate(model, val, cfg, acc.device)})
            if pos.step % cfg.save_every == 0 or pos.step == cfg.steps:
                _save(acc, ckpt_root, model, ema, optimizer, pos, cfg, run_info, prior_wall + time.perf_counter() - t0)
            if on_step is not None:
                on_step(pos.step, value)
        if val is not None and main and not (cfg.val_every and pos.step % cfg.val_every == 0):
            log.write({"step": pos.step, "val_loss": evaluate(model, val, cfg, acc.device)})
        wall = prior_wall + time.perf_counter() - t0
        if main:
            _finish(log, ema, export, out_dir, cfg, run_info, pos.step, world, wall)
        acc.wait_for_everyone()
    finally:
        log.close()
    return TrainResult(pos.step, log.losses(), log.val_losses(), out_dir, wall)


def _resume_point(ckpt_root: Path, resume: bool, out_dir: Path, model, ema: EMA, optimizer, cfg: TrainConfig,
                  acc) -> tuple[state.Position, float, bool]:
    """Restore the latest checkpoint when resuming; refuse to overwrite a run otherwise."""
    found = state.list_checkpoints(ckpt_root)
    if found and not resume:
        raise ConfigError("the output folder already holds training checkpoints", out_dir,
                          "pass --resume to continue, or choose another output folder")
    if not found:
        return state.Position(), 0.0, False
    pos, prior_wall, saved_cfg = _restore(found[-1], model, ema, optimizer, acc.process_index)
    _say(acc.is_main_process, f"resuming from {found[-1]} (step {pos.step})")
    changed = sorted(k for k, v in to_dict(cfg).items() if k != "steps" and _plain(saved_cfg.get(k, v)) != _plain(v))
    if changed:  # allowed (e.g. a lower lr after a divergence), but the run is no longer a replay
        _say(acc.is_main_process, f"note: settings changed since the checkpoint: {', '.join(changed)}")
    return pos, prior_wall, True


def _plain(value):
    """A setting as JSON stores it (tuples become lists), so a resumed run compares like with like."""
    import json

    return json.loads(json.dumps(value))


def _finish(log: report.TrainLog, ema: EMA, export, out_dir: Path, cfg: TrainConfig, run_info: dict[str, Any] | None,
            step: int, world: int, wall: float) -> None:
    """Main process: export the EMA model, write the summary and the loss curve."""
    if export is not None:
        export(ema.module, out_dir / "model")
    summary = report.summarize(log, {**(run_info or {}), "data_seed": cfg.seed, "steps": step, "world_size": world,
                                     "wall_time_s": round(wall, 3), "train_config": to_dict(cfg)})
    report.write_json(out_dir / report.SUMMARY_NAME, summary)
    report.plot_curve(log, out_dir / report.CURVE_NAME, title=(run_info or {}).get("stage", ""))


def make_accelerator(cfg: TrainConfig):
    """The Accelerate handle: device choice and, under torchrun, the process group (gloo on CPU)."""
    from accelerate import Accelerator, DistributedDataParallelKwargs

    ddp = DistributedDataParallelKwargs(find_unused_parameters=cfg.find_unused_parameters)
    # Accelerate only sets up multi-process CPU training (gloo) when told it runs on the CPU.
    has_accel = torch.cuda.is_available() or (hasattr(torch, "accelerator") and torch.accelerator.is_available())
    return Accelerator(cpu=cfg.device == "cpu" or not has_accel, mixed_precision="no", kwargs_handlers=[ddp])


def _update(acc, wrapped, optimizer, data: Batches, keys: list[Any], lr: float, cfg: TrainConfig,
            ) -> tuple[torch.Tensor, float | None]:
    """One optimizer update over this rank's micro-batches; returns (mean loss, gradient norm before clipping)."""
    for group in optimizer.param_groups:
        group["lr"] = lr
    autocast = torch.autocast(acc.device.type, dtype=torch.bfloat16, enabled=cfg.precision == "bf16")
    total = torch.zeros((), device=acc.device)
    for a, key in enumerate(keys):
        batch = _to_device(data.load(key), acc.device)
        # DDP averages gradients only on the last micro-batch (no all-reduce for the others).
        with (contextlib.nullcontext() if a == len(keys) - 1 else acc.no_sync(wrapped)), autocast:
            loss = wrapped(batch)
        acc.backward(loss / len(keys))
        total += loss.detach().float() / len(keys)
    grad_norm = None
    if cfg.grad_clip > 0:
        grad_norm = float(acc.clip_grad_norm_(wrapped.parameters(), cfg.grad_clip))
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return total, grad_norm


@torch.no_grad()
def evaluate(model: torch.nn.Module, val: Batches, cfg: TrainConfig, device: torch.device) -> float:
    """Mean loss over the validation batches with fixed seeds; the training RNG streams are untouched."""
    saved = state.rng_state()
    state.seed_everything(cfg.val_seed)
    was_training = model.training
    model.eval()
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=cfg.precision == "bf16")
    losses = []
    try:
        for key in val.epoch_batches(0):
            with autocast:
                losses.append(float(model(_to_device(val.load(key), device))))
    finally:
        model.train(was_training)
        state.set_rng_state(saved)
    return sum(losses) / max(1, len(losses))


def _save(acc, root: Path, model, ema: EMA, optimizer, pos: state.Position, cfg: TrainConfig,
          run_info: dict[str, Any] | None, wall: float) -> None:
    from accelerate.utils import gather_object

    rngs = gather_object([state.rng_state()])  # every rank's generators, to the main process
    sums = gather_object([_weights_signature(model)])
    if any(s != sums[0] for s in sums):
        raise RuntimeError(f"ranks hold different weights at step {pos.step} ({sums}); DDP lost synchronisation")
    if acc.is_main_process:
        opt_tensors, opt_structure = flatten_optimizer_state(optimizer.state_dict())
        doc = {"step": pos.step, "epoch": pos.epoch, "index": pos.index, "world_size": acc.num_processes,
               "scheduler": {"kind": "linear_warmup_linear_decay", "step": pos.step, "warmup": cfg.warmup,
                             "total": cfg.steps, "final_ratio": cfg.final_lr_ratio},
               "ema": {"num_updates": ema.num_updates, **to_dict(cfg.ema)}, "optimizer": opt_structure,
               "rng": rngs, "train_config": to_dict(cfg), "run": run_info or {}, "wall_time_s": wall}
        tensors = {"model": model.state_dict(), "ema": ema.state_dict(), "optimizer": opt_tensors}
        state.save_training_checkpoint(state.checkpoint_dir(root, pos.step), tensors, doc)
        state.prune_checkpoints(root, cfg.keep_checkpoints)
    acc.wait_for_everyone()


def _restore(path: Path, model, ema: EMA, optimizer, rank: int) -> tuple[state.Position, float, dict[str, Any]]:
    tensors, doc = state.read_training_checkpoint(path)
    load_state_strict(model, tensors["model"], path / "model.safetensors")
    load_state_strict(ema.module, tensors["ema"], path / "ema.safetensors")
    ema.num_updates = int(doc["ema"]["num_updates"])
    try:
        optimizer.load_state_dict(unflatten_optimizer_state(tensors["optimizer"], doc["optimizer"]))
    except (ValueError, KeyError) as exc:
        raise CheckpointError(f"optimizer state does not match the model ({exc})", path) from exc
    rngs = doc.get("rng", [])
    if rank < len(rngs):
        state.set_rng_state(rngs[rank])
    else:  # more ranks than when saved: a fresh but deterministic stream
        state.seed_everything(int(doc["train_config"]["seed"]) * 1000 + rank + int(doc["step"]))
    pos = state.Position(int(doc["step"]), int(doc["epoch"]), int(doc["index"]))
    return pos, float(doc.get("wall_time_s", 0)), doc.get("train_config", {})


@torch.no_grad()
def _weights_signature(model: torch.nn.Module) -> tuple[float, float]:
    """(sum, sum of squares) of all parameters in float64: equal on every rank while DDP keeps them in step."""
    total = sq = 0.0
    for p in model.parameters():
        x = p.detach().double()
        total += float(x.sum())
        sq += float((x * x).sum())
    return total, sq


def _to_device(batch: Any, device: torch.device) -> Any:
    if torch.is_tensor(batch):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        return {k: _to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, list | tuple):
        return type(batch)(_to_device(v, device) for v in batch)
    return batch


def _say(main: bool, msg: str) -> None:
    if main:
        print(msg, file=sys.stderr, flush=True)
