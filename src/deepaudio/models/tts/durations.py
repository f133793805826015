"""Token durations for the phoneme-input TTS: a per-token duration table, frame-level expansion and a
flat-start forced aligner that finds the training durations from the audio alone.

Shape key: T mel frames, N tokens, F aligner features.

Why: an F5-style DiT learns the text-to-frame alignment by itself only after many updates
(a 6.3M-parameter probe trained from characters on 2 CPU cores still spoke babble after 2 200 steps, and its
held-out loss was the same with the true text, another text or none). Given each frame's token instead (the
text ids expanded by their durations, the same frame-length text sequence the F5 text embedding pads
to), the network only has to learn what each phoneme sounds like. The durations come from

- training: :func:`align_corpus`, a flat-start monotonic Viterbi aligner (the classic HMM recipe:
  uniform segmentation, then per-phoneme Gaussian means re-estimated from the best path, a few
  rounds) on per-utterance normalised cepstra of the log-mel; word gaps may take zero frames;
- inference: :class:`DurationTable` (mean frames per token over the aligned training set), scaled so
  the tokens fill the planned number of frames; for V2S, ``deepaudio.v2s.placement`` moves the text's
  pauses into the timing contour's quiet runs (or :func:`integer_durations` spreads the tokens along it).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from deepaudio.errors import CheckpointError

FILE = "durations.json"
FORMAT = 1


class DurationTable:
    """Mean duration (mel frames) of each token id; ids the table lacks get ``default``."""

    def __init__(self, frames: dict[int, float], default: float):
        self.frames = {int(k): float(v) for k, v in frames.items()}
        self.default = float(default)

    @classmethod
    def fit(cls, ids: Sequence[Sequence[int]], durations: Sequence[Sequence[int]]) -> DurationTable:
        sums: dict[int, float] = {}
        counts: dict[int, int] = {}
        for seq, dur in zip(ids, durations):
            for i, d in zip(seq, dur):
                sums[i] = sums.get(i, 0.0) + d
                counts[i] = counts.get(i, 0) + 1
        total = sum(counts.values())
        default = sum(sums.values()) / total if total else 6.0
        return cls({i: sums[i] / counts[i] for i in sums}, default)

    def predict(self, ids: Sequence[int]) -> np.ndarray:
        """(N,) float frames at the training set's speaking rate."""
        return np.array([self.frames.get(int(i), self.default) for i in ids], dtype=np.float64)

    def to_dict(self) -> dict:
        frames = {str(k): v for k, v in sorted(self.frames.items())}
        return {"format": FORMAT, "default": self.default, "frames": frames}

    @classmethod
    def from_dict(cls, doc: dict, source: str | Path | None = None) -> DurationTable:
        if not isinstance(doc, dict) or doc.get("format") != FORMAT or not isinstance(doc.get("frames"), dict):
            raise CheckpointError(f"not a duration table (format {FORMAT})", source,
                                  "re-export the model with deepaudio train tts --durations")
        return cls({int(k): v for k, v in doc["frames"].items()}, doc.get("default", 6.0))

    @classmethod
    def load(cls, path: str | Path) -> DurationTable:
        path = Path(path)
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CheckpointError(f"duration table unreadable: {exc}", path) from exc
        return cls.from_dict(doc, path)

    def to_text(self) -> str:
        return json.dumps(self.to_dict(), indent=1) + "\n"


