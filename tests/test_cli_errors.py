"""The CLI turns media errors into one line on stderr and exit code 2 (run as a real process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from deepaudio.cli.main import main
from deepaudio.io import testmedia as tm


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "deepaudio.cli.main", *args], capture_output=True, text=True,
                          env=env, timeout=120)


def test_probe_on_garbage_exits_2_with_one_line(tmp_path):
    bad = tm.garbage_file(tmp_path / "broken.mp4")
    proc = _cli("probe", str(bad))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("deepaudio: error: ") and str(bad) in lines[0] and "cannot be opened" in lines[0]
    assert proc.stdout == ""


def test_probe_prints_json_for_a_good_video(tmp_path):
    clip = tm.moving_square_video(tmp_path / "ok.mp4", duration=0.4, fps=10, beep_frames=(1,))
    proc = _cli("probe", str(clip.path))
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert info["n_frames"] == 4 and info["width"] == 128 and info["has_audio"] is True


@pytest.mark.parametrize("case,what", [("missing", "not found"), ("empty", "empty"), ("truncated", "truncated"),
                                       ("audio", "no video stream")])
def test_probe_errors_in_process(tmp_path, capsys, case, what):
    path = tmp_path / f"{case}.mp4"
    if case == "empty":
        path.write_bytes(b"")
    elif case == "truncated":
        clip = tm.moving_square_video(tmp_path / "src.mp4", duration=1.0, fps=10)
        tm.truncated_copy(clip.path, path, 0.4)
    elif case == "audio":
        path = tm.stereo_tone_file(tmp_path / "tone.m4a")
    assert main(["probe", "--require-video", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(path) in err[0] and what in err[0], err
