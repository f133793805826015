"""Word error rate with our own word-level edit distance (no jiwer).

WER of one utterance = (substitutions + deletions + insertions) / reference words, after the shared
normalisation (``eval.text.normalize_text``). The papers report the *mean of per-utterance WER*
(their evaluation scripts), not the corpus-level ratio, so ``mean_wer`` averages utterance scores.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from deepaudio.eval.text import words


@dataclass(frozen=True)
class WordErrors:
    substitutions: int
    deletions: int
    insertions: int
    ref_words: int

    @property
    def wer(self) -> float:
        edits = self.substitutions + self.deletions + self.insertions
        if self.ref_words == 0:
            return 0.0 if edits == 0 else 1.0
        return edits / self.ref_words


def align_words(ref: Sequence[str], hyp: Sequence[str]) -> WordErrors:
    """Levenshtein alignment over words; ties prefer substitutions (the usual WER convention)."""
    n, m = len(ref), len(hyp)
    # Each cell holds (cost, subs, dels, ins); one row at a time keeps memory O(m).
    prev = [(j, 0, 0, j) for j in range(m + 1)]
    for i in range(1, n + 1):
        cur = [(i, 0, i, 0)]
        for j in range(1, m + 1):
            c, s, d, ins = prev[j - 1]
            if ref[i - 1] == hyp[j - 1]:
                best = (c, s, d, ins)
            else:
                best = (c + 1, s + 1, d, ins)
            c, s, d, ins = prev[j]
            if c + 1 < best[0]:
                best = (c + 1, s, d + 1, ins)
            c, s, d, ins = cur[j - 1]
            if c + 1 < best[0]:
                best = (c + 1, s, d, ins + 1)
            cur.append(best)
        prev = cur
    _, s, d, ins = prev[m]
    return WordErrors(s, d, ins, n)


def word_errors(reference: str, hypothesis: str) -> WordErrors:
    """Edit counts between two raw strings after normalisation."""
    return align_words(words(reference), words(hypothesis))


def wer(reference: str, hypothesis: str) -> float:
    """Per-utterance WER of raw strings (normalised here)."""
    return word_errors(reference, hypothesis).wer


def mean_wer(references: Sequence[str], hypotheses: Sequence[str]) -> float:
    """Mean of per-utterance WER, the papers' aggregate."""
    if len(references) != len(hypotheses):
        raise ValueError(f"{len(references)} references but {len(hypotheses)} hypotheses")
    if not references:
        return float("nan")
    return sum(wer(r, h) for r, h in zip(references, hypotheses)) / len(references)
