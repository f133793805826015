"""Train / validation / test splits that share no clip seed, sentence or speaker-prompt pairing.

* Clip ``i`` gets its split from a prefix-stable largest-deficit schedule: any first ``n`` clips hold the
  split fractions as closely as integers allow, and growing ``--n`` later never moves a written clip.
* Clip seeds are a hash of (master seed, clip index): distinct indices give distinct seeds.
* Sentences are partitioned once by a seeded hash order; a clip draws its target *and* its voice
  prompt from its own split's sentences, so no (speaker, prompt sentence) pairing crosses splits.
* With ``unseen_speakers``, speakers marked ``test_only`` speak only in the test split (the paper's "unseen
  speaker" setting); without it every speaker speaks in every split.
"""

from __future__ import annotations

import hashlib

from deepaudio.data.toyworld.voices import SPEAKERS, Speaker

SPLITS = ("train", "val", "test")


def assign_splits(n: int, fractions: tuple[float, float, float]) -> list[str]:
    """Split name of clips ``0..n-1``; ties go to the earlier split."""
    counts = [0, 0, 0]
    out = []
    for i in range(n):
        deficits = [(i + 1) * f - c for f, c in zip(fractions, counts)]
        k = max(range(3), key=lambda j: (deficits[j], -j))
        counts[k] += 1
        out.append(SPLITS[k])
    return out


def clip_seed(master_seed: int, index: int) -> int:
    digest = hashlib.sha256(f"toyworld-clip:{master_seed}:{index}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


def sentence_splits(sentences: tuple[str, ...] | list[str], fractions: tuple[float, float, float],
                    seed: int) -> dict[str, list[str]]:
    """Disjoint sentence pools per split (each with at least two sentences: a target and a prompt)."""
    order = sorted(sentences, key=lambda s: hashlib.sha256(f"toyworld-sent:{seed}:{s}".encode()).digest())
    n = len(order)
    if n < 6:
        raise ValueError("need at least 6 sentences to make three splits")
    n_val = max(2, int(round(fractions[1] * n)))
    n_test = max(2, int(round(fractions[2] * n)))
    n_train = n - n_val - n_test
    return {"train": order[:n_train], "val": order[n_train:n_train + n_val], "test": order[n_train + n_val:]}


def split_speakers(split: str, allowed: tuple[str, ...] = (), unseen: bool = False) -> list[Speaker]:
    """Speakers of ``split`` among ``allowed`` ids (empty: all); with ``unseen``, test-only ones speak only
    in the test split."""
    pool = [s for s in SPEAKERS if not allowed or s.id in allowed]
    return [s for s in pool if split == "test" or not (unseen and s.test_only)]
