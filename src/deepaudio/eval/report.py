"""Write an evaluation: per-item CSV, summary.json, a markdown table shaped like the papers' Table 1,
and PNG plots (metric distributions, spectrogram comparisons). Every file is written atomically.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np

from deepaudio.eval.runner import ALL_METRICS, LOWER_IS_BETTER, NO_DIRECTION, EvalOptions, EvalResult
from deepaudio.io.atomic import atomic_path

LABELS = {"wer": "WER", "spk_sim": "SPK-SIM", "sim_o": "SIM-O", "emo_sim": "EMO-SIM", "mcd": "MCD",
          "mcd_sl": "MCD-SL", "lip_sync": "LipSync-r", "dnsmos": "DNSMOS", "fd_passt": "FD_PaSST",
          "fd_panns": "FD_PANNs", "fd_vgg": "FD_VGG", "kl_panns": "KL_PANNs", "kl_passt": "KL_PaSST", "is": "IS",
          "ib_score": "IB-score", "desync": "DeSync", "av_align_ms": "AV-align (ms)", "speech_rate": "Speech rate",
          "silence_rate": "Silence rate"}
PERCENT = {"wer"}  # the papers print WER in percent


def summary_dict(res: EvalResult, opts: EvalOptions, label: str, n_items: int) -> dict:
    """Flat summary: each metric key holds its value (None when unavailable) and ``<metric>_backend``."""
    settings = {r.get("setting") for r in res.rows if r.get("setting")}
    if len(settings) == 1 and opts.task in ("v2s", "tts"):
        (only,) = settings
        label = f"{label} (Dub {only})" if only[:1].isdigit() else f"{label} ({only})"
    out: dict = {"task": opts.task, "label": label, "items": n_items,
                 "scored": sum(1 for r in res.rows if any(k in r for k in ALL_METRICS))}
    for m in opts.chosen():
        out[m] = res.summary.get(m)
        if f"{m}_n" in res.summary:
            out[f"{m}_n"] = res.summary[f"{m}_n"]
        out[f"{m}_backend"] = res.backends.get(m)
        if m in res.unavailable:
            out[f"{m}_unavailable"] = res.unavailable[m]
    out["problems"] = res.problems
    return out


def _fmt(metric: str, value) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if metric in PERCENT:
        return f"{100 * value:.2f}%"
    return f"{value:.3f}" if abs(value) < 100 else f"{value:.1f}"


def markdown(summary: dict, metrics: tuple[str, ...]) -> str:
    """Table 1 layout: one row per run (and Dub setting), one column per metric with its direction."""
    def arrow(m: str) -> str:
        return "" if m in NO_DIRECTION else " ↓" if m in LOWER_IS_BETTER else " ↑"

    head = "| Method | " + " | ".join(f"{LABELS.get(m, m)}{arrow(m)}" for m in metrics)
    lines = [f"# Evaluation: {summary['label']} ({summary['task']})", "",
             head + " |", "|" + "---|" * (len(metrics) + 1),
             f"| {summary['label']} | " + " | ".join(_fmt(m, summary.get(m)) for m in metrics) + " |", "",
             f"{summary['scored']} of {summary['items']} items scored.", "", "## Backends", "",
             "| Metric | Backend / status |", "|---|---|"]
    for m in metrics:
        status = summary.get(f"{m}_backend") or f"unavailable: {summary.get(f'{m}_unavailable', 'not computed')}"
        lines.append(f"| {LABELS.get(m, m)} | {status} |")
    if summary["problems"]:
        lines += ["", f"## Problems ({len(summary['problems'])})", ""]
        lines += [f"- {p}" for p in summary["problems"][:200]]
        if len(summary["problems"]) > 200:
            lines.append(f"- ... {len(summary['problems']) - 200} more in summary.json")
    return "\n".join(lines) + "\n"


def _write_csv(path: Path, rows: list[dict]) -> None:
    keys: list[str] = []
    for r in rows:
        keys += [k for k in r if k not in keys]
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=keys)
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in keys})


def _plot_distributions(path: Path, rows: list[dict], metrics: list[str]) -> bool:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = {}
    for m in metrics:
        vals = [r[m] for r in rows if isinstance(r.get(m), float) and math.isfinite(r[m])]
        if vals:
            series[m] = vals
    if not series:
        return False
    cols = min(4, len(series))
    rows = math.ceil(len(series) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.6 * rows), squeeze=False)
    for ax in axes.flat[len(series):]:
        ax.set_axis_off()
    for ax, (m, vals) in zip(axes.flat, series.items()):
        lo, hi = min(vals), max(vals)
        span = (lo - 0.5, hi + 0.5) if hi - lo < 1e-9 else (lo, hi)  # all-equal values (e.g. MCD 0)
        ax.hist(vals, bins=min(30, max(5, len(vals) // 2)), range=span, color="#4477aa")
        ax.set_title(f"{LABELS.get(m, m)} (mean {np.mean(vals):.3g})", fontsize=9)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
    return True


def _plot_spectrograms(path: Path, rows: list[dict], count: int = 3) -> bool:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch

    from deepaudio.io.audio import load_audio

    pairs = [(r["name"], r["gen"], r["ref"]) for r in rows if r.get("gen") and r.get("ref")][:count]
    if not pairs:
        return False
    fig, axes = plt.subplots(len(pairs), 2, figsize=(10, 2.4 * len(pairs)), squeeze=False)
    for row_axes, (name, gen, ref) in zip(axes, pairs):
        for ax, (title, p) in zip(row_axes, (("generated", gen), ("reference", ref))):
            try:
                wav, sr = load_audio(p, sample_rate=16000, mono=True)
            except Exception:  # noqa: BLE001 - an unreadable file is listed in problems already
                ax.set_axis_off()
                continue
            spec = torch.stft(wav[0], 512, 160, window=torch.hann_window(512), return_complex=True).abs()
            ax.imshow(20 * torch.log10(spec + 1e-5).numpy(), origin="lower", aspect="auto", cmap="magma",
                      extent=(0, wav.shape[-1] / sr, 0, sr / 2000))
            ax.set_title(f"{name} {title}", fontsize=9)
            ax.set_ylabel("kHz", fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=90)
    plt.close(fig)
    return True


def write_report(out_dir: str | Path, res: EvalResult, opts: EvalOptions, label: str, n_items: int) -> dict:
    """Write items.csv, summary.json, report.md and plots/*.png into ``out_dir``; returns the summary."""
    out = Path(out_dir).expanduser()
    summary = summary_dict(res, opts, label, n_items)
    _write_csv(out / "items.csv", res.rows)
    plots = []
    if _plot_distributions(out / "plots" / "distributions.png",
                           res.rows, [m for m in opts.chosen() if m in ALL_METRICS]):
        plots.append("plots/distributions.png")
    if _plot_spectrograms(out / "plots" / "spectrograms.png", res.rows):
        plots.append("plots/spectrograms.png")
    summary["plots"] = plots
    with atomic_path(out / "summary.json") as tmp:
        tmp.write_text(json.dumps(summary, indent=2, default=float) + "\n", encoding="utf-8")
    text = markdown(summary, opts.chosen())
    if plots:
        text += "\n## Plots\n\n" + "\n".join(f"![{p}]({p})" for p in plots) + "\n"
    with atomic_path(out / "report.md") as tmp:
        tmp.write_text(text, encoding="utf-8")
    return summary
