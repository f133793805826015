"""Sharded batch runs under ``torchrun``: every rank takes the items whose name hashes to it.

``torchrun --nnodes N --nproc_per_node G $(which deepaudio) v2a clips/ -o out/`` starts N*G copies of
the same command; each reads RANK / WORLD_SIZE / LOCAL_RANK from the environment, keeps the items with
``owner(name, world) == rank``, loads its model once and writes each output atomically. The owner
depends only on the item's name, and an item whose outputs all exist is skipped, so a re-run (after a
crash, a killed rank, or on another number of processes) finishes exactly the missing items. The seed
of an item is derived from the base seed and its name (:func:`item_seed`): outputs do not depend on
which rank made them or on the world size.

Each rank keeps a journal beside the outputs (one line per item: done, skipped, failed with the reason);
after one barrier rank 0 merges the journals into ``batch_summary.json``. No other collective is used, so a
rank that fails still leaves a summary (rank 0 lists the ranks whose record is missing). The process
group exists only for that barrier: gloo on CPU, NCCL when the command runs on CUDA.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import torch

from deepaudio.io.atomic import atomic_path
from deepaudio.io.batch_inputs import BatchItem

SUMMARY_NAME = "batch_summary.json"
MAX_LISTED = 1000  # failures named in the summary (memory stays bounded when every item fails)
# Ranks finish at different times (unequal shards, long clips): the barrier must outwait the slowest.
BARRIER_TIMEOUT = datetime.timedelta(hours=int(os.environ.get("DEEPAUDIO_BARRIER_HOURS", "48")))


@dataclass(frozen=True)
class Ranks:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @classmethod
    def from_env(cls) -> Ranks:
        """The torchrun / Accelerate environment (one process when unset)."""
        env = os.environ
        return cls(int(env.get("RANK", 0)), int(env.get("WORLD_SIZE", 1)), int(env.get("LOCAL_RANK", 0)))

    @property
    def prefix(self) -> str:
        return f"[rank {self.rank}/{self.world}]"


def stable_hash(text: str) -> int:
    """64-bit hash of a string, equal in every process and Python version (unlike ``hash``)."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "big")


def owner(name: str, world: int) -> int:
    """The rank that processes the item ``name`` among ``world`` ranks."""
    return stable_hash(name) % world if world > 1 else 0


def item_seed(base_seed: int, name: str) -> int:
    """The seed of one item: the same for the item whatever rank or world size generates it."""
    return stable_hash(f"{base_seed}\x00{name}") % (2**31)


def cuda_device_for_rank(name: str) -> torch.device:
    """``cuda`` under torchrun means this rank's local GPU (LOCAL_RANK); an explicit ``cuda:k`` is kept."""
    device = torch.device(name)
    if device.type == "cuda" and device.index is None and "LOCAL_RANK" in os.environ:
        device = torch.device("cuda", Ranks.from_env().local_rank)
    return device


class _Journal:
    """This rank's record: one JSON line per item as it ends, then a line with the totals. Only counts stay
    in memory; the lines already written survive a killed process (a cut last line is ignored)."""

    def __init__(self, path: Path, ranks: Ranks):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)  # a record from an earlier run must not stand in for this one
        self.ranks, self.t0, self.error = ranks, time.perf_counter(), None
        self.counts = {"done": 0, "skipped": 0, "failed": 0}
        self._fh = path.open("w", encoding="utf-8")

    def add(self, name: str, status: str, reason: str | None = None) -> None:
        self.counts[status] += 1
        self._fh.write(json.dumps({"name": name, "status": status, **({"reason": reason} if reason else {})}) + "\n")
        self._fh.flush()

    def close(self, finished: bool) -> None:
        end = {"end": True, "rank": self.ranks.rank, "world_size": self.ranks.world, "finished": finished,
               "error": self.error, "wall_s": round(time.perf_counter() - self.t0, 3), **self.counts}
        self._fh.write(json.dumps(end) + "\n")
        self._fh.close()