def integer_durations(durations: np.ndarray, total: int, density: torch.Tensor | np.ndarray | None = None
                      ) -> np.ndarray:
    """Whole-frame durations summing to ``total``, in proportion to ``durations`` (float, (N,)).

    With ``density`` ((total,) >= 0, e.g. a V2S energy contour) the tokens are laid along the cumulative
    density instead of the clock: frames where the density is high take more of the speech, so phonemes
    fall where the contour says someone talks. Zero-density stretches still take ~1 % of a uniform share.
    """
    d = np.clip(np.asarray(durations, dtype=np.float64), 1e-6, None)
    if total <= 0 or d.size == 0:
        return np.zeros(d.size, dtype=np.int64)
    frac = np.cumsum(d) / d.sum()  # where each token ends, in (0, 1]
    if density is None:
        ends = np.round(frac * total)
    else:
        w = np.asarray(density, dtype=np.float64).reshape(-1)[:total]
        w = np.concatenate([np.clip(w, 0.0, None), np.zeros(total - w.size)])
        w = w / max(w.sum(), 1e-12) + 0.01 / total
        cum = np.cumsum(w) / w.sum()  # fraction of the speech done by the end of each frame
        ends = np.searchsorted(cum, frac - 1e-9) + 1.0
    ends = np.clip(ends, 0, total).astype(np.int64)
    ends[-1] = total
    ends = np.maximum.accumulate(ends)
    return np.diff(np.concatenate([[0], ends]))


def expand(ids: Sequence[int], frames: np.ndarray) -> torch.Tensor:
    """(sum(frames),) int64: each id repeated for its frames."""
    return torch.repeat_interleave(torch.as_tensor(list(ids), dtype=torch.long),
                                   torch.as_tensor(np.asarray(frames), dtype=torch.long))


# -- forced alignment --------------------------------------------------------------------------------

def aligner_features(mel: torch.Tensor, n_ceps: int = 20) -> np.ndarray:
    """(T, M) log-mel -> (T, 2 * n_ceps) cepstra (DCT-II of the log-mel) + deltas, normalised per utterance
    (zero mean, unit variance), which removes most of the speaker and channel."""
    x = mel.detach().float().cpu().numpy().astype(np.float64)
    m = x.shape[1]
    k = np.arange(n_ceps)[:, None]
    basis = np.cos(np.pi * k * (np.arange(m)[None] + 0.5) / m)  # (n_ceps, M)
    c = x @ basis.T
    pad = np.concatenate([c[:1], c, c[-1:]])
    delta = (pad[2:] - pad[:-2]) / 2.0
    f = np.concatenate([c, delta], axis=1)
    return (f - f.mean(0)) / (f.std(0) + 1e-5)


def viterbi(loglik: np.ndarray, skippable: np.ndarray) -> np.ndarray | None:
    """Best monotonic path through (T, N) frame/token log-likelihoods -> (N,) frames per token.

    Every token takes >= 1 frame except ``skippable`` ones (word gaps), which may take 0; the path starts
    in the first token that is not skipped and ends in the last. None when T is too short.
    """
    t_len, n = loglik.shape
    need = int((~skippable).sum())
    if n == 0 or t_len < max(1, need):
        return None
    neg = -1e30
    score = np.full(n, neg)
    score[0] = loglik[0, 0]
    if n > 1 and skippable[0]:
        score[1] = loglik[0, 1]
    back = np.zeros((t_len, n), dtype=np.int8)  # 0 stay, 1 from n-1, 2 from n-2 (skipping n-1)
    can_skip = np.zeros(n, dtype=bool)
    can_skip[2:] = skippable[1:-1]
    for t in range(1, t_len):
        stay = score
        step = np.concatenate([[neg], score[:-1]])
        jump = np.where(can_skip, np.concatenate([[neg, neg], score[:-2]]), neg)
        choice = np.argmax(np.stack([stay, step, jump]), axis=0)
        best = np.maximum(np.maximum(stay, step), jump)
        score = best + loglik[t]
        back[t] = choice
    end = n - 1 if not (skippable[-1] and n > 1 and score[n - 2] > score[n - 1]) else n - 2
    if score[end] <= neg / 2:
        return None
    frames = np.zeros(n, dtype=np.int64)
    j = end
    for t in range(t_len - 1, -1, -1):
        frames[j] += 1
        c = back[t, j]
        if t > 0:
            j -= int(c)
    return frames


