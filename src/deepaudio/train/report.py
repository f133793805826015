"""What a training run leaves beside its checkpoints: ``train_log.jsonl`` (one JSON object per record:
``{"step", "loss", "lr", ...}`` or ``{"step", "val_loss"}``), ``training_summary.json`` and
``loss_curve.png``. Only the main process writes.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from deepaudio.io.atomic import atomic_path

LOG_NAME = "train_log.jsonl"
SUMMARY_NAME = "training_summary.json"
CURVE_NAME = "loss_curve.png"


class TrainLog:
    """Append-only JSONL log. On resume, records past the resumed step (from a killed run) are dropped,
    so the log reads as one uninterrupted run."""

    def __init__(self, out_dir: Path, resume_step: int | None, enabled: bool = True):
        self.path = Path(out_dir) / LOG_NAME
        self.enabled = enabled
        self.records: list[dict[str, Any]] = []
        if not enabled:
            return
        if resume_step is not None and self.path.is_file():
            self.records = [r for r in read_log(self.path) if r.get("step", 0) <= resume_step]
        with atomic_path(self.path) as tmp:
            tmp.write_text("".join(json.dumps(r) + "\n" for r in self.records))
        self._fh = self.path.open("a")

    def write(self, record: dict[str, Any]) -> None:
        if not self.enabled:
            return
        self.records.append(record)
        self._fh.write(json.dumps(record) + "\n")
        self._fh.flush()

    def close(self) -> None:
        if self.enabled:
            self._fh.close()

    def losses(self) -> list[tuple[int, float]]:
        return [(r["step"], r["loss"]) for r in self.records if "loss" in r]

    def val_losses(self) -> list[tuple[int, float]]:
        return [(r["step"], r["val_loss"]) for r in self.records if "val_loss" in r]


def read_log(path: str | Path) -> list[dict[str, Any]]:
    out = []
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            break  # a line cut by a kill: everything before it is good
    return out


def summarize(log: TrainLog, extra: dict[str, Any]) -> dict[str, Any]:
    losses = [v for _, v in log.losses()]
    tail = losses[-10:]
    doc = dict(extra)
    doc.update({
        "logged_steps": len(losses),
        "first_loss": losses[0] if losses else None,
        "final_loss": losses[-1] if losses else None,
        "final_loss_mean10": sum(tail) / len(tail) if tail else None,
        "avg_loss": sum(losses) / len(losses) if losses else None,
        "val_losses": [[s, v] for s, v in log.val_losses()],
    })
    return doc


def write_json(path: Path, doc: dict[str, Any]) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(doc, indent=2) + "\n")


def plot_curve(log: TrainLog, path: Path, title: str = "") -> Path | None:
    """Loss (raw and a moving average) and validation loss against the step, as a PNG."""
    train = log.losses()
    if not train:
        return None
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4), dpi=100)
    ax = fig.add_subplot(1, 1, 1)
    steps, values = zip(*train)
    ax.plot(steps, values, color="0.75", linewidth=0.8, label="train loss")
    k = max(1, len(values) // 50)
    if k > 1:
        smooth = [sum(values[max(0, i - k + 1):i + 1]) / len(values[max(0, i - k + 1):i + 1])
                  for i in range(len(values))]
        ax.plot(steps, smooth, color="C0", linewidth=1.5, label=f"train loss (mean of {k})")
    val = [(s, v) for s, v in log.val_losses() if math.isfinite(v)]
    if val:
        vs, vv = zip(*val)
        ax.plot(vs, vv, "o-", color="C3", markersize=3, label="validation loss")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    return path
