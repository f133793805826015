"""Reliability numbers for issues 21 and 27, from the committed tests.

Runs the bad-input corpus (in-process and as processes, with the peak memory of the sparse-header
cases), the fault tests of atomic writes, the reader property tests, the network guard over every
command and the kill -9 training test, and writes ``benchmarks/results/reliability.json``::

    OMP_NUM_THREADS=1 python benchmarks/bench_reliability.py
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTS = ["tests/test_bad_inputs.py", "tests/test_atomic_faults.py", "tests/test_property_readers.py",
         "tests/test_offline.py", "tests/test_cli_failures.py", "tests/test_train_kill9.py"]


def main() -> int:
    cmd = [sys.executable, "-m", "pytest", "-q", "-s", "-m", "slow or not slow", "-p", "no:cacheprovider",
           "-rA", *TESTS]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    out = proc.stdout
    sys.path.insert(0, str(ROOT / "tests"))
    from test_bad_inputs import CASES
    from test_offline import COMMANDS

    passed = {m.group(1) for m in re.finditer(r"PASSED tests/test_bad_inputs\.py::test_bad_input\[(.+?)\]", out)}
    kill = re.search(r"kill -9 x(\d+): steps at the kills (\[.*?\]), checkpoints lost (\d+), max weight difference "
                     r"(\S+)", out)
    peaks = dict(zip(re.findall(r"test_bad_input_as_a_process\[(.+?)\]", out),
                     [float(x) for x in re.findall(r"peak memory (\d+) MB", out)]))
    offline = sorted(m.group(1) for m in re.finditer(r"PASSED tests/test_offline\.py::test_command_runs_with_the_"
                                                     r"network_cut_off\[(.+?)\]", out))
    summary = re.findall(r"^=*\s*(\d+ (?:passed|failed).*?)\s*=*$", out, re.M)
    result = {
        "corpus_cases": len(CASES), "corpus_passing": len(passed),
        "corpus_commands": sorted({argv[0] for _, argv, _ in CASES}),
        "process_cases_peak_memory_mb": peaks,
        "kill9": None if kill is None else {"kills": int(kill.group(1)), "steps_at_kills": json.loads(kill.group(2)),
                                            "checkpoints_lost": int(kill.group(3)),
                                            "max_weight_difference": float(kill.group(4))},
        "network_guard_commands_passing": offline, "network_guard_commands_total": len(COMMANDS),
        "pytest_summary": summary[-1] if summary else None, "pytest_exit": proc.returncode,
    }
    path = ROOT / "benchmarks" / "results" / "reliability.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
