"""A small duration predictor for the phoneme-input TTS: each token's frames from its neighbours.

Shape key: B utterances, N tokens, D channels.

The :class:`~deepaudio.models.tts.durations.DurationTable` gives every phoneme its mean length, so a
vowel before a pause is as short as one mid-word and a word gap is always the same. This predictor
(the FastSpeech / VITS recipe: token embedding, a few 1-D convolutions over the token sequence, one
log-duration per token) learns the context from the same forced alignments the table is fitted on.
It is trained in seconds on CPU beside the TTS and has the table's ``predict(ids) -> frames``
interface, so the pipeline lays the text out the same way (scaled to the prompt speaker's rate, or
along a V2S contour). It is saved as one safetensors file (weights + config in its metadata) in the
TTS checkpoint folder, where the pipeline prefers it to the table.

Measured on the toy world (2026-12-03, ``benchmarks/results/tts_durations_*.json``) it did not lower the
WER. Its rhythm is closer to the aligner's (validation MAE 1.96 vs 2.32 frames per
token), but even the aligner's own durations of the real recording gave the bundled TTS no better WER
than the table (40.3% vs 38.3%, 16 items, tiny.en), and the predictor scored 27.4% vs the table's 23.5%
(20 items, Whisper base). So ``deepaudio train tts`` trains it only on request (``--predictor-steps``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from deepaudio.errors import CheckpointError

FILE = "duration_predictor.safetensors"
FORMAT = 1


class DurationPredictor(nn.Module):
    """Token ids (B, N), -1 padded -> log(1 + frames) (B, N)."""

    def __init__(self, vocab_size: int, dim: int = 128, kernel: int = 5, layers: int = 3, dropout: float = 0.1):
        super().__init__()
        if vocab_size < 1 or dim < 1 or layers < 1 or kernel < 1 or kernel % 2 == 0:
            raise ValueError("duration predictor: vocab_size, dim, layers >= 1 and an odd kernel are required")
        self.config = {"vocab_size": int(vocab_size), "dim": int(dim), "kernel": int(kernel),
                       "layers": int(layers), "dropout": float(dropout)}
        self.embed = nn.Embedding(vocab_size + 1, dim)  # the last row is padding
        self.convs = nn.ModuleList(nn.Conv1d(dim, dim, kernel, padding=kernel // 2) for _ in range(layers))
        self.norms = nn.ModuleList(nn.LayerNorm(dim) for _ in range(layers))
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(dim, 1)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        pad = ids < 0
        x = self.embed(torch.where(pad, self.config["vocab_size"], ids).clamp(max=self.config["vocab_size"]))
        keep = (~pad).unsqueeze(-1).to(x.dtype)
        for conv, norm in zip(self.convs, self.norms):
            h = conv((x * keep).transpose(1, 2)).transpose(1, 2)
            x = x + self.drop(torch.relu(norm(h)))
        return self.out(x).squeeze(-1)

    @torch.no_grad()
    def predict(self, ids: Sequence[int]) -> np.ndarray:
        """(N,) float frames of one utterance at the training set's mean speaking rate."""
        if len(ids) == 0:
            return np.zeros(0, dtype=np.float64)
        self.eval()
        ids_t = torch.as_tensor([[int(i) if 0 <= int(i) < self.config["vocab_size"] else -1 for i in ids]])
        dev = next(self.parameters()).device
        logd = self.forward(ids_t.to(dev))[0].float().cpu().numpy().astype(np.float64)
        return np.clip(np.expm1(logd), 0.0, None)

    # -- files ----------------------------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        from safetensors.torch import save

        state = {k: v.detach().float().cpu().contiguous() for k, v in self.state_dict().items()}
        return save(state, metadata={"format": str(FORMAT), "config": json.dumps(self.config)})

    @classmethod
    def load(cls, path: str | Path) -> DurationPredictor:
        from safetensors import safe_open

        path = Path(path)
        try:
            with safe_open(str(path), framework="pt") as f:
                meta = f.metadata() or {}
                state = {k: f.get_tensor(k) for k in f.keys()}
        except Exception as exc:  # noqa: BLE001 - any unreadable file is a checkpoint error
            raise CheckpointError(f"duration predictor unreadable: {exc}", path) from exc
        if meta.get("format") != str(FORMAT) or "config" not in meta:
            raise CheckpointError(f"not a duration predictor (format {FORMAT})", path,
                                  "re-train it with deepaudio train tts --durations")
        try:
            net = cls(**json.loads(meta["config"]))
            net.load_state_dict(state, strict=True)
        except (TypeError, ValueError, RuntimeError) as exc:
            raise CheckpointError(f"duration predictor does not match its config: {exc}", path) from exc
        return net.eval()


