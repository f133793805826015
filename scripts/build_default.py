"""Assemble the bundled default (``src/deepaudio/assets/default``) from training runs.

Every part is re-saved with fp16 weights (the package carries them; fp32 compute at load), and a
``TRAINING.md`` beside it records the exact command, data seed, steps and losses from the run's
``training_summary.json``. A run that continued the bundled model (``--init`` of the package folder)
also carries that model's history forward: ``lineage.json`` lists every earlier run (command, steps,
losses, and the commit whose bundled copy it produced), oldest first, and ``TRAINING.md`` shows it, so
the whole chain can be replayed. Run by ``bash scripts/train_default.sh bundle``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

import torch

from deepaudio.checkpoint import read_checkpoint, read_config, save_checkpoint, write_config
from deepaudio.io.atomic import atomic_dir

PARTS = {"router": "mof_gate", "v2a": "v2a_pipeline", "tts": "tts_dit", "vocoder": "vocos"}
KEPT = ("voice",)  # bundled folders no training run makes (the default voice: scripts/make_default_voice.py)


def fp16_copy(src: Path, dst: Path) -> None:
    """Copy a checkpoint folder (or a bundle of them) with floating weights cast to fp16."""
    if (src / "model.safetensors").is_file():
        doc, state = read_checkpoint(src)
        extra = {p.name: p.read_bytes() for p in src.iterdir() if p.is_file()
                 and p.name not in ("config.json", "model.safetensors")}
        save_checkpoint(dst, doc["kind"], doc["config"], state, doc.get("meta"), extra, dtype=torch.float16)
        return
    doc = read_config(src)
    dst.mkdir(parents=True, exist_ok=True)
    for sub in src.iterdir():
        if sub.is_dir():
            fp16_copy(sub, dst / sub.name)
    write_config(dst, doc["kind"], doc["config"], doc.get("meta"))


LINEAGE_KEYS = ("command", "steps", "wall_time_s", "final_loss", "final_val_loss", "data_seed")


def with_final_val(summary: dict) -> dict:
    """``summary`` plus ``final_val_loss`` (the last validation loss of the run) when it validated."""
    val = summary.get("val_losses") or []
    return {**summary, "final_val_loss": val[-1][1]} if val and "final_val_loss" not in summary else summary


def last_commit(path: Path) -> str | None:
    """The commit that last changed ``path`` (where its bundled copy can be checked out), if in git."""
    try:
        out = subprocess.run(["git", "log", "-1", "--format=%h", "--", str(path)], capture_output=True, text=True,
                             check=True, cwd=Path(__file__).resolve().parent.parent)
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.stdout.strip() or None


def lineage(summary: dict, old: Path) -> list[dict]:
    """Earlier runs behind this one (``summary``): the bundled model's lineage plus the bundled run, if this run
    continued it."""
    if "--init" not in summary.get("command", "") or not (old / "training_summary.json").is_file():
        return []
    past = json.loads((old / "lineage.json").read_text()) if (old / "lineage.json").is_file() else []
    prev = with_final_val(json.loads((old / "training_summary.json").read_text()))
    entry = {k: prev[k] for k in LINEAGE_KEYS if k in prev}
    entry["bundled_in_commit"] = last_commit(old)
    return past + [entry]


def training_md(part: str, run: Path, summary: dict, history: list[dict] | None = None) -> str:
    summary = with_final_val(summary)
    lines = [f"# Bundled default: {part}", "", "Reproduce with `bash scripts/train_default.sh data` then "
             f"`bash scripts/train_default.sh {part}` (see that script for the exact flags).", "",
             "| field | value |", "|---|---|"]
    for key in ("command", "stage", "data_seed", "steps", "world_size", "wall_time_s", "final_loss",
                "mean_loss_last_100", "first_loss", "final_val_loss", "clips", "n_train", "n_test"):
        if key in summary:
            lines.append(f"| {key} | {summary[key]} |")
    extra = run / "router_eval.json"
    if extra.is_file():
        ev = json.loads(extra.read_text())
        lines.append(f"| held-out template accuracy | {ev['accuracy']:.4f} ({ev['n']} instructions) |")
        for path, test in ev.get("extra_tests", {}).items():
            per_task = ", ".join(f"{t} {v['accuracy']:.3f} ({v['n']})" for t, v in test.get("per_task", {}).items())
            lines.append(f"| accuracy on `{path}` | {test['accuracy']:.4f} ({test['n']} instructions)"
                         + (f"; per task: {per_task}" if per_task else "") + " |")
    if history:
        total = sum(int(h.get("steps", 0)) for h in history) + int(summary.get("steps", 0))
        lines += ["", f"## Lineage ({total} steps in all)", "",
                  "This run continued the bundled model (`--init`); the runs before it, oldest first (each "
                  "continued the one above; `git show <commit>:src/deepaudio/assets/default/" + part + "` "
                  "gives the model it produced):", "", "| # | command | steps | final loss | val loss | commit |",
                  "|---|---|---|---|---|---|"]
        for i, h in enumerate(history, 1):
            lines.append(f"| {i} | `{h.get('command', '?')}` | {h.get('steps', '?')} | {h.get('final_loss', '?')} | "
                         f"{h.get('final_val_loss', '?')} | {h.get('bundled_in_commit') or '?'} |")
    lines += ["", "The full summary:", "", "```json", json.dumps(summary, indent=2)[:6000], "```", ""]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=Path, default=Path("runs"))
    ap.add_argument("--out", type=Path, default=Path("src/deepaudio/assets/default"))
    ap.add_argument("--v2a-cfg", type=float, help="default guidance written into the V2A pipeline's config.json "
                    "(what benchmarks/bench_default_v2a.py --cfg measured best)")
    args = ap.parse_args()
    with atomic_dir(args.out) as tmp:
        parts = {}
        for part in PARTS:
            run = args.runs / part
            src = run / "model"
            if not (src / "config.json").is_file():
                old = args.out / part
                if (old / "config.json").is_file():  # keep the previously bundled part
                    shutil.copytree(old, tmp / part)
                    parts[part] = part
                    print(f"{part}: kept the bundled model (no new run)", file=sys.stderr)
                continue
            fp16_copy(src, tmp / part)
            summary = json.loads((run / "training_summary.json").read_text())
            history = lineage(summary, args.out / part)
            if history:
                (tmp / part / "lineage.json").write_text(json.dumps(history, indent=1) + "\n")
            (tmp / part / "TRAINING.md").write_text(training_md(part, run, summary, history))
            for name in ("loss_curve.png", "training_summary.json"):
                if (run / name).is_file():
                    shutil.copy2(run / name, tmp / part / name)
            parts[part] = part
        if args.v2a_cfg is not None and "v2a" in parts:
            doc = read_config(tmp / "v2a")
            write_config(tmp / "v2a", doc["kind"], {**doc["config"], "cfg_strength": args.v2a_cfg}, doc.get("meta"))
            with (tmp / "v2a" / "TRAINING.md").open("a") as f:
                f.write(f"\nInference default: guidance (cfg) {args.v2a_cfg:g}, set by `build_default.py --v2a-cfg` "
                        "from `benchmarks/bench_default_v2a.py --cfg` (see docs/v2a.md).\n")
        for name in KEPT:
            if (args.out / name).is_dir():
                shutil.copytree(args.out / name, tmp / name)
        cfg = {k: parts.get(k) for k in ("router", "v2a", "tts", "vocoder")}
        cfg["v2s"] = parts.get("v2s", parts.get("tts"))
        write_config(tmp, "deepaudio_pipeline", cfg, {"built_from": str(args.runs)})
    size = sum(p.stat().st_size for p in args.out.rglob("*.safetensors"))
    print(f"bundled {', '.join(parts)} into {args.out}: {size / 1e6:.1f} MB of weights")
    return 0


if __name__ == "__main__":
    sys.exit(main())
