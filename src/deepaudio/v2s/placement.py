"""V2S placement: which contour frames each phoneme of the text takes.

The energy-conditioned TTS hears the contour, but a phoneme-input model is also told each frame's token;
where those tokens go decides where words and pauses fall. Three placements:

- "align" (default): :func:`contour_durations`, a dynamic programme that puts the text's pauses
  (sentence ends first) into the contour's quiet runs;
- "active": the phonemes at their own relative durations over the non-quiet frames;
- "energy": spread along the contour's cumulative energy.
Sentence starts on the toy world's multi-sentence clips, lip contour: median 68 ms from the real ones
with "align", 259 ms with "active", 282 ms with "energy" (test split; validation 36 / 418 / 334 ms;
``benchmarks/bench_v2s_placement.py``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from deepaudio.errors import ConfigError
from deepaudio.models.tts.durations import expand, integer_durations
from deepaudio.v2s.contour import quiet_runs

PLACEMENT = "align"
PLACEMENTS = ("align", "active", "energy")
SENTENCE_ENDS = ".!?;:\u3002\uff01\uff1f\uff1b"
BILABIALS = {"P", "B", "M", "p", "b", "m"}


# Contour alignment (V2S placement "align"). A token expected to last mu frames that gets L costs (ln L/mu)^2;
# each contour-quiet frame under it costs its kind's price below. Pauses (word gaps, punctuation) pay the
# log cost only for their non-quiet frames, so they stretch over quiet runs; a sentence end does so for
# free, a word gap for a little (a 20-frame pause in mid-sentence costs 1.2, about a phoneme at 3x its
# length), a phoneme said with open lips for 0.1 a frame (lip and energy contours dip inside words too).
QUIET_COST = {"phoneme": 0.1, "closed": 0.0, "word": 0.06, "phrase": 0.02, "sentence": 0.0}
MAX_STRETCH = 4.0  # a phoneme lasts at most 4x (and at least 1 frame) its expected length ...
MAX_EXTRA = 8  # ... or 8 frames more, whichever is longer


def contour_durations(durations: np.ndarray, quiet: np.ndarray, kinds: Sequence[str]) -> np.ndarray | None:
    """Whole-frame durations (N,) summing to ``len(quiet)`` that put the text's pauses where the contour is quiet.

    ``durations``: (N,) expected frames per token at any rate; ``quiet``: (T,) bool, frames where the
    contour says nobody talks (``quiet_runs``); ``kinds``: each token's kind, a key of ``QUIET_COST``
    ("phoneme", "closed" for bilabials, whose lips shut, "word" gap, "phrase" or "sentence" punctuation).
    The expected durations are scaled to fill the window less its longest quiet runs, one per sentence
    boundary; a monotonic dynamic programme (every token at least one frame) then minimises the summed
    span costs, so sentence and word boundaries move into the contour's pauses instead of being spread
    over the window by duration alone. None when the tokens cannot fit (fewer frames than tokens).
    """
    d = np.clip(np.asarray(durations, dtype=np.float64).reshape(-1), 1e-3, None)
    q = np.asarray(quiet, dtype=bool).reshape(-1)
    kinds = list(kinds)
    n, t = d.size, q.size
    if n == 0 or t < n or len(kinds) != n:
        return None
    unknown = set(kinds) - set(QUIET_COST)
    if unknown:
        raise ValueError(f"unknown token kind(s) {sorted(unknown)}; use {sorted(QUIET_COST)}")
    price = np.array([QUIET_COST[k] for k in kinds])
    pause = np.array([k in ("word", "phrase", "sentence") for k in kinds])
    runs = sorted(_runs(q), reverse=True)
    boundaries = sum(k == "sentence" for k in kinds[:-1])
    speaking = max(1, t - sum(runs[:boundaries]))
    mu = d * speaking / d.sum()
    cq = np.concatenate([[0], np.cumsum(q)])
    cost = np.full(t + 1, np.inf)
    cost[0] = 0.0
    back = np.zeros((n, t + 1), dtype=np.int32)
    longest = runs[0] if runs else 0
    for i in range(n):
        if pause[i]:  # its own length plus the longest quiet run (and slack)
            lmax = int(mu[i] + 2 * MAX_EXTRA) + longest
        else:
            lmax = int(max(MAX_STRETCH * mu[i], mu[i] + MAX_EXTRA, 1))
        new = np.full(t + 1, np.inf)
        best = np.zeros(t + 1, dtype=np.int32)
        for length in range(1, min(lmax, t) + 1):
            starts = np.arange(0, t + 1 - length)
            qn = cq[starts + length] - cq[starts]
            timed = length - qn + 1.0 if pause[i] else np.full(starts.size, float(length))
            span = np.log(timed / (mu[i] + (1.0 if pause[i] else 0.0))) ** 2 + price[i] * qn
            cand = cost[starts] + span
            ends = starts + length
            better = cand < new[ends]
            new[ends[better]] = cand[better]
            best[ends[better]] = length
        cost, back[i] = new, best
    if not np.isfinite(cost[t]):
        return None
    out = np.zeros(n, dtype=np.int64)
    pos = t
    for i in range(n - 1, -1, -1):
        out[i] = back[i, pos]
        pos -= out[i]
    return out


def _runs(mask: np.ndarray) -> list[int]:
    """Lengths of the runs of True in ``mask``."""
    out, run = [], 0
    for v in list(mask) + [False]:
        if v:
            run += 1
        elif run:
            out.append(run)
            run = 0
    return out


def token_kinds(tokens: Sequence[str]) -> list[str]:
    """Each token's kind for :func:`contour_durations`: a word gap, phrase or sentence punctuation, a
    bilabial ("closed": the lips shut) or another sound."""
    out = []
    for tok in tokens:
        if not tok.strip():
            out.append("word")
        elif tok in SENTENCE_ENDS:
            out.append("sentence")
        elif not any(ch.isalnum() for ch in tok):
            out.append("phrase")
        else:
            out.append("closed" if tok in BILABIALS else "phoneme")
    return out


def place(frames: np.ndarray, kinds: Sequence[str], contour: torch.Tensor | None, n: int,
          placement: str | None = None) -> tuple[np.ndarray, torch.Tensor | None]:
    """Whole-frame durations (N,) of N tokens over ``n`` frames, and the (n,) bool mask of the frames that
    become pause tokens (None without a contour). ``frames``: (N,) expected frames per token; ``kinds``:
    :func:`token_kinds`. ``placement`` (default :data:`PLACEMENT`):

    - "align": :func:`contour_durations` on the contour's quiet runs; the job's own quiet ends (a chunk that
      starts or ends in a pause) stay outside the speech, and a phoneme the programme chose to keep on
      quiet frames (a closed-lip consonant, a soft sound) is not turned into a pause. Falls back to
      "active" when the tokens do not fit;
    - "active": the phonemes at their own relative durations over the non-quiet frames;
    - "energy": spread along the contour's cumulative energy.
    Every quiet frame outside those kept phonemes is a pause: the contour says nobody talks there."""
    placement = placement or PLACEMENT
    if placement not in PLACEMENTS:
        raise ConfigError(f"unknown placement {placement!r}", hint="use align, active or energy")
    if contour is None:
        return integer_durations(frames, n), None
    c = contour.float().cpu().numpy()
    quiet = quiet_runs(c)
    active = np.flatnonzero(~quiet)
    if placement == "align" and active.size:
        a, b = int(active[0]), int(active[-1]) + 1
        durs = contour_durations(frames, quiet[a:b], kinds)
        if durs is not None:
            spoken = torch.zeros(n, dtype=torch.bool)
            spoken[a:b] = expand([k in ("phoneme", "closed") for k in kinds], durs).bool()
            durs = durs.copy()
            durs[0] += a  # the quiet ends go to the first and last token, and become pause
            durs[-1] += n - b
            return durs, torch.from_numpy(quiet) & ~spoken
    density = c if placement == "energy" else (~quiet).astype("float64")
    return integer_durations(frames, n, density), torch.from_numpy(quiet)