def _batch(ids: Sequence[Sequence[int]], durs: Sequence[Sequence[int]], rows: np.ndarray):
    n = max(len(ids[r]) for r in rows)
    x = torch.full((len(rows), n), -1, dtype=torch.long)
    y = torch.zeros(len(rows), n)
    for k, r in enumerate(rows):
        x[k, : len(ids[r])] = torch.as_tensor(list(ids[r]))
        y[k, : len(durs[r])] = torch.log1p(torch.as_tensor(list(durs[r]), dtype=torch.float32))
    return x, y


def evaluate(net, ids: Sequence[Sequence[int]], durs: Sequence[Sequence[int]], table=None) -> dict:
    """Frame MAE of the predictor (and of ``table``), both rescaled to each utterance's true length: the
    pipeline also fixes the total from the prompt's rate or the window, so only the rhythm counts."""
    errs, base = [], []
    for seq, d in zip(ids, durs):
        d = np.asarray(d, dtype=np.float64)
        for pred, acc in ((net.predict(seq), errs), (table.predict(seq) if table else None, base)):
            if pred is None:
                continue
            pred = pred * d.sum() / max(pred.sum(), 1e-9)
            acc.append(np.abs(pred - d).mean())
    out = {"mae_frames": float(np.mean(errs)) if errs else float("nan")}
    if base:
        out["table_mae_frames"] = float(np.mean(base))
    return out


def fit_duration_predictor(ids: Sequence[Sequence[int]], durs: Sequence[Sequence[int] | None], vocab_size: int,
                           val_ids: Sequence[Sequence[int]] = (), val_durs: Sequence[Sequence[int] | None] = (),
                           steps: int = 3000, batch: int = 32, lr: float = 2e-3, seed: int = 0, table=None,
                           progress: Callable[[str], None] | None = None) -> tuple[DurationPredictor, dict]:
    """Train a predictor on aligned utterances (None durations are left out) -> (predictor, report)."""
    pairs = [(list(i), list(d)) for i, d in zip(ids, durs) if d is not None and len(i) == len(d) and len(i) > 0]
    if not pairs:
        raise ValueError("no aligned utterances to train the duration predictor on")
    vpairs = [(list(i), list(d)) for i, d in zip(val_ids, val_durs) if d is not None and len(i) == len(d)]
    tr_ids, tr_durs = [p[0] for p in pairs], [p[1] for p in pairs]
    torch.manual_seed(seed)
    net = DurationPredictor(vocab_size)
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=0.01)
    rng = np.random.default_rng(seed)
    losses = []
    for step in range(1, steps + 1):
        frac = step / steps
        for g in opt.param_groups:  # short warm-up, then cosine decay
            g["lr"] = lr * min(1.0, step / 100) * 0.5 * (1 + math.cos(math.pi * frac))
        net.train()
        x, y = _batch(tr_ids, tr_durs, rng.integers(0, len(pairs), size=min(batch, len(pairs))))
        pred = net(x)
        mask = (x >= 0).float()
        loss = ((pred - y) ** 2 * mask).sum() / mask.sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
        if progress and (step % 500 == 0 or step == steps):
            progress(f"duration predictor: step {step}/{steps}, loss {np.mean(losses[-100:]):.4f}")
    net.eval()
    report = {"steps": steps, "train_utterances": len(pairs), "final_loss": float(np.mean(losses[-100:]))}
    if vpairs:
        report["val"] = evaluate(net, [p[0] for p in vpairs], [p[1] for p in vpairs], table)
    return net, report