def _uniform(n_frames: int, skippable: np.ndarray) -> np.ndarray:
    weights = np.where(skippable, 0.15, 1.0)
    return integer_durations(weights, n_frames)


def align_corpus(mels: Sequence[torch.Tensor], ids: Sequence[Sequence[int]], speakers: Sequence[str],
                 skip_ids: set[int], rounds: int = 8, means: dict | None = None,
                 progress: Callable[[str], None] | None = None) -> tuple[list[np.ndarray | None], dict]:
    """Flat-start alignment of a corpus -> (frames per token for each utterance (None: too short), model).

    ``means`` (a model from an earlier call) aligns new utterances (e.g. validation) with fixed
    statistics in one pass. The model holds per-token means and variances, pooled over speakers, plus
    per-speaker means shrunk towards the pooled ones (``prior`` frames of weight).
    """
    feats = [aligner_features(m) for m in mels]
    seqs = [np.asarray(s, dtype=np.int64) for s in ids]
    skips = [np.isin(s, list(skip_ids)) for s in seqs]
    durs: list[np.ndarray | None] = [_uniform(f.shape[0], k) if f.shape[0] >= len(s) else None
                                     for f, s, k in zip(feats, seqs, skips)]
    model = means
    n_rounds = 1 if means is not None else rounds
    for r in range(n_rounds):
        if model is None or means is None:
            model = _estimate(feats, seqs, durs, speakers)
        changed = 0
        for u, (f, s, k) in enumerate(zip(feats, seqs, skips)):
            ll = _loglik(f, s, speakers[u], model)
            new = viterbi(ll, k)
            if new is not None and (durs[u] is None or not np.array_equal(new, durs[u])):
                changed += 1
            durs[u] = new
        if progress:
            progress(f"alignment round {r + 1}/{n_rounds}: {changed} of {len(seqs)} utterances changed")
        if means is None and changed == 0:
            break
    if means is None:
        model = _estimate(feats, seqs, durs, speakers)
    return durs, model


def _estimate(feats, seqs, durs, speakers, prior: float = 30.0) -> dict:
    dim = feats[0].shape[1]
    sums: dict[tuple[str, int], np.ndarray] = {}
    counts: dict[tuple[str, int], float] = {}
    sq: dict[int, np.ndarray] = {}
    for f, s, d, spk in zip(feats, seqs, durs, speakers):
        if d is None:
            continue
        lab = np.repeat(s, d)
        for tok in np.unique(lab):
            rows = f[lab == tok]
            for key in ((spk, int(tok)), ("", int(tok))):
                sums[key] = sums.get(key, np.zeros(dim)) + rows.sum(0)
                counts[key] = counts.get(key, 0.0) + rows.shape[0]
            sq[int(tok)] = sq.get(int(tok), np.zeros(dim)) + (rows ** 2).sum(0)
    pooled = {tok: sums[("", tok)] / counts[("", tok)] for (spk, tok) in sums if spk == ""}
    var = {tok: np.clip(sq[tok] / counts[("", tok)] - pooled[tok] ** 2, 0.05, None) for tok in pooled}
    spk_means = {key: (sums[key] + prior * pooled[key[1]]) / (counts[key] + prior)
                 for key in sums if key[0] != ""}
    return {"pooled": pooled, "var": var, "speaker": spk_means, "dim": dim}


def _loglik(f: np.ndarray, s: np.ndarray, speaker: str, model: dict) -> np.ndarray:
    dim = model["dim"]
    mu = np.stack([model["speaker"].get((speaker, int(t)), model["pooled"].get(int(t), np.zeros(dim))) for t in s])
    var = np.stack([model["var"].get(int(t), np.ones(dim)) for t in s])
    diff = f[:, None, :] - mu[None]  # (T, N, F)
    norm = 0.5 * np.log(var).sum(-1)[None] + 0.5 * dim * math.log(2 * math.pi)
    return -0.5 * ((diff ** 2) / var[None]).sum(-1) - norm
