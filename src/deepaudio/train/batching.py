"""Frame-budget dynamic batching, deterministic given (seed, epoch).

Like the F5-TTS ``DynamicBatchSampler``: samples are sorted by length so that a batch holds clips of
similar length (little padding), packed greedily up to a frame budget, and the batch order is
shuffled. Here the budget counts padded frames (batch size x longest clip: what memory and compute
see), ties in length are broken by a seeded random key so batches differ between epochs, and the
whole epoch's order is a pure function of ``seed`` and ``epoch``. That makes the data position
(epoch, index) enough to resume exactly, on any number of processes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from deepaudio.errors import ConfigError


@dataclass(frozen=True)
class FrameBudgetBatcher:
    lengths: tuple[int, ...]  # frames of each sample
    max_frames: int  # padded frames per batch (per process)
    max_samples: int = 64
    seed: int = 0
    shuffle: bool = True

    def __post_init__(self):
        if self.max_frames < 1 or self.max_samples < 1:
            raise ConfigError(f"batch budget must be positive (frames {self.max_frames}, samples {self.max_samples})")
        if not self.usable():
            longest = max(self.lengths, default=0)
            raise ConfigError(f"no sample fits the batch budget of {self.max_frames} frames (longest {longest})",
                              hint="raise --batch-frames or use shorter clips")

    @classmethod
    def build(cls, lengths: Sequence[int], max_frames: int, max_samples: int = 64, seed: int = 0,
              shuffle: bool = True) -> FrameBudgetBatcher:
        return cls(tuple(int(n) for n in lengths), int(max_frames), int(max_samples), int(seed), shuffle)

    def usable(self) -> list[int]:
        """Indices of samples that fit the budget on their own (longer ones are skipped, as in F5-TTS)."""
        return [i for i, n in enumerate(self.lengths) if 0 < n <= self.max_frames]

    def skipped(self) -> int:
        return len(self.lengths) - len(self.usable())

    def epoch_batches(self, epoch: int) -> list[list[int]]:
        """The batches (lists of sample indices) of ``epoch`` in training order."""
        idx = self.usable()
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        if self.shuffle:
            keys = torch.rand(len(self.lengths), generator=g).tolist()
            idx.sort(key=lambda i: (self.lengths[i], keys[i]))
        else:
            idx.sort(key=lambda i: (self.lengths[i], i))
        batches: list[list[int]] = []
        cur: list[int] = []
        for i in idx:
            longest = max(self.lengths[i], self.lengths[cur[-1]] if cur else 0)  # sorted: the newcomer
            if cur and (longest * (len(cur) + 1) > self.max_frames or len(cur) >= self.max_samples):
                batches.append(cur)
                cur = []
            cur.append(i)
        if cur:
            batches.append(cur)
        if self.shuffle:
            order = torch.randperm(len(batches), generator=g).tolist()
            batches = [batches[k] for k in order]
        return batches


@dataclass(frozen=True)
class FixedBatches:
    """A fixed list of batches (validation: the same batches at every evaluation)."""

    batches: tuple[tuple[int, ...], ...]

    def epoch_batches(self, epoch: int) -> list[list[int]]:
        return [list(b) for b in self.batches]
