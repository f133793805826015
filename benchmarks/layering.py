"""Count imports that run back up the package layers, files over 400 lines, config systems.

The layers (lower may never import higher):
    0  errors, config, checkpoint, io, dsp, nn, flow, text, assets, viz
    1  models, convert
    2  perception, v2s, data (and the old vision/ until it is gone)
    3  pipelines + think | eval | train   (three neighbours: none imports another)
    4  cli (and a web app: serve)
The top-level ``deepaudio/__init__.py`` is a lazy facade and is not counted.

Every ``import`` in ``src/deepaudio`` is read with ``ast`` (lazy imports inside functions count
too: they are still a dependency). Prints the arrows between packages, the ones that run up, and
the file-level import statements behind them.

    python benchmarks/layering.py [--json]
"""

from __future__ import annotations

import argparse
import ast
import json
import re
from collections import Counter
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "deepaudio"

LEVEL = {
    "errors": 0, "config": 0, "checkpoint": 0, "io": 0, "dsp": 0, "nn": 0, "flow": 0,
    "text": 0, "assets": 0, "viz": 0, "checks": 0, "offline": 0, "distributed": 0, "perf": 0, "quant": 0,
    "models": 1, "convert": 1,
    "perception": 2, "v2s": 2, "vision": 2, "data": 2,
    "pipelines": 3, "think": 3, "eval": 3, "train": 3,
    "cli": 4, "serve": 4, "app": 4,  # user-facing front ends (the web app sits beside the CLI)
}
# Level-3 neighbours: a stage may use its own group only.
GROUP = {"pipelines": "inference", "think": "inference", "eval": "eval", "train": "train"}


def package_of(path: Path) -> str | None:
    rel = path.relative_to(SRC)
    if rel.parts == ("__init__.py",) or rel.parts == ("__main__.py",):
        return None
    return rel.parts[0].removesuffix(".py")


def imported_packages(tree: ast.AST) -> list[str]:
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
            if node.module == "deepaudio":
                names = [f"deepaudio.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "deepaudio" and len(parts) > 1 and not parts[1].startswith("__"):
                out.append(parts[1])
    return out


def runs_up(src: str, dst: str) -> bool:
    if src == dst or src not in LEVEL or dst not in LEVEL:
        return False
    if LEVEL[dst] > LEVEL[src]:
        return True
    return LEVEL[dst] == LEVEL[src] == 3 and GROUP[src] != GROUP[dst]


def config_systems(files: list[Path]) -> dict[str, int]:
    """Count the distinct ways settings reach the code (each a regex over the sources)."""
    text = {f: f.read_text() for f in files}
    probes = {
        "argparse outside cli/": lambda f, t: "argparse" in t and package_of(f) != "cli",
        "bundle config .get() defaults": lambda f, t: bool(re.search(r"cfg\.get\(|config\.get\(", t)),
        "dtype tables (dict name->torch dtype)": lambda f, t: bool(
            re.search(r"[\"'](?:bf16|bfloat16|fp16|float16)[\"']\s*:\s*torch\.", t)),
        "settings dataclasses (frozen *Settings)": lambda f, t: bool(
            re.search(r"class \w+Settings\b", t)),
    }
    return {name: sum(1 for f, t in text.items() if p(f, t)) for name, p in probes.items()}


def measure() -> dict:
    files = sorted(SRC.rglob("*.py"))
    arrows: Counter[tuple[str, str]] = Counter()
    up_lines: list[str] = []
    for f in files:
        src = package_of(f)
        if src is None:
            continue
        for dst in imported_packages(ast.parse(f.read_text())):
            if dst == src:
                continue
            arrows[(src, dst)] += 1
            if runs_up(src, dst):
                up_lines.append(f"{f.relative_to(SRC)} -> {dst}")
    up_arrows = sorted(a for a in arrows if runs_up(*a))
    big = sorted((n, str(f.relative_to(SRC))) for f in files
                 if (n := len(f.read_text().splitlines())) > 400)
    return {
        "package_arrows": len(arrows),
        "arrows_running_up": [f"{a} -> {b}" for a, b in up_arrows],
        "import_statements_running_up": sorted(Counter(up_lines).items()),
        "unknown_packages": sorted({p for a in arrows for p in a if p not in LEVEL}),
        "files_over_400_lines": big,
        "config_signals": config_systems(files),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    result = measure()
    if args.json:
        print(json.dumps(result, indent=1))
        return
    up, lines = result["arrows_running_up"], result["import_statements_running_up"]
    print(f"package arrows: {result['package_arrows']}; running up: {len(up)} ({sum(n for _, n in lines)} import "
          "statements)")
    for a in up:
        print("  up:", a)
    for line, n in lines:
        print(f"    {line}  x{n}")
    if result["unknown_packages"]:
        print("unknown packages (give them a level):", result["unknown_packages"])
    print(f"files over 400 lines: {len(result['files_over_400_lines'])}")
    for n, f in result["files_over_400_lines"]:
        print(f"  {n:5d} {f}")
    for k, v in result["config_signals"].items():
        print(f"files with {k}: {v}")


if __name__ == "__main__":
    main()