def read_journal(path: Path, max_failures: int = MAX_LISTED) -> dict | None:
    """Totals and (the first ``max_failures``) failures of a rank's journal; None when it has no end line."""
    failures, end = [], None
    with path.open(encoding="utf-8") as f:
        for line in f:
            try:
                doc = json.loads(line)
            except json.JSONDecodeError:
                continue
            if doc.get("end"):
                end = doc
            elif doc.get("status") == "failed" and len(failures) < max_failures:
                failures.append({"name": doc["name"], "reason": doc.get("reason", "")})
    return None if end is None else {**end, "failures": failures}


class BatchRun:
    """One rank's part of a batch: ``run(items, outputs_of, work)`` then the merged summary on rank 0."""

    def __init__(self, command: str, summary_dir: Path, device: torch.device | str = "cpu", overwrite: bool = False,
                 log: Callable[[str], None] | None = None):
        self.command, self.summary_dir, self.overwrite = command, Path(summary_dir), overwrite
        self.ranks = Ranks.from_env()
        self.device = torch.device(device)
        self._print = log or (lambda msg: print(msg, file=sys.stderr, flush=True))

    def log(self, msg: str) -> None:
        """A line of this rank's log (prefixed with ``[rank r/w]`` when there are several ranks)."""
        self._print(f"{self.ranks.prefix} {msg}" if self.ranks.world > 1 else msg)

    def mine(self, items: Iterable[BatchItem]) -> Iterable[BatchItem]:
        """This rank's items, streamed (nothing of the manifest is kept)."""
        r, w = self.ranks.rank, self.ranks.world
        return (it for it in items if owner(it.name, w) == r)

    def run(self, items: Iterable[BatchItem], outputs_of: Callable[[BatchItem], list[Path]],
            work: Callable[[BatchItem, list[Path]], None]) -> int:
        """Process this rank's items; an item whose outputs all exist is skipped (unless ``overwrite``).
        Returns the exit code: 0, or 1 when an item failed (on any rank, as seen by rank 0)."""
        rec = _Journal(self.journal(self.ranks.rank), self.ranks)
        error: BaseException | None = None
        # Outputs claimed by earlier items of this rank (8-byte digests: memory stays small for 100k items).
        # Items of one name share a rank, so two inputs that map to one output ("talk.mp4", "talk.mkv") meet here.
        claimed: set[bytes] = set()
        try:
            for item in self.mine(items):
                self._one(item, outputs_of, work, rec, claimed)
        except BaseException as exc:  # the inputs broke off (an unreadable manifest line), Ctrl-C ...
            error = exc
            rec.error = str(exc)
        rec.close(finished=error is None)
        if error is not None and not isinstance(error, Exception):
            raise error  # interrupted: no barrier, torchrun stops the others
        code = self._merge(rec)  # the ranks still meet, so rank 0 writes the summary with the reason
        if error is not None:
            raise error
        return code

    def _one(self, item: BatchItem, outputs_of, work, rec: _Journal, claimed: set[bytes]) -> None:
        if item.error is not None:
            rec.add(item.name, "failed", item.error)
            self.log(f"deepaudio: error: {item.name}: {item.error}")
            return
        try:
            outs = [p for p in outputs_of(item) if p is not None]
            keys = _claim(item, outs, claimed)
            if not self.overwrite and outs and all(p.exists() for p in outs):
                claimed.update(keys)
                rec.add(item.name, "skipped")
                return
            work(item, outs)
            claimed.update(keys)
        except Exception as exc:  # noqa: BLE001 - one bad item is reported, the batch goes on
            reason = str(exc) if _is_user_error(exc) else f"{type(exc).__name__}: {exc}"
            rec.add(item.name, "failed", reason)
            self.log(f"deepaudio: error: {item.name}: {reason}")
            return
        rec.add(item.name, "done")
        self.log(f"{item.name}: done")

    def journal(self, rank: int) -> Path:
        """Where rank ``rank`` records its items (``OUT/.<command>_rankNNNNN.jsonl``)."""
        return self.summary_dir / f".{self.command}_rank{rank:05d}.jsonl"

    def _merge(self, rec: _Journal) -> int:
        """Barrier, then rank 0 merges every rank's journal into the summary."""
        barrier_ok = _barrier(self.device, self.ranks)
        if self.ranks.rank != 0:
            return 2 if rec.counts["failed"] else 0
        parts, missing = [], []
        for r in range(self.ranks.world):
            part = read_journal(self.journal(r)) if self.journal(r).is_file() else None
            if part is None:
                missing.append(r)
            else:
                parts.append(part)
        for stale in self.summary_dir.glob(f".{self.command}_rank*.jsonl"):  # from a run on more processes
            number = stale.stem.rpartition("rank")[2]
            if number.isdigit() and int(number) >= self.ranks.world:
                stale.unlink(missing_ok=True)
        path = self.summary_dir / SUMMARY_NAME
        summary = _summary(self.command, self.ranks.world, parts, missing, barrier_ok)
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(summary, indent=2) + "\n")
        print(f"{summary['items']} items: {summary['done']} done, {summary['skipped']} skipped, {summary['failed']} "
              f"failed ({path})", flush=True)
        if not summary["complete"]:
            stopped = missing + [p["rank"] for p in parts if not p["finished"]]
            print(f"deepaudio: error: rank(s) {stopped or 'unknown'} did not finish (see {path}); run the same "
                  "command again to finish their items", file=sys.stderr)
        return 2 if summary["failed"] or not summary["complete"] else 0


