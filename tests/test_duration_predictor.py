"""The context duration predictor: learns what a per-token table cannot, saves/loads, drives the pipeline."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deepaudio.errors import CheckpointError
from deepaudio.models.tts.duration_predictor import DurationPredictor, evaluate, fit_duration_predictor
from deepaudio.models.tts.durations import DurationTable


def _corpus(n: int, seed: int):
    """Token 1 is a pause; a token lasts 3 frames, 9 when the pause follows it (phrase-final lengthening)."""
    rng = np.random.default_rng(seed)
    ids, durs = [], []
    for _ in range(n):
        seq = list(rng.integers(2, 12, size=int(rng.integers(6, 20))))
        for k in rng.choice(len(seq) - 1, size=2, replace=False):
            seq[k + 1] = 1
        d = [2 if t == 1 else (9 if k + 1 < len(seq) and seq[k + 1] == 1 else 3) for k, t in enumerate(seq)]
        ids.append([int(t) for t in seq])
        durs.append(d)
    return ids, durs


def test_predictor_learns_context_the_table_cannot():
    ids, durs = _corpus(300, 0)
    vids, vdurs = _corpus(60, 1)
    table = DurationTable.fit(ids, durs)
    net, report = fit_duration_predictor(ids, durs + [], 12, vids, vdurs, steps=400, batch=16, seed=0, table=table)
    assert report["train_utterances"] == 300
    assert report["val"]["mae_frames"] < 0.5 * report["val"]["table_mae_frames"]
    pred = net.predict([3, 4, 1, 5])
    assert pred[1] > 2 * pred[0]  # the token before the pause is long


def test_predictor_round_trip_and_bad_file(tmp_path):
    torch.manual_seed(0)
    net = DurationPredictor(10, dim=16, layers=2)
    path = tmp_path / "p.safetensors"
    path.write_bytes(net.to_bytes())
    back = DurationPredictor.load(path)
    ids = [1, 2, 3, 9, 0]
    assert np.allclose(back.predict(ids), net.predict(ids))
    assert back.predict([]).shape == (0,)
    assert np.all(back.predict([1, 50, -3]) >= 0)  # ids outside the vocabulary fall back to padding
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a file")
    with pytest.raises(CheckpointError):
        DurationPredictor.load(bad)


def test_unaligned_utterances_are_left_out_and_empty_corpus_fails():
    ids, durs = _corpus(20, 2)
    durs[0] = None
    _, report = fit_duration_predictor(ids, durs, 12, steps=5, seed=0)
    assert report["train_utterances"] == 19
    with pytest.raises(ValueError):
        fit_duration_predictor([[1, 2]], [None], 12, steps=5)
    assert evaluate(DurationPredictor(12), ids[1:3], durs[1:3])["mae_frames"] >= 0
