"""The package layers hold: no import runs from a lower layer to a higher one (benchmarks/layering.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path


def test_no_import_runs_back_up_the_layers():
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "layering.py"
    spec = importlib.util.spec_from_file_location("layering", path)
    layering = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(layering)
    result = layering.measure()
    assert result["import_statements_running_up"] == [], result["import_statements_running_up"]
    assert result["unknown_packages"] == [], "give new packages a level in benchmarks/layering.py"
    assert layering.runs_up("train", "pipelines") and layering.runs_up("io", "models")  # the check can fail
    assert not layering.runs_up("pipelines", "models")