def _claim(item: BatchItem, outs: list[Path], claimed: set[bytes]) -> list[bytes]:
    """Refuse an item whose output would overwrite its own input, or an output an earlier item made; the keys
    to claim once this item's outputs exist."""
    from deepaudio.errors import InputError

    src = item.path.resolve() if item.source is not None else None
    keys = []
    for p in outs:
        r = p.resolve()
        if src is not None and r == src:
            raise InputError(f"output {p} would overwrite an input", src, "write the outputs to another folder")
        key = hashlib.blake2b(str(r).encode("utf-8", "surrogateescape"), digest_size=8).digest()
        if key in claimed:
            raise InputError(f"output {p} is already written for another input of the same name", src,
                             "rename one of the inputs or run them separately")
        keys.append(key)
    return keys


def _summary(command: str, world: int, parts: list[dict], missing: list[int], barrier_ok: bool) -> dict:
    totals = {k: sum(p[k] for p in parts) for k in ("done", "skipped", "failed")}
    failures = [{**f, "rank": p["rank"]} for p in parts for f in p["failures"]][:MAX_LISTED]
    return {"command": command, "world_size": world, "items": sum(totals.values()), **totals,
            "failures": failures,  # the first MAX_LISTED; every one is in the rank journals
            "complete": barrier_ok and not missing and all(p["finished"] for p in parts),
            "missing_ranks": missing,
            "rank_errors": {str(p["rank"]): p["error"] for p in parts if p.get("error")},
            "ranks": [{k: p[k] for k in ("rank", "finished", "wall_s", "done", "skipped", "failed")} for p in parts]}


def _is_user_error(exc: Exception) -> bool:
    from deepaudio.errors import DeepAudioError

    return isinstance(exc, DeepAudioError)


def _barrier(device: torch.device, ranks: Ranks) -> bool:
    """Wait for every rank (a process group made for this and destroyed after); False when a peer is gone."""
    if ranks.world <= 1:
        return True
    import torch.distributed as dist

    created = not dist.is_initialized()
    try:
        if created:
            backend = "nccl" if device.type == "cuda" else "gloo"
            if backend == "nccl":
                torch.cuda.set_device(device)
            dist.init_process_group(backend, timeout=BARRIER_TIMEOUT)
        if dist.get_backend() == "nccl":
            dist.barrier(device_ids=[torch.cuda.current_device()])
        else:
            dist.barrier()
        return True
    except (RuntimeError, ValueError, OSError) as exc:  # a peer died or never came: merge what exists
        print(f"{ranks.prefix} barrier failed ({exc}); merging the records that exist", file=sys.stderr)
        return False
    finally:
        if created and dist.is_initialized():
            dist.destroy_process_group()
